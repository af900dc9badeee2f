//! Log readers wait only for transactions that append to the store's log: transactions that
//! write anything else (in another database, in this one, in the store's own non-event
//! tables) stay open for the whole run while writers append, and live readers keep up; an
//! event-writing transaction held open still holds them back, and its events arrive in order
//! once it commits.

mod common;
mod stress;

use std::time::Duration;

use async_trait::async_trait;
use eventcore::projection::{Projection, ProjectionOptions, ProjectionRunner};
use eventcore::testing::conformance::numbered as event;
use eventcore::{
    AppendRequest, BoxError, EventAppender, EventReader, EventReaderExt, ExpectedVersion,
    RecordedEvent, StreamId, SubscriptionOptions,
};
use eventcore_postgres::PgTransaction;
use futures::StreamExt;
use stress::{Config, Unrelated};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readers_keep_up_while_transactions_that_append_no_events_stay_open() {
    let config = Config::from_env();
    let store = common::fresh_store(config.writers as u32 + 8).await;
    let unrelated = Unrelated::open(&store).await;
    let report = stress::run(&store, &config, Some(&unrelated)).await;
    unrelated.close().await;
    report.print();
    report.assert_no_reader_skipped_duplicated_or_reordered();
    for reader in &report.readers {
        assert!(
            reader.lag_p99 < Duration::from_secs(1),
            "{}: lag p99 {:?} with unrelated transactions open",
            reader.name,
            reader.lag_p99
        );
    }
    assert!(
        report.blamed_unrelated == 0,
        "read_bound named an unrelated transaction {} times",
        report.blamed_unrelated
    );
}

