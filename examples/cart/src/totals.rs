//! A read model in its own SQL table, `cart_totals`, updated in the same transaction as the
//! projection's checkpoint (so exactly once, even across crashes).

// guide:start table
use eventcore::projection::{AggregateProjection, EventOf};
use eventcore::{BoxError, Envelope};
use eventcore_sqlite::sqlx::{self, SqlitePool};
use eventcore_sqlite::{SqliteEventStore, SqliteTransaction};

use crate::cart::{Cart, CartEvent};

/// Creates the read model's table (idempotent: run it at every start, before the runner).
pub async fn create_table(store: &SqliteEventStore) -> Result<(), eventcore::StoreError> {
    let mut tx = store.begin().await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS cart_totals (
             cart_id     TEXT PRIMARY KEY,
             items       INTEGER NOT NULL,
             total_cents INTEGER NOT NULL,
             checked_out INTEGER NOT NULL DEFAULT 0
         )",
    )
    .execute(tx.connection())
    .await
    .map_err(eventcore::StoreError::backend)?;
    tx.commit().await
}
// guide:end table

// guide:start projection
/// Keeps `cart_totals` up to date from the carts' events.
pub struct CartTotals;

#[eventcore::async_trait]
impl AggregateProjection<SqliteTransaction> for CartTotals {
    type Aggregate = Cart; // only `cart-…` streams reach `apply`, decoded

    async fn apply(
        &mut self,
        tx: &mut SqliteTransaction,
        event: Envelope<EventOf<Cart>>,
    ) -> Result<(), BoxError> {
        let cart = event.stream_id.entity_id().unwrap_or_default();
        let (items, cents, checked_out): (i64, i64, bool) = match event.event {
            CartEvent::ItemAdded {
                quantity,
                unit_cents,
                ..
            } => (
                i64::from(quantity),
                (u64::from(quantity) * unit_cents) as i64,
                false,
            ),
            CartEvent::ItemRemoved {
                quantity,
                unit_cents,
                ..
            } => (
                -i64::from(quantity),
                -((u64::from(quantity) * unit_cents) as i64),
                false,
            ),
            CartEvent::CheckedOut { .. } => (0, 0, true),
        };
        sqlx::query(
            "INSERT INTO cart_totals (cart_id, items, total_cents, checked_out)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (cart_id) DO UPDATE SET
                 items = items + ?2,
                 total_cents = total_cents + ?3,
                 checked_out = checked_out OR ?4",
        )
        .bind(cart)
        .bind(items)
        .bind(cents)
        .bind(checked_out)
        .execute(tx.connection())
        .await?;
        Ok(())
    }
}
// guide:end projection

// guide:start query
/// One row of the read model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartTotal {
    pub cart_id: String,
    pub items: i64,
    pub total_cents: i64,
    pub checked_out: bool,
}

/// Reads the model (through the store's read-only pool: it never waits for writers).
pub async fn cart_totals(pool: &SqlitePool) -> Result<Vec<CartTotal>, sqlx::Error> {
    let rows: Vec<(String, i64, i64, bool)> = sqlx::query_as(
        "SELECT cart_id, items, total_cents, checked_out FROM cart_totals ORDER BY cart_id",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(cart_id, items, total_cents, checked_out)| CartTotal {
            cart_id,
            items,
            total_cents,
            checked_out,
        })
        .collect())
}
// guide:end query
