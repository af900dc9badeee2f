//! The read models on PostgreSQL: a service's, in its schema (the pool's `search_path`).

pub use eventcore_postgres::sqlx;
use eventcore_postgres::sqlx::PgPool;
use eventcore_postgres::{PgEventStore, PgTransaction};

/// The store the read models' events and tables live in.
pub type Store = PgEventStore;
/// A transaction of that store (a projection's batch).
pub type Tx = PgTransaction;
/// The pool queries read from.
pub type Pool = PgPool;
/// The store's SQL dialect.
pub const DIALECT: super::Dialect = super::Dialect::Postgres;

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
