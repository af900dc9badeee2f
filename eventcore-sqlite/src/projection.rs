//! The runtime seam for projections: [`SqliteTransaction`] as a
//! [`StoreTransaction`](eventcore::StoreTransaction) and the store as a
//! [`TransactionalStore`](eventcore::TransactionalStore), with dead letters beside the log.

use async_trait::async_trait;
use std::time::SystemTime;

use eventcore::backend::{
    DeadLetterColumns, DeadlineRecord, RuntimeStore, RuntimeTransaction, SagaRecord,
    counts_from_rows, counts_sql,
};
use eventcore::{
    DeadLetter, EventId, RuntimeCounts, StoreError, StoreTransaction, TransactionalStore,
};
use sqlx::{Row, SqliteExecutor};

use crate::rows::{column, micros, to_i64};
use crate::{SqliteEventStore, SqliteTransaction, runtime};

async fn record_dead_letter<'e>(
    executor: impl SqliteExecutor<'e>,
    letter: &DeadLetter,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT OR REPLACE INTO eventcore_dead_letters
             (consumer, position, event_id, event_type, error, attempts, failed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .bind(&letter.consumer)
    .bind(to_i64(letter.position)?)
    .bind(letter.event_id.as_bytes().as_slice())
    .bind(&letter.event_type)
    .bind(&letter.error)
    .bind(i64::from(letter.attempts))
    .bind(micros(letter.failed_at))
    .execute(executor)
    .await
    .map_err(StoreError::backend)?;
    Ok(())
}

fn dead_letter_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<DeadLetter, StoreError> {
    let place = DeadLetterColumns::place(
        &row.try_get::<String, _>(0).unwrap_or_default(),
        row.try_get(1).unwrap_or_default(),
    );
    DeadLetterColumns {
        consumer: column(row, 0, &place)?,
        position: column(row, 1, &place)?,
        event_id: column(row, 2, &place)?,
        event_type: column(row, 3, &place)?,
        error: column(row, 4, &place)?,
        attempts: column(row, 5, &place)?,
        failed_at_micros: column(row, 6, &place)?,
    }
    .into_letter()
}

