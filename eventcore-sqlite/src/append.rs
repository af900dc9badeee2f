//! Appending. Events go in with plain multi-row `INSERT`s carrying the versions the append
//! expects to write; the `eventcore_events_contiguous_versions` trigger aborts any statement
//! whose versions do not follow the stream's current one. So a single-stream append with an
//! exact expected version is one statement and one commit, checked atomically even against
//! writers in other processes.

use std::time::SystemTime;

use eventcore::backend::{RecordedEventExt, StreamAppendExt};
use eventcore::{
    AppendRequest, Conflict, EventId, ExpectedVersion, NewEvent, RecordedEvent, StoreError,
    StreamAppend, StreamId,
};
use sqlx::SqliteConnection;

use crate::rows::{metadata_json, micros, stored_now, to_i64};

/// Rows per plain `INSERT`: 8 parameters each stays well below SQLite's variable limit.
const CHUNK: usize = 1000;
/// SQLite's extended result code for `RAISE(ABORT, ...)` in a trigger.
const SQLITE_CONSTRAINT_TRIGGER: &str = "1811";

/// Why an append did not happen.
pub(crate) enum Failure {
    /// A version check failed.
    Conflict(Conflict),
    /// An event id is already stored.
    Duplicate,
    /// The version guard trigger rejected the insert: the stream moved.
    VersionMoved,
    /// Anything else.
    Store(StoreError),
}

impl From<sqlx::Error> for Failure {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::Database(db) if db.is_unique_violation() => Self::Duplicate,
            sqlx::Error::Database(db)
                if db.code().as_deref() == Some(SQLITE_CONSTRAINT_TRIGGER) =>
            {
                Self::VersionMoved
            }
            _ => Self::Store(StoreError::backend(error)),
        }
    }
}

