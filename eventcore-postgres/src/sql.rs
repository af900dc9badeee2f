//! The SQL text of the hot operations, built once per store for its schema.

use crate::insert::InsertSql;
use crate::rows::{EVENT_COLUMNS, FOLD_COLUMNS};
use crate::runtime_sql::RuntimeSql;
use crate::schema::Schema;

/// Bits of a global position that number the events within one transaction.
pub(crate) const INDEX_BITS: u32 = 20;

/// SQL calling one of the read-bound functions of migration 0005 (`eventcore_read_bound`,
/// `eventcore_read_all`, `eventcore_head`, `eventcore_count_through`; the bound as migration
/// 0006 redefines it) with the store's gate and `args` before it. The bound follows the oldest
/// transaction holding the store's write gate (transactions that never took it write no events
/// and do not hold it back; an id whose lock is not in the lock table yet counts), and the
/// function reads the rows with a snapshot taken after the bound, so that no writer that
/// finished meanwhile is missed.
pub(crate) fn bound_call(schema: &Schema, function: &str, args: &str) -> String {
    format!(
        "{}.{function}({args}{}{})",
        schema.quoted(),
        if args.is_empty() { "" } else { ", " },
        schema.gate()
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
    format!(
        "SELECT pg_current_xact_id_if_assigned() IS NULL,
                pg_advisory_xact_lock_shared({}, pg_backend_pid())::TEXT",
        schema.gate()
    )
}

/// SQL for the advisory-lock key of the stream named by the SQL expression `stream`, in the
/// schema whose [`gate`](crate::schema::Schema::gate) is `seed`: the hash is seeded with it,
/// so that streams of one name in two schemas (a service's and another's mirror of it) never
/// wait for each other's locks.
pub(crate) fn lock_key(stream: &str, seed: i32) -> String {
    format!("hashtextextended('eventcore:' || {stream}, {seed})")
}

/// The command read ([`EventReader::read_for_command`](eventcore::EventReader::read_for_command)):
/// parameters `$1` stream, `$2` from version, `$3` probe; columns [`FOLD_COLUMNS`] and `k`
/// (0 for the probe's row).
#[derive(Debug)]
pub(crate) struct CommandReadSql {
    from_version: String,
    from_start: String,
}

impl CommandReadSql {
    /// The statement for a read from `from_version`.
    pub(crate) fn get(&self, from_version: i64) -> &str {
        if from_version <= 1 {
            &self.from_start
        } else {
            &self.from_version
        }
    }
}

/// Pre-built statements.
///
/// The safe bound is a scalar subquery, so it is computed once per statement (taking a
/// snapshot per row costs more than reading the row). It is kept out of the index conditions:
/// as a range its selectivity is a guess that can make the planner prefer a bitmap scan and a
/// sort of every row from the reader's position on, which makes paging through the log
/// quadratic.
#[derive(Debug)]
pub(crate) struct Sql {
    /// The append statements.
    pub(crate) insert: InsertSql,
    pub(crate) read_stream: String,
    pub(crate) stream_version: String,
    pub(crate) event_by_id: String,
    pub(crate) head: String,
    pub(crate) find_ids: String,
    /// Deletes this transaction's rows at indexes `$1 + 1 ..= $2`.
    pub(crate) remove_inserted: String,
    pub(crate) read_for_command: CommandReadSql,
    pub(crate) load_snapshot: String,
    pub(crate) save_snapshot: String,
    /// The runtime records' statements.
    pub(crate) runtime: RuntimeSql,
    /// Takes the advisory locks of streams `$1` (exclusive where `$2` is true, else shared)
    /// in key order.
    pub(crate) lock_streams: String,
    /// `BEGIN`, then the store's gate (as [`take_gate`]), as one simple query: the
    /// transaction has no id yet when it takes the gate.
    pub(crate) begin_appending: String,
}

impl Sql {
    pub(crate) fn new(schema: &Schema) -> Self {
        let events = schema.table("eventcore_events");
        let snapshots = schema.table("eventcore_snapshots");
        Self {
            begin_appending: format!(
                "{}; SELECT pg_advisory_xact_lock_shared({}, pg_backend_pid())",
                crate::store::BEGIN,
                schema.gate()
            ),
            lock_streams: format!(
                "SELECT CASE WHEN x THEN pg_advisory_xact_lock(k)::TEXT
                             ELSE pg_advisory_xact_lock_shared(k)::TEXT END
                 FROM (SELECT {} AS k, x FROM unnest($1::TEXT[], $2::BOOL[]) AS t(s, x)) keys
                 ORDER BY k",
                lock_key("s", schema.gate())
            ),
            insert: InsertSql::new(schema),
            read_stream: format!(
                "SELECT {EVENT_COLUMNS} FROM {events}
                 WHERE stream_id = $1 AND stream_version >= $2
                 ORDER BY stream_version LIMIT $3"
            ),
            stream_version: format!(
                "SELECT COALESCE((SELECT stream_version FROM {events} WHERE stream_id = $1
                                  ORDER BY stream_version DESC LIMIT 1), 0)"
            ),
            event_by_id: format!("SELECT {EVENT_COLUMNS} FROM {events} WHERE event_id = $1"),
            head: format!("SELECT {}", bound_call(schema, "eventcore_head", "")),
            remove_inserted: format!(
                "DELETE FROM {events}
                 WHERE global_position > (pg_current_xact_id()::TEXT::BIGINT << {INDEX_BITS}) + $1
                   AND global_position <= (pg_current_xact_id()::TEXT::BIGINT << {INDEX_BITS}) + $2"
            ),
            find_ids: format!("SELECT event_id FROM {events} WHERE event_id = ANY($1) LIMIT 1"),
            read_for_command: CommandReadSql {
                // A command's probe (`$3`, its first derived event id; NULL for none) and its
                // stream from version `$2`, in one round trip: the probe's row first (`k` =
                // 0), then the stream's rows in version order. No outer ORDER BY (a sort of
                // the whole stream): each branch comes ordered by its index scan, and the
                // client puts the branches together by `k`.
                from_version: format!(
                    "(SELECT {FOLD_COLUMNS}, 0 AS k FROM {events}
                      WHERE event_id = $3 AND stream_id = $1)
                     UNION ALL
                     (SELECT {FOLD_COLUMNS}, 1 AS k FROM {events}
                      WHERE stream_id = $1 AND stream_version >= $2
                      ORDER BY stream_version)"
                ),
                // From the stream's start the probe, if stored in the stream, is among its
                // rows: one index scan, the probe's row marked `k` = 0 where it comes.
                from_start: format!(
                    "SELECT {FOLD_COLUMNS}, CASE WHEN event_id = $3 THEN 0 ELSE 1 END AS k
                     FROM {events} WHERE stream_id = $1 AND stream_version >= $2
                     ORDER BY stream_version"
                ),
            },
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
