//! Durable runtime state beside the log: projection checkpoints, saga state, deadlines and the
//! consumer inbox. Each operation runs on any executor, so it can join a
//! [`SqliteTransaction`](crate::SqliteTransaction) or run alone.

use std::time::SystemTime;

use eventcore::backend::{DeadlineColumns, DeadlineRecord, SagaColumns, SagaRecord};
use eventcore::{EventId, StoreError};
use sqlx::{Row, SqliteExecutor};

use crate::rows::{column, micros, to_i64};

pub(crate) async fn checkpoint<'e>(
    executor: impl SqliteExecutor<'e>,
    name: &str,
) -> Result<Option<u64>, StoreError> {
    let position: Option<i64> =
        sqlx::query_scalar("SELECT position FROM eventcore_checkpoints WHERE name = ?1")
            .bind(name)
            .fetch_optional(executor)
            .await
            .map_err(StoreError::backend)?;
    Ok(position.map(|p| p as u64))
}

/// Moves checkpoint `name` from `from` to `to` if a row holds `from`; whether one did.
pub(crate) async fn advance_checkpoint<'e>(
    executor: impl SqliteExecutor<'e>,
    name: &str,
    from: u64,
    to: u64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE eventcore_checkpoints SET position = ?3, updated_at = ?4
         WHERE name = ?1 AND position = ?2",
    )
    .bind(name)
    .bind(to_i64(from)?)
    .bind(to_i64(to)?)
    .bind(micros(SystemTime::now()))
    .execute(executor)
    .await
    .map_err(StoreError::backend)?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn save_checkpoint<'e>(
    executor: impl SqliteExecutor<'e>,
    name: &str,
    position: u64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO eventcore_checkpoints (name, position, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (name) DO UPDATE SET position = excluded.position,
             updated_at = excluded.updated_at",
    )
    .bind(name)
    .bind(to_i64(position)?)
    .bind(micros(SystemTime::now()))
    .execute(executor)
    .await
    .map_err(StoreError::backend)?;
    Ok(())
}

pub(crate) fn saga_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<SagaRecord, StoreError> {
    let place = SagaColumns::place(
        &row.try_get::<String, _>(0).unwrap_or_default(),
        &row.try_get::<String, _>(1).unwrap_or_default(),
    );
    SagaColumns {
        saga_type: column(row, 0, &place)?,
        saga_id: column(row, 1, &place)?,
        status: column(row, 2, &place)?,
        state: column(row, 3, &place)?,
        version: column(row, 4, &place)?,
        updated_at_micros: column(row, 5, &place)?,
    }
    .into_record()
}

pub(crate) const SAGA_COLUMNS: &str = "saga_type, saga_id, status, state, version, updated_at";

pub(crate) async fn saga<'e>(
    executor: impl SqliteExecutor<'e>,
    saga_type: &str,
    saga_id: &str,
) -> Result<Option<SagaRecord>, StoreError> {
    let sql =
        format!("SELECT {SAGA_COLUMNS} FROM eventcore_sagas WHERE saga_type = ?1 AND saga_id = ?2");
    sqlx::query(&sql)
        .bind(saga_type)
        .bind(saga_id)
        .fetch_optional(executor)
        .await
        .map_err(StoreError::backend)?
        .as_ref()
        .map(saga_from_row)
        .transpose()
}

/// Instances of a type (`?1`) with a status (`?2`), least recently updated first, at most `?3`.
fn sagas_by_status_sql() -> String {
    format!(
        "SELECT {SAGA_COLUMNS} FROM eventcore_sagas WHERE saga_type = ?1 AND status = ?2 \
         ORDER BY updated_at, saga_id LIMIT ?3"
    )
}

