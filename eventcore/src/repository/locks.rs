//! The process-wide lock registry: one lock per stream, shared by every repository handle, so
//! that commands for one instance never race each other into conflicts inside one process,
//! however many `Repository` values were built. A repository can be
//! given a registry of its own to stand for another process (the conformance suite's races).

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, LazyLock, Mutex, PoisonError, Weak};

use crate::id::StreamId;

/// A stream's lock: what a command holds while it loads, decides and appends, and the queue
/// of commands waiting for it (group commit: the holder may run the queued ones with its own).
pub(super) type InstanceLock = Arc<StreamLock>;

/// See [`InstanceLock`].
#[derive(Default)]
pub(super) struct StreamLock {
    /// The lock itself, with what it guards.
    pub(super) slot: Arc<tokio::sync::Mutex<Slot>>,
    queue: Mutex<std::collections::VecDeque<Queued>>,
}

/// A command waiting for its stream, type-erased (the repository knows its type).
struct Queued {
    id: u64,
    owner: u64,
    entry: Box<dyn std::any::Any + Send>,
}

impl StreamLock {
    /// Queues `entry` of repository `owner`; its id, to find it again.
    pub(super) fn enqueue(&self, owner: u64, entry: Box<dyn std::any::Any + Send>) -> u64 {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_back(Queued { id, owner, entry });
        id
    }

    /// Removes command `id` if it still waits (its caller stopped waiting).
    pub(super) fn withdraw(&self, id: u64) {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(at) = queue.iter().position(|queued| queued.id == id) {
            queue.remove(at);
        }
    }

    /// How many commands wait in the queue.
    pub(super) fn queued(&self) -> usize {
        self.queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// What the holder of the lock runs now for repository `owner`: the longest run of
    /// `owner`'s commands at the front of the queue (at most `max`, in order), or, when the
    /// front is another repository's, its own command `id` alone. Empty when `id` is no longer
    /// queued (a previous holder ran it).
    pub(super) fn take(
        &self,
        owner: u64,
        id: u64,
        max: usize,
    ) -> Vec<(u64, Box<dyn std::any::Any + Send>)> {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let run = queue
            .iter()
            .take(max)
            .take_while(|queued| queued.owner == owner)
            .count();
        if run > 0 {
            return queue
                .drain(..run)
                .map(|queued| (queued.id, queued.entry))
                .collect();
        }
        match queue.iter().position(|queued| queued.id == id) {
            Some(at) => queue
                .remove(at)
                .map(|queued| (queued.id, queued.entry))
                .into_iter()
                .collect(),
            None => Vec::new(),
        }
    }
}

/// What a stream's lock guards: the state a repository last committed for it, while commands
/// keep the lock alive (a hot aggregate). Tagged with the repository it belongs to (its store,
/// upcasters and aggregate type), so that no other repository ever folds on it.
#[derive(Default)]
pub(super) struct Slot {
    cached: Option<Cached>,
}

struct Cached {
    owner: u64,
    version: u64,
    state: Box<dyn std::any::Any + Send>,
}

impl Slot {
    /// Takes the cached state of repository `owner`, if it has one (of type `A`).
    pub(super) fn take<A: 'static>(&mut self, owner: u64) -> Option<(A, u64)> {
        let cached = self.cached.take()?;
        if cached.owner != owner {
            return None;
        }
        let version = cached.version;
        cached
            .state
            .downcast::<A>()
            .ok()
            .map(|state| (*state, version))
    }

    /// Keeps `state` at `version` for the next command of repository `owner`.
    pub(super) fn put<A: Send + 'static>(&mut self, owner: u64, state: A, version: u64) {
        self.cached = Some(Cached {
            owner,
            version,
            state: Box::new(state),
        });
    }
}

/// Independent parts of the registry, so that commands for different streams rarely wait
/// for the same map.
const SHARDS: usize = 16;

/// A shard is swept of idle entries once it holds this many (or twice as many as it kept at
/// its last sweep, whichever is more).
const MIN_SWEEP: usize = 64;

/// Locks of one shard, held weakly so that idle instances cost nothing once swept.
#[derive(Default)]
struct Shard {
    locks: HashMap<StreamId, Weak<StreamLock>>,
    sweep_at: usize,
}

/// A set of per-stream locks: the process's own ([`process`]), or one of a repository that
/// stands for another process in tests.
pub(super) struct Locks {
    hasher: RandomState,
    shards: [Mutex<Shard>; SHARDS],
}

static PROCESS: LazyLock<Arc<Locks>> = LazyLock::new(|| Arc::new(Locks::new()));

/// The registry every repository of this process shares.
pub(super) fn process() -> Arc<Locks> {
    PROCESS.clone()
}

impl Locks {
    /// An empty registry, shared with no one.
    pub(super) fn new() -> Self {
        Self {
            hasher: RandomState::new(),
            shards: std::array::from_fn(|_| Mutex::default()),
        }
    }

    /// The lock of `stream`: the one every other holder got, if any still holds it, or a new
    /// one.
    ///
    /// Keyed by stream id alone: repositories over different stores that share stream ids
    /// wait for each other too, which costs throughput only, never correctness.
    pub(super) fn lock_for(&self, stream: &StreamId) -> InstanceLock {
        let index = (self.hasher.hash_one(stream) % SHARDS as u64) as usize;
        let mut shard = self.shards[index]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(lock) = shard.locks.get(stream).and_then(Weak::upgrade) {
            return lock;
        }
        if shard.locks.len() >= shard.sweep_at.max(MIN_SWEEP) {
            shard.locks.retain(|_, lock| lock.strong_count() > 0);
            shard.sweep_at = shard.locks.len() * 2;
        }
        let lock = Arc::new(StreamLock::default());
        shard.locks.insert(stream.clone(), Arc::downgrade(&lock));
        lock
    }

    /// Entries (live or not yet swept).
    #[cfg(test)]
    fn entries(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| {
                shard
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .locks
                    .len()
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(name: &str) -> StreamId {
        StreamId::new(format!("locks-test-{name}")).unwrap()
    }

    #[test]
    fn holders_of_one_stream_share_its_lock_and_other_streams_get_their_own() {
        let first = process().lock_for(&stream("shared"));
        let second = process().lock_for(&stream("shared"));
        assert!(Arc::ptr_eq(&first, &second));
        assert!(!Arc::ptr_eq(&first, &process().lock_for(&stream("other"))));
        let own = Locks::new();
        assert!(!Arc::ptr_eq(&first, &own.lock_for(&stream("shared"))));
    }

    #[test]
    fn locks_are_held_weakly_and_idle_entries_are_swept() {
        let locks = Locks::new();
        let weak = Arc::downgrade(&locks.lock_for(&stream("idle")));
        assert!(weak.upgrade().is_none(), "the registry keeps no lock alive");
        let held: Vec<_> = (0..100)
            .map(|n| locks.lock_for(&stream(&format!("held-{n}"))))
            .collect();
        for n in 0..20_000 {
            drop(locks.lock_for(&stream(&format!("sweep-{n}"))));
        }
        // Sweeps bound the registry by what is live; the held locks survive them.
        let left = locks.entries();
        assert!(
            left <= 2 * SHARDS * MIN_SWEEP,
            "idle entries are swept, {left} left"
        );
        for (n, lock) in held.iter().enumerate() {
            assert!(Arc::ptr_eq(
                lock,
                &locks.lock_for(&stream(&format!("held-{n}")))
            ));
        }
    }
}
