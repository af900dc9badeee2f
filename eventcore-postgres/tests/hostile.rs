//! PostgreSQL-specific breaks found by adversarial testing: tampered rows, gaps, deadlocks
//! inside callers' transactions, and a transaction whose first write is an `Any` append.

mod common;

use std::time::Duration;

use eventcore::testing::conformance::{numbered as event, wait_until_visible};
use eventcore::testing::counter::{Counter, CounterCommand};
use eventcore::{
    AbortReason, Aggregate, AppendRequest, EventAppender, EventReader, ExpectedVersion, Repository,
    RepositoryError, StoreError, StreamId,
};
use eventcore_postgres::PgEventStore;

fn stream(name: &str) -> StreamId {
    StreamId::new(name).unwrap()
}

fn one(stream: &StreamId, n: u64) -> AppendRequest {
    AppendRequest::single(stream.clone(), ExpectedVersion::Any, vec![event(n)])
}

/// The seed of `store`'s stream-lock keys: its schema's gate (FNV-1a of the schema's name, 31
/// bits), so that one stream name in two schemas has two locks.
fn lock_seed(store: &PgEventStore) -> i32 {
    let hash = store
        .schema()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    (hash & 0x7fff_ffff) as i32
}

#[tokio::test]
async fn one_stream_name_in_two_schemas_has_two_locks() {
    let (a, b) = (common::fresh_store(2).await, common::fresh_store(2).await);
    let s = stream("inventory-main");
    // A transaction of schema A appends to the stream and holds its lock until it ends.
    let mut holder = a.begin().await.unwrap();
    holder.append(one(&s, 1)).await.unwrap();
    // The same stream name in schema B (a mirror of A's, say) does not wait for it.
    let appended = tokio::time::timeout(Duration::from_secs(10), b.append(one(&s, 1))).await;
    assert!(
        matches!(appended, Ok(Ok(_))),
        "schema B's append went in while schema A's transaction held its stream: {appended:?}"
    );
    holder.commit().await.unwrap();
    assert_eq!(a.stream_version(&s).await.unwrap(), 1);
    assert_eq!(b.stream_version(&s).await.unwrap(), 1);
}

fn events_table(store: &PgEventStore) -> String {
    format!("\"{}\".eventcore_events", store.schema())
}

#[tokio::test]
async fn recorded_at_outside_what_the_library_writes_is_corrupt() {
    for (what, value) in [
        ("infinity", "'infinity'"),
        ("minus infinity", "'-infinity'"),
        ("far future", "TIMESTAMPTZ '294000-01-01 00:00:00+00'"),
    ] {
        let store = common::fresh_store(2).await;
        let s = stream("when");
        let recorded = store
            .append(AppendRequest::single(
                s.clone(),
                ExpectedVersion::NoStream,
                vec![event(1), event(2)],
            ))
            .await
            .unwrap();
        wait_until_visible(&store, recorded[1].global_position).await;
        sqlx::query(&format!(
            "UPDATE {} SET recorded_at = {value} WHERE stream_version = 2",
            events_table(&store)
        ))
        .execute(store.pool())
        .await
        .unwrap();
        let position = store.read_stream(&s, 1, 1).await.unwrap()[0].global_position;
        for result in [
            store.read_stream(&s, 1, 10).await,
            store.read_all(position, 10).await,
        ] {
            match result {
                Err(StoreError::Corrupt {
                    stream, version, ..
                }) => assert_eq!((stream.as_str(), version), ("when", 2), "{what}"),
                other => panic!("{what}: expected Corrupt, got {other:?}"),
            }
        }
    }
}

#[tokio::test]
async fn a_stream_with_a_gap_in_its_versions_is_corrupt_on_load() {
    let store = common::fresh_store(2).await;
    let repo = Repository::<Counter>::new(store.clone());
    for amount in [1, 2, 3] {
        repo.execute(CounterCommand::add("gap", amount))
            .await
            .unwrap();
    }
    sqlx::query(&format!(
        "DELETE FROM {} WHERE stream_version = 2",
        events_table(&store)
    ))
    .execute(store.pool())
    .await
    .unwrap();
    match repo.load("gap").await {
        Err(RepositoryError::Store(StoreError::Corrupt {
            stream, version, ..
        })) => {
            assert_eq!(stream, Counter::stream_id("gap").unwrap().as_str());
            assert_eq!(version, 3);
        }
        other => panic!("expected Corrupt, got {:?}", other.map(|l| l.version)),
    }
}

/// Appends `then` inside `tx` and commits; on an error, checks that the commit refuses too
/// (rolling the transaction back, which releases its locks) and returns the error.
async fn append_then_commit(
    mut tx: eventcore_postgres::PgTransaction,
    then: AppendRequest,
) -> Result<(), StoreError> {
    match tx.append(then).await {
        Ok(_) => tx.commit().await,
        Err(error) => {
            let commit = tx.commit().await;
            assert!(
                matches!(commit, Err(StoreError::TransactionAborted { .. })),
                "an aborted transaction refuses to commit, got {commit:?} after {error:?}"
            );
            Err(error)
        }
    }
}

