//! The order view (`order_view`): one row per order with its status, items, total, payment
//! and inventory status, cancellation reason and times, from order, payment and inventory
//! events. Queried with filters (customer, status, date range), paging, newest first.

use std::time::{SystemTime, UNIX_EPOCH};

use eventcore::projection::Projection;
use eventcore::{BoxError, RecordedEvent};

use super::{Pool, Tx, sqlx, swap_tables};
use crate::inventory::InventoryEvent;
use crate::order::OrderEvent;
use crate::payment::PaymentEvent;
use crate::readmodels::decode;
use crate::readmodels::rows::{ORDER_COLUMNS as COLUMNS, OrderTuple as Row, order_row as row};
pub use crate::readmodels::rows::{OrderFilter, OrderRow};

/// The live table.
pub const TABLE: &str = "order_view";

/// The table's schema, for `table`.
pub(crate) fn schema(table: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {table} (
             order_id            TEXT PRIMARY KEY,
             customer_id         TEXT NOT NULL,
             status              TEXT NOT NULL,
             items               TEXT NOT NULL,
             total_cents         BIGINT NOT NULL,
             currency            TEXT NOT NULL,
             payment_status      TEXT NOT NULL DEFAULT 'none',
             inventory_status    TEXT NOT NULL DEFAULT 'none',
             cancellation_reason TEXT,
             created_at          BIGINT NOT NULL,
             updated_at          BIGINT NOT NULL
         );
         CREATE INDEX IF NOT EXISTS {table}_by_customer ON {table} (customer_id, created_at);
         CREATE INDEX IF NOT EXISTS {table}_by_created ON {table} (created_at)"
    )
}

/// Microseconds since the epoch.
pub(crate) fn micros(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Keeps an order table up to date.
#[derive(Clone, Debug)]
pub struct OrderView {
    table: &'static str,
}

impl OrderView {
    /// The live instance.
    pub fn live() -> Self {
        Self { table: TABLE }
    }

    /// A fresh instance for a rebuild.
    pub fn fresh() -> Self {
        Self {
            table: "order_view_next",
        }
    }

    async fn set(
        &self,
        tx: &mut Tx,
        order_id: &str,
        column: &str,
        value: &str,
        at: i64,
    ) -> Result<(), sqlx::Error> {
        let table = self.table;
        sqlx::query(&format!(
            "UPDATE {table} SET {column} = $2, updated_at = $3 WHERE order_id = $1"
        ))
        .bind(order_id)
        .bind(value)
        .bind(at)
        .execute(tx.connection())
        .await
        .map(drop)
    }

    async fn apply_one(&self, tx: &mut Tx, record: &RecordedEvent) -> Result<(), BoxError> {
        let at = micros(record.recorded_at);
        if let Some(event) = decode::<OrderEvent>(record, "order")? {
            match event {
                OrderEvent::OrderPlaced {
                    order_id,
                    customer_id,
                    lines,
                    total,
                } => {
                    let table = self.table;
                    sqlx::query(&format!(
                        "INSERT INTO {table} (order_id, customer_id, status, items, total_cents,
                                              currency, created_at, updated_at)
                         VALUES ($1, $2, 'pending', $3, $4, $5, $6, $6)
                         ON CONFLICT (order_id) DO NOTHING"
                    ))
                    .bind(order_id)
                    .bind(customer_id)
                    .bind(serde_json::to_string(&lines)?)
                    .bind(total.cents)
                    .bind(total.currency.as_str())
                    .bind(at)
                    .execute(tx.connection())
                    .await?;
                }
                OrderEvent::OrderConfirmed { order_id, .. } => {
                    self.set(tx, &order_id, "status", "confirmed", at).await?;
                }
                OrderEvent::OrderCancelled {
                    order_id, reason, ..
                } => {
                    let table = self.table;
                    sqlx::query(&format!(
                        "UPDATE {table} SET status = 'cancelled', cancellation_reason = $2,
                                            updated_at = $3
                         WHERE order_id = $1"
                    ))
                    .bind(order_id)
                    .bind(reason)
                    .bind(at)
                    .execute(tx.connection())
                    .await?;
                }
                OrderEvent::OrderShipped { order_id, .. } => {
                    self.set(tx, &order_id, "status", "shipped", at).await?;
                }
                OrderEvent::OrderDelivered { order_id, .. } => {
                    self.set(tx, &order_id, "status", "delivered", at).await?;
                }
            }
        } else if let Some(event) = decode::<PaymentEvent>(record, "payment")? {
            let (order_id, status) = match &event {
                PaymentEvent::PaymentCompleted { order_id, .. } => (order_id, "completed"),
                PaymentEvent::PaymentFailed { order_id, .. } => (order_id, "failed"),
                PaymentEvent::PaymentRefunded { order_id, .. } => (order_id, "refunded"),
            };
            self.set(tx, order_id, "payment_status", status, at).await?;
        } else if let Some(event) = decode::<InventoryEvent>(record, "inventory")? {
            use InventoryEvent as E;
            let (order_id, status) = match &event {
                E::StockReserved { order_id, .. } => (order_id, "reserved"),
                E::StockReservationRejected { order_id, .. } => (order_id, "rejected"),
                E::StockReleased { order_id, .. } => (order_id, "released"),
                E::ReservationConfirmed { order_id, .. } => (order_id, "confirmed"),
                E::ReservationExpired { order_id, .. } => (order_id, "expired"),
                E::SoldStockReturned { order_id, .. } => (order_id, "returned"),
                _ => return Ok(()),
            };
            self.set(tx, order_id, "inventory_status", status, at)
                .await?;
        }
        Ok(())
    }
}

