//! Runtime records of the in-memory backend (checkpoints, dead letters, sagas, deadlines,
//! inbox) and its transaction.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::SystemTime;

use async_trait::async_trait;

use crate::durable::{DeadlineRecord, RuntimeCounts, SagaRecord};
use crate::error::StoreError;
use crate::event::RecordedEvent;
use crate::id::EventId;
use crate::memory::InMemoryEventStore;
use crate::store::{AppendRequest, EventReader};
use crate::transaction::{
    DeadLetter, RuntimeStore, RuntimeTransaction, StoreTransaction, TransactionalStore,
};

type SagaKey = (String, String);

/// What the in-memory backend keeps beside its log.
#[derive(Debug, Default)]
pub(crate) struct MemoryRuntime {
    checkpoints: HashMap<String, u64>,
    /// Per consumer, by position.
    dead_letters: HashMap<String, BTreeMap<u64, DeadLetter>>,
    sagas: HashMap<SagaKey, SagaRecord>,
    deadlines: HashMap<String, DeadlineRecord>,
    inbox: HashSet<(String, EventId)>,
}

/// A transaction's writes, applied on commit if what they were based on still holds.
#[derive(Debug, Default)]
struct Pending {
    checkpoints: HashMap<String, u64>,
    /// Checkpoints read, with the committed value seen: the commit fails if one moved.
    read_checkpoints: HashMap<String, Option<u64>>,
    dead_letters: Vec<DeadLetter>,
    /// New records, with the committed version each save was based on.
    sagas: HashMap<SagaKey, (SagaRecord, u64)>,
    /// `None`: cancelled (the committed deadline must still exist at commit).
    deadlines: HashMap<String, Option<DeadlineRecord>>,
    inbox: HashSet<(String, EventId)>,
}

impl MemoryRuntime {
    /// Applies `pending` if nothing it was based on changed; otherwise applies nothing.
    fn commit(&mut self, pending: Pending) -> Result<(), StoreError> {
        for (name, seen) in &pending.read_checkpoints {
            if self.checkpoints.get(name) != seen.as_ref() {
                return Err(StoreError::backend(format!(
                    "checkpoint {name} was moved by a concurrent transaction"
                )));
            }
        }
        for ((saga_type, saga_id), (_, based_on)) in &pending.sagas {
            let actual = self
                .sagas
                .get(&(saga_type.clone(), saga_id.clone()))
                .map_or(0, |r| r.version);
            if actual != *based_on {
                return Err(crate::backend::saga_conflict(
                    saga_type, saga_id, *based_on, actual,
                ));
            }
        }
        for (id, change) in &pending.deadlines {
            if change.is_none() && !self.deadlines.contains_key(id) {
                return Err(StoreError::backend(format!(
                    "deadline {id} was cancelled by a concurrent transaction"
                )));
            }
        }
        if let Some((consumer, event_id)) = pending.inbox.iter().find(|k| self.inbox.contains(k)) {
            return Err(StoreError::backend(format!(
                "{consumer} processed {event_id:?} in a concurrent transaction"
            )));
        }
        self.checkpoints.extend(pending.checkpoints);
        for letter in pending.dead_letters {
            self.dead_letters
                .entry(letter.consumer.clone())
                .or_default()
                .insert(letter.position, letter);
        }
        for (key, (record, _)) in pending.sagas {
            self.sagas.insert(key, record);
        }
        for (id, change) in pending.deadlines {
            match change {
                Some(deadline) => self.deadlines.insert(id, deadline),
                None => self.deadlines.remove(&id),
            };
        }
        self.inbox.extend(pending.inbox);
        Ok(())
    }
}

impl InMemoryEventStore {
    /// Up to `limit` committed deadlines that `keep`, earliest first.
    fn deadlines(
        &self,
        keep: impl Fn(&DeadlineRecord) -> bool,
        limit: usize,
    ) -> Vec<DeadlineRecord> {
        let mut found: Vec<_> = self
            .runtime()
            .deadlines
            .values()
            .filter(|d| keep(d))
            .cloned()
            .collect();
        found.sort_by(|a, b| (a.due_at, &a.deadline_id).cmp(&(b.due_at, &b.deadline_id)));
        found.truncate(limit);
        found
    }
}

