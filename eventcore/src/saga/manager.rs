//! The saga manager: its parts, how it is built, and the background loop that
//! [`start`](SagaManager::start) runs. What it does with events, steps and deadlines, and what
//! it shows operators, lives beside it (`intake`, `dispatch`, `deadlines`, `operator`).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use async_trait::async_trait;
use futures::FutureExt;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use super::Saga;
use super::bus::CommandBus;
use super::clock::{Clock, SystemClock};
use super::error::SagaError;
use super::faults::{FaultInjector, NoFaults};
use super::options::SagaOptions;
use super::status::SagaStatus;
use super::view::SagaView;
use crate::error::BoxError;
use crate::event::RecordedEvent;
use crate::id::CommandId;
use crate::projection::{
    Projection, ProjectionError, ProjectionOptions, ProjectionRunner, ProjectionState,
    ProjectionStatus, RunningProjections,
};
use crate::transaction::RuntimeStore;
use crate::upcast::Upcasters;

/// Runs one saga type against a store and a command bus. Cloning gives another handle on the
/// same manager (options, clock and the signal [`wait_until`](Self::wait_until) listens to
/// are shared).
pub struct SagaManager<S: Saga, T: RuntimeStore, B: CommandBus<S::Command>> {
    pub(super) saga: Arc<S>,
    pub(super) store: T,
    pub(super) bus: Arc<B>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) faults: Arc<dyn FaultInjector>,
    pub(super) upcasters: Arc<Upcasters>,
    pub(super) options: SagaOptions,
    /// Wakes the dispatcher (events were handled, a parked saga was retried).
    pub(super) wake: Arc<Notify>,
    /// Bumped after every commit of a saga record through this manager or its clones.
    pub(super) commits: Arc<watch::Sender<u64>>,
    /// The instances waiters wait for, and their changes.
    pub(super) watched: Arc<super::watched::Watched>,
}

impl<S: Saga, T: RuntimeStore, B: CommandBus<S::Command>> Clone for SagaManager<S, T, B> {
    fn clone(&self) -> Self {
        Self {
            saga: self.saga.clone(),
            store: self.store.clone(),
            bus: self.bus.clone(),
            clock: self.clock.clone(),
            faults: self.faults.clone(),
            upcasters: self.upcasters.clone(),
            options: self.options,
            wake: self.wake.clone(),
            commits: self.commits.clone(),
            watched: self.watched.clone(),
        }
    }
}

impl<S: Saga, T: RuntimeStore, B: CommandBus<S::Command>> std::fmt::Debug for SagaManager<S, T, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SagaManager")
            .field("saga", &S::TYPE)
            .field("options", &self.options)
            .finish()
    }
}

impl<S: Saga, T: RuntimeStore, B: CommandBus<S::Command>> SagaManager<S, T, B> {
    /// A manager with default options and the system clock.
    pub fn new(saga: S, store: T, bus: B) -> Self {
        Self {
            saga: Arc::new(saga),
            store,
            bus: Arc::new(bus),
            clock: Arc::new(SystemClock),
            faults: Arc::new(NoFaults),
            upcasters: Arc::new(Upcasters::new()),
            options: SagaOptions::default(),
            wake: Arc::new(Notify::new()),
            commits: Arc::new(watch::Sender::new(0)),
            watched: Arc::default(),
        }
    }

