//! Appending: each stream's events go in with one `INSERT ... SELECT` that checks the expected
//! version in the same statement, so a single-stream append is one statement and one commit.

use std::fmt::Write as _;
use std::time::SystemTime;

use eventcore::{
    AppendRequest, Conflict, EventId, ExpectedVersion, RecordedEvent, StoreError, StreamAppend,
};
use sqlx::{Row, SqliteConnection};

use crate::rows::{metadata_json, micros};

/// Rows per statement: 5 parameters each stays well below SQLite's variable limit.
pub(crate) const CHUNK: usize = 1000;

/// Why an append did not happen.
pub(crate) enum Failure {
    /// A version check failed.
    Conflict(Conflict),
    /// An event id is already stored.
    Duplicate,
    /// Anything else.
    Store(StoreError),
}

impl From<sqlx::Error> for Failure {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::Database(db) if db.is_unique_violation() => Self::Duplicate,
            _ => Self::Store(StoreError::backend(error)),
        }
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

fn mode(expected: ExpectedVersion) -> (i64, i64) {
    match expected {
        ExpectedVersion::Any => (0, 0),
        ExpectedVersion::NoStream => (1, 0),
        ExpectedVersion::StreamExists => (2, 0),
        ExpectedVersion::Exact(n) => (3, i64::try_from(n).unwrap_or(-1)),
    }
}

fn insert_sql(rows: usize) -> String {
    let mut sql = String::with_capacity(480 + rows * 40);
    sql.push_str(
        "WITH cur(v) AS (SELECT COALESCE(MAX(stream_version), 0) FROM eventcore_events \
         WHERE stream_id = ?1), incoming(i, id, t, sv, md, pl) AS (VALUES ",
    );
    for row in 0..rows {
        let p = 5 + 5 * row;
        let sep = if row == 0 { "" } else { ", " };
        let _ = write!(
            sql,
            "{sep}({}, ?{}, ?{}, ?{}, ?{}, ?{})",
            row + 1,
            p,
            p + 1,
            p + 2,
            p + 3,
            p + 4
        );
    }
    sql.push_str(
        ") INSERT INTO eventcore_events (event_id, stream_id, stream_version, event_type, \
         schema_version, recorded_at, metadata, payload) \
         SELECT incoming.id, ?1, cur.v + incoming.i, incoming.t, incoming.sv, ?2, incoming.md, \
         incoming.pl FROM cur, incoming \
         WHERE CASE ?3 WHEN 0 THEN 1 WHEN 1 THEN cur.v = 0 WHEN 2 THEN cur.v > 0 \
         ELSE cur.v = ?4 END \
         ORDER BY incoming.i RETURNING position, stream_version",
    );
    sql
}

/// Inserts `events` of `append` if `expected` holds; `Ok(None)` when it does not.
async fn insert_chunk(
    conn: &mut SqliteConnection,
    append: &StreamAppend,
    range: std::ops::Range<usize>,
    expected: ExpectedVersion,
    now: SystemTime,
) -> Result<Option<Vec<RecordedEvent>>, Failure> {
    let events = &append.events[range];
    let sql = insert_sql(events.len());
    let (mode, exact) = mode(expected);
    let metadata: Vec<Option<String>> = events
        .iter()
        .map(|e| metadata_json(&e.metadata))
        .collect::<Result<_, _>>()?;
    let mut query = sqlx::query(&sql)
        .bind(append.stream.as_str())
        .bind(micros(now))
        .bind(mode)
        .bind(exact);
    for (event, metadata) in events.iter().zip(&metadata) {
        query = query
            .bind(event.event_id.0.as_bytes().as_slice())
            .bind(event.event_type.as_str())
            .bind(i64::from(event.schema_version))
            .bind(metadata.as_deref())
            .bind(event.payload.get());
    }
    let rows = query.fetch_all(&mut *conn).await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let mut placed: Vec<(i64, i64)> = rows
        .iter()
        .map(|row| Ok((row.try_get(1)?, row.try_get(0)?)))
        .collect::<Result<_, sqlx::Error>>()?;
    placed.sort_unstable();
    Ok(Some(
        events
            .iter()
            .zip(placed)
            .map(|(event, (version, position))| {
                RecordedEvent::from_new(
                    event.clone(),
                    append.stream.clone(),
                    version as u64,
                    position as u64,
                    now,
                )
            })
            .collect(),
    ))
}

/// The stream's current version.
pub(crate) async fn version_of(
    conn: &mut SqliteConnection,
    stream: &eventcore::StreamId,
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

/// Appends one stream's events, in one statement when they fit in one chunk. Must run inside
/// a transaction when the events span several chunks.
async fn append_stream(
    conn: &mut SqliteConnection,
    append: &StreamAppend,
    now: SystemTime,
) -> Result<Vec<RecordedEvent>, Failure> {
    let conflict = |actual| {
        Failure::Conflict(Conflict {
            stream: append.stream.clone(),
            expected: append.expected,
            actual,
        })
    };
    if append.events.is_empty() {
        let actual = version_of(conn, &append.stream).await?;
        return if append.expected.admits(actual) {
            Ok(Vec::new())
        } else {
            Err(conflict(actual))
        };
    }
    let mut recorded = Vec::with_capacity(append.events.len());
    let mut start = 0;
    while start < append.events.len() {
        let end = (start + CHUNK).min(append.events.len());
        // Only the first chunk checks; later chunks follow it within the same transaction.
        let expected = if start == 0 {
            append.expected
        } else {
            ExpectedVersion::Any
        };
        match insert_chunk(conn, append, start..end, expected, now).await? {
            Some(records) => recorded.extend(records),
            None => return Err(conflict(version_of(conn, &append.stream).await?)),
        }
        start = end;
    }
    Ok(recorded)
}

/// Appends every stream of `request` on `conn`, which is inside a transaction.
pub(crate) async fn append_in_transaction(
    conn: &mut SqliteConnection,
    request: &AppendRequest,
) -> Result<Vec<RecordedEvent>, Failure> {
    let now = SystemTime::now();
    let mut recorded = Vec::with_capacity(request.event_count());
    for append in &request.streams {
        recorded.extend(append_stream(conn, append, now).await?);
    }
    Ok(recorded)
}

/// Whether `request` can go in as one autocommit statement.
pub(crate) fn is_single_statement(request: &AppendRequest) -> bool {
    matches!(&request.streams[..], [only] if !only.events.is_empty() && only.events.len() <= CHUNK)
}

/// Appends a single-statement request outside a transaction. A failed check is re-read so the
/// reported conflict is one that really holds.
pub(crate) async fn append_single_statement(
    conn: &mut SqliteConnection,
    request: &AppendRequest,
) -> Result<Vec<RecordedEvent>, Failure> {
    let append = &request.streams[0];
    let mut rounds = 0;
    loop {
        rounds += 1;
        match append_stream(conn, append, SystemTime::now()).await {
            // Another process wrote between our insert and our read: the check may hold now.
            Err(Failure::Conflict(c)) if append.expected.admits(c.actual) && rounds < 100 => {}
            other => return other,
        }
    }
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
                    .bind(event.event_id.0.as_bytes().as_slice())
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
    fn insert_sql_numbers_parameters_after_the_fixed_four() {
        let sql = insert_sql(2);
        assert!(sql.contains("(1, ?5, ?6, ?7, ?8, ?9), (2, ?10, ?11, ?12, ?13, ?14)"));
        assert!(!sql.contains("?15"));
    }
}
