//! [`PgTransaction`]'s runtime records: saga state, deadlines and the consumer inbox.

use eventcore::backend::{DeadlineRecord, SagaRecord};
use eventcore::{EventId, StoreError};

use crate::{PgTransaction, runtime};

impl PgTransaction {
    /// The saga instance's record, as this transaction sees it.
    ///
    /// # Errors
    /// Backend failures; [`StoreError::Corrupt`] for an unreadable record.
    pub async fn saga(
        &mut self,
        saga_type: &str,
        saga_id: &str,
    ) -> Result<Option<SagaRecord>, StoreError> {
        self.guard
            .run_statement(runtime::saga(
                &mut *self.tx,
                &self.store.inner.sql.runtime,
                saga_type,
                saga_id,
            ))
            .await
    }

    /// The records of the instances `saga_ids` that exist, in one statement.
    ///
    /// # Errors
    /// Backend failures; [`StoreError::Corrupt`] for an unreadable record.
    pub async fn sagas(
        &mut self,
        saga_type: &str,
        saga_ids: &[String],
    ) -> Result<Vec<SagaRecord>, StoreError> {
        self.guard
            .run_statement(runtime::sagas(
                &mut *self.tx,
                &self.store.inner.sql.runtime,
                saga_type,
                saga_ids,
            ))
            .await
    }

    /// Saves the saga's record if its stored version is `expected_version` (0 = new) and
    /// returns the new version (`record.version` and `updated_at` are ignored on write).
    ///
    /// # Errors
    /// [`StoreError::SagaConflict`] when the version differs.
    pub async fn save_saga(
        &mut self,
        record: &SagaRecord,
        expected_version: u64,
    ) -> Result<u64, StoreError> {
        self.guard
            .run_statement(runtime::save_saga(
                &mut self.tx,
                &self.store.inner.sql.runtime,
                record,
                expected_version,
            ))
            .await
    }

    /// [`save_saga`](Self::save_saga) for each `(record, expected_version)` (each instance at
    /// most once), in a statement for the new instances and one for the others: their new
    /// versions.
    ///
    /// # Errors
    /// [`StoreError::SagaConflict`] for the first whose version differs (others may have
    /// been saved: roll back).
    pub async fn save_sagas(
        &mut self,
        saves: &[(SagaRecord, u64)],
    ) -> Result<Vec<u64>, StoreError> {
        self.guard
            .run_statement(runtime::save_sagas(
                &mut self.tx,
                &self.store.inner.sql.runtime,
                saves,
            ))
            .await
    }

    /// [`cancel_deadline`](Self::cancel_deadline) for each of `deadline_ids`, in one
    /// statement.
    ///
    /// # Errors
    /// Backend failures.
    pub async fn cancel_deadlines(&mut self, deadline_ids: &[String]) -> Result<(), StoreError> {
        self.guard
            .run_statement(runtime::cancel_deadlines(
                &mut *self.tx,
                &self.store.inner.sql.runtime,
                deadline_ids,
            ))
            .await
    }

    /// Schedules (or reschedules, by id) a durable deadline.
    ///
    /// # Errors
    /// Backend failures.
    pub async fn schedule_deadline(&mut self, deadline: &DeadlineRecord) -> Result<(), StoreError> {
        self.guard
            .run_statement(runtime::schedule_deadline(
                &mut *self.tx,
                &self.store.inner.sql.runtime,
                deadline,
            ))
            .await
    }

    /// Cancels a deadline (also used once it fired); `false` when there was none.
    ///
    /// # Errors
    /// Backend failures.
    pub async fn cancel_deadline(&mut self, deadline_id: &str) -> Result<bool, StoreError> {
        self.guard
            .run_statement(runtime::cancel_deadline(
                &mut *self.tx,
                &self.store.inner.sql.runtime,
                deadline_id,
            ))
            .await
    }

    /// Records that `consumer` processed `event_id`; `false` when it already had, in which case
    /// the caller should skip its effects.
    ///
    /// # Errors
    /// Backend failures.
    pub async fn record_processed(
        &mut self,
        consumer: &str,
        event_id: EventId,
    ) -> Result<bool, StoreError> {
        self.guard
            .run_statement(runtime::record_processed(
                &mut *self.tx,
                &self.store.inner.sql.runtime,
                consumer,
                event_id,
            ))
            .await
    }

    /// [`record_processed`](Self::record_processed) for each of `event_ids`, in one statement:
    /// for each, whether it was new.
    ///
    /// # Errors
    /// Backend failures.
    pub async fn record_all_processed(
        &mut self,
        consumer: &str,
        event_ids: &[EventId],
    ) -> Result<Vec<bool>, StoreError> {
        self.guard
            .run_statement(runtime::record_all_processed(
                &mut *self.tx,
                &self.store.inner.sql.runtime,
                consumer,
                event_ids,
            ))
            .await
    }
}
