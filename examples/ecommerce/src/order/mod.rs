//! Orders: the [`Order`] aggregate (Pending → Confirmed → Shipped → Delivered, Cancelled from
//! Pending or Confirmed) and the [`Catalogue`] of prices the order context keeps as its own
//! read model of inventory events (the client never sets prices).
//!
//! Placing an order is two steps: [`PlaceOrder::price`] resolves every item against the
//! catalogue (an unknown product is [`OrderError::UnknownProduct`]) into an
//! [`OrderCommand`], which the aggregate checks (1–50 distinct items, quantities 1–1000) and
//! totals.

mod aggregate;
mod catalogue;

pub(crate) use aggregate::recorded_before_it_was_known;
pub use aggregate::{
    Line, MAX_ITEMS, MAX_QUANTITY, Order, OrderAction, OrderCommand, OrderError, OrderEvent, Status,
};
pub use catalogue::{Catalogue, PlaceOrder, PriceLookup, RequestedItem};

#[cfg(test)]
mod tests;
