//! The broker seam on the in-memory store: the relay publishes the selected events in log
//! order and advances only after a confirmed batch; the inbox applies each message once in
//! effect and keeps a failing message from being overtaken by its stream's later ones.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use eventcore::backoff::Backoff;
use eventcore::broker::{Handled, HandlerError, Inbox, Message, MessageHandler, Relay};
use eventcore::projection::{ErrorPolicy, ProjectionOptions, ProjectionRunner};
use eventcore::testing::broker::RecordingPublisher;
use eventcore::testing::counter::{Counter, CounterCommand};
use eventcore::{
    EventReader, InMemoryEventStore, InMemoryTransaction, Metadata, RecordedEvent, Repository,
};

fn quick_retries() -> ProjectionOptions {
    ProjectionOptions::default().with_batch_size(7).with_policy(
        ErrorPolicy::retry_forever().with_backoff(Backoff::new(
            Duration::from_millis(1),
            Duration::from_millis(5),
        )),
    )
}

async fn counter_events(store: &InMemoryEventStore, n: u64) -> Vec<RecordedEvent> {
    let repo = Repository::<Counter>::new(store.clone());
    for i in 0..n {
        repo.execute(CounterCommand::add(format!("c{}", i % 5), i + 1))
            .await
            .unwrap();
    }
    store.read_all(1, 10_000).await.unwrap()
}

#[tokio::test]
async fn the_relay_publishes_in_log_order_and_advances_only_after_a_confirmed_batch() {
    let store = InMemoryEventStore::new();
    let log = counter_events(&store, 40).await;
    let wire = RecordingPublisher::default();
    wire.fail_next(3);
    let running = ProjectionRunner::new(store.clone())
        .add("relay", Relay::new(wire.clone()), quick_retries())
        .start()
        .unwrap();
    let last = log.last().unwrap().global_position;
    tokio::time::timeout(Duration::from_secs(10), running.wait_until("relay", last))
        .await
        .expect("published despite three failed batches")
        .unwrap();
    let sent: Vec<_> = wire.messages().iter().map(|m| m.message_id).collect();
    let expected: Vec<_> = log.iter().map(|e| e.event_id).collect();
    assert_eq!(
        sent, expected,
        "every event once, in log order, after the failures"
    );
    assert!(wire.attempts() >= 4 + 40 / 7);
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_relay_publishes_only_what_its_filters_select() {
    let store = InMemoryEventStore::new();
    let log = counter_events(&store, 10).await;
    let wire = RecordingPublisher::default();
    let relay = Relay::new(wire.clone())
        .only_categories(["counter"])
        .only_event_types(["Added"]);
    let other = RecordingPublisher::default();
    let none = Relay::new(other.clone()).only_categories(["order"]);
    let running = ProjectionRunner::new(store.clone())
        .add("relay", relay, quick_retries())
        .add("none", none, quick_retries())
        .start()
        .unwrap();
    let last = log.last().unwrap().global_position;
    running.wait_until("relay", last).await.unwrap();
    running.wait_until("none", last).await.unwrap();
    let sent = wire.messages();
    assert_eq!(sent.len(), 10);
    assert!(sent.iter().all(|m| m.routing_key == "counter.added"));
    assert_eq!(sent[3].stream.as_str(), "counter-c3");
    assert!(other.messages().is_empty());
    running.shutdown().await.unwrap();
}

/// Adds the message's amount to another counter (a command in the consumer's transaction);
/// fails messages of counter `c1` while `failing` is set.
struct Forward {
    mirrors: Repository<Counter>,
    failing: Arc<Mutex<bool>>,
}

#[async_trait]
impl MessageHandler<InMemoryTransaction> for Forward {
    async fn handle(
        &self,
        tx: &mut InMemoryTransaction,
        message: &Message,
    ) -> Result<(), HandlerError> {
        if *self.failing.lock().unwrap() && message.stream.as_str() == "counter-c1" {
            return Err(HandlerError::transient("c1 is not ready"));
        }
        let event: eventcore::testing::counter::CounterEvent = message
            .decode(&Default::default())
            .map_err(HandlerError::permanent)?;
        let eventcore::testing::counter::CounterEvent::Added { amount } = event else {
            return Ok(());
        };
        let target = format!("mirror-{}", message.stream.as_str());
        self.mirrors
            .execute_in(tx, CounterCommand::add(target, amount), Metadata::default())
            .await
            .map_err(|e| HandlerError::transient(e.to_string()))?;
        Ok(())
    }
}

#[tokio::test]
async fn the_inbox_applies_each_message_once_and_holds_a_failed_streams_later_messages() {
    let store = InMemoryEventStore::new();
    let log = counter_events(&store, 10).await;
    let messages: Vec<Message> = log.iter().map(Message::from_event).collect();
    let inbox = Inbox::new(store.clone(), "mirror");
    let failing = Arc::new(Mutex::new(true));
    let handler = Forward {
        mirrors: Repository::new(store.clone()),
        failing: failing.clone(),
    };
    let outcomes = inbox.apply(&handler, &messages).await.unwrap();
    let names: Vec<&str> = outcomes
        .iter()
        .map(|o| match o {
            Handled::Applied => "applied",
            Handled::Duplicate => "duplicate",
            Handled::Failed(_) => "failed",
            Handled::Held => "held",
            _ => "other",
        })
        .collect();
    // c1 is messages 1 and 6: the first fails, the second waits behind it.
    assert_eq!(
        names,
        [
            "applied", "failed", "applied", "applied", "applied", "applied", "held", "applied",
            "applied", "applied"
        ]
    );
    *failing.lock().unwrap() = false;
    // Redelivered, all of them: only the two of c1 take effect now.
    let again = inbox.apply(&handler, &messages).await.unwrap();
    let applied = again
        .iter()
        .filter(|o| matches!(o, Handled::Applied))
        .count();
    let duplicates = again
        .iter()
        .filter(|o| matches!(o, Handled::Duplicate))
        .count();
    assert_eq!((applied, duplicates), (2, 8));
    assert!(again.iter().all(Handled::is_done));
    let mirrored = Repository::<Counter>::new(store.clone());
    for i in 0..5u64 {
        let state = mirrored
            .load(&format!("mirror-counter-c{i}"))
            .await
            .unwrap();
        assert_eq!(
            state.state.total,
            (i + 1) + (i + 6),
            "c{i}: each message once"
        );
    }
}
