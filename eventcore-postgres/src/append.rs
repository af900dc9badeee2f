//! Appending: each stream's events go in with one `INSERT ... SELECT` that checks the expected
//! version and assigns positions from the transaction id in the same statement.

use eventcore::backend::StreamAppendExt;
use eventcore::{
    AppendRequest, Conflict, EventId, InputError, RecordedEvent, StoreError, StreamId,
};
use sqlx::PgConnection;

use crate::insert::{Placement, insert_stream};
use crate::rows::stored_now;
use crate::sql::{INDEX_BITS, Sql};

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
    /// In a caller's transaction: rows clashed with a unique index (a stored event id, or a
    /// version taken by a concurrent append) and were skipped; the others may have gone in.
    Clashed,
    /// Anything else.
    Store(StoreError),
}

impl Failure {
    /// Whether the transaction can go on after it (no statement failed).
    fn transaction_goes_on(&self) -> bool {
        matches!(
            self,
            Self::Conflict(_) | Self::Clashed | Self::Raced | Self::Duplicate
        )
    }
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

/// Whether `request` is one stream with events: one insert statement, which takes the
/// stream's lock itself, and needs no transaction around it.
pub(crate) fn is_one_statement(request: &AppendRequest) -> bool {
    matches!(&request.streams[..], [only] if !only.events.is_empty())
}

/// Appends every stream of `request` on `conn` (one statement per stream), numbering the
/// events of this transaction from `place.index_base`. Several streams need a transaction
/// around. In a caller's transaction (`place.in_tx`) a failed append leaves nothing behind:
/// what its statements inserted is deleted again.
pub(crate) async fn append_on(
    conn: &mut PgConnection,
    sql: &Sql,
    request: &AppendRequest,
    place: Placement,
) -> Result<Vec<RecordedEvent>, Failure> {
    let count = request.event_count() as u64;
    if place.index_base + count > MAX_EVENTS_PER_TRANSACTION {
        return Err(Failure::Store(
            InputError::TooManyEvents {
                count: (place.index_base + count) as usize,
                max: MAX_EVENTS_PER_TRANSACTION as usize,
            }
            .into(),
        ));
    }
    let mut recorded = Vec::with_capacity(request.event_count());
    let result = insert_all(conn, sql, request, place, &mut recorded).await;
    match result {
        Ok(()) => Ok(recorded),
        Err(failure)
            if place.in_tx
                && failure.transaction_goes_on()
                && (!recorded.is_empty() || matches!(failure, Failure::Clashed)) =>
        {
            remove_inserted(conn, sql, place.index_base, count).await?;
            Err(failure)
        }
        Err(failure) => Err(failure),
    }
}

async fn insert_all(
    conn: &mut PgConnection,
    sql: &Sql,
    request: &AppendRequest,
    place: Placement,
    recorded: &mut Vec<RecordedEvent>,
) -> Result<(), Failure> {
    let now = stored_now();
    if !is_one_statement(request) {
        lock_streams(conn, sql, request).await?;
    }
    for append in &request.streams {
        if append.events.is_empty() {
            append.check(version_of(conn, sql, &append.stream).await?)?;
            continue;
        }
        let place = Placement {
            index_base: place.index_base + recorded.len() as u64,
            ..place
        };
        match insert_stream(conn, &sql.insert, append, place, now).await? {
            Some(records) => recorded.extend(records),
            None => {
                let actual = version_of(conn, sql, &append.stream).await?;
                return Err(append.conflict(actual).into());
            }
        }
    }
    Ok(())
}

/// Deletes the rows this transaction inserted at indexes `index_base + 1 ..= index_base +
/// count` (an append that failed midway in a caller's transaction).
async fn remove_inserted(
    conn: &mut PgConnection,
    sql: &Sql,
    index_base: u64,
    count: u64,
) -> Result<(), Failure> {
    sqlx::query(&sql.remove_inserted)
        .bind(index_base as i64)
        .bind((index_base + count) as i64)
        .execute(conn)
        .await?;
    Ok(())
}

/// Takes the streams' advisory locks in one sorted order (so two appends over the same streams
/// cannot deadlock): exclusive for streams that get events (the insert takes it too), shared
/// for streams that are only checked, so that no append can change a checked stream before
/// this transaction ends.
async fn lock_streams(
    conn: &mut PgConnection,
    sql: &Sql,
    request: &AppendRequest,
) -> Result<(), Failure> {
    let streams: Vec<&str> = request.streams.iter().map(|s| s.stream.as_str()).collect();
    let exclusive: Vec<bool> = request
        .streams
        .iter()
        .map(|s| !s.events.is_empty())
        .collect();
    sqlx::query(&sql.lock_streams)
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
pub(crate) async fn find_duplicate(
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
            Self::Clashed => StoreError::backend("an append clashed with a unique index"),
        }
    }
}
