//! The SQL text of the runtime records (checkpoints, sagas, deadlines, inbox, dead letters),
//! built once per store for its schema, like [`Sql`](crate::sql::Sql) for the log.

use crate::rows::timestamp_sql;
use crate::schema::Schema;
use crate::sql::bound_call;

/// SQL for a `TIMESTAMPTZ` column as microseconds since the epoch.
fn micros_of(column: &str) -> String {
    format!("(EXTRACT(EPOCH FROM {column}) * 1000000)::BIGINT")
}

/// Pre-built statements (parameters are documented where they are bound, in `runtime.rs` and
/// `projection.rs`).
#[derive(Debug)]
pub(crate) struct RuntimeSql {
    pub(crate) checkpoint: String,
    pub(crate) lock_checkpoint: String,
    pub(crate) create_checkpoint: String,
    pub(crate) save_checkpoint: String,
    pub(crate) advance_checkpoint: String,
    pub(crate) load_saga: String,
    pub(crate) sagas_by_status: String,
    pub(crate) insert_saga: String,
    pub(crate) update_saga: String,
    pub(crate) schedule_deadline: String,
    pub(crate) cancel_deadline: String,
    pub(crate) cancel_deadlines: String,
    pub(crate) insert_sagas: String,
    pub(crate) update_sagas: String,
    pub(crate) deadlines: String,
    pub(crate) record_processed: String,
    pub(crate) is_processed: String,
    pub(crate) load_sagas: String,
    pub(crate) record_all_processed: String,
    pub(crate) record_dead_letter: String,
    pub(crate) dead_letters: String,
    pub(crate) count_events_through: String,
    pub(crate) counts: String,
}

impl RuntimeSql {
    pub(crate) fn new(schema: &Schema) -> Self {
        let checkpoints = schema.table("eventcore_checkpoints");
        let sagas = schema.table("eventcore_sagas");
        let deadlines = schema.table("eventcore_deadlines");
        let inbox = schema.table("eventcore_inbox");
        let dead_letters = schema.table("eventcore_dead_letters");
        let saga_columns = format!(
            "saga_type, saga_id, status, state::TEXT, version, {}",
            micros_of("updated_at")
        );
        Self {
            checkpoint: format!("SELECT position FROM {checkpoints} WHERE name = $1"),
            lock_checkpoint: format!(
                "SELECT position FROM {checkpoints} WHERE name = $1 FOR UPDATE"
            ),
            create_checkpoint: format!(
                "INSERT INTO {checkpoints} (name, position) VALUES ($1, 0)
                 ON CONFLICT (name) DO NOTHING"
            ),
            save_checkpoint: format!(
                "INSERT INTO {checkpoints} (name, position) VALUES ($1, $2)
                 ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = now()"
            ),
            advance_checkpoint: format!(
                "UPDATE {checkpoints} SET position = $3, updated_at = now()
                 WHERE name = $1 AND position = $2"
            ),
            load_saga: format!(
                "SELECT {saga_columns} FROM {sagas} WHERE saga_type = $1 AND saga_id = $2"
            ),
            load_sagas: format!(
                "SELECT {saga_columns} FROM {sagas} WHERE saga_type = $1 AND saga_id = ANY($2::TEXT[])"
            ),
            sagas_by_status: format!(
                "SELECT {saga_columns} FROM {sagas} WHERE saga_type = $1 AND status = $2
                 ORDER BY updated_at, saga_id LIMIT $3"
            ),
            insert_saga: format!(
                "INSERT INTO {sagas} (saga_type, saga_id, status, state, version, updated_at)
                 VALUES ($1, $2, $3, $4::JSON, 1, {}) ON CONFLICT DO NOTHING",
                timestamp_sql(5)
            ),
            update_saga: format!(
                "UPDATE {sagas} SET status = $3, state = $4::JSON, version = $6, updated_at = {}
                 WHERE saga_type = $1 AND saga_id = $2 AND version = $7",
                timestamp_sql(5)
            ),
            schedule_deadline: format!(
                "INSERT INTO {deadlines} (deadline_id, saga_type, saga_id, due_at, payload)
                 VALUES ($1, $2, $3, {}, $5::JSON)
                 ON CONFLICT (deadline_id) DO UPDATE SET due_at = excluded.due_at,
                     payload = excluded.payload",
                timestamp_sql(4)
            ),
            cancel_deadline: format!("DELETE FROM {deadlines} WHERE deadline_id = $1"),
            cancel_deadlines: format!(
                "DELETE FROM {deadlines} WHERE deadline_id = ANY($1::TEXT[])"
            ),
            insert_sagas: format!(
                "INSERT INTO {sagas} (saga_type, saga_id, status, state, version, updated_at)
                 SELECT t, id, st, s::JSON, 1, {}
                 FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[]) AS v(t, id, st, s)
                 ON CONFLICT DO NOTHING RETURNING saga_type, saga_id",
                timestamp_sql(5)
            ),
            update_sagas: format!(
                "UPDATE {sagas} AS g SET status = v.st, state = v.s::JSON,
                     version = v.expected + 1, updated_at = {}
                 FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $6::BIGINT[])
                     AS v(t, id, st, s, expected)
                 WHERE g.saga_type = v.t AND g.saga_id = v.id AND g.version = v.expected
                 RETURNING g.saga_type, g.saga_id",
                timestamp_sql(5)
            ),
            deadlines: format!(
                "SELECT deadline_id, saga_type, saga_id, {}, payload::TEXT FROM {deadlines}
                 WHERE saga_type = $1 AND ($2::TEXT IS NULL OR saga_id = $2)
                   AND ($3::BIGINT IS NULL OR due_at <= {})
                 ORDER BY due_at, deadline_id LIMIT $4",
                micros_of("due_at"),
                timestamp_sql(3)
            ),
            record_processed: format!(
                "INSERT INTO {inbox} (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"
            ),
            record_all_processed: format!(
                "INSERT INTO {inbox} (consumer, event_id) SELECT $1, id FROM UNNEST($2::UUID[]) AS id \
                 ON CONFLICT DO NOTHING RETURNING event_id"
            ),
            is_processed: format!("SELECT 1 FROM {inbox} WHERE consumer = $1 AND event_id = $2"),
            record_dead_letter: format!(
                "INSERT INTO {dead_letters}
                     (consumer, position, event_id, event_type, error, attempts, failed_at)
                 VALUES ($1, $2, $3, $4, $5, $6, {})
                 ON CONFLICT (consumer, position) DO UPDATE SET event_id = excluded.event_id,
                     event_type = excluded.event_type, error = excluded.error,
                     attempts = excluded.attempts, failed_at = excluded.failed_at",
                timestamp_sql(7)
            ),
            dead_letters: format!(
                "SELECT consumer, position, event_id, event_type, error, attempts, {}
                 FROM {dead_letters} WHERE consumer = $1 ORDER BY position LIMIT $2",
                micros_of("failed_at")
            ),
            count_events_through: format!(
                "SELECT {}",
                bound_call(schema, "eventcore_count_through", "$1")
            ),
            counts: eventcore::backend::counts_sql(
                &schema.table("eventcore_events"),
                &sagas,
                &dead_letters,
            ),
        }
    }
}
