//! Rows changed behind the store's back (a bad migration, a manual edit) read as
//! `StoreError::Corrupt` naming stream, version and position — never as a transient backend
//! error that consumers would retry forever — and a stream with a gap in its versions does
//! not load as if nothing were missing.

use eventcore::testing::conformance::numbered as event;
use eventcore::testing::counter::{Counter, CounterCommand};
use eventcore::{
    Aggregate, AppendRequest, EventAppender, EventReader, ExpectedVersion, Repository,
    RepositoryError, StoreError, StreamId,
};
use eventcore_sqlite::SqliteEventStore;

/// A store holding stream `s` with versions 1..=3 at positions 1..=3.
async fn store_with_three_events() -> (SqliteEventStore, StreamId) {
    let store = SqliteEventStore::open_in_memory().await.unwrap();
    let stream = StreamId::new("tampered-1").unwrap();
    store
        .append(AppendRequest::single(
            stream.clone(),
            ExpectedVersion::NoStream,
            vec![event(1), event(2), event(3)],
        ))
        .await
        .unwrap();
    (store, stream)
}

async fn tamper(store: &SqliteEventStore, sql: &str) {
    let mut tx = store.begin().await.unwrap();
    sqlx::query(sql).execute(tx.connection()).await.unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn unreadable_columns_are_corrupt_with_stream_version_and_position() {
    for (what, change) in [
        ("a BLOB in a text column", "event_type = x'00ff'"),
        (
            "invalid UTF-8 in the payload",
            "payload = CAST(x'7b22ff' AS TEXT)",
        ),
        ("text in an integer column", "schema_version = 'one'"),
        (
            "text in the recorded-at column",
            "recorded_at = 'yesterday'",
        ),
        ("a text event id", "event_id = 'not a uuid'"),
        ("a zero schema version", "schema_version = 0"),
    ] {
        let (store, stream) = store_with_three_events().await;
        tamper(
            &store,
            &format!("UPDATE eventcore_events SET {change} WHERE stream_version = 2"),
        )
        .await;
        for result in [
            store.read_stream(&stream, 1, 10).await,
            store.read_all(1, 10).await,
        ] {
            match result {
                Err(StoreError::Corrupt {
                    stream: s,
                    version,
                    position,
                    ..
                }) => assert_eq!(
                    (s.as_str(), version, position),
                    ("tampered-1", 2, 2),
                    "{what}"
                ),
                other => panic!("{what}: expected Corrupt, got {other:?}"),
            }
        }
        let error = store.read_all(1, 10).await.unwrap_err();
        assert!(
            !error.is_transient(),
            "{what}: a corrupt row is not retried"
        );
    }
}

#[tokio::test]
async fn a_stream_with_a_gap_in_its_versions_is_corrupt_on_load() {
    let store = SqliteEventStore::open_in_memory().await.unwrap();
    let repo = Repository::<Counter>::new(store.clone());
    for amount in [1, 2, 3] {
        repo.execute(CounterCommand::add("gap", amount))
            .await
            .unwrap();
    }
    tamper(
        &store,
        "DELETE FROM eventcore_events WHERE stream_version = 2",
    )
    .await;
    match repo.load("gap").await {
        Err(RepositoryError::Store(StoreError::Corrupt {
            stream, version, ..
        })) => {
            assert_eq!(stream, Counter::stream_id("gap").unwrap().as_str());
            assert_eq!(version, 3, "the first version out of sequence");
        }
        other => panic!("expected Corrupt, got {:?}", other.map(|l| l.version)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_cancelled_midway_occur_and_poison_their_transactions() {
    let path = std::env::temp_dir().join(format!("eventcore-cancel-{}.db", uuid::Uuid::new_v4()));
    let store = SqliteEventStore::open(&path).await.unwrap();
    let backend = eventcore::testing::conformance::Backend::new(
        store.clone(),
        std::sync::Arc::new(store.snapshots()),
    );
    let cancelled =
        eventcore::testing::conformance::a_cancelled_append_poisons_its_transaction_and_stores_nothing(
            &backend,
        )
        .await;
    assert!(
        cancelled > 0,
        "some appends were dropped midway (the case under test)"
    );
    drop((backend, store));
    let _ = std::fs::remove_file(&path);
}
