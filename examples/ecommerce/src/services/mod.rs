//! The distributed mode's services: each bounded context as a process of its own on
//! PostgreSQL, in a schema of its own, serving its part of the API (the gateway routes to it)
//! with the same handlers, edge concerns, `/health/*` and `/metrics` as the embedded shop.
//!
//! [`customer`], [`inventory`], [`payment`], [`notification`] and [`analytics`] are here; the
//! order service is the shop itself ([`crate::app::Shop::start`] on a `PgEventStore`, with
//! every other context remote: `ShopConfig::remote`), which sends the saga's stock and payment
//! steps to the inventory and payment services and its order events to the notification and
//! analytics services through a broker.

pub mod analytics;
mod app;
pub mod customer;
mod handlers;
mod hosted;
pub mod inventory;
pub mod notification;
pub mod payment;

use std::str::FromStr;

use eventcore::StoreError;
use eventcore_postgres::PgEventStore;
use eventcore_postgres::sqlx::Executor;
use eventcore_postgres::sqlx::postgres::{PgConnectOptions, PgPoolOptions};

/// Connects to PostgreSQL at `url` with a pool of `connections` and opens the store in
/// `schema` (created and migrated if new); the pool's `search_path` is `schema`.
///
/// # Errors
/// The database cannot be reached or migrated.
pub async fn open_store(
    url: &str,
    schema: &str,
    connections: u32,
) -> Result<PgEventStore, StoreError> {
    // Unqualified names (the read models' tables) are the service's own, in its schema.
    let search_path = format!("SET search_path TO \"{}\"", schema.replace('"', "\"\""));
    // Its connections show in `pg_stat_activity` under the service's schema.
    let options = PgConnectOptions::from_str(url)
        .map_err(StoreError::backend)?
        .application_name(&format!("ecommerce/{schema}"));
    let pool = PgPoolOptions::new()
        .max_connections(connections.max(1))
        // No `SELECT 1` before handing out an idle connection (a round trip on many
        // acquisitions under load): a connection that died fails its next statement instead,
        // which every runner, consumer and relay retries and an HTTP caller sees as a 503.
        .test_before_acquire(false)
        .after_connect(move |conn, _| {
            let search_path = search_path.clone();
            Box::pin(async move { conn.execute(search_path.as_str()).await.map(drop) })
        })
        .connect_with(options)
        .await
        .map_err(StoreError::backend)?;
    let store = PgEventStore::with_schema(pool, schema).await?;
    store.migrate().await?;
    Ok(store)
}
