//! Applying a batch: one transaction with the checkpoint; on failure, event by event under the
//! projection's error policy.

use std::sync::{Arc, OnceLock};

use tokio::sync::watch;

use super::Projection;
use super::error::Cause;
use super::policy::{ErrorPolicy, Exhausted};
use super::status::{Failing, ProjectionMetrics, ProjectionStatus};
use crate::error::{BoxError, StoreError};
use crate::event::RecordedEvent;
use crate::transaction::{
    DeadLetter, RuntimeStore, RuntimeTransaction, StoreTransaction, TransactionalStore,
};

/// Why processing ended early.
#[derive(Debug)]
pub(crate) enum Halt {
    /// The policy stopped the projection before the event at `position`, on `error` (in
    /// words; `cause` is the error itself).
    Stopped {
        position: u64,
        error: String,
        cause: Option<Cause>,
    },
    /// Shutdown was requested while waiting to retry.
    ShutDown,
    /// Another runner of the same projection (a replica) moved the checkpoint to this
    /// position: nothing was applied; read on from there.
    Moved(u64),
}

/// The checkpoint a batch commits: its name and the position it must still be at (the
/// position the batch was read after).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Checkpoint<'a> {
    pub(crate) name: &'a str,
    pub(crate) at: u64,
}

/// A failed attempt: the projection's own error follows the policy; a store error is retried.
enum AttemptError {
    Projection(BoxError),
    Store(StoreError),
    /// The stored checkpoint is not where the batch started (a replica moved it).
    Moved(u64),
}

impl std::fmt::Display for AttemptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Projection(error) => write!(f, "{error}"),
            Self::Store(error) => write!(f, "store: {error}"),
            Self::Moved(position) => write!(f, "checkpoint moved to {position} by another runner"),
        }
    }
}

impl AttemptError {
    /// A projection's error; a transient [`StoreError`] it passed on (the connection failed,
    /// a concurrent save won) counts as a store failure, retried without limit.
    fn from_projection(error: BoxError) -> Self {
        match error.downcast::<StoreError>() {
            Ok(store) if store.is_transient() => Self::Store(*store),
            Ok(store) => Self::Projection(store),
            Err(error) => Self::Projection(error),
        }
    }
}

impl From<StoreError> for AttemptError {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

/// What one projection's task shares between its live instance and a rebuild.
pub(crate) struct Worker<S: RuntimeStore> {
    pub(crate) store: S,
    pub(crate) name: String,
    pub(crate) policy: ErrorPolicy,
    pub(crate) status: watch::Sender<ProjectionStatus>,
    pub(crate) metrics: Option<Arc<dyn ProjectionMetrics>>,
    pub(crate) shutdown: watch::Receiver<bool>,
    /// The error the live instance stopped on, for whoever waits on the projection.
    pub(crate) stopped_by: Arc<OnceLock<Cause>>,
    /// Notified by a `wait_until` the projection has not reached: no linger then.
    pub(crate) hurry: Arc<tokio::sync::Notify>,
}

type Dyn<S> = dyn Projection<<S as TransactionalStore>::Transaction>;

/// Locks the checkpoint for the transaction and checks it is still where the batch started,
/// so that two runners of one projection never both apply a batch.
async fn verify<Tx: StoreTransaction>(
    tx: &mut Tx,
    checkpoint: Option<Checkpoint<'_>>,
) -> Result<(), AttemptError> {
    if let Some(current) = checkpoint {
        if let Some(stored) = moved(tx, current).await? {
            return Err(AttemptError::Moved(stored));
        }
    }
    Ok(())
}

/// Locks the checkpoint for the transaction; the position it moved to, if it is no longer
/// at `current.at`.
pub(crate) async fn moved<Tx: StoreTransaction>(
    tx: &mut Tx,
    current: Checkpoint<'_>,
) -> Result<Option<u64>, StoreError> {
    let stored = tx.checkpoint(current.name).await?.unwrap_or(0);
    Ok((stored != current.at).then_some(stored))
}

impl<S: RuntimeStore> Worker<S> {
    /// Updates the status and tells the metrics hook.
    pub(crate) fn update(&self, change: impl FnOnce(&mut ProjectionStatus)) {
        self.status.send_modify(change);
        if let Some(metrics) = &self.metrics {
            metrics.record(&self.status.borrow());
        }
    }

