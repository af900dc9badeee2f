//! Appending: each stream's events go in with one `INSERT ... SELECT` that checks the expected
//! version and assigns positions from the transaction id in the same statement.

use std::time::SystemTime;

use eventcore::backend::{RecordedEventExt, StreamAppendExt};
use eventcore::{
    AppendRequest, Conflict, EventId, InputError, RecordedEvent, StoreError, StreamAppend, StreamId,
};
use sqlx::{PgConnection, Row};

use crate::rows::{metadata_json, micros, stored_now};
use crate::sql::{GateMode, INDEX_BITS, Sql, lock_key};

/// The most events one transaction may append (the index part of a global position).
pub(crate) const MAX_EVENTS_PER_TRANSACTION: u64 = (1 << INDEX_BITS) - 1;

/// Why an append did not happen.
#[derive(Debug)]
pub(crate) enum Failure {
    /// A version check failed (or this transaction is older than the stream's last writer).
    Conflict(Conflict),
    /// An event id is already stored.
    Duplicate,
    /// A concurrent transaction took the same stream version first: evaluate again.
    Raced,
    /// The transaction was a deadlock victim or hit a serialization failure (under a stricter
    /// default isolation level): nothing was written, and only a fresh transaction can go on.
    Deadlock,
    /// The transaction got its id before it wrote events, and events above its positions
    /// were committed meanwhile (readers may have passed it): only a fresh transaction can
    /// append.
    Overtaken,
    /// Anything else.
    Store(StoreError),
}