/// The pid of the server process behind `tx`.
async fn backend_pid(tx: &mut PgTransaction) -> i32 {
    sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(tx.connection())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_event_writing_transaction_holds_readers_back_until_it_commits() {
    let store = common::fresh_store(6).await;
    let start = store.head_position().await.unwrap() + 1;
    let mut live = store.subscribe_with(
        start,
        SubscriptionOptions {
            batch_size: 10,
            fallback_poll: Duration::from_millis(50),
        },
    );
    let mut slow = store.begin().await.unwrap();
    let pid = backend_pid(&mut slow).await;
    let first = slow
        .append(AppendRequest::single(
            StreamId::new("slow-1").unwrap(),
            ExpectedVersion::NoStream,
            vec![event(1)],
        ))
        .await
        .unwrap();
    let later = store
        .append(AppendRequest::single(
            StreamId::new("fast-1").unwrap(),
            ExpectedVersion::NoStream,
            vec![event(2)],
        ))
        .await
        .unwrap();
    assert!(later[0].global_position > first[0].global_position);
    // The later, committed event must wait for the open one below it.
    let early = tokio::time::timeout(Duration::from_millis(1500), live.next()).await;
    assert!(early.is_err(), "delivered past an open writer: {early:?}");
    let bound = store.read_bound().await.unwrap();
    assert!(bound.position <= first[0].global_position, "{bound:?}");
    let holder = bound.held_by.expect("a holder");
    assert_eq!(holder.pid, Some(pid), "{holder:?}");
    assert_eq!(holder.state.as_deref(), Some("idle in transaction"));
    assert!(holder.age.unwrap() >= Duration::from_secs(1), "{holder:?}");
    slow.commit().await.unwrap();
    let mut order = Vec::new();
    for _ in 0..2 {
        let event = tokio::time::timeout(Duration::from_secs(10), live.next())
            .await
            .expect("delivered once committed")
            .unwrap()
            .unwrap();
        order.push(event.stream_id.to_string());
    }
    assert_eq!(order, ["slow-1", "fast-1"]);
    let bound = store.read_bound().await.unwrap();
    assert!(bound.position > later[0].global_position, "{bound:?}");
}

/// Collects the positions it applies.
struct Positions(tokio::sync::mpsc::UnboundedSender<u64>);

#[async_trait]
impl Projection<PgTransaction> for Positions {
    async fn apply(
        &mut self,
        _tx: &mut PgTransaction,
        events: &[RecordedEvent],
    ) -> Result<(), BoxError> {
        for event in events {
            let _ = self.0.send(event.global_position);
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_projection_catches_up_while_an_unrelated_transaction_stays_open() {
    let store = common::fresh_store(8).await;
    let unrelated = Unrelated::open(&store).await;
    let (sent, mut applied) = tokio::sync::mpsc::unbounded_channel();
    let running = ProjectionRunner::new(store.clone())
        .add("positions", Positions(sent), ProjectionOptions::default())
        .start()
        .unwrap();
    let recorded = store
        .append(AppendRequest::single(
            StreamId::new("p-1").unwrap(),
            ExpectedVersion::NoStream,
            vec![event(1), event(2)],
        ))
        .await
        .unwrap();
    let last = recorded[1].global_position;
    tokio::time::timeout(
        Duration::from_secs(5),
        running.wait_until("positions", last),
    )
    .await
    .expect("caught up with the unrelated transactions still open")
    .unwrap();
    let mut seen = Vec::new();
    while let Ok(position) = applied.try_recv() {
        seen.push(position);
    }
    assert_eq!(seen, [recorded[0].global_position, last]);
    running.shutdown().await.unwrap();
    unrelated.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_that_declares_it_will_append_may_write_first_and_is_waited_for() {
    let store = common::fresh_store(6).await;
    let mut tx = store.begin().await.unwrap();
    tx.will_append().await.unwrap();
    a_declared_writer_may_write_first_and_is_waited_for(&store, tx).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_begun_appending_may_write_first_and_is_waited_for() {
    let store = common::fresh_store(6).await;
    let tx = store.begin_appending().await.unwrap();
    a_declared_writer_may_write_first_and_is_waited_for(&store, tx).await;
}

/// `tx` has declared that it will append and written nothing yet.
async fn a_declared_writer_may_write_first_and_is_waited_for(
    store: &eventcore_postgres::PgEventStore,
    mut tx: PgTransaction,
) {
    let start = store.head_position().await.unwrap() + 1;
    let pid = backend_pid(&mut tx).await;
    // Writes before its first append: an inbox record, say.
    assert!(
        tx.record_processed("consumer", eventcore::EventId::new_random())
            .await
            .unwrap()
    );
    let later = store
        .append(AppendRequest::single(
            StreamId::new("later-1").unwrap(),
            ExpectedVersion::NoStream,
            vec![event(1)],
        ))
        .await
        .unwrap();
    let held = store.read_bound().await.unwrap();
    assert_eq!(
        held.held_by.as_ref().and_then(|h| h.pid),
        Some(pid),
        "{held:?}"
    );
    assert!(held.position < later[0].global_position);
    let mine = tx
        .append(AppendRequest::single(
            StreamId::new("mine-1").unwrap(),
            ExpectedVersion::NoStream,
            vec![event(2)],
        ))
        .await
        .expect("declared: never overtaken");
    tx.commit().await.unwrap();
    assert!(mine[0].global_position < later[0].global_position);
    eventcore::testing::conformance::wait_until_visible(store, later[0].global_position).await;
    let order: Vec<String> = store
        .read_all(start, 10)
        .await
        .unwrap()
        .iter()
        .map(|e| e.stream_id.to_string())
        .collect();
    assert_eq!(order, ["mine-1", "later-1"]);
}

#[tokio::test]
async fn read_bound_names_the_newest_writer_while_it_is_open() {
    let store = common::fresh_store(4).await;
    let mut tx = store.begin().await.unwrap();
    let pid = backend_pid(&mut tx).await;
    let mine = tx
        .append(AppendRequest::single(
            StreamId::new("newest-1").unwrap(),
            ExpectedVersion::NoStream,
            vec![event(1)],
        ))
        .await
        .unwrap();
    let bound = store.read_bound().await.unwrap();
    assert!(bound.position <= mine[0].global_position, "{bound:?}");
    assert_eq!(bound.held_by.and_then(|h| h.pid), Some(pid));
    tx.commit().await.unwrap();
    let bound = store.read_bound().await.unwrap();
    assert!(bound.position > mine[0].global_position, "{bound:?}");
}

/// Appends `count` numbered events to the new stream `name`; returns their positions.
async fn append_new(store: &eventcore_postgres::PgEventStore, name: &str, count: u64) -> Vec<u64> {
    let events = (1..=count).map(event).collect();
    let request = AppendRequest::single(
        StreamId::new(name).unwrap(),
        ExpectedVersion::NoStream,
        events,
    );
    let appended = store.append(request).await.unwrap();
    appended.iter().map(|e| e.global_position).collect()
}

/// The positions `read_all` returns from `from`, `max` at most.
async fn positions(store: &eventcore_postgres::PgEventStore, from: u64, max: usize) -> Vec<u64> {
    let events = store.read_all(from, max).await.unwrap();
    events.iter().map(|e| e.global_position).collect()
}

#[tokio::test]
async fn pages_below_and_across_the_final_floor_return_each_event_once_in_order() {
    let store = common::fresh_store(4).await;
    let start = store.head_position().await.unwrap() + 1;
    let below = append_new(&store, "floor-a", 3).await;
    // A transaction with an id and no events holds the final floor at its id while open.
    let mut open = store.pool().begin().await.unwrap();
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(&mut *open)
        .await
        .unwrap();
    let above = append_new(&store, "floor-b", 3).await;
    let all: Vec<u64> = below.iter().chain(&above).copied().collect();
    // It does not hold readers back (it writes no events), here nor on the pages after.
    assert_eq!(positions(&store, start, 100).await, all);
    assert_eq!(positions(&store, above[0], 100).await, above);
    open.commit().await.unwrap();
    // The floor learnt above lies between the two streams: a page may end below it, start
    // below it and cross it, or start above it.
    assert_eq!(positions(&store, start, 2).await, below[..2]);
    assert_eq!(positions(&store, below[1] + 1, 3).await, all[2..5]);
    assert_eq!(positions(&store, start, 100).await, all);
    assert_eq!(positions(&store, above[1], 100).await, above[1..]);
    // Events appended since arrive after the rest, on a page that crosses the floor.
    let later = append_new(&store, "floor-c", 2).await;
    let tail: Vec<u64> = all[3..].iter().chain(&later).copied().collect();
    assert_eq!(positions(&store, below[2] + 1, 100).await, tail);
}
