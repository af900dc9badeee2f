//! Behaviour specific to the PostgreSQL backend: schemas, migrations beside the user's tables,
//! transactions, runtime state, cross-process wake-ups and the early-transaction guard.

mod common;

use eventcore::testing::conformance::numbered as event;
use eventcore::testing::sagas::runtime_records_persist_for_another_handle;

use std::time::Duration;

use eventcore::TransactionalStore;
use eventcore::{
    AbortReason, AppendRequest, EventAppender, EventReader, EventReaderExt, ExpectedVersion,
    StoreError, StreamId,
};
use eventcore_postgres::PgEventStore;
use futures::StreamExt;

fn stream(name: &str) -> StreamId {
    StreamId::new(name).unwrap()
}

fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

#[tokio::test]
async fn tables_live_beside_the_users_own_in_a_hostile_named_schema() {
    let schema = format!("we\"ird {}", uuid::Uuid::new_v4().simple());
    let pool = common::pool(5).await;
    let quoted = format!("\"{}\"", schema.replace('"', "\"\""));
    sqlx::raw_sql(&format!(
        "CREATE SCHEMA {quoted}; CREATE TABLE {quoted}.orders (id TEXT PRIMARY KEY);
         CREATE TABLE {quoted}._sqlx_migrations (version BIGINT PRIMARY KEY);
         INSERT INTO {quoted}._sqlx_migrations VALUES (20240101);"
    ))
    .execute(&pool)
    .await
    .unwrap();
    let store = PgEventStore::with_schema(pool.clone(), &schema)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    store.migrate().await.expect("migrating twice is a no-op");
    store
        .append(AppendRequest::single(
            stream("s"),
            ExpectedVersion::NoStream,
            vec![event(1)],
        ))
        .await
        .unwrap();
    assert_eq!(
        store.read_stream(&stream("s"), 1, 10).await.unwrap().len(),
        1
    );
    let app_versions: Vec<i64> =
        sqlx::query_scalar(&format!("SELECT version FROM {quoted}._sqlx_migrations"))
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        app_versions,
        [20240101],
        "the application's migrations are untouched"
    );
    let ours: Vec<i64> = sqlx::query_scalar(&format!(
        "SELECT version FROM {quoted}.eventcore_migrations ORDER BY version"
    ))
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        ours,
        (1..=PgEventStore::latest_schema_version()).collect::<Vec<_>>()
    );
    let in_schema: Option<String> =
        sqlx::query_scalar("SELECT to_regclass(format('%I.eventcore_events', $1::TEXT))::TEXT")
            .bind(&schema)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(
        in_schema.is_some(),
        "the events table lives in the named schema"
    );
}

#[tokio::test]
async fn an_older_schema_is_brought_up_to_date_and_concurrent_migrations_agree() {
    let schema = unique("ec_test_upgrade");
    let old = PgEventStore::with_schema(common::pool(5).await, &schema)
        .await
        .unwrap();
    old.migrate_to(1).await.unwrap();
    old.append(AppendRequest::single(
        stream("kept"),
        ExpectedVersion::NoStream,
        vec![event(7)],
    ))
    .await
    .unwrap();
    assert!(
        old.load_checkpoint("x").await.is_err(),
        "schema 1 has no checkpoints yet"
    );
    let (a, b) = (
        PgEventStore::with_schema(common::pool(5).await, &schema)
            .await
            .unwrap(),
        PgEventStore::with_schema(common::pool(5).await, &schema)
            .await
            .unwrap(),
    );
    let (ra, rb) = tokio::join!(a.migrate(), b.migrate());
    ra.expect("first migrator");
    rb.expect("second migrator waits and finds nothing to do");
    assert_eq!(
        a.read_stream(&stream("kept"), 1, 10).await.unwrap().len(),
        1
    );
    assert_eq!(a.load_checkpoint("x").await.unwrap(), None);
}

