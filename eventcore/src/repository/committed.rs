//! What [`Repository::execute_in`](super::Repository::execute_in) keeps of long streams
//! between transactions: the state as of a version known to be committed, so that the next
//! command in another transaction reads only the events after it instead of the whole stream.
//!
//! A state enters only through [`StoreTransaction::after_commit`](crate::StoreTransaction::after_commit)
//! (or, unchanged, straight back from a command that took it): never one that a transaction
//! which may still roll back has seen. A command takes the state out while it runs, so two
//! transactions never fold on one value; a concurrent command on the same stream reads the
//! stream whole, and whichever commits the newer version keeps its state.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use crate::id::StreamId;

/// Streams shorter than this are read whole each time (a handful of rows); longer ones are
/// kept.
pub(super) const KEEP_FROM_VERSION: u64 = 64;

/// At most this many states are kept; a new one beyond it replaces an arbitrary other.
const CAPACITY: usize = 256;

/// Committed states by stream, with their versions.
pub(super) struct CommittedStates<A> {
    states: Mutex<HashMap<StreamId, (A, u64)>>,
}

impl<A> Default for CommittedStates<A> {
    fn default() -> Self {
        Self {
            states: Mutex::new(HashMap::new()),
        }
    }
}

impl<A> CommittedStates<A> {
    /// Takes the kept state of `stream` and its version, if any.
    pub(super) fn take(&self, stream: &StreamId) -> Option<(A, u64)> {
        self.states
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(stream)
    }

    /// Keeps `state` as `stream`'s state at the committed `version`, unless the stream is
    /// short or a newer version is kept already.
    pub(super) fn put(&self, stream: StreamId, state: A, version: u64) {
        if version < KEEP_FROM_VERSION {
            return;
        }
        let mut states = self.states.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, kept)) = states.get(&stream) {
            if *kept >= version {
                return;
            }
        } else if states.len() >= CAPACITY {
            let evicted = states.keys().next().cloned();
            if let Some(evicted) = evicted {
                states.remove(&evicted);
            }
        }
        states.insert(stream, (state, version));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(n: usize) -> StreamId {
        StreamId::new(format!("committed-{n}")).unwrap()
    }

    #[test]
    fn keeps_long_streams_only_the_newest_version_and_a_bounded_number() {
        let states = CommittedStates::<u64>::default();
        states.put(stream(0), 1, KEEP_FROM_VERSION - 1);
        assert!(
            states.take(&stream(0)).is_none(),
            "a short stream is not kept"
        );

        states.put(stream(0), 7, KEEP_FROM_VERSION + 7);
        states.put(stream(0), 3, KEEP_FROM_VERSION + 3);
        assert_eq!(
            states.take(&stream(0)),
            Some((7, KEEP_FROM_VERSION + 7)),
            "an older version never replaces a newer one"
        );
        assert!(states.take(&stream(0)).is_none(), "taking removes it");

        for n in 0..CAPACITY + 10 {
            states.put(stream(n), n as u64, KEEP_FROM_VERSION);
        }
        let kept = (0..CAPACITY + 10)
            .filter(|n| states.take(&stream(*n)).is_some())
            .count();
        assert_eq!(kept, CAPACITY);
    }
}
