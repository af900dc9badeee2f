//! The runtime's figures for `/metrics`, counted in the store's own tables when scraped.
//!
//! eventcore has no counting API for events per type or sagas per status (a library gap),
//! so on the embedded SQLite store these are `GROUP BY` queries on its tables through the
//! read-only pool: exact, and cheap at the shop's scale.

use eventcore_sqlite::sqlx;

use super::metrics::RuntimeFigures;
use crate::app::{Shop, ShopError};

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or_default()
}

/// Sagas per status, events per type, projection lag and dead letters, now.
///
/// # Errors
/// [`ShopError::Unavailable`] if the store cannot be queried.
pub(crate) async fn figures(shop: &Shop) -> Result<RuntimeFigures, ShopError> {
    let pool = shop.store().reader_pool();
    let sagas: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, COUNT(*) FROM eventcore_sagas GROUP BY status")
            .fetch_all(pool)
            .await?;
    let events: Vec<(String, i64)> =
        sqlx::query_as("SELECT event_type, COUNT(*) FROM eventcore_events GROUP BY event_type")
            .fetch_all(pool)
            .await?;
    let (dead_letters,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM eventcore_dead_letters")
        .fetch_one(pool)
        .await?;
    Ok(RuntimeFigures {
        sagas: sagas.into_iter().map(|(s, n)| (s, count(n))).collect(),
        events: events.into_iter().map(|(t, n)| (t, count(n))).collect(),
        projection_lag: shop
            .read_models()
            .iter()
            .map(|status| (status.name.clone(), status.lag()))
            .collect(),
        // Embedded mode dispatches in-process: there is no relay to lag.
        relay_lag: 0,
        dead_letters: count(dead_letters),
    })
}
