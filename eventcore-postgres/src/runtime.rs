//! Durable runtime state beside the log: projection checkpoints, saga state, deadlines and the
//! consumer inbox. Each operation runs on any executor, so it can join a
//! [`PgTransaction`](crate::PgTransaction) or run alone.

use std::time::SystemTime;

use eventcore::{DeadlineRecord, EventId, SagaRecord, StoreError};
use serde_json::value::RawValue;
use sqlx::{PgExecutor, Row};

use crate::rows::{from_micros, micros, timestamp_sql, to_i64};
use crate::schema::Schema;

const EPOCH_MICROS: &str = "(EXTRACT(EPOCH FROM {}) * 1000000)::BIGINT";

fn micros_of(column: &str) -> String {
    EPOCH_MICROS.replace("{}", column)
}

pub(crate) async fn checkpoint<'e>(
    executor: impl PgExecutor<'e>,
    schema: &Schema,
    name: &str,
) -> Result<Option<u64>, StoreError> {
    let sql = format!(
        "SELECT position FROM {} WHERE name = $1",
        schema.table("eventcore_checkpoints")
    );
    let position: Option<i64> = sqlx::query_scalar(&sql)
        .bind(name)
        .fetch_optional(executor)
        .await
        .map_err(StoreError::backend)?;
    Ok(position.map(|p| p as u64))
}

/// The checkpoint, locked until the transaction ends (created at 0 if absent, so there is a
/// row to lock): a concurrent runner of the same projection waits, then sees the new value.
pub(crate) async fn lock_checkpoint(
    conn: &mut sqlx::PgConnection,
    schema: &Schema,
    name: &str,
) -> Result<Option<u64>, StoreError> {
    let table = schema.table("eventcore_checkpoints");
    let select = format!("SELECT position FROM {table} WHERE name = $1 FOR UPDATE");
    let locked = sqlx::query_scalar::<_, i64>(&select).bind(name);
    if let Some(position) = locked
        .fetch_optional(&mut *conn)
        .await
        .map_err(StoreError::backend)?
    {
        return Ok(Some(position as u64));
    }
    // A new checkpoint: create it, then lock it (a concurrent creator may have won).
    sqlx::query(&format!(
        "INSERT INTO {table} (name, position) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING"
    ))
    .bind(name)
    .execute(&mut *conn)
    .await
    .map_err(StoreError::backend)?;
    let position: i64 = sqlx::query_scalar(&select)
        .bind(name)
        .fetch_one(&mut *conn)
        .await
        .map_err(StoreError::backend)?;
    Ok(Some(position as u64))
}

pub(crate) async fn save_checkpoint<'e>(
    executor: impl PgExecutor<'e>,
    schema: &Schema,
    name: &str,
    position: u64,
) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO {} (name, position) VALUES ($1, $2)
         ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = now()",
        schema.table("eventcore_checkpoints")
    );
    sqlx::query(&sql)
        .bind(name)
        .bind(to_i64(position)?)
        .execute(executor)
        .await
        .map_err(StoreError::backend)?;
    Ok(())
}

fn saga_columns() -> String {
    format!(
        "saga_type, saga_id, status, state::TEXT, version, {}",
        micros_of("updated_at")
    )
}

fn saga_from_row(row: &sqlx::postgres::PgRow) -> Result<SagaRecord, StoreError> {
    let saga_type: String = row.try_get(0).map_err(StoreError::backend)?;
    let saga_id: String = row.try_get(1).map_err(StoreError::backend)?;
    let state: String = row.try_get(3).map_err(StoreError::backend)?;
    let state = RawValue::from_string(state).map_err(|e| StoreError::Corrupt {
        stream: format!("saga {saga_type}/{saga_id}"),
        position: 0,
        reason: e.to_string(),
    })?;
    Ok(SagaRecord {
        status: row.try_get(2).map_err(StoreError::backend)?,
        state,
        version: row.try_get::<i64, _>(4).map_err(StoreError::backend)? as u64,
        updated_at: from_micros(row.try_get(5).map_err(StoreError::backend)?),
        saga_type,
        saga_id,
    })
}

pub(crate) async fn load_saga<'e>(
    executor: impl PgExecutor<'e>,
    schema: &Schema,
    saga_type: &str,
    saga_id: &str,
) -> Result<Option<SagaRecord>, StoreError> {
    let sql = format!(
        "SELECT {} FROM {} WHERE saga_type = $1 AND saga_id = $2",
        saga_columns(),
        schema.table("eventcore_sagas")
    );
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

pub(crate) async fn sagas_by_status<'e>(
    executor: impl PgExecutor<'e>,
    schema: &Schema,
    saga_type: &str,
    status: &str,
    limit: usize,
) -> Result<Vec<SagaRecord>, StoreError> {
    let sql = format!(
        "SELECT {} FROM {} WHERE saga_type = $1 AND status = $2
         ORDER BY updated_at, saga_id LIMIT $3",
        saga_columns(),
        schema.table("eventcore_sagas")
    );
    sqlx::query(&sql)
        .bind(saga_type)
        .bind(status)
        .bind(eventcore::stored::sql_limit(limit))
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
    conn: &mut sqlx::PgConnection,
    schema: &Schema,
    record: &SagaRecord,
    expected_version: u64,
) -> Result<u64, StoreError> {
    let table = schema.table("eventcore_sagas");
    let new_version = expected_version + 1;
    let now = timestamp_sql(5);
    let sql = if expected_version == 0 {
        format!(
            "INSERT INTO {table} (saga_type, saga_id, status, state, version, updated_at)
             VALUES ($1, $2, $3, $4::JSON, 1, {now}) ON CONFLICT DO NOTHING"
        )
    } else {
        format!(
            "UPDATE {table} SET status = $3, state = $4::JSON, version = $6, updated_at = {now}
             WHERE saga_type = $1 AND saga_id = $2 AND version = $7"
        )
    };
    let mut query = sqlx::query(&sql)
        .bind(&record.saga_type)
        .bind(&record.saga_id)
        .bind(&record.status)
        .bind(record.state.get())
        .bind(micros(SystemTime::now()));
    if expected_version > 0 {
        query = query
            .bind(to_i64(new_version)?)
            .bind(to_i64(expected_version)?);
    }
    let result = query
        .execute(&mut *conn)
        .await
        .map_err(StoreError::backend)?;
    if result.rows_affected() == 1 {
        return Ok(new_version);
    }
    let actual = load_saga(&mut *conn, schema, &record.saga_type, &record.saga_id)
        .await?
        .map_or(0, |r| r.version);
    Err(eventcore::stored::saga_conflict(
        &record.saga_type,
        &record.saga_id,
        expected_version,
        actual,
    ))
}

