//! The repository: load an aggregate, handle a command, append with optimistic concurrency.

mod command;
mod committed;
mod error;
mod events;
mod folder;
mod group;
mod in_transaction;
mod locks;
mod observer;
mod policy;

use std::marker::PhantomData;
use std::sync::Arc;

use serde_json::value::RawValue;

use crate::aggregate::{Aggregate, Command};
use crate::error::StoreError;
use crate::event::{Envelope, Metadata, NewEvent, RecordedEvent};
use crate::id::{EventId, StreamId};
use crate::snapshot::{Snapshot, SnapshotStore};
use crate::store::{AppendRequest, CommandSession, EventStore, FoldSink};
use crate::upcast::Upcasters;
use crate::version::ExpectedVersion;
use events::{command_metadata, encode};
use folder::Folder;

pub use error::{Loaded, RepositoryError};
pub use observer::RepositoryObserver;
pub use policy::{RetryPolicy, SnapshotPolicy};

/// A key no other repository in the process has.
fn next_cache_key() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// What [`Repository::load_for`] found.
enum Load<A> {
    Loaded(Loaded<A>),
    /// The command was handled before: its first event is at this version.
    Handled(u64),
}

/// Loads aggregates of type `A`, runs their commands and appends the results.
///
/// Commands for the same instance are serialised across every repository in the process, however
/// many were built (a fresh `Repository` per request never races itself, though only clones of
/// one repository share its cached state and group their queued commands): within a
/// process they never race each other into conflicts. Between processes, optimistic concurrency
/// with bounded retry ([`RetryPolicy`]) applies; a [`RepositoryObserver`] sees the conflicts,
/// retries and commits. Building a repository is cheap; cloning gives another handle.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use eventcore::testing::counter::{Counter, CounterCommand, CounterEvent};
/// use eventcore::{CommandId, InMemoryEventStore, Repository};
///
/// let repo = Repository::<Counter>::new(InMemoryEventStore::new());
/// let add = CounterCommand::add("c1", 5);
/// let committed = repo.execute(add.clone()).await.unwrap();
/// assert_eq!(committed[0].event, CounterEvent::Added { amount: 5 });
/// assert_eq!(committed[0].stream_version, 1);
///
/// // Re-sending the same command (same command id) appends nothing new.
/// let again = repo.execute(add).await.unwrap();
/// assert_eq!(again[0].event_id, committed[0].event_id);
/// assert_eq!(repo.load("c1").await.unwrap().state.total, 5);
/// # });
/// ```
pub struct Repository<A> {
    store: Arc<dyn EventStore>,
    snapshots: Option<Arc<dyn SnapshotStore>>,
    snapshot_policy: SnapshotPolicy,
    upcasters: Arc<Upcasters>,
    retry: RetryPolicy,
    observer: Option<Arc<dyn RepositoryObserver>>,
    locks: Arc<locks::Locks>,
    /// Tags the states this repository (and its clones) cache in the stream locks.
    cache_key: u64,
    /// What [`execute_in`](Self::execute_in) keeps of long streams between transactions.
    committed: Arc<committed::CommittedStates<A>>,
    _aggregate: PhantomData<fn() -> A>,
}

impl<A> Clone for Repository<A> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            snapshots: self.snapshots.clone(),
            snapshot_policy: self.snapshot_policy,
            upcasters: self.upcasters.clone(),
            retry: self.retry,
            observer: self.observer.clone(),
            locks: self.locks.clone(),
            cache_key: self.cache_key,
            committed: self.committed.clone(),
            _aggregate: PhantomData,
        }
    }
}

impl<A> std::fmt::Debug for Repository<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repository")
            .field("snapshots", &self.snapshots.is_some())
            .field("snapshot_policy", &self.snapshot_policy)
            .field("upcasters", &self.upcasters)
            .field("retry", &self.retry)
            .field("observer", &self.observer.is_some())
            .finish()
    }
}

type Result<T, A> = std::result::Result<T, RepositoryError<<A as Aggregate>::Error>>;

impl<A: Aggregate> Repository<A> {
    /// A repository over `store`, with no snapshots, no upcasters and the default retry policy.
    pub fn new(store: impl EventStore + 'static) -> Self {
        Self::from_arc(Arc::new(store))
    }

    /// A repository over a shared store.
    pub fn from_arc(store: Arc<dyn EventStore>) -> Self {
        Self {
            store,
            snapshots: None,
            snapshot_policy: SnapshotPolicy::Never,
            upcasters: Arc::new(Upcasters::new()),
            retry: RetryPolicy::default(),
            observer: None,
            locks: locks::process(),
            cache_key: next_cache_key(),
            committed: Arc::default(),
            _aggregate: PhantomData,
        }
    }