#[eventcore::async_trait]
impl Projection<Tx> for OrderView {
    fn wants(&self, record: &RecordedEvent) -> bool {
        crate::readmodels::from_any(record, &["order", "payment", "inventory"])
    }

    async fn apply(&mut self, tx: &mut Tx, events: &[RecordedEvent]) -> Result<(), BoxError> {
        for record in events {
            self.apply_one(tx, record).await?;
        }
        Ok(())
    }

    async fn prepare(&mut self, tx: &mut Tx) -> Result<(), BoxError> {
        let table = self.table;
        super::recreate(tx, &[table.to_owned()], &[schema(table)]).await?;
        Ok(())
    }

    async fn promote(&mut self, tx: &mut Tx) -> Result<(), BoxError> {
        swap_tables(tx, &[(self.table, TABLE)]).await?;
        self.table = TABLE;
        Ok(())
    }
}

/// One order.
///
/// # Errors
/// Query failures.
pub async fn get(pool: &Pool, order_id: &str) -> Result<Option<OrderRow>, sqlx::Error> {
    let found: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM {TABLE} WHERE order_id = $1"
    ))
    .bind(order_id)
    .fetch_optional(pool)
    .await?;
    found.map(row).transpose()
}

/// The orders `filter` selects, newest first.
///
/// # Errors
/// Query failures.
pub async fn list(pool: &Pool, filter: &OrderFilter) -> Result<Vec<OrderRow>, sqlx::Error> {
    let limit = filter.limit.unwrap_or(10).clamp(1, 100);
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM {TABLE}
         WHERE ($1 IS NULL OR customer_id = $1) AND ($2 IS NULL OR status = $2)
           AND ($3 IS NULL OR created_at >= $3) AND ($4 IS NULL OR created_at < $4)
         ORDER BY created_at DESC, order_id DESC LIMIT $5 OFFSET $6"
    ))
    .bind(filter.customer_id.as_deref())
    .bind(filter.status.as_deref())
    .bind(filter.from)
    .bind(filter.to)
    .bind(i64::from(limit))
    .bind(i64::from(filter.offset.unwrap_or(0)))
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(row).collect()
}

/// Orders per status, straight from the view (for the load generator's checks).
///
/// # Errors
/// Query failures.
pub async fn all(pool: &Pool) -> Result<Vec<OrderRow>, sqlx::Error> {
    let rows: Vec<Row> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM {TABLE} ORDER BY order_id"))
            .fetch_all(pool)
            .await?;
    rows.into_iter().map(row).collect()
}
