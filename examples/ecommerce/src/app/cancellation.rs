//! Cancelling a confirmed order: the order saga completed, so nothing else undoes the sale.
//! [`CancellationPolicy`] reacts to each `OrderCancelled` of a confirmed order
//! (`after_confirmation`) with one [`UndoSale`] step, which refunds whatever is left of a
//! completed payment and, if it refunded something, returns the sold stock
//! (`ReturnSoldStock`). Both are no-ops where the order saga's compensation got there first.
//! A cancellation mid-flight, which the saga undoes itself, starts no policy instance at all
//! (most cancellations in a flash sale: out of stock).

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
        /// Whether the order was confirmed when it was cancelled (`true` for events recorded
        /// before the order said).
        #[serde(default = "crate::order::recorded_before_it_was_known")]
        after_confirmation: bool,
    },
}

impl Event for CancelledOrder {}

/// Undo a paid sale: refund what is left of the payment, then return the sold units.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UndoSale {
    /// The cancelled order.
    pub order_id: String,
}

/// Turns each `OrderCancelled` of a confirmed order into one [`UndoSale`].
#[derive(Clone, Copy, Debug, Default)]
pub struct CancellationPolicy;

impl Policy for CancellationPolicy {
    const NAME: &'static str = "undo-cancelled-sales";
    const CATEGORIES: &'static [&'static str] = &["order"];
    type Event = CancelledOrder;
    type Command = UndoSale;

    fn react(&self, event: &CancelledOrder) -> Vec<(String, UndoSale)> {
        let CancelledOrder::OrderCancelled {
            order_id,
            after_confirmation,
        } = event;
        if !after_confirmation {
            return Vec::new(); // the order saga undoes what it did itself
        }
        vec![(
            "undo-sale".to_owned(),
            UndoSale {
                order_id: order_id.clone(),
            },
        )]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_cancellation_of_a_confirmed_order_calls_for_an_undo() {
        let cancelled = |after_confirmation| CancelledOrder::OrderCancelled {
            order_id: "o1".into(),
            after_confirmation,
        };
        let undo = vec![(
            "undo-sale".to_owned(),
            UndoSale {
                order_id: "o1".into(),
            },
        )];
        assert_eq!(CancellationPolicy.react(&cancelled(true)), undo);
        assert!(
            CancellationPolicy.react(&cancelled(false)).is_empty(),
            "mid-flight: the order saga compensates"
        );
        // Recorded before the order said: undo anyway (a no-op where nothing was sold).
        let older: CancelledOrder =
            eventcore::codec::decode_tagged("OrderCancelled", r#"{"order_id":"o1"}"#).unwrap();
        assert_eq!(CancellationPolicy.react(&older), undo);
    }
}
