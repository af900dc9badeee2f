//! Cancelling a confirmed order: the order saga completed, so nothing else undoes the sale.
//! [`CancellationPolicy`] reacts to every `OrderCancelled` with one [`UndoSale`] step, which
//! refunds whatever is left of a completed payment and, if it refunded something, returns the
//! sold stock (`ReturnSoldStock`). Both are no-ops where the order saga's compensation got
//! there first, so a cancellation mid-flight (which the saga undoes itself) is unaffected.

use eventcore::Event;
use eventcore::saga::Policy;
use serde::{Deserialize, Serialize};

/// The order event the policy reacts to (decoded by type name from `order` streams).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CancelledOrder {
    /// The order was cancelled.
    OrderCancelled {
        /// The order.
        order_id: String,
    },
}

impl Event for CancelledOrder {}

/// Undo a paid sale: refund what is left of the payment, then return the sold units.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UndoSale {
    /// The cancelled order.
    pub order_id: String,
}

/// Turns each `OrderCancelled` into one [`UndoSale`].
#[derive(Clone, Copy, Debug, Default)]
pub struct CancellationPolicy;

impl Policy for CancellationPolicy {
    const NAME: &'static str = "undo-cancelled-sales";
    const CATEGORIES: &'static [&'static str] = &["order"];
    type Event = CancelledOrder;
    type Command = UndoSale;

    fn react(&self, event: &CancelledOrder) -> Vec<(String, UndoSale)> {
        let CancelledOrder::OrderCancelled { order_id } = event;
        vec![(
            "undo-sale".to_owned(),
            UndoSale {
                order_id: order_id.clone(),
            },
        )]
    }
}
