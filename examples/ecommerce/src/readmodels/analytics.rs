//! Analytics (admin): orders per status, revenue per day, top products and per-customer
//! totals, in four tables kept by one projection. The arithmetic is that of the pure fold
//! [`crate::analytics::Analytics`] (revenue and units count at confirmation and are taken back
//! when a confirmed order is cancelled), done in SQL so the model survives restarts; the
//! tests check the two agree.

use eventcore::projection::Projection;
use eventcore::{BoxError, RecordedEvent};

use super::{DIALECT, Pool, Tx, sqlx, swap_tables};
use crate::analytics::day_of;
use crate::order::OrderEvent;
use crate::readmodels::decode;
pub use crate::readmodels::rows::AnalyticsReport;

/// The live tables.
pub const TABLES: [&str; 4] = [
    "analytics_orders",
    "analytics_revenue",
    "analytics_units",
    "analytics_customers",
];

/// The schema of the tables, each name followed by `suffix`.
pub(crate) fn schema(suffix: &str) -> Vec<String> {
    vec![
        format!(
            "CREATE TABLE IF NOT EXISTS analytics_orders{suffix} (
                 order_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, status TEXT NOT NULL,
                 total_cents BIGINT NOT NULL, lines TEXT NOT NULL)"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS analytics_revenue{suffix} (
                 day BIGINT PRIMARY KEY, cents BIGINT NOT NULL)"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS analytics_units{suffix} (
                 product_id TEXT PRIMARY KEY, units BIGINT NOT NULL)"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS analytics_customers{suffix} (
                 customer_id TEXT PRIMARY KEY, orders BIGINT NOT NULL,
                 revenue_cents BIGINT NOT NULL)"
        ),
    ]
}

/// Keeps the analytics tables up to date.
#[derive(Clone, Debug)]
pub struct AnalyticsView {
    suffix: &'static str,
}

type Facts = (String, String, i64, String);

impl AnalyticsView {
    /// The live instance.
    pub fn live() -> Self {
        Self { suffix: "" }
    }

    /// A fresh instance for a rebuild.
    pub fn fresh() -> Self {
        Self { suffix: "_next" }
    }

    async fn facts(&self, tx: &mut Tx, order_id: &str) -> Result<Option<Facts>, sqlx::Error> {
        let s = self.suffix;
        sqlx::query_as(&format!(
            "SELECT customer_id, status, total_cents, lines FROM analytics_orders{s} WHERE order_id = $1"
        ))
        .bind(order_id)
        .fetch_optional(tx.connection())
        .await
    }

    async fn exec(&self, tx: &mut Tx, sql: &str, binds: (&str, i64)) -> Result<(), sqlx::Error> {
        let sql = sql
            .replace("{s}", self.suffix)
            .replace("{greatest}", DIALECT.greatest());
        sqlx::query(&sql)
            .bind(binds.0)
            .bind(binds.1)
            .execute(tx.connection())
            .await
            .map(drop)
    }

    /// Adds `sign` × the order's revenue (on `day`) and units.
    async fn count_sale(
        &self,
        tx: &mut Tx,
        facts: &Facts,
        day: i64,
        sign: i64,
    ) -> Result<(), BoxError> {
        let (customer, _, total, lines) = facts;
        let revenue =
            "INSERT INTO analytics_revenue{s} (day, cents) VALUES (CAST($1 AS BIGINT), $2)
                       ON CONFLICT (day) DO UPDATE SET cents = analytics_revenue{s}.cents + $2";
        self.exec(tx, revenue, (&day.to_string(), sign * total))
            .await?;
        let customers = "UPDATE analytics_customers{s} SET revenue_cents = revenue_cents + $2
                         WHERE customer_id = $1";
        self.exec(tx, customers, (customer, sign * total)).await?;
        let lines: Vec<(String, u32)> = serde_json::from_str(lines)?;
        for (product, quantity) in lines {
            let units =
                "INSERT INTO analytics_units{s} (product_id, units) VALUES ($1, {greatest}($2, 0))
                         ON CONFLICT (product_id) DO UPDATE SET units = {greatest}(analytics_units{s}.units + $2, 0)";
            self.exec(tx, units, (&product, sign * i64::from(quantity)))
                .await?;
        }
        Ok(())
    }

    /// Sets the order's status; the facts as they were before, for a change that counts them.
    async fn set_status(
        &self,
        tx: &mut Tx,
        order_id: &str,
        status: &str,
    ) -> Result<Option<Facts>, BoxError> {
        let Some(facts) = self.facts(tx, order_id).await? else {
            return Ok(None);
        };
        self.mark(tx, order_id, status).await?;
        Ok(Some(facts))
    }

