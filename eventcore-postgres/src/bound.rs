//! [`ReadBound`]: how far log readers may read now, and which transaction holds them back.

use std::time::Duration;

use eventcore::StoreError;
use sqlx::Row;

use crate::PgEventStore;
use crate::sql::{INDEX_BITS, bound_call};

/// How far log readers ([`read_all`](eventcore::EventReader::read_all), subscriptions,
/// projections, sagas, relays) may read right now, from
/// [`PgEventStore::read_bound`]: every position below [`position`](Self::position) that will
/// ever be committed is committed. When a projection lags, this says why.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ReadBound {
    /// Readers return positions below this one.
    pub position: u64,
    /// The transaction readers wait for, when one is in flight: the oldest one that appends
    /// to this store's log (or has just finished). `None` when readers wait for nothing.
    pub held_by: Option<BoundHolder>,
}

/// A transaction holding log readers back ([`ReadBound::held_by`]).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct BoundHolder {
    /// Its transaction id (its events' positions start at `transaction_id << 20`).
    pub transaction_id: u64,
    /// The server process running it; `None` for a prepared transaction or one that finished
    /// a moment ago.
    pub pid: Option<i32>,
    /// How long it has been open.
    pub age: Option<Duration>,
    /// Its session's state (`active`, `idle in transaction`, ...), as `pg_stat_activity`
    /// reports it.
    pub state: Option<String>,
    /// Its session's current or last statement, where the server shows it to this role.
    pub query: Option<String>,
}

impl PgEventStore {
    /// The current read bound and the transaction holding it back (see [`ReadBound`]).
    ///
    /// Readers wait only for transactions that append to this store's log: a long
    /// transaction that writes anything else (in this database or another one of the
    /// cluster) does not hold them back.
    ///
    /// ```no_run
    /// # async fn demo(store: eventcore_postgres::PgEventStore) -> Result<(), eventcore::StoreError> {
    /// let bound = store.read_bound().await?;
    /// if let Some(holder) = bound.held_by {
    ///     println!("readers wait at {} for pid {:?} ({:?}, open {:?})",
    ///         bound.position, holder.pid, holder.state, holder.age);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the query fails.
    pub async fn read_bound(&self) -> Result<ReadBound, StoreError> {
        // The holder: the transaction (live or prepared) still holding the lock on its own
        // id, as the bound names it (32-bit in pg_locks: unique among ids in flight), and
        // holding this store's write gate (a bound at the snapshot's xmax may name the id of
        // a transaction that appends nothing, which holds nothing back).
        let sql = format!(
            "WITH b AS (SELECT {bound} AS bound),
                  h AS (SELECT l.pid FROM pg_locks l, b
                        WHERE l.locktype = 'transactionid' AND l.granted
                          AND l.mode = 'ExclusiveLock'
                          AND l.transactionid::TEXT::BIGINT
                              = (b.bound >> {INDEX_BITS}) & 4294967295
                          AND EXISTS (
                              SELECT 1 FROM pg_locks g
                              WHERE g.locktype = 'advisory' AND g.granted
                                AND g.classid = {gate}::OID AND g.objsubid = 2
                                AND g.virtualtransaction = l.virtualtransaction
                                AND g.database = (SELECT oid FROM pg_database
                                                  WHERE datname = current_database()))
                        LIMIT 1)
             SELECT b.bound, EXISTS (SELECT 1 FROM h), a.pid,
                    date_part('epoch', now() - a.xact_start), a.state, a.query
             FROM b LEFT JOIN h ON TRUE LEFT JOIN pg_stat_activity a ON a.pid = h.pid",
            bound = bound_call(&self.inner.schema, "eventcore_read_bound", ""),
            gate = self.inner.schema.gate(),
        );
        let row = sqlx::query(&sql)
            .fetch_one(&self.inner.pool)
            .await
            .map_err(StoreError::backend)?;
        let get = |e: sqlx::Error| StoreError::backend(e);
        let position: i64 = row.try_get(0).map_err(get)?;
        let held: bool = row.try_get(1).map_err(get)?;
        let age: Option<f64> = row.try_get(3).map_err(get)?;
        Ok(ReadBound {
            position: position as u64,
            held_by: held
                .then(|| -> Result<_, StoreError> {
                    Ok(BoundHolder {
                        transaction_id: (position as u64) >> INDEX_BITS,
                        pid: row.try_get(2).map_err(get)?,
                        age: age
                            .filter(|s| s.is_finite() && *s >= 0.0)
                            .map(Duration::from_secs_f64),
                        state: row.try_get(4).map_err(get)?,
                        query: row.try_get(5).map_err(get)?,
                    })
                })
                .transpose()?,
        })
    }
}
