//! The notification service's handler of the order and payment events it consumes: the
//! [`NotificationPolicy`] applied to each message in the consumer's transaction.

use eventcore::broker::{HandlerError, Message as BrokerMessage, MessageHandler};
use eventcore::saga::{LocalCommands, Policy};
use eventcore::{CodecError, CommandId, StoreTransaction, Upcasters};

use super::{NotifiableEvent, NotificationPolicy, Notifier};
use crate::messaging::outbox;

/// Sends the message a notable event calls for, in the transaction that records the event in
/// the consumer's inbox: exactly once per event, as the embedded shop's policy saga does. The
/// inbox applies a redelivered event once, each command's id derives from the event's id and
/// the policy's step name, and the message's key (`<order id>.<kind>`) makes even a second
/// command for it a no-op. Events that call for no message pass without effect; a notable
/// event that does not decode is dead-lettered.
///
/// The same [`NotificationPolicy`] and [`Notifier`] as the embedded shop's
/// [`PolicySaga`](eventcore::saga::PolicySaga), without the saga's records: one event, one
/// transaction, nothing to wait for in between.
#[derive(Clone)]
pub struct NotificationDesk {
    notifier: Notifier,
}

impl NotificationDesk {
    /// A desk sending through `notifier`.
    pub fn new(notifier: Notifier) -> Self {
        Self { notifier }
    }
}

#[eventcore::async_trait]
impl<Tx: StoreTransaction> MessageHandler<Tx> for NotificationDesk {
    async fn handle(&self, tx: &mut Tx, message: &BrokerMessage) -> Result<(), HandlerError> {
        let event: NotifiableEvent = match message.decode(&Upcasters::default()) {
            Ok(event) => event,
            // Not an event that calls for a message (`OrderPlaced`, `PaymentCompleted`, ...).
            Err(CodecError::UnknownEventType { .. }) => return Ok(()),
            Err(malformed) => return Err(HandlerError::permanent(malformed)),
        };
        let metadata = outbox::metadata_of(message);
        for (step, command) in NotificationPolicy.react(&event) {
            let id = CommandId::derived(message.message_id.as_uuid(), &step);
            self.notifier
                .execute(tx, &command, id, &metadata)
                .await
                .map_err(HandlerError::transient)?;
        }
        Ok(())
    }
}
