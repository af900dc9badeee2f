//! Errors shared by every backend: bad input, store failures and event decoding.

use crate::id::{EventId, StreamId};
use crate::version::Conflict;

/// A boxed error from a backend driver, kept as the source of [`StoreError::Backend`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Input that no backend accepts. Detected before anything is written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// An id or name was empty.
    #[error("{what} is empty")]
    EmptyId {
        /// Which id was empty.
        what: &'static str,
    },
    /// An id or name was longer than the limit.
    #[error("{what} is {len} bytes long, the limit is {max}")]
    IdTooLong {
        /// Which id was too long.
        what: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// An id or name contained a NUL character.
    #[error("{what} contains a NUL character")]
    NulInId {
        /// Which id contained it.
        what: &'static str,
    },
    /// A serialized payload was larger than the limit.
    #[error("{what} of event type {event_type} is {size} bytes, the limit is {max}")]
    PayloadTooLarge {
        /// `"payload"` or `"metadata"`.
        what: &'static str,
        /// The event type whose payload was too large.
        event_type: String,
        /// Its size in bytes.
        size: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// One append named the same stream twice.
    #[error("stream {stream} appears more than once in one append")]
    DuplicateStream {
        /// The repeated stream.
        stream: StreamId,
    },
    /// One append carried too many events.
    #[error("append carries {count} events, the limit is {max}")]
    TooManyEvents {
        /// How many events the append carried.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// An append named no stream at all.
    #[error("append names no stream")]
    EmptyAppend,
    /// A schema version of 0 was given; versions start at 1.
    #[error("schema version of event type {event_type} is 0; versions start at 1")]
    ZeroSchemaVersion {
        /// The event type.
        event_type: String,
    },
    /// A schema version above 2^31 − 1 (what every backend can store) was given.
    #[error("schema version {version} of event type {event_type} is above 2147483647")]
    SchemaVersionTooLarge {
        /// The event type.
        event_type: String,
        /// The version given.
        version: u32,
    },
    /// A stream version of 0 was asked for; stream versions start at 1.
    #[error("stream versions and global positions start at 1, got 0")]
    ZeroVersion,
    /// A payload or metadata value nested deeper than
    /// [`MAX_JSON_DEPTH`](crate::MAX_JSON_DEPTH) (every backend could not read it back).
    #[error("{what} of event type {event_type} nests {depth} levels deep, the limit is {max}")]
    TooDeeplyNested {
        /// `"payload"` or `"metadata"`.
        what: &'static str,
        /// The event type.
        event_type: String,
        /// How deep it nests (at least `max + 1`; counting stops there).
        depth: usize,
        /// The limit.
        max: usize,
    },
    /// One append named more streams than
    /// [`MAX_STREAMS_PER_APPEND`](crate::MAX_STREAMS_PER_APPEND).
    #[error("append names {count} streams, the limit is {max}")]
    TooManyStreams {
        /// How many streams the append named.
        count: usize,
        /// The limit.
        max: usize,
    },
}

/// Why an event could not be turned into or out of its stored JSON form.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The stored type name is not one the event type knows.
    #[error("unknown event type {event_type}")]
    UnknownEventType {
        /// The stored type name.
        event_type: String,
    },
    /// The payload is not valid JSON for the event type.
    #[error("malformed payload for event type {event_type}: {source}")]
    MalformedPayload {
        /// The stored type name.
        event_type: String,
        /// What serde_json reported.
        #[source]
        source: serde_json::Error,
    },
    /// The event could not be serialized in the stored form (an enum of variants is expected).
    #[error("event cannot be encoded: {reason}")]
    Unencodable {
        /// What went wrong.
        reason: String,
    },
    /// The stored schema version is newer than this program understands.
    #[error(
        "event type {event_type} has schema version {stored}, newer than the supported {supported}"
    )]
    NewerSchema {
        /// The stored type name.
        event_type: String,
        /// The stored schema version.
        stored: u32,
        /// The newest version this program knows.
        supported: u32,
    },
    /// No upcaster is registered to lift an old schema version.
    #[error(
        "no upcaster registered for event type {event_type} from schema version {from_version}"
    )]
    MissingUpcaster {
        /// The stored type name.
        event_type: String,
        /// The version that could not be lifted.
        from_version: u32,
    },
    /// An upcaster rejected the payload.
    #[error(
        "upcaster for event type {event_type} from schema version {from_version} failed: {reason}"
    )]
    Upcast {
        /// The stored type name.
        event_type: String,
        /// The version being lifted.
        from_version: u32,
        /// What the upcaster reported.
        reason: String,
    },
}

