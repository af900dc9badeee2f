//! One projection's task: it resumes from the checkpoint, applies the log batch by batch to the
//! live instance, replays a rebuild beside it and swaps it in, and waits for news when caught
//! up; how it ends shows in the status.

use std::ops::ControlFlow;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures::FutureExt;
use tokio::sync::{mpsc, oneshot, watch};

use super::Projection;
use super::error::ProjectionError;
use super::policy::ProjectionOptions;
use super::process::{Checkpoint, Halt, Worker};
use super::rebuild::{Rebuild, RebuildReport, Step, Swap};
use super::status::ProjectionState;
use crate::transaction::{RuntimeStore, StoreTransaction, TransactionalStore};

/// A projection instance, boxed.
pub(super) type Boxed<S> = Box<dyn Projection<<S as TransactionalStore>::Transaction>>;

/// What [`RunningProjections`](super::RunningProjections) asks of a projection's task.
pub(super) enum Control<S: RuntimeStore> {
    /// Rebuild into this fresh instance and reply when it is live (or failed).
    Rebuild(
        Boxed<S>,
        oneshot::Sender<Result<RebuildReport, ProjectionError>>,
    ),
}

/// The text of a panic's payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned())
}

/// One projection's task, start to end: follows the log until shutdown or a stop (or a panic),
/// then shows in the status how it ended.
pub(super) async fn run<S: RuntimeStore>(
    worker: Worker<S>,
    projection: Boxed<S>,
    options: ProjectionOptions,
    control: mpsc::Receiver<Control<S>>,
) {
    let outcome = AssertUnwindSafe(follow(&worker, projection, options, control))
        .catch_unwind()
        .await;
    let state = match outcome {
        Ok(Ok(()) | Err(Halt::ShutDown | Halt::Moved(_))) => ProjectionState::ShutDown,
        Ok(Err(Halt::Stopped {
            position,
            error,
            cause,
        })) => {
            tracing::error!(projection = %worker.name, position, %error, "projection stopped");
            if let Some(cause) = cause {
                // Set before the status says stopped, so that a waiter woken by it finds it.
                let _ = worker.stopped_by.set(cause);
            }
            ProjectionState::Stopped { position, error }
        }
        Err(panic) => {
            // The open batch transaction was dropped (rolled back) while unwinding.
            let position = worker.status.borrow().checkpoint + 1;
            let error = format!("the projection panicked: {}", panic_message(&*panic));
            tracing::error!(projection = %worker.name, position, %error, "projection stopped");
            ProjectionState::Stopped { position, error }
        }
    };
    worker.update(|s| s.state = state);
}

/// Follows the log from the stored checkpoint until shutdown (`Ok`) or a halt.
async fn follow<S: RuntimeStore>(
    worker: &Worker<S>,
    live: Boxed<S>,
    options: ProjectionOptions,
    control: mpsc::Receiver<Control<S>>,
) -> Result<(), Halt> {
    let checkpoint = worker
        .retry_store(|| worker.store.load_checkpoint(&worker.name))
        .await?
        .unwrap_or(0);
    worker.update(|s| s.checkpoint = checkpoint);
    let follower = Follower {
        worker,
        live,
        checkpoint,
        stored: checkpoint,
        batch_size: options.batch_size.max(1),
        fallback_poll: options.fallback_poll,
        linger: options.linger,
        rebuild: None,
        control,
        control_open: true,
        message: None,
        wake: worker.store.head_watch(),
        shutdown: worker.shutdown.clone(),
    };
    follower.run().await
}

