//! The SQL text of the hot operations, built once per store for its schema.

use crate::rows::{EVENT_COLUMNS, FOLD_COLUMNS, timestamp_sql};
use crate::runtime_sql::RuntimeSql;
use crate::schema::Schema;

/// Bits of a global position that number the events within one transaction.
pub(crate) const INDEX_BITS: u32 = 20;

/// SQL for the upper bound (exclusive) of the positions a reader may return now, computed
/// once per statement against the statement's own snapshot: below the oldest transaction
/// that holds the store's write gate, or that the snapshot saw in flight and has finished
/// since (migration 0005 explains the function). Transactions in flight that never took the
/// gate (they write no events) do not hold it back.
pub(crate) fn safe_bound(schema: &Schema) -> String {
    let (class, object) = schema.gate();
    format!(
        "(SELECT {}.eventcore_read_bound(pg_current_snapshot(), {class}, {object}))",
        schema.quoted()
    )
}

/// What a transaction's earlier statements did about the store's write gate (parameter `$11`
/// of the insert statements).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GateMode {
    /// Nothing known: the statement takes it and reports whether the id came first.
    Unknown = 0,
    /// An earlier statement took it, after the transaction had its id: check for overtaking.
    HeldAfterId = 1,
    /// It was taken before the transaction had an id
    /// ([`will_append`](crate::PgTransaction::will_append)).
    HeldBeforeId = 2,
}

/// SQL taking the store's write gate, reporting whether the transaction had no id before.
pub(crate) fn take_gate(schema: &Schema) -> String {
    let (class, object) = schema.gate();
    format!(
        "SELECT pg_current_xact_id_if_assigned() IS NULL,
                pg_advisory_xact_lock_shared({class}, {object})::TEXT"
    )
}

/// SQL for the advisory-lock key of the stream named by the SQL expression `stream`.
pub(crate) fn lock_key(stream: &str) -> String {
    format!("hashtextextended('eventcore:' || {stream}, 0)")
}

/// The stream's last version and position, and this transaction's position base, after taking
/// the store's write gate and the stream's exclusive advisory lock (so that a transaction that
/// only checks the stream's version holds it still until it ends); parameter `$1` is the
/// stream. The select list is evaluated left to right:
/// - `early`: this is the transaction's first append (`$3` = 0 events appended before), it
///   already has an id (it wrote something else first) and it did not take the gate before
///   that (`$11` = 2, [`GateMode::HeldBeforeId`]), so readers may have passed it (see `GO`);
/// - the gate, then the stream lock, before the transaction id is assigned: a transaction
///   whose first write this is cannot get an id older than a writer it waited for, and
///   readers see it in flight from before it has an id.
fn current(events: &str, (class, object): (i32, i32)) -> String {
    let key = lock_key("$1");
    format!(
        "WITH last AS (
             SELECT stream_version AS v, global_position AS p FROM {events}
             WHERE stream_id = $1 ORDER BY stream_version DESC LIMIT 1
         ), cur AS (
             SELECT ($11::INT <> 2 AND $3::BIGINT = 0
                     AND pg_current_xact_id_if_assigned() IS NOT NULL) AS early,
                    pg_advisory_xact_lock_shared({class}, {object})::TEXT AS gated,
                    pg_advisory_xact_lock({key})::TEXT AS locked,
                    COALESCE((SELECT v FROM last), 0) AS v,
                    COALESCE((SELECT p FROM last), 0) AS p,
                    pg_current_xact_id()::TEXT::BIGINT << {INDEX_BITS} AS tx
         ), go AS (
             SELECT cur.*, {GO} AS ok FROM cur
         )",
        GO = go(events),
    )
}

/// Whether an append may go ahead as far as readers are concerned. A transaction that got its
/// id before taking the gate may append only once it holds the gate (`$11` = 1: it took it in
/// an earlier statement, which reported `early`) and no committed event lies above its first
/// position: a reader that passed its id without seeing it in flight delivered such an
/// event, and this statement's snapshot, taken after the gate, shows every event such a
/// reader can have delivered.
fn go(events: &str) -> String {
    format!(
        "(NOT cur.early OR ($11::INT = 1 AND cur.tx + 1 > COALESCE((
             SELECT global_position FROM {events} ORDER BY global_position DESC LIMIT 1), 0)))"
    )
}

/// Inserts only if readers allow it (`go.ok`), the new positions follow the stream's last one
/// (`$3` = events this transaction appended before) and the expected version (`$4` mode, `$5`
/// exact) holds.
const CHECK: &str = "WHERE go.ok AND go.tx + $3::BIGINT + 1 > go.p
       AND CASE $4::INT WHEN 0 THEN TRUE WHEN 1 THEN go.v = 0
                        WHEN 2 THEN go.v > 0 ELSE go.v = $5::BIGINT END";

/// What an insert reports: its first position and version and how many rows it inserted
/// (positions and versions of one insert are consecutive), as one row however many events;
/// then whether it was early and whether readers allowed it.
const SUMMARY: &str = "SELECT MIN(global_position), MIN(stream_version), COUNT(*),
     (SELECT early FROM go), (SELECT ok FROM go) FROM inserted";

