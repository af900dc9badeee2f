//! [`Mirror`]: another service's events, appended to this store as they were.

use async_trait::async_trait;

use crate::broker::{HandlerError, Message, MessageHandler};
use crate::error::StoreError;
use crate::event::{Metadata, NewEvent};
use crate::store::AppendRequest;
use crate::transaction::StoreTransaction;
use crate::version::ExpectedVersion;

/// A [`MessageHandler`] that appends each message to the consumer's store as the event it
/// was: the same event id, stream, version, type, schema version, payload, correlation and
/// causation ids. Sagas, policies and projections of this service then follow another
/// service's events as if they had been appended here: the replies to commands it sent through
/// a broker, the catalogue it keeps from another context's events.
///
/// The copy is the original stream, gap-free and in order: each append expects the stream at
/// the message's version minus one.
/// - A message whose version is there already with the same event id was mirrored before
///   (say by a consumer whose inbox was reset): nothing is appended, the message is done.
/// - A message that arrives ahead of its predecessor fails [transiently](HandlerError::Transient):
///   it is retried in place while its predecessor is still on its way.
/// - A version held by another event is [permanent](HandlerError::Permanent): the stream is
///   written here by someone else as well, and mirroring into it would fork it.
///
/// Mirror only streams this service never writes itself, and never relay them back out (a
/// [`Relay::only_categories`](crate::broker::Relay::only_categories) that leaves them out).
///
/// ```
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use eventcore::broker::{Inbox, Message, Mirror};
/// use eventcore::testing::counter::{Counter, CounterCommand};
/// use eventcore::{EventReader, InMemoryEventStore, Repository};
///
/// // Another service's event, as its relay publishes it.
/// let theirs = InMemoryEventStore::new();
/// let sent = Repository::<Counter>::new(theirs.clone())
///     .execute(CounterCommand::add("visits", 2))
///     .await?;
/// let recorded = theirs.read_stream(&sent[0].stream_id, 1, 10).await?;
/// let message = Message::from_event(&recorded[0]);
///
/// // This service's consumer mirrors it, once however often it is delivered.
/// let ours = InMemoryEventStore::new();
/// let inbox = Inbox::new(ours.clone(), "mirror:counters");
/// for _ in 0..2 {
///     let handled = inbox.apply(&Mirror, std::slice::from_ref(&message)).await?;
///     assert!(handled[0].is_done());
/// }
/// let copy = ours.read_stream(&message.stream, 1, 10).await?;
/// assert_eq!(copy.len(), 1);
/// assert_eq!(copy[0].event_id, message.message_id);
/// # Ok(()) }
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Mirror;

