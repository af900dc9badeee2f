//! The runtime records' batched reads and writes (the intake's and a step group's), a
//! statement per [`BATCH`] instances or ids instead of one each.

use std::time::SystemTime;

use eventcore::backend::SagaRecord;
use eventcore::{EventId, StoreError};
use sqlx::SqliteConnection;

use crate::rows::{micros, to_i64};
use crate::runtime::{SAGA_COLUMNS, conflict, saga_from_row};

/// Ids per statement of the batched reads and writes (SQLite allows 32,766 parameters; a
/// bounded count keeps the statement cache small).
const BATCH: usize = 128;

/// `?first, ?first+1, ...`: `n` numbered parameters.
fn parameters(first: usize, n: usize) -> String {
    let list: Vec<String> = (first..first + n).map(|i| format!("?{i}")).collect();
    list.join(", ")
}

/// The records of those of `saga_ids` that exist, in no particular order: one statement per
/// [`BATCH`] ids.
pub(crate) async fn sagas(
    conn: &mut SqliteConnection,
    saga_type: &str,
    saga_ids: &[String],
) -> Result<Vec<SagaRecord>, StoreError> {
    let mut found = Vec::with_capacity(saga_ids.len());
    for chunk in saga_ids.chunks(BATCH) {
        let sql = format!(
            "SELECT {SAGA_COLUMNS} FROM eventcore_sagas WHERE saga_type = ?1 AND saga_id IN ({})",
            parameters(2, chunk.len())
        );
        let mut query = sqlx::query(&sql).bind(saga_type);
        for id in chunk {
            query = query.bind(id.as_str());
        }
        let rows = query
            .fetch_all(&mut *conn)
            .await
            .map_err(StoreError::backend)?;
        for row in &rows {
            found.push(saga_from_row(row)?);
        }
    }
    Ok(found)
}

/// Records that `consumer` processed each of `event_ids`, one statement per [`BATCH`]: per id,
/// whether it is new (an id listed twice is new at most once).
pub(crate) async fn record_all_processed(
    conn: &mut SqliteConnection,
    consumer: &str,
    event_ids: &[EventId],
) -> Result<Vec<bool>, StoreError> {
    let now = micros(SystemTime::now());
    let mut new = Vec::with_capacity(event_ids.len());
    for chunk in event_ids.chunks(BATCH) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| format!("(?1, ?{}, ?2)", i + 3))
            .collect();
        let sql = format!(
            "INSERT INTO eventcore_inbox (consumer, event_id, processed_at) VALUES {}
             ON CONFLICT DO NOTHING RETURNING event_id",
            rows.join(", ")
        );
        let mut query = sqlx::query_scalar::<_, Vec<u8>>(&sql)
            .bind(consumer)
            .bind(now);
        for id in chunk {
            query = query.bind(id.as_bytes().as_slice());
        }
        let inserted = query
            .fetch_all(&mut *conn)
            .await
            .map_err(StoreError::backend)?;
        let listed: Vec<Vec<u8>> = chunk.iter().map(|id| id.as_bytes().to_vec()).collect();
        new.extend(eventcore::backend::inserted_once(&listed, inserted));
    }
    Ok(new)
}

/// Saves each `(record, expected_version)` (each instance at most once) as
/// [`save_saga`](crate::runtime::save_saga) does, in a statement for the new instances and one
/// for the others per [`BATCH`]: their new versions, or the conflict of the first listed whose
/// stored version differs (others may have been saved: the caller rolls back).
pub(crate) async fn save_sagas(
    conn: &mut SqliteConnection,
    saves: &[(SagaRecord, u64)],
) -> Result<Vec<u64>, StoreError> {
    let now = micros(SystemTime::now());
    let mut saved = Vec::new();
    for new in [true, false] {
        let part: Vec<&(SagaRecord, u64)> =
            saves.iter().filter(|(_, v)| (*v == 0) == new).collect();
        for chunk in part.chunks(BATCH) {
            // Five parameters per instance after `?1`, the time.
            let rows: Vec<String> = (0..chunk.len())
                .map(|i| format!("({})", parameters(2 + 5 * i, 5)))
                .collect();
            let sql = if new {
                format!(
                    "INSERT INTO eventcore_sagas (saga_type, saga_id, status, state, version, updated_at)
                     SELECT column1, column2, column3, column4, 1, ?1 FROM (VALUES {})
                     WHERE true ON CONFLICT DO NOTHING RETURNING saga_type, saga_id",
                    rows.join(", ")
                )
            } else {
                format!(
                    "UPDATE eventcore_sagas AS s
                     SET status = v.column3, state = v.column4, version = s.version + 1,
                         updated_at = ?1
                     FROM (VALUES {}) AS v
                     WHERE s.saga_type = v.column1 AND s.saga_id = v.column2
                       AND s.version = v.column5
                     RETURNING saga_type, saga_id",
                    rows.join(", ")
                )
            };
            let mut query = sqlx::query_as::<_, (String, String)>(&sql).bind(now);
            for (record, expected) in chunk {
                query = query
                    .bind(&record.saga_type)
                    .bind(&record.saga_id)
                    .bind(&record.status)
                    .bind(record.state.get())
                    .bind(to_i64(*expected)?);
            }
            let found = query
                .fetch_all(&mut *conn)
                .await
                .map_err(StoreError::backend)?;
            saved.extend(found);
        }
    }
    match eventcore::backend::saved_versions(saves, saved) {
        Ok(versions) => Ok(versions),
        Err((record, expected_version)) => Err(conflict(conn, record, *expected_version).await),
    }
}

/// Cancels each of `deadline_ids` (those that exist), a statement per [`BATCH`].
pub(crate) async fn cancel_deadlines(
    conn: &mut SqliteConnection,
    deadline_ids: &[String],
) -> Result<(), StoreError> {
    for chunk in deadline_ids.chunks(BATCH) {
        let sql = format!(
            "DELETE FROM eventcore_deadlines WHERE deadline_id IN ({})",
            parameters(1, chunk.len())
        );
        let mut query = sqlx::query(&sql);
        for id in chunk {
            query = query.bind(id.as_str());
        }
        query
            .execute(&mut *conn)
            .await
            .map_err(StoreError::backend)?;
    }
    Ok(())
}