    /// Sleeps for `delay`, or less if shutdown is requested (then `Err`).
    pub(crate) async fn pause(&self, delay: std::time::Duration) -> Result<(), Halt> {
        let mut shutdown = self.shutdown.clone();
        tokio::select! {
            () = tokio::time::sleep(delay) => Ok(()),
            _ = shutdown.wait_for(|stop| *stop) => Err(Halt::ShutDown),
        }
    }

    /// Applies `events` (non-empty) to `projection`, committing `checkpoint` (if given) with
    /// them; returns how many were applied (the rest went to dead letters).
    pub(crate) async fn process(
        &self,
        projection: &mut Dyn<S>,
        events: &[RecordedEvent],
        checkpoint: Option<Checkpoint<'_>>,
    ) -> Result<u64, Halt> {
        // A store failure says nothing about the events: the batch is tried again whole. A
        // failure of the projection is narrowed down event by event.
        let mut store_failures = 0;
        loop {
            match self.attempt(projection, events, checkpoint).await {
                Ok(()) => {
                    if store_failures > 0 {
                        self.update(|s| s.failing = None);
                    }
                    self.committed(events, checkpoint);
                    return Ok(events.len() as u64);
                }
                Err(AttemptError::Moved(position)) => return Err(Halt::Moved(position)),
                Err(AttemptError::Store(error)) => {
                    store_failures += 1;
                    self.store_failed(&error, store_failures);
                    self.pause(self.policy.delay(store_failures)).await?;
                }
                Err(error) => {
                    if events.len() > 1 {
                        tracing::debug!(
                            projection = %self.name, %error,
                            "batch failed; applying its events one by one"
                        );
                    }
                    break;
                }
            }
        }
        let mut applied = 0;
        let mut checkpoint = checkpoint;
        for event in events {
            applied += u64::from(self.process_one(projection, event, checkpoint).await?);
            if let Some(current) = checkpoint.as_mut() {
                current.at = event.global_position;
            }
        }
        Ok(applied)
    }

    /// One event under the policy; `true` if applied, `false` if dead-lettered.
    async fn process_one(
        &self,
        projection: &mut Dyn<S>,
        event: &RecordedEvent,
        checkpoint: Option<Checkpoint<'_>>,
    ) -> Result<bool, Halt> {
        let position = event.global_position;
        // A rebuild (no checkpoint) never dead-letters or waits forever: it gives up, the live
        // projection goes on, and its status shows nothing of the rebuild's failures.
        let live = checkpoint.is_some();
        let policy = if live {
            self.policy
        } else {
            self.policy.for_rebuild()
        };
        // All failed attempts pace the backoff; only the projection's own count against the
        // policy (a database blip says nothing about the event).
        let (mut failures, mut rejections) = (0, 0);
        loop {
            let error = match self
                .attempt(projection, std::slice::from_ref(event), checkpoint)
                .await
            {
                Ok(()) => {
                    if live && failures > 0 {
                        self.update(|s| s.failing = None);
                    }
                    self.committed(std::slice::from_ref(event), checkpoint);
                    return Ok(true);
                }
                Err(AttemptError::Moved(position)) => return Err(Halt::Moved(position)),
                Err(error) => error,
            };
            failures += 1;
            let message = error.to_string();
            tracing::warn!(projection = %self.name, position, attempt = failures, error = %message, "projection failed on an event");
            if let AttemptError::Projection(cause) = error {
                rejections += 1;
                if policy.is_exhausted(rejections) {
                    return match policy.exhausted {
                        Exhausted::Stop => Err(Halt::Stopped {
                            position,
                            error: message,
                            cause: Some(Cause::from(cause)),
                        }),
                        Exhausted::DeadLetter => {
                            let letter = DeadLetter::new(&self.name, event, message, rejections);
                            self.dead_letter(&letter, checkpoint).await?;
                            Ok(false)
                        }
                    };
                }
            }
            if live {
                self.update(|s| {
                    s.failing = Some(Failing {
                        position,
                        attempts: failures,
                        error: message,
                    })
                });
            }
            self.pause(policy.delay(failures)).await?;
        }
    }

