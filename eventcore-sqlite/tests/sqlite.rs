//! Behaviour specific to the SQLite backend: corrupt rows, schema upgrades, transactions,
//! runtime state, several handles writing at once, and prompt live subscriptions.

use std::time::{Duration, Instant};

use eventcore::{
    AppendRequest, EventAppender, EventReader, EventReaderExt, ExpectedVersion, StoreError,
    StreamId, SubscriptionOptions, TransactionalStore,
};
mod common;

use eventcore::testing::conformance::numbered as event;
use eventcore::testing::sagas::runtime_records_persist_for_another_handle;

use common::temp_db;
use eventcore_sqlite::SqliteEventStore;
use futures::StreamExt;

fn stream(name: &str) -> StreamId {
    StreamId::new(name).unwrap()
}

#[tokio::test]
async fn an_undecodable_stored_payload_is_a_typed_error_naming_stream_and_position() {
    let store = SqliteEventStore::open_in_memory().await.unwrap();
    store
        .append(AppendRequest::single(
            stream("good"),
            ExpectedVersion::Any,
            vec![event(1)],
        ))
        .await
        .unwrap();
    // Damage a row behind the store's back, as a bad migration or manual edit would.
    let mut tx = store.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO eventcore_events (event_id, stream_id, stream_version, event_type,
             schema_version, recorded_at, metadata, payload)
         VALUES (?1, 'bro''ken', 1, 'Numbered', 1, 0, NULL, '{not json')",
    )
    .bind(uuid::Uuid::new_v4().as_bytes().as_slice())
    .execute(tx.connection())
    .await
    .unwrap();
    tx.commit().await.unwrap();
    for result in [
        store.read_stream(&stream("bro'ken"), 1, 10).await,
        store.read_all(1, 10).await,
    ] {
        match result {
            Err(StoreError::Corrupt {
                stream,
                version,
                position,
                reason,
            }) => {
                assert_eq!(stream, "bro'ken");
                assert_eq!((version, position), (1, 2));
                assert!(
                    reason.contains("payload"),
                    "reason says what is wrong: {reason}"
                );
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }
    assert_eq!(
        store.read_all(1, 1).await.unwrap().len(),
        1,
        "rows before it still read"
    );
}

#[tokio::test]
async fn a_database_of_an_older_schema_is_migrated_on_open() {
    let path = temp_db();
    {
        let old = SqliteEventStore::connect_with(
            eventcore_sqlite::SqliteConnectOptions::new()
                .filename(&path)
                .create_if_missing(true),
        )
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
            "schema 1 has no checkpoint table yet"
        );
    }
    let store = SqliteEventStore::open(&path).await.unwrap();
    let kept = store.read_stream(&stream("kept"), 1, 10).await.unwrap();
    assert_eq!(kept.len(), 1, "events written under the old schema survive");
    let mut tx = store.begin().await.unwrap();
    tx.save_checkpoint("x", 1).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        store.load_checkpoint("x").await.unwrap(),
        Some(1),
        "the new tables exist"
    );
    let versions: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM eventcore_migrations ORDER BY version")
            .fetch_all(store.reader_pool())
            .await
            .unwrap();
    assert_eq!(
        versions,
        (1..=SqliteEventStore::latest_schema_version()).collect::<Vec<_>>()
    );
    let app_table: Option<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE name = '_sqlx_migrations'")
            .fetch_optional(store.reader_pool())
            .await
            .unwrap();
    assert_eq!(
        app_table, None,
        "the application's sqlx migration table is left alone"
    );
    store.migrate().await.expect("migrating again is a no-op");
}

