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
//!
//! On top of the domain: [`app`] runs the shop (sagas, policies, read models) on SQLite in the
//! embedded default, or on a `PgEventStore` as the distributed mode's order service
//! (`Shop::start`), and is the facade the CLI and the HTTP API ([`http`]) call;
//! [`readmodels`] holds the query side; [`load`] is the load generator (in process, or
//! against a URL) and its invariant checks; [`messaging`] connects services through RabbitMQ
//! or Kafka; [`gateway`] is the one address in front of the services of the distributed mode
//! (routing, edge concerns, a circuit breaker per upstream); [`services`] runs the customer,
//! inventory, payment, notification and analytics contexts as processes of their own on
//! PostgreSQL.

pub mod analytics;
pub mod app;
pub mod customer;
pub mod gateway;
pub mod http;
pub mod inventory;
pub mod load;
pub mod messaging;
pub mod money;
pub mod notification;
pub mod order;
pub mod payment;
pub mod readmodels;
pub mod saga;
pub mod services;
