//! The append statement: one `INSERT ... SELECT` per stream that takes the store's write gate
//! and the stream's lock, checks readers, stream order and the expected version, and assigns
//! positions from the transaction id; and running it.

use std::time::SystemTime;

use eventcore::backend::RecordedEventExt;
use eventcore::{RecordedEvent, StoreError, StreamAppend};
use sqlx::{PgConnection, Row};

use crate::append::Failure;
use crate::rows::{metadata_json, micros, timestamp_sql};
use crate::schema::Schema;
use crate::sql::{GateMode, INDEX_BITS, lock_key};

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
fn current(events: &str, gate: i32) -> String {
    let key = lock_key("$1", gate);
    format!(
        "WITH last AS (
             SELECT stream_version AS v, global_position AS p FROM {events}
             WHERE stream_id = $1 ORDER BY stream_version DESC LIMIT 1
         ), cur AS (
             SELECT ($11::INT <> 2 AND $3::BIGINT = 0
                     AND pg_current_xact_id_if_assigned() IS NOT NULL) AS early,
                    pg_advisory_xact_lock_shared({gate}, pg_backend_pid())::TEXT AS gated,
                    pg_advisory_xact_lock({key})::TEXT AS locked,
                    COALESCE((SELECT v FROM last), 0) AS v,
                    COALESCE((SELECT p FROM last), 0) AS p,
                    pg_current_xact_id()::TEXT::BIGINT << {INDEX_BITS} AS tx
         ), go AS (
             SELECT cur.*, {GO} AS ok, {PASS} AS pass FROM cur
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

/// Whether the new positions follow the stream's last one (`$3` = events this transaction
/// appended before) and the expected version (`$4` mode, `$5` exact) holds.
const PASS: &str = "(cur.tx + $3::BIGINT + 1 > cur.p
       AND CASE $4::INT WHEN 0 THEN TRUE WHEN 1 THEN cur.v = 0
                        WHEN 2 THEN cur.v > 0 ELSE cur.v = $5::BIGINT END)";

/// What an insert reports: its first position and version and how many rows it inserted
/// (positions and versions of one insert are consecutive), as one row however many events;
/// then whether it was early, whether readers allowed it and whether its checks passed.
const SUMMARY: &str = "SELECT MIN(global_position), MIN(stream_version), COUNT(*),
     (SELECT early FROM go), (SELECT ok FROM go), (SELECT pass FROM go) FROM inserted";

/// The append statements, for one event (scalar parameters: no arrays to encode or unnest)
/// and for several. `$1` stream, `$2` recorded-at micros, `$3` index base within the
/// transaction, `$4` check mode (0 any, 1 no stream, 2 exists, 3 exact), `$5` exact version,
/// `$6..$10` the events' columns, `$11` the [`GateMode`].
///
/// The `*_tx` forms, for a caller's transaction, skip rows that clash with a unique index
/// (`ON CONFLICT DO NOTHING`) instead of failing, which would abort the whole transaction:
/// no savepoint round trips. The caller sees fewer rows than events, removes the ones that
/// went in, and finds out which clash it was.
#[derive(Debug)]
pub(crate) struct InsertSql {
    /// One event, outside a caller's transaction: see [`flat`].
    one_flat: String,
    one: String,
    many: String,
    one_tx: String,
    many_tx: String,
    /// Takes the store's early-writer lock (see [`insert_stream`]).
    early_lock: String,
}

impl InsertSql {
    pub(crate) fn new(schema: &Schema) -> Self {
        let events = schema.table("eventcore_events");
        let recorded_at = timestamp_sql(2);
        let current = current(&events, schema.gate());
        let one = |conflict: &str| {
            format!(
                "{current}, inserted AS (
                 INSERT INTO {events} (global_position, event_id, stream_id, stream_version,
                     event_type, schema_version, recorded_at, metadata, payload)
                 SELECT go.tx + $3::BIGINT + 1, $6::UUID, $1, go.v + 1, $7::TEXT, $8::INT,
                        {recorded_at}, $9::TEXT::JSON, $10::TEXT::JSON
                 FROM go WHERE go.ok AND go.pass
                 {conflict} RETURNING global_position, stream_version
                 ) {SUMMARY}"
            )
        };
        let many = |conflict: &str| {
            format!(
                "{current}, inserted AS (
                 INSERT INTO {events} (global_position, event_id, stream_id, stream_version,
                     event_type, schema_version, recorded_at, metadata, payload)
                 SELECT go.tx + $3::BIGINT + e.ord, e.id, $1, go.v + e.ord, e.t, e.sv,
                        {recorded_at}, e.md::JSON, e.pl::JSON
                 FROM go, unnest($6::UUID[], $7::TEXT[], $8::INT[], $9::TEXT[], $10::TEXT[])
                      WITH ORDINALITY AS e(id, t, sv, md, pl, ord)
                 WHERE go.ok AND go.pass
                 {conflict} RETURNING global_position, stream_version
                 ) {SUMMARY}"
            )
        };
        const SKIP: &str = "ON CONFLICT DO NOTHING";
        Self {
            one_flat: flat(&events, &recorded_at, schema.gate()),
            one: one(""),
            many: many(""),
            one_tx: one(SKIP),
            many_tx: many(SKIP),
            early_lock: format!("SELECT pg_advisory_xact_lock({}, 0)::TEXT", schema.gate()),
        }
    }

    /// The statement for `events` events at `place`, and whether it is the [`flat`] one.
    fn get(&self, events: usize, place: Placement) -> (&str, bool) {
        if events == 1 && !place.in_tx {
            return (&self.one_flat, true);
        }
        let sql = match (events == 1, place.in_tx) {
            (true, false) => &self.one,
            (false, false) => &self.many,
            (true, true) => &self.one_tx,
            (false, true) => &self.many_tx,
        };
        (sql, false)
    }
}