#[tokio::test]
async fn one_transaction_covers_an_append_the_callers_sql_and_a_checkpoint() {
    let store = common::fresh_store(5).await;
    let table = format!("\"{}\".totals", store.schema());
    sqlx::query(&format!(
        "CREATE TABLE {table} (id TEXT PRIMARY KEY, n BIGINT)"
    ))
    .execute(store.pool())
    .await
    .unwrap();
    {
        let mut tx = store.begin().await.unwrap();
        tx.append(AppendRequest::single(
            stream("t-1"),
            ExpectedVersion::NoStream,
            vec![event(1)],
        ))
        .await
        .unwrap();
        sqlx::query(&format!("INSERT INTO {table} VALUES ('a', 1)"))
            .execute(tx.connection())
            .await
            .unwrap();
        tx.save_checkpoint("totals", 1).await.unwrap();
        // Dropped: rolled back.
    }
    assert_eq!(store.stream_version(&stream("t-1")).await.unwrap(), 0);
    assert_eq!(store.load_checkpoint("totals").await.unwrap(), None);

    let mut tx = store.begin().await.unwrap();
    let first = tx
        .append(AppendRequest::single(
            stream("t-1"),
            ExpectedVersion::NoStream,
            vec![event(1)],
        ))
        .await
        .unwrap();
    let failed = tx
        .append(
            AppendRequest::new()
                .stream(stream("t-2"), ExpectedVersion::NoStream, vec![event(2)])
                .stream(stream("t-1"), ExpectedVersion::NoStream, vec![event(3)]),
        )
        .await;
    assert!(
        matches!(failed, Err(StoreError::Conflict(ref c)) if c.actual == 1),
        "{failed:?}"
    );
    let duplicate = tx
        .append(AppendRequest::single(
            stream("t-3"),
            ExpectedVersion::Any,
            vec![event(4), {
                let mut again = event(5);
                again.event_id = first[0].event_id;
                again
            }],
        ))
        .await;
    assert!(
        matches!(duplicate, Err(StoreError::DuplicateEventId { event_id }) if event_id == first[0].event_id)
    );
    sqlx::query(&format!("INSERT INTO {table} VALUES ('a', 1)"))
        .execute(tx.connection())
        .await
        .unwrap();
    tx.save_checkpoint("totals", first[0].global_position)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.stream_version(&stream("t-1")).await.unwrap(), 1);
    assert_eq!(store.stream_version(&stream("t-2")).await.unwrap(), 0);
    assert_eq!(store.stream_version(&stream("t-3")).await.unwrap(), 0);
    assert_eq!(
        store.load_checkpoint("totals").await.unwrap(),
        Some(first[0].global_position)
    );
    let n: i64 = sqlx::query_scalar(&format!("SELECT n FROM {table} WHERE id = 'a'"))
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn saga_state_deadlines_and_inbox_persist_for_another_handle() {
    let store = common::fresh_store(5).await;
    let reopen = |store: PgEventStore| async move {
        PgEventStore::with_schema(common::pool(3).await, store.schema())
            .await
            .unwrap()
    };
    let (other, event_id) = runtime_records_persist_for_another_handle(store, reopen).await;
    assert!(other.is_processed("notifier", event_id).await.unwrap());
    assert!(!other.is_processed("mailer", event_id).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_process_is_woken_by_notify_and_its_subscriber_delivers() {
    let writer = common::fresh_store(5).await;
    // Another "process": its own pool and listener on the same schema.
    let reader = PgEventStore::with_schema(common::pool(5).await, writer.schema())
        .await
        .unwrap();
    let mut wake = reader.head_watch();
    let mut live = reader.subscribe(1);
    tokio::time::sleep(Duration::from_millis(100)).await;
    for n in 1..=5 {
        wake.borrow_and_update();
        writer
            .append(AppendRequest::single(
                stream("notified"),
                ExpectedVersion::Any,
                vec![event(n)],
            ))
            .await
            .unwrap();
        // The wake-up itself must come from NOTIFY: this handle wrote nothing and polls nothing.
        tokio::time::timeout(Duration::from_secs(5), wake.changed())
            .await
            .expect("woken by NOTIFY")
            .expect("listener alive");
        // Visibility may still wait for unrelated in-flight transactions elsewhere in the
        // cluster; the subscription delivers once they finish.
        let seen = tokio::time::timeout(Duration::from_secs(30), live.next())
            .await
            .expect("delivered")
            .unwrap()
            .unwrap();
        assert_eq!(seen.stream_version, n);
    }
}

#[tokio::test]
async fn a_transaction_that_wrote_before_events_committed_above_it_cannot_append_behind_them() {
    let store = common::fresh_store(5).await;
    let mut early = store.begin().await.unwrap();
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(early.connection())
        .await
        .unwrap();
    let raced = store
        .append(AppendRequest::single(
            stream("race"),
            ExpectedVersion::NoStream,
            vec![event(1)],
        ))
        .await
        .unwrap();
    // Readers do not wait for a transaction that has written no events, so they may have
    // passed this one's id already: its events would land behind them, on any stream.
    for name in ["race", "other"] {
        let result = early
            .append(AppendRequest::single(
                stream(name),
                ExpectedVersion::Any,
                vec![event(2)],
            ))
            .await;
        assert!(
            matches!(
                result,
                Err(StoreError::TransactionAborted {
                    reason: AbortReason::Overtaken
                })
            ),
            "{name}: {result:?}"
        );
    }
    assert!(early.commit().await.is_err(), "the transaction is poisoned");
    // A fresh transaction appends, after the race.
    let mut fresh = store.begin().await.unwrap();
    fresh
        .append(AppendRequest::single(
            stream("other"),
            ExpectedVersion::NoStream,
            vec![event(3)],
        ))
        .await
        .unwrap();
    fresh.commit().await.unwrap();
    eventcore::testing::conformance::wait_until_visible(&store, raced[0].global_position).await;
    let all = store.read_all(1, 100).await.unwrap();
    let order: Vec<(String, u64)> = all
        .iter()
        .map(|e| (e.stream_id.to_string(), e.stream_version))
        .collect();
    assert_eq!(
        order,
        [("race".to_owned(), 1), ("other".to_owned(), 1)],
        "global order by transaction"
    );
}

#[tokio::test]
async fn a_transaction_that_wrote_first_appends_when_nothing_committed_above_it() {
    let store = common::fresh_store(5).await;
    let mut tx = store.begin().await.unwrap();
    let before = store.head_position().await.unwrap();
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(tx.connection())
        .await
        .unwrap();
    let recorded = tx
        .append(AppendRequest::single(
            stream("calm"),
            ExpectedVersion::NoStream,
            vec![event(1)],
        ))
        .await
        .expect("no events above this transaction's id: nothing to refuse");
    tx.commit().await.unwrap();
    assert!(recorded[0].global_position > before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_checked_stream_cannot_change_before_the_checking_transaction_commits() {
    let store = common::fresh_store(6).await;
    store
        .append(AppendRequest::single(
            stream("guard"),
            ExpectedVersion::NoStream,
            vec![event(1)],
        ))
        .await
        .unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.append(
        AppendRequest::new()
            .stream(stream("guard"), ExpectedVersion::Exact(1), vec![])
            .stream(stream("guarded"), ExpectedVersion::NoStream, vec![event(2)]),
    )
    .await
    .unwrap();
    let writer = store.clone();
    let mut racing = tokio::spawn(async move {
        writer
            .append(AppendRequest::single(
                stream("guard"),
                ExpectedVersion::Exact(1),
                vec![event(3)],
            ))
            .await
    });
    let early = tokio::time::timeout(Duration::from_millis(300), &mut racing).await;
    assert!(
        early.is_err(),
        "the guard stream changed while the check was in force: {early:?}"
    );
    tx.commit().await.unwrap();
    let after = racing.await.unwrap();
    assert!(
        after.is_ok(),
        "the writer proceeds once the checker committed: {after:?}"
    );
    assert_eq!(store.stream_version(&stream("guard")).await.unwrap(), 2);
}

#[tokio::test]
async fn migrate_refuses_a_database_whose_transaction_ids_are_behind_its_positions() {
    let store = common::fresh_store(3).await;
    // What a restore into a fresh cluster looks like: stored positions far above the ids the
    // cluster hands out now.
    sqlx::query(&format!(
        "INSERT INTO \"{}\".eventcore_events (global_position, event_id, stream_id,
             stream_version, event_type, schema_version, recorded_at, payload)
         VALUES ((1::BIGINT << 42) << 20, $1, 'restored', 1, 'Numbered', 1, now(), '{{}}')",
        store.schema()
    ))
    .bind(uuid::Uuid::new_v4())
    .execute(store.pool())
    .await
    .unwrap();
    let error = store.migrate().await.expect_err("refused");
    assert!(error.to_string().contains("behind"), "{error}");
}