#[async_trait]
impl StoreTransaction for SqliteTransaction {
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
        SqliteTransaction::append(self, request).await
    }

    async fn read_stream(
        &mut self,
        stream: &eventcore::StreamId,
        from_version: u64,
        max_count: usize,
    ) -> Result<Vec<eventcore::RecordedEvent>, StoreError> {
        self.guard
            .run(crate::reads::read_stream(
                &mut *self.tx,
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
        self.guard
            .run(crate::reads::read_for_command(
                &mut *self.tx,
                stream,
                from_version,
                probe,
            ))
            .await
    }

    async fn checkpoint(&mut self, name: &str) -> Result<Option<u64>, StoreError> {
        SqliteTransaction::checkpoint(self, name).await
    }

    async fn save_checkpoint(&mut self, name: &str, position: u64) -> Result<(), StoreError> {
        SqliteTransaction::save_checkpoint(self, name, position).await
    }

    async fn advance_checkpoint(
        &mut self,
        name: &str,
        from: u64,
        to: u64,
    ) -> Result<Option<u64>, StoreError> {
        SqliteTransaction::advance_checkpoint(self, name, from, to).await
    }

    async fn record_processed(
        &mut self,
        consumer: &str,
        event_id: EventId,
    ) -> Result<bool, StoreError> {
        SqliteTransaction::record_processed(self, consumer, event_id).await
    }

    async fn record_all_processed(
        &mut self,
        consumer: &str,
        event_ids: &[EventId],
    ) -> Result<Vec<bool>, StoreError> {
        SqliteTransaction::record_all_processed(self, consumer, event_ids).await
    }

    async fn commit(self) -> Result<(), StoreError> {
        SqliteTransaction::commit(self).await
    }
}

#[async_trait]
impl RuntimeTransaction for SqliteTransaction {
    async fn record_dead_letter(&mut self, letter: &DeadLetter) -> Result<(), StoreError> {
        self.guard
            .run(record_dead_letter(&mut *self.tx, letter))
            .await
    }
    async fn saga(
        &mut self,
        saga_type: &str,
        saga_id: &str,
    ) -> Result<Option<SagaRecord>, StoreError> {
        SqliteTransaction::saga(self, saga_type, saga_id).await
    }
    async fn sagas(
        &mut self,
        saga_type: &str,
        saga_ids: &[String],
    ) -> Result<Vec<SagaRecord>, StoreError> {
        SqliteTransaction::sagas(self, saga_type, saga_ids).await
    }
    async fn save_saga(
        &mut self,
        record: &SagaRecord,
        expected_version: u64,
    ) -> Result<u64, StoreError> {
        SqliteTransaction::save_saga(self, record, expected_version).await
    }
    async fn schedule_deadline(&mut self, deadline: &DeadlineRecord) -> Result<(), StoreError> {
        SqliteTransaction::schedule_deadline(self, deadline).await
    }
    async fn cancel_deadline(&mut self, deadline_id: &str) -> Result<bool, StoreError> {
        SqliteTransaction::cancel_deadline(self, deadline_id).await
    }
    async fn save_sagas(&mut self, saves: &[(SagaRecord, u64)]) -> Result<Vec<u64>, StoreError> {
        SqliteTransaction::save_sagas(self, saves).await
    }
    async fn cancel_deadlines(&mut self, deadline_ids: &[String]) -> Result<(), StoreError> {
        SqliteTransaction::cancel_deadlines(self, deadline_ids).await
    }
}

#[async_trait]
impl TransactionalStore for SqliteEventStore {
    type Transaction = SqliteTransaction;

    async fn begin(&self) -> Result<SqliteTransaction, StoreError> {
        SqliteEventStore::begin(self).await
    }

    async fn load_checkpoint(&self, name: &str) -> Result<Option<u64>, StoreError> {
        runtime::checkpoint(self.reader_pool(), name).await
    }

    async fn dead_letters(
        &self,
        consumer: &str,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, StoreError> {
        sqlx::query(
            "SELECT consumer, position, event_id, event_type, error, attempts, failed_at
             FROM eventcore_dead_letters WHERE consumer = ?1 ORDER BY position LIMIT ?2",
        )
        .bind(consumer)
        .bind(eventcore::backend::sql_limit(limit))
        .fetch_all(self.reader_pool())
        .await
        .map_err(StoreError::backend)?
        .iter()
        .map(dead_letter_from_row)
        .collect()
    }
}

#[async_trait]
impl RuntimeStore for SqliteEventStore {
    async fn saga(&self, saga_type: &str, saga_id: &str) -> Result<Option<SagaRecord>, StoreError> {
        runtime::saga(self.reader_pool(), saga_type, saga_id).await
    }
    async fn sagas_with_status(
        &self,
        saga_type: &str,
        status: &str,
        limit: usize,
    ) -> Result<Vec<SagaRecord>, StoreError> {
        runtime::sagas_by_status(self.reader_pool(), saga_type, status, limit).await
    }
    async fn deadlines_due(
        &self,
        saga_type: &str,
        now: SystemTime,
        limit: usize,
    ) -> Result<Vec<DeadlineRecord>, StoreError> {
        runtime::deadlines(self.reader_pool(), saga_type, None, Some(now), limit).await
    }
    async fn deadlines_of(
        &self,
        saga_type: &str,
        saga_id: &str,
    ) -> Result<Vec<DeadlineRecord>, StoreError> {
        runtime::deadlines(
            self.reader_pool(),
            saga_type,
            Some(saga_id),
            None,
            usize::MAX,
        )
        .await
    }
    async fn count_events_through(&self, position: u64) -> Result<u64, StoreError> {
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM eventcore_events WHERE position <= ?1")
                .bind(i64::try_from(position).unwrap_or(i64::MAX))
                .fetch_one(self.reader_pool())
                .await
                .map_err(StoreError::backend)?;
        Ok(count as u64)
    }
    async fn counts(&self) -> Result<RuntimeCounts, StoreError> {
        static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            counts_sql(
                "eventcore_events",
                "eventcore_sagas",
                "eventcore_dead_letters",
            )
        });
        let rows = sqlx::query_as(SQL.as_str())
            .fetch_all(self.reader_pool())
            .await
            .map_err(StoreError::backend)?;
        Ok(counts_from_rows(rows))
    }
}
