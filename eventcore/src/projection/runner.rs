//! The runner: one task per projection, catching up from its checkpoint and following the log.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::Projection;
use super::policy::ProjectionOptions;
use super::process::{Checkpoint, Halt, Worker};
use super::rebuild::{Rebuild, RebuildReport, Step, Swap};
use super::status::{ProjectionMetrics, ProjectionState, ProjectionStatus};
use crate::error::StoreError;
use crate::transaction::{RuntimeStore, TransactionalStore};

/// What can go wrong running projections.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// No projection has that name.
    #[error("no projection named {0:?}")]
    Unknown(String),
    /// Two projections were given the same name (they would share a checkpoint).
    #[error("two projections are named {0:?}")]
    DuplicateName(String),
    /// The projection stopped under its error policy.
    #[error("projection {name:?} stopped before position {position}: {error}")]
    Stopped {
        /// The projection.
        name: String,
        /// The event it stopped before.
        position: u64,
        /// The last error.
        error: String,
    },
    /// The projection is shut down (or its task ended).
    #[error("projection {0:?} is not running")]
    NotRunning(String),
    /// A rebuild could not be prepared, replayed or swapped in; the live projection goes on.
    #[error("rebuild of {name:?} failed: {error}")]
    Rebuild {
        /// The projection.
        name: String,
        /// Why.
        error: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A projection's task panicked.
    #[error("projection task panicked: {0}")]
    Panicked(String),
}

type Boxed<S> = Box<dyn Projection<<S as TransactionalStore>::Transaction>>;

enum Control<S: RuntimeStore> {
    Rebuild(
        Boxed<S>,
        oneshot::Sender<Result<RebuildReport, ProjectionError>>,
    ),
}

struct Entry<S: RuntimeStore> {
    name: String,
    projection: Boxed<S>,
    options: ProjectionOptions,
}

/// Runs projections side by side, each in its own task with its own checkpoint.
pub struct ProjectionRunner<S: RuntimeStore> {
    store: S,
    entries: Vec<Entry<S>>,
    metrics: Option<Arc<dyn ProjectionMetrics>>,
}

impl<S: RuntimeStore> std::fmt::Debug for ProjectionRunner<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.entries.iter().map(|e| e.name.as_str()).collect();
        f.debug_struct("ProjectionRunner")
            .field("projections", &names)
            .finish()
    }
}

impl<S: RuntimeStore> ProjectionRunner<S> {
    /// A runner over `store`'s log and transactions.
    pub fn new(store: S) -> Self {
        Self {
            store,
            entries: Vec::new(),
            metrics: None,
        }
    }

    /// Adds a projection; `name` names its checkpoint, so keep it stable across releases.
    pub fn add(
        mut self,
        name: impl Into<String>,
        projection: impl Projection<S::Transaction>,
        options: ProjectionOptions,
    ) -> Self {
        self.entries.push(Entry {
            name: name.into(),
            projection: Box::new(projection),
            options,
        });
        self
    }

    /// Sends every status change to `metrics`.
    pub fn with_metrics(mut self, metrics: impl ProjectionMetrics) -> Self {
        self.metrics = Some(Arc::new(metrics));
        self
    }

    /// Starts every projection (on the current tokio runtime).
    ///
    /// # Errors
    /// [`ProjectionError::DuplicateName`]; nothing is started then.
    pub fn start(self) -> Result<RunningProjections<S>, ProjectionError> {
        let mut seen = std::collections::HashSet::new();
        for entry in &self.entries {
            if !seen.insert(entry.name.as_str()) {
                return Err(ProjectionError::DuplicateName(entry.name.clone()));
            }
        }
        let (shutdown, _) = watch::channel(false);
        let mut running = HashMap::new();
        for entry in self.entries {
            let (status, status_rx) = watch::channel(ProjectionStatus::new(&entry.name));
            let (control, control_rx) = mpsc::channel(4);
            let worker = Worker {
                store: self.store.clone(),
                name: entry.name.clone(),
                policy: entry.options.policy,
                status,
                metrics: self.metrics.clone(),
                shutdown: shutdown.subscribe(),
            };
            let task = tokio::spawn(run(worker, entry.projection, entry.options, control_rx));
            running.insert(
                entry.name,
                Running {
                    status: status_rx,
                    control,
                    task,
                },
            );
        }
        Ok(RunningProjections { shutdown, running })
    }
}

