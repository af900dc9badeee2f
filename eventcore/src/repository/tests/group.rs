//! Group commit: commands queued behind a hot instance's lock go in as one append, each caller
//! getting its own result; anything unusual in the group runs one by one.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::super::*;
use super::Hooked;
use crate::testing::counter::{Counter, CounterCommand, CounterError};
use crate::{EventAppender, InMemoryEventStore};

/// A repository over a store that counts appends, and the lock of counter `id`.
fn counting(id: &str) -> (Repository<Counter>, Arc<AtomicU32>, locks::InstanceLock) {
    let appends = Arc::new(AtomicU32::new(0));
    let counted = appends.clone();
    let store = Hooked(
        InMemoryEventStore::new(),
        Box::new(move |inner, request| {
            counted.fetch_add(1, Ordering::Relaxed);
            Box::pin(async move { inner.append(request).await })
        }),
    );
    let repo = Repository::<Counter>::new(store);
    let lock = repo.locks.lock_for(&Counter::stream_id(id).unwrap());
    (repo, appends, lock)
}

/// Sends `commands` while the stream's lock is held, waits until all are queued, then lets
/// them go; the callers' results, in sending order.
async fn queued_behind_the_lock(
    repo: &Repository<Counter>,
    lock: &locks::InstanceLock,
    commands: Vec<CounterCommand>,
) -> Vec<
    std::result::Result<
        Vec<Envelope<crate::testing::counter::CounterEvent>>,
        RepositoryError<CounterError>,
    >,
> {
    let held = lock.slot.clone().lock_owned().await;
    let n = commands.len();
    let tasks: Vec<_> = commands
        .into_iter()
        .map(|command| {
            let repo = repo.clone();
            tokio::spawn(async move { repo.execute(command).await })
        })
        .collect();
    for _ in 0..1000 {
        if lock.queued() == n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(lock.queued(), n, "every command waits in the queue");
    drop(held);
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    results
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_commands_are_committed_as_one_append_and_each_caller_gets_its_own_events() {
    let (repo, appends, lock) = counting("group-1");
    let commands: Vec<_> = (1..=10)
        .map(|n| CounterCommand::add("group-1", n))
        .collect();
    let results = queued_behind_the_lock(&repo, &lock, commands).await;
    assert_eq!(
        appends.load(Ordering::Relaxed),
        1,
        "one append for the group"
    );
    let mut versions = Vec::new();
    for (n, result) in (1..=10).zip(results) {
        let events = result.expect("committed");
        assert_eq!(events.len(), 1);
        assert_eq!(
            events[0].event,
            crate::testing::counter::CounterEvent::Added { amount: n },
            "the caller's own event"
        );
        versions.push(events[0].stream_version);
    }
    versions.sort_unstable();
    assert_eq!(versions, (1..=10).collect::<Vec<_>>());
    let loaded = repo.load("group-1").await.unwrap();
    assert_eq!((loaded.state.total, loaded.version), (55, 10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_command_in_a_group_affects_only_itself() {
    let (repo, _, lock) = counting("group-2");
    let commands = vec![
        CounterCommand::add("group-2", 5),
        CounterCommand::subtract("group-2", 50),
        CounterCommand::add("group-2", 1),
    ];
    let results = queued_behind_the_lock(&repo, &lock, commands).await;
    assert!(results[0].is_ok() && results[2].is_ok());
    assert!(
        matches!(
            results[1],
            Err(RepositoryError::Domain(
                CounterError::WouldGoNegative { .. }
            ))
        ),
        "{:?}",
        results[1]
    );
    let loaded = repo.load("group-2").await.unwrap();
    assert_eq!((loaded.state.total, loaded.version), (6, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_sent_twice_into_one_group_takes_effect_once() {
    let (repo, _, lock) = counting("group-3");
    let add = CounterCommand::add("group-3", 7);
    let commands = vec![add.clone(), CounterCommand::add("group-3", 1), add];
    let results = queued_behind_the_lock(&repo, &lock, commands).await;
    let first = results[0].as_ref().expect("committed");
    let again = results[2].as_ref().expect("the first outcome");
    assert_eq!(first[0].event_id, again[0].event_id);
    let loaded = repo.load("group-3").await.unwrap();
    assert_eq!((loaded.state.total, loaded.version), (8, 2));
}
