//! The product view: each product's catalogue entry and stock (`product_view`), from the
//! inventory's events. It is also the order context's catalogue: orders are priced from it.

use std::collections::BTreeMap;

use eventcore::projection::Projection;
use eventcore::{BoxError, RecordedEvent};

use super::{DIALECT, Pool, Tx, sqlx, swap_tables};
use crate::inventory::InventoryEvent;
use crate::readmodels::decode;
pub use crate::readmodels::rows::{PriceList, ProductRow};
use crate::readmodels::rows::{ProductTuple as Row, product_row as row};

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
             on_hand     BIGINT NOT NULL,
             reserved    BIGINT NOT NULL DEFAULT 0,
             sold        BIGINT NOT NULL DEFAULT 0,
             received    BIGINT NOT NULL
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
        tx: &mut Tx,
        items: &BTreeMap<String, u32>,
        columns: &str,
    ) -> Result<(), BoxError> {
        let table = self.table;
        let columns = columns.replace("{greatest}", DIALECT.greatest());
        for (product, quantity) in items {
            sqlx::query(&format!(
                "UPDATE {table} SET {columns} WHERE product_id = $1"
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
impl Projection<Tx> for ProductView {
    fn wants(&self, record: &RecordedEvent) -> bool {
        crate::readmodels::from_any(record, &["inventory"])
    }

    async fn apply(&mut self, tx: &mut Tx, events: &[RecordedEvent]) -> Result<(), BoxError> {
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
                         VALUES ($1, $2, $3, $4, $5, $5)
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
                        "UPDATE {table} SET price = $2 WHERE product_id = $1"
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
                    let set = "on_hand = on_hand + $2, received = received + $2";
                    self.add(tx, &items, set).await?;
                }
                E::StockReserved { items, .. } => {
                    self.add(tx, items, "reserved = reserved + $2").await?;
                }
                E::StockReleased { items, .. } | E::ReservationExpired { items, .. } => {
                    self.add(tx, items, "reserved = {greatest}(reserved - $2, 0)")
                        .await?;
                }
                E::ReservationConfirmed { items, .. } => {
                    let set = "reserved = {greatest}(reserved - $2, 0), on_hand = {greatest}(on_hand - $2, 0), \
                               sold = sold + $2";
                    self.add(tx, items, set).await?;
                }
                E::SoldStockReturned { items, .. } => {
                    let set = "sold = {greatest}(sold - $2, 0), on_hand = on_hand + $2";
                    self.add(tx, items, set).await?;
                }
                E::StockReservationRejected { .. } => {}
            }
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

const COLUMNS: &str = "product_id, name, description, price, on_hand, reserved, sold, received";

/// Every product, by id (`limit` at most, from `offset`).
///
/// # Errors
/// Query failures.
pub async fn list(pool: &Pool, limit: u32, offset: u32) -> Result<Vec<ProductRow>, sqlx::Error> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM {TABLE} ORDER BY product_id LIMIT $1 OFFSET $2"
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
pub async fn get(pool: &Pool, product_id: &str) -> Result<Option<ProductRow>, sqlx::Error> {
    let found: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM {TABLE} WHERE product_id = $1"
    ))
    .bind(product_id)
    .fetch_optional(pool)
    .await?;
    found.map(row).transpose()
}

/// The price list for `product_ids`, from the product view.
///
/// # Errors
/// Query failures.
pub async fn prices(pool: &Pool, product_ids: &[&str]) -> Result<PriceList, sqlx::Error> {
    // One statement for the whole order: the ids as a JSON array, expanded in SQL.
    let ids = serde_json::to_string(product_ids).map_err(|e| sqlx::Error::Encode(e.into()))?;
    let rows: Vec<(String, String)> = sqlx::query_as(&format!(
        "SELECT product_id, price FROM {TABLE} WHERE product_id IN ({})",
        DIALECT.json_values(1)
    ))
    .bind(ids)
    .fetch_all(pool)
    .await?;
    let mut prices = BTreeMap::new();
    for (product_id, price) in rows {
        let price = serde_json::from_str(&price).map_err(|e| sqlx::Error::Decode(e.into()))?;
        prices.insert(product_id, price);
    }
    Ok(PriceList::new(prices))
}