/// The append of one event outside a caller's transaction (the everyday command path): a
/// plain `INSERT ... SELECT` over one row that takes the gate and the stream's lock, then the
/// transaction id (the outer select list is evaluated after the subquery's row). Parameters
/// as [`InsertSql`]'s, but `$11` says whether to skip the version look-up (see below).
///
/// No early-writer or stream-order check: outside a caller's transaction the transaction has
/// no id before the gate (it is never early), and every earlier writer of the stream
/// committed before this one took the stream's lock, so before it got its id: its positions
/// lie below. No row back means the version check failed. (`OFFSET 0` keeps the check out of
/// the subquery, where the planner would evaluate the version look-up a second time.)
///
/// A new stream's first append (no stream, or exactly version 0) in a statement of its own
/// skips the look-up: it inserts version 1, and the unique index on the stream's versions
/// refuses it if the stream exists (in a transaction of several statements that error would
/// abort the transaction).
fn flat(events: &str, recorded_at: &str, gate: i32) -> String {
    let key = lock_key("$1", gate);
    format!(
        "INSERT INTO {events} (global_position, event_id, stream_id, stream_version,
             event_type, schema_version, recorded_at, metadata, payload)
         SELECT (pg_current_xact_id()::TEXT::BIGINT << {INDEX_BITS}) + $3::BIGINT + 1,
                $6::UUID, $1, s.v + 1, $7::TEXT, $8::INT, {recorded_at}, $9::TEXT::JSON,
                $10::TEXT::JSON
         FROM (SELECT pg_advisory_xact_lock_shared({gate}, pg_backend_pid())::TEXT AS gated,
                      pg_advisory_xact_lock({key})::TEXT AS locked,
                      CASE WHEN $11::BOOL THEN 0
                           ELSE COALESCE((SELECT stream_version FROM {events}
                                          WHERE stream_id = $1
                                          ORDER BY stream_version DESC LIMIT 1), 0) END AS v
               OFFSET 0) s
         WHERE CASE $4::INT WHEN 0 THEN TRUE WHEN 1 THEN s.v = 0
                            WHEN 2 THEN s.v > 0 ELSE s.v = $5::BIGINT END
         RETURNING global_position, stream_version"
    )
}

/// The check mode and exact version parameters of an expectation.
fn mode(expected: eventcore::ExpectedVersion) -> (i32, i64) {
    use eventcore::ExpectedVersion::{Any, Exact, NoStream, StreamExists};
    match expected {
        Any => (0, 0),
        NoStream => (1, 0),
        StreamExists => (2, 0),
        Exact(n) => (3, i64::try_from(n).unwrap_or(-1)),
    }
}

/// A schema version as the `INT` column stores it ([`eventcore::AppendRequest::validate`] refuses larger
/// ones before any statement runs).
fn schema_version(version: u32) -> Result<i32, StoreError> {
    i32::try_from(version).map_err(|_| StoreError::backend("schema version exceeds INT"))
}

/// Where an insert goes: the index base of its events within the transaction, what the
/// transaction did about the write gate, and whether it runs in a caller's transaction.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Placement {
    pub(crate) index_base: u64,
    pub(crate) gate: GateMode,
    pub(crate) in_tx: bool,
    /// The statement is its own transaction (a failed one aborts nothing else).
    pub(crate) alone: bool,
}

impl Placement {
    /// An append of its own (not in a caller's transaction).
    pub(crate) const AUTOCOMMIT: Self = Self {
        index_base: 0,
        gate: GateMode::Unknown,
        in_tx: false,
        alone: false,
    };

    /// An append that is one statement, its own transaction.
    pub(crate) const ALONE: Self = Self {
        alone: true,
        ..Self::AUTOCOMMIT
    };
}

