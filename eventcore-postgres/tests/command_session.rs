//! A repository's command runs its read and append on one pooled connection
//! (`EventAppender::command_session`): with a pool of one connection nothing waits for
//! itself, a stale cached state and a re-sent command still come out right, and a connection
//! that broke while idle in the pool costs a retry, not an error.

mod common;

use std::sync::Arc;
use std::time::Duration;

use eventcore::testing::counter::{Counter, CounterCommand, CounterEvent};
use eventcore::{
    Aggregate, AppendRequest, CommandId, EventAppender, ExpectedVersion, NewEvent, Repository,
    SnapshotPolicy,
};
use eventcore_postgres::PgEventStore;
use sqlx::postgres::PgPoolOptions;

/// A migrated store in a fresh schema over a pool of one connection that is not pinged when
/// handed out.
async fn one_connection_store() -> PgEventStore {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .test_before_acquire(false)
        .connect(&common::database_url())
        .await
        .expect("PostgreSQL must be running");
    let schema = format!("ec_test_{}", uuid::Uuid::new_v4().simple());
    let store = PgEventStore::builder(pool)
        .schema(schema.as_str())
        .notifications(false)
        .build()
        .await
        .unwrap();
    store.migrate().await.unwrap();
    store
}

async fn drop_schema(store: &PgEventStore) {
    sqlx::query(&format!("DROP SCHEMA \"{}\" CASCADE", store.schema()))
        .execute(store.pool())
        .await
        .unwrap();
}

#[tokio::test]
async fn commands_on_a_one_connection_pool_with_snapshots_never_wait_for_themselves() {
    let store = one_connection_store().await;
    let repo = Repository::<Counter>::new(store.clone())
        .with_snapshots(Arc::new(store.snapshots()), SnapshotPolicy::EveryNEvents(2));
    let work = async {
        for i in 0..6 {
            repo.execute(CounterCommand::add("a", i + 1)).await.unwrap();
        }
        // Another writer moves the stream: the cached state is stale, the append conflicts
        // and the command is decided again on a fresh read (snapshot, then events).
        let stream = Counter::stream_id("a").unwrap();
        store
            .append(AppendRequest::single(
                stream.clone(),
                ExpectedVersion::Exact(6),
                vec![NewEvent::from_event(&CounterEvent::Added { amount: 1 }).unwrap()],
            ))
            .await
            .unwrap();
        let sent = CounterCommand::add("a", 100).with_id(CommandId::new_random());
        let first = repo.execute(sent.clone()).await.unwrap();
        assert_eq!(first[0].stream_version, 8);
        // Sent again from a fresh repository (no cached state): the first outcome, read back.
        let fresh = Repository::<Counter>::new(store.clone())
            .with_snapshots(Arc::new(store.snapshots()), SnapshotPolicy::EveryNEvents(2));
        let again = fresh.execute(sent).await.unwrap();
        assert_eq!(again[0].event_id, first[0].event_id);
        assert_eq!(again[0].stream_version, 8);
    };
    tokio::time::timeout(Duration::from_secs(30), work)
        .await
        .expect("a command waited for its own connection");
    let loaded = Repository::<Counter>::new(store.clone())
        .load("a")
        .await
        .unwrap();
    assert_eq!((loaded.version, loaded.state.total), (8, 21 + 1 + 100));
    drop_schema(&store).await;
}

#[tokio::test]
async fn a_connection_broken_while_idle_costs_a_retry_not_an_error() {
    let store = one_connection_store().await;
    let repo = Repository::<Counter>::new(store.clone());
    repo.execute(CounterCommand::add("b", 1)).await.unwrap();
    // The pool's only connection dies while idle (the pool does not ping it when handing it
    // out): the next command's read fails on it, and the repository takes a fresh one.
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(store.pool())
        .await
        .unwrap();
    let other = common::pool(1).await;
    let killed: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .fetch_one(&other)
        .await
        .unwrap();
    assert!(killed);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let events = Repository::<Counter>::new(store.clone())
        .execute(CounterCommand::add("b", 2))
        .await
        .expect("retried on a fresh connection");
    assert_eq!(events[0].stream_version, 2);
    drop_schema(&store).await;
}