/// Everything an [`EventStore`](crate::EventStore) or [`SnapshotStore`](crate::SnapshotStore)
/// operation can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// An expected version did not hold; nothing was written.
    #[error(transparent)]
    Conflict(#[from] Conflict),
    /// A saga record was saved against a version it no longer has (someone else saved it
    /// first); nothing was written.
    #[error("saga {saga_type}/{saga_id} is at version {actual}, not {expected}")]
    SagaConflict {
        /// The saga type.
        saga_type: String,
        /// The instance.
        saga_id: String,
        /// The version the save expected.
        expected: u64,
        /// The stored version.
        actual: u64,
    },
    /// An event id is already in the store (or repeated within one append); nothing was written.
    #[error("event id {event_id} already exists")]
    DuplicateEventId {
        /// The repeated id.
        event_id: EventId,
    },
    /// The request was invalid; nothing was written.
    #[error("invalid input: {0}")]
    InvalidInput(#[from] InputError),
    /// A stored record cannot be read back (a corrupt or tampered row, an undecodable
    /// payload, a gap in a stream's versions). Retrying does not help: see
    /// [`is_transient`](Self::is_transient).
    #[error(
        "stored record at version {version}, position {position} of stream {stream} cannot be read: {reason}"
    )]
    Corrupt {
        /// The stream of the record (as far as it could be read).
        stream: String,
        /// The stream version of the record (0 when unreadable or outside the log).
        version: u64,
        /// The global position of the record (0 when unreadable, and for records outside the
        /// log: snapshots, saga state).
        position: u64,
        /// What was wrong with it.
        reason: String,
    },
    /// The transaction can no longer commit: retry the whole transaction from its start (a
    /// fresh transaction). Nothing of it is written; committing it reports this error again
    /// and rolls it back.
    #[error("transaction aborted: {reason}; retry the whole transaction")]
    TransactionAborted {
        /// Why.
        reason: AbortReason,
    },
    /// The backend failed (I/O, connection, driver). Whether anything was written is decided
    /// by the backend's transaction: an append is all or nothing.
    #[error("backend error: {source}")]
    Backend {
        /// The driver's error.
        #[source]
        source: BoxError,
    },
}

/// Why a transaction was aborted ([`StoreError::TransactionAborted`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AbortReason {
    /// An operation in the transaction was cancelled midway (its future was dropped, e.g.
    /// under a timeout): whether it took effect is unknown, so nothing of the transaction may
    /// commit.
    #[error("an operation in it was cancelled midway")]
    Cancelled,
    /// The database chose this transaction as the victim of a deadlock with another one (for
    /// example two transactions appending to the same streams in opposite orders).
    #[error("it deadlocked with a concurrent transaction")]
    Deadlock,
    /// A statement in it failed, which (on PostgreSQL) aborts the whole transaction: every
    /// later statement fails and a commit would roll back.
    #[error("a statement in it failed")]
    StatementFailed,
    /// It wrote something else before its first append, and events were committed meanwhile
    /// that log readers may already have passed it by (PostgreSQL: its events would land
    /// below them). A transaction that appends before writing anything else never gets it.
    #[error("it started writing before events that readers may have passed it by")]
    Overtaken,
}

impl StoreError {
    /// Whether trying again may succeed: a backend failure, a lost race (a version
    /// conflict) or an aborted transaction (retried as a whole), as opposed to bad input or a
    /// corrupt record.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Backend { .. }
                | Self::Conflict(_)
                | Self::SagaConflict { .. }
                | Self::TransactionAborted { .. }
        )
    }

    /// The error for a transaction aborted for `reason`.
    pub fn aborted(reason: AbortReason) -> Self {
        Self::TransactionAborted { reason }
    }

    /// Wraps a driver error.
    pub fn backend(source: impl Into<BoxError>) -> Self {
        Self::Backend {
            source: source.into(),
        }
    }

    /// Whether this is a version conflict (retrying after a reload may succeed).
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Conflict(_))
    }
}
