//! What the read models hold, as the shop reads it, whichever store keeps them; and the SQL
//! that differs between those stores.

use std::collections::BTreeMap;

use eventcore_sqlite::sqlx;

use crate::money::Money;
use crate::order::{Line, PriceLookup};

/// The SQL dialect of a read model's store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite (the embedded shop).
    Sqlite,
    /// PostgreSQL (the services).
    Postgres,
}

impl Dialect {
    /// The larger of two numbers: `MAX(a, b)` in SQLite, `GREATEST(a, b)` in PostgreSQL.
    pub(crate) fn greatest(self) -> &'static str {
        match self {
            Self::Sqlite => "MAX",
            Self::Postgres => "GREATEST",
        }
    }

    /// The rows of the text parameter `$n`, a JSON array of strings, as a one-column table of
    /// `value`s.
    pub(crate) fn json_values(self, n: usize) -> String {
        match self {
            Self::Sqlite => format!("SELECT value FROM json_each(${n})"),
            Self::Postgres => format!("SELECT value FROM json_array_elements_text(${n}::JSON)"),
        }
    }

    /// Every row of `table` as one JSON object text, `r`, ordered by it (`columns` from
    /// [`columns_of`](Self::columns_of); unused on PostgreSQL).
    pub(crate) fn rows_as_json(self, table: &str, columns: &[String]) -> String {
        match self {
            Self::Sqlite => {
                let fields: Vec<String> = columns.iter().map(|c| format!("'{c}', {c}")).collect();
                format!(
                    "SELECT json_object({}) AS r FROM {table} ORDER BY r",
                    fields.join(", ")
                )
            }
            Self::Postgres => {
                format!("SELECT row_to_json(t)::TEXT AS r FROM {table} t ORDER BY r")
            }
        }
    }

    /// The statement listing the column names of `table` in order (as `(name,)` rows), where
    /// [`rows_as_json`](Self::rows_as_json) needs them: SQLite's; PostgreSQL names them itself.
    pub(crate) fn columns_of(self, table: &str) -> Option<String> {
        match self {
            Self::Sqlite => Some(format!(
                "SELECT name FROM pragma_table_info('{table}') ORDER BY cid"
            )),
            Self::Postgres => None,
        }
    }
}

/// One order as the view shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderRow {
    /// The order.
    pub order_id: String,
    /// Who ordered.
    pub customer_id: String,
    /// `pending`, `confirmed`, `shipped`, `delivered` or `cancelled`.
    pub status: String,
    /// What, at the prices it was placed at.
    pub items: Vec<Line>,
    /// The total in cents.
    pub total_cents: i64,
    /// The total's currency.
    pub currency: String,
    /// `none`, `completed`, `failed` or `refunded`.
    pub payment_status: String,
    /// `none`, `reserved`, `rejected`, `released`, `confirmed`, `expired` or `returned`.
    pub inventory_status: String,
    /// Why it was cancelled.
    pub cancellation_reason: Option<String>,
    /// When it was placed (µs since the epoch).
    pub created_at: i64,
    /// When it last changed (µs since the epoch).
    pub updated_at: i64,
}

/// Which orders to list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrderFilter {
    /// Only this customer's.
    pub customer_id: Option<String>,
    /// Only in this status.
    pub status: Option<String>,
    /// Placed at or after (µs since the epoch).
    pub from: Option<i64>,
    /// Placed before (µs since the epoch).
    pub to: Option<i64>,
    /// At most this many, 1–100 (default 10; out-of-range values are clamped).
    pub limit: Option<u32>,
    /// Skip this many.
    pub offset: Option<u32>,
}

pub(crate) type OrderTuple = (
    String,
    String,
    String,
    String,
    i64,
    String,
    String,
    String,
    Option<String>,
    i64,
    i64,
);

pub(crate) const ORDER_COLUMNS: &str = "order_id, customer_id, status, items, total_cents, currency, payment_status, \
                       inventory_status, cancellation_reason, created_at, updated_at";

pub(crate) fn order_row(r: OrderTuple) -> Result<OrderRow, sqlx::Error> {
    let items = serde_json::from_str(&r.3).map_err(|e| sqlx::Error::Decode(e.into()))?;
    Ok(OrderRow {
        order_id: r.0,
        customer_id: r.1,
        status: r.2,
        items,
        total_cents: r.4,
        currency: r.5,
        payment_status: r.6,
        inventory_status: r.7,
        cancellation_reason: r.8,
        created_at: r.9,
        updated_at: r.10,
    })
}

/// One product as the view shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProductRow {
    /// Product id.
    pub product_id: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Unit price.
    pub price: Money,
    /// Units free to order: on hand − reserved.
    pub available: u32,
    /// Units held for orders.
    pub reserved: u32,
    /// Units sold.
    pub sold: u32,
    /// Every unit ever received (initial stock plus additions).
    pub received: u64,
}

pub(crate) type ProductTuple = (String, String, String, String, i64, i64, i64, i64);

pub(crate) fn product_row(
    (product_id, name, description, price, on_hand, reserved, sold, received): ProductTuple,
) -> Result<ProductRow, sqlx::Error> {
    let price = serde_json::from_str(&price).map_err(|e| sqlx::Error::Decode(e.into()))?;
    let clamp = |n: i64| u32::try_from(n.max(0)).unwrap_or(u32::MAX);
    Ok(ProductRow {
        product_id,
        name,
        description,
        price,
        available: clamp(on_hand - reserved),
        reserved: clamp(reserved),
        sold: clamp(sold),
        received: u64::try_from(received.max(0)).unwrap_or_default(),
    })
}

/// The current prices of `product_ids` (unknown ones are left out).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PriceList(BTreeMap<String, Money>);

impl PriceList {
    /// The list of `prices`.
    pub(crate) fn new(prices: BTreeMap<String, Money>) -> Self {
        Self(prices)
    }
}

impl PriceLookup for PriceList {
    fn price_of(&self, product_id: &str) -> Option<Money> {
        self.0.get(product_id).copied()
    }
}

/// The analytics as queried.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AnalyticsReport {
    /// Orders per current status.
    pub orders_per_status: Vec<(String, i64)>,
    /// Confirmed revenue (cents) per day (days since the epoch), oldest first.
    pub revenue_per_day: Vec<(i64, i64)>,
    /// The products with most units sold, most first.
    pub top_products: Vec<(String, i64)>,
    /// Per customer: orders placed and confirmed revenue (cents), by customer id.
    pub customers: Vec<(String, i64, i64)>,
}
