//! Group commit of local steps ([`SagaOptions::step_group`](super::SagaOptions::step_group)):
//! the next steps of several instances, their commands' events and their records, in one
//! transaction.

use super::Saga;
use super::bus::CommandBus;
use super::error::SagaError;
use super::local::LocalDispatch;
use super::manager::SagaManager;
use super::record::Save;
use super::status::SagaStatus;
use crate::durable::SagaRecord;
use crate::transaction::{RuntimeStore, StoreTransaction};

/// Each instance's outcome, by instance id.
pub(super) type Outcomes = Vec<(String, Result<bool, SagaError>)>;

/// The most groups one dispatch runs back to back on the same instances: after a group
/// commits, the instances with another step due go on at once, from the records just saved,
/// rather than waiting to be listed again in the dispatcher's next round.
const CHAINED_GROUPS: usize = 16;

impl<S: Saga, T: RuntimeStore, B: CommandBus<S::Command>> SagaManager<S, T, B> {
    /// Runs the next step of each of `records` (as listed) inside one transaction, which
    /// commits every command's events with every record's outcome; then, from the records
    /// that transaction saved, the next steps of the instances that have one due, and so on
    /// (up to [`CHAINED_GROUPS`] groups). If any step's command fails, a record changed
    /// meanwhile or the commit fails, nothing of that group stays and each of its steps runs
    /// again in a transaction of its own (as without groups), which records failures and
    /// refuses outdated records one instance at a time; the chain ends there. An injected
    /// crash ends the dispatch at once (reported against the group's first instance).
    pub(super) async fn dispatch_group(
        &self,
        records: &[SagaRecord],
        local: &dyn LocalDispatch<S::Command>,
    ) -> Outcomes {
        let mut outcomes = Vec::with_capacity(records.len());
        let mut next = self
            .dispatch_group_once(records, local, &mut outcomes)
            .await;
        for _ in 1..CHAINED_GROUPS {
            if next.is_empty() {
                break;
            }
            let records = std::mem::take(&mut next);
            next = self
                .dispatch_group_once(&records, local, &mut outcomes)
                .await;
        }
        outcomes
    }

    /// One group of [`dispatch_group`](Self::dispatch_group), its outcomes added to
    /// `outcomes`; the records it saved whose instances have steps left (none unless the
    /// group committed whole).
    async fn dispatch_group_once(
        &self,
        records: &[SagaRecord],
        local: &dyn LocalDispatch<S::Command>,
        outcomes: &mut Outcomes,
    ) -> Vec<SagaRecord> {
        if records.len() > 1 {
            match self.try_group(records, local, outcomes).await {
                Ok(Some(saved)) => return saved,
                Ok(None) => {}
                Err(crash @ SagaError::Crash(_)) => {
                    outcomes.push((records[0].saga_id.clone(), Err(crash)));
                    return Vec::new();
                }
                Err(error) => {
                    tracing::debug!(saga = S::TYPE, %error, "step group failed; one step at a time")
                }
            }
        }
        for record in records {
            let outcome = self.dispatch_local(record, local).await;
            let crashed = matches!(outcome, Err(SagaError::Crash(_)));
            outcomes.push((record.saga_id.clone(), outcome));
            if crashed {
                break;
            }
        }
        Vec::new()
    }

    /// The group's transaction; `None` when something in it failed (rolled back whole, and
    /// nothing added to `outcomes`). Once committed, its outcomes are added to `outcomes`
    /// and the saved records of instances with steps left are returned.
    async fn try_group(
        &self,
        records: &[SagaRecord],
        local: &dyn LocalDispatch<S::Command>,
        outcomes: &mut Outcomes,
    ) -> Result<Option<Vec<SagaRecord>>, SagaError> {
        let mut tx = self.store.begin().await?;
        let mut skipped = Vec::new();
        // The steps' own events their instances handled, recorded in the inbox at once.
        let mut own_events = Vec::new();
        // The steps done, with their records' deadline changes, saved together at the end.
        let mut done = Vec::with_capacity(records.len());
        for record in records {
            let Some(mut step) = self.next_local_step(record)? else {
                skipped.push(record);
                continue;
            };
            let outcome = self.run_local_step(&mut tx, &step, local).await?;
            if outcome.is_err() {
                return Ok(None); // `tx` rolls back as it is dropped
            }
            let id = &record.saga_id;
            let Some(mut changes) =
                self.outcome_changes(id, &step.name, &outcome, &mut step.document)?
            else {
                skipped.push(record);
                continue;
            };
            let (own, handled) = self.handle_own_events(&mut tx, id, &mut step.document);
            changes.then(own);
            own_events.extend(handled);
            done.push((record, step, changes));
        }
        self.record_own_events(&mut tx, &own_events).await?;
        let saves = done
            .iter_mut()
            .map(|(record, step, changes)| Save {
                id: &record.saga_id,
                document: &step.document,
                version: step.version,
                changes: std::mem::take(changes),
            })
            .collect();
        let Ok(saved) = self.save_all(&mut tx, saves).await else {
            return Ok(None);
        };
        self.faults.check("dispatch:before-commit")?;
        if tx.commit().await.is_err() {
            // Committed or not, running the steps again is safe: each saves its record at
            // the version listed, so a step whose group did commit is refused as outdated.
            return Ok(None);
        }
        self.committed();
        let ids = skipped.iter().map(|record| (&record.saga_id, false));
        let ids = ids.chain(done.iter().map(|(record, ..)| (&record.saga_id, true)));
        outcomes.extend(ids.map(|(id, done)| (id.clone(), Ok(done))));
        self.faults.check("dispatch:after-commit")?;
        let steps_left = [SagaStatus::Dispatching, SagaStatus::Compensating].map(|s| s.as_str());
        Ok(Some(
            saved
                .into_iter()
                .filter(|record| steps_left.contains(&record.status.as_str()))
                .collect(),
        ))
    }
}
