//! A hot aggregate's state stays cached between commands: not read again, yet re-sent commands
//! still get their first outcome and other writers' appends are noticed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;

use super::super::*;
use crate::testing::counter::{Counter, CounterCommand};
use crate::{CommandId, CommandRead, EventAppender, EventReader, InMemoryEventStore};

/// An in-memory store that counts the command reads.
#[derive(Clone, Default)]
struct CountingReads {
    inner: InMemoryEventStore,
    reads: Arc<AtomicUsize>,
}

#[async_trait]
impl EventReader for CountingReads {
    async fn read_stream(
        &self,
        s: &StreamId,
        v: u64,
        n: usize,
    ) -> std::result::Result<Vec<RecordedEvent>, StoreError> {
        self.inner.read_stream(s, v, n).await
    }
    async fn read_all(
        &self,
        p: u64,
        n: usize,
    ) -> std::result::Result<Vec<RecordedEvent>, StoreError> {
        self.inner.read_all(p, n).await
    }
    async fn stream_version(&self, s: &StreamId) -> std::result::Result<u64, StoreError> {
        self.inner.stream_version(s).await
    }
    async fn event_by_id(
        &self,
        id: EventId,
    ) -> std::result::Result<Option<RecordedEvent>, StoreError> {
        self.inner.event_by_id(id).await
    }
    async fn read_for_command(
        &self,
        stream: &StreamId,
        from_version: u64,
        probe: Option<EventId>,
    ) -> std::result::Result<CommandRead, StoreError> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.inner
            .read_for_command(stream, from_version, probe)
            .await
    }
    async fn head_position(&self) -> std::result::Result<u64, StoreError> {
        self.inner.head_position().await
    }
    fn head_watch(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.head_watch()
    }
}

#[async_trait]
impl EventAppender for CountingReads {
    async fn append(
        &self,
        request: AppendRequest,
    ) -> std::result::Result<Vec<RecordedEvent>, StoreError> {
        self.inner.append(request).await
    }
}

/// A repository over a counting store, and the lock of counter `id` held alive as commands
/// queued behind one another would hold it.
fn hot(id: &str) -> (Repository<Counter>, CountingReads, locks::InstanceLock) {
    let store = CountingReads::default();
    let repo = Repository::<Counter>::new(store.clone());
    let lock = repo.locks.lock_for(&Counter::stream_id(id).unwrap());
    (repo, store, lock)
}

#[tokio::test]
async fn a_hot_aggregate_is_read_once_for_many_commands() {
    let (repo, store, _hot) = hot("cached-1");
    for _ in 0..10 {
        repo.execute(CounterCommand::add("cached-1", 1))
            .await
            .unwrap();
    }
    assert_eq!(
        store.reads.load(Ordering::Relaxed),
        1,
        "loaded once, then cached"
    );
    let loaded = repo.load("cached-1").await.unwrap();
    assert_eq!((loaded.state.total, loaded.version), (10, 10));
}

#[tokio::test]
async fn a_resent_command_gets_its_first_outcome_even_where_the_cached_state_would_reject_it() {
    let (repo, _, _hot) = hot("cached-2");
    repo.execute(CounterCommand::add("cached-2", 5))
        .await
        .unwrap();
    let subtract = CounterCommand::subtract("cached-2", 5);
    let first = repo.execute(subtract.clone()).await.unwrap();
    // Now at 0, subtracting 5 again would be refused; the re-sent command is not handled
    // again but answered with what it did.
    let again = repo.execute(subtract).await.expect("the first outcome");
    assert_eq!(again[0].event_id, first[0].event_id);
    let resent_add = CounterCommand::add("cached-2", 7).with_id(CommandId::new_random());
    let added = repo.execute(resent_add.clone()).await.unwrap();
    let added_again = repo.execute(resent_add).await.expect("the first outcome");
    assert_eq!(added_again[0].event_id, added[0].event_id);
    let loaded = repo.load("cached-2").await.unwrap();
    assert_eq!(
        (loaded.state.total, loaded.version),
        (7, 3),
        "nothing applied twice"
    );
}

#[tokio::test]
async fn an_append_by_another_writer_is_noticed_and_the_state_reloaded() {
    let (repo, store, _hot) = hot("cached-3");
    repo.execute(CounterCommand::add("cached-3", 1))
        .await
        .unwrap();
    // Another process appends behind this repository's cached state.
    let other = Repository::<Counter>::new(store.clone()).with_own_locks();
    other
        .execute(CounterCommand::add("cached-3", 10))
        .await
        .unwrap();
    repo.execute(CounterCommand::subtract("cached-3", 11))
        .await
        .expect("decided on the reloaded state, not the cached 1");
    let loaded = repo.load("cached-3").await.unwrap();
    assert_eq!((loaded.state.total, loaded.version), (0, 3));
}

#[tokio::test]
async fn a_stale_cached_state_is_reread_in_the_same_attempt() {
    let (repo, store, _hot) = hot("cached-4");
    let repo = repo.with_retry(RetryPolicy {
        max_attempts: 1,
        ..RetryPolicy::default()
    });
    repo.execute(CounterCommand::add("cached-4", 1))
        .await
        .unwrap();
    let other = Repository::<Counter>::new(store.clone()).with_own_locks();
    other
        .execute(CounterCommand::add("cached-4", 1))
        .await
        .unwrap();
    // With one attempt allowed, the stale cache must not cost it: the conflict it causes is
    // not contention, and the fresh read belongs to the same attempt.
    repo.execute(CounterCommand::add("cached-4", 1))
        .await
        .expect("no retry needed for a stale cache");
    let loaded = repo.load("cached-4").await.unwrap();
    assert_eq!((loaded.state.total, loaded.version), (3, 3));
}