pub(crate) async fn schedule_deadline<'e>(
    executor: impl PgExecutor<'e>,
    schema: &Schema,
    deadline: &DeadlineRecord,
) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO {} (deadline_id, saga_type, saga_id, due_at, payload)
         VALUES ($1, $2, $3, {}, $5::JSON)
         ON CONFLICT (deadline_id) DO UPDATE SET due_at = excluded.due_at,
             payload = excluded.payload",
        schema.table("eventcore_deadlines"),
        timestamp_sql(4)
    );
    sqlx::query(&sql)
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
    executor: impl PgExecutor<'e>,
    schema: &Schema,
    deadline_id: &str,
) -> Result<bool, StoreError> {
    let sql = format!(
        "DELETE FROM {} WHERE deadline_id = $1",
        schema.table("eventcore_deadlines")
    );
    let result = sqlx::query(&sql)
        .bind(deadline_id)
        .execute(executor)
        .await
        .map_err(StoreError::backend)?;
    Ok(result.rows_affected() == 1)
}

/// Deadlines of `saga_type` (of one instance if `saga_id` is given, due by `due_by` if given),
/// earliest first.
pub(crate) async fn deadlines<'e>(
    executor: impl PgExecutor<'e>,
    schema: &Schema,
    saga_type: &str,
    saga_id: Option<&str>,
    due_by: Option<SystemTime>,
    limit: usize,
) -> Result<Vec<DeadlineRecord>, StoreError> {
    let sql = format!(
        "SELECT deadline_id, saga_type, saga_id, {}, payload::TEXT FROM {}
         WHERE saga_type = $1 AND ($2::TEXT IS NULL OR saga_id = $2)
           AND ($3::BIGINT IS NULL OR due_at <= {})
         ORDER BY due_at, deadline_id LIMIT $4",
        micros_of("due_at"),
        schema.table("eventcore_deadlines"),
        timestamp_sql(3)
    );
    let rows = sqlx::query(&sql)
        .bind(saga_type)
        .bind(saga_id)
        .bind(due_by.map(micros))
        .bind(eventcore::stored::sql_limit(limit))
        .fetch_all(executor)
        .await
        .map_err(StoreError::backend)?;
    rows.iter()
        .map(|row| {
            let payload: String = row.try_get(4).map_err(StoreError::backend)?;
            Ok(DeadlineRecord {
                deadline_id: row.try_get(0).map_err(StoreError::backend)?,
                saga_type: row.try_get(1).map_err(StoreError::backend)?,
                saga_id: row.try_get(2).map_err(StoreError::backend)?,
                due_at: from_micros(row.try_get(3).map_err(StoreError::backend)?),
                payload: RawValue::from_string(payload).map_err(StoreError::backend)?,
            })
        })
        .collect()
}

/// Records that `consumer` processed `event_id`; `false` when it already had.
pub(crate) async fn record_processed<'e>(
    executor: impl PgExecutor<'e>,
    schema: &Schema,
    consumer: &str,
    event_id: EventId,
) -> Result<bool, StoreError> {
    let sql = format!(
        "INSERT INTO {} (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        schema.table("eventcore_inbox")
    );
    let result = sqlx::query(&sql)
        .bind(consumer)
        .bind(event_id.0)
        .execute(executor)
        .await
        .map_err(StoreError::backend)?;
    Ok(result.rows_affected() == 1)
}

pub(crate) async fn is_processed<'e>(
    executor: impl PgExecutor<'e>,
    schema: &Schema,
    consumer: &str,
    event_id: EventId,
) -> Result<bool, StoreError> {
    let sql = format!(
        "SELECT 1 FROM {} WHERE consumer = $1 AND event_id = $2",
        schema.table("eventcore_inbox")
    );
    let found: Option<i32> = sqlx::query_scalar(&sql)
        .bind(consumer)
        .bind(event_id.0)
        .fetch_optional(executor)
        .await
        .map_err(StoreError::backend)?;
    Ok(found.is_some())
}

/// Reads of the runtime state outside a transaction (the rest is on
/// [`TransactionalStore`](eventcore::TransactionalStore)); writes go through a
/// [`PgTransaction`](crate::PgTransaction).
impl crate::PgEventStore {
    /// Whether `consumer` has recorded `event_id` as processed.
    ///
    /// # Errors
    /// Backend failures.
    pub async fn is_processed(
        &self,
        consumer: &str,
        event_id: EventId,
    ) -> Result<bool, StoreError> {
        is_processed(self.pool(), &self.inner.schema, consumer, event_id).await
    }
}
