//! Steps out: the dispatcher claims an instance's next pending step, sends its command with
//! the step's command id, and records the outcome (done, retry later, decide, park).

use futures::StreamExt;

use super::Saga;
use super::bus::{CommandBus, DispatchError};
use super::document::{AfterFailure, DeadlineChanges, Document, later};
use super::error::{SagaError, duplicate};
use super::grouped::Outcomes;
use super::local::LocalDispatch;
use super::manager::SagaManager;
use super::record::parse;
use super::status::SagaStatus;
use crate::durable::SagaRecord;
use crate::error::StoreError;
use crate::transaction::{RuntimeStore, StoreTransaction};

/// A dispatch of one instance's step, or of a group's: each instance's outcome.
type Attempt<'a> = futures::future::BoxFuture<'a, Outcomes>;

impl<S: Saga, T: RuntimeStore, B: CommandBus<S::Command>> SagaManager<S, T, B> {
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
        for status in [SagaStatus::Dispatching, SagaStatus::Compensating] {
            let records = self
                .store
                .sagas_with_status(S::TYPE, status.as_str(), limit)
                .await?;
            let attempts: Vec<Attempt<'_>> = match self.bus.local() {
                Some(local) if self.options.step_group > 1 => records
                    .chunks(self.options.step_group)
                    .map(|group| Box::pin(self.dispatch_group(group, local)) as _)
                    .collect(),
                _ => records
                    .iter()
                    .map(|record| {
                        Box::pin(async move {
                            vec![(record.saga_id.clone(), self.dispatch_one(record).await)]
                        }) as _
                    })
                    .collect(),
            };
            let mut outcomes = futures::stream::iter(attempts)
                .buffer_unordered(self.options.dispatch_concurrency.max(1));
            while let Some(group) = outcomes.next().await {
                for (id, outcome) in group {
                    match outcome {
                        Ok(true) => recorded += 1,
                        Ok(false) => {}
                        // Someone else changed the instance meanwhile: next round.
                        Err(SagaError::Store(StoreError::SagaConflict { .. })) => {}
                        Err(crash @ SagaError::Crash(_)) => return Err(crash),
                        Err(error) => {
                            tracing::error!(saga = S::TYPE, %id, %error, "saga step could not be run");
                            first_error.get_or_insert(error);
                        }
                    }
                }
            }
        }
        first_error.map_or(Ok(recorded), Err)
    }

    async fn dispatch_one(&self, record: &SagaRecord) -> Result<bool, SagaError> {
        if let Some(local) = self.bus.local() {
            return self.dispatch_local(record, local).await;
        }
        let id = &record.saga_id;
        let mut document = parse::<S>(record)?;
        let Some(step) = document.next_step(self.clock.now()) else {
            return Ok(false);
        };
        let (name, command) = (step.name.clone(), step.command.clone());
        let metadata = document.step_metadata();
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
        self.committed();
        self.faults.check("dispatch:before-send")?;
        let outcome = self
            .bus
            .dispatch_with(&command, Self::command_id(id, &name), &metadata)
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
        let Some(changes) = self.outcome_changes(id, name, outcome, &mut document)? else {
            return Ok(false);
        };
        let tx = self.store.begin().await?;
        self.commit_outcome(tx, id, &document, version, changes)
            .await
    }

    /// Saves `document` (at `version`) with `changes` in `tx` and commits: a step's outcome,
    /// with whatever else `tx` holds (a local step's command).
    async fn commit_outcome(
        &self,
        mut tx: T::Transaction,
        id: &str,
        document: &Document<S>,
        version: u64,
        changes: DeadlineChanges,
    ) -> Result<bool, SagaError> {
        self.save(&mut tx, id, document, version, changes).await?;
        self.faults.check("dispatch:before-commit")?;
        tx.commit().await?;
        self.committed();
        self.faults.check("dispatch:after-commit")?;
        Ok(true)
    }

    /// Puts a step's outcome on `document`; the deadline changes it brings, or `None` if the
    /// step was not pending any more (recorded already).
    pub(super) fn outcome_changes(
        &self,
        id: &str,
        name: &str,
        outcome: &Result<(), DispatchError>,
        document: &mut Document<S>,
    ) -> Result<Option<DeadlineChanges>, SagaError> {
        let now = self.clock.now();
        Ok(Some(match outcome {
            Ok(()) => match document.step_done(name, now) {
                Some(cancel) => DeadlineChanges {
                    set: Vec::new(),
                    cancel,
                },
                None => return Ok(None),
            },
            Err(error) => {
                let permanent = error.is_permanent();
                let message = error.to_string();
                let retry = (self.options.step_retries, self.options.step_backoff);
                match document.step_failed(name, &message, permanent, retry, now) {
                    None => return Ok(None),
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
        }))
    }

    /// Runs the instance's next step inside the transaction that records its outcome (a bus
    /// whose commands go to this store): one commit for the command's events, the outcome and
    /// the saga record. A replica doing the same loses on the record's version and rolls back
    /// whole. A failed command wrote nothing: its transaction is rolled back and the failure
    /// recorded in one of its own.
    pub(super) async fn dispatch_local(
        &self,
        record: &SagaRecord,
        local: &dyn LocalDispatch<S::Command>,
    ) -> Result<bool, SagaError> {
        let Some(mut step) = self.next_local_step(record)? else {
            return Ok(false);
        };
        let mut tx = self.store.begin().await?;
        let outcome = self.run_local_step(&mut tx, &step, local).await?;
        let id = &record.saga_id;
        if outcome.is_err() {
            drop(tx);
            return self
                .record_outcome(id, &step.name, &outcome, step.document, step.version)
                .await;
        }
        let Some(mut changes) =
            self.outcome_changes(id, &step.name, &outcome, &mut step.document)?
        else {
            return Ok(false);
        };
        let (own, handled) = self.handle_own_events(&mut tx, id, &mut step.document);
        changes.then(own);
        self.record_own_events(&mut tx, &handled).await?;
        self.commit_outcome(tx, id, &step.document, step.version, changes)
            .await
    }

    /// A listed instance's next step, if one is due. The record as listed, not read again:
    /// the save of its outcome is versioned, so if anything changed it meanwhile the whole
    /// transaction (the command's events too) rolls back.
    pub(super) fn next_local_step(
        &self,
        record: &SagaRecord,
    ) -> Result<Option<LocalStep<S>>, SagaError> {
        let document = parse::<S>(record)?;
        let Some(step) = document.next_step(self.clock.now()) else {
            return Ok(None);
        };
        let (name, command) = (step.name.clone(), step.command.clone());
        let metadata = document.step_metadata();
        Ok(Some(LocalStep {
            id: record.saga_id.clone(),
            version: record.version,
            document,
            name,
            command,
            metadata,
        }))
    }

    /// Executes `step`'s command inside `tx` with the step's command id; its outcome.
    pub(super) async fn run_local_step(
        &self,
        tx: &mut T::Transaction,
        step: &LocalStep<S>,
        local: &dyn LocalDispatch<S::Command>,
    ) -> Result<Result<(), DispatchError>, SagaError> {
        self.faults.check("dispatch:before-send")?;
        Self::keep_appended(tx);
        let id = Self::command_id(&step.id, &step.name);
        let outcome = local
            .execute_in(tx, &step.command, id, &step.metadata)
            .await;
        self.faults.check("dispatch:after-send")?;
        Ok(outcome)
    }
}

/// An instance's next step as listed, to run in the saga's own store.
pub(super) struct LocalStep<S: Saga> {
    id: String,
    /// The record's version when listed.
    pub(super) version: u64,
    pub(super) document: Document<S>,
    pub(super) name: String,
    command: S::Command,
    metadata: crate::event::Metadata,
}