    /// Records `letter` and moves the checkpoint past it, retrying store failures.
    async fn dead_letter(
        &self,
        letter: &DeadLetter,
        checkpoint: Option<Checkpoint<'_>>,
    ) -> Result<(), Halt> {
        let mut failures = 0;
        loop {
            let result = async {
                let mut tx = self.store.begin().await?;
                verify(&mut tx, checkpoint).await?;
                tx.record_dead_letter(letter).await?;
                if let Some(current) = checkpoint {
                    tx.save_checkpoint(current.name, letter.position).await?;
                }
                tx.commit().await?;
                Ok::<_, AttemptError>(())
            }
            .await;
            match result {
                Err(AttemptError::Moved(position)) => return Err(Halt::Moved(position)),
                Ok(()) => {
                    tracing::error!(projection = %self.name, position = letter.position, error = %letter.error, "event moved to dead letters");
                    self.update(|s| {
                        s.failing = None;
                        s.dead_lettered += 1;
                        if checkpoint.is_some() {
                            s.checkpoint = letter.position;
                        }
                    });
                    return Ok(());
                }
                Err(error) => {
                    failures += 1;
                    tracing::warn!(projection = %self.name, %error, "recording a dead letter failed");
                    self.pause(self.policy.delay(failures)).await?;
                }
            }
        }
    }

    /// Shows a committed batch of the live instance in the status.
    fn committed(&self, events: &[RecordedEvent], checkpoint: Option<Checkpoint<'_>>) {
        if let (Some(_), Some(last)) = (checkpoint, events.last()) {
            self.update(|s| {
                s.checkpoint = last.global_position;
                s.head = s.head.max(last.global_position);
                s.processed += events.len() as u64;
            });
        }
    }

    /// One transaction: the events, then the checkpoint.
    async fn attempt(
        &self,
        projection: &mut Dyn<S>,
        events: &[RecordedEvent],
        checkpoint: Option<Checkpoint<'_>>,
    ) -> Result<(), AttemptError> {
        let mut tx = self.store.begin().await?;
        if let (Some(current), Some(last)) = (checkpoint, events.last()) {
            let to = last.global_position;
            if let Some(stored) = tx.advance_checkpoint(current.name, current.at, to).await? {
                return Err(AttemptError::Moved(stored));
            }
        }
        projection
            .apply(&mut tx, events)
            .await
            .map_err(AttemptError::from_projection)?;
        tx.commit().await?;
        Ok(())
    }

    /// Shows a store failure (not tied to an event) in the status and the logs.
    fn store_failed(&self, error: &dyn std::fmt::Display, attempts: u32) {
        tracing::warn!(projection = %self.name, %error, "store failed; retrying");
        self.update(|s| {
            s.failing = Some(Failing {
                position: 0,
                attempts,
                error: error.to_string(),
            })
        });
    }

    /// Retries a store operation until it succeeds (or shutdown), showing the failure.
    pub(crate) async fn retry_store<T, F, Fut>(&self, mut operation: F) -> Result<T, Halt>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, StoreError>>,
    {
        let mut failures = 0;
        loop {
            match operation().await {
                Ok(value) => {
                    if failures > 0 {
                        self.update(|s| s.failing = None);
                    }
                    return Ok(value);
                }
                Err(error) => {
                    failures += 1;
                    self.store_failed(&error, failures);
                    self.pause(self.policy.delay(failures)).await?;
                }
            }
        }
    }
}