#[tokio::test]
async fn one_transaction_covers_an_append_the_callers_sql_and_a_checkpoint() {
    let store = SqliteEventStore::open_in_memory().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    sqlx::query("CREATE TABLE totals (id TEXT PRIMARY KEY, n INTEGER)")
        .execute(tx.connection())
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // Dropped without commit: nothing of it is visible.
    {
        let mut tx = store.begin().await.unwrap();
        tx.append(AppendRequest::single(
            stream("t-1"),
            ExpectedVersion::NoStream,
            vec![event(1)],
        ))
        .await
        .unwrap();
        sqlx::query("INSERT INTO totals VALUES ('a', 1)")
            .execute(tx.connection())
            .await
            .unwrap();
        tx.save_checkpoint("totals", 1).await.unwrap();
    }
    assert_eq!(store.head_position().await.unwrap(), 0);
    assert_eq!(store.load_checkpoint("totals").await.unwrap(), None);
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM totals")
        .fetch_one(store.reader_pool())
        .await
        .unwrap();
    assert_eq!(rows, 0);

    // A failed append inside the transaction undoes only itself.
    let mut tx = store.begin().await.unwrap();
    let first = tx
        .append(AppendRequest::single(
            stream("t-1"),
            ExpectedVersion::NoStream,
            vec![event(1)],
        ))
        .await
        .unwrap();
    let conflict = tx
        .append(
            AppendRequest::new()
                .stream(stream("t-2"), ExpectedVersion::NoStream, vec![event(2)])
                .stream(stream("t-1"), ExpectedVersion::NoStream, vec![event(3)]),
        )
        .await;
    assert!(matches!(conflict, Err(StoreError::Conflict(ref c)) if c.actual == 1));
    sqlx::query("INSERT INTO totals VALUES ('a', 1)")
        .execute(tx.connection())
        .await
        .unwrap();
    tx.save_checkpoint("totals", first[0].global_position)
        .await
        .unwrap();
    let mut live = store.subscribe(1);
    tx.commit().await.unwrap();
    let seen = tokio::time::timeout(Duration::from_secs(5), live.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(seen.stream_id, stream("t-1"), "commit wakes subscribers");
    assert_eq!(store.stream_version(&stream("t-1")).await.unwrap(), 1);
    assert_eq!(
        store.stream_version(&stream("t-2")).await.unwrap(),
        0,
        "the failed append left nothing"
    );
    assert_eq!(
        store.load_checkpoint("totals").await.unwrap(),
        Some(first[0].global_position)
    );
}

#[tokio::test]
async fn saga_state_deadlines_and_inbox_persist_across_a_restart() {
    let path = temp_db();
    let store = SqliteEventStore::open(&path).await.unwrap();
    let reopen = |store: SqliteEventStore| async move {
        drop(store);
        SqliteEventStore::open(&path).await.unwrap()
    };
    let (store, event_id) = runtime_records_persist_for_another_handle(store, reopen).await;
    assert!(store.is_processed("notifier", event_id).await.unwrap());
    assert!(!store.is_processed("mailer", event_id).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_handles_on_one_file_write_concurrently_without_lock_errors() {
    let path = temp_db();
    let first = SqliteEventStore::open(&path).await.unwrap();
    // A second, independent handle: its own writer connection, as another process would have.
    let second = SqliteEventStore::open(&path).await.unwrap();
    let mut tasks = Vec::new();
    for task in 0..16u64 {
        let store = if task % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        tasks.push(tokio::spawn(async move {
            for i in 0..25 {
                let s = StreamId::new(format!("w-{}", i % 4)).unwrap();
                store
                    .append(AppendRequest::single(
                        s,
                        ExpectedVersion::Any,
                        vec![event(task * 100 + i)],
                    ))
                    .await
                    .expect("no busy or locked error");
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let all = first.read_all(1, 10_000).await.unwrap();
    assert_eq!(all.len(), 400);
    assert!(
        all.windows(2)
            .all(|w| w[0].global_position < w[1].global_position)
    );
    for s in 0..4 {
        let events = second
            .read_stream(&StreamId::new(format!("w-{s}")).unwrap(), 1, 1000)
            .await
            .unwrap();
        assert!(
            events
                .iter()
                .enumerate()
                .all(|(i, e)| e.stream_version == i as u64 + 1)
        );
    }
}

#[tokio::test]
async fn a_live_subscriber_is_woken_by_the_append_not_by_polling() {
    let store = SqliteEventStore::open(temp_db()).await.unwrap();
    // A fallback poll far longer than the test: only a wake-up can deliver in time.
    let options = SubscriptionOptions {
        batch_size: 100,
        fallback_poll: Duration::from_secs(600),
    };
    let mut live = store.subscribe_with(1, options);
    let reader = tokio::spawn(async move {
        let mut numbers = Vec::new();
        for _ in 0..20 {
            let event = live.next().await.unwrap().unwrap();
            numbers.push(event.stream_version);
        }
        numbers
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let start = Instant::now();
    for n in 0..20 {
        store
            .append(AppendRequest::single(
                stream("live"),
                ExpectedVersion::Any,
                vec![event(n)],
            ))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let delivered = tokio::time::timeout(Duration::from_secs(30), reader)
        .await
        .expect("every event delivered long before the fallback poll")
        .unwrap();
    assert_eq!(delivered, (1..=20).collect::<Vec<u64>>());
    assert!(start.elapsed() < Duration::from_secs(30));
}

#[tokio::test]
async fn the_database_itself_refuses_gaps_in_stream_versions() {
    let store = SqliteEventStore::open_in_memory().await.unwrap();
    store
        .append(AppendRequest::single(
            stream("guarded"),
            ExpectedVersion::NoStream,
            vec![event(1)],
        ))
        .await
        .unwrap();
    let mut tx = store.begin().await.unwrap();
    for version in [1, 3] {
        let result = sqlx::query(
            "INSERT INTO eventcore_events (event_id, stream_id, stream_version, event_type,
                 schema_version, recorded_at, metadata, payload)
             VALUES (?1, 'guarded', ?2, 'Numbered', 1, 0, NULL, '{}')",
        )
        .bind(uuid::Uuid::new_v4().as_bytes().as_slice())
        .bind(version)
        .execute(tx.connection())
        .await;
        match result {
            Err(sqlx::Error::Database(db)) => {
                assert_eq!(
                    db.code().as_deref(),
                    Some("1811"),
                    "the version guard trigger refused"
                )
            }
            other => panic!("version {version} after 1 must be refused, got {other:?}"),
        }
    }
    drop(tx);
    assert_eq!(store.stream_version(&stream("guarded")).await.unwrap(), 1);
}
