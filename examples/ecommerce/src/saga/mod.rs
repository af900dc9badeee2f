//! The orchestrated order saga, one instance per order:
//!
//! ```text
//! OrderPlaced ──▶ ReserveStock
//!   StockReserved ──▶ ProcessPayment
//!     PaymentCompleted ──▶ ConfirmReservation ──▶ ConfirmOrder ──▶ Completed
//!     PaymentFailed    ──▶ ReleaseStock ──▶ CancelOrder("payment failed: …") ──▶ Compensated
//!   StockReservationRejected ──▶ CancelOrder("insufficient stock: …") ──▶ Compensated
//! OrderCancelled (by the customer or by the saga) ──▶ undo what was done ──▶ Compensated
//! no reply within the reply timeout (default 30 s) ──▶ CancelOrder("timed out: …") ──▶ …
//! ```
//!
//! Every forward step that has an effect carries its undo: `reserve-stock` ↔ `ReleaseStock`,
//! `process-payment` ↔ `RefundPayment`, `confirm-reservation` ↔ `ReturnSoldStock`. The
//! saga advances on the *replies* (the events the steps' commands record), not on a step
//! having been sent, and it compensates when it sees `OrderCancelled`, whoever cancelled: the
//! library then runs the undo of every completed step, newest first, except those that had
//! nothing to undo (a rejected reservation, a failed payment: no message is sent for them;
//! every undo is a no-op where nothing was done anyway). A compensation that keeps
//! failing is retried with backoff ([`SagaOptions`](eventcore::saga::SagaOptions)) and then
//! parks the saga; it is never reported compensated.
//!
//! Confirmation confirms the reservation before the order: the reservation is the part that
//! can lapse (expiry), and an order must never be confirmed on stock it no longer holds.

mod bus;
mod messages;

pub use bus::bus;
pub use messages::{OrderFlowEvent, OrderSagaCommand};

use std::collections::BTreeMap;
use std::time::Duration;

use eventcore::RecordedEvent;
use eventcore::saga::{Reaction, Saga, Step};
use serde::{Deserialize, Serialize};

use crate::money::Money;

/// Where an order's saga is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stage {
    /// Not started.
    #[default]
    New,
    /// Waiting for `StockReserved` or `StockReservationRejected`.
    ReservingStock,
    /// Waiting for `PaymentCompleted` or `PaymentFailed`.
    ProcessingPayment,
    /// Waiting for `ReservationConfirmed`.
    ConfirmingReservation,
    /// Waiting for `OrderConfirmed`.
    ConfirmingOrder,
    /// Done.
    Completed,
    /// Cancelling the order; waiting for `OrderCancelled`.
    Cancelling,
    /// Undoing what was done.
    Compensating,
}

/// The saga's state per order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderSagaState {
    /// The order.
    pub order_id: String,
    /// Who ordered.
    pub customer_id: String,
    /// Product id → quantity.
    pub items: BTreeMap<String, u32>,
    /// The order's total.
    pub total: Option<Money>,
    /// Where it is.
    pub stage: Stage,
    /// Why the saga cancels the order, once it does.
    pub cancel_reason: Option<String>,
}

/// The order saga. [`reply_timeout`](Self::reply_timeout) bounds the wait for each reply.
#[derive(Clone, Copy, Debug)]
pub struct OrderSaga {
    /// How long a step's reply may take before the saga gives up on the order.
    pub reply_timeout: Duration,
}

impl Default for OrderSaga {
    fn default() -> Self {
        Self {
            reply_timeout: Self::DEFAULT_REPLY_TIMEOUT,
        }
    }
}

impl OrderSaga {
    /// The default reply timeout: 30 s.
    pub const DEFAULT_REPLY_TIMEOUT: Duration = Duration::from_secs(30);
    /// The name of the reply deadline (moved at every stage).
    pub const REPLY_DEADLINE: &'static str = "reply";

    fn next(
        &self,
        state: &OrderSagaState,
        stage: Stage,
        step: Step<OrderSagaCommand>,
    ) -> Reaction<Self> {
        Reaction::new()
            .state(OrderSagaState {
                stage,
                ..state.clone()
            })
            .step(step)
            .deadline(Self::REPLY_DEADLINE, self.reply_timeout)
    }

    /// Cancels the order with `reason`; compensation follows on `OrderCancelled`.
    fn cancel(state: &OrderSagaState, reason: String) -> Reaction<Self> {
        Self::cancel_after(state, reason, None)
    }

    /// Runs `first` (if any), then cancels the order with `reason`.
    fn cancel_after(
        state: &OrderSagaState,
        reason: String,
        first: Option<Step<OrderSagaCommand>>,
    ) -> Reaction<Self> {
        let reaction = match first {
            Some(step) => Reaction::new().step(step),
            None => Reaction::new(),
        };
        reaction
            .state(OrderSagaState {
                stage: Stage::Cancelling,
                cancel_reason: Some(reason.clone()),
                ..state.clone()
            })
            .cancel_deadline(Self::REPLY_DEADLINE)
            .step(Step::new(
                "cancel-order",
                OrderSagaCommand::CancelOrder {
                    order_id: state.order_id.clone(),
                    reason,
                },
            ))
    }
}

