//! Payments: one [`Payment`] per order (stream `payment-<order id>`), so an order is charged at
//! most once; refunds only after a completed payment and never beyond what was paid. The
//! charge itself goes to a [`PaymentProvider`] (simulated: [`SimulatedProvider`]) before the
//! outcome is recorded (see [`process_payment`]).

mod aggregate;
mod provider;
pub mod requests;

pub use aggregate::{
    ChargeOutcome, Payment, PaymentAction, PaymentCommand, PaymentError, PaymentEvent,
    PaymentStatus,
};
pub use provider::{PaymentProvider, SimulatedProvider};

use eventcore::{CommandId, Metadata, Repository, RepositoryError};

use crate::money::Money;

/// Charges `amount` for `order_id` through `provider` and records the outcome with command id
/// `id`. An order that was already charged successfully is not sent to the provider again:
/// the command then returns the first outcome (same `id`) or [`PaymentError::AlreadyPaid`].
///
/// # Errors
/// The repository's: [`RepositoryError::Domain`] with a [`PaymentError`], or a store failure.
pub async fn process_payment(
    payments: &Repository<Payment>,
    provider: &dyn PaymentProvider,
    order_id: &str,
    customer_id: &str,
    amount: Money,
    id: CommandId,
    metadata: Metadata,
) -> Result<PaymentStatus, RepositoryError<PaymentError>> {
    let outcome = charge_outcome(payments, provider, order_id, amount).await?;
    let command = PaymentCommand::new(
        order_id,
        PaymentAction::Charge {
            customer_id: customer_id.to_owned(),
            amount,
            outcome,
        },
    )
    .with_id(id);
    // A charge records one event, completed or failed (a repeated id returns the first one).
    let recorded = payments.execute_with(command, metadata).await?;
    Ok(match recorded.last().map(|e| &e.event) {
        Some(PaymentEvent::PaymentFailed { .. }) => PaymentStatus::Failed,
        _ => PaymentStatus::Completed,
    })
}

/// What a charge of `amount` for `order_id` comes to: the provider's answer, or, for an order
/// already charged successfully, that charge again without asking the provider (the payment
/// command then returns the first outcome or refuses: never a second charge).
///
/// # Errors
/// The payment cannot be loaded.
pub async fn charge_outcome(
    payments: &Repository<Payment>,
    provider: &dyn PaymentProvider,
    order_id: &str,
    amount: Money,
) -> Result<ChargeOutcome, RepositoryError<PaymentError>> {
    let current = payments.load(order_id).await?.state;
    Ok(if current.status == PaymentStatus::Completed {
        ChargeOutcome::Approved {
            payment_id: current.payment_id.clone().unwrap_or_default(),
        }
    } else {
        provider.charge(order_id, amount).await
    })
}

#[cfg(test)]
mod tests;
