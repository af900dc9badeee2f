//! Conversions between rows and eventcore types.

use eventcore::backend::{EventColumns, FoldColumns, Place, RecordPlace};
use eventcore::{RecordedEvent, StoreError};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

/// The columns [`event_from_row`] reads, in order.
pub(crate) const EVENT_COLUMNS: &str = "position, event_id, stream_id, stream_version, event_type, \
     schema_version, recorded_at, metadata, payload";

pub(crate) use eventcore::backend::{
    metadata_json, now_micros_precision as stored_now, unix_micros as micros,
};

/// A stored event from its row; a row that cannot be read back (tampered with outside the
/// library: a BLOB or invalid UTF-8 in a text column, text in an integer column) is
/// [`StoreError::Corrupt`], naming its stream, version and position.
pub(crate) fn event_from_row(row: &SqliteRow) -> Result<RecordedEvent, StoreError> {
    // Read leniently, only when an error needs to say where.
    let place = || RecordPlace {
        stream: row.try_get(2).unwrap_or_default(),
        version: row.try_get(3).unwrap_or_default(),
        position: row.try_get(0).unwrap_or_default(),
    };
    let id: Vec<u8> = column(row, 1, &place)?;
    EventColumns {
        position: column(row, 0, &place)?,
        event_id: uuid::Uuid::from_slice(&id)
            .map_err(|e| place().corrupt(format!("event id: {e}")))?,
        stream_id: column(row, 2, &place)?,
        stream_version: column(row, 3, &place)?,
        event_type: column(row, 4, &place)?,
        schema_version: column(row, 5, &place)?,
        recorded_at_micros: column(row, 6, &place)?,
        metadata: column(row, 7, &place)?,
        payload: column(row, 8, &place)?,
    }
    .into_recorded()
}

/// The columns [`fold_event_from_row`] reads, in order: what folding an aggregate needs.
pub(crate) const FOLD_COLUMNS: &str =
    "stream_version, position, event_type, schema_version, payload";

/// A stored event as folding needs it ([`FOLD_COLUMNS`]); `stream` names it in errors.
pub(crate) fn fold_event_from_row(
    row: &SqliteRow,
    stream: &eventcore::StreamId,
) -> Result<eventcore::FoldEvent, StoreError> {
    let place = || RecordPlace {
        stream: stream.to_string(),
        version: row.try_get(0).unwrap_or_default(),
        position: row.try_get(1).unwrap_or_default(),
    };
    FoldColumns {
        stream_version: column(row, 0, &place)?,
        position: column(row, 1, &place)?,
        event_type: column(row, 2, &place)?,
        schema_version: column(row, 3, &place)?,
        payload: column(row, 4, &place)?,
    }
    .into_fold(stream)
}

/// Column `index` of `row`; a value that does not decode is [`StoreError::Corrupt`].
pub(crate) fn column<'r, T>(
    row: &'r SqliteRow,
    index: usize,
    place: &impl Place,
) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
{
    row.try_get(index)
        .map_err(|e| place.place().corrupt(format!("column {index}: {e}")))
}

/// A `u64` as SQLite's `INTEGER`.
pub(crate) fn to_i64(value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::backend(format!("{value} exceeds i64")))
}
