//! Durable runtime state beside the log: projection checkpoints, saga state, deadlines and the
//! consumer inbox. Each operation runs on any executor, so it can join a
//! [`PgTransaction`](crate::PgTransaction) or run alone.

use std::time::SystemTime;

use eventcore::backend::{DeadlineColumns, DeadlineRecord, SagaColumns, SagaRecord};
use eventcore::{EventId, StoreError};
use sqlx::{PgExecutor, Row};

use crate::rows::{column, micros, to_i64};
use crate::runtime_sql::RuntimeSql;

pub(crate) async fn checkpoint<'e>(
    executor: impl PgExecutor<'e>,
    sql: &RuntimeSql,
    name: &str,
) -> Result<Option<u64>, StoreError> {
    let position: Option<i64> = sqlx::query_scalar(&sql.checkpoint)
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
    sql: &RuntimeSql,
    name: &str,
) -> Result<Option<u64>, StoreError> {
    let locked = sqlx::query_scalar::<_, i64>(&sql.lock_checkpoint).bind(name);
    if let Some(position) = locked
        .fetch_optional(&mut *conn)
        .await
        .map_err(StoreError::backend)?
    {
        return Ok(Some(position as u64));
    }
    // A new checkpoint: create it, then lock it (a concurrent creator may have won).
    sqlx::query(&sql.create_checkpoint)
        .bind(name)
        .execute(&mut *conn)
        .await
        .map_err(StoreError::backend)?;
    let position: i64 = sqlx::query_scalar(&sql.lock_checkpoint)
        .bind(name)
        .fetch_one(&mut *conn)
        .await
        .map_err(StoreError::backend)?;
    Ok(Some(position as u64))
}

pub(crate) async fn save_checkpoint<'e>(
    executor: impl PgExecutor<'e>,
    sql: &RuntimeSql,
    name: &str,
    position: u64,
) -> Result<(), StoreError> {
    sqlx::query(&sql.save_checkpoint)
        .bind(name)
        .bind(to_i64(position)?)
        .execute(executor)
        .await
        .map_err(StoreError::backend)?;
    Ok(())
}

/// Moves checkpoint `name` from `from` to `to` if a row holds `from` (locking it for the
/// transaction); whether one did.
pub(crate) async fn advance_checkpoint<'e>(
    executor: impl PgExecutor<'e>,
    sql: &RuntimeSql,
    name: &str,
    from: u64,
    to: u64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(&sql.advance_checkpoint)
        .bind(name)
        .bind(to_i64(from)?)
        .bind(to_i64(to)?)
        .execute(executor)
        .await
        .map_err(StoreError::backend)?;
    Ok(done.rows_affected() == 1)
}

fn saga_from_row(row: &sqlx::postgres::PgRow) -> Result<SagaRecord, StoreError> {
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

pub(crate) async fn saga<'e>(
    executor: impl PgExecutor<'e>,
    sql: &RuntimeSql,
    saga_type: &str,
    saga_id: &str,
) -> Result<Option<SagaRecord>, StoreError> {
    sqlx::query(&sql.load_saga)
        .bind(saga_type)
        .bind(saga_id)
        .fetch_optional(executor)
        .await
        .map_err(StoreError::backend)?
        .as_ref()
        .map(saga_from_row)
        .transpose()
}

/// The records of the instances `saga_ids` that exist, in one statement.
pub(crate) async fn sagas<'e>(
    executor: impl PgExecutor<'e>,
    sql: &RuntimeSql,
    saga_type: &str,
    saga_ids: &[String],
) -> Result<Vec<SagaRecord>, StoreError> {
    sqlx::query(&sql.load_sagas)
        .bind(saga_type)
        .bind(saga_ids)
        .fetch_all(executor)
        .await
        .map_err(StoreError::backend)?
        .iter()
        .map(saga_from_row)
        .collect()
}

pub(crate) async fn sagas_by_status<'e>(
    executor: impl PgExecutor<'e>,
    sql: &RuntimeSql,
    saga_type: &str,
    status: &str,
    limit: usize,
) -> Result<Vec<SagaRecord>, StoreError> {
    sqlx::query(&sql.sagas_by_status)
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
    conn: &mut sqlx::PgConnection,
    sql: &RuntimeSql,
    record: &SagaRecord,
    expected_version: u64,
) -> Result<u64, StoreError> {
    let new_version = expected_version + 1;
    let statement = if expected_version == 0 {
        &sql.insert_saga
    } else {
        &sql.update_saga
    };
    let mut query = sqlx::query(statement)
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
    Err(conflict(conn, sql, record, expected_version).await)
}

/// The conflict a save of `record` at `expected_version` met, with the stored version.
async fn conflict(
    conn: &mut sqlx::PgConnection,
    sql: &RuntimeSql,
    record: &SagaRecord,
    expected_version: u64,
) -> StoreError {
    let actual = match saga(&mut *conn, sql, &record.saga_type, &record.saga_id).await {
        Ok(found) => found.map_or(0, |r| r.version),
        Err(error) => return error,
    };
    eventcore::backend::saga_conflict(&record.saga_type, &record.saga_id, expected_version, actual)
}

