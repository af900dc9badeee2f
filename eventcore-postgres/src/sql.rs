//! The SQL text of the hot operations, built once per store for its schema.

use crate::rows::{EVENT_COLUMNS, timestamp_sql};
use crate::schema::Schema;

/// Bits of a global position that number the events within one transaction.
pub(crate) const INDEX_BITS: u32 = 20;

/// SQL for the upper bound (exclusive) of the positions a reader may return now: every
/// transaction with an id below the oldest one still in flight has finished.
pub(crate) const SAFE_BOUND: &str = "(pg_snapshot_xmin(pg_current_snapshot())::TEXT::BIGINT << 20)";

/// Pre-built statements.
#[derive(Debug)]
pub(crate) struct Sql {
    pub(crate) insert: String,
    pub(crate) read_stream: String,
    pub(crate) read_all: String,
    pub(crate) stream_version: String,
    pub(crate) event_by_id: String,
    pub(crate) head: String,
    pub(crate) find_ids: String,
    pub(crate) load_snapshot: String,
    pub(crate) save_snapshot: String,
}

impl Sql {
    pub(crate) fn new(schema: &Schema) -> Self {
        let events = schema.table("eventcore_events");
        let snapshots = schema.table("eventcore_snapshots");
        let recorded_at = timestamp_sql(2);
        Self {
            // $1 stream, $2 recorded-at micros, $3 index base within the transaction,
            // $4 check mode (0 any, 1 no stream, 2 exists, 3 exact), $5 exact version,
            // $6.. arrays of the events' columns.
            insert: format!(
                "WITH last AS (
                     SELECT stream_version AS v, global_position AS p FROM {events}
                     WHERE stream_id = $1 ORDER BY stream_version DESC LIMIT 1
                 ), cur AS (
                     SELECT COALESCE((SELECT v FROM last), 0) AS v,
                            COALESCE((SELECT p FROM last), 0) AS p,
                            pg_current_xact_id()::TEXT::BIGINT << {INDEX_BITS} AS tx
                 )
                 INSERT INTO {events} (global_position, event_id, stream_id, stream_version,
                     event_type, schema_version, recorded_at, metadata, payload)
                 SELECT cur.tx + $3::BIGINT + e.ord, e.id, $1, cur.v + e.ord, e.t, e.sv,
                        {recorded_at}, e.md::JSON, e.pl::JSON
                 FROM cur, unnest($6::UUID[], $7::TEXT[], $8::INT[], $9::TEXT[], $10::TEXT[])
                      WITH ORDINALITY AS e(id, t, sv, md, pl, ord)
                 WHERE cur.tx + $3::BIGINT + 1 > cur.p
                   AND CASE $4::INT WHEN 0 THEN TRUE WHEN 1 THEN cur.v = 0
                                    WHEN 2 THEN cur.v > 0 ELSE cur.v = $5::BIGINT END
                 ORDER BY e.ord
                 RETURNING global_position, stream_version"
            ),
            read_stream: format!(
                "SELECT {EVENT_COLUMNS} FROM {events}
                 WHERE stream_id = $1 AND stream_version >= $2
                 ORDER BY stream_version LIMIT $3"
            ),
            read_all: format!(
                "SELECT {EVENT_COLUMNS} FROM {events}
                 WHERE global_position >= $1 AND global_position < {SAFE_BOUND}
                 ORDER BY global_position LIMIT $2"
            ),
            stream_version: format!(
                "SELECT COALESCE((SELECT stream_version FROM {events} WHERE stream_id = $1
                                  ORDER BY stream_version DESC LIMIT 1), 0)"
            ),
            event_by_id: format!("SELECT {EVENT_COLUMNS} FROM {events} WHERE event_id = $1"),
            head: format!(
                "SELECT COALESCE((SELECT global_position FROM {events}
                                  WHERE global_position < {SAFE_BOUND}
                                  ORDER BY global_position DESC LIMIT 1), 0)"
            ),
            find_ids: format!("SELECT event_id FROM {events} WHERE event_id = ANY($1) LIMIT 1"),
            load_snapshot: format!(
                "SELECT version, schema_version, state::TEXT FROM {snapshots} WHERE stream_id = $1"
            ),
            save_snapshot: format!(
                "INSERT INTO {snapshots} AS s (stream_id, version, schema_version, state)
                 VALUES ($1, $2, $3, $4::JSON)
                 ON CONFLICT (stream_id) DO UPDATE SET
                     version = excluded.version, schema_version = excluded.schema_version,
                     state = excluded.state, taken_at = now()
                 WHERE s.schema_version <> excluded.schema_version
                    OR excluded.version >= s.version"
            ),
        }
    }
}