#[async_trait]
impl<Tx: StoreTransaction> MessageHandler<Tx> for Mirror {
    async fn handle(&self, tx: &mut Tx, message: &Message) -> Result<(), HandlerError> {
        let version = message.stream_version;
        if version == 0 {
            return Err(HandlerError::permanent("a message at stream version 0"));
        }
        let event = NewEvent::raw(
            message.event_type.clone(),
            message.schema_version,
            message.payload.clone(),
        )
        .with_id(message.message_id)
        .with_metadata(Metadata {
            correlation_id: message.correlation_id,
            causation_id: message.causation_id,
            ..Metadata::default()
        });
        let expected = ExpectedVersion::Exact(version - 1);
        let request = AppendRequest::single(message.stream.clone(), expected, vec![event]);
        // The usual case in one statement. A refusal (which leaves the transaction usable) is
        // then told apart by what the version holds.
        let refused = match tx.append(request).await {
            Ok(_) => return Ok(()),
            Err(error @ StoreError::DuplicateEventId { .. }) => error,
            Err(error) if error.is_conflict() => error,
            Err(error) => return Err(error.into()),
        };
        let present = tx.read_stream(&message.stream, version, 1).await?;
        match present.first() {
            Some(there) if there.event_id == message.message_id => Ok(()),
            Some(there) => Err(HandlerError::permanent(format!(
                "{} version {version} holds event {}, not {}: the stream is written here too",
                message.stream, there.event_id, message.message_id
            ))),
            None if refused.is_conflict() => Err(HandlerError::transient(format!(
                "{} version {version} arrived before version {}: {refused}",
                message.stream,
                version - 1
            ))),
            None => Err(refused.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::{Handled, Inbox};
    use crate::testing::counter::{Counter, CounterCommand};
    use crate::{EventReader, InMemoryEventStore, Repository, StreamId};

    /// Three events of one counter stream in another store, as messages.
    async fn messages() -> Vec<Message> {
        let theirs = InMemoryEventStore::new();
        let counters = Repository::<Counter>::new(theirs.clone());
        for n in 1..=3 {
            let metadata = Metadata {
                correlation_id: Some(uuid::Uuid::from_u128(n)),
                ..Metadata::default()
            };
            counters
                .execute_with(CounterCommand::add("c", 1), metadata)
                .await
                .unwrap();
        }
        let stream = StreamId::new("counter-c").unwrap();
        let events = theirs.read_stream(&stream, 1, 10).await.unwrap();
        events.iter().map(Message::from_event).collect()
    }

    async fn copy(store: &InMemoryEventStore) -> Vec<crate::RecordedEvent> {
        let stream = StreamId::new("counter-c").unwrap();
        store.read_stream(&stream, 1, 10).await.unwrap()
    }

    #[tokio::test]
    async fn copies_ids_versions_and_correlation() {
        let sent = messages().await;
        let ours = InMemoryEventStore::new();
        let handled = Inbox::new(ours.clone(), "m")
            .apply(&Mirror, &sent)
            .await
            .unwrap();
        assert!(handled.iter().all(Handled::is_done));
        let copy = copy(&ours).await;
        assert_eq!(copy.len(), 3);
        for (event, message) in copy.iter().zip(&sent) {
            assert_eq!(event.event_id, message.message_id);
            assert_eq!(event.stream_version, message.stream_version);
            assert_eq!(event.event_type, message.event_type);
            assert_eq!(event.payload.get(), message.payload.get());
            assert_eq!(event.metadata.correlation_id, message.correlation_id);
        }
    }

    #[tokio::test]
    async fn a_message_ahead_of_its_predecessor_is_retried_not_lost() {
        let sent = messages().await;
        let ours = InMemoryEventStore::new();
        let inbox = Inbox::new(ours.clone(), "m");
        let early = inbox.apply(&Mirror, &sent[1..2]).await.unwrap();
        match &early[0] {
            Handled::Failed(error) => assert!(error.is_transient(), "{error}"),
            other => panic!("expected a transient failure, got {other:?}"),
        }
        assert!(copy(&ours).await.is_empty());
        let handled = inbox.apply(&Mirror, &sent).await.unwrap();
        assert!(handled.iter().all(Handled::is_done));
        assert_eq!(copy(&ours).await.len(), 3);
    }

    #[tokio::test]
    async fn mirrored_before_is_done_without_a_second_copy() {
        let sent = messages().await;
        let ours = InMemoryEventStore::new();
        Inbox::new(ours.clone(), "first")
            .apply(&Mirror, &sent)
            .await
            .unwrap();
        // Another inbox (a reset one) sees every message as new: the store still has one copy.
        let again = Inbox::new(ours.clone(), "second")
            .apply(&Mirror, &sent)
            .await
            .unwrap();
        assert!(
            again.iter().all(|h| matches!(h, Handled::Applied)),
            "{again:?}"
        );
        assert_eq!(copy(&ours).await.len(), 3);
    }

    #[tokio::test]
    async fn a_stream_written_here_too_is_refused_for_good() {
        let sent = messages().await;
        let ours = InMemoryEventStore::new();
        Repository::<Counter>::new(ours.clone())
            .execute(CounterCommand::add("c", 5))
            .await
            .unwrap();
        let handled = Inbox::new(ours.clone(), "m")
            .apply(&Mirror, &sent[..1])
            .await
            .unwrap();
        match &handled[0] {
            Handled::Failed(error) => assert!(!error.is_transient(), "{error}"),
            other => panic!("expected a permanent failure, got {other:?}"),
        }
        assert_eq!(copy(&ours).await.len(), 1);
    }
}
