//! The product view: each product's catalogue entry and stock (`product_view`), from the
//! inventory's events. It is also the order context's catalogue: orders are priced from it.

use std::collections::BTreeMap;

use eventcore::projection::Projection;
use eventcore::{BoxError, RecordedEvent};
use eventcore_sqlite::SqliteTransaction;
use eventcore_sqlite::sqlx::{self, SqlitePool};

use super::{decode, swap_tables};
use crate::inventory::InventoryEvent;
use crate::money::Money;
use crate::order::PriceLookup;

/// The live table.
pub const TABLE: &str = "product_view";

/// The table's schema, for `table`.
pub(crate) fn schema(table: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {table} (
             product_id  TEXT PRIMARY KEY,
             name        TEXT NOT NULL,
             description TEXT NOT NULL,
             price       TEXT NOT NULL,
             on_hand     INTEGER NOT NULL,
             reserved    INTEGER NOT NULL DEFAULT 0,
             sold        INTEGER NOT NULL DEFAULT 0,
             received    INTEGER NOT NULL
         )"
    )
}

/// Keeps a product table up to date.
#[derive(Clone, Debug)]
pub struct ProductView {
    table: &'static str,
}

impl ProductView {
    /// The live instance.
    pub fn live() -> Self {
        Self { table: TABLE }
    }

    /// A fresh instance for a rebuild (built beside the live table, then swapped in).
    pub fn fresh() -> Self {
        Self {
            table: "product_view_next",
        }
    }

    async fn add(
        &self,
        tx: &mut SqliteTransaction,
        items: &BTreeMap<String, u32>,
        columns: &str,
    ) -> Result<(), BoxError> {
        let table = self.table;
        for (product, quantity) in items {
            sqlx::query(&format!(
                "UPDATE {table} SET {columns} WHERE product_id = ?1"
            ))
            .bind(product)
            .bind(i64::from(*quantity))
            .execute(tx.connection())
            .await?;
        }
        Ok(())
    }
}

#[eventcore::async_trait]
impl Projection<SqliteTransaction> for ProductView {
    fn wants(&self, record: &RecordedEvent) -> bool {
        super::from_any(record, &["inventory"])
    }

    async fn apply(
        &mut self,
        tx: &mut SqliteTransaction,
        events: &[RecordedEvent],
    ) -> Result<(), BoxError> {
        let table = self.table;
        for record in events {
            let Some(event) = decode::<InventoryEvent>(record, "inventory")? else {
                continue;
            };
            use InventoryEvent as E;
            match &event {
                E::ProductAdded {
                    product_id,
                    name,
                    description,
                    price,
                    initial_stock,
                } => {
                    sqlx::query(&format!(
                        "INSERT INTO {table} (product_id, name, description, price, on_hand, received)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?5)
                         ON CONFLICT (product_id) DO NOTHING"
                    ))
                    .bind(product_id)
                    .bind(name)
                    .bind(description)
                    .bind(serde_json::to_string(price)?)
                    .bind(i64::from(*initial_stock))
                    .execute(tx.connection())
                    .await?;
                }
                E::PriceChanged { product_id, price } => {
                    sqlx::query(&format!(
                        "UPDATE {table} SET price = ?2 WHERE product_id = ?1"
                    ))
                    .bind(product_id)
                    .bind(serde_json::to_string(price)?)
                    .execute(tx.connection())
                    .await?;
                }
                E::StockAdded {
                    product_id,
                    quantity,
                } => {
                    let items = BTreeMap::from([(product_id.clone(), *quantity)]);
                    let set = "on_hand = on_hand + ?2, received = received + ?2";
                    self.add(tx, &items, set).await?;
                }
                E::StockReserved { items, .. } => {
                    self.add(tx, items, "reserved = reserved + ?2").await?;
                }
                E::StockReleased { items, .. } | E::ReservationExpired { items, .. } => {
                    self.add(tx, items, "reserved = MAX(reserved - ?2, 0)")
                        .await?;
                }
                E::ReservationConfirmed { items, .. } => {
                    let set = "reserved = MAX(reserved - ?2, 0), on_hand = MAX(on_hand - ?2, 0), \
                               sold = sold + ?2";
                    self.add(tx, items, set).await?;
                }
                E::SoldStockReturned { items, .. } => {
                    let set = "sold = MAX(sold - ?2, 0), on_hand = on_hand + ?2";
                    self.add(tx, items, set).await?;
                }
                E::StockReservationRejected { .. } => {}
            }
        }
        Ok(())
    }

    async fn prepare(&mut self, tx: &mut SqliteTransaction) -> Result<(), BoxError> {
        let table = self.table;
        super::recreate(tx, &[table.to_owned()], &[schema(table)]).await?;
        Ok(())
    }

    async fn promote(&mut self, tx: &mut SqliteTransaction) -> Result<(), BoxError> {
        swap_tables(tx, &[(self.table, TABLE)]).await?;
        self.table = TABLE;
        Ok(())
    }
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

type Row = (String, String, String, String, i64, i64, i64, i64);

fn row(
    (product_id, name, description, price, on_hand, reserved, sold, received): Row,
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

const COLUMNS: &str = "product_id, name, description, price, on_hand, reserved, sold, received";

/// Every product, by id (`limit` at most, from `offset`).
///
/// # Errors
/// Query failures.
pub async fn list(
    pool: &SqlitePool,
    limit: u32,
    offset: u32,
) -> Result<Vec<ProductRow>, sqlx::Error> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM {TABLE} ORDER BY product_id LIMIT ?1 OFFSET ?2"
    ))
    .bind(i64::from(limit))
    .bind(i64::from(offset))
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(row).collect()
}

/// One product.
///
/// # Errors
/// Query failures.
pub async fn get(pool: &SqlitePool, product_id: &str) -> Result<Option<ProductRow>, sqlx::Error> {
    let found: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM {TABLE} WHERE product_id = ?1"
    ))
    .bind(product_id)
    .fetch_optional(pool)
    .await?;
    found.map(row).transpose()
}

/// The current prices of `product_ids` (unknown ones are left out).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PriceList(BTreeMap<String, Money>);

impl PriceLookup for PriceList {
    fn price_of(&self, product_id: &str) -> Option<Money> {
        self.0.get(product_id).copied()
    }
}

/// The price list for `product_ids`, from the product view.
///
/// # Errors
/// Query failures.
pub async fn prices(pool: &SqlitePool, product_ids: &[&str]) -> Result<PriceList, sqlx::Error> {
    // One statement for the whole order: the ids as a JSON array, expanded by `json_each`.
    let ids = serde_json::to_string(product_ids).map_err(|e| sqlx::Error::Encode(e.into()))?;
    let rows: Vec<(String, String)> = sqlx::query_as(&format!(
        "SELECT product_id, price FROM {TABLE} WHERE product_id IN (SELECT value FROM json_each(?1))"
    ))
    .bind(ids)
    .fetch_all(pool)
    .await?;
    let mut prices = BTreeMap::new();
    for (product_id, price) in rows {
        let price = serde_json::from_str(&price).map_err(|e| sqlx::Error::Decode(e.into()))?;
        prices.insert(product_id, price);
    }
    Ok(PriceList(prices))
}