impl From<Conflict> for Failure {
    fn from(conflict: Conflict) -> Self {
        Self::Conflict(conflict)
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

/// A plain multi-row `INSERT` of `rows` events with their versions given.
fn plain_insert_sql(rows: usize) -> String {
    let mut sql = String::with_capacity(160 + rows * 28);
    sql.push_str(
        "INSERT INTO eventcore_events (event_id, stream_id, stream_version, event_type, \
         schema_version, recorded_at, metadata, payload) VALUES ",
    );
    for row in 0..rows {
        sql.push_str(if row == 0 {
            "(?, ?, ?, ?, ?, ?, ?, ?)"
        } else {
            ", (?, ?, ?, ?, ?, ?, ?, ?)"
        });
    }
    sql
}

/// The recorded events of rows that one statement inserted: a statement holds the write lock
/// throughout, so its rows got consecutive row ids (positions) ending at the last insert id.
fn recorded(
    events: &[NewEvent],
    stream: &StreamId,
    base_version: u64,
    last_position: u64,
    now: SystemTime,
) -> Vec<RecordedEvent> {
    let first_position = last_position + 1 - events.len() as u64;
    events
        .iter()
        .zip(0u64..)
        .map(|(event, i)| {
            RecordedEvent::from_new(
                event.clone(),
                stream.clone(),
                base_version + i + 1,
                first_position + i,
                now,
            )
        })
        .collect()
}

/// Inserts events as versions `base_version + 1 ..`, in chunks (more than one chunk needs a
/// transaction around it).
async fn insert_rows(
    conn: &mut SqliteConnection,
    append: &StreamAppend,
    base_version: u64,
    now: SystemTime,
) -> Result<Vec<RecordedEvent>, Failure> {
    let mut all = Vec::with_capacity(append.events.len());
    let recorded_at = micros(now);
    for (chunk_index, chunk) in append.events.chunks(CHUNK).enumerate() {
        let sql = plain_insert_sql(chunk.len());
        let metadata: Vec<Option<String>> = chunk
            .iter()
            .map(|e| metadata_json(&e.metadata))
            .collect::<Result<_, _>>()?;
        let chunk_base = base_version + (chunk_index * CHUNK) as u64;
        let mut query = sqlx::query(&sql);
        for ((event, metadata), i) in chunk.iter().zip(&metadata).zip(1u64..) {
            query = query
                .bind(event.event_id.as_bytes().as_slice())
                .bind(append.stream.as_str())
                .bind(to_i64(chunk_base + i)?)
                .bind(event.event_type.as_str())
                .bind(i64::from(event.schema_version))
                .bind(recorded_at)
                .bind(metadata.as_deref())
                .bind(event.payload.get());
        }
        let result = query.execute(&mut *conn).await?;
        let last_position = result.last_insert_rowid() as u64;
        all.extend(recorded(
            chunk,
            &append.stream,
            chunk_base,
            last_position,
            now,
        ));
    }
    Ok(all)
}

/// The stream's current version.
pub(crate) async fn version_of(
    conn: &mut SqliteConnection,
    stream: &StreamId,
) -> Result<u64, StoreError> {
    let version: i64 = sqlx::query_scalar(
        "SELECT COALESCE(MAX(stream_version), 0) FROM eventcore_events WHERE stream_id = ?1",
    )
    .bind(stream.as_str())
    .fetch_one(conn)
    .await
    .map_err(StoreError::backend)?;
    Ok(version as u64)
}

/// Appends every stream of `request` on `conn`, which is inside a write transaction: each
/// stream's version is checked, then its events inserted with plain multi-row `INSERT`s.
pub(crate) async fn append_in_transaction(
    conn: &mut SqliteConnection,
    request: &AppendRequest,
) -> Result<Vec<RecordedEvent>, Failure> {
    let now = stored_now();
    let mut all = Vec::with_capacity(request.event_count());
    for append in &request.streams {
        let actual = version_of(conn, &append.stream).await?;
        append.check(actual)?;
        all.extend(insert_rows(conn, append, actual, now).await?);
    }
    Ok(all)
}

/// The version a request's events follow when that is known without reading the stream: one
/// stream, one chunk of events, an exact expectation (or none yet). Such an append is one
/// `INSERT`, atomic on its own, with the version guard checking the expectation in it.
pub(crate) fn known_base(request: &AppendRequest) -> Option<u64> {
    let [append] = &request.streams[..] else {
        return None;
    };
    if append.events.is_empty() || append.events.len() > CHUNK {
        return None;
    }
    let base = match append.expected {
        ExpectedVersion::NoStream => 0,
        ExpectedVersion::Exact(n) => n,
        ExpectedVersion::Any | ExpectedVersion::StreamExists => return None,
    };
    let last = base.checked_add(append.events.len() as u64)?;
    i64::try_from(last).is_ok().then_some(base)
}

/// Inserts the one stream of `request` after version `base` ([`known_base`]) in one
/// statement; a version guard refusal becomes the conflict with the stream's actual version.
pub(crate) async fn insert_after(
    conn: &mut SqliteConnection,
    request: &AppendRequest,
    base: u64,
) -> Result<Vec<RecordedEvent>, Failure> {
    let append = &request.streams[0];
    match insert_rows(conn, append, base, stored_now()).await {
        Err(Failure::VersionMoved) => {
            let actual = version_of(conn, &append.stream).await?;
            append.check(actual)?;
            Err(Failure::VersionMoved)
        }
        other => other,
    }
}

/// Whether `request` goes in without an explicit transaction: one stream, one chunk.
pub(crate) fn is_single_statement(request: &AppendRequest) -> bool {
    matches!(&request.streams[..], [only] if only.events.len() <= CHUNK)
}

/// Appends a one-stream, one-chunk request as a single autocommit `INSERT`, with the version
/// guard checking the expected version atomically. Only `Any` and `StreamExists` need the
/// current version first; if another process appends in between, the guard rejects the insert
/// and the version is read again.
pub(crate) async fn append_single_statement(
    conn: &mut SqliteConnection,
    request: &AppendRequest,
) -> Result<Vec<RecordedEvent>, Failure> {
    let append = &request.streams[0];
    if append.events.is_empty() {
        append.check(version_of(conn, &append.stream).await?)?;
        return Ok(Vec::new());
    }
    for _ in 0..100 {
        let base = match (known_base(request), append.expected) {
            (Some(base), _) => base,
            (None, ExpectedVersion::Any | ExpectedVersion::StreamExists) => {
                let actual = version_of(conn, &append.stream).await?;
                append.check(actual)?;
                actual
            }
            // An exact version no stream can reach: report what it really is.
            (None, _) => {
                return Err(append
                    .conflict(version_of(conn, &append.stream).await?)
                    .into());
            }
        };
        match insert_after(conn, request, base).await {
            // The expectation still holds, yet the stream moved under us: read again.
            Err(Failure::VersionMoved) => {}
            other => return other,
        }
    }
    Err(Failure::Store(StoreError::backend(
        "append kept racing another process",
    )))
}

/// The first event id of `request` that is already stored.
pub(crate) async fn find_duplicate(
    conn: &mut SqliteConnection,
    request: &AppendRequest,
) -> Result<Option<EventId>, StoreError> {
    for append in &request.streams {
        for event in &append.events {
            let found: Option<i64> =
                sqlx::query_scalar("SELECT 1 FROM eventcore_events WHERE event_id = ?1")
                    .bind(event.event_id.as_bytes().as_slice())
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(StoreError::backend)?;
            if found.is_some() {
                return Ok(Some(event.event_id));
            }
        }
    }
    Ok(None)
}

/// Converts a failure into the error the contract names.
pub(crate) async fn into_store_error(
    failure: Failure,
    conn: &mut SqliteConnection,
    request: &AppendRequest,
) -> StoreError {
    match failure {
        Failure::Conflict(conflict) => conflict.into(),
        Failure::VersionMoved => {
            StoreError::backend("stream version changed inside a write transaction")
        }
        Failure::Store(error) => error,
        Failure::Duplicate => match find_duplicate(conn, request).await {
            Ok(Some(event_id)) => StoreError::DuplicateEventId { event_id },
            Ok(None) => StoreError::backend("unique constraint violated by an append"),
            Err(error) => error,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_insert_sql_has_eight_parameters_per_row() {
        assert_eq!(plain_insert_sql(3).matches('?').count(), 24);
    }
}
