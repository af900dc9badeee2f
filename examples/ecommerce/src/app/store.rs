//! [`ShopStore`]: what the order context needs of its store beyond the library's traits (its
//! read models' tables, runner and queries, its snapshots), for the embedded default on SQLite
//! and for the order service on PostgreSQL.

use std::sync::Arc;
use std::time::Duration;

use eventcore::projection::{ProjectionRunner, RebuildReport, RunningProjections};
use eventcore::{EventStore, RuntimeStore, SnapshotStore, StoreError};
use eventcore_postgres::PgEventStore;
use eventcore_sqlite::SqliteEventStore;

use crate::readmodels::rows::{AnalyticsReport, OrderFilter, OrderRow, PriceList, ProductRow};
use crate::readmodels::{self, ReadModelError};

/// A query of a read model failed.
pub type QueryError = eventcore_sqlite::sqlx::Error;

/// A store the shop's order context runs on: [`SqliteEventStore`] (the embedded default) or
/// [`PgEventStore`] (the order service). Each read model compiles for both
/// ([`readmodels::sqlite`], [`readmodels::pg`]); this trait picks the one of the store.
#[eventcore::async_trait]
pub trait ShopStore: RuntimeStore + EventStore + Send + Sync + 'static {
    /// The database's name, for health reports.
    const NAME: &'static str;

    /// A snapshot store in the same database.
    fn snapshot_store(&self) -> Arc<dyn SnapshotStore>;

    /// Creates the tables of the read models `names` (if missing).
    async fn create_read_models(&self, names: &[&str]) -> Result<(), StoreError>;

    /// A projection runner with the read models `names`.
    fn read_model_runner(&self, linger: Duration, names: &[&str]) -> ProjectionRunner<Self>;

    /// Rebuilds the read model `name` while everything runs.
    async fn rebuild_read_model(
        running: &RunningProjections<Self>,
        name: &str,
    ) -> Result<RebuildReport, ReadModelError>;

    /// One order's row of the order view.
    async fn order_row(&self, order_id: &str) -> Result<Option<OrderRow>, QueryError>;

    /// The order view's rows that `filter` selects.
    async fn order_rows(&self, filter: &OrderFilter) -> Result<Vec<OrderRow>, QueryError>;

    /// A page of the product view.
    async fn product_rows(&self, limit: u32, offset: u32) -> Result<Vec<ProductRow>, QueryError>;

    /// One product's row of the product view.
    async fn product_row(&self, product_id: &str) -> Result<Option<ProductRow>, QueryError>;

    /// The current prices of `product_ids` (those the product view knows).
    async fn prices(&self, product_ids: &[&str]) -> Result<PriceList, QueryError>;

    /// The analytics report with the `top` best-selling products.
    async fn analytics_report(&self, top: u32) -> Result<AnalyticsReport, QueryError>;
}

/// Implements [`ShopStore`] for `$store` with the read models of module `$models`, whose
/// queries read from `$pool`.
macro_rules! shop_store {
    ($store:ty, $name:literal, $models:ident, $pool:ident) => {
        #[eventcore::async_trait]
        impl ShopStore for $store {
            const NAME: &'static str = $name;

            fn snapshot_store(&self) -> Arc<dyn SnapshotStore> {
                Arc::new(self.snapshots())
            }

            async fn create_read_models(&self, names: &[&str]) -> Result<(), StoreError> {
                readmodels::$models::create_tables_of(self, names).await
            }

            fn read_model_runner(
                &self,
                linger: Duration,
                names: &[&str],
            ) -> ProjectionRunner<Self> {
                readmodels::$models::runner_of(self.clone(), linger, names)
            }

            async fn rebuild_read_model(
                running: &RunningProjections<Self>,
                name: &str,
            ) -> Result<RebuildReport, ReadModelError> {
                readmodels::$models::rebuild(running, name).await
            }

            async fn order_row(&self, order_id: &str) -> Result<Option<OrderRow>, QueryError> {
                readmodels::$models::orders::get(self.$pool(), order_id).await
            }

            async fn order_rows(&self, filter: &OrderFilter) -> Result<Vec<OrderRow>, QueryError> {
                readmodels::$models::orders::list(self.$pool(), filter).await
            }

            async fn product_rows(
                &self,
                limit: u32,
                offset: u32,
            ) -> Result<Vec<ProductRow>, QueryError> {
                readmodels::$models::products::list(self.$pool(), limit, offset).await
            }

            async fn product_row(
                &self,
                product_id: &str,
            ) -> Result<Option<ProductRow>, QueryError> {
                readmodels::$models::products::get(self.$pool(), product_id).await
            }

            async fn prices(&self, product_ids: &[&str]) -> Result<PriceList, QueryError> {
                readmodels::$models::products::prices(self.$pool(), product_ids).await
            }

            async fn analytics_report(&self, top: u32) -> Result<AnalyticsReport, QueryError> {
                readmodels::$models::analytics::report(self.$pool(), top).await
            }
        }
    };
}

shop_store!(SqliteEventStore, "SQLite", sqlite, reader_pool);
shop_store!(PgEventStore, "PostgreSQL", pg, pool);
