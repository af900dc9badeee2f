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

/// A command of the order saga sent as a message ([`send_in`]): its outbox streams'
/// category, the order it is about (its stream's key) and the step's command id.
pub trait Request: Event {
    /// The category of its outbox streams (`<category>-<order id>`), which a relay publishes.
    const CATEGORY: &'static str;

    /// The order it is about.
    fn order_id(&self) -> &str;

    /// The command id of the step that sent it.
    fn command_id(&self) -> CommandId;
}

/// Appends `request` to its outbox stream `<category>-<order id>` in `tx`, with `metadata`
/// (the flow's correlation id) and an event id derived from its command id (the same request
/// twice is refused, not sent twice).
///
/// # Errors
/// Store failures; a rejection for an order id no stream can have.
pub async fn send_in<Tx: StoreTransaction, R: Request>(
    tx: &mut Tx,
    request: &R,
    metadata: &Metadata,
) -> Result<(), DispatchError> {
    let stream = StreamId::new(format!("{}-{}", R::CATEGORY, request.order_id()))
        .map_err(|e| DispatchError::rejected(&e).with_source(StoreError::from(e)))?;
    let event = NewEvent::from_event(request)
        .map_err(|e| DispatchError::rejected(format!("unencodable request: {e}")))?
        .with_id(EventId::derived(request.command_id(), &stream, 0))
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
