//! Commands as messages: a saga step that commands another service appends the command, as an
//! event, to an outbox stream (`<category>-<order id>`) in the transaction that records the
//! step, so it is sent exactly when the step is; the relay publishes it. The receiving
//! service's handler applies it with the step's command id (a request delivered twice has one
//! effect) and the message's correlation id; the reply is the receiving aggregate's own event.

use eventcore::broker::{HandlerError, Message};
use eventcore::saga::DispatchError;
use eventcore::{
    AppendRequest, CommandId, Event, EventId, ExpectedVersion, Metadata, NewEvent, StoreError,
    StoreTransaction, StreamId,
};

/// Appends `request` to the outbox stream `<category>-<key>` in `tx`, with `metadata` (the
/// flow's correlation id) and an event id derived from `command_id` (the same request twice
/// is refused, not sent twice).
///
/// # Errors
/// Store failures; a rejection for a key no stream can have.
pub async fn send_in<Tx: StoreTransaction>(
    tx: &mut Tx,
    category: &str,
    key: &str,
    command_id: CommandId,
    request: &impl Event,
    metadata: &Metadata,
) -> Result<(), DispatchError> {
    let stream = StreamId::new(format!("{category}-{key}"))
        .map_err(|e| DispatchError::rejected(&e).with_source(StoreError::from(e)))?;
    let event = NewEvent::from_event(request)
        .map_err(|e| DispatchError::rejected(format!("unencodable request: {e}")))?
        .with_id(EventId::derived(command_id, &stream, 0))
        .with_metadata(metadata.clone());
    let request = AppendRequest::single(stream, ExpectedVersion::Any, vec![event]);
    tx.append(request)
        .await
        .map_err(DispatchError::from_store)?;
    Ok(())
}

/// A step's error as a handler's: a rejection is permanent (dead-lettered), the rest retried.
pub fn handler_error(error: DispatchError) -> HandlerError {
    if error.is_permanent() {
        HandlerError::permanent(error)
    } else {
        HandlerError::transient(error)
    }
}

/// The metadata of what a handler writes for `message`: its correlation id, and the message
/// as the cause.
pub fn metadata_of(message: &Message) -> Metadata {
    Metadata {
        correlation_id: message.correlation_id,
        causation_id: Some(message.message_id.into()),
        ..Metadata::default()
    }
}