pub(crate) async fn sagas_by_status<'e>(
    executor: impl SqliteExecutor<'e>,
    saga_type: &str,
    status: &str,
    limit: usize,
) -> Result<Vec<SagaRecord>, StoreError> {
    sqlx::query(&sagas_by_status_sql())
        .bind(saga_type)
        .bind(status)
        .bind(eventcore::backend::sql_limit(limit))
        .fetch_all(executor)
        .await
        .map_err(StoreError::backend)?
        .iter()
        .map(saga_from_row)
        .collect()
}

/// Saves `record` if the stored version is `expected_version` (0 = not stored yet); returns the
/// new version. A mismatch is [`StoreError::SagaConflict`].
pub(crate) async fn save_saga(
    conn: &mut sqlx::SqliteConnection,
    record: &SagaRecord,
    expected_version: u64,
) -> Result<u64, StoreError> {
    let new_version = expected_version + 1;
    let now = micros(SystemTime::now());
    let result = if expected_version == 0 {
        sqlx::query(
            "INSERT INTO eventcore_sagas (saga_type, saga_id, status, state, version, updated_at)
             VALUES (?1, ?2, ?3, ?4, 1, ?5) ON CONFLICT DO NOTHING",
        )
        .bind(&record.saga_type)
        .bind(&record.saga_id)
        .bind(&record.status)
        .bind(record.state.get())
        .bind(now)
        .execute(&mut *conn)
        .await
    } else {
        sqlx::query(
            "UPDATE eventcore_sagas SET status = ?3, state = ?4, version = ?5, updated_at = ?6
             WHERE saga_type = ?1 AND saga_id = ?2 AND version = ?7",
        )
        .bind(&record.saga_type)
        .bind(&record.saga_id)
        .bind(&record.status)
        .bind(record.state.get())
        .bind(to_i64(new_version)?)
        .bind(now)
        .bind(to_i64(expected_version)?)
        .execute(&mut *conn)
        .await
    }
    .map_err(StoreError::backend)?;
    if result.rows_affected() == 1 {
        return Ok(new_version);
    }
    Err(conflict(conn, record, expected_version).await)
}

/// The conflict a save of `record` at `expected_version` met, with the stored version.
pub(crate) async fn conflict(
    conn: &mut sqlx::SqliteConnection,
    record: &SagaRecord,
    expected_version: u64,
) -> StoreError {
    let actual = match saga(&mut *conn, &record.saga_type, &record.saga_id).await {
        Ok(found) => found.map_or(0, |r| r.version),
        Err(error) => return error,
    };
    eventcore::backend::saga_conflict(&record.saga_type, &record.saga_id, expected_version, actual)
}

pub(crate) async fn schedule_deadline<'e>(
    executor: impl SqliteExecutor<'e>,
    deadline: &DeadlineRecord,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO eventcore_deadlines (deadline_id, saga_type, saga_id, due_at, payload)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (deadline_id) DO UPDATE SET due_at = excluded.due_at,
             payload = excluded.payload",
    )
    .bind(&deadline.deadline_id)
    .bind(&deadline.saga_type)
    .bind(&deadline.saga_id)
    .bind(micros(deadline.due_at))
    .bind(deadline.payload.get())
    .execute(executor)
    .await
    .map_err(StoreError::backend)?;
    Ok(())
}

pub(crate) async fn cancel_deadline<'e>(
    executor: impl SqliteExecutor<'e>,
    deadline_id: &str,
) -> Result<bool, StoreError> {
    let result = sqlx::query("DELETE FROM eventcore_deadlines WHERE deadline_id = ?1")
        .bind(deadline_id)
        .execute(executor)
        .await
        .map_err(StoreError::backend)?;
    Ok(result.rows_affected() == 1)
}

