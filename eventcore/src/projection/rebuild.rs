//! Rebuilding beside the live projection: a fresh instance replays the log up to the live
//! checkpoint, in steps interleaved with the live batches, then takes the live one's place.

use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::Projection;
use super::error::{Cause, ProjectionError};
use super::process::{Checkpoint, Halt, Worker, moved};
use super::status::RebuildProgress;
use crate::transaction::{RuntimeStore, StoreTransaction};

/// The outcome of a finished rebuild.
#[derive(Clone, Debug, PartialEq)]
pub struct RebuildReport {
    /// Events replayed.
    pub events: u64,
    /// The checkpoint at which the rebuilt instance took over.
    pub checkpoint: u64,
    /// How long it took.
    pub elapsed: Duration,
}

pub(crate) type Reply = oneshot::Sender<Result<RebuildReport, ProjectionError>>;

/// A rebuild in progress. Its position lives only in memory: after a crash the next rebuild
/// starts over (and [`Projection::prepare`] clears what this one left).
pub(crate) struct Rebuild<S: RuntimeStore> {
    pub(crate) projection: Box<dyn Projection<S::Transaction>>,
    next: u64,
    done: u64,
    total: u64,
    started: Instant,
    reply: Reply,
}

/// What swapping a caught-up rebuild in came to.
pub(crate) enum Swap<S: RuntimeStore> {
    /// It is the live instance now.
    Promoted(Box<dyn Projection<S::Transaction>>),
    /// The live checkpoint had moved on to this position (a replica): replay further first.
    Behind(Rebuild<S>, u64),
    /// Promotion failed; the caller was told and the rebuild is dropped.
    Failed,
}

/// What a rebuild step came to.
pub(crate) enum Step {
    /// More to replay.
    Continue,
    /// Caught up with the live checkpoint: ready to swap.
    CaughtUp,
}

impl<S: RuntimeStore> Rebuild<S> {
    /// Prepares the fresh instance (retrying store failures); `None` if that failed, after
    /// telling the caller.
    pub(crate) async fn start(
        worker: &Worker<S>,
        mut projection: Box<dyn Projection<S::Transaction>>,
        reply: Reply,
    ) -> Result<Option<Self>, Halt> {
        let head = worker.retry_store(|| worker.store.head_position()).await?;
        let total = worker
            .retry_store(|| worker.store.count_events_through(head))
            .await?;
        let prepared = async {
            let mut tx = worker.store.begin().await?;
            projection
                .prepare(&mut tx)
                .await
                .map_err(|e| ProjectionError::rebuild(&worker.name, Cause::from(e)))?;
            tx.commit().await?;
            Ok::<_, ProjectionError>(())
        }
        .await;
        if let Err(error) = prepared {
            let _ = reply.send(Err(error));
            return Ok(None);
        }
        tracing::info!(projection = %worker.name, total, "rebuild started");
        let rebuild = Self {
            projection,
            next: 1,
            done: 0,
            total,
            started: Instant::now(),
            reply,
        };
        rebuild.report(worker);
        Ok(Some(rebuild))
    }

    fn report(&self, worker: &Worker<S>) {
        let elapsed = self.started.elapsed();
        let progress = RebuildProgress {
            done: self.done,
            total: self.total.max(self.done),
            rate: self.done as f64 / elapsed.as_secs_f64().max(1e-9),
            elapsed,
        };
        worker.update(|s| s.rebuild = Some(progress));
    }

    /// Replays the next batch up to `live_checkpoint`.
    pub(crate) async fn step(
        &mut self,
        worker: &Worker<S>,
        batch_size: usize,
        live_checkpoint: u64,
    ) -> Result<Step, Halt> {
        if self.next > live_checkpoint {
            return Ok(Step::CaughtUp);
        }
        let next = self.next;
        let mut events = worker
            .retry_store(|| worker.store.read_all(next, batch_size))
            .await?;
        events.retain(|e| e.global_position <= live_checkpoint);
        let Some(last) = events.last().map(|e| e.global_position) else {
            return Ok(Step::CaughtUp);
        };
        worker
            .process(self.projection.as_mut(), &events, None)
            .await?;
        self.next = last + 1;
        self.done += events.len() as u64;
        self.report(worker);
        Ok(Step::Continue)
    }

    /// Makes the rebuilt instance live at `checkpoint`: checks the stored checkpoint is still
    /// there, promotes the instance and sets the checkpoint, in one transaction.
    pub(crate) async fn swap(mut self, worker: &Worker<S>, checkpoint: u64) -> Swap<S> {
        let promoted = async {
            let mut tx = worker.store.begin().await?;
            let current = Checkpoint {
                name: &worker.name,
                at: checkpoint,
            };
            if let Some(stored) = moved(&mut tx, current).await? {
                return Ok(Some(stored));
            }
            self.projection
                .promote(&mut tx)
                .await
                .map_err(|e| ProjectionError::rebuild(&worker.name, Cause::from(e)))?;
            tx.save_checkpoint(&worker.name, checkpoint).await?;
            tx.commit().await?;
            Ok::<_, ProjectionError>(None)
        }
        .await;
        match promoted {
            Ok(Some(moved)) => return Swap::Behind(self, moved),
            Ok(None) => {}
            Err(error) => {
                worker.update(|s| s.rebuild = None);
                let _ = self.reply.send(Err(error));
                return Swap::Failed;
            }
        }
        worker.update(|s| s.rebuild = None);
        let report = RebuildReport {
            events: self.done,
            checkpoint,
            elapsed: self.started.elapsed(),
        };
        tracing::info!(projection = %worker.name, events = report.events, elapsed = ?report.elapsed, "rebuild swapped in");
        let _ = self.reply.send(Ok(report));
        Swap::Promoted(self.projection)
    }

    /// Abandons the rebuild, telling the caller why.
    pub(crate) fn fail(self, worker: &Worker<S>, error: ProjectionError) {
        worker.update(|s| s.rebuild = None);
        let _ = self.reply.send(Err(error));
    }
}
