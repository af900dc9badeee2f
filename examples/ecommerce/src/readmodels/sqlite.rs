//! The read models on SQLite: the embedded shop's, in its database file.

pub use eventcore_sqlite::sqlx;
use eventcore_sqlite::sqlx::SqlitePool;
use eventcore_sqlite::{SqliteEventStore, SqliteTransaction};

/// The store the read models' events and tables live in.
pub type Store = SqliteEventStore;
/// A transaction of that store (a projection's batch).
pub type Tx = SqliteTransaction;
/// The pool queries read from.
pub type Pool = SqlitePool;
/// The store's SQL dialect.
pub const DIALECT: super::Dialect = super::Dialect::Sqlite;

#[path = "analytics.rs"]
#[allow(
    clippy::duplicate_mod,
    reason = "compiled once per store, see `readmodels`"
)]
pub mod analytics;
#[path = "backend.rs"]
#[allow(
    clippy::duplicate_mod,
    reason = "compiled once per store, see `readmodels`"
)]
mod backend;
#[path = "orders.rs"]
#[allow(
    clippy::duplicate_mod,
    reason = "compiled once per store, see `readmodels`"
)]
pub mod orders;
#[path = "products.rs"]
#[allow(
    clippy::duplicate_mod,
    reason = "compiled once per store, see `readmodels`"
)]
pub mod products;

pub use backend::{create_tables, create_tables_of, dump, rebuild, runner, runner_of};
pub(crate) use backend::{recreate, swap_tables};
