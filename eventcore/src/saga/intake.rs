//! Events in: each event the saga correlates is recorded in the consumer inbox and its
//! reaction saved with the instance, in the transaction of the batch (and its checkpoint).

use std::collections::{HashMap, HashSet};
use std::slice;

use super::Saga;
use super::bus::CommandBus;
use super::document::{DeadlineChanges, Document};
use super::error::{SagaError, duplicate};
use super::manager::SagaManager;
use super::record::{Save, document_of};
use crate::durable::SagaRecord;
use crate::error::CodecError;
use crate::event::RecordedEvent;
use crate::projection::{Checkpoint, moved};
use crate::transaction::{RuntimeStore, RuntimeTransaction, StoreTransaction};

impl<S: Saga, T: RuntimeStore, B: CommandBus<S::Command>> SagaManager<S, T, B> {
    /// Handles `events` inside `tx`: each event the saga correlates is recorded in the inbox
    /// (a repeat is skipped) and its reaction applied to the instance. Each instance is read
    /// once per batch and saved once, after its last event of the batch, with every deadline
    /// change its events made (in order).
    pub(super) async fn handle_in(
        &self,
        tx: &mut T::Transaction,
        events: &[RecordedEvent],
    ) -> Result<(), SagaError> {
        self.faults.check("event:before-apply")?;
        let consumer = self.consumer();
        // The events the saga correlates, with their instances.
        let mut correlated = Vec::new();
        for event in events {
            if !S::CATEGORIES.is_empty() && !S::CATEGORIES.contains(&event.stream_id.category()) {
                continue;
            }
            let typed = match event.decode::<S::Event>(&self.upcasters) {
                Ok(typed) => typed,
                Err(CodecError::UnknownEventType { .. }) => continue,
                Err(source) => {
                    return Err(SagaError::Decode {
                        position: event.global_position,
                        source,
                    });
                }
            };
            if let Some(id) = self.saga.correlate(&typed, event) {
                correlated.push((event, typed, id));
            }
        }
        if correlated.is_empty() {
            return Ok(());
        }
        let ids: Vec<_> = correlated
            .iter()
            .map(|(event, ..)| event.event_id)
            .collect();
        let new = tx.record_all_processed(&consumer, &ids).await?;
        // The instances' records, read at once.
        let mut seen = HashSet::new();
        let wanted: Vec<String> = correlated
            .iter()
            .zip(&new)
            .filter(|((_, _, id), new)| **new && seen.insert(id))
            .map(|((_, _, id), _)| id.clone())
            .collect();
        let mut records: HashMap<String, SagaRecord> = tx
            .sagas(S::TYPE, &wanted)
            .await?
            .into_iter()
            .map(|record| (record.saga_id.clone(), record))
            .collect();
        // The instances the batch reacted to, in the order first met, and where each is.
        let mut touched: Vec<Touched<S>> = Vec::new();
        let mut at_of: HashMap<String, usize> = HashMap::new();
        for ((event, typed, id), new) in correlated.into_iter().zip(new) {
            if !new {
                continue; // delivered before
            }
            let at = match at_of.get(&id) {
                Some(at) => *at,
                None => {
                    let (document, version) = document_of(records.remove(&id).as_ref())?;
                    at_of.insert(id.clone(), touched.len());
                    touched.push(Touched {
                        id,
                        document,
                        version,
                        changes: DeadlineChanges::default(),
                    });
                    touched.len() - 1
                }
            };
            let instance = &mut touched[at];
            instance.document.correlate_with(&event.metadata);
            let reaction = self
                .saga
                .on_event(&instance.document.state, &typed)
                .map_err(|e| SagaError::Saga(Box::new(e)))?;
            let cause = format!("event {} at {}", event.event_type, event.global_position);
            let changes = instance
                .document
                .react(reaction, self.clock.now(), &cause)
                .map_err(duplicate(&instance.id))?;
            instance.changes.then(changes);
        }
        let saves = touched
            .iter_mut()
            .map(|instance| Save {
                id: &instance.id,
                document: &instance.document,
                version: instance.version,
                changes: std::mem::take(&mut instance.changes),
            })
            .collect();
        self.save_all(tx, saves).await?;
        Ok(())
    }

    /// Delivers one event from outside the log's order (a broker consumer, a replay tool) in
    /// its own transaction. Events already handled, by either path, are skipped.
    ///
    /// # Errors
    /// Store, decoding and saga failures; nothing is recorded then.
    pub async fn deliver(&self, event: &RecordedEvent) -> Result<(), SagaError> {
        let mut tx = self.store.begin().await?;
        self.handle_in(&mut tx, slice::from_ref(event)).await?;
        tx.commit().await?;
        self.committed();
        self.wake.notify_one();
        Ok(())
    }

    /// Handles up to `max` events after the manager's checkpoint in one transaction with the
    /// checkpoint (what [`start`](Self::start) does continuously); returns how many it read.
    ///
    /// # Errors
    /// Store, decoding and saga failures, and injected crashes; nothing is committed then.
    pub async fn process_events(&self, max: usize) -> Result<usize, SagaError> {
        let consumer = self.consumer();
        let from = self.store.load_checkpoint(&consumer).await?.unwrap_or(0) + 1;
        let events = self.store.read_all(from, max.max(1)).await?;
        let Some(last) = events.last() else {
            return Ok(0);
        };
        let mut tx = self.store.begin().await?;
        let at = Checkpoint {
            name: &consumer,
            at: from - 1,
        };
        if moved(&mut tx, at).await?.is_some() {
            return Ok(0); // a concurrent runner got there first: read again
        }
        self.handle_in(&mut tx, &events).await?;
        tx.save_checkpoint(&consumer, last.global_position).await?;
        self.faults.check("event:before-commit")?;
        tx.commit().await?;
        self.committed();
        self.wake.notify_one();
        self.faults.check("event:after-commit")?;
        Ok(events.len())
    }
}

/// An instance a batch of events reacted to, as the batch left it.
struct Touched<S: Saga> {
    id: String,
    document: Document<S>,
    /// The record's version when read (0: new).
    version: u64,
    /// The deadline changes of its events, in order.
    changes: DeadlineChanges,
}
