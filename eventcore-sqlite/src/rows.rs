//! Conversions between rows and eventcore types.

use eventcore::stored::{self, EventColumns};
use eventcore::{RecordedEvent, StoreError};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

/// The columns [`event_from_row`] reads, in order.
pub(crate) const EVENT_COLUMNS: &str = "position, event_id, stream_id, stream_version, event_type, \
     schema_version, recorded_at, metadata, payload";

pub(crate) use eventcore::stored::{
    from_unix_micros as from_micros, metadata_json, now_micros_precision as stored_now,
    unix_micros as micros,
};

/// A stored event from its row; a row that cannot be read back is [`StoreError::Corrupt`],
/// naming its stream and position.
pub(crate) fn event_from_row(row: &SqliteRow) -> Result<RecordedEvent, StoreError> {
    let get_err = StoreError::backend;
    let position: i64 = row.try_get(0).map_err(get_err)?;
    let stream_id: String = row.try_get(2).map_err(get_err)?;
    let id: Vec<u8> = row.try_get(1).map_err(get_err)?;
    let event_id = uuid::Uuid::from_slice(&id)
        .map_err(|e| stored::corrupt(&stream_id, position, format!("event id: {e}")))?;
    EventColumns {
        position,
        event_id,
        stream_id,
        stream_version: row.try_get(3).map_err(get_err)?,
        event_type: row.try_get(4).map_err(get_err)?,
        schema_version: row.try_get(5).map_err(get_err)?,
        recorded_at_micros: row.try_get(6).map_err(get_err)?,
        metadata: row.try_get(7).map_err(get_err)?,
        payload: row.try_get(8).map_err(get_err)?,
    }
    .into_recorded()
}

/// A `u64` as SQLite's `INTEGER`.
pub(crate) fn to_i64(value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::backend(format!("{value} exceeds i64")))
}
