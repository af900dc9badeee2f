//! What the order saga reads and sends.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::money::Money;
use crate::order::Line;

/// The events the order saga reacts to, from `order`, `inventory` and `payment` streams
/// (decoded by type name; fields it does not need are ignored).
#[allow(
    clippy::enum_variant_names,
    reason = "the stored event type names of the other contexts"
)]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderFlowEvent {
    /// An order was placed: the saga starts.
    OrderPlaced {
        /// The order.
        order_id: String,
        /// Who ordered.
        customer_id: String,
        /// What.
        lines: Vec<Line>,
        /// How much.
        total: Money,
    },
    /// The stock is held.
    StockReserved {
        /// The order.
        order_id: String,
    },
    /// The stock is short.
    StockReservationRejected {
        /// The order.
        order_id: String,
        /// The short product.
        product_id: String,
        /// What was available.
        available: u32,
        /// What was asked.
        requested: u32,
    },
    /// The payment went through.
    PaymentCompleted {
        /// The order.
        order_id: String,
    },
    /// The payment was declined.
    PaymentFailed {
        /// The order.
        order_id: String,
        /// Why.
        reason: String,
    },
    /// The held stock is sold.
    ReservationConfirmed {
        /// The order.
        order_id: String,
    },
    /// The order is confirmed.
    OrderConfirmed {
        /// The order.
        order_id: String,
    },
    /// The order was cancelled (by the customer, or by this saga).
    OrderCancelled {
        /// The order.
        order_id: String,
        /// Why.
        reason: String,
    },
}

impl eventcore::Event for OrderFlowEvent {}

impl OrderFlowEvent {
    /// The order the event is about.
    pub fn order_id(&self) -> &str {
        match self {
            Self::OrderPlaced { order_id, .. }
            | Self::StockReserved { order_id }
            | Self::StockReservationRejected { order_id, .. }
            | Self::PaymentCompleted { order_id }
            | Self::PaymentFailed { order_id, .. }
            | Self::ReservationConfirmed { order_id }
            | Self::OrderConfirmed { order_id }
            | Self::OrderCancelled { order_id, .. } => order_id,
        }
    }
}

/// What the order saga asks of the other contexts. Stored until sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderSagaCommand {
    /// Inventory: hold every item, or record why not.
    ReserveStock {
        /// The order.
        order_id: String,
        /// Product id → quantity.
        items: BTreeMap<String, u32>,
    },
    /// Inventory: release the hold (a no-op unless held).
    ReleaseStock {
        /// The order.
        order_id: String,
    },
    /// Inventory: the held stock is sold.
    ConfirmReservation {
        /// The order.
        order_id: String,
    },
    /// Inventory: sold stock goes back on hand (a no-op unless sold).
    ReturnSoldStock {
        /// The order.
        order_id: String,
    },
    /// Payment: charge the order.
    ProcessPayment {
        /// The order.
        order_id: String,
        /// Who pays.
        customer_id: String,
        /// How much.
        amount: Money,
    },
    /// Payment: refund whatever was charged (a no-op if nothing was).
    RefundPayment {
        /// The order.
        order_id: String,
    },
    /// Order: confirm it.
    ConfirmOrder {
        /// The order.
        order_id: String,
    },
    /// Order: cancel it.
    CancelOrder {
        /// The order.
        order_id: String,
        /// Why.
        reason: String,
    },
}