/// Where one projection's task stands.
struct Follower<'w, S: RuntimeStore> {
    worker: &'w Worker<S>,
    /// The instance the checkpoint belongs to.
    live: Boxed<S>,
    /// The position of the last event the live instance applied or skipped.
    checkpoint: u64,
    /// The checkpoint as stored (behind `checkpoint` after skipped batches).
    stored: u64,
    batch_size: usize,
    fallback_poll: Duration,
    linger: Duration,
    /// A rebuild replaying beside the live instance.
    rebuild: Option<Rebuild<S>>,
    control: mpsc::Receiver<Control<S>>,
    /// Whether `control` can still deliver (every handle may have gone).
    control_open: bool,
    /// A message received while waiting, not acted on yet.
    message: Option<Control<S>>,
    /// Changes when the log's head may have moved.
    wake: watch::Receiver<u64>,
    shutdown: watch::Receiver<bool>,
}

impl<S: RuntimeStore> Follower<'_, S> {
    /// Until shutdown or a halt: act on control messages, apply the next batch, advance a
    /// rebuild, and wait for news once caught up.
    async fn run(mut self) -> Result<(), Halt> {
        loop {
            if self.shutdown_requested() {
                self.abandon_rebuild();
                self.store_skipped().await;
                return Ok(());
            }
            self.act_on_control().await?;
            self.wake.borrow_and_update();
            let read = match self.apply_next_batch().await {
                Ok(Some(read)) => read,
                // A replica moved the checkpoint: read on from there.
                Ok(None) => continue,
                Err(halt) => {
                    self.abandon_rebuild();
                    return Err(halt);
                }
            };
            if self.rebuild.is_some() {
                // A rebuild interleaves with the live batches and never waits.
                if self.advance_rebuild().await.is_break() {
                    return Ok(());
                }
                continue;
            }
            if read < self.batch_size {
                self.wait_for_news().await;
                self.linger().await;
            }
        }
    }

    /// Whether shutdown was asked for (a dropped handle counts as a request).
    fn shutdown_requested(&self) -> bool {
        *self.shutdown.borrow() || self.shutdown.has_changed().is_err()
    }

    /// Tells the caller of a rebuild in progress that it will not finish.
    fn abandon_rebuild(&mut self) {
        if let Some(rebuild) = self.rebuild.take() {
            let error = ProjectionError::NotRunning(self.worker.name.clone());
            rebuild.fail(self.worker, error);
        }
    }

    /// Acts on a control message, if one came: starts a rebuild, one at a time.
    async fn act_on_control(&mut self) -> Result<(), Halt> {
        let message = self.message.take().or_else(|| self.control.try_recv().ok());
        let Some(Control::Rebuild(fresh, reply)) = message else {
            return Ok(());
        };
        if self.rebuild.is_some() {
            let error = ProjectionError::Rebuild {
                name: self.worker.name.clone(),
                error: "a rebuild is already running".into(),
                source: None,
            };
            let _ = reply.send(Err(error));
        } else {
            self.rebuild = Rebuild::start(self.worker, fresh, reply).await?;
        }
        Ok(())
    }

    /// Reads the batch after the checkpoint and applies it to the live instance, committing the
    /// checkpoint with it. How many events it read, or `None` if a replica had moved the
    /// checkpoint (nothing was applied).
    async fn apply_next_batch(&mut self) -> Result<Option<usize>, Halt> {
        let worker = self.worker;
        let (from, batch_size) = (self.checkpoint + 1, self.batch_size);
        let events = worker
            .retry_store(|| worker.store.read_all_following(from, batch_size))
            .await?;
        let Some(last) = events.last().map(|e| e.global_position) else {
            return Ok(Some(0));
        };
        // Nothing here for the projection: no transaction (a rebuild needs the stored
        // checkpoint where the live one is, to swap in).
        if self.rebuild.is_none() && !events.iter().any(|e| self.live.wants(e)) {
            self.checkpoint = last;
            worker.update(|s| {
                s.checkpoint = last;
                s.processed += events.len() as u64;
            });
            self.show_lag(last);
            return Ok(Some(events.len()));
        }
        let current = Checkpoint {
            name: &worker.name,
            at: self.stored,
        };
        match worker
            .process(self.live.as_mut(), &events, Some(current))
            .await
        {
            Ok(_) => (self.checkpoint, self.stored) = (last, last),
            Err(Halt::Moved(position)) => {
                tracing::debug!(projection = %worker.name, position, "checkpoint moved by another runner");
                (self.checkpoint, self.stored) = (position, position);
                worker.update(|s| s.checkpoint = position);
                return Ok(None);
            }
            Err(halt) => return Err(halt),
        }
        self.show_lag(last);
        Ok(Some(events.len()))
    }

    /// Shows how far the checkpoint (`last`) is behind the head, as the store's head watch
    /// (what wakes this runner) last told it: no query per batch. Behind the true head at
    /// most until the watch's next change, which wakes the runner for another batch anyway.
    fn show_lag(&self, last: u64) {
        let worker = self.worker;
        let head = (*self.wake.borrow()).max(last);
        worker.update(|s| s.head = head);
        tracing::debug!(projection = %worker.name, checkpoint = self.checkpoint, lag = head - last, "batch committed");
    }

    /// Replays the rebuild's next batch, or swaps it in once it caught up with the live
    /// checkpoint. A rebuild that stops fails alone (the live instance goes on); `Break` when
    /// shutdown interrupted it.
    async fn advance_rebuild(&mut self) -> ControlFlow<()> {
        let Some(mut rebuild) = self.rebuild.take() else {
            return ControlFlow::Continue(());
        };
        let worker = self.worker;
        match rebuild.step(worker, self.batch_size, self.checkpoint).await {
            Ok(Step::Continue) => self.rebuild = Some(rebuild),
            Ok(Step::CaughtUp) => self.swap_in(rebuild).await,
            Err(Halt::Stopped {
                position,
                error,
                cause,
            }) => {
                let error = ProjectionError::Stopped {
                    name: worker.name.clone(),
                    position,
                    error,
                    source: cause,
                };
                rebuild.fail(worker, error);
            }
            Err(Halt::ShutDown | Halt::Moved(_)) => {
                rebuild.fail(worker, ProjectionError::NotRunning(worker.name.clone()));
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    }

    /// Makes a caught-up rebuild the live instance, unless a replica moved the live checkpoint
    /// on meanwhile (then the rebuild catches up first).
    async fn swap_in(&mut self, rebuild: Rebuild<S>) {
        match rebuild.swap(self.worker, self.checkpoint).await {
            Swap::Promoted(promoted) => self.live = promoted,
            Swap::Behind(rebuild, position) => {
                (self.checkpoint, self.stored) = (position, position);
                self.rebuild = Some(rebuild);
            }
            Swap::Failed => {}
        }
    }

    /// Waits [`linger`](ProjectionOptions::linger) for more appends, unless someone waits
    /// for the projection (`wait_until`: read-your-writes does not linger) or shutdown.
    async fn linger(&mut self) {
        if self.linger.is_zero() || self.shutdown_requested() {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(self.linger) => {}
            () = self.worker.hurry.notified() => {}
            _ = self.shutdown.changed() => {}
        }
    }

    /// On shutdown, stores a checkpoint that skipped batches left behind (best effort: a
    /// restart reads those events again and skips them again).
    async fn store_skipped(&mut self) {
        if self.checkpoint <= self.stored {
            return;
        }
        let (name, from, to) = (&self.worker.name, self.stored, self.checkpoint);
        let saved = async {
            let mut tx = self.worker.store.begin().await?;
            if tx.advance_checkpoint(name, from, to).await?.is_none() {
                tx.commit().await?;
            }
            Ok::<_, crate::error::StoreError>(())
        };
        if let Err(error) = saved.await {
            tracing::debug!(projection = %name, %error, "storing the checkpoint at shutdown failed");
        }
    }

    /// Caught up: waits for an append, a control message, shutdown, or the fallback poll.
    async fn wait_for_news(&mut self) {
        tokio::select! {
            () = crate::subscription::wait(&mut self.wake, self.fallback_poll) => {}
            received = self.control.recv(), if self.control_open => {
                self.control_open = received.is_some();
                self.message = received;
            }
            _ = self.shutdown.changed() => {}
        }
    }
}
