//! Payment requests: the order saga's payment commands as messages, for a payment context in
//! another process. The sender appends a [`PaymentRequest`] to the order's outbox stream
//! (`paymentrequest-<order id>`, see [`outbox`]) in the transaction that records the saga's
//! step, so the request is sent exactly when the step is; its relay publishes it. The payment service's
//! consumer applies it through [`PaymentDesk`], once in effect (its inbox), with the step's
//! command id (a request delivered twice charges once). The reply is the payment's own event,
//! `PaymentCompleted` or `PaymentFailed`, which the payment service's relay publishes.

use std::sync::Arc;

use eventcore::broker::{HandlerError, Message, MessageHandler};
use eventcore::{CommandId, Repository, StoreTransaction, Upcasters};
use serde::{Deserialize, Serialize};

use super::{Payment, PaymentAction, PaymentCommand, PaymentProvider, charge_outcome};
use crate::messaging::outbox::{self, handler_error};
use crate::money::Money;

/// The category of the outbox streams of payment requests.
pub const CATEGORY: &str = "paymentrequest";

/// A payment command sent as a message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PaymentRequest {
    /// Charge the order.
    ProcessPayment {
        /// The order.
        order_id: String,
        /// Who pays.
        customer_id: String,
        /// How much.
        amount: Money,
        /// The step's command id (the payment command's).
        command_id: CommandId,
    },
    /// Refund whatever was charged (a no-op if nothing was).
    RefundPayment {
        /// The order.
        order_id: String,
        /// The step's command id.
        command_id: CommandId,
    },
}

impl eventcore::Event for PaymentRequest {}

impl outbox::Request for PaymentRequest {
    const CATEGORY: &'static str = CATEGORY;

    fn order_id(&self) -> &str {
        match self {
            Self::ProcessPayment { order_id, .. } | Self::RefundPayment { order_id, .. } => {
                order_id
            }
        }
    }

    fn command_id(&self) -> CommandId {
        match self {
            Self::ProcessPayment { command_id, .. } | Self::RefundPayment { command_id, .. } => {
                *command_id
            }
        }
    }
}

/// The payment service's handler of [`PaymentRequest`]s: charges through its provider and
/// records the outcome (or the refund) in the consumer's transaction, with the request's
/// command id and correlation id; the message is its cause.
#[derive(Clone)]
pub struct PaymentDesk {
    payments: Repository<Payment>,
    provider: Arc<dyn PaymentProvider>,
}

impl PaymentDesk {
    /// A desk writing through `payments`, charging through `provider`.
    pub fn new(payments: Repository<Payment>, provider: Arc<dyn PaymentProvider>) -> Self {
        Self { payments, provider }
    }
}

#[eventcore::async_trait]
impl<Tx: StoreTransaction> MessageHandler<Tx> for PaymentDesk {
    async fn handle(&self, tx: &mut Tx, message: &Message) -> Result<(), HandlerError> {
        let request: PaymentRequest = message
            .decode(&Upcasters::default())
            .map_err(HandlerError::permanent)?;
        let metadata = outbox::metadata_of(message);
        let (order_id, action, id) = match request {
            PaymentRequest::ProcessPayment {
                order_id,
                customer_id,
                amount,
                command_id,
            } => {
                let outcome = charge_outcome(&self.payments, &*self.provider, &order_id, amount)
                    .await
                    .map_err(|e| handler_error(e.into()))?;
                let action = PaymentAction::Charge {
                    customer_id,
                    amount,
                    outcome,
                };
                (order_id, action, command_id)
            }
            PaymentRequest::RefundPayment {
                order_id,
                command_id,
            } => (order_id, PaymentAction::Reverse, command_id),
        };
        tracing::info!(%order_id, correlation_id = ?message.correlation_id, request = %message.event_type, "payment request applied");
        let command = PaymentCommand::new(&order_id, action).with_id(id);
        self.payments
            .execute_in(tx, command, metadata)
            .await
            .map_err(|e| handler_error(e.into()))?;
        Ok(())
    }
}
