//! `read_all`: pages of the log in position order, below the read bound.
//!
//! Every page goes through the read bound of migration 0005 (`eventcore_read_all`), except the
//! part of it below the *final floor*: the smallest transaction id that any snapshot this
//! store has taken saw in flight (`pg_snapshot_xmin`), as a position. Every transaction with
//! a smaller id had finished when that snapshot was taken, and every later one gets a larger
//! id, so no event can ever appear below the floor. A page there is the plain keyset read a
//! raw reader would write: no bound to compute. Each statement reports its snapshot's floor
//! with its rows; the store keeps the highest.
//!
//! A page starting far below the floor (catching up) is that plain read alone, rows streamed
//! as the server finds them, then a bounded read for the rest if the page is not full. A page
//! starting a little below it (a live reader, a moment behind) is one statement, migration
//! 0008's `eventcore_read_all_from`: the plain part, then the bounded one only if needed.

use std::sync::atomic::{AtomicI64, Ordering};

use eventcore::backend::{read_start, sql_limit};
use eventcore::{RecordedEvent, StoreError, StreamId};
use futures::TryStreamExt;
use sqlx::PgPool;
use sqlx::Row;

use crate::rows::{EVENT_COLUMNS, event_from_row_after};
use crate::schema::Schema;
use crate::sql::{INDEX_BITS, bound_call};

/// The floor column every log statement adds: its own snapshot's oldest id in flight, as a
/// position (an `InitPlan`, computed once per statement).
fn floor_column() -> String {
    format!("(SELECT pg_snapshot_xmin(pg_current_snapshot())::TEXT::BIGINT << {INDEX_BITS})")
}

/// The log reader's statements and the store's final floor.
#[derive(Debug)]
pub(crate) struct LogReader {
    /// `$1` from, `$2` limit: a page below the read bound, then the floor.
    bounded: String,
    /// `$1` from, `$2` below, `$3` limit: a plain keyset page, then the floor.
    below: String,
    /// `$1` from, `$2` the floor, `$3` limit: a plain keyset page below the floor, the rest
    /// below the read bound, then the floor.
    across: String,
    /// Positions below it are final; 0 until a statement reports one.
    floor: AtomicI64,
}

impl LogReader {
    pub(crate) fn new(schema: &Schema) -> Self {
        let floor = floor_column();
        Self {
            bounded: format!(
                "SELECT page.*, {floor} FROM {} page",
                bound_call(schema, "eventcore_read_all", "$1, $2")
            ),
            below: format!(
                "SELECT {EVENT_COLUMNS}, {floor} FROM {}
                 WHERE global_position >= $1 AND global_position < $2
                 ORDER BY global_position LIMIT $3",
                schema.table("eventcore_events")
            ),
            across: format!(
                "SELECT page.*, {floor} FROM {} page",
                bound_call(schema, "eventcore_read_all_from", "$1, $2, $3")
            ),
            floor: AtomicI64::new(0),
        }
    }

    /// See [`EventReader::read_all`](eventcore::EventReader::read_all).
    pub(crate) async fn read_all(
        &self,
        pool: &PgPool,
        from_position: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let Some(from) = read_start(from_position)? else {
            return Ok(Vec::new()); // beyond any stored position
        };
        let mut events = Vec::with_capacity(max_count.min(1024));
        if max_count == 0 {
            return Ok(events);
        }
        let floor = self.floor.load(Ordering::Acquire);
        let mut next = from;
        if from < floor && (floor - from) >> INDEX_BITS < sql_limit(max_count) {
            // A moment behind: one statement for both parts.
            let query = sqlx::query(&self.across)
                .bind(from)
                .bind(floor)
                .bind(sql_limit(max_count));
            self.collect(query, pool, &mut events).await?;
            return Ok(events);
        }
        if from < floor {
            let query = sqlx::query(&self.below)
                .bind(from)
                .bind(floor)
                .bind(sql_limit(max_count));
            self.collect(query, pool, &mut events).await?;
            if events.len() >= max_count {
                return Ok(events);
            }
            next = floor; // [from, floor) is read whole
        }
        let query = sqlx::query(&self.bounded)
            .bind(next)
            .bind(sql_limit(max_count - events.len()));
        self.collect(query, pool, &mut events).await?;
        Ok(events)
    }

    /// Runs `query`, each row becoming an event as it arrives while the server sends the next
    /// ones (consecutive events of one stream share its id); raises the floor to the one the
    /// statement reports.
    async fn collect<'q>(
        &self,
        query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
        pool: &PgPool,
        events: &mut Vec<RecordedEvent>,
    ) -> Result<(), StoreError> {
        let mut rows = query.fetch(pool);
        let mut floor = None;
        while let Some(row) = rows.try_next().await.map_err(StoreError::backend)? {
            let previous: Option<&StreamId> = events.last().map(|e| &e.stream_id);
            let event = event_from_row_after(&row, previous)?;
            if floor.is_none() {
                floor = Some(row.try_get::<i64, _>(9).map_err(StoreError::backend)?);
            }
            events.push(event);
        }
        if let Some(floor) = floor {
            self.floor.fetch_max(floor, Ordering::AcqRel);
        }
        Ok(())
    }
}