impl From<sqlx::Error> for Failure {
    fn from(error: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &error {
            match db.constraint() {
                Some("eventcore_events_event_id") => return Self::Duplicate,
                Some("eventcore_events_stream_version") => return Self::Raced,
                _ => {}
            }
            if matches!(db.code().as_deref(), Some("40P01" | "40001")) {
                return Self::Deadlock;
            }
        }
        Self::Store(StoreError::backend(error))
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

fn mode(expected: eventcore::ExpectedVersion) -> (i32, i64) {
    use eventcore::ExpectedVersion::{Any, Exact, NoStream, StreamExists};
    match expected {
        Any => (0, 0),
        NoStream => (1, 0),
        StreamExists => (2, 0),
        Exact(n) => (3, i64::try_from(n).unwrap_or(-1)),
    }
}

/// The stream's current version.
pub(crate) async fn version_of(
    conn: &mut PgConnection,
    sql: &Sql,
    stream: &StreamId,
) -> Result<u64, StoreError> {
    let version: i64 = sqlx::query_scalar(&sql.stream_version)
        .bind(stream.as_str())
        .fetch_one(conn)
        .await
        .map_err(StoreError::backend)?;
    Ok(version as u64)
}

/// A schema version as the `INT` column stores it ([`AppendRequest::validate`] refuses larger
/// ones before any statement runs).
fn schema_version(version: u32) -> Result<i32, StoreError> {
    i32::try_from(version).map_err(|_| StoreError::backend("schema version exceeds INT"))
}

/// Inserts one stream's events if its check holds; `Ok(None)` when it does not.
async fn insert_stream(
    conn: &mut PgConnection,
    sql: &Sql,
    append: &StreamAppend,
    index_base: u64,
    now: SystemTime,
    gate: GateMode,
) -> Result<Option<Vec<RecordedEvent>>, Failure> {
    let mut inserted = run_insert(conn, sql, append, index_base, now, gate).await?;
    if let Inserted::Early = inserted {
        // The transaction had an id before it took the gate (the statement took it): now
        // that it holds it, see whether readers may have passed the id.
        inserted = run_insert(conn, sql, append, index_base, now, GateMode::HeldAfterId).await?;
    }
    let (first_position, first_version) = match inserted {
        Inserted::Rows { position, version } => (position, version),
        Inserted::Refused => return Ok(None),
        Inserted::Early => return Err(Failure::Overtaken),
    };
    Ok(Some(
        append
            .events
            .iter()
            .zip(0u64..)
            .map(|(event, i)| {
                RecordedEvent::from_new(
                    event.clone(),
                    append.stream.clone(),
                    first_version + i,
                    first_position + i,
                    now,
                )
            })
            .collect(),
    ))
}

/// What one insert statement did.
enum Inserted {
    /// It inserted the events, the first at this position and version.
    Rows { position: u64, version: u64 },
    /// Its version or stream-order check failed.
    Refused,
    /// The transaction got its id before it held the gate, and readers may have passed it.
    Early,
}

/// Runs the stream's insert statement.
async fn run_insert(
    conn: &mut PgConnection,
    sql: &Sql,
    append: &StreamAppend,
    index_base: u64,
    now: SystemTime,
    gate: GateMode,
) -> Result<Inserted, Failure> {
    let (mode, exact) = mode(append.expected);
    let base = sqlx::query(if append.events.len() == 1 {
        &sql.insert_one
    } else {
        &sql.insert
    })
    .bind(append.stream.as_str())
    .bind(micros(now))
    .bind(index_base as i64)
    .bind(mode)
    .bind(exact);
    let query = if let [event] = &append.events[..] {
        base.bind(event.event_id.as_uuid())
            .bind(event.event_type.as_str())
            .bind(schema_version(event.schema_version)?)
            .bind(metadata_json(&event.metadata)?)
            .bind(event.payload.get())
    } else {
        let events = &append.events;
        let ids: Vec<uuid::Uuid> = events.iter().map(|e| e.event_id.as_uuid()).collect();
        let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
        let schema_versions: Vec<i32> = events
            .iter()
            .map(|e| schema_version(e.schema_version))
            .collect::<Result<_, _>>()?;
        let metadata: Vec<Option<String>> = events
            .iter()
            .map(|e| metadata_json(&e.metadata))
            .collect::<Result<_, _>>()?;
        let payloads: Vec<&str> = events.iter().map(|e| e.payload.get()).collect();
        base.bind(ids)
            .bind(types)
            .bind(schema_versions)
            .bind(metadata)
            .bind(payloads)
    };
    let row = query.bind(gate as i32).fetch_one(&mut *conn).await?;
    let (first_position, first_version, inserted): (Option<i64>, Option<i64>, i64) =
        (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
    let (early, ok): (bool, bool) = (row.try_get(3)?, row.try_get(4)?);
    if !ok {
        return Ok(if early {
            Inserted::Early
        } else {
            Inserted::Refused
        });
    }
    let (Some(position), Some(version)) = (first_position, first_version) else {
        return Ok(Inserted::Refused);
    };
    debug_assert_eq!(inserted as usize, append.events.len());
    Ok(Inserted::Rows {
        position: position as u64,
        version: version as u64,
    })
}

/// Whether `request` is one stream with events: one insert statement, which takes the
/// stream's lock itself, and needs no transaction around it.
pub(crate) fn is_one_statement(request: &AppendRequest) -> bool {
    matches!(&request.streams[..], [only] if !only.events.is_empty())
}

/// Appends every stream of `request` on `conn` (one statement per stream), numbering the
/// events of this transaction from `index_base`. Several streams need a transaction around.
pub(crate) async fn append_on(
    conn: &mut PgConnection,
    sql: &Sql,
    request: &AppendRequest,
    index_base: u64,
    gate: GateMode,
) -> Result<Vec<RecordedEvent>, Failure> {
    let count = request.event_count() as u64;
    if index_base + count > MAX_EVENTS_PER_TRANSACTION {
        return Err(Failure::Store(
            InputError::TooManyEvents {
                count: (index_base + count) as usize,
                max: MAX_EVENTS_PER_TRANSACTION as usize,
            }
            .into(),
        ));
    }
    let now = stored_now();
    if !is_one_statement(request) {
        lock_streams(conn, request).await?;
    }
    let mut recorded = Vec::with_capacity(request.event_count());
    for append in &request.streams {
        if append.events.is_empty() {
            append.check(version_of(conn, sql, &append.stream).await?)?;
            continue;
        }
        let base = index_base + recorded.len() as u64;
        match insert_stream(conn, sql, append, base, now, gate).await? {
            Some(records) => recorded.extend(records),
            None => {
                let actual = version_of(conn, sql, &append.stream).await?;
                return Err(append.conflict(actual).into());
            }
        }
    }
    Ok(recorded)
}

/// Takes the streams' advisory locks in one sorted order (so two appends over the same streams
/// cannot deadlock): exclusive for streams that get events (the insert takes it too), shared
/// for streams that are only checked, so that no append can change a checked stream before
/// this transaction ends.
async fn lock_streams(conn: &mut PgConnection, request: &AppendRequest) -> Result<(), Failure> {
    let streams: Vec<&str> = request.streams.iter().map(|s| s.stream.as_str()).collect();
    let exclusive: Vec<bool> = request
        .streams
        .iter()
        .map(|s| !s.events.is_empty())
        .collect();
    sqlx::query(&format!(
        "SELECT CASE WHEN x THEN pg_advisory_xact_lock(k)::TEXT
                     ELSE pg_advisory_xact_lock_shared(k)::TEXT END
         FROM (SELECT {LOCK_KEY} AS k, x FROM unnest($1::TEXT[], $2::BOOL[]) AS t(s, x)) keys
         ORDER BY k",
        LOCK_KEY = lock_key("s")
    ))
    .bind(&streams)
    .bind(&exclusive)
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether a failure is worth a fresh transaction: a race, a deadlock, or an outdated
/// transaction.
pub(crate) fn is_retryable(failure: &Failure) -> bool {
    match failure {
        Failure::Raced | Failure::Deadlock | Failure::Overtaken => true,
        // The expectation holds by now: the transaction predates the stream's last writer
        // (its positions would fall below that writer's), so only a fresh one can append.
        Failure::Conflict(c) => c.expected.admits(c.actual),
        _ => false,
    }
}

/// The first event id of `request` that is already stored.
async fn find_duplicate(
    conn: &mut PgConnection,
    sql: &Sql,
    request: &AppendRequest,
) -> Result<Option<EventId>, StoreError> {
    let ids: Vec<uuid::Uuid> = request
        .streams
        .iter()
        .flat_map(|s| s.events.iter().map(|e| e.event_id.as_uuid()))
        .collect();
    let found: Option<uuid::Uuid> = sqlx::query_scalar(&sql.find_ids)
        .bind(&ids)
        .fetch_optional(conn)
        .await
        .map_err(StoreError::backend)?;
    Ok(found.map(EventId::from))
}

/// Converts a failure into the error the contract names (`conn` must be usable: outside the
/// failed transaction, or rolled back to a savepoint).
pub(crate) async fn into_store_error(
    failure: Failure,
    conn: &mut PgConnection,
    sql: &Sql,
    request: &AppendRequest,
) -> StoreError {
    match failure {
        Failure::Duplicate => match find_duplicate(conn, sql, request).await {
            Ok(Some(event_id)) => StoreError::DuplicateEventId { event_id },
            Ok(None) => StoreError::backend("event id unique constraint violated"),
            Err(error) => error,
        },
        other => other.into_error(),
    }
}

impl Failure {
    /// The error for every failure but [`Failure::Duplicate`], which needs a look-up to name
    /// the id (use [`into_store_error`]).
    pub(crate) fn into_error(self) -> StoreError {
        match self {
            Self::Conflict(conflict) => conflict.into(),
            Self::Store(error) => error,
            Self::Raced => StoreError::backend("a concurrent append kept taking the same versions"),
            Self::Deadlock => StoreError::aborted(eventcore::AbortReason::Deadlock),
            Self::Overtaken => StoreError::aborted(eventcore::AbortReason::Overtaken),
            Self::Duplicate => StoreError::backend("event id unique constraint violated"),
        }
    }
}
