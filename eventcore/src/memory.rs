//! The in-memory backend: the whole contract, for tests, examples and single-process tools.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::SystemTime;

use async_trait::async_trait;
use tokio::sync::watch;

use crate::backend::{RecordedEventExt, StreamAppendExt};
use crate::error::{InputError, StoreError};
use crate::event::RecordedEvent;
use crate::id::{EventId, StreamId};
use crate::memory_runtime::MemoryRuntime;
use crate::snapshot::{Snapshot, SnapshotStore, supersedes};
use crate::store::{AppendRequest, EventAppender, EventReader};

/// An [`EventStore`](crate::EventStore) in memory. Cloning gives another handle to the same
/// log.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use eventcore::{AppendRequest, EventAppender, EventReader, ExpectedVersion};
/// use eventcore::{InMemoryEventStore, NewEvent, StoreError, StreamId};
///
/// let store = InMemoryEventStore::new();
/// let stream = StreamId::new("account-7").unwrap();
/// let event = || NewEvent::raw("Deposited", 1, serde_json::value::to_raw_value(&10).unwrap());
///
/// store.append(AppendRequest::single(stream.clone(), ExpectedVersion::NoStream, vec![event()])).await.unwrap();
/// // A writer that still believes the stream is new loses, and nothing is written.
/// let err = store
///     .append(AppendRequest::single(stream.clone(), ExpectedVersion::NoStream, vec![event()]))
///     .await
///     .unwrap_err();
/// assert!(matches!(err, StoreError::Conflict(c) if c.actual == 1));
/// assert_eq!(store.stream_version(&stream).await.unwrap(), 1);
/// # });
/// ```
#[derive(Clone)]
pub struct InMemoryEventStore {
    inner: Arc<Inner>,
}

struct Inner {
    log: RwLock<Log>,
    head: watch::Sender<u64>,
    runtime: Mutex<MemoryRuntime>,
    /// Held by an append, and by a transaction from its first append until it ends, so that
    /// what a transaction appends keeps the versions and positions it was given.
    writer: Arc<tokio::sync::Mutex<()>>,
}

#[derive(Default)]
pub(crate) struct Log {
    /// Every event; the event at index `i` has global position `i + 1`.
    events: Vec<RecordedEvent>,
    /// Per stream, the indices of its events in version order.
    streams: HashMap<StreamId, Vec<usize>>,
    /// Event id to index.
    ids: HashMap<EventId, usize>,
}

impl Default for InMemoryEventStore {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for InMemoryEventStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InMemoryEventStore")
            .field("head", &*self.inner.head.borrow())
            .finish()
    }
}

impl InMemoryEventStore {
    /// An empty store.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                log: RwLock::new(Log::default()),
                head: watch::Sender::new(0),
                runtime: Mutex::new(MemoryRuntime::default()),
                writer: Arc::default(),
            }),
        }
    }

    /// The runtime records (checkpoints, dead letters, ...), locked.
    pub(crate) fn runtime(&self) -> std::sync::MutexGuard<'_, MemoryRuntime> {
        self.inner
            .runtime
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn read(&self) -> std::sync::RwLockReadGuard<'_, Log> {
        self.inner
            .log
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn write(&self) -> std::sync::RwLockWriteGuard<'_, Log> {
        self.inner
            .log
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The writer lock (see `Inner::writer`).
    pub(crate) async fn writer(&self) -> tokio::sync::OwnedMutexGuard<()> {
        self.inner.writer.clone().lock_owned().await
    }

    /// Wakes subscribers after `log` grew.
    pub(crate) fn publish(&self, log: &Log) {
        crate::store::publish_head(&self.inner.head, log.events.len() as u64);
    }
}

impl Log {
    /// Events in the log, per event type.
    pub(crate) fn count_types(&self) -> std::collections::BTreeMap<String, u64> {
        let mut counts = std::collections::BTreeMap::new();
        for event in &self.events {
            crate::RuntimeCounts::add(&mut counts, &event.event_type, 1);
        }
        counts
    }