impl Saga for OrderSaga {
    const TYPE: &'static str = "order-saga";
    const CATEGORIES: &'static [&'static str] = &["order", "inventory", "payment"];
    type State = OrderSagaState;
    type Event = OrderFlowEvent;
    type Command = OrderSagaCommand;
    type Error = std::convert::Infallible;

    fn correlate(&self, event: &OrderFlowEvent, _: &RecordedEvent) -> Option<String> {
        Some(event.order_id().to_owned())
    }

    fn on_event(
        &self,
        state: &OrderSagaState,
        event: &OrderFlowEvent,
    ) -> Result<Reaction<Self>, Self::Error> {
        use OrderFlowEvent as E;
        use OrderSagaCommand as C;
        let order_id = state.order_id.clone();
        Ok(match (event, state.stage) {
            (
                E::OrderPlaced {
                    order_id,
                    customer_id,
                    lines,
                    total,
                },
                Stage::New,
            ) => {
                let started = OrderSagaState {
                    order_id: order_id.clone(),
                    customer_id: customer_id.clone(),
                    items: lines
                        .iter()
                        .map(|l| (l.product_id.clone(), l.quantity))
                        .collect(),
                    total: Some(*total),
                    ..OrderSagaState::default()
                };
                let reserve = C::ReserveStock {
                    order_id: order_id.clone(),
                    items: started.items.clone(),
                };
                let release = C::ReleaseStock {
                    order_id: order_id.clone(),
                };
                let step = Step::new("reserve-stock", reserve).compensate_with(release);
                self.next(&started, Stage::ReservingStock, step)
            }
            (E::StockReserved { .. }, Stage::ReservingStock) => {
                let pay = C::ProcessPayment {
                    order_id: order_id.clone(),
                    customer_id: state.customer_id.clone(),
                    amount: state.total.unwrap_or(Money::usd(0)),
                };
                let refund = C::RefundPayment { order_id };
                let step = Step::new("process-payment", pay).compensate_with(refund);
                self.next(state, Stage::ProcessingPayment, step)
            }
            (
                E::StockReservationRejected {
                    product_id,
                    available,
                    requested,
                    ..
                },
                Stage::ReservingStock,
            ) => Self::cancel(
                state,
                format!(
                    "insufficient stock: {product_id} has {available} available, {requested} requested"
                ),
            )
            // Nothing was reserved: no release to send when the cancellation compensates.
            .nothing_to_undo("reserve-stock"),
            (E::PaymentCompleted { .. }, Stage::ProcessingPayment) => {
                let confirm = C::ConfirmReservation {
                    order_id: order_id.clone(),
                };
                let give_back = C::ReturnSoldStock { order_id };
                let step = Step::new("confirm-reservation", confirm).compensate_with(give_back);
                self.next(state, Stage::ConfirmingReservation, step)
            }
            (E::PaymentFailed { reason, .. }, Stage::ProcessingPayment) => {
                let release = C::ReleaseStock {
                    order_id: order_id.clone(),
                };
                let release = Step::new("release-stock", release);
                // Nothing was charged, and the stock is released by the step above.
                Self::cancel_after(state, format!("payment failed: {reason}"), Some(release))
                    .nothing_to_undo("process-payment")
                    .nothing_to_undo("reserve-stock")
            }
            (E::ReservationConfirmed { .. }, Stage::ConfirmingReservation) => {
                let step = Step::new("confirm-order", C::ConfirmOrder { order_id });
                self.next(state, Stage::ConfirmingOrder, step)
            }
            (E::OrderConfirmed { .. }, Stage::ConfirmingOrder) => Reaction::new()
                .state(OrderSagaState {
                    stage: Stage::Completed,
                    ..state.clone()
                })
                .cancel_deadline(Self::REPLY_DEADLINE)
                .complete(),
            (E::OrderCancelled { .. }, stage) if stage != Stage::New => Reaction::new()
                .state(OrderSagaState {
                    stage: Stage::Compensating,
                    ..state.clone()
                })
                .cancel_deadline(Self::REPLY_DEADLINE)
                .compensate(),
            // Late, duplicate or out-of-stage replies change nothing.
            _ => Reaction::new(),
        })
    }

    fn on_deadline(
        &self,
        state: &OrderSagaState,
        _deadline: &str,
    ) -> Result<Reaction<Self>, Self::Error> {
        let waiting_for = match state.stage {
            Stage::ReservingStock => "the stock reservation",
            Stage::ProcessingPayment => "the payment",
            Stage::ConfirmingReservation | Stage::ConfirmingOrder => "the confirmation",
            _ => return Ok(Reaction::new()),
        };
        let timeout = self.reply_timeout.as_secs();
        Ok(Self::cancel(
            state,
            format!("timed out: no reply for {waiting_for} within {timeout} s"),
        ))
    }

    fn on_step_failed(&self, state: &OrderSagaState, step: &str, error: &str) -> Reaction<Self> {
        match state.stage {
            // The order cannot be cancelled (the customer did already): undo anyway.
            _ if step == "cancel-order" => Reaction::new().compensate(),
            // Cancelling already: the cancellation is still to run.
            Stage::Cancelling | Stage::Compensating => Reaction::new(),
            _ => Self::cancel(state, format!("{step} failed: {error}")),
        }
    }
}

#[cfg(test)]
mod tests;