    /// Uses `snapshots` to speed up loads and writes snapshots by `policy`.
    pub fn with_snapshots(
        mut self,
        snapshots: Arc<dyn SnapshotStore>,
        policy: SnapshotPolicy,
    ) -> Self {
        self.snapshots = Some(snapshots);
        self.snapshot_policy = policy;
        self.cache_key = next_cache_key(); // queued commands run with the holder's settings
        self
    }

    /// Applies `upcasters` to stored events on read (an [`Upcasters`] or a shared
    /// `Arc<Upcasters>`).
    pub fn with_upcasters(mut self, upcasters: impl Into<Arc<Upcasters>>) -> Self {
        self.upcasters = upcasters.into();
        self.cache_key = next_cache_key(); // states folded with other upcasters are not ours
        self.committed = Arc::default();
        self
    }

    /// Retries conflicting appends under `retry`.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self.cache_key = next_cache_key(); // queued commands run with the holder's settings
        self
    }

    /// Tells `observer` about every conflict, retry, exhausted retry and commit (they are
    /// logged with `tracing` too, observer or not). Pass an `Arc` to share one observer
    /// between repositories.
    pub fn with_observer(mut self, observer: impl RepositoryObserver) -> Self {
        self.observer = Some(Arc::new(observer));
        self.cache_key = next_cache_key(); // queued commands run with the holder's settings
        self
    }

    /// Serialises commands with its own locks instead of the process's, as a repository in
    /// another process would: for tests that race repositories into real conflicts.
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn with_own_locks(mut self) -> Self {
        self.locks = Arc::new(locks::Locks::new());
        self
    }

    /// Loads the instance `id`: the latest usable snapshot, then every event after it.
    ///
    /// # Errors
    /// [`RepositoryError::InvalidId`], [`RepositoryError::Decode`] or [`RepositoryError::Store`].
    pub async fn load(&self, id: &str) -> Result<Loaded<A>, A> {
        let stream = A::stream_id(id)?;
        self.load_stream(stream).await
    }

    async fn load_stream(&self, stream: StreamId) -> Result<Loaded<A>, A> {
        match self.load_for(stream, None, None).await? {
            Load::Loaded(loaded) => Ok(loaded),
            Load::Handled(_) => unreachable!("no probe was given"),
        }
    }

    /// Loads the instance behind `stream` (snapshot, then the events after it, in one read,
    /// folded as they arrive), unless `probe` is stored: then the command it belongs to was
    /// handled before. Reads in `session` when given one.
    async fn load_for(
        &self,
        stream: StreamId,
        probe: Option<EventId>,
        session: Option<&mut (dyn CommandSession + '_)>,
    ) -> Result<Load<A>, A> {
        let (state, version) = self.snapshot_of(&stream).await?.unwrap_or_default();
        let mut folder = Folder::new(stream.clone(), state, version, &self.upcasters);
        let from = version + 1;
        let handled = match session {
            Some(session) => session.fold_for_command(&stream, from, probe, &mut folder),
            None => self
                .store
                .fold_for_command(&stream, from, probe, &mut folder),
        }
        .await
        .map_err(RepositoryError::Store)?;
        if let Some(version) = handled {
            return Ok(Load::Handled(version));
        }
        folder.finish().map(Load::Loaded)
    }

    /// Folds `events` (read from version `version + 1`) into `state`, checking that their
    /// versions are contiguous.
    fn fold(
        &self,
        stream: StreamId,
        state: A,
        version: u64,
        events: &[crate::FoldEvent],
    ) -> Result<Loaded<A>, A> {
        let mut folder = Folder::new(stream, state, version, &self.upcasters);
        for event in events {
            if folder.event(event.as_ref()).is_break() {
                break;
            }
        }
        folder.finish()
    }

    async fn snapshot_of(&self, stream: &StreamId) -> Result<Option<(A, u64)>, A> {
        let Some(snapshots) = &self.snapshots else {
            return Ok(None);
        };
        let Some(snapshot) = snapshots
            .load_snapshot(stream)
            .await
            .map_err(RepositoryError::Store)?
        else {
            return Ok(None);
        };
        if snapshot.schema_version != A::SNAPSHOT_VERSION {
            return Ok(None);
        }
        match serde_json::from_str::<A>(snapshot.state.get()) {
            Ok(state) => Ok(Some((state, snapshot.version))),
            Err(error) => {
                tracing::warn!(%stream, %error, "ignoring undecodable snapshot");
                Ok(None)
            }
        }
    }

    fn decode(&self, record: &RecordedEvent) -> Result<A::Event, A> {
        record
            .decode(&self.upcasters)
            .map_err(|source| RepositoryError::Decode {
                stream: record.stream_id.clone(),
                version: record.stream_version,
                position: record.global_position,
                source,
            })
    }

    /// Handles `command` and appends its events, with empty metadata beyond the causation id.
    ///
    /// # Errors
    /// As [`Repository::execute_with`].
    pub async fn execute(&self, command: A::Command) -> Result<Vec<Envelope<A::Event>>, A> {
        self.execute_with(command, Metadata::default()).await
    }

    /// Handles `command` against the latest state and appends its events with the version it
    /// loaded, retrying on conflict. Returns the committed events (none if the command caused
    /// none). A command whose id already committed events appends nothing and returns the events
    /// it committed the first time; a command that was rejected, or caused no events, left no
    /// trace and is simply handled again.
    ///
    /// Commands for one instance wait in a queue for its lock; the holder handles the commands
    /// queued behind it against one state and commits them as one append (group commit), and
    /// each caller gets its own outcome. A caller that stops waiting (its future dropped) once
    /// its command was queued may still see the command executed, as a client that hangs up
    /// after sending a request may: send it again with the same command id to learn the
    /// outcome.
    ///
    /// Every event carries `metadata`, with the causation id set to the command id (and the
    /// correlation id too, when `metadata` has none).
    ///
    /// # Errors
    /// [`RepositoryError::Domain`] when the aggregate rejects the command;
    /// [`RepositoryError::RetriesExhausted`] when conflicts persist; decode, encode and store
    /// failures. Nothing is written in any of these cases.
    pub async fn execute_with(
        &self,
        command: A::Command,
        metadata: Metadata,
    ) -> Result<Vec<Envelope<A::Event>>, A> {
        let stream = A::stream_id(command.aggregate_id())?;
        self.execute_queued(stream, command, metadata).await
    }

    async fn event_by_id(&self, id: EventId) -> Result<Option<RecordedEvent>, A> {
        self.store
            .event_by_id(id)
            .await
            .map_err(RepositoryError::Store)
    }

    /// The events a previously handled command committed, starting at its first event.
    async fn already_committed(
        &self,
        command: &A::Command,
        stream: &StreamId,
        first_version: u64,
    ) -> Result<Vec<Envelope<A::Event>>, A> {
        let records = self
            .store
            .read_stream(stream, first_version, crate::MAX_EVENTS_PER_APPEND)
            .await
            .map_err(RepositoryError::Store)?;
        self.first_outcome(command, stream, records)
    }

    /// The envelopes of a previously handled command's events: `records` from its first
    /// event on, as long as their ids are the command's.
    fn first_outcome(
        &self,
        command: &A::Command,
        stream: &StreamId,
        records: Vec<RecordedEvent>,
    ) -> Result<Vec<Envelope<A::Event>>, A> {
        let mut envelopes = Vec::new();
        for (index, record) in records.into_iter().enumerate() {
            let index = u32::try_from(index).unwrap_or(u32::MAX);
            if record.event_id != EventId::derived(command.command_id(), stream, index) {
                break;
            }
            let event = self.decode(&record)?;
            envelopes.push(record.with_event(event));
        }
        Ok(envelopes)
    }

    async fn save_snapshot(&self, stream: &StreamId, state: &A, version: u64) {
        let Some(snapshots) = &self.snapshots else {
            return;
        };
        let state = match serde_json::to_string(state).map(RawValue::from_string) {
            Ok(Ok(state)) => state,
            Ok(Err(error)) | Err(error) => {
                tracing::warn!(%stream, %error, "snapshot not taken: state cannot be serialized");
                return;
            }
        };
        let snapshot = Snapshot {
            stream: stream.clone(),
            version,
            schema_version: A::SNAPSHOT_VERSION,
            state,
        };
        // A failed snapshot costs only load speed; the events are committed already.
        if let Err(error) = snapshots.save_snapshot(snapshot).await {
            tracing::warn!(%stream, %error, "snapshot not saved");
        }
    }

    /// The store this repository writes to.
    pub fn store(&self) -> &Arc<dyn EventStore> {
        &self.store
    }
}

#[cfg(test)]
mod tests;
