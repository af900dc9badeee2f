//! Commands executed inside a caller's transaction: their events commit with its other writes.

use crate::testing::counter::{Counter, CounterCommand, CounterError};
use crate::{
    EventId, EventStore, Metadata, Repository, RepositoryError, StoreTransaction,
    TransactionalStore,
};

use super::Backend;

/// `Repository::execute_in`: commands on one instance in one transaction build on each other
/// and commit with its other writes (an inbox record); a rolled-back transaction leaves
/// nothing; a re-sent command returns its first outcome; a refused one writes nothing and the
/// transaction goes on.
pub async fn commands_execute_inside_a_transaction_with_its_other_writes<S>(backend: &Backend<S>)
where
    S: EventStore + TransactionalStore + Clone + 'static,
{
    let store = &backend.events;
    let repo = Repository::<Counter>::new(store.clone());
    let id = format!("in-tx-{}", uuid::Uuid::new_v4());
    let consumer = format!("consumer-{id}");
    let add = CounterCommand::add(&id, 5);

    // Rolled back: nothing of it stays.
    let mut tx = store.begin().await.expect("begin");
    repo.execute_in(&mut tx, add.clone(), Metadata::default())
        .await
        .expect("executes");
    drop(tx);
    assert_eq!(repo.load(&id).await.unwrap().version, 0, "rolled back");

    let message = EventId::new_random();
    let mut tx = store.begin().await.expect("begin");
    assert!(tx.record_processed(&consumer, message).await.unwrap());
    let first = repo
        .execute_in(&mut tx, add.clone(), Metadata::default())
        .await
        .expect("executes");
    let second = repo
        .execute_in(
            &mut tx,
            CounterCommand::subtract(&id, 3),
            Metadata::default(),
        )
        .await
        .expect("sees the first command's uncommitted event");
    assert_eq!((first[0].stream_version, second[0].stream_version), (1, 2));
    let refused = repo
        .execute_in(
            &mut tx,
            CounterCommand::subtract(&id, 10),
            Metadata::default(),
        )
        .await;
    assert!(
        matches!(
            refused,
            Err(RepositoryError::Domain(CounterError::WouldGoNegative {
                total: 2,
                ..
            }))
        ),
        "refused on the transaction's state: {refused:?}"
    );
    tx.commit().await.expect("commits everything together");
    let loaded = repo.load(&id).await.unwrap();
    assert_eq!((loaded.state.total, loaded.version), (2, 2));

    // The same message again: the inbox says so; the same command again: its first outcome.
    let mut tx = store.begin().await.expect("begin");
    assert!(!tx.record_processed(&consumer, message).await.unwrap());
    let again = repo
        .execute_in(&mut tx, add, Metadata::default())
        .await
        .expect("the first outcome");
    assert_eq!(again[0].event_id, first[0].event_id);
    tx.commit().await.unwrap();
    assert_eq!(
        repo.load(&id).await.unwrap().version,
        2,
        "nothing applied twice"
    );
}

/// A transaction that runs commands while a plain command on the same instance waits for
/// what the transaction holds (SQLite's writer, PostgreSQL's stream lock) never deadlocks with
/// it: `execute_in` does not wait for the in-process lock the plain command holds.
pub async fn commands_in_a_transaction_and_a_plain_command_on_one_instance_do_not_deadlock<S>(
    backend: &Backend<S>,
) where
    S: EventStore + TransactionalStore + Clone + 'static,
{
    let store = backend.events.clone();
    let repo = Repository::<Counter>::new(store.clone());
    let id = format!("no-deadlock-{}", uuid::Uuid::new_v4());
    let run = async {
        let mut tx = store.begin().await.expect("begin");
        repo.execute_in(&mut tx, CounterCommand::add(&id, 1), Metadata::default())
            .await
            .expect("first in the transaction");
        let plain = tokio::spawn({
            let (repo, id) = (repo.clone(), id.clone());
            async move { repo.execute(CounterCommand::add(&id, 2)).await }
        });
        // Let the plain command take the instance's lock and wait for the store.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        repo.execute_in(&mut tx, CounterCommand::add(&id, 3), Metadata::default())
            .await
            .expect("second in the transaction, past the waiting plain command");
        tx.commit().await.expect("commit");
        plain
            .await
            .expect("task")
            .expect("the plain command goes in after");
    };
    tokio::time::timeout(std::time::Duration::from_secs(60), run)
        .await
        .expect("no deadlock");
    let loaded = repo.load(&id).await.unwrap();
    assert_eq!((loaded.state.total, loaded.version), (6, 3));
}

