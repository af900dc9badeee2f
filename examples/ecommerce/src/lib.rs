//! The eventcore flagship shop's domain: six bounded contexts and the orchestrated order saga.
//!
//! Each context is a module owning its aggregates, commands, events and errors, and talks to
//! the others only through events and commands:
//!
//! - [`customer`]: registration with unique e-mail addresses, profile, (de)activation;
//! - [`inventory`]: catalogue, stock ledger, all-or-nothing reservations and their expiry;
//! - [`order`]: the order lifecycle, priced from the order context's own catalogue;
//! - [`payment`]: one charge per order, refunds, a simulated provider;
//! - [`notification`]: one message per notable event (choreography);
//! - [`analytics`]: pure folds for the read side;
//! - [`saga`]: the order saga tying reservation, payment and confirmation together.
//!
//! [`money`] is shared: integer minor units, never floats.

pub mod analytics;
pub mod customer;
pub mod inventory;
pub mod money;
pub mod notification;
pub mod order;
pub mod payment;
pub mod saga;