/// Inserts one stream's events if its check holds; `Ok(None)` when it does not.
/// [`Failure::Clashed`] (only in a caller's transaction) may leave rows of this insert behind.
pub(crate) async fn insert_stream(
    conn: &mut PgConnection,
    sql: &InsertSql,
    append: &StreamAppend,
    place: Placement,
    now: SystemTime,
) -> Result<Option<Vec<RecordedEvent>>, Failure> {
    let mut inserted = run_insert(conn, sql, append, place, now).await?;
    if let Inserted::Early = inserted {
        // The transaction had an id before it took the gate (the statement took it): now
        // that it holds it, see whether readers may have passed the id. Transactions in this
        // case take turns (the early-writer lock, held to their end) before they look: two of
        // them that both got their ids before a reader's look at the gate could otherwise
        // each find nothing above themselves, and the later id commit first, letting a reader
        // deliver it before the earlier one's events appear below it. Taking turns, the second
        // one looks after the first ended, and sees its events if they lie above.
        sqlx::query(&sql.early_lock).execute(&mut *conn).await?;
        let place = Placement {
            gate: GateMode::HeldAfterId,
            ..place
        };
        inserted = run_insert(conn, sql, append, place, now).await?;
    }
    let (first_position, first_version) = match inserted {
        Inserted::Rows { position, version } => (position, version),
        Inserted::Refused => return Ok(None),
        Inserted::Early => return Err(Failure::Overtaken),
        Inserted::Clashed => return Err(Failure::Clashed),
    };
    Ok(Some(
        append
            .events
            .iter()
            .zip(0u64..)
            .map(|(event, i)| {
                RecordedEvent::from_new(
                    event.clone(),
                    append.stream.clone(),
                    first_version + i,
                    first_position + i,
                    now,
                )
            })
            .collect(),
    ))
}

/// What one insert statement did.
enum Inserted {
    /// It inserted the events, the first at this position and version.
    Rows { position: u64, version: u64 },
    /// Its version or stream-order check failed.
    Refused,
    /// The transaction got its id before it held the gate, and readers may have passed it.
    Early,
    /// Some rows clashed with a unique index (an event id, or a version taken meanwhile) and
    /// were skipped; the others went in.
    Clashed,
}

/// Runs the stream's insert statement.
async fn run_insert(
    conn: &mut PgConnection,
    sql: &InsertSql,
    append: &StreamAppend,
    place: Placement,
    now: SystemTime,
) -> Result<Inserted, Failure> {
    let (mode, exact) = mode(append.expected);
    let (statement, flat) = sql.get(append.events.len(), place);
    let base = sqlx::query(statement)
        .bind(append.stream.as_str())
        .bind(micros(now))
        .bind(place.index_base as i64)
        .bind(mode)
        .bind(exact);
    let query = if let [event] = &append.events[..] {
        base.bind(event.event_id.as_uuid())
            .bind(event.event_type.as_str())
            .bind(schema_version(event.schema_version)?)
            .bind(metadata_json(&event.metadata)?)
            .bind(event.payload.get())
    } else {
        let events = &append.events;
        let ids: Vec<uuid::Uuid> = events.iter().map(|e| e.event_id.as_uuid()).collect();
        let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
        let schema_versions: Vec<i32> = events
            .iter()
            .map(|e| schema_version(e.schema_version))
            .collect::<Result<_, _>>()?;
        let metadata: Vec<Option<String>> = events
            .iter()
            .map(|e| metadata_json(&e.metadata))
            .collect::<Result<_, _>>()?;
        let payloads: Vec<&str> = events.iter().map(|e| e.payload.get()).collect();
        base.bind(ids)
            .bind(types)
            .bind(schema_versions)
            .bind(metadata)
            .bind(payloads)
    };
    if flat {
        let skip = place.alone && (mode == 1 || (mode == 3 && exact == 0));
        return Ok(match query.bind(skip).fetch_optional(&mut *conn).await {
            Ok(Some(row)) => Inserted::Rows {
                position: row.try_get::<i64, _>(0)? as u64,
                version: row.try_get::<i64, _>(1)? as u64,
            },
            Ok(None) => Inserted::Refused,
            // A new stream's first append found version 1 taken: the stream exists.
            Err(error) => match Failure::from(error) {
                Failure::Raced if skip => Inserted::Refused,
                failure => return Err(failure),
            },
        });
    }
    let row = query.bind(place.gate as i32).fetch_one(&mut *conn).await?;
    let (first_position, first_version, inserted): (Option<i64>, Option<i64>, i64) =
        (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
    let (ok, pass): (bool, bool) = (row.try_get(4)?, row.try_get(5)?);
    if !ok {
        return Ok(Inserted::Early); // only an early transaction is held back
    }
    if !pass {
        return Ok(Inserted::Refused);
    }
    let (Some(position), Some(version)) = (first_position, first_version) else {
        return Ok(Inserted::Clashed);
    };
    if inserted as usize != append.events.len() {
        return Ok(Inserted::Clashed);
    }
    Ok(Inserted::Rows {
        position: position as u64,
        version: version as u64,
    })
}
