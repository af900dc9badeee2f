//! The instances [`SagaManager::wait_until`](super::SagaManager::wait_until) waits for, and
//! how many commits changed each since: a waiter reads its instance again when that instance
//! changed (or on the poll interval, for changes made by other processes), not after every
//! commit of the manager, so fifty waiters cost fifty reads per change of their own instances
//! instead of fifty per commit of any. It also keeps the status each commit saved, so a waiter
//! for a status (settled, say) reads only once its instance reached one that may do.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use super::SagaStatus;

/// Watched instances by id.
#[derive(Debug, Default)]
pub(super) struct Watched {
    ids: Mutex<HashMap<String, Watch>>,
}

#[derive(Debug)]
struct Watch {
    /// Commits that saved the instance since it is watched.
    changes: u64,
    /// The status the latest of them saved.
    status: Option<SagaStatus>,
    /// Waiters watching it.
    waiters: usize,
}

impl Watched {
    /// Watches `id` until the guard is dropped.
    pub(super) fn watch(self: &Arc<Self>, id: &str) -> Guard {
        self.ids
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(id.to_owned())
            .or_insert(Watch {
                changes: 0,
                status: None,
                waiters: 0,
            })
            .waiters += 1;
        Guard {
            watched: self.clone(),
            id: id.to_owned(),
        }
    }

    /// How many commits saved `id` since it is watched, and the status the latest saved.
    pub(super) fn changes(&self, id: &str) -> (u64, Option<SagaStatus>) {
        self.ids
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .map_or((0, None), |watch| (watch.changes, watch.status))
    }

    /// Notes that a commit saved `id` in `status` (call once the commit succeeded).
    pub(super) fn changed(&self, id: &str, status: SagaStatus) {
        if let Some(watch) = self
            .ids
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(id)
        {
            watch.changes += 1;
            watch.status = Some(status);
        }
    }
}

/// Stops watching its instance when dropped.
pub(super) struct Guard {
    watched: Arc<Watched>,
    id: String,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let mut ids = self
            .watched
            .ids
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(watch) = ids.get_mut(&self.id) {
            watch.waiters -= 1;
            if watch.waiters == 0 {
                ids.remove(&self.id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_changes_of_watched_instances_only_and_forgets_them_with_their_last_waiter() {
        let watched = Arc::new(Watched::default());
        watched.changed("a", SagaStatus::Active);
        let first = watched.watch("a");
        assert_eq!(
            watched.changes("a"),
            (0, None),
            "changes before watching do not count"
        );
        watched.changed("a", SagaStatus::Dispatching);
        watched.changed("b", SagaStatus::Active);
        assert_eq!(
            (watched.changes("a"), watched.changes("b")),
            ((1, Some(SagaStatus::Dispatching)), (0, None))
        );
        let second = watched.watch("a");
        drop(first);
        watched.changed("a", SagaStatus::Completed);
        assert_eq!(
            watched.changes("a"),
            (2, Some(SagaStatus::Completed)),
            "watched while a waiter is left, with the latest status saved"
        );
        drop(second);
        assert!(watched.ids.lock().unwrap().is_empty(), "forgotten");
    }
}
