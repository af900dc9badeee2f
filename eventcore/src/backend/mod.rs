//! The kit for backend and broker authors: what a store or adapter needs to implement the
//! contracts, and nothing an application needs.
//!
//! An application uses the crate root ([`EventStore`](crate::EventStore),
//! [`TransactionalStore`](crate::TransactionalStore), [`Repository`](crate::Repository), the
//! [`projection`](crate::projection) and [`saga`](crate::saga) runtimes). A backend implements
//! those traits, plus [`RuntimeTransaction`] and [`RuntimeStore`] (the records projections
//! and sagas keep beside the log), and proves it with the suites of `eventcore::testing`
//! (feature `testing`). This module holds the shared pieces that keep every backend behaving
//! the same:
//!
//! - column conversions and checks ([`EventColumns`], [`RecordPlace`], [`unix_micros`],
//!   [`metadata_json`], [`read_start`], [`FoldColumns`]) so that a row reads back, or is
//!   [`StoreError::Corrupt`](crate::StoreError::Corrupt), identically everywhere;
//! - the version check of one stream of an append ([`StreamAppendExt`]) and the record it
//!   becomes ([`RecordedEventExt::from_new`]);
//! - [`TxGuard`], which makes a transaction refuse to commit after a cancelled operation;
//! - [`publish_head`] for a backend's head watch, [`supersedes`] for snapshot replacement;
//! - [`SharedTail`], one read of the log's tail for every follower of a store handle
//!   ([`EventReader::read_all_following`](crate::EventReader::read_all_following));
//! - the runtime records ([`SagaRecord`], [`DeadlineRecord`]) and their column checks
//!   ([`SagaColumns`], [`DeadlineColumns`], [`DeadLetterColumns`]) and their counts
//!   ([`counts_sql`], [`counts_from_rows`]);
//! - what batched runtime statements do with the rows they return ([`inserted_once`],
//!   [`saved_versions`]).

mod batch;
mod columns;
mod guard;
mod records;
mod tail;

use std::time::SystemTime;

pub use crate::durable::{DeadlineRecord, SagaRecord};
pub use crate::snapshot::supersedes;
pub use crate::store::publish_head;
pub use crate::transaction::{RuntimeStore, RuntimeTransaction};
pub use batch::{inserted_once, saved_versions};
pub use columns::*;
pub use guard::TxGuard;
pub use records::{DeadLetterColumns, DeadlineColumns, SagaColumns, counts_from_rows, counts_sql};
pub use tail::{SharedTail, TAIL_FRESHNESS};

use crate::event::{NewEvent, RecordedEvent};
use crate::id::StreamId;
use crate::store::StreamAppend;
use crate::transaction::StoreTransaction;
use crate::version::Conflict;

/// The version check of one stream of an append.
pub trait StreamAppendExt {
    /// The conflict of this append with its stream at version `actual`.
    fn conflict(&self, actual: u64) -> Conflict;

    /// `Ok` if the expected version admits a stream at `actual`, otherwise the conflict.
    ///
    /// # Errors
    /// The [`Conflict`] naming the stream, the expectation and `actual`.
    fn check(&self, actual: u64) -> Result<(), Conflict>;
}

impl StreamAppendExt for StreamAppend {
    fn conflict(&self, actual: u64) -> Conflict {
        Conflict {
            stream: self.stream.clone(),
            expected: self.expected,
            actual,
        }
    }

    fn check(&self, actual: u64) -> Result<(), Conflict> {
        if self.expected.admits(actual) {
            Ok(())
        } else {
            Err(self.conflict(actual))
        }
    }
}

/// Building stored records.
pub trait RecordedEventExt {
    /// The stored record of `event` at the given place in the log.
    fn from_new(
        event: NewEvent,
        stream_id: StreamId,
        stream_version: u64,
        global_position: u64,
        recorded_at: SystemTime,
    ) -> Self;
}

impl RecordedEventExt for RecordedEvent {
    fn from_new(
        event: NewEvent,
        stream_id: StreamId,
        stream_version: u64,
        global_position: u64,
        recorded_at: SystemTime,
    ) -> Self {
        Self {
            event_id: event.event_id,
            stream_id,
            stream_version,
            global_position,
            event_type: event.event_type,
            schema_version: event.schema_version,
            recorded_at,
            metadata: event.metadata,
            payload: event.payload,
        }
    }
}

/// [`StoreTransaction::advance_checkpoint`] as [`StoreTransaction::checkpoint`] then
/// [`StoreTransaction::save_checkpoint`]: the default, and a backend's way on when its
/// one-statement form found no checkpoint at `from` (absent, or moved by another runner).
///
/// # Errors
/// Backend failures.
pub async fn advance_checkpoint_in_two_steps<Tx: StoreTransaction + ?Sized>(
    tx: &mut Tx,
    name: &str,
    from: u64,
    to: u64,
) -> Result<Option<u64>, crate::StoreError> {
    let stored = tx.checkpoint(name).await?.unwrap_or(0);
    if stored != from {
        return Ok(Some(stored));
    }
    tx.save_checkpoint(name, to).await?;
    Ok(None)
}
