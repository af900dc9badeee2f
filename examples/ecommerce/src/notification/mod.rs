//! Notifications (choreography): a [`NotificationPolicy`] reacts to `OrderConfirmed`,
//! `OrderCancelled`, `PaymentFailed` and `OrderShipped` by sending one simulated message,
//! recorded by the [`Notification`] aggregate.
//!
//! Exactly once per event: in the embedded shop the policy runs as a
//! [`PolicySaga`](eventcore::saga::PolicySaga) (one instance per event id, command id derived
//! from it, so a redelivered event has no second effect); the notification service applies it
//! to each consumed event in the inbox's transaction ([`NotificationDesk`]). Either way the
//! message is keyed by order and kind (`<order id>.<kind>`), the one message each of those
//! events calls for, so even a re-sent command with another id records nothing new.

mod desk;

pub use desk::NotificationDesk;

use eventcore::saga::{DispatchError, LocalCommands, Policy};
use eventcore::{Aggregate, Command, CommandId, Event, Metadata, Repository, StoreTransaction};
use serde::{Deserialize, Serialize};

/// The events that call for a message (decoded by type name from order and payment streams).
#[allow(clippy::enum_variant_names, reason = "the stored event type names")]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NotifiableEvent {
    /// Order confirmed.
    OrderConfirmed {
        /// The order.
        order_id: String,
        /// Who to tell.
        customer_id: String,
    },
    /// Order cancelled.
    OrderCancelled {
        /// The order.
        order_id: String,
        /// Who to tell.
        customer_id: String,
        /// Why.
        reason: String,
    },
    /// Payment failed.
    PaymentFailed {
        /// The order.
        order_id: String,
        /// Who to tell.
        customer_id: String,
        /// Why.
        reason: String,
    },
    /// Order shipped.
    OrderShipped {
        /// The order.
        order_id: String,
        /// Who to tell.
        customer_id: String,
        /// The tracking number.
        tracking_number: String,
    },
}

impl Event for NotifiableEvent {}

impl NotifiableEvent {
    /// Each notable event's category and stored type name: what the notification service's
    /// consumer asks the broker for.
    pub const TYPES: [(&'static str, &'static str); 4] = [
        ("order", "OrderConfirmed"),
        ("order", "OrderCancelled"),
        ("payment", "PaymentFailed"),
        ("order", "OrderShipped"),
    ];
}

/// How a message travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Channel {
    /// E-mail.
    Email,
    /// Text message.
    Sms,
}

/// A message to send (simulated: recorded, not delivered).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// `<order id>.<kind>`: one message per order and kind.
    pub key: String,
    /// Channel.
    pub channel: Channel,
    /// The customer it goes to.
    pub recipient: String,
    /// Subject line.
    pub subject: String,
    /// Body.
    pub body: String,
}

/// The message `event` calls for.
pub fn message_for(event: &NotifiableEvent) -> Message {
    let (order, customer, kind, channel, subject, body) = match event {
        NotifiableEvent::OrderConfirmed {
            order_id,
            customer_id,
        } => (
            order_id,
            customer_id,
            "confirmed",
            Channel::Email,
            "Your order is confirmed".to_owned(),
            format!("Order {order_id} is confirmed."),
        ),
        NotifiableEvent::OrderCancelled {
            order_id,
            customer_id,
            reason,
        } => (
            order_id,
            customer_id,
            "cancelled",
            Channel::Email,
            "Your order was cancelled".to_owned(),
            format!("Order {order_id} was cancelled: {reason}."),
        ),
        NotifiableEvent::PaymentFailed {
            order_id,
            customer_id,
            reason,
        } => (
            order_id,
            customer_id,
            "payment-failed",
            Channel::Sms,
            "Payment failed".to_owned(),
            format!("The payment for order {order_id} failed: {reason}."),
        ),
        NotifiableEvent::OrderShipped {
            order_id,
            customer_id,
            tracking_number,
        } => (
            order_id,
            customer_id,
            "shipped",
            Channel::Email,
            "Your order is on its way".to_owned(),
            format!("Order {order_id} shipped, tracking number {tracking_number}."),
        ),
    };
    Message {
        key: format!("{order}.{kind}"),
        channel,
        recipient: customer.clone(),
        subject,
        body,
    }
}

/// Turns each notifiable event into one `send` command.
#[derive(Clone, Copy, Debug, Default)]
pub struct NotificationPolicy;

impl Policy for NotificationPolicy {
    const NAME: &'static str = "notifications";
    const CATEGORIES: &'static [&'static str] = &["order", "payment"];
    type Event = NotifiableEvent;
    type Command = Message;

    fn react(&self, event: &NotifiableEvent) -> Vec<(String, Message)> {
        vec![("send".to_owned(), message_for(event))]
    }
}

/// What happens to a message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NotificationEvent {
    /// The message was sent.
    NotificationSent(Message),
}

impl Event for NotificationEvent {}

/// Send a message (its key is the aggregate id).
#[derive(Clone, Debug)]
pub struct SendNotification {
    /// The message.
    pub message: Message,
    /// The command id.
    pub id: CommandId,
}

impl Command for SendNotification {
    fn aggregate_id(&self) -> &str {
        &self.message.key
    }
    fn command_id(&self) -> CommandId {
        self.id
    }
}

/// Notifications never refuse: a message sent already is a no-op.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unreachable")]
pub struct NotificationError;

/// One message slot: sent or not.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Notification {
    /// The message, once sent.
    pub sent: Option<Message>,
}

impl Aggregate for Notification {
    const TYPE: &'static str = "notification";
    type Event = NotificationEvent;
    type Command = SendNotification;
    type Error = NotificationError;

    fn apply(&mut self, event: &NotificationEvent) {
        let NotificationEvent::NotificationSent(message) = event;
        self.sent = Some(message.clone());
    }

    fn handle(
        &self,
        command: &SendNotification,
    ) -> Result<Vec<NotificationEvent>, NotificationError> {
        Ok(match self.sent {
            Some(_) => vec![],
            None => vec![NotificationEvent::NotificationSent(command.message.clone())],
        })
    }
}

/// Sends notifications inside the transaction that records a policy step (a `LocalBus`'s
/// commands), on any store: the embedded shop's and the notification service's.
#[derive(Clone)]
pub struct Notifier {
    notifications: Repository<Notification>,
}

impl Notifier {
    /// A notifier recording through `notifications`.
    pub fn new(notifications: Repository<Notification>) -> Self {
        Self { notifications }
    }
}

#[eventcore::async_trait]
impl<Tx: StoreTransaction> LocalCommands<Message, Tx> for Notifier {
    async fn execute(
        &self,
        tx: &mut Tx,
        command: &Message,
        id: CommandId,
        metadata: &Metadata,
    ) -> Result<(), DispatchError> {
        tracing::info!(key = %command.key, correlation_id = ?metadata.correlation_id, "notification sent");
        let send = SendNotification {
            message: command.clone(),
            id,
        };
        self.notifications
            .execute_in(tx, send, metadata.clone())
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
