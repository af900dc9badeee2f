//! Events in: each event the saga correlates is recorded in the consumer inbox and its
//! reaction saved with the instance, in the transaction of the batch (and its checkpoint).

use std::slice;

use super::Saga;
use super::bus::CommandBus;
use super::error::{SagaError, duplicate};
use super::manager::SagaManager;
use crate::error::CodecError;
use crate::event::RecordedEvent;
use crate::projection::{Checkpoint, moved};
use crate::transaction::{RuntimeStore, StoreTransaction};

impl<S: Saga, T: RuntimeStore, B: CommandBus<S::Command>> SagaManager<S, T, B> {
    /// Handles `events` inside `tx`: each event the saga correlates is recorded in the inbox
    /// (a repeat is skipped) and its reaction saved with the instance.
    pub(super) async fn handle_in(
        &self,
        tx: &mut T::Transaction,
        events: &[RecordedEvent],
    ) -> Result<(), SagaError> {
        self.faults.check("event:before-apply")?;
        let consumer = self.consumer();
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
            let Some(id) = self.saga.correlate(&typed, event) else {
                continue;
            };
            if !tx.record_processed(&consumer, event.event_id).await? {
                continue; // delivered before
            }
            let (mut document, version) = self.load(tx, &id).await?;
            document.correlate_with(&event.metadata);
            let reaction = self
                .saga
                .on_event(&document.state, &typed)
                .map_err(|e| SagaError::Saga(Box::new(e)))?;
            let cause = format!("event {} at {}", event.event_type, event.global_position);
            let changes = document
                .react(reaction, self.clock.now(), &cause)
                .map_err(duplicate(&id))?;
            self.save(tx, &id, &document, version, changes).await?;
        }
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
