//! Conversions between rows and eventcore types.

use eventcore::backend::{EventColumns, FoldColumns, Place, RecordPlace};
use eventcore::{RecordedEvent, StoreError};
use futures::TryStreamExt;
use sqlx::Row;
use sqlx::postgres::PgRow;

use crate::sql::CommandReadSql;

/// The columns [`event_from_row`] reads, in order.
/// The recorded-at comes as `date_part('epoch', ...)`, seconds in a `float8` (exact to the
/// microsecond for any time the library writes, and cheap: no `numeric` arithmetic per row);
/// `'infinity'` or a time too far out for microseconds in an `i64` is reported as corrupt.
pub(crate) const EVENT_COLUMNS: &str = "global_position, event_id, stream_id, stream_version, \
     event_type, schema_version, date_part('epoch', recorded_at), metadata::TEXT, payload::TEXT";

/// Microseconds from `date_part('epoch', ...)` seconds; `None` when not finite or out of range.
fn epoch_micros(seconds: f64) -> Option<i64> {
    let micros = (seconds * 1_000_000.0).round();
    // Beyond ±2^62 µs (±146,000 years) is no time the library writes.
    (micros.is_finite() && micros.abs() < 4.6e18).then_some(micros as i64)
}

/// The columns [`fold_event_from_row`] reads, in order: what folding an aggregate needs.
pub(crate) const FOLD_COLUMNS: &str =
    "stream_version, global_position, event_type, schema_version, payload::TEXT";

/// A stored event as folding needs it ([`FOLD_COLUMNS`]), borrowed from its row; `stream`
/// names it in errors.
pub(crate) fn fold_event_from_row<'r>(
    row: &'r PgRow,
    stream: &eventcore::StreamId,
) -> Result<eventcore::FoldEventRef<'r>, StoreError> {
    let place = || RecordPlace {
        stream: stream.to_string(),
        version: row.try_get(0).unwrap_or_default(),
        position: row.try_get(1).unwrap_or_default(),
    };
    FoldColumns {
        stream_version: fold_column(row, 0, &place)?,
        position: fold_column(row, 1, &place)?,
        event_type: fold_column(row, 2, &place)?,
        schema_version: i64::from(fold_column::<i32>(row, 3, &place)?),
        payload: fold_column(row, 4, &place)?,
    }
    .check(stream)
}

/// Column `index` of a row of the fold statement, whose column types its own SQL fixes
/// ([`FOLD_COLUMNS`]: `BIGINT`, `BIGINT`, `TEXT`, `INT`, `TEXT`): decoded without sqlx's
/// per-row type-compatibility check, which a long stream pays once per column and row. A
/// value that does not decode (a `NULL`, a wrong length) is still [`StoreError::Corrupt`].
pub(crate) fn fold_column<'r, T>(
    row: &'r PgRow,
    index: usize,
    place: &impl Place,
) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Postgres>,
{
    row.try_get_unchecked(index)
        .map_err(|e| place.place().corrupt(format!("column {index}: {e}")))
}

/// SQL turning a bound microsecond count into a `TIMESTAMPTZ`.
pub(crate) fn timestamp_sql(param: usize) -> String {
    format!("(TIMESTAMPTZ 'epoch' + ${param}::BIGINT * INTERVAL '1 microsecond')")
}

pub(crate) use eventcore::backend::{
    metadata_json, now_micros_precision as stored_now, unix_micros as micros,
};

/// A `u64` as PostgreSQL's `BIGINT`.
pub(crate) fn to_i64(value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::backend(format!("{value} exceeds BIGINT")))
}

/// A stored event from its row; a row that cannot be read back is [`StoreError::Corrupt`],
/// naming its stream, version and position.
pub(crate) fn event_from_row(row: &PgRow) -> Result<RecordedEvent, StoreError> {
    event_from_row_after(row, None)
}