    /// Uses `clock` for deadlines and retry delays.
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Asks `faults` at every step boundary whether to crash there (the testing kit's crash
    /// simulation; see [`CRASH_POINTS`](super::CRASH_POINTS)).
    #[cfg(feature = "testing")]
    #[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
    pub fn with_faults(mut self, faults: Arc<dyn FaultInjector>) -> Self {
        self.faults = faults;
        self
    }

    /// Lifts events stored under older schema versions with `upcasters` (an [`Upcasters`]
    /// or a shared `Arc<Upcasters>`).
    pub fn with_upcasters(mut self, upcasters: impl Into<Arc<Upcasters>>) -> Self {
        self.upcasters = upcasters.into();
        self
    }

    /// Uses `options`.
    pub fn with_options(mut self, options: SagaOptions) -> Self {
        self.options = options;
        self
    }

    /// The name of the manager's checkpoint and inbox consumer: `saga:<TYPE>`.
    pub fn consumer(&self) -> String {
        format!("saga:{}", S::TYPE)
    }

    /// The command id of step `step` of instance `id`: the same on every dispatch, so the
    /// receiver can tell a re-sent step from a new command (see [`Step`](super::Step) for the
    /// rule and what it asks of step names).
    pub fn command_id(id: &str, step: &str) -> CommandId {
        let instance = uuid::Uuid::new_v5(
            &uuid::Uuid::NAMESPACE_OID,
            format!("eventcore-saga/{}/{id}", S::TYPE).as_bytes(),
        );
        CommandId::derived(instance, step)
    }

    /// Tells waiters that a saga record changed (call after every commit that saves one).
    pub(super) fn committed(&self) {
        self.commits.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Starts the manager: a projection (named [`consumer`](Self::consumer)) that handles
    /// events, and a dispatcher task that runs steps and fires deadlines.
    ///
    /// # Errors
    /// Starting the projection failed.
    pub fn start(self) -> Result<SagaHandle<S, T, B>, SagaError> {
        let options = ProjectionOptions::default()
            .with_batch_size(self.options.batch_size)
            .with_policy(self.options.events)
            .with_linger(self.options.linger);
        let commits = self.commits.clone();
        let projections = ProjectionRunner::new(self.store.clone())
            .add(self.consumer(), Events(self.clone()), options)
            // The runner commits the batches and changes its status after each commit: tell
            // waiters. (A saved instance with a step to run wakes the dispatcher itself.)
            .with_metrics(move |_: &ProjectionStatus| {
                commits.send_modify(|n| *n = n.wrapping_add(1));
            })
            .start()?;
        let (shutdown, mut stop) = watch::channel(false);
        let manager = self.clone();
        let dispatcher = tokio::spawn(async move {
            loop {
                let round = AssertUnwindSafe(manager.work_once()).catch_unwind().await;
                let worked = match round {
                    Ok(Ok(worked)) => worked,
                    Ok(Err(error)) => {
                        tracing::warn!(saga = S::TYPE, %error, "saga dispatcher failed; retrying");
                        false
                    }
                    Err(panic) => {
                        let message = crate::projection::panic_message(&*panic);
                        tracing::error!(saga = S::TYPE, %message, "saga logic panicked; retrying");
                        false
                    }
                };
                if *stop.borrow() {
                    return;
                }
                if !worked {
                    tokio::select! {
                        () = tokio::time::sleep(manager.options.poll_interval) => {}
                        () = manager.wake.notified() => {}
                        _ = stop.changed() => return,
                    }
                }
            }
        });
        Ok(SagaHandle {
            manager: self,
            projections,
            shutdown,
            dispatcher,
        })
    }

    /// One round of deadlines and steps; a failure of one does not keep the other from
    /// running.
    async fn work_once(&self) -> Result<bool, SagaError> {
        let fired = self.fire_due_deadlines(100).await;
        let dispatched = self.dispatch_pending(100).await;
        match (fired, dispatched) {
            (Ok(fired), Ok(dispatched)) => Ok(fired + dispatched > 0),
            (Err(error), _) | (_, Err(error)) => Err(error),
        }
    }
}

/// The manager as a projection of the log.
struct Events<S: Saga, T: RuntimeStore, B: CommandBus<S::Command>>(SagaManager<S, T, B>);

#[async_trait]
impl<S: Saga, T: RuntimeStore, B: CommandBus<S::Command>> Projection<T::Transaction>
    for Events<S, T, B>
{
    fn wants(&self, event: &RecordedEvent) -> bool {
        S::CATEGORIES.is_empty() || S::CATEGORIES.contains(&event.stream_id.category())
    }

    async fn apply(
        &mut self,
        tx: &mut T::Transaction,
        events: &[RecordedEvent],
    ) -> Result<(), BoxError> {
        match self.0.handle_in(tx, events).await {
            Ok(()) => Ok(()),
            // Passed on as is, so the runner can tell a store failure (retried without
            // limit) from a failure of the saga (under the error policy).
            Err(SagaError::Store(error)) => Err(Box::new(error)),
            Err(error) => Err(Box::new(error)),
        }
    }
}

/// How often a handle's waits look at the event intake's status, at most.
const INTAKE_CHECK: std::time::Duration = std::time::Duration::from_millis(100);

/// A started [`SagaManager`]: its tasks, and the manager for queries while they run.
pub struct SagaHandle<S: Saga, T: RuntimeStore, B: CommandBus<S::Command>> {
    manager: SagaManager<S, T, B>,
    projections: RunningProjections<T>,
    shutdown: watch::Sender<bool>,
    dispatcher: JoinHandle<()>,
}

impl<S: Saga, T: RuntimeStore, B: CommandBus<S::Command>> std::fmt::Debug for SagaHandle<S, T, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SagaHandle")
            .field("manager", &self.manager)
            .field("projections", &self.projections)
            .finish()
    }
}

