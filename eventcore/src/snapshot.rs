//! Snapshots: an aggregate's state at a stream version, so loading need not replay everything.

use async_trait::async_trait;
use serde_json::value::RawValue;

use crate::error::StoreError;
use crate::id::StreamId;

/// An aggregate's serialized state after applying its stream up to `version`.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// The aggregate's stream.
    pub stream: StreamId,
    /// The stream version the state includes.
    pub version: u64,
    /// The aggregate's snapshot schema version
    /// ([`Aggregate::SNAPSHOT_VERSION`](crate::Aggregate::SNAPSHOT_VERSION)); a snapshot with
    /// another schema version is ignored on load, never misread.
    pub schema_version: u32,
    /// The serialized state.
    pub state: Box<RawValue>,
}

/// Storage for the latest snapshot of each stream.
///
/// # Contract
/// - [`load_snapshot`](Self::load_snapshot) returns the latest saved snapshot of a stream, or
///   `None`.
/// - [`save_snapshot`](Self::save_snapshot) replaces the stored snapshot, except that a snapshot
///   of the *same* schema version and a *lower* stream version than the stored one is ignored
///   (snapshots never go backwards).
#[async_trait]
pub trait SnapshotStore: Send + Sync {
    /// The latest snapshot of `stream`.
    ///
    /// # Errors
    /// Backend failures.
    async fn load_snapshot(&self, stream: &StreamId) -> Result<Option<Snapshot>, StoreError>;

    /// Saves a snapshot as described in the contract.
    ///
    /// # Errors
    /// Backend failures.
    async fn save_snapshot(&self, snapshot: Snapshot) -> Result<(), StoreError>;
}

/// Whether `new` should replace `stored` under the [`SnapshotStore`] contract.
pub fn supersedes(new: &Snapshot, stored: Option<(u64, u32)>) -> bool {
    match stored {
        None => true,
        Some((version, schema)) => schema != new.schema_version || new.version >= version,
    }
}