/// [`event_from_row`] for a row read after an event of stream `previous`: an event of the same
/// stream shares its id rather than allocating its own.
pub(crate) fn event_from_row_after(
    row: &PgRow,
    previous: Option<&eventcore::StreamId>,
) -> Result<RecordedEvent, StoreError> {
    // Read leniently, only when an error needs to say where.
    let place = || RecordPlace {
        stream: row.try_get(2).unwrap_or_default(),
        version: row.try_get(3).unwrap_or_default(),
        position: row.try_get(0).unwrap_or_default(),
    };
    let recorded_at = epoch_micros(column(row, 6, &place)?);
    EventColumns {
        position: column(row, 0, &place)?,
        event_id: column(row, 1, &place)?,
        stream_id: column(row, 2, &place)?,
        stream_version: column(row, 3, &place)?,
        event_type: column(row, 4, &place)?,
        schema_version: i64::from(column::<i32>(row, 5, &place)?),
        recorded_at_micros: recorded_at
            .ok_or_else(|| place().corrupt("recorded_at is not a time the library writes"))?,
        metadata: column(row, 7, &place)?,
        payload: column(row, 8, &place)?,
    }
    .into_recorded_after(previous)
}

/// Column `index` of `row`; a value that does not decode is [`StoreError::Corrupt`].
pub(crate) fn column<'r, T>(
    row: &'r PgRow,
    index: usize,
    place: &impl Place,
) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    row.try_get(index)
        .map_err(|e| place.place().corrupt(format!("column {index}: {e}")))
}

/// See [`EventReader::read_for_command`](eventcore::EventReader::read_for_command):
/// [`fold_for_command`] collecting the events.
pub(crate) async fn read_for_command<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    sql: &CommandReadSql,
    stream: &eventcore::StreamId,
    from_version: u64,
    probe: Option<eventcore::EventId>,
) -> Result<eventcore::CommandRead, StoreError> {
    let mut events = Vec::new();
    let handled_at =
        fold_for_command(executor, sql, stream, from_version, probe, &mut events).await?;
    Ok(eventcore::CommandRead {
        handled_at,
        events: if handled_at.is_some() {
            Vec::new()
        } else {
            events
        },
    })
}

/// See [`EventReader::fold_for_command`](eventcore::EventReader::fold_for_command), with the
/// same statement as [`read_for_command`]: each row goes to `sink` as it arrives, borrowed.
/// The probe's row comes first or where it lies in the stream; either way it stops the read.
pub(crate) async fn fold_for_command<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    sql: &CommandReadSql,
    stream: &eventcore::StreamId,
    from_version: u64,
    probe: Option<eventcore::EventId>,
    sink: &mut dyn eventcore::FoldSink,
) -> Result<Option<u64>, StoreError> {
    let Some(from_version) = eventcore::backend::read_start(from_version)? else {
        return Ok(None); // beyond any stored version
    };
    let mut rows = sqlx::query(sql.get(from_version))
        .bind(stream.as_str())
        .bind(from_version)
        .bind(probe.map(|id| id.as_uuid()))
        .fetch(executor);
    while let Some(row) = rows.try_next().await.map_err(StoreError::backend)? {
        let event = fold_event_from_row(&row, stream)?;
        if row
            .try_get_unchecked::<i32, _>(5)
            .map_err(StoreError::backend)?
            == 0
        {
            return Ok(Some(event.stream_version));
        }
        if sink.event(event).is_break() {
            return Ok(None);
        }
    }
    Ok(None)
}

/// See [`EventReader::read_stream`](eventcore::EventReader::read_stream): `sql` is the store's
/// `read_stream` statement.
pub(crate) async fn read_stream<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    sql: &str,
    stream: &eventcore::StreamId,
    from_version: u64,
    max_count: usize,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let Some(from_version) = eventcore::backend::read_start(from_version)? else {
        return Ok(Vec::new()); // beyond any stored version
    };
    sqlx::query(sql)
        .bind(stream.as_str())
        .bind(from_version)
        .bind(eventcore::backend::sql_limit(max_count))
        .fetch_all(executor)
        .await
        .map_err(StoreError::backend)?
        .iter()
        .map(event_from_row)
        .collect()
}