/// [`save_saga`] for each of `saves`, in a statement for the new instances and one for the
/// others.
pub(crate) async fn save_sagas(
    conn: &mut sqlx::PgConnection,
    sql: &RuntimeSql,
    saves: &[(SagaRecord, u64)],
) -> Result<Vec<u64>, StoreError> {
    let now = micros(SystemTime::now());
    let mut saved = Vec::new();
    for new in [true, false] {
        let part: Vec<&(SagaRecord, u64)> =
            saves.iter().filter(|(_, v)| (*v == 0) == new).collect();
        if part.is_empty() {
            continue;
        }
        let column =
            |f: fn(&SagaRecord) -> &str| -> Vec<&str> { part.iter().map(|(r, _)| f(r)).collect() };
        let statement = if new {
            &sql.insert_sagas
        } else {
            &sql.update_sagas
        };
        let mut query = sqlx::query_as::<_, (String, String)>(statement)
            .bind(column(|r| &r.saga_type))
            .bind(column(|r| &r.saga_id))
            .bind(column(|r| &r.status))
            .bind(column(|r| r.state.get()))
            .bind(now);
        if !new {
            let expected = part
                .iter()
                .map(|(_, v)| to_i64(*v))
                .collect::<Result<Vec<i64>, StoreError>>()?;
            query = query.bind(expected);
        }
        let rows = query
            .fetch_all(&mut *conn)
            .await
            .map_err(StoreError::backend)?;
        saved.extend(rows);
    }
    match eventcore::backend::saved_versions(saves, saved) {
        Ok(versions) => Ok(versions),
        Err((record, expected_version)) => {
            Err(conflict(conn, sql, record, *expected_version).await)
        }
    }
}

/// [`cancel_deadline`] for each of `deadline_ids`, in one statement.
pub(crate) async fn cancel_deadlines<'e>(
    executor: impl PgExecutor<'e>,
    sql: &RuntimeSql,
    deadline_ids: &[String],
) -> Result<(), StoreError> {
    sqlx::query(&sql.cancel_deadlines)
        .bind(deadline_ids)
        .execute(executor)
        .await
        .map_err(StoreError::backend)?;
    Ok(())
}

pub(crate) async fn schedule_deadline<'e>(
    executor: impl PgExecutor<'e>,
    sql: &RuntimeSql,
    deadline: &DeadlineRecord,
) -> Result<(), StoreError> {
    sqlx::query(&sql.schedule_deadline)
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
    sql: &RuntimeSql,
    deadline_id: &str,
) -> Result<bool, StoreError> {
    let result = sqlx::query(&sql.cancel_deadline)
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
    sql: &RuntimeSql,
    saga_type: &str,
    saga_id: Option<&str>,
    due_by: Option<SystemTime>,
    limit: usize,
) -> Result<Vec<DeadlineRecord>, StoreError> {
    let rows = sqlx::query(&sql.deadlines)
        .bind(saga_type)
        .bind(saga_id)
        .bind(due_by.map(micros))
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
    executor: impl PgExecutor<'e>,
    sql: &RuntimeSql,
    consumer: &str,
    event_id: EventId,
) -> Result<bool, StoreError> {
    let result = sqlx::query(&sql.record_processed)
        .bind(consumer)
        .bind(event_id.as_uuid())
        .execute(executor)
        .await
        .map_err(StoreError::backend)?;
    Ok(result.rows_affected() == 1)
}

/// [`record_processed`] for each of `event_ids`, in one statement.
pub(crate) async fn record_all_processed<'e>(
    executor: impl PgExecutor<'e>,
    sql: &RuntimeSql,
    consumer: &str,
    event_ids: &[EventId],
) -> Result<Vec<bool>, StoreError> {
    let ids: Vec<uuid::Uuid> = event_ids.iter().map(|id| id.as_uuid()).collect();
    let inserted: Vec<uuid::Uuid> = sqlx::query_scalar(&sql.record_all_processed)
        .bind(consumer)
        .bind(&ids)
        .fetch_all(executor)
        .await
        .map_err(StoreError::backend)?;
    Ok(eventcore::backend::inserted_once(&ids, inserted))
}

pub(crate) async fn is_processed<'e>(
    executor: impl PgExecutor<'e>,
    sql: &RuntimeSql,
    consumer: &str,
    event_id: EventId,
) -> Result<bool, StoreError> {
    let found: Option<i32> = sqlx::query_scalar(&sql.is_processed)
        .bind(consumer)
        .bind(event_id.as_uuid())
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
        is_processed(self.pool(), &self.inner.sql.runtime, consumer, event_id).await
    }
}
