//! The saga manager: events in, durable saga records, dispatched steps and fired deadlines out.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use std::panic::AssertUnwindSafe;

use futures::{FutureExt, StreamExt};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use super::Saga;
use super::bus::{CommandBus, DispatchError};
use super::clock::{Clock, SystemClock};
use super::document::{AfterFailure, DeadlineChanges, Document, DuplicateStep, later};
use super::faults::{FaultInjector, InjectedCrash, NoFaults};
use super::view::SagaView;
use crate::durable::{DeadlineRecord, SagaRecord};
use crate::error::{BoxError, CodecError, StoreError};
use crate::event::RecordedEvent;
use crate::id::CommandId;
use crate::projection::{Checkpoint, moved};
use crate::projection::{
    ErrorPolicy, Projection, ProjectionError, ProjectionOptions, ProjectionRunner,
    RunningProjections,
};
use crate::transaction::{RuntimeStore, RuntimeTransaction, StoreTransaction};
use crate::upcast::Upcasters;

/// How a saga manager runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SagaOptions {
    /// Events per transaction.
    pub batch_size: usize,
    /// How often the dispatcher looks for steps to run and deadlines due (it is also woken
    /// when events were handled).
    pub poll_interval: Duration,
    /// Retries of a step after a transient failure, before it counts as failed.
    pub step_retries: u32,
    /// The first delay between step attempts; doubled per attempt.
    pub step_backoff: Duration,
    /// The longest delay between step attempts.
    pub max_step_backoff: Duration,
    /// How many instances' steps are dispatched at once (each instance still runs its own
    /// steps one at a time).
    pub dispatch_concurrency: usize,
    /// How long a dispatcher holds a step it is sending: other dispatchers (replicas) leave it
    /// alone meanwhile; if the sender dies, another sends it again after this.
    pub step_lease: Duration,
    /// What happens when handling an event fails (a saga error, an unreadable event).
    pub events: ErrorPolicy,
}

impl Default for SagaOptions {
    fn default() -> Self {
        Self {
            batch_size: 100,
            poll_interval: Duration::from_millis(100),
            step_retries: 5,
            step_backoff: Duration::from_millis(200),
            max_step_backoff: Duration::from_secs(60),
            dispatch_concurrency: 8,
            step_lease: Duration::from_secs(30),
            events: ErrorPolicy::stop_after(5),
        }
    }
}

