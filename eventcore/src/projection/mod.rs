//! Projections: read models kept up to date from the log.
//!
//! A [`Projection`] applies batches of events, in global order, inside a transaction of the
//! store ([`TransactionalStore::Transaction`](crate::TransactionalStore)). The
//! [`ProjectionRunner`] commits each batch together with the projection's checkpoint, so:
//!
//! - **A read model in the store's database** (tables written through the transaction's
//!   connection) is updated **exactly once** per event: a crash rolls back the batch's rows and
//!   its checkpoint together, and the runner resumes from the last committed checkpoint.
//! - **A read model elsewhere** (a search index, a cache, another database) is updated **at
//!   least once**: its writes cannot join the transaction, so after a crash the events since
//!   the last checkpoint are applied again. Each event carries its
//!   [`global_position`](crate::RecordedEvent::global_position); store it with the write
//!   (`... WHERE last_position < $position`) to make re-application a no-op.
//!
//! Failures follow the projection's [`ErrorPolicy`]: retry with backoff, then move the event
//! to a [`DeadLetter`](crate::DeadLetter) that keeps the error, or stop. A failing projection
//! is always visible in its [`ProjectionStatus`] and in the logs; it never stalls silently.
//!
//! [`RunningProjections::rebuild`] replays the log into a fresh instance beside the live one
//! while the live one keeps running, then swaps them in one transaction (see
//! [`Projection::prepare`] and [`Projection::promote`]).
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use std::sync::{Arc, Mutex};
//! use eventcore::projection::{Projection, ProjectionOptions, ProjectionRunner};
//! use eventcore::{AppendRequest, BoxError, EventAppender, EventReader, ExpectedVersion};
//! use eventcore::{InMemoryEventStore, InMemoryTransaction, NewEvent, RecordedEvent, StreamId};
//!
//! /// Counts events per type, in memory (at least once: a restart would count again).
//! #[derive(Clone, Default)]
//! struct TypeCounts(Arc<Mutex<std::collections::BTreeMap<String, u64>>>);
//!
//! #[eventcore::async_trait]
//! impl Projection<InMemoryTransaction> for TypeCounts {
//!     async fn apply(&mut self, _tx: &mut InMemoryTransaction, events: &[RecordedEvent]) -> Result<(), BoxError> {
//!         let mut counts = self.0.lock().unwrap();
//!         for event in events {
//!             *counts.entry(event.event_type.clone()).or_default() += 1;
//!         }
//!         Ok(())
//!     }
//! }
//!
//! let store = InMemoryEventStore::new();
//! let counts = TypeCounts::default();
//! let running = ProjectionRunner::new(store.clone())
//!     .add("type-counts", counts.clone(), ProjectionOptions::default())
//!     .start()
//!     .unwrap();
//! let payload = serde_json::value::to_raw_value(&1).unwrap();
//! let stream = StreamId::new("counter-1").unwrap();
//! store
//!     .append(AppendRequest::single(stream, ExpectedVersion::Any, vec![NewEvent::raw("Added", 1, payload)]))
//!     .await
//!     .unwrap();
//! running.wait_until("type-counts", store.head_position().await.unwrap()).await.unwrap();
//! assert_eq!(counts.0.lock().unwrap()["Added"], 1);
//! assert_eq!(running.status("type-counts").unwrap().lag(), 0);
//! running.shutdown().await.unwrap();
//! # });
//! ```

mod error;
mod follow;
mod policy;
mod process;
mod rebuild;
mod runner;
mod status;
mod typed;

use async_trait::async_trait;

use crate::error::BoxError;
use crate::event::RecordedEvent;

pub use error::ProjectionError;
pub(crate) use follow::panic_message;
pub use policy::{ErrorPolicy, Exhausted, ProjectionOptions};
pub(crate) use process::{Checkpoint, moved};
pub use rebuild::RebuildReport;
pub use runner::{ProjectionRunner, RunningProjections};
pub use status::{Failing, ProjectionMetrics, ProjectionState, ProjectionStatus, RebuildProgress};
pub use typed::{AggregateProjection, EventOf, Typed, UndecodableEvent};

/// A read model fed from the log. `Tx` is the store's transaction type; a projection whose
/// model lives in the store's database writes through it.
#[async_trait]
pub trait Projection<Tx: Send>: Send + 'static {
    /// Applies `events` (consecutive in global order, never empty) inside `tx`. An error rolls
    /// the whole batch back; the runner then applies the events one by one under the
    /// projection's [`ErrorPolicy`], so this is also called with a single event.
    async fn apply(&mut self, tx: &mut Tx, events: &[RecordedEvent]) -> Result<(), BoxError>;

    /// Whether `event` may change this projection (every event by default). The runner skips
    /// a batch with no such event without a transaction: the checkpoint moves on in memory
    /// (and in [`RunningProjections::status`]) and is stored with the next batch it applies,
    /// so after a restart those events are read again, and skipped again. Answer `true` for
    /// anything [`apply`](Self::apply) acts on; a wrong `false` loses the event.
    fn wants(&self, event: &RecordedEvent) -> bool {
        let _ = event;
        true
    }

    /// Called on a fresh instance before a rebuild replays the log into it: create or empty
    /// its storage, beside the live model's (a crashed rebuild leaves a partial one behind,
    /// which the next rebuild's `prepare` must clear).
    async fn prepare(&mut self, tx: &mut Tx) -> Result<(), BoxError> {
        let _ = tx;
        Ok(())
    }

    /// Called on a rebuilt instance, in the transaction that makes it the live one: put its
    /// storage in the live model's place (rename tables, repoint a view) and write there from
    /// now on. Readers see the old model up to this commit and the rebuilt one after it.
    async fn promote(&mut self, tx: &mut Tx) -> Result<(), BoxError> {
        let _ = tx;
        Ok(())
    }
}