#[tokio::test]
async fn a_deadlock_inside_a_callers_transaction_fails_fast_with_a_retryable_error() {
    let store = common::fresh_store(4).await;
    let (a, b) = (stream("deadlock-a"), stream("deadlock-b"));
    let mut first = store.begin().await.unwrap();
    let mut second = store.begin().await.unwrap();
    first.append(one(&a, 1)).await.unwrap();
    second.append(one(&b, 2)).await.unwrap();
    // Each now appends to the stream the other holds: a deadlock the server breaks by
    // failing one of them (after its deadlock_timeout, 1 s by default).
    let both = async {
        tokio::join!(
            append_then_commit(first, one(&b, 3)),
            append_then_commit(second, one(&a, 4)),
        )
    };
    let (r1, r2) = tokio::time::timeout(Duration::from_secs(30), both)
        .await
        .expect("the deadlock victim fails fast instead of retrying inside its transaction");
    let (won, lost) = match (r1, r2) {
        (Ok(()), Err(lost)) => ((&a, &b), lost),
        (Err(lost), Ok(())) => ((&b, &a), lost),
        other => panic!("expected one winner and one deadlock victim, got {other:?}"),
    };
    assert!(
        matches!(
            lost,
            StoreError::TransactionAborted {
                reason: AbortReason::Deadlock
            }
        ),
        "the victim is told to retry its whole transaction, got {lost:?}"
    );
    assert!(lost.is_transient());
    // The winner's two events are stored; nothing of the victim's transaction is.
    assert_eq!(store.stream_version(won.0).await.unwrap(), 1);
    assert_eq!(store.stream_version(won.1).await.unwrap(), 1);
}

#[tokio::test]
async fn an_any_append_as_a_transactions_first_write_never_falls_behind_a_writer_it_waited_for() {
    let store = common::fresh_store(4).await;
    let s = stream("any-first");
    // Another transaction holds the stream's lock without having written yet.
    let mut holder = store.begin().await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('eventcore:' || $1, $2))")
        .bind(s.as_str())
        .bind(lock_seed(&store))
        .execute(holder.connection())
        .await
        .unwrap();
    let waiter = tokio::spawn({
        let (store, s) = (store.clone(), s.clone());
        async move {
            let tx = store.begin().await.unwrap();
            append_then_commit(tx, one(&s, 1)).await
        }
    });
    // Wait until the waiter's append is blocked on the stream's lock.
    let waiting = format!(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'advisory' AND query LIKE '%{}%'",
        store.schema()
    );
    let mut seen_waiting = false;
    for _ in 0..400 {
        let n: i64 = sqlx::query_scalar(&waiting)
            .fetch_one(store.pool())
            .await
            .unwrap();
        if n > 0 {
            seen_waiting = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(
        seen_waiting,
        "the waiter's append waits for the stream's lock"
    );
    // The holder writes now (its transaction id is newer than any the waiter took so far)
    // and commits first.
    holder.append(one(&s, 2)).await.unwrap();
    holder.commit().await.unwrap();
    waiter
        .await
        .unwrap()
        .expect("the waiting Any append goes in after the holder's");
    let versions: Vec<u64> = store
        .read_stream(&s, 1, 10)
        .await
        .unwrap()
        .iter()
        .map(|e| eventcore::testing::conformance::number_of(&e.payload))
        .collect();
    assert_eq!(
        versions,
        [2, 1],
        "the holder's event first, then the waiter's"
    );
}

#[tokio::test]
async fn a_failed_statement_of_the_callers_makes_commit_report_the_aborted_transaction() {
    let store = common::fresh_store(2).await;
    let s = stream("failed-sql");
    let mut tx = store.begin().await.unwrap();
    tx.append(one(&s, 1)).await.unwrap();
    // The caller's own statement fails (and the caller carries on, as with a caught error).
    let failed = sqlx::query("SELECT 1 / 0").execute(tx.connection()).await;
    assert!(failed.is_err());
    let commit = tx.commit().await;
    assert!(
        matches!(
            commit,
            Err(StoreError::TransactionAborted {
                reason: AbortReason::StatementFailed
            })
        ),
        "commit must not seem to succeed: {commit:?}"
    );
    assert_eq!(store.stream_version(&s).await.unwrap(), 0, "nothing stored");
}

#[tokio::test]
async fn appends_cancelled_midway_occur_and_poison_their_transactions() {
    let backend = eventcore::testing::conformance::Backend::new(
        common::fresh_store(4).await,
        std::sync::Arc::new(eventcore_postgres::PgSnapshotStore::new(
            common::fresh_store(1).await,
        )),
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
}
