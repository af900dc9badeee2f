//! The shop's read models: tables in the store's database, each kept by a projection that
//! commits its rows with its checkpoint (exactly once), and each rebuildable while the shop
//! runs (built beside the live table, then swapped in one transaction). One source serves
//! both stores: [`sqlite`] for the embedded shop, [`pg`] for the services, each compiling the
//! same modules over its own transaction and pool types (the SQL differs only where
//! [`Dialect`] says).
//!
//! - [`orders`]: the order view (filters, paging, newest first);
//! - [`products`]: the product view with available stock (also the order context's catalogue);
//! - [`analytics`]: orders per status, revenue per day, top products, per-customer totals;
//! - [`history`]: an order's events and its state as of a version (read from the log).

pub mod history;
pub mod pg;
pub mod rows;
pub mod sqlite;

pub use rows::Dialect;
// The embedded shop's (SQLite) read models, where the shop has always found them.
pub use sqlite::{analytics, create_tables, dump, orders, products, rebuild, runner};

use eventcore::{BoxError, Event, RecordedEvent, Upcasters};

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
