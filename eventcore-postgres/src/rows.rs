//! Conversions between rows and eventcore types.

use eventcore::stored::EventColumns;
use eventcore::{RecordedEvent, StoreError};
use sqlx::Row;
use sqlx::postgres::PgRow;

/// The columns [`event_from_row`] reads, in order.
pub(crate) const EVENT_COLUMNS: &str = "global_position, event_id, stream_id, stream_version, \
     event_type, schema_version, (EXTRACT(EPOCH FROM recorded_at) * 1000000)::BIGINT, \
     metadata::TEXT, payload::TEXT";

/// SQL turning a bound microsecond count into a `TIMESTAMPTZ`.
pub(crate) fn timestamp_sql(param: usize) -> String {
    format!("(TIMESTAMPTZ 'epoch' + ${param}::BIGINT * INTERVAL '1 microsecond')")
}

pub(crate) use eventcore::stored::{
    from_unix_micros as from_micros, metadata_json, now_micros_precision as stored_now,
    unix_micros as micros,
};

/// A `u64` as PostgreSQL's `BIGINT`.
pub(crate) fn to_i64(value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::backend(format!("{value} exceeds BIGINT")))
}

/// A stored event from its row; a row that cannot be read back is [`StoreError::Corrupt`],
/// naming its stream and position.
pub(crate) fn event_from_row(row: &PgRow) -> Result<RecordedEvent, StoreError> {
    let get_err = StoreError::backend;
    EventColumns {
        position: row.try_get(0).map_err(get_err)?,
        event_id: row.try_get(1).map_err(get_err)?,
        stream_id: row.try_get(2).map_err(get_err)?,
        stream_version: row.try_get(3).map_err(get_err)?,
        event_type: row.try_get(4).map_err(get_err)?,
        schema_version: i64::from(row.try_get::<i32, _>(5).map_err(get_err)?),
        recorded_at_micros: row.try_get(6).map_err(get_err)?,
        metadata: row.try_get(7).map_err(get_err)?,
        payload: row.try_get(8).map_err(get_err)?,
    }
    .into_recorded()
}