/// What can go wrong managing sagas.
#[derive(Debug, thiserror::Error)]
pub enum SagaError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An event of a type the saga knows could not be decoded.
    #[error("event at position {position} cannot be decoded")]
    Decode {
        /// Its position.
        position: u64,
        /// Why.
        #[source]
        source: CodecError,
    },
    /// The saga's own logic failed.
    #[error("saga logic failed: {0}")]
    Saga(#[source] BoxError),
    /// A stored saga record cannot be read (or written) as this saga's document.
    #[error("saga record {id} is unreadable: {reason}")]
    Record {
        /// The instance.
        id: String,
        /// Why.
        reason: String,
    },
    /// A reaction reused a step name.
    #[error("saga {id}: step name {step:?} used twice")]
    DuplicateStep {
        /// The instance.
        id: String,
        /// The step name.
        step: String,
    },
    /// A crash was injected (simulation tests).
    #[error(transparent)]
    Crash(#[from] InjectedCrash),
    /// Running the event projection failed.
    #[error(transparent)]
    Projection(#[from] ProjectionError),
}

/// Runs one saga type against a store and a command bus. Cloning gives another handle.
pub struct SagaManager<S: Saga, T: RuntimeStore, B: CommandBus<S::Command>> {
    saga: Arc<S>,
    store: T,
    bus: Arc<B>,
    clock: Arc<dyn Clock>,
    faults: Arc<dyn FaultInjector>,
    upcasters: Arc<Upcasters>,
    options: SagaOptions,
    wake: Arc<Notify>,
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

fn record_error(id: &str, reason: impl std::fmt::Display) -> SagaError {
    SagaError::Record {
        id: id.to_owned(),
        reason: reason.to_string(),
    }
}

fn duplicate(id: &str) -> impl FnOnce(DuplicateStep) -> SagaError + '_ {
    move |DuplicateStep(step)| SagaError::DuplicateStep {
        id: id.to_owned(),
        step,
    }
}

/// The stored deadline's payload: which deadline of the instance it is.
#[derive(serde::Serialize, serde::Deserialize)]
struct DeadlinePayload {
    name: String,
}

impl<S: Saga, T: RuntimeStore, B: CommandBus<S::Command>> SagaManager<S, T, B> {
    /// A manager with default options, the system clock and no injected faults.
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
        }
    }

    /// Uses `clock` for deadlines and retry delays.
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Asks `faults` at every step boundary (simulation tests).
    pub fn with_faults(mut self, faults: Arc<dyn FaultInjector>) -> Self {
        self.faults = faults;
        self
    }

    /// Lifts events stored under older schema versions with `upcasters`.
    pub fn with_upcasters(mut self, upcasters: Upcasters) -> Self {
        self.upcasters = Arc::new(upcasters);
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

    /// The command id of step `step` of instance `id`: the same on every dispatch.
    pub fn command_id(id: &str, step: &str) -> CommandId {
        let instance = uuid::Uuid::new_v5(
            &uuid::Uuid::NAMESPACE_OID,
            format!("eventcore-saga/{}/{id}", S::TYPE).as_bytes(),
        );
        CommandId::derived(instance, step)
    }

    async fn load(
        &self,
        tx: &mut T::Transaction,
        id: &str,
    ) -> Result<(Document<S>, u64), SagaError> {
        match tx.saga(S::TYPE, id).await? {
            None => Ok((Document::default(), 0)),
            Some(record) => Ok((parse(&record)?, record.version)),
        }
    }

    async fn save(
        &self,
        tx: &mut T::Transaction,
        id: &str,
        document: &Document<S>,
        version: u64,
        changes: DeadlineChanges,
    ) -> Result<(), SagaError> {
        // Sets first: a name both set and cancelled (a deadline in a reaction that also
        // compensates) ends up cancelled, as in the document.
        for (name, due_at) in changes.set {
            let payload = serde_json::value::to_raw_value(&DeadlinePayload { name: name.clone() })
                .map_err(|e| record_error(id, e))?;
            let deadline = DeadlineRecord {
                deadline_id: deadline_id::<S>(id, &name),
                saga_type: S::TYPE.to_owned(),
                saga_id: id.to_owned(),
                due_at,
                payload,
            };
            tx.schedule_deadline(&deadline).await?;
        }
        for name in &changes.cancel {
            tx.cancel_deadline(&deadline_id::<S>(id, name)).await?;
        }
        let state = serde_json::value::to_raw_value(document).map_err(|e| record_error(id, e))?;
        let record = SagaRecord {
            saga_type: S::TYPE.to_owned(),
            saga_id: id.to_owned(),
            status: document.status().to_owned(),
            state,
            version,
            updated_at: self.clock.now(),
        };
        tx.save_saga(&record, version).await?;
        Ok(())
    }

    /// Handles `events` inside `tx`: each event the saga correlates is recorded in the inbox
    /// (a repeat is skipped) and its reaction saved with the instance.
    pub(crate) async fn handle_in(
        &self,
        tx: &mut T::Transaction,
        events: &[RecordedEvent],
    ) -> Result<(), SagaError> {
        self.faults.check("event:before-apply")?;
        let consumer = self.consumer();
        for event in events {
            let typed = match event.decode::<S::Event>(&self.upcasters) {
                Ok(typed) => typed,
                Err(CodecError::UnknownEventType { .. }) => continue,
                Err(source) => {
                    return Err(SagaError::Decode {
                        position: event.global_position,
                        source,
                    });
                }
            };
            let Some(id) = self.saga.correlate(&typed, event) else {
                continue;
            };
            if !tx.record_processed(&consumer, event.event_id).await? {
                continue; // delivered before
            }
            let (mut document, version) = self.load(tx, &id).await?;
            let reaction = self
                .saga
                .on_event(&document.state, &typed)
                .map_err(|e| SagaError::Saga(Box::new(e)))?;
            let cause = format!("event {} at {}", event.event_type, event.global_position);
            let changes = document
                .react(reaction, self.clock.now(), &cause)
                .map_err(duplicate(&id))?;
            self.save(tx, &id, &document, version, changes).await?;
        }
        Ok(())
    }

    /// Delivers one event from outside the log's order (a broker consumer, a replay tool) in
    /// its own transaction. Events already handled, by either path, are skipped.
    ///
    /// # Errors
    /// Store, decoding and saga failures; nothing is recorded then.
    pub async fn deliver(&self, event: &RecordedEvent) -> Result<(), SagaError> {
        let mut tx = self.store.begin().await?;
        self.handle_in(&mut tx, std::slice::from_ref(event)).await?;
        tx.commit().await?;
        self.wake.notify_one();
        Ok(())
    }

    /// Handles up to `max` events after the manager's checkpoint in one transaction with the
    /// checkpoint (what [`start`](Self::start) does continuously); returns how many it read.
    ///
    /// # Errors
    /// Store, decoding and saga failures, and injected crashes; nothing is committed then.
    pub async fn process_events(&self, max: usize) -> Result<usize, SagaError> {
        let consumer = self.consumer();
        let from = self.store.load_checkpoint(&consumer).await?.unwrap_or(0) + 1;
        let events = self.store.read_all(from, max.max(1)).await?;
        let Some(last) = events.last() else {
            return Ok(0);
        };
        let mut tx = self.store.begin().await?;
        let at = Checkpoint {
            name: &consumer,
            at: from - 1,
        };
        if moved(&mut tx, at).await?.is_some() {
            return Ok(0); // a concurrent runner got there first: read again
        }
        self.handle_in(&mut tx, &events).await?;
        tx.save_checkpoint(&consumer, last.global_position).await?;
        self.faults.check("event:before-commit")?;
        tx.commit().await?;
        self.wake.notify_one();
        self.faults.check("event:after-commit")?;
        Ok(events.len())
    }

    /// Runs the next step of every instance that has one due (up to `limit` instances per
    /// status); returns how many steps had an outcome recorded.
    ///
    /// # Errors
    /// Store failures and injected crashes. A step whose outcome could not be recorded runs
    /// again later with the same command id.
    ///
    /// One instance's failure does not hold up the others: the first error is returned after
    /// every instance had its turn (an injected crash ends the round at once).
    pub async fn dispatch_pending(&self, limit: usize) -> Result<usize, SagaError> {
        let (mut recorded, mut first_error) = (0, None);
        for status in ["dispatching", "compensating"] {
            let records = self.store.sagas_with_status(S::TYPE, status, limit).await?;
            type Attempt<'a> =
                futures::future::BoxFuture<'a, (&'a SagaRecord, Result<bool, SagaError>)>;
            let attempts: Vec<Attempt<'_>> = records
                .iter()
                .map(|record| {
                    Box::pin(async move { (record, self.dispatch_one(record).await) }) as _
                })
                .collect();
            let mut outcomes =
                futures::stream::iter(attempts).buffered(self.options.dispatch_concurrency.max(1));
            while let Some((record, outcome)) = outcomes.next().await {
                match outcome {
                    Ok(true) => recorded += 1,
                    Ok(false) => {}
                    // Someone else changed the instance meanwhile: next round.
                    Err(SagaError::Store(StoreError::SagaConflict { .. })) => {}
                    Err(crash @ SagaError::Crash(_)) => return Err(crash),
                    Err(error) => {
                        tracing::error!(saga = S::TYPE, id = %record.saga_id, %error, "saga step could not be run");
                        first_error.get_or_insert(error);
                    }
                }
            }
        }
        first_error.map_or(Ok(recorded), Err)
    }

    async fn dispatch_one(&self, record: &SagaRecord) -> Result<bool, SagaError> {
        let id = &record.saga_id;
        let mut document = parse::<S>(record)?;
        let Some(step) = document.next_step(self.clock.now()) else {
            return Ok(false);
        };
        let (name, command) = (step.name.clone(), step.command.clone());
        // Claim the step first (a versioned save): a replica holding an older copy of the
        // record cannot send it too, so an outcome (even a refusal) is never overtaken by a
        // second send that nobody records.
        document.claim(&name, later(self.clock.now(), self.options.step_lease));
        let mut tx = self.store.begin().await?;
        self.save(
            &mut tx,
            id,
            &document,
            record.version,
            DeadlineChanges::default(),
        )
        .await?;
        tx.commit().await?;
        self.faults.check("dispatch:before-send")?;
        let outcome = self
            .bus
            .dispatch(&command, Self::command_id(id, &name))
            .await;
        self.faults.check("dispatch:after-send")?;

        // The outcome goes onto the claimed record. If something changed it meanwhile (an
        // event that compensates, say), the step is still pending and ours: record the
        // outcome on the fresh record instead.
        let mut claimed = (document, record.version + 1);
        for _ in 0..3 {
            let (document, version) = claimed;
            match self
                .record_outcome(id, &name, &outcome, document, version)
                .await
            {
                Err(SagaError::Store(StoreError::SagaConflict { .. })) => {
                    let mut tx = self.store.begin().await?;
                    claimed = self.load(&mut tx, id).await?;
                }
                other => return other,
            }
        }
        // Still racing: the claim lapses and the step is sent again (same command id).
        Ok(false)
    }

    /// Records a step's outcome on `document` (at `version`); `false` if the step was not
    /// pending any more (recorded already).
    async fn record_outcome(
        &self,
        id: &str,
        name: &str,
        outcome: &Result<(), DispatchError>,
        mut document: Document<S>,
        version: u64,
    ) -> Result<bool, SagaError> {
        let now = self.clock.now();
        let changes = match outcome {
            Ok(()) => match document.step_done(name, now) {
                Some(cancel) => DeadlineChanges {
                    set: Vec::new(),
                    cancel,
                },
                None => return Ok(false),
            },
            Err(error) => {
                let permanent = matches!(error, DispatchError::Rejected(_));
                let message = error.to_string();
                let retry = (
                    self.options.step_retries,
                    self.options.step_backoff,
                    self.options.max_step_backoff,
                );
                match document.step_failed(name, &message, permanent, retry, now) {
                    None => return Ok(false),
                    Some(AfterFailure::Retry) => DeadlineChanges::default(),
                    Some(AfterFailure::Parked) => {
                        tracing::error!(saga = S::TYPE, %id, step = %name, error = %message, "saga parked");
                        DeadlineChanges::default()
                    }
                    Some(AfterFailure::Decide) => {
                        let reaction = self.saga.on_step_failed(&document.state, name, &message);
                        let cause = format!("step {name} failed");
                        document
                            .react_to_failure(reaction, now, &cause)
                            .map_err(duplicate(id))?
                    }
                }
            }
        };
        let mut tx = self.store.begin().await?;
        self.save(&mut tx, id, &document, version, changes).await?;
        self.faults.check("dispatch:before-commit")?;
        tx.commit().await?;
        self.faults.check("dispatch:after-commit")?;
        Ok(true)
    }

    /// Fires up to `limit` deadlines due now; returns how many fired.
    ///
    /// # Errors
    /// Store and saga failures and injected crashes; an unfired deadline fires later.
    ///
    /// One deadline's failure does not hold up the others: the first error is returned after
    /// every due deadline had its turn (an injected crash ends the round at once).
    pub async fn fire_due_deadlines(&self, limit: usize) -> Result<usize, SagaError> {
        let (mut fired, mut first_error) = (0, None);
        for deadline in self
            .store
            .deadlines_due(S::TYPE, self.clock.now(), limit)
            .await?
        {
            match self.fire(&deadline).await {
                Ok(true) => fired += 1,
                Ok(false) | Err(SagaError::Store(StoreError::SagaConflict { .. })) => {}
                Err(crash @ SagaError::Crash(_)) => return Err(crash),
                Err(error) => {
                    tracing::error!(saga = S::TYPE, id = %deadline.saga_id, %error, "deadline could not be fired");
                    first_error.get_or_insert(error);
                }
            }
        }
        first_error.map_or(Ok(fired), Err)
    }

    /// Fires one deadline; `false` if it was fired or cancelled meanwhile.
    async fn fire(&self, deadline: &DeadlineRecord) -> Result<bool, SagaError> {
        let id = &deadline.saga_id;
        let mut tx = self.store.begin().await?;
        if !tx.cancel_deadline(&deadline.deadline_id).await? {
            return Ok(false); // fired or cancelled meanwhile
        }
        let payload: DeadlinePayload =
            serde_json::from_str(deadline.payload.get()).map_err(|e| record_error(id, e))?;
        let (mut document, version) = self.load(&mut tx, id).await?;
        if document.deadline_due(&payload.name) > Some(self.clock.now()) {
            return Ok(false); // moved later meanwhile: not due (dropping `tx` restores it)
        }
        if document.take_deadline(&payload.name) {
            let reaction = self
                .saga
                .on_deadline(&document.state, &payload.name)
                .map_err(|e| SagaError::Saga(Box::new(e)))?;
            let cause = format!("deadline {}", payload.name);
            let changes = document
                .react(reaction, self.clock.now(), &cause)
                .map_err(duplicate(id))?;
            self.save(&mut tx, id, &document, version, changes).await?;
        }
        self.faults.check("deadline:before-commit")?;
        tx.commit().await?;
        self.faults.check("deadline:after-commit")?;
        Ok(true)
    }

    /// Up to `limit` instances with `status` (`active`, `dispatching`, `compensating`,
    /// `parked`, `completed`, `compensated`), least recently updated first.
    ///
    /// # Errors
    /// Store failures; an unreadable record.
    pub async fn list(&self, status: &str, limit: usize) -> Result<Vec<SagaView<S>>, SagaError> {
        self.store
            .sagas_with_status(S::TYPE, status, limit)
            .await?
            .iter()
            .map(|record| {
                let document = parse::<S>(record)?;
                Ok(SagaView::new(
                    record.saga_id.clone(),
                    record.version,
                    document,
                ))
            })
            .collect()
    }

    /// One instance: state, steps with their history, pending deadlines.
    ///
    /// # Errors
    /// Store failures; an unreadable record.
    pub async fn get(&self, id: &str) -> Result<Option<SagaView<S>>, SagaError> {
        let Some(record) = self.store.saga(S::TYPE, id).await? else {
            return Ok(None);
        };
        let document = parse::<S>(&record)?;
        Ok(Some(SagaView::new(id.to_owned(), record.version, document)))
    }

    /// Sends a parked instance back to work (its failing compensation gets fresh attempts);
    /// `false` if it was not parked.
    ///
    /// # Errors
    /// Store failures; an unreadable record.
    pub async fn retry(&self, id: &str) -> Result<bool, SagaError> {
        let mut tx = self.store.begin().await?;
        let (mut document, version) = self.load(&mut tx, id).await?;
        if version == 0 || !document.unpark(self.clock.now()) {
            return Ok(false);
        }
        self.save(&mut tx, id, &document, version, DeadlineChanges::default())
            .await?;
        tx.commit().await?;
        self.wake.notify_one();
        Ok(true)
    }

    /// Starts the manager: a projection (named [`consumer`](Self::consumer)) that handles
    /// events, and a dispatcher task that runs steps and fires deadlines.
    ///
    /// # Errors
    /// Starting the projection failed.
    pub fn start(self) -> Result<SagaHandle<T>, SagaError> {
        let options = ProjectionOptions::default()
            .with_batch_size(self.options.batch_size)
            .with_policy(self.options.events);
        let projections = ProjectionRunner::new(self.store.clone())
            .add(self.consumer(), Events(self.clone()), options)
            .start()?;
        let (shutdown, mut stop) = watch::channel(false);
        let manager = self;
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

fn deadline_id<S: Saga>(id: &str, name: &str) -> String {
    format!("{}/{id}/{name}", S::TYPE)
}

fn parse<S: Saga>(record: &SagaRecord) -> Result<Document<S>, SagaError> {
    serde_json::from_str(record.state.get()).map_err(|e| record_error(&record.saga_id, e))
}

/// The manager as a projection of the log.
struct Events<S: Saga, T: RuntimeStore, B: CommandBus<S::Command>>(SagaManager<S, T, B>);

#[async_trait]
impl<S: Saga, T: RuntimeStore, B: CommandBus<S::Command>> Projection<T::Transaction>
    for Events<S, T, B>
{
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

/// A started [`SagaManager`].
pub struct SagaHandle<T: RuntimeStore> {
    projections: RunningProjections<T>,
    shutdown: watch::Sender<bool>,
    dispatcher: JoinHandle<()>,
}

impl<T: RuntimeStore> std::fmt::Debug for SagaHandle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SagaHandle")
            .field("projections", &self.projections)
            .finish()
    }
}

impl<T: RuntimeStore> SagaHandle<T> {
    /// The event projection (status, lag, `wait_until`).
    pub fn events(&self) -> &RunningProjections<T> {
        &self.projections
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