/// A transaction of [`InMemoryEventStore`]: its writes are buffered and applied together, under
/// one lock, on commit; dropping it discards them.
#[derive(Debug)]
pub struct InMemoryTransaction {
    store: InMemoryEventStore,
    pending: Pending,
    /// Events appended, placed after the log as it is while `writer` is held.
    events: Vec<RecordedEvent>,
    writer: Option<tokio::sync::OwnedMutexGuard<()>>,
    /// Keeps the after-commit callbacks (nothing here can be cancelled midway).
    guard: crate::backend::TxGuard,
}

#[async_trait]
impl StoreTransaction for InMemoryTransaction {
    fn after_commit(&mut self, callback: Box<dyn FnOnce() + Send>) {
        self.guard.after_commit(callback);
    }

    fn own_states(&mut self) -> Option<&mut crate::TransactionStates> {
        Some(self.guard.states())
    }

    async fn append(&mut self, request: AppendRequest) -> Result<Vec<RecordedEvent>, StoreError> {
        request.validate()?;
        if self.writer.is_none() {
            self.writer = Some(self.store.writer().await);
        }
        let recorded = self.store.read().place(&self.events, request)?;
        self.events.extend(recorded.iter().cloned());
        Ok(recorded)
    }

    async fn read_stream(
        &mut self,
        stream: &crate::StreamId,
        from_version: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        if from_version == 0 {
            return Err(crate::InputError::ZeroVersion.into());
        }
        let log = self.store.read();
        let pending = self.events.iter().filter(|e| &e.stream_id == stream);
        Ok(log
            .stream(stream)
            .chain(pending)
            .filter(|e| e.stream_version >= from_version)
            .take(max_count)
            .cloned()
            .collect())
    }

    async fn read_for_command(
        &mut self,
        stream: &crate::StreamId,
        from_version: u64,
        probe: Option<EventId>,
    ) -> Result<crate::CommandRead, StoreError> {
        if from_version == 0 {
            return Err(crate::InputError::ZeroVersion.into());
        }
        let log = self.store.read();
        let committed = log.stream(stream);
        let pending = self.events.iter().filter(|e| &e.stream_id == stream);
        let mut read = crate::CommandRead::default();
        for event in committed.chain(pending) {
            if Some(event.event_id) == probe {
                read.handled_at = Some(event.stream_version);
                read.events.clear();
                return Ok(read);
            }
            if event.stream_version >= from_version {
                read.events.push(crate::FoldEvent::from(event.clone()));
            }
        }
        Ok(read)
    }

    async fn checkpoint(&mut self, name: &str) -> Result<Option<u64>, StoreError> {
        if let Some(&position) = self.pending.checkpoints.get(name) {
            return Ok(Some(position));
        }
        let committed = self.store.runtime().checkpoints.get(name).copied();
        self.pending
            .read_checkpoints
            .entry(name.to_owned())
            .or_insert(committed);
        Ok(committed)
    }

    async fn save_checkpoint(&mut self, name: &str, position: u64) -> Result<(), StoreError> {
        self.pending.checkpoints.insert(name.to_owned(), position);
        Ok(())
    }

    async fn record_processed(
        &mut self,
        consumer: &str,
        event_id: EventId,
    ) -> Result<bool, StoreError> {
        let key = (consumer.to_owned(), event_id);
        if self.pending.inbox.contains(&key) || self.store.runtime().inbox.contains(&key) {
            return Ok(false);
        }
        self.pending.inbox.insert(key);
        Ok(true)
    }

    async fn commit(mut self) -> Result<(), StoreError> {
        {
            let mut log = self.store.write();
            self.store.runtime().commit(self.pending)?;
            if !self.events.is_empty() {
                log.push(self.events);
                self.store.publish(&log);
            }
        }
        self.guard.committed();
        Ok(())
    }
}

