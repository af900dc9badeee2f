//! The shop's read models: SQLite tables in the store's database, each kept by a projection
//! that commits its rows with its checkpoint (exactly once), and each rebuildable while the
//! shop runs (built beside the live table, then swapped in one transaction).
//!
//! - [`orders`]: the order view (filters, paging, newest first);
//! - [`products`]: the product view with available stock (also the order context's catalogue);
//! - [`analytics`]: orders per status, revenue per day, top products, per-customer totals;
//! - [`history`]: an order's events and its state as of a version (read from the log).

pub mod analytics;
pub mod history;
pub mod orders;
pub mod products;

use std::time::Duration;

use eventcore::projection::{
    ProjectionOptions, ProjectionRunner, RebuildReport, RunningProjections,
};
use eventcore::{BoxError, Event, RecordedEvent, StoreError, Upcasters};
use eventcore_sqlite::sqlx::{self, SqlitePool};
use eventcore_sqlite::{SqliteEventStore, SqliteTransaction};

/// The order view's projection (and checkpoint) name.
pub const ORDER_VIEW: &str = "order-view";
/// The product view's projection name.
pub const PRODUCT_VIEW: &str = "product-view";
/// The analytics projection name.
pub const ANALYTICS: &str = "analytics";
/// Every read model, by projection name.
pub const ALL: [&str; 3] = [ORDER_VIEW, PRODUCT_VIEW, ANALYTICS];

/// Why a read model cannot be rebuilt.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadModelError {
    /// No read model of that name.
    #[error("unknown read model {0}")]
    Unknown(String),
    /// The rebuild failed (the live model goes on).
    #[error("rebuild of {name} failed: {source}")]
    Rebuild {
        /// The read model.
        name: String,
        /// Why.
        #[source]
        source: eventcore::projection::ProjectionError,
    },
}

/// Creates every read-model table (idempotent: run at every start, before the runner).
///
/// # Errors
/// Store failures.
pub async fn create_tables(store: &SqliteEventStore) -> Result<(), StoreError> {
    let mut tx = store.begin().await?;
    let mut statements = vec![
        orders::schema(orders::TABLE),
        products::schema(products::TABLE),
    ];
    statements.extend(analytics::schema(""));
    for statement in statements.iter().flat_map(|s| s.split(';')) {
        sqlx::query(statement)
            .execute(tx.connection())
            .await
            .map_err(StoreError::backend)?;
    }
    tx.commit().await
}

/// A runner with every read model's projection, ready to start; each waits `linger` for more
/// events once woken (see `ProjectionOptions::linger`).
pub fn runner(store: SqliteEventStore, linger: Duration) -> ProjectionRunner<SqliteEventStore> {
    let options = ProjectionOptions::default()
        .with_batch_size(500)
        .with_linger(linger);
    ProjectionRunner::new(store)
        .add(ORDER_VIEW, orders::OrderView::live(), options)
        .add(PRODUCT_VIEW, products::ProductView::live(), options)
        .add(ANALYTICS, analytics::AnalyticsView::live(), options)
}

/// Rebuilds the read model `name` from the log while everything runs; returns when the new
/// model is in place (progress meanwhile in `running.status(name)`'s `rebuild`).
///
/// # Errors
/// [`ReadModelError::Unknown`], [`ReadModelError::Rebuild`].
pub async fn rebuild(
    running: &RunningProjections<SqliteEventStore>,
    name: &str,
) -> Result<RebuildReport, ReadModelError> {
    let result = match name {
        ORDER_VIEW => running.rebuild(name, orders::OrderView::fresh()).await,
        PRODUCT_VIEW => running.rebuild(name, products::ProductView::fresh()).await,
        ANALYTICS => {
            running
                .rebuild(name, analytics::AnalyticsView::fresh())
                .await
        }
        other => return Err(ReadModelError::Unknown(other.to_owned())),
    };
    result.map_err(|source| ReadModelError::Rebuild {
        name: name.to_owned(),
        source,
    })
}

/// Every row of the read model `name`'s tables, as text, in a stable order (to compare a model
/// with its rebuild).
///
/// # Errors
/// [`ReadModelError::Unknown`] is reported as a query error; query failures.
pub async fn dump(pool: &SqlitePool, name: &str) -> Result<Vec<String>, sqlx::Error> {
    let tables: Vec<&str> = match name {
        ORDER_VIEW => vec![orders::TABLE],
        PRODUCT_VIEW => vec![products::TABLE],
        ANALYTICS => analytics::TABLES.to_vec(),
        other => return Err(sqlx::Error::Protocol(format!("unknown read model {other}"))),
    };
    let mut rows = Vec::new();
    for table in tables {
        // Every column as JSON text, one row per line, ordered by the whole row.
        let columns: Vec<(String,)> = sqlx::query_as(&format!(
            "SELECT name FROM pragma_table_info('{table}') ORDER BY cid"
        ))
        .fetch_all(pool)
        .await?;
        let fields: Vec<String> = columns.iter().map(|(c,)| format!("'{c}', {c}")).collect();
        let select = format!(
            "SELECT json_object({}) AS r FROM {table} ORDER BY r",
            fields.join(", ")
        );
        let found: Vec<(String,)> = sqlx::query_as(&select).fetch_all(pool).await?;
        rows.extend(found.into_iter().map(|(r,)| format!("{table}: {r}")));
    }
    Ok(rows)
}

/// Whether `record` comes from a stream of one of `categories` (a read model's `wants`).
pub(crate) fn from_any(record: &RecordedEvent, categories: &[&str]) -> bool {
    categories.contains(&record.stream_id.category())
}

/// Decodes `record` as `E` if it comes from a stream of `category` and `E` has a variant of
/// its type; `None` for other events.
pub(crate) fn decode<E: Event + serde::de::DeserializeOwned>(
    record: &RecordedEvent,
    category: &str,
) -> Result<Option<E>, BoxError> {
    if record.stream_id.category() != category {
        return Ok(None);
    }
    match record.decode::<E>(&Upcasters::default()) {
        Ok(event) => Ok(Some(event)),
        Err(error) => Err(Box::new(error)),
    }
}

/// Drops `tables` and creates them again from `schema` (each entry one or more statements
/// separated by `;`): a rebuild's fresh tables, inside its first transaction.
pub(crate) async fn recreate(
    tx: &mut SqliteTransaction,
    tables: &[String],
    schema: &[String],
) -> Result<(), sqlx::Error> {
    for table in tables {
        sqlx::query(&format!("DROP TABLE IF EXISTS {table}"))
            .execute(tx.connection())
            .await?;
    }
    for statement in schema.iter().flat_map(|s| s.split(';')) {
        if !statement.trim().is_empty() {
            sqlx::query(statement).execute(tx.connection()).await?;
        }
    }
    Ok(())
}

/// Puts each `(fresh, live)` table in place of the live one (inside the promoting transaction).
pub(crate) async fn swap_tables(
    tx: &mut SqliteTransaction,
    pairs: &[(&str, &str)],
) -> Result<(), sqlx::Error> {
    for (fresh, live) in pairs {
        if fresh == live {
            continue;
        }
        sqlx::query(&format!("DROP TABLE IF EXISTS {live}"))
            .execute(tx.connection())
            .await?;
        sqlx::query(&format!("ALTER TABLE {fresh} RENAME TO {live}"))
            .execute(tx.connection())
            .await?;
    }
    Ok(())
}
