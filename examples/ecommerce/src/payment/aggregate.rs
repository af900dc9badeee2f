//! The [`Payment`] aggregate: one per order.

use eventcore::{Aggregate, Command, CommandId, Event};
use serde::{Deserialize, Serialize};

use crate::money::Money;

/// What the provider decided about a charge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChargeOutcome {
    /// Charged.
    Approved {
        /// The provider's payment id.
        payment_id: String,
    },
    /// Not charged.
    Declined {
        /// Why.
        reason: String,
    },
}

/// What happens to an order's payment.
#[allow(
    clippy::enum_variant_names,
    reason = "variant names are the stored event type names the shop's contract uses"
)]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PaymentEvent {
    /// The order was charged.
    PaymentCompleted {
        /// The provider's payment id.
        payment_id: String,
        /// The order.
        order_id: String,
        /// Who paid.
        customer_id: String,
        /// How much.
        amount: Money,
    },
    /// The charge was declined.
    PaymentFailed {
        /// The order.
        order_id: String,
        /// Who was to pay.
        customer_id: String,
        /// How much was asked.
        amount: Money,
        /// Why it failed.
        reason: String,
    },
    /// Money went back.
    PaymentRefunded {
        /// The order.
        order_id: String,
        /// How much.
        amount: Money,
    },
}

impl Event for PaymentEvent {}

/// What can be asked of an order's payment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PaymentAction {
    /// Record a charge the provider decided on.
    Charge {
        /// Who pays.
        customer_id: String,
        /// How much (above zero).
        amount: Money,
        /// The provider's decision.
        outcome: ChargeOutcome,
    },
    /// Refund `amount` of a completed payment (at most what is left of it).
    Refund {
        /// How much.
        amount: Money,
    },
    /// Refund whatever is left of a completed payment; a no-op if nothing was paid (a saga's
    /// compensation).
    Reverse,
}

/// A command for one order's payment.
#[derive(Clone, Debug)]
pub struct PaymentCommand {
    /// The order (the payment's id).
    pub order_id: String,
    /// The command id.
    pub id: CommandId,
    /// What to do.
    pub action: PaymentAction,
}

impl PaymentCommand {
    /// A command with a fresh id.
    pub fn new(order_id: &str, action: PaymentAction) -> Self {
        Self {
            order_id: order_id.to_owned(),
            id: CommandId::new_random(),
            action,
        }
    }

    /// The same command with `id` (a saga step's id).
    pub fn with_id(self, id: CommandId) -> Self {
        Self { id, ..self }
    }
}

impl Command for PaymentCommand {
    fn aggregate_id(&self) -> &str {
        &self.order_id
    }
    fn command_id(&self) -> CommandId {
        self.id
    }
}

/// The rules a payment command can break.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PaymentError {
    /// The order is paid already.
    #[error("order {0} is paid already")]
    AlreadyPaid(String),
    /// Amounts are above zero.
    #[error("amount must be above zero, got {0}")]
    InvalidAmount(Money),
    /// Refunds need a completed payment.
    #[error("nothing to refund: the payment is {0}")]
    NotPaid(PaymentStatus),
    /// A refund beyond what is left of the payment.
    #[error("cannot refund {asked}: only {left} is left of the payment")]
    RefundTooLarge {
        /// What was asked.
        asked: Money,
        /// What is left to refund.
        left: Money,
    },
}

/// Where an order's payment is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum PaymentStatus {
    /// No charge yet.
    #[default]
    None,
    /// Charged.
    Completed,
    /// Declined (a later charge may still succeed).
    Failed,
    /// Charged, then refunded in full.
    Refunded,
}

impl std::fmt::Display for PaymentStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::None => "none",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Refunded => "refunded",
        })
    }
}

/// An order's payment.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Payment {
    /// Where it is.
    pub status: PaymentStatus,
    /// The provider's payment id, once completed.
    pub payment_id: Option<String>,
    /// What was charged.
    pub paid: Option<Money>,
    /// What was refunded so far (in minor units of the paid currency).
    pub refunded_cents: i64,
    /// Who was charged (once a charge was recorded, approved or declined).
    #[serde(default)]
    pub customer_id: Option<String>,
}

impl Payment {
    /// What is left to refund.
    pub fn refundable(&self) -> Option<Money> {
        self.paid.map(|paid| Money {
            cents: paid.cents - self.refunded_cents,
            ..paid
        })
    }
}

impl Aggregate for Payment {
    const TYPE: &'static str = "payment";
    type Event = PaymentEvent;
    type Command = PaymentCommand;
    type Error = PaymentError;

    fn apply(&mut self, event: &PaymentEvent) {
        match event {
            PaymentEvent::PaymentCompleted {
                payment_id,
                amount,
                customer_id,
                ..
            } => {
                self.customer_id = Some(customer_id.clone());
                self.status = PaymentStatus::Completed;
                self.payment_id = Some(payment_id.clone());
                self.paid = Some(*amount);
            }
            PaymentEvent::PaymentFailed { customer_id, .. } => {
                self.customer_id = Some(customer_id.clone());
                self.status = PaymentStatus::Failed;
            }
            PaymentEvent::PaymentRefunded { amount, .. } => {
                self.refunded_cents += amount.cents;
                if self.refundable().is_some_and(|left| left.cents == 0) {
                    self.status = PaymentStatus::Refunded;
                }
            }
        }
    }

    fn handle(&self, command: &PaymentCommand) -> Result<Vec<PaymentEvent>, PaymentError> {
        let order_id = command.order_id.clone();
        match &command.action {
            PaymentAction::Charge { .. }
                if matches!(
                    self.status,
                    PaymentStatus::Completed | PaymentStatus::Refunded
                ) =>
            {
                Err(PaymentError::AlreadyPaid(order_id))
            }
            PaymentAction::Charge { amount, .. } if !amount.is_positive() => {
                Err(PaymentError::InvalidAmount(*amount))
            }
            PaymentAction::Charge {
                customer_id,
                amount,
                outcome,
            } => Ok(vec![match outcome {
                ChargeOutcome::Approved { payment_id } => PaymentEvent::PaymentCompleted {
                    payment_id: payment_id.clone(),
                    order_id,
                    customer_id: customer_id.clone(),
                    amount: *amount,
                },
                ChargeOutcome::Declined { reason } => PaymentEvent::PaymentFailed {
                    order_id,
                    customer_id: customer_id.clone(),
                    amount: *amount,
                    reason: reason.clone(),
                },
            }]),
            PaymentAction::Refund { amount } => {
                if !amount.is_positive() {
                    return Err(PaymentError::InvalidAmount(*amount));
                }
                let left = match (self.status, self.refundable()) {
                    (PaymentStatus::Completed, Some(left)) => left,
                    _ => return Err(PaymentError::NotPaid(self.status)),
                };
                if amount.currency != left.currency || amount.cents > left.cents {
                    return Err(PaymentError::RefundTooLarge {
                        asked: *amount,
                        left,
                    });
                }
                Ok(vec![PaymentEvent::PaymentRefunded {
                    order_id,
                    amount: *amount,
                }])
            }
            PaymentAction::Reverse => Ok(match (self.status, self.refundable()) {
                (PaymentStatus::Completed, Some(left)) if left.is_positive() => {
                    vec![PaymentEvent::PaymentRefunded {
                        order_id,
                        amount: left,
                    }]
                }
                _ => vec![],
            }),
        }
    }
}
