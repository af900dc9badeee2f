//! What a repository operation returns: a loaded aggregate, or why it failed.

use crate::error::{CodecError, InputError, StoreError};
use crate::id::StreamId;
use crate::version::Conflict;

/// What a repository operation can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RepositoryError<E: std::error::Error + 'static> {
    /// The aggregate rejected the command; nothing was written.
    #[error("command rejected: {0}")]
    Domain(#[source] E),
    /// The aggregate id is not usable as (part of) a stream id.
    #[error("invalid aggregate id: {0}")]
    InvalidId(#[from] InputError),
    /// A stored event of the aggregate cannot be decoded.
    #[error(
        "event at version {version} (position {position}) of stream {stream} cannot be decoded: {source}"
    )]
    Decode {
        /// The aggregate's stream.
        stream: StreamId,
        /// The event's stream version.
        version: u64,
        /// The event's global position.
        position: u64,
        /// What went wrong.
        #[source]
        source: CodecError,
    },
    /// A new event cannot be encoded (the codec's error says so, and why).
    #[error(transparent)]
    Encode(CodecError),
    /// Other writers kept winning: the append still conflicted after every retry.
    #[error("conflict persisted after {attempts} attempts: {last}")]
    RetriesExhausted {
        /// Attempts made.
        attempts: u32,
        /// The last conflict.
        #[source]
        last: Conflict,
    },
    /// The store failed.
    #[error("store error: {0}")]
    Store(#[source] StoreError),
}

/// A loaded aggregate: its state and the stream version it reflects.
#[derive(Debug, Clone)]
pub struct Loaded<A> {
    /// The aggregate's stream.
    pub stream: StreamId,
    /// The state after every event up to `version`.
    pub state: A,
    /// The stream version (0 = no events).
    pub version: u64,
}