/// Deadlines of `saga_type` (of one instance if `saga_id` is given, due by `due_by` if given),
/// earliest first.
pub(crate) async fn deadlines<'e>(
    executor: impl SqliteExecutor<'e>,
    saga_type: &str,
    saga_id: Option<&str>,
    due_by: Option<SystemTime>,
    limit: usize,
) -> Result<Vec<DeadlineRecord>, StoreError> {
    let rows = sqlx::query(
        "SELECT deadline_id, saga_type, saga_id, due_at, payload FROM eventcore_deadlines
         WHERE due_at <= ?3 AND saga_type = ?1 AND (?2 IS NULL OR saga_id = ?2)
         ORDER BY due_at, deadline_id LIMIT ?4",
    )
    .bind(saga_type)
    .bind(saga_id)
    // A bound, never NULL, so that the due-time index is searched as a range (not scanned).
    .bind(due_by.map_or(i64::MAX, micros))
    .bind(eventcore::backend::sql_limit(limit))
    .fetch_all(executor)
    .await
    .map_err(StoreError::backend)?;
    rows.iter()
        .map(|row| {
            let place = SagaColumns::place(
                &row.try_get::<String, _>(1).unwrap_or_default(),
                &row.try_get::<String, _>(2).unwrap_or_default(),
            );
            DeadlineColumns {
                deadline_id: column(row, 0, &place)?,
                saga_type: column(row, 1, &place)?,
                saga_id: column(row, 2, &place)?,
                due_at_micros: column(row, 3, &place)?,
                payload: column(row, 4, &place)?,
            }
            .into_record()
        })
        .collect()
}

/// Records that `consumer` processed `event_id`; `false` when it already had.
pub(crate) async fn record_processed<'e>(
    executor: impl SqliteExecutor<'e>,
    consumer: &str,
    event_id: EventId,
) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "INSERT INTO eventcore_inbox (consumer, event_id, processed_at) VALUES (?1, ?2, ?3)
         ON CONFLICT DO NOTHING",
    )
    .bind(consumer)
    .bind(event_id.as_bytes().as_slice())
    .bind(micros(SystemTime::now()))
    .execute(executor)
    .await
    .map_err(StoreError::backend)?;
    Ok(result.rows_affected() == 1)
}

pub(crate) async fn is_processed<'e>(
    executor: impl SqliteExecutor<'e>,
    consumer: &str,
    event_id: EventId,
) -> Result<bool, StoreError> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM eventcore_inbox WHERE consumer = ?1 AND event_id = ?2")
            .bind(consumer)
            .bind(event_id.as_bytes().as_slice())
            .fetch_optional(executor)
            .await
            .map_err(StoreError::backend)?;
    Ok(found.is_some())
}

/// Reads of the runtime state outside a transaction (the rest is on
/// [`TransactionalStore`](eventcore::TransactionalStore)); writes go through a
/// [`SqliteTransaction`](crate::SqliteTransaction).
impl crate::SqliteEventStore {
    /// Whether `consumer` has recorded `event_id` as processed.
    ///
    /// # Errors
    /// Backend failures.
    pub async fn is_processed(
        &self,
        consumer: &str,
        event_id: EventId,
    ) -> Result<bool, StoreError> {
        is_processed(self.reader_pool(), consumer, event_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The dispatcher asks this after every change: it must seek its few in-flight instances
    /// in order, never scan every instance of the type and sort them.
    #[tokio::test]
    async fn sagas_by_status_seeks_the_type_and_status_index_in_order() {
        let store = crate::SqliteEventStore::open_in_memory().await.unwrap();
        let rows = sqlx::query(&format!("EXPLAIN QUERY PLAN {}", sagas_by_status_sql()))
            .bind("order")
            .bind("dispatching")
            .bind(100_i64)
            .fetch_all(store.reader_pool())
            .await
            .unwrap();
        let details: Vec<String> = rows
            .iter()
            .map(|row| sqlx::Row::get::<String, _>(row, 3))
            .collect();
        let details = details.join(" | ");
        assert!(
            details.contains("USING INDEX eventcore_sagas_by_type_status"),
            "{details}"
        );
        assert!(!details.contains("TEMP B-TREE"), "{details}");
    }
}