#[async_trait]
impl RuntimeTransaction for InMemoryTransaction {
    async fn record_dead_letter(&mut self, letter: &DeadLetter) -> Result<(), StoreError> {
        self.pending.dead_letters.push(letter.clone());
        Ok(())
    }
    async fn saga(
        &mut self,
        saga_type: &str,
        saga_id: &str,
    ) -> Result<Option<SagaRecord>, StoreError> {
        let key = (saga_type.to_owned(), saga_id.to_owned());
        if let Some((record, _)) = self.pending.sagas.get(&key) {
            return Ok(Some(record.clone()));
        }
        Ok(self.store.runtime().sagas.get(&key).cloned())
    }
    async fn save_saga(
        &mut self,
        record: &SagaRecord,
        expected_version: u64,
    ) -> Result<u64, StoreError> {
        let key = (record.saga_type.clone(), record.saga_id.clone());
        let committed = self
            .store
            .runtime()
            .sagas
            .get(&key)
            .map_or(0, |r| r.version);
        let (current, based_on) = match self.pending.sagas.get(&key) {
            Some((pending, based_on)) => (pending.version, *based_on),
            None => (committed, committed),
        };
        if current != expected_version {
            return Err(crate::backend::saga_conflict(
                &key.0,
                &key.1,
                expected_version,
                current,
            ));
        }
        let saved = SagaRecord {
            version: expected_version + 1,
            updated_at: SystemTime::now(),
            ..record.clone()
        };
        self.pending.sagas.insert(key, (saved, based_on));
        Ok(expected_version + 1)
    }
    async fn schedule_deadline(&mut self, deadline: &DeadlineRecord) -> Result<(), StoreError> {
        self.pending
            .deadlines
            .insert(deadline.deadline_id.clone(), Some(deadline.clone()));
        Ok(())
    }
    async fn cancel_deadline(&mut self, deadline_id: &str) -> Result<bool, StoreError> {
        let committed = self.store.runtime().deadlines.contains_key(deadline_id);
        let existed = match self.pending.deadlines.get(deadline_id) {
            Some(change) => change.is_some(),
            None => committed,
        };
        if committed {
            self.pending.deadlines.insert(deadline_id.to_owned(), None);
        } else {
            // Scheduled in this transaction only: forget it.
            self.pending.deadlines.remove(deadline_id);
        }
        Ok(existed)
    }
}

#[async_trait]
impl TransactionalStore for InMemoryEventStore {
    type Transaction = InMemoryTransaction;

    async fn begin(&self) -> Result<InMemoryTransaction, StoreError> {
        Ok(InMemoryTransaction {
            store: self.clone(),
            pending: Pending::default(),
            events: Vec::new(),
            writer: None,
            guard: crate::backend::TxGuard::default(),
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
}

#[async_trait]
impl RuntimeStore for InMemoryEventStore {
    async fn saga(&self, saga_type: &str, saga_id: &str) -> Result<Option<SagaRecord>, StoreError> {
        let key = (saga_type.to_owned(), saga_id.to_owned());
        Ok(self.runtime().sagas.get(&key).cloned())
    }
    async fn sagas_with_status(
        &self,
        saga_type: &str,
        status: &str,
        limit: usize,
    ) -> Result<Vec<SagaRecord>, StoreError> {
        let runtime = self.runtime();
        let mut found: Vec<_> = runtime
            .sagas
            .values()
            .filter(|r| r.saga_type == saga_type && r.status == status)
            .cloned()
            .collect();
        found.sort_by(|a, b| (a.updated_at, &a.saga_id).cmp(&(b.updated_at, &b.saga_id)));
        found.truncate(limit);
        Ok(found)
    }
    async fn deadlines_due(
        &self,
        saga_type: &str,
        now: SystemTime,
        limit: usize,
    ) -> Result<Vec<DeadlineRecord>, StoreError> {
        Ok(self.deadlines(|d| d.saga_type == saga_type && d.due_at <= now, limit))
    }
    async fn deadlines_of(
        &self,
        saga_type: &str,
        saga_id: &str,
    ) -> Result<Vec<DeadlineRecord>, StoreError> {
        Ok(self.deadlines(
            |d| d.saga_type == saga_type && d.saga_id == saga_id,
            usize::MAX,
        ))
    }
    async fn count_events_through(&self, position: u64) -> Result<u64, StoreError> {
        // Positions are dense here: event `i` has position `i`.
        Ok(position.min(self.head_position().await?))
    }

    async fn counts(&self) -> Result<RuntimeCounts, StoreError> {
        let mut counts = RuntimeCounts {
            events: self.read().count_types(),
            ..RuntimeCounts::default()
        };
        let runtime = self.runtime();
        for record in runtime.sagas.values() {
            counts.add_sagas(&record.saga_type, &record.status, 1);
        }
        for (consumer, letters) in &runtime.dead_letters {
            if !letters.is_empty() {
                RuntimeCounts::add(&mut counts.dead_letters, consumer, letters.len() as u64);
            }
        }
        Ok(counts)
    }
}
