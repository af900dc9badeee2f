//! Stream reads, on the store's read pool or inside a transaction: a stream's events, and a
//! command's read (its idempotency probe and its stream, what folding needs) in one statement.

use eventcore::backend::{command_read, read_start, sql_limit};
use eventcore::{CommandRead, EventId, RecordedEvent, StoreError, StreamId};
use sqlx::{Row, SqliteExecutor};

use crate::rows::{EVENT_COLUMNS, FOLD_COLUMNS, event_from_row, fold_event_from_row};

/// See [`EventReader::read_stream`](eventcore::EventReader::read_stream).
pub(crate) async fn read_stream<'e>(
    executor: impl SqliteExecutor<'e>,
    stream: &StreamId,
    from_version: u64,
    max_count: usize,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let Some(from_version) = read_start(from_version)? else {
        return Ok(Vec::new()); // beyond any stored version
    };
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM eventcore_events \
         WHERE stream_id = ?1 AND stream_version >= ?2 ORDER BY stream_version LIMIT ?3"
    );
    sqlx::query(&sql)
        .bind(stream.as_str())
        .bind(from_version)
        .bind(sql_limit(max_count))
        .fetch_all(executor)
        .await
        .map_err(StoreError::backend)?
        .iter()
        .map(event_from_row)
        .collect()
}

/// See [`EventReader::read_for_command`](eventcore::EventReader::read_for_command).
pub(crate) async fn read_for_command<'e>(
    executor: impl SqliteExecutor<'e>,
    stream: &StreamId,
    from_version: u64,
    probe: Option<EventId>,
) -> Result<CommandRead, StoreError> {
    let Some(from_version) = read_start(from_version)? else {
        return Ok(CommandRead::default()); // beyond any stored version
    };
    // The probe's row is marked k = 0, the stream's rows k = 1.
    let sql = format!(
        "SELECT {FOLD_COLUMNS}, 0 AS k FROM eventcore_events
         WHERE event_id = ?3 AND stream_id = ?1
         UNION ALL
         SELECT {FOLD_COLUMNS}, 1 AS k FROM eventcore_events
         WHERE stream_id = ?1 AND stream_version >= ?2
         ORDER BY k, stream_version"
    );
    let probe = probe.map(|id| *id.as_bytes());
    let rows = sqlx::query(&sql)
        .bind(stream.as_str())
        .bind(from_version)
        .bind(probe.as_ref().map(|bytes| bytes.as_slice()))
        .fetch_all(executor)
        .await
        .map_err(StoreError::backend)?;
    command_read(rows.iter().map(|row| {
        let probed = row.try_get::<i64, _>(5).map_err(StoreError::backend)? == 0;
        Ok((fold_event_from_row(row, stream)?, probed))
    }))
}
