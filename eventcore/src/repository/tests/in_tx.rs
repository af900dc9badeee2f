//! Commands on one stream in one transaction start from the state the previous one left
//! ([`StoreTransaction::own_states`]) instead of reading the stream whole again.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;

use super::super::*;
use crate::testing::counter::{Counter, CounterCommand, CounterError};
use crate::{
    CommandRead, InMemoryEventStore, InMemoryTransaction, StoreTransaction, TransactionStates,
    TransactionalStore,
};
use std::result::Result;

/// A memory transaction that counts the events its command reads return, and hands out its
/// own states only if `keeps_states`.
struct CountingTx {
    inner: InMemoryTransaction,
    events_read: Arc<AtomicUsize>,
    keeps_states: bool,
}

#[async_trait]
impl StoreTransaction for CountingTx {
    async fn append(&mut self, request: AppendRequest) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner.append(request).await
    }
    async fn read_stream(
        &mut self,
        stream: &StreamId,
        from_version: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner
            .read_stream(stream, from_version, max_count)
            .await
    }
    async fn read_for_command(
        &mut self,
        stream: &StreamId,
        from_version: u64,
        probe: Option<EventId>,
    ) -> Result<CommandRead, StoreError> {
        let read = self
            .inner
            .read_for_command(stream, from_version, probe)
            .await?;
        self.events_read
            .fetch_add(read.events.len(), Ordering::SeqCst);
        Ok(read)
    }
    async fn checkpoint(&mut self, name: &str) -> Result<Option<u64>, StoreError> {
        self.inner.checkpoint(name).await
    }
    async fn save_checkpoint(&mut self, name: &str, position: u64) -> Result<(), StoreError> {
        self.inner.save_checkpoint(name, position).await
    }
    async fn record_processed(
        &mut self,
        consumer: &str,
        event_id: EventId,
    ) -> Result<bool, StoreError> {
        self.inner.record_processed(consumer, event_id).await
    }
    fn after_commit(&mut self, callback: Box<dyn FnOnce() + Send>) {
        self.inner.after_commit(callback);
    }
    fn own_states(&mut self) -> Option<&mut TransactionStates> {
        if self.keeps_states {
            self.inner.own_states()
        } else {
            None
        }
    }
    async fn commit(self) -> Result<(), StoreError> {
        self.inner.commit().await
    }
}

/// Runs `n` commands on one counter in one transaction; the events the command reads returned,
/// and the counter's committed total and version.
async fn one_transaction(n: u64, keeps_states: bool) -> (usize, u64, u64) {
    let store = InMemoryEventStore::new();
    let repo = Repository::<Counter>::new(store.clone());
    let events_read = Arc::new(AtomicUsize::new(0));
    let mut tx = CountingTx {
        inner: store.begin().await.unwrap(),
        events_read: events_read.clone(),
        keeps_states,
    };
    for _ in 0..n {
        repo.execute_in(&mut tx, CounterCommand::add("c", 1), Metadata::default())
            .await
            .unwrap();
    }
    // Refused on the state carried along (total n), not on a stale one.
    let refused = repo
        .execute_in(
            &mut tx,
            CounterCommand::subtract("c", n + 1),
            Metadata::default(),
        )
        .await;
    assert!(
        matches!(refused, Err(RepositoryError::Domain(CounterError::WouldGoNegative { total, .. })) if total == n),
        "{refused:?}"
    );
    tx.commit().await.unwrap();
    let loaded = repo.load("c").await.unwrap();
    (
        events_read.load(Ordering::SeqCst),
        loaded.state.total,
        loaded.version,
    )
}

#[tokio::test]
async fn commands_on_one_stream_in_one_transaction_read_it_whole_at_most_once() {
    let n = 100;
    let (read, total, version) = one_transaction(n, true).await;
    assert_eq!((total, version), (n, n));
    assert_eq!(
        read, 0,
        "each command starts from the state the last one left"
    );

    // Without the transaction's states each command reads what the earlier ones appended.
    let (read, total, version) = one_transaction(n, false).await;
    assert_eq!((total, version), (n, n));
    assert_eq!(read as u64, n * (n + 1) / 2);
}

#[tokio::test]
async fn the_state_a_transaction_left_is_kept_once_it_committed_and_never_if_it_rolled_back() {
    let store = InMemoryEventStore::new();
    let repo = Repository::<Counter>::new(store.clone());
    let events_read = Arc::new(AtomicUsize::new(0));
    let begin = |store: &InMemoryEventStore, events_read: &Arc<AtomicUsize>| {
        let (store, events_read) = (store.clone(), events_read.clone());
        async move {
            CountingTx {
                inner: store.begin().await.unwrap(),
                events_read,
                keeps_states: true,
            }
        }
    };
    let long = committed::KEEP_FROM_VERSION + 10;
    let mut tx = begin(&store, &events_read).await;
    for _ in 0..long {
        repo.execute_in(&mut tx, CounterCommand::add("c", 1), Metadata::default())
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();

    // The next transaction starts from the committed state: nothing read.
    let mut tx = begin(&store, &events_read).await;
    repo.execute_in(&mut tx, CounterCommand::add("c", 1000), Metadata::default())
        .await
        .unwrap();
    assert_eq!(events_read.load(Ordering::SeqCst), 0);
    drop(tx); // rolled back

    // Its add must not count: the state it left was never committed.
    let mut tx = begin(&store, &events_read).await;
    let refused = repo
        .execute_in(
            &mut tx,
            CounterCommand::subtract("c", long + 1),
            Metadata::default(),
        )
        .await;
    assert!(
        matches!(refused, Err(RepositoryError::Domain(CounterError::WouldGoNegative { total, .. })) if total == long),
        "{refused:?}"
    );
}
