//! [`TransactionStates`]: the aggregate states a transaction's own commands left behind, for
//! the next command on the same stream in the same transaction.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::event::RecordedEvent;
use crate::id::StreamId;

/// Aggregate states as a transaction's own commands left them (versions that only this
/// transaction sees until it commits), so that the next command on the same stream in the
/// same transaction reads only what follows instead of the whole stream again.
///
/// [`Repository::execute_in`](crate::Repository::execute_in) fills it; a backend only keeps
/// one per transaction (a field of its transaction, dropped with it) and hands it out through
/// [`StoreTransaction::own_states`](crate::StoreTransaction::own_states).
/// [`TxGuard`](crate::backend::TxGuard) holds one for the backends that use it. A transaction
/// that hands out none is still correct: each command then reads a stream it wrote before, in
/// that transaction, whole.
///
/// ```
/// use eventcore::TransactionStates;
///
/// /// A backend's transaction keeps one beside its connection.
/// #[derive(Default)]
/// struct MyTransaction {
///     states: TransactionStates,
/// }
/// let tx = MyTransaction::default();
/// assert!(tx.states.is_empty());
/// ```
#[derive(Default)]
pub struct TransactionStates {
    slots: HashMap<(u64, StreamId), Box<dyn Any + Send>>,
    /// The events the transaction's own commands appended, once a saga manager asked for them
    /// (its local steps' events, handled in the step's transaction).
    appended: Option<Vec<RecordedEvent>>,
}

impl std::fmt::Debug for TransactionStates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransactionStates")
            .field("streams", &self.slots.len())
            .finish()
    }
}

/// One stream's state in one transaction, and its version as the transaction sees it; empty
/// while a command holds it.
pub(crate) type StateSlot<A> = Arc<Mutex<Option<(A, u64)>>>;

impl TransactionStates {
    /// `true` when no command of the transaction kept a state yet.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// From now on, keeps a copy of the events the transaction's commands append (through
    /// [`Repository::execute_in`](crate::Repository::execute_in)), for
    /// [`take_appended`](Self::take_appended).
    pub(crate) fn keep_appended(&mut self) {
        self.appended.get_or_insert_with(Vec::new);
    }

    /// Keeps a copy of `events` if asked to ([`keep_appended`](Self::keep_appended)).
    pub(crate) fn appended(&mut self, events: &[RecordedEvent]) {
        if let Some(kept) = &mut self.appended {
            kept.extend_from_slice(events);
        }
    }

    /// The events kept since the last call (none unless asked to keep them).
    pub(crate) fn take_appended(&mut self) -> Vec<RecordedEvent> {
        self.appended
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// The slot of `stream` for the repositories tagged `key` (their settings fold alike), and
    /// whether it was created now.
    pub(crate) fn slot<A: Send + 'static>(
        &mut self,
        key: u64,
        stream: &StreamId,
    ) -> (StateSlot<A>, bool) {
        let entry = self.slots.entry((key, stream.clone()));
        let created = matches!(entry, std::collections::hash_map::Entry::Vacant(_));
        let slot = entry.or_insert_with(|| Box::new(StateSlot::<A>::default()));
        match slot.downcast_ref::<StateSlot<A>>() {
            Some(slot) => (slot.clone(), created),
            // The tag is per repository settings and aggregate type, so this is unreachable;
            // a fresh slot unknown to the map only loses the reuse.
            None => (StateSlot::default(), false),
        }
    }
}

/// Takes what `slot` holds.
pub(crate) fn take<A>(slot: &StateSlot<A>) -> Option<(A, u64)> {
    slot.lock().unwrap_or_else(PoisonError::into_inner).take()
}

/// Puts `state` at `version` into `slot`.
pub(crate) fn put<A>(slot: &StateSlot<A>, state: A, version: u64) {
    *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some((state, version));
}
