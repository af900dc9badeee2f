//! Conversions between rows and eventcore types.

use eventcore::{EventId, Metadata, RecordedEvent, StoreError, StreamId};
use serde_json::value::RawValue;
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
    let position: i64 = row.try_get(0).map_err(StoreError::backend)?;
    let stream: String = row.try_get(2).map_err(StoreError::backend)?;
    let corrupt = |reason: String| StoreError::Corrupt {
        stream: stream.clone(),
        position: position as u64,
        reason,
    };
    let event_id: uuid::Uuid = row.try_get(1).map_err(|e| corrupt(e.to_string()))?;
    let stream_id =
        StreamId::new(stream.clone()).map_err(|e| corrupt(format!("stream id: {e}")))?;
    let stream_version: i64 = row.try_get(3).map_err(|e| corrupt(e.to_string()))?;
    let event_type: String = row.try_get(4).map_err(|e| corrupt(e.to_string()))?;
    let schema_version: i32 = row.try_get(5).map_err(|e| corrupt(e.to_string()))?;
    let recorded_at: i64 = row.try_get(6).map_err(|e| corrupt(e.to_string()))?;
    let metadata: Option<String> = row.try_get(7).map_err(|e| corrupt(e.to_string()))?;
    let payload: String = row.try_get(8).map_err(|e| corrupt(e.to_string()))?;
    let metadata = match metadata {
        None => Metadata::default(),
        Some(text) => serde_json::from_str(&text).map_err(|e| corrupt(format!("metadata: {e}")))?,
    };
    Ok(RecordedEvent {
        event_id: EventId(event_id),
        stream_id,
        stream_version: u64::try_from(stream_version)
            .map_err(|_| corrupt("negative stream version".into()))?,
        global_position: position as u64,
        event_type,
        schema_version: u32::try_from(schema_version)
            .map_err(|_| corrupt("schema version out of range".into()))?,
        recorded_at: from_micros(recorded_at),
        metadata,
        payload: RawValue::from_string(payload).map_err(|e| corrupt(format!("payload: {e}")))?,
    })
}