    /// Sets the order's status (a no-op for an unknown order).
    async fn mark(&self, tx: &mut Tx, order_id: &str, status: &str) -> Result<(), sqlx::Error> {
        let sql = "UPDATE analytics_orders{s} SET status = $2 WHERE order_id = $1";
        sqlx::query(&sql.replace("{s}", self.suffix))
            .bind(order_id)
            .bind(status)
            .execute(tx.connection())
            .await
            .map(drop)
    }

    async fn apply_one(&self, tx: &mut Tx, record: &RecordedEvent) -> Result<(), BoxError> {
        let Some(event) = decode::<OrderEvent>(record, "order")? else {
            return Ok(());
        };
        let day = day_of(record.recorded_at);
        match event {
            OrderEvent::OrderPlaced {
                order_id,
                customer_id,
                lines,
                total,
            } => {
                let lines: Vec<(String, u32)> = lines
                    .into_iter()
                    .map(|l| (l.product_id, l.quantity))
                    .collect();
                let s = self.suffix;
                let inserted = sqlx::query(&format!(
                    "INSERT INTO analytics_orders{s} (order_id, customer_id, status, total_cents, lines)
                     VALUES ($1, $2, 'pending', $3, $4) ON CONFLICT (order_id) DO NOTHING"
                ))
                .bind(&order_id)
                .bind(&customer_id)
                .bind(total.cents)
                .bind(serde_json::to_string(&lines)?)
                .execute(tx.connection())
                .await?;
                if inserted.rows_affected() > 0 {
                    let sql =
                        "INSERT INTO analytics_customers{s} (customer_id, orders, revenue_cents)
                               VALUES ($1, $2, 0)
                               ON CONFLICT (customer_id) DO UPDATE SET orders = analytics_customers{s}.orders + $2";
                    self.exec(tx, sql, (&customer_id, 1)).await?;
                }
            }
            OrderEvent::OrderConfirmed { order_id, .. } => {
                if let Some(facts) = self.set_status(tx, &order_id, "confirmed").await? {
                    self.count_sale(tx, &facts, day, 1).await?;
                }
            }
            OrderEvent::OrderCancelled { order_id, .. } => {
                if let Some(facts) = self.set_status(tx, &order_id, "cancelled").await?
                    && facts.1 == "confirmed"
                {
                    self.count_sale(tx, &facts, day, -1).await?;
                }
            }
            OrderEvent::OrderShipped { order_id, .. } => {
                self.mark(tx, &order_id, "shipped").await?;
            }
            OrderEvent::OrderDelivered { order_id, .. } => {
                self.mark(tx, &order_id, "delivered").await?;
            }
        }
        Ok(())
    }
}

#[eventcore::async_trait]
impl Projection<Tx> for AnalyticsView {
    fn wants(&self, record: &RecordedEvent) -> bool {
        crate::readmodels::from_any(record, &["order"])
    }

    async fn apply(&mut self, tx: &mut Tx, events: &[RecordedEvent]) -> Result<(), BoxError> {
        for record in events {
            self.apply_one(tx, record).await?;
        }
        Ok(())
    }

    async fn prepare(&mut self, tx: &mut Tx) -> Result<(), BoxError> {
        let tables: Vec<String> = TABLES
            .iter()
            .map(|t| format!("{t}{}", self.suffix))
            .collect();
        super::recreate(tx, &tables, &schema(self.suffix)).await?;
        Ok(())
    }

    async fn promote(&mut self, tx: &mut Tx) -> Result<(), BoxError> {
        let fresh: Vec<String> = TABLES
            .iter()
            .map(|t| format!("{t}{}", self.suffix))
            .collect();
        let pairs: Vec<(&str, &str)> = fresh.iter().map(String::as_str).zip(TABLES).collect();
        swap_tables(tx, &pairs).await?;
        self.suffix = "";
        Ok(())
    }
}

/// The analytics, with the `top` best-selling products.
///
/// # Errors
/// Query failures.
pub async fn report(pool: &Pool, top: u32) -> Result<AnalyticsReport, sqlx::Error> {
    Ok(AnalyticsReport {
        orders_per_status: sqlx::query_as(
            "SELECT status, COUNT(*) FROM analytics_orders GROUP BY status ORDER BY status",
        )
        .fetch_all(pool)
        .await?,
        revenue_per_day: sqlx::query_as("SELECT day, cents FROM analytics_revenue ORDER BY day")
            .fetch_all(pool)
            .await?,
        top_products: sqlx::query_as(
            "SELECT product_id, units FROM analytics_units WHERE units > 0
             ORDER BY units DESC, product_id LIMIT $1",
        )
        .bind(i64::from(top))
        .fetch_all(pool)
        .await?,
        customers: sqlx::query_as(
            "SELECT customer_id, orders, revenue_cents FROM analytics_customers ORDER BY customer_id",
        )
        .fetch_all(pool)
        .await?,
    })
}
