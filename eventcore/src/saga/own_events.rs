//! A local step's own events: those its command appended that the saga correlates with the
//! step's instance are handled in the step's transaction (recorded in the consumer inbox, so
//! the event intake skips them later), so the instance goes on without waiting for the intake
//! to read them back from the log.

use super::Saga;
use super::bus::CommandBus;
use super::document::{DeadlineChanges, Document};
use super::error::SagaError;
use super::manager::SagaManager;
use crate::error::StoreError;
use crate::id::EventId;
use crate::transaction::{RuntimeStore, StoreTransaction};

impl<S: Saga, T: RuntimeStore, B: CommandBus<S::Command>> SagaManager<S, T, B> {
    /// Asks `tx` to keep the events its commands append from now on (a store whose
    /// transactions keep no [`own_states`](StoreTransaction::own_states) keeps none: its
    /// steps' events reach the saga through the intake).
    pub(super) fn keep_appended(tx: &mut T::Transaction) {
        if let Some(states) = tx.own_states() {
            states.keep_appended();
        }
    }

    /// Handles on `document` (instance `id`, whose step `tx` just ran) the events the step's
    /// command appended that the saga correlates with `id`: the deadline changes their
    /// reactions bring, and their ids, which the caller records in the inbox in `tx`
    /// ([`record_own_events`](Self::record_own_events)) before it commits. Events the saga
    /// cannot handle (undecodable, its logic failing, a reaction it refuses) are left to the
    /// intake and its error policy, with all that follow them: then `document` is left as it
    /// was.
    ///
    /// Such an event is handled ahead of events of the instance the intake has not taken in
    /// yet, as it would be when delivered by a broker.
    pub(super) fn handle_own_events(
        &self,
        tx: &mut T::Transaction,
        id: &str,
        document: &mut Document<S>,
    ) -> (DeadlineChanges, Vec<EventId>) {
        let none = || (DeadlineChanges::default(), Vec::new());
        let Some(states) = tx.own_states() else {
            return none();
        };
        let appended = states.take_appended();
        let mut mine = Vec::new();
        for event in &appended {
            if !S::CATEGORIES.is_empty() && !S::CATEGORIES.contains(&event.stream_id.category()) {
                continue;
            }
            let Ok(typed) = event.decode::<S::Event>(&self.upcasters) else {
                continue;
            };
            if self.saga.correlate(&typed, event).as_deref() == Some(id) {
                mine.push((event, typed));
            }
        }
        if mine.is_empty() {
            return none();
        }
        // On a copy: a reaction that fails leaves the document as it was.
        let mut changed = document.clone();
        let mut changes = DeadlineChanges::default();
        let now = self.clock.now();
        for (event, typed) in &mine {
            changed.correlate_with(&event.metadata);
            let Ok(reaction) = self.saga.on_event(&changed.state, typed) else {
                return none();
            };
            let cause = format!("event {} at {}", event.event_type, event.global_position);
            let Ok(more) = changed.react(reaction, now, &cause) else {
                return none();
            };
            changes.then(more);
        }
        *document = changed;
        (
            changes,
            mine.iter().map(|(event, _)| event.event_id).collect(),
        )
    }

    /// Records in the inbox, in `tx`, the own events that
    /// [`handle_own_events`](Self::handle_own_events) handled (one statement for all).
    pub(super) async fn record_own_events(
        &self,
        tx: &mut T::Transaction,
        ids: &[EventId],
    ) -> Result<(), SagaError> {
        if ids.is_empty() {
            return Ok(());
        }
        let new = tx.record_all_processed(&self.consumer(), ids).await?;
        if new.contains(&false) {
            // Appended in this very transaction, so never delivered before: roll back rather
            // than apply an event twice.
            return Err(SagaError::Store(StoreError::backend(
                "an event appended by a saga step was already in the saga's inbox",
            )));
        }
        Ok(())
    }
}
