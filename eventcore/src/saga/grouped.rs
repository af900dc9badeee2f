//! Group commit of local steps ([`SagaOptions::step_group`](super::SagaOptions::step_group)):
//! the next steps of several instances, their commands' events and their records, in one
//! transaction.

use super::Saga;
use super::bus::CommandBus;
use super::error::SagaError;
use super::local::LocalDispatch;
use super::manager::SagaManager;
use super::record::Save;
use crate::durable::SagaRecord;
use crate::transaction::{RuntimeStore, StoreTransaction};

/// Each instance's outcome.
type Outcomes<'r> = Vec<(&'r SagaRecord, Result<bool, SagaError>)>;

impl<S: Saga, T: RuntimeStore, B: CommandBus<S::Command>> SagaManager<S, T, B> {
    /// Runs the next step of each of `records` (as listed) inside one transaction, which
    /// commits every command's events with every record's outcome. If any step's command
    /// fails, a record changed meanwhile or the commit fails, nothing of the group stays and
    /// each step runs again in a transaction of its own (as without groups), which records
    /// failures and refuses outdated records one instance at a time. An injected crash ends
    /// the group at once (reported against its first instance).
    pub(super) async fn dispatch_group<'r>(
        &self,
        records: &'r [SagaRecord],
        local: &dyn LocalDispatch<S::Command>,
    ) -> Outcomes<'r> {
        if records.len() > 1 {
            match self.try_group(records, local).await {
                Ok(Some(outcomes)) => return outcomes,
                Ok(None) => {}
                Err(crash @ SagaError::Crash(_)) => return vec![(&records[0], Err(crash))],
                Err(error) => {
                    tracing::debug!(saga = S::TYPE, %error, "step group failed; one step at a time")
                }
            }
        }
        let mut outcomes = Vec::with_capacity(records.len());
        for record in records {
            let outcome = self.dispatch_local(record, local).await;
            let crashed = matches!(outcome, Err(SagaError::Crash(_)));
            outcomes.push((record, outcome));
            if crashed {
                break;
            }
        }
        outcomes
    }

    /// The group's transaction; `None` when something in it failed (rolled back whole).
    async fn try_group<'r>(
        &self,
        records: &'r [SagaRecord],
        local: &dyn LocalDispatch<S::Command>,
    ) -> Result<Option<Outcomes<'r>>, SagaError> {
        let mut tx = self.store.begin().await?;
        let mut outcomes = Vec::with_capacity(records.len());
        // The steps done, with their records' deadline changes, saved together at the end.
        let mut done = Vec::with_capacity(records.len());
        for record in records {
            let Some(mut step) = self.next_local_step(record)? else {
                outcomes.push((record, Ok(false)));
                continue;
            };
            let outcome = self.run_local_step(&mut tx, &step, local).await?;
            if outcome.is_err() {
                return Ok(None); // `tx` rolls back as it is dropped
            }
            let id = &record.saga_id;
            let Some(changes) =
                self.outcome_changes(id, &step.name, &outcome, &mut step.document)?
            else {
                outcomes.push((record, Ok(false)));
                continue;
            };
            done.push((record, step, changes));
        }
        let saves = done
            .iter_mut()
            .map(|(record, step, changes)| Save {
                id: &record.saga_id,
                document: &step.document,
                version: step.version,
                changes: std::mem::take(changes),
            })
            .collect();
        if self.save_all(&mut tx, saves).await.is_err() {
            return Ok(None);
        }
        outcomes.extend(done.into_iter().map(|(record, ..)| (record, Ok(true))));
        self.faults.check("dispatch:before-commit")?;
        if tx.commit().await.is_err() {
            // Committed or not, running the steps again is safe: each saves its record at
            // the version listed, so a step whose group did commit is refused as outdated.
            return Ok(None);
        }
        self.committed();
        self.faults.check("dispatch:after-commit")?;
        Ok(Some(outcomes))
    }
}