/// A long stream commanded through `execute_in` in one transaction after another: the state
/// carried between transactions is what committed (a rolled-back transaction's appends never
/// count, later appends by another repository do), and `after_commit` callbacks run on commit
/// only.
pub async fn a_long_stream_keeps_its_committed_state_between_transactions_and_never_an_uncommitted_one<
    S,
>(
    backend: &Backend<S>,
) where
    S: EventStore + TransactionalStore + Clone + 'static,
{
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let store = &backend.events;
    let repo = Repository::<Counter>::new(store.clone());
    let id = format!("long-in-tx-{}", uuid::Uuid::new_v4());
    let ran = Arc::new(AtomicUsize::new(0));
    let count = |ran: &Arc<AtomicUsize>| {
        let ran = ran.clone();
        Box::new(move || {
            ran.fetch_add(1, Ordering::SeqCst);
        })
    };

    let mut tx = store.begin().await.expect("begin");
    for _ in 0..100 {
        repo.execute_in(&mut tx, CounterCommand::add(&id, 1), Metadata::default())
            .await
            .expect("executes");
    }
    tx.after_commit(count(&ran));
    tx.after_commit(count(&ran));
    assert_eq!(ran.load(Ordering::SeqCst), 0, "not before the commit");
    tx.commit().await.expect("commit");
    assert_eq!(
        ran.load(Ordering::SeqCst),
        2,
        "each callback once the commit returned"
    );

    // Another repository (another process, as far as this one knows) appends meanwhile: the
    // next command folds that on top of what it carried over.
    Repository::<Counter>::new(store.clone())
        .execute(CounterCommand::add(&id, 5))
        .await
        .expect("plain command");
    let mut tx = store.begin().await.expect("begin");
    let refused = repo
        .execute_in(
            &mut tx,
            CounterCommand::subtract(&id, 106),
            Metadata::default(),
        )
        .await;
    assert!(
        matches!(
            refused,
            Err(RepositoryError::Domain(CounterError::WouldGoNegative {
                total: 105,
                ..
            }))
        ),
        "decided on the committed state, 105: {refused:?}"
    );
    let done = repo
        .execute_in(
            &mut tx,
            CounterCommand::subtract(&id, 105),
            Metadata::default(),
        )
        .await
        .expect("the whole committed total");
    assert_eq!(done[0].stream_version, 102);
    tx.commit().await.expect("commit");

    // Rolled back: its state must not be the next transaction's.
    let mut tx = store.begin().await.expect("begin");
    repo.execute_in(
        &mut tx,
        CounterCommand::add(&id, 1_000),
        Metadata::default(),
    )
    .await
    .expect("executes");
    tx.after_commit(count(&ran));
    drop(tx);
    assert_eq!(
        ran.load(Ordering::SeqCst),
        2,
        "never for a dropped transaction"
    );
    let mut tx = store.begin().await.expect("begin");
    let refused = repo
        .execute_in(
            &mut tx,
            CounterCommand::subtract(&id, 1),
            Metadata::default(),
        )
        .await;
    assert!(
        matches!(
            refused,
            Err(RepositoryError::Domain(CounterError::WouldGoNegative {
                total: 0,
                ..
            }))
        ),
        "the rolled-back add is not carried over: {refused:?}"
    );
    drop(tx);
    let loaded = repo.load(&id).await.unwrap();
    assert_eq!((loaded.state.total, loaded.version), (0, 102));
}
