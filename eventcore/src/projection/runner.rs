//! The runner: one task per projection, catching up from its checkpoint and following the log.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::Projection;
use super::error::{Cause, ProjectionError};
use super::follow::{Boxed, Control, run};
use super::policy::ProjectionOptions;
use super::process::Worker;
use super::rebuild::RebuildReport;
use super::status::{ProjectionMetrics, ProjectionState, ProjectionStatus};
use crate::transaction::RuntimeStore;

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
            let stopped_by = Arc::new(OnceLock::new());
            let hurry = Arc::new(Notify::new());
            let worker = Worker {
                hurry: hurry.clone(),
                store: self.store.clone(),
                name: entry.name.clone(),
                policy: entry.options.policy,
                status,
                metrics: self.metrics.clone(),
                shutdown: shutdown.subscribe(),
                stopped_by: stopped_by.clone(),
            };
            let task = tokio::spawn(run(worker, entry.projection, entry.options, control_rx));
            running.insert(
                entry.name,
                Running {
                    status: status_rx,
                    control,
                    task,
                    stopped_by,
                    hurry,
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
    /// The error the projection stopped on (set before the status says stopped).
    stopped_by: Arc<OnceLock<Cause>>,
    /// Cuts the projection's linger short: someone waits for it.
    hurry: Arc<Notify>,
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
        let running = self.get(name)?;
        if running.status.borrow().checkpoint < position {
            running.hurry.notify_one();
        }
        let mut status = running.status.clone();
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
                source: running.stopped_by.get().cloned(),
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