    /// Checks `request` against the log followed by `pending` (events an open transaction
    /// appended, not in the log yet) and returns its records, placed after them. Nothing is
    /// changed.
    pub(crate) fn place(
        &self,
        pending: &[RecordedEvent],
        request: AppendRequest,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let pending_in =
            |stream: &StreamId| pending.iter().filter(|e| &e.stream_id == stream).count() as u64;
        for append in &request.streams {
            let actual = self.streams.get(&append.stream).map_or(0, Vec::len) as u64
                + pending_in(&append.stream);
            append.check(actual)?;
            if let Some(event) = append.events.iter().find(|e| {
                self.ids.contains_key(&e.event_id)
                    || pending.iter().any(|p| p.event_id == e.event_id)
            }) {
                return Err(StoreError::DuplicateEventId {
                    event_id: event.event_id,
                });
            }
        }
        let now = SystemTime::now();
        let mut position = (self.events.len() + pending.len()) as u64;
        let mut recorded = Vec::with_capacity(request.event_count());
        for append in request.streams {
            let mut version = self.streams.get(&append.stream).map_or(0, Vec::len) as u64
                + pending_in(&append.stream);
            for event in append.events {
                version += 1;
                position += 1;
                recorded.push(RecordedEvent::from_new(
                    event,
                    append.stream.clone(),
                    version,
                    position,
                    now,
                ));
            }
        }
        Ok(recorded)
    }

    /// The committed events of `stream`, in version order.
    pub(crate) fn stream<'a>(
        &'a self,
        stream: &StreamId,
    ) -> impl Iterator<Item = &'a RecordedEvent> + 'a {
        self.streams
            .get(stream)
            .into_iter()
            .flatten()
            .map(|&index| &self.events[index])
    }

    /// Adds records placed by [`Log::place`] (with no other change in between).
    pub(crate) fn push(&mut self, records: impl IntoIterator<Item = RecordedEvent>) {
        for record in records {
            let index = self.events.len();
            debug_assert_eq!(record.global_position, index as u64 + 1);
            self.ids.insert(record.event_id, index);
            self.streams
                .entry(record.stream_id.clone())
                .or_default()
                .push(index);
            self.events.push(record);
        }
    }
}

#[async_trait]
impl EventAppender for InMemoryEventStore {
    async fn append(&self, request: AppendRequest) -> Result<Vec<RecordedEvent>, StoreError> {
        request.validate()?;
        let _writer = self.writer().await;
        let mut log = self.write();
        // Checked first: nothing is written unless every check holds.
        let recorded = log.place(&[], request)?;
        log.push(recorded.iter().cloned());
        self.publish(&log);
        Ok(recorded)
    }
}

#[async_trait]
impl EventReader for InMemoryEventStore {
    async fn read_stream(
        &self,
        stream: &StreamId,
        from_version: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        if from_version == 0 {
            return Err(InputError::ZeroVersion.into());
        }
        let log = self.read();
        let Some(indices) = log.streams.get(stream) else {
            return Ok(Vec::new());
        };
        let start = usize::try_from(from_version - 1).unwrap_or(usize::MAX);
        Ok(indices
            .iter()
            .skip(start)
            .take(max_count)
            .map(|&i| log.events[i].clone())
            .collect())
    }

    async fn read_all(
        &self,
        from_position: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        if from_position == 0 {
            return Err(InputError::ZeroVersion.into());
        }
        let log = self.read();
        let start = usize::try_from(from_position - 1).unwrap_or(usize::MAX);
        Ok(log
            .events
            .iter()
            .skip(start)
            .take(max_count)
            .cloned()
            .collect())
    }

    async fn stream_version(&self, stream: &StreamId) -> Result<u64, StoreError> {
        Ok(self.read().streams.get(stream).map_or(0, Vec::len) as u64)
    }

    async fn event_by_id(&self, event_id: EventId) -> Result<Option<RecordedEvent>, StoreError> {
        let log = self.read();
        Ok(log.ids.get(&event_id).map(|&i| log.events[i].clone()))
    }

    async fn head_position(&self) -> Result<u64, StoreError> {
        Ok(self.read().events.len() as u64)
    }

    fn head_watch(&self) -> watch::Receiver<u64> {
        self.inner.head.subscribe()
    }
}

/// A [`SnapshotStore`] in memory. Cloning gives another handle to the same snapshots.
#[derive(Clone, Debug, Default)]
pub struct InMemorySnapshotStore {
    snapshots: Arc<Mutex<HashMap<StreamId, Snapshot>>>,
}

impl InMemorySnapshotStore {
    /// An empty snapshot store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl SnapshotStore for InMemorySnapshotStore {
    async fn load_snapshot(&self, stream: &StreamId) -> Result<Option<Snapshot>, StoreError> {
        let snapshots = self
            .snapshots
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Ok(snapshots.get(stream).cloned())
    }

    async fn save_snapshot(&self, snapshot: Snapshot) -> Result<(), StoreError> {
        let mut snapshots = self
            .snapshots
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let stored = snapshots
            .get(&snapshot.stream)
            .map(|s| (s.version, s.schema_version));
        if supersedes(&snapshot, stored) {
            snapshots.insert(snapshot.stream.clone(), snapshot);
        }
        Ok(())
    }
}