struct Running<S: RuntimeStore> {
    status: watch::Receiver<ProjectionStatus>,
    control: mpsc::Sender<Control<S>>,
    task: JoinHandle<()>,
}

/// Started projections: their status, rebuilds, and shutdown. Dropping it stops them after
/// their current batch, without waiting; [`shutdown`](Self::shutdown) also waits.
pub struct RunningProjections<S: RuntimeStore> {
    shutdown: watch::Sender<bool>,
    running: HashMap<String, Running<S>>,
}

impl<S: RuntimeStore> std::fmt::Debug for RunningProjections<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningProjections")
            .field("projections", &self.statuses())
            .finish()
    }
}

impl<S: RuntimeStore> RunningProjections<S> {
    fn get(&self, name: &str) -> Result<&Running<S>, ProjectionError> {
        self.running
            .get(name)
            .ok_or_else(|| ProjectionError::Unknown(name.to_owned()))
    }

    /// The named projection's status.
    pub fn status(&self, name: &str) -> Option<ProjectionStatus> {
        self.running.get(name).map(|r| r.status.borrow().clone())
    }

    /// Every projection's status, by name.
    pub fn statuses(&self) -> Vec<ProjectionStatus> {
        let mut all: Vec<_> = self
            .running
            .values()
            .map(|r| r.status.borrow().clone())
            .collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// Waits until the named projection's checkpoint reaches `position` (for example a head
    /// position read after a write: read-your-writes on the model).
    ///
    /// # Errors
    /// [`ProjectionError::Stopped`] or [`ProjectionError::NotRunning`] if it never will.
    pub async fn wait_until(&self, name: &str, position: u64) -> Result<(), ProjectionError> {
        let mut status = self.get(name)?.status.clone();
        let reached = status
            .wait_for(|s| s.checkpoint >= position || s.state != ProjectionState::Running)
            .await
            .map_err(|_| ProjectionError::NotRunning(name.to_owned()))?
            .clone();
        match reached.state {
            _ if reached.checkpoint >= position => Ok(()),
            ProjectionState::Stopped { position, error } => Err(ProjectionError::Stopped {
                name: name.to_owned(),
                position,
                error,
            }),
            _ => Err(ProjectionError::NotRunning(name.to_owned())),
        }
    }

    /// Rebuilds the named projection into `fresh` while the live instance keeps running:
    /// `fresh` is [prepared](Projection::prepare), replays the log up to the live checkpoint,
    /// and is [promoted](Projection::promote) in the transaction that makes it live. Progress
    /// shows in the status's `rebuild` (and the metrics hook). Returns when it is swapped in.
    ///
    /// # Errors
    /// [`ProjectionError::Rebuild`] (the live instance goes on), or the projection is not
    /// running.
    pub async fn rebuild(
        &self,
        name: &str,
        fresh: impl Projection<S::Transaction>,
    ) -> Result<RebuildReport, ProjectionError> {
        let (reply, done) = oneshot::channel();
        self.get(name)?
            .control
            .send(Control::Rebuild(Box::new(fresh), reply))
            .await
            .map_err(|_| ProjectionError::NotRunning(name.to_owned()))?;
        done.await
            .map_err(|_| ProjectionError::NotRunning(name.to_owned()))?
    }

    /// Stops every projection after its current batch and waits for them.
    ///
    /// # Errors
    /// [`ProjectionError::Panicked`] if a task panicked.
    pub async fn shutdown(self) -> Result<(), ProjectionError> {
        let _ = self.shutdown.send(true);
        for (_, running) in self.running {
            running
                .task
                .await
                .map_err(|e| ProjectionError::Panicked(e.to_string()))?;
        }
        Ok(())
    }

    /// Kills every projection's task at once, wherever it is (as a crash would: an open batch
    /// transaction is rolled back). For tests and emergencies; prefer
    /// [`shutdown`](Self::shutdown).
    pub async fn abort(self) {
        for (_, running) in self.running {
            running.task.abort();
            let _ = running.task.await;
        }
    }
}

/// The text of a panic's payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned())
}