impl<S: Saga, T: RuntimeStore, B: CommandBus<S::Command>> SagaHandle<S, T, B> {
    /// The running manager, for operator queries and waiting
    /// ([`get`](SagaManager::get), [`list`](SagaManager::list),
    /// [`wait_until_settled`](SagaManager::wait_until_settled), ...).
    pub fn manager(&self) -> &SagaManager<S, T, B> {
        &self.manager
    }

    /// The event projection (status, lag, `wait_until`).
    pub fn events(&self) -> &RunningProjections<T> {
        &self.projections
    }

    /// As [`SagaManager::wait_until_settled`], but also returns (with the error) once this
    /// manager's event intake has stopped: a saga whose events cannot be read any more (an
    /// event that does not decode, say) will never settle, and waiting would hang.
    ///
    /// # Errors
    /// [`SagaError::Projection`] with [`ProjectionError::Stopped`] when the intake stopped;
    /// store failures.
    pub async fn wait_until_settled(&self, id: &str) -> Result<SagaView<S>, SagaError> {
        let settled = self.manager.wait_until_settled(id);
        self.unless_stopped(id, settled, |view| view.status.is_settled())
            .await
    }

    /// As [`SagaManager::wait_until_settled_status`] (the status only, read once less), but
    /// also returns once this manager's event intake has stopped.
    ///
    /// # Errors
    /// As [`wait_until_settled`](Self::wait_until_settled).
    pub async fn wait_until_settled_status(&self, id: &str) -> Result<SagaStatus, SagaError> {
        let stopped = tokio::select! {
            status = self.manager.wait_until_settled_status(id) => return status,
            stopped = self.intake_stopped() => stopped,
        };
        let view = self.after_stop(id, stopped, |view| view.status.is_settled());
        view.await.map(|view| view.status)
    }

    /// As [`SagaManager::wait_until`], but also returns (with the error) once this manager's
    /// event intake has stopped.
    ///
    /// # Errors
    /// As [`wait_until_settled`](Self::wait_until_settled).
    pub async fn wait_until(
        &self,
        id: &str,
        mut done: impl FnMut(&SagaView<S>) -> bool,
    ) -> Result<SagaView<S>, SagaError> {
        let stopped = tokio::select! {
            view = self.manager.wait_until(id, &mut done) => return view,
            stopped = self.intake_stopped() => stopped,
        };
        self.after_stop(id, stopped, done).await
    }

    /// The outcome of `waited`, or once the intake stopped first, [`after_stop`](Self::after_stop).
    async fn unless_stopped(
        &self,
        id: &str,
        waited: impl std::future::Future<Output = Result<SagaView<S>, SagaError>>,
        done: impl FnMut(&SagaView<S>) -> bool,
    ) -> Result<SagaView<S>, SagaError> {
        let stopped = tokio::select! {
            view = waited => return view,
            stopped = self.intake_stopped() => stopped,
        };
        self.after_stop(id, stopped, done).await
    }

    /// Once the intake `stopped`: the instance if `done` holds for it, else the error.
    async fn after_stop(
        &self,
        id: &str,
        stopped: SagaError,
        mut done: impl FnMut(&SagaView<S>) -> bool,
    ) -> Result<SagaView<S>, SagaError> {
        // The saga may have got where it was waited for before the intake stopped.
        match self.manager.get(id).await? {
            Some(view) if done(&view) => Ok(view),
            _ => Err(stopped),
        }
    }

    /// Resolves once the event intake has stopped (under its error policy, or shut down).
    async fn intake_stopped(&self) -> SagaError {
        let name = self.manager.consumer();
        loop {
            match self.projections.status(&name).map(|status| status.state) {
                Some(ProjectionState::Running) => {}
                Some(ProjectionState::Stopped { position, error }) => {
                    return ProjectionError::Stopped {
                        name,
                        position,
                        error,
                        source: None,
                    }
                    .into();
                }
                _ => return ProjectionError::NotRunning(name).into(),
            }
            tokio::time::sleep(self.manager.options.poll_interval.min(INTAKE_CHECK)).await;
        }
    }

    /// Stops handling events (after the current batch) and dispatching (after the current
    /// step), and waits for both.
    ///
    /// # Errors
    /// A task panicked.
    pub async fn shutdown(self) -> Result<(), SagaError> {
        let _ = self.shutdown.send(true);
        self.projections.shutdown().await?;
        self.dispatcher
            .await
            .map_err(|e| ProjectionError::Panicked(e.to_string()))?;
        Ok(())
    }
}
