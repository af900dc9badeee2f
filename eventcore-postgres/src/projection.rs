//! The runtime seam for projections: [`PgTransaction`] as a
//! [`StoreTransaction`](eventcore::StoreTransaction) and the store as a
//! [`TransactionalStore`](eventcore::TransactionalStore), with dead letters beside the log.

use async_trait::async_trait;
use std::time::SystemTime;

use eventcore::backend::{
    DeadLetterColumns, DeadlineRecord, RuntimeStore, RuntimeTransaction, SagaRecord,
};
use eventcore::{
    DeadLetter, EventId, RuntimeCounts, StoreError, StoreTransaction, TransactionalStore,
};
use sqlx::Row;

use crate::rows::{column, micros, to_i64};
use crate::{PgEventStore, PgTransaction, runtime};

fn dead_letter_from_row(row: &sqlx::postgres::PgRow) -> Result<DeadLetter, StoreError> {
    let place = DeadLetterColumns::place(
        &row.try_get::<String, _>(0).unwrap_or_default(),
        row.try_get(1).unwrap_or_default(),
    );
    DeadLetterColumns {
        consumer: column(row, 0, &place)?,
        position: column(row, 1, &place)?,
        event_id: column::<uuid::Uuid>(row, 2, &place)?.as_bytes().to_vec(),
        event_type: column(row, 3, &place)?,
        error: column(row, 4, &place)?,
        attempts: i64::from(column::<i32>(row, 5, &place)?),
        failed_at_micros: column(row, 6, &place)?,
    }
    .into_letter()
}

#[async_trait]
impl StoreTransaction for PgTransaction {
    fn after_commit(&mut self, callback: Box<dyn FnOnce() + Send>) {
        self.guard.after_commit(callback);
    }

    fn own_states(&mut self) -> Option<&mut eventcore::TransactionStates> {
        Some(self.guard.states())
    }

    async fn append(
        &mut self,
        request: eventcore::AppendRequest,
    ) -> Result<Vec<eventcore::RecordedEvent>, StoreError> {
        PgTransaction::append(self, request).await
    }

    async fn will_append(&mut self) -> Result<(), StoreError> {
        PgTransaction::will_append(self).await
    }

    async fn read_stream(
        &mut self,
        stream: &eventcore::StreamId,
        from_version: u64,
        max_count: usize,
    ) -> Result<Vec<eventcore::RecordedEvent>, StoreError> {
        let store = self.store().clone(); // the statement outlives the borrow of `self`
        self.guard
            .run_statement(crate::rows::read_stream(
                &mut *self.tx,
                &store.inner.sql.read_stream,
                stream,
                from_version,
                max_count,
            ))
            .await
    }

    async fn read_for_command(
        &mut self,
        stream: &eventcore::StreamId,
        from_version: u64,
        probe: Option<EventId>,
    ) -> Result<eventcore::CommandRead, StoreError> {
        let store = self.store().clone(); // the statement outlives the borrow of `self`
        self.guard
            .run_statement(crate::rows::read_for_command(
                &mut *self.tx,
                &store.inner.sql.read_for_command,
                stream,
                from_version,
                probe,
            ))
            .await
    }

    async fn checkpoint(&mut self, name: &str) -> Result<Option<u64>, StoreError> {
        PgTransaction::checkpoint(self, name).await
    }

    async fn save_checkpoint(&mut self, name: &str, position: u64) -> Result<(), StoreError> {
        PgTransaction::save_checkpoint(self, name, position).await
    }

    async fn advance_checkpoint(
        &mut self,
        name: &str,
        from: u64,
        to: u64,
    ) -> Result<Option<u64>, StoreError> {
        PgTransaction::advance_checkpoint(self, name, from, to).await
    }

    async fn record_processed(
        &mut self,
        consumer: &str,
        event_id: EventId,
    ) -> Result<bool, StoreError> {
        PgTransaction::record_processed(self, consumer, event_id).await
    }

    async fn record_all_processed(
        &mut self,
        consumer: &str,
        event_ids: &[EventId],
    ) -> Result<Vec<bool>, StoreError> {
        PgTransaction::record_all_processed(self, consumer, event_ids).await
    }

    async fn commit(self) -> Result<(), StoreError> {
        PgTransaction::commit(self).await
    }
}