/// Pre-built statements.
///
/// The safe bound is a scalar subquery, so it is computed once per statement (taking a
/// snapshot per row costs more than reading the row). It is kept out of the index conditions:
/// as a range its selectivity is a guess that can make the planner prefer a bitmap scan and a
/// sort of every row from the reader's position on, which makes paging through the log
/// quadratic.
#[derive(Debug)]
pub(crate) struct Sql {
    pub(crate) insert: String,
    pub(crate) insert_one: String,
    pub(crate) read_stream: String,
    pub(crate) read_all: String,
    pub(crate) stream_version: String,
    pub(crate) event_by_id: String,
    pub(crate) head: String,
    pub(crate) find_ids: String,
    pub(crate) read_for_command: String,
    pub(crate) load_snapshot: String,
    pub(crate) save_snapshot: String,
    /// The runtime records' statements.
    pub(crate) runtime: RuntimeSql,
}

impl Sql {
    pub(crate) fn new(schema: &Schema) -> Self {
        let events = schema.table("eventcore_events");
        let snapshots = schema.table("eventcore_snapshots");
        let recorded_at = timestamp_sql(2);
        let safe_bound = safe_bound(schema);
        Self {
            // $1 stream, $2 recorded-at micros, $3 index base within the transaction,
            // $4 check mode (0 any, 1 no stream, 2 exists, 3 exact), $5 exact version,
            // $6..$10 arrays of the events' columns, $11 the `GateMode`.
            insert: format!(
                "{CURRENT}, inserted AS (
                 INSERT INTO {events} (global_position, event_id, stream_id, stream_version,
                     event_type, schema_version, recorded_at, metadata, payload)
                 SELECT go.tx + $3::BIGINT + e.ord, e.id, $1, go.v + e.ord, e.t, e.sv,
                        {recorded_at}, e.md::JSON, e.pl::JSON
                 FROM go, unnest($6::UUID[], $7::TEXT[], $8::INT[], $9::TEXT[], $10::TEXT[])
                      WITH ORDINALITY AS e(id, t, sv, md, pl, ord)
                 {CHECK}
                 RETURNING global_position, stream_version
                 ) {SUMMARY}",
                CURRENT = current(&events, schema.gate()),
                CHECK = CHECK,
            ),
            // The same for one event, with scalar parameters: no arrays to encode or unnest.
            insert_one: format!(
                "{CURRENT}, inserted AS (
                 INSERT INTO {events} (global_position, event_id, stream_id, stream_version,
                     event_type, schema_version, recorded_at, metadata, payload)
                 SELECT go.tx + $3::BIGINT + 1, $6::UUID, $1, go.v + 1, $7::TEXT, $8::INT,
                        {recorded_at}, $9::TEXT::JSON, $10::TEXT::JSON
                 FROM go
                 {CHECK}
                 RETURNING global_position, stream_version
                 ) {SUMMARY}",
                CURRENT = current(&events, schema.gate()),
                CHECK = CHECK,
            ),
            read_stream: format!(
                "SELECT {EVENT_COLUMNS} FROM {events}
                 WHERE stream_id = $1 AND stream_version >= $2
                 ORDER BY stream_version LIMIT $3"
            ),
            // The inner query is the plain keyset page a raw reader would write (an ordered
            // primary-key scan); the outer filter drops its tail at or above the safe bound.
            // Positions at or above the bound all sort after those below it, so what remains
            // is exactly the first rows of [from, bound).
            read_all: format!(
                "SELECT * FROM (
                     SELECT {EVENT_COLUMNS} FROM {events}
                     WHERE global_position >= $1 ORDER BY global_position LIMIT $2
                 ) page
                 WHERE page.global_position < {safe_bound}
                 ORDER BY page.global_position"
            ),
            stream_version: format!(
                "SELECT COALESCE((SELECT stream_version FROM {events} WHERE stream_id = $1
                                  ORDER BY stream_version DESC LIMIT 1), 0)"
            ),
            event_by_id: format!("SELECT {EVENT_COLUMNS} FROM {events} WHERE event_id = $1"),
            head: format!(
                "SELECT COALESCE((SELECT global_position FROM {events}
                                  WHERE global_position + 0 < {safe_bound}
                                  ORDER BY global_position DESC LIMIT 1), 0)"
            ),
            find_ids: format!("SELECT event_id FROM {events} WHERE event_id = ANY($1) LIMIT 1"),
            // A command's probe (`$3`, its first derived event id; NULL for none) and its
            // stream from version `$2`, in one round trip: the probe's row first (`k` = 0),
            // then the stream's rows in version order.
            // No outer ORDER BY (a sort of the whole stream): each branch comes ordered by its
            // index scan, and the client puts the branches together by `k`.
            read_for_command: format!(
                "(SELECT {FOLD_COLUMNS}, 0 AS k FROM {events}
                  WHERE event_id = $3 AND stream_id = $1)
                 UNION ALL
                 (SELECT {FOLD_COLUMNS}, 1 AS k FROM {events}
                  WHERE stream_id = $1 AND stream_version >= $2
                  ORDER BY stream_version)"
            ),
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
            runtime: RuntimeSql::new(schema),
        }
    }
}
