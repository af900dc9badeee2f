//! Durable deadlines firing: a due deadline is removed in the transaction that saves the
//! saga's reaction to it, so it fires once, at or after its due time, across restarts.

use super::Saga;
use super::bus::CommandBus;
use super::error::{SagaError, duplicate, record_error};
use super::manager::SagaManager;
use super::record::DeadlinePayload;
use crate::durable::DeadlineRecord;
use crate::error::StoreError;
use crate::transaction::{RuntimeStore, RuntimeTransaction, StoreTransaction};

impl<S: Saga, T: RuntimeStore, B: CommandBus<S::Command>> SagaManager<S, T, B> {
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
        self.committed();
        self.faults.check("deadline:after-commit")?;
        Ok(true)
    }
}