#[async_trait]
impl RuntimeTransaction for PgTransaction {
    async fn record_dead_letter(&mut self, letter: &DeadLetter) -> Result<(), StoreError> {
        let store = self.store().clone(); // the statement outlives the borrow of `self`
        let insert = sqlx::query(&store.inner.sql.runtime.record_dead_letter)
            .bind(&letter.consumer)
            .bind(to_i64(letter.position)?)
            .bind(letter.event_id.as_uuid())
            .bind(&letter.event_type)
            .bind(&letter.error)
            .bind(i32::try_from(letter.attempts).unwrap_or(i32::MAX))
            .bind(micros(letter.failed_at))
            .execute(&mut *self.tx);
        self.guard
            .run_statement(async { insert.await.map_err(StoreError::backend) })
            .await?;
        Ok(())
    }
    async fn saga(
        &mut self,
        saga_type: &str,
        saga_id: &str,
    ) -> Result<Option<SagaRecord>, StoreError> {
        PgTransaction::saga(self, saga_type, saga_id).await
    }
    async fn sagas(
        &mut self,
        saga_type: &str,
        saga_ids: &[String],
    ) -> Result<Vec<SagaRecord>, StoreError> {
        PgTransaction::sagas(self, saga_type, saga_ids).await
    }
    async fn save_sagas(&mut self, saves: &[(SagaRecord, u64)]) -> Result<Vec<u64>, StoreError> {
        PgTransaction::save_sagas(self, saves).await
    }
    async fn cancel_deadlines(&mut self, deadline_ids: &[String]) -> Result<(), StoreError> {
        PgTransaction::cancel_deadlines(self, deadline_ids).await
    }
    async fn save_saga(
        &mut self,
        record: &SagaRecord,
        expected_version: u64,
    ) -> Result<u64, StoreError> {
        PgTransaction::save_saga(self, record, expected_version).await
    }
    async fn schedule_deadline(&mut self, deadline: &DeadlineRecord) -> Result<(), StoreError> {
        PgTransaction::schedule_deadline(self, deadline).await
    }
    async fn cancel_deadline(&mut self, deadline_id: &str) -> Result<bool, StoreError> {
        PgTransaction::cancel_deadline(self, deadline_id).await
    }
}

#[async_trait]
impl TransactionalStore for PgEventStore {
    type Transaction = PgTransaction;

    async fn begin(&self) -> Result<PgTransaction, StoreError> {
        PgEventStore::begin(self).await
    }

    async fn begin_appending(&self) -> Result<PgTransaction, StoreError> {
        PgEventStore::begin_appending(self).await
    }

    async fn load_checkpoint(&self, name: &str) -> Result<Option<u64>, StoreError> {
        runtime::checkpoint(self.pool(), &self.inner.sql.runtime, name).await
    }

    async fn dead_letters(
        &self,
        consumer: &str,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, StoreError> {
        sqlx::query(&self.inner.sql.runtime.dead_letters)
            .bind(consumer)
            .bind(eventcore::backend::sql_limit(limit))
            .fetch_all(self.pool())
            .await
            .map_err(StoreError::backend)?
            .iter()
            .map(dead_letter_from_row)
            .collect()
    }
}

#[async_trait]
impl RuntimeStore for PgEventStore {
    async fn saga(&self, saga_type: &str, saga_id: &str) -> Result<Option<SagaRecord>, StoreError> {
        runtime::saga(self.pool(), &self.inner.sql.runtime, saga_type, saga_id).await
    }
    async fn sagas_with_status(
        &self,
        saga_type: &str,
        status: &str,
        limit: usize,
    ) -> Result<Vec<SagaRecord>, StoreError> {
        runtime::sagas_by_status(
            self.pool(),
            &self.inner.sql.runtime,
            saga_type,
            status,
            limit,
        )
        .await
    }
    async fn deadlines_due(
        &self,
        saga_type: &str,
        now: SystemTime,
        limit: usize,
    ) -> Result<Vec<DeadlineRecord>, StoreError> {
        runtime::deadlines(
            self.pool(),
            &self.inner.sql.runtime,
            saga_type,
            None,
            Some(now),
            limit,
        )
        .await
    }
    async fn deadlines_of(
        &self,
        saga_type: &str,
        saga_id: &str,
    ) -> Result<Vec<DeadlineRecord>, StoreError> {
        runtime::deadlines(
            self.pool(),
            &self.inner.sql.runtime,
            saga_type,
            Some(saga_id),
            None,
            usize::MAX,
        )
        .await
    }
    async fn count_events_through(&self, position: u64) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query_scalar(&self.inner.sql.runtime.count_events_through)
            .bind(i64::try_from(position).unwrap_or(i64::MAX))
            .fetch_one(self.pool())
            .await
            .map_err(StoreError::backend)?;
        Ok(count as u64)
    }
    async fn counts(&self) -> Result<RuntimeCounts, StoreError> {
        let rows = sqlx::query_as(&self.inner.sql.runtime.counts)
            .fetch_all(self.pool())
            .await
            .map_err(StoreError::backend)?;
        Ok(eventcore::backend::counts_from_rows(rows))
    }
}
