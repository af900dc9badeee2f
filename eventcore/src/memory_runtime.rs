//! Runtime records of the in-memory backend (checkpoints, dead letters) and its transaction.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;

use crate::error::StoreError;
use crate::memory::InMemoryEventStore;
use crate::transaction::{DeadLetter, StoreTransaction, TransactionalStore};

/// What the in-memory backend keeps beside its log.
#[derive(Debug, Default)]
pub(crate) struct MemoryRuntime {
    checkpoints: HashMap<String, u64>,
    /// Per consumer, by position.
    dead_letters: HashMap<String, BTreeMap<u64, DeadLetter>>,
}

impl MemoryRuntime {
    fn merge(&mut self, pending: MemoryRuntime) {
        self.checkpoints.extend(pending.checkpoints);
        for (consumer, letters) in pending.dead_letters {
            self.dead_letters
                .entry(consumer)
                .or_default()
                .extend(letters);
        }
    }
}

/// A transaction of [`InMemoryEventStore`]: its writes are buffered and applied together, under
/// one lock, on commit; dropping it discards them.
#[derive(Debug)]
pub struct InMemoryTransaction {
    store: InMemoryEventStore,
    pending: MemoryRuntime,
}

#[async_trait]
impl StoreTransaction for InMemoryTransaction {
    async fn checkpoint(&mut self, name: &str) -> Result<Option<u64>, StoreError> {
        if let Some(&position) = self.pending.checkpoints.get(name) {
            return Ok(Some(position));
        }
        Ok(self.store.runtime().checkpoints.get(name).copied())
    }

    async fn save_checkpoint(&mut self, name: &str, position: u64) -> Result<(), StoreError> {
        self.pending.checkpoints.insert(name.to_owned(), position);
        Ok(())
    }

    async fn record_dead_letter(&mut self, letter: &DeadLetter) -> Result<(), StoreError> {
        self.pending
            .dead_letters
            .entry(letter.consumer.clone())
            .or_default()
            .insert(letter.position, letter.clone());
        Ok(())
    }

    async fn commit(self) -> Result<(), StoreError> {
        self.store.runtime().merge(self.pending);
        Ok(())
    }
}

#[async_trait]
impl TransactionalStore for InMemoryEventStore {
    type Transaction = InMemoryTransaction;

    async fn begin_transaction(&self) -> Result<InMemoryTransaction, StoreError> {
        Ok(InMemoryTransaction {
            store: self.clone(),
            pending: MemoryRuntime::default(),
        })
    }

    async fn load_checkpoint(&self, name: &str) -> Result<Option<u64>, StoreError> {
        Ok(self.runtime().checkpoints.get(name).copied())
    }

    async fn dead_letters(
        &self,
        consumer: &str,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, StoreError> {
        Ok(self
            .runtime()
            .dead_letters
            .get(consumer)
            .map(|letters| letters.values().take(limit).cloned().collect())
            .unwrap_or_default())
    }

    async fn count_events_through(&self, position: u64) -> Result<u64, StoreError> {
        // Positions are dense here: event `i` has position `i`.
        Ok(position.min(self.head_position_now()))
    }
}