/// One projection's task.
async fn run<S: RuntimeStore>(
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
        Ok(Err(Halt::Stopped { position, error })) => {
            tracing::error!(projection = %worker.name, position, %error, "projection stopped");
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

async fn follow<S: RuntimeStore>(
    worker: &Worker<S>,
    mut live: Boxed<S>,
    options: ProjectionOptions,
    mut control: mpsc::Receiver<Control<S>>,
) -> Result<(), Halt> {
    let batch_size = options.batch_size.max(1);
    let mut checkpoint = worker
        .retry_store(|| worker.store.load_checkpoint(&worker.name))
        .await?
        .unwrap_or(0);
    worker.update(|s| s.checkpoint = checkpoint);
    let mut wake = worker.store.head_watch();
    let mut shutdown = worker.shutdown.clone();
    let mut rebuild: Option<Rebuild<S>> = None;
    let mut message = None;
    let mut control_open = true;
    loop {
        // A dropped handle counts as a shutdown request.
        if *shutdown.borrow() || shutdown.has_changed().is_err() {
            if let Some(rebuild) = rebuild.take() {
                rebuild.fail(worker, ProjectionError::NotRunning(worker.name.clone()));
            }
            return Ok(());
        }
        if let Some(Control::Rebuild(fresh, reply)) =
            message.take().or_else(|| control.try_recv().ok())
        {
            if rebuild.is_some() {
                let error = ProjectionError::Rebuild {
                    name: worker.name.clone(),
                    error: "a rebuild is already running".into(),
                };
                let _ = reply.send(Err(error));
            } else {
                rebuild = Rebuild::start(worker, fresh, reply).await?;
            }
        }
        wake.borrow_and_update();
        let from = checkpoint + 1;
        let events = worker
            .retry_store(|| worker.store.read_all(from, batch_size))
            .await?;
        if let Some(last) = events.last().map(|e| e.global_position) {
            let current = Checkpoint {
                name: &worker.name,
                at: checkpoint,
            };
            match worker.process(live.as_mut(), &events, Some(current)).await {
                Ok(_) => checkpoint = last,
                Err(Halt::Moved(position)) => {
                    // A replica applied these; go on from where it got to.
                    tracing::debug!(projection = %worker.name, position, "checkpoint moved by another runner");
                    checkpoint = position;
                    worker.update(|s| s.checkpoint = position);
                    continue;
                }
                Err(halt) => {
                    if let Some(rebuild) = rebuild.take() {
                        rebuild.fail(worker, ProjectionError::NotRunning(worker.name.clone()));
                    }
                    return Err(halt);
                }
            }
            let head = worker
                .retry_store(|| worker.store.head_position())
                .await?
                .max(last);
            worker.update(|s| s.head = head);
            tracing::debug!(projection = %worker.name, checkpoint, lag = head - last, "batch committed");
        }
        if let Some(mut current) = rebuild.take() {
            match current.step(worker, batch_size, checkpoint).await {
                Ok(Step::Continue) => rebuild = Some(current),
                Ok(Step::CaughtUp) => match current.swap(worker, checkpoint).await {
                    Swap::Promoted(promoted) => live = promoted,
                    Swap::Behind(current, position) => {
                        // A replica moved the live checkpoint on: catch the rebuild up first.
                        checkpoint = position;
                        rebuild = Some(current);
                    }
                    Swap::Failed => {}
                },
                Err(Halt::Stopped { position, error }) => {
                    let error = ProjectionError::Stopped {
                        name: worker.name.clone(),
                        position,
                        error,
                    };
                    current.fail(worker, error);
                }
                Err(Halt::ShutDown | Halt::Moved(_)) => {
                    current.fail(worker, ProjectionError::NotRunning(worker.name.clone()));
                    return Ok(());
                }
            }
            continue;
        }
        if events.len() < batch_size {
            // Caught up: wait for an append, a message, shutdown, or the fallback poll.
            tokio::select! {
                () = crate::subscription::wait(&mut wake, options.fallback_poll) => {}
                received = control.recv(), if control_open => {
                    control_open = received.is_some();
                    message = received;
                }
                _ = shutdown.changed() => {}
            }
        }
    }
}
