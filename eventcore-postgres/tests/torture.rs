//! Torture test for the global order: many concurrent writers with slow, rolled-back and
//! early-starting transactions, while a live subscriber and a small-page polling reader follow
//! the log. Both must see every committed event exactly once, nothing rolled back, and every
//! stream in version order.

mod common;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use eventcore::testing::Rng;
use eventcore::{
    AbortReason, AppendRequest, EventId, EventReader, EventReaderExt, ExpectedVersion, NewEvent,
    RecordedEvent, StoreError, StreamId, SubscriptionOptions,
};
use eventcore_postgres::PgEventStore;
use futures::StreamExt;

const WRITERS: u64 = 20;
const TRANSACTIONS_PER_WRITER: u64 = 15;
const STREAMS: u64 = 6;

#[derive(Default)]
struct Outcome {
    committed: Vec<EventId>,
    rolled_back: Vec<EventId>,
    retried: u64,
}

async fn writer(store: PgEventStore, prefix: String, seed: u64) -> Outcome {
    let mut rng = Rng::new(seed);
    let mut outcome = Outcome::default();
    for _ in 0..TRANSACTIONS_PER_WRITER {
        loop {
            let mut tx = store.begin().await.expect("begin");
            if rng.below(3) == 0 {
                // Obtain a transaction id early, then dawdle: this transaction's events must
                // still not be skipped, and must not land behind a later version of a stream.
                sqlx::query("SELECT pg_current_xact_id()")
                    .execute(tx.connection())
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(rng.below(20))).await;
            }
            let stream = StreamId::new(format!("{prefix}-{}", rng.below(STREAMS))).unwrap();
            let events: Vec<NewEvent> = (0..1 + rng.below(3))
                .map(|i| NewEvent::raw("Tortured", 1, serde_json::value::to_raw_value(&i).unwrap()))
                .collect();
            let ids: Vec<EventId> = events.iter().map(|e| e.event_id).collect();
            match tx
                .append(AppendRequest::single(stream, ExpectedVersion::Any, events))
                .await
            {
                Ok(_) => {}
                Err(
                    StoreError::Conflict(_)
                    | StoreError::TransactionAborted {
                        reason: AbortReason::Overtaken | AbortReason::Deadlock,
                    },
                ) => {
                    // Our transaction predates the stream's last writer, or events readers
                    // may have passed it by: retry afresh.
                    outcome.retried += 1;
                    tx.rollback().await.unwrap();
                    continue;
                }
                Err(other) => panic!("unexpected append error: {other}"),
            }
            // Slow transactions hold the readers back; they must wait, not skip.
            tokio::time::sleep(Duration::from_millis(rng.below(30))).await;
            if rng.below(4) == 0 {
                tx.rollback().await.unwrap();
                outcome.rolled_back.extend(ids);
            } else {
                match tx.commit().await {
                    Ok(()) => outcome.committed.extend(ids),
                    Err(error) => panic!("commit failed: {error}"),
                }
            }
            break;
        }
    }
    outcome
}

/// Checks one reader's view: strictly increasing positions, per-stream contiguous versions.
#[derive(Default)]
struct View {
    seen: HashSet<EventId>,
    last_position: u64,
    versions: HashMap<StreamId, u64>,
}

impl View {
    fn observe(&mut self, event: &RecordedEvent, prefix: &str, reader: &str) {
        assert!(
            event.global_position > self.last_position,
            "{reader}: position {} after {}",
            event.global_position,
            self.last_position
        );
        self.last_position = event.global_position;
        if !event.stream_id.as_str().starts_with(prefix) {
            return;
        }
        assert!(
            self.seen.insert(event.event_id),
            "{reader}: {} seen twice",
            event.event_id
        );
        let previous = self
            .versions
            .insert(event.stream_id.clone(), event.stream_version);
        assert_eq!(
            event.stream_version,
            previous.unwrap_or(0) + 1,
            "{reader}: stream {} out of version order",
            event.stream_id
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_slow_and_rolled_back_writers_never_make_a_reader_skip() {
    let store = common::fresh_store(WRITERS as u32 + 6).await;
    let prefix = format!("torture-{}", uuid::Uuid::new_v4().simple());
    let start = store.head_position().await.unwrap() + 1;
    let (done_tx, done_rx) = tokio::sync::watch::channel(None::<HashSet<EventId>>);

    let options = SubscriptionOptions {
        batch_size: 50,
        fallback_poll: Duration::from_millis(50),
    };
    let mut live = store.subscribe_with(start, options);
    let live_prefix = prefix.clone();
    let live_done = done_rx.clone();
    let subscriber = tokio::spawn(async move {
        let mut view = View::default();
        loop {
            if let Some(expected) = live_done.borrow().clone() {
                if view.seen.len() >= expected.len() {
                    return (view, expected);
                }
            }
            match tokio::time::timeout(Duration::from_millis(200), live.next()).await {
                Ok(Some(event)) => view.observe(
                    &event.expect("subscription healthy"),
                    &live_prefix,
                    "subscriber",
                ),
                Ok(None) => panic!("subscription ended"),
                Err(_) => {
                    let _ = live_done.has_changed();
                }
            }
        }
    });

    let poll_store = store.clone();
    let poll_prefix = prefix.clone();
    let poll_done = done_rx.clone();
    let poller = tokio::spawn(async move {
        let mut view = View::default();
        let mut next = start;
        loop {
            let page = poll_store.read_all(next, 7).await.expect("read_all");
            for event in &page {
                view.observe(event, &poll_prefix, "poller");
                next = event.global_position + 1;
            }
            if page.is_empty() {
                if let Some(expected) = poll_done.borrow().clone() {
                    if view.seen.len() >= expected.len() {
                        return (view, expected);
                    }
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    });

    let writers: Vec<_> = (0..WRITERS)
        .map(|w| tokio::spawn(writer(store.clone(), prefix.clone(), 0x9E37_79B9 * (w + 1))))
        .collect();
    let mut committed = HashSet::new();
    let mut rolled_back = HashSet::new();
    let mut retried = 0;
    for writer in writers {
        let outcome = writer.await.expect("writer");
        committed.extend(outcome.committed);
        rolled_back.extend(outcome.rolled_back);
        retried += outcome.retried;
    }
    assert!(
        !rolled_back.is_empty(),
        "the run rolled some transactions back"
    );
    done_tx.send(Some(committed.clone())).unwrap();

    for (name, reader) in [("subscriber", subscriber), ("poller", poller)] {
        let (view, expected) = tokio::time::timeout(Duration::from_secs(60), reader)
            .await
            .unwrap_or_else(|_| panic!("{name} caught up"))
            .expect("reader");
        assert_eq!(
            view.seen, expected,
            "{name} saw exactly the committed events"
        );
        assert!(
            view.seen.is_disjoint(&rolled_back),
            "{name} saw no rolled-back event"
        );
    }
    println!(
        "torture: {} committed, {} rolled back, {retried} appends retried for an early xid",
        committed.len(),
        rolled_back.len()
    );
}
