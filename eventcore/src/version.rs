//! Optimistic concurrency: expected versions and the conflict they report.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::id::StreamId;

/// What an append expects of a stream's current version.
///
/// Stream versions are contiguous from 1: the first event of a stream has version 1, and a
/// stream with no events has version 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ExpectedVersion {
    /// No check: append whatever the current version is.
    Any,
    /// The stream must have no events.
    NoStream,
    /// The stream must have at least one event.
    StreamExists,
    /// The stream's current version must be exactly this (0 = no events, as [`Self::NoStream`]).
    Exact(u64),
}

impl ExpectedVersion {
    /// Whether a stream at `current` version (0 = no events) satisfies this expectation.
    ///
    /// ```
    /// use eventcore::ExpectedVersion;
    /// assert!(ExpectedVersion::Exact(3).admits(3));
    /// assert!(!ExpectedVersion::Exact(3).admits(4));
    /// assert!(ExpectedVersion::NoStream.admits(0));
    /// assert!(!ExpectedVersion::StreamExists.admits(0));
    /// ```
    pub fn admits(self, current: u64) -> bool {
        match self {
            Self::Any => true,
            Self::NoStream => current == 0,
            Self::StreamExists => current > 0,
            Self::Exact(n) => current == n,
        }
    }
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Any => f.write_str("any version"),
            Self::NoStream => f.write_str("no stream"),
            Self::StreamExists => f.write_str("an existing stream"),
            Self::Exact(n) => write!(f, "version {n}"),
        }
    }
}

/// An append's expected version did not match the stream; nothing was written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("version conflict on stream {stream}: expected {expected}, actual version {actual}")]
pub struct Conflict {
    /// The stream whose check failed.
    pub stream: StreamId,
    /// What the append expected.
    pub expected: ExpectedVersion,
    /// The stream's version at the time of the check (0 = no events).
    pub actual: u64,
}
