//! The inventory service: the warehouse as its own process on PostgreSQL, in a schema of its
//! own. It seeds the catalogue (once), applies the order saga's stock requests from the
//! broker ([`StockDesk`]), expires reservations ([`ReservationExpiry`], a saga whose steps run
//! in the transaction that records them), keeps the product view, and relays the warehouse's
//! events (the saga's replies, and the catalogue the order context prices from). It serves the
//! embedded shop's catalogue and ledger handlers (`/api/v1/products`, `/api/v1/inventory`),
//! the product view's status and rebuild, `/health/*` and `/metrics`.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::FromRef;
use eventcore::saga::{LocalBus, SagaHandle, SagaManager};
use eventcore::{Aggregate, EventReader, Repository};
use eventcore_postgres::PgEventStore;

use super::handlers::{self, BrokerService};
use super::hosted::{self, HostedModel, HostsModel};
use crate::app::{ShopError, Warehouse};
use crate::http::ops_views::ReadModelView;
use crate::http::{HttpConfig, WarehouseApi, warehouse_routes};
use crate::inventory::requests::{self, StockDesk};
use crate::inventory::{Expirer, Inventory, ReservationExpiry};
use crate::messaging::{Broker, BrokerError, Consumer};
use crate::readmodels::rows::ProductRow;
use crate::readmodels::{PRODUCT_VIEW, pg};

/// The relay of the warehouse's events.
pub const RELAY: &str = "relay:inventory";
/// The consumer (queue or group, and inbox) of stock requests.
pub const REQUESTS: &str = "inventory.requests";

/// How long the product view waits for more events once woken.
const LINGER: Duration = Duration::from_millis(5);

type Expiry = SagaHandle<ReservationExpiry, PgEventStore, LocalBus<PgEventStore, Expirer>>;

/// A running inventory service.
#[derive(Debug)]
pub struct InventoryService {
    store: PgEventStore,
    inventory: Repository<Inventory>,
    requests: Consumer,
    /// The product view, and the relay beside it.
    model: Arc<HostedModel>,
    expiry: tokio::sync::Mutex<Option<Expiry>>,
}

/// Why the service cannot start.
fn failed(broker: &Broker, what: &str, error: &dyn std::fmt::Display) -> BrokerError {
    BrokerError {
        broker: broker.name(),
        reason: format!("{what}: {error}"),
    }
}

impl InventoryService {
    /// Seeds the catalogue (once), creates the product view's table, starts the relay, the
    /// product view, the expiry saga (reservations lapse `expire_after` after they are made)
    /// and the consumer of stock requests on `broker`.
    ///
    /// # Errors
    /// The store or the broker cannot be reached, or a runtime cannot start.
    pub async fn start(
        store: PgEventStore,
        broker: &Broker,
        expire_after: Duration,
    ) -> Result<Self, BrokerError> {
        let inventory = crate::app::inventory_repository(&store);
        crate::app::seed(&inventory)
            .await
            .map_err(|e| failed(broker, "the catalogue cannot be seeded", &e))?;
        pg::create_tables_of(&store, &[PRODUCT_VIEW])
            .await
            .map_err(|e| failed(broker, "the product view cannot be created", &e))?;
        let runner = pg::runner_of(store.clone(), LINGER, &[PRODUCT_VIEW]);
        let runner = broker.add_relay(runner, RELAY, &[Inventory::TYPE]).await?;
        let projections = runner
            .start()
            .map_err(|e| failed(broker, "the relay cannot start", &e))?;
        let expiry = ReservationExpiry {
            after: expire_after,
        };
        let bus = LocalBus::new(store.clone(), Expirer::new(inventory.clone()));
        let expiry = SagaManager::new(expiry, store.clone(), bus)
            .start()
            .map_err(|e| failed(broker, "the expiry saga cannot start", &e))?;
        let desk = StockDesk::new(inventory.clone());
        let requests = broker
            .consume(store.clone(), REQUESTS, &[requests::CATEGORY], desk)
            .await?;
        Ok(Self {
            store,
            inventory,
            requests,
            model: Arc::new(HostedModel::new(PRODUCT_VIEW, projections)),
            expiry: tokio::sync::Mutex::new(Some(expiry)),
        })
    }

    /// The service's store.
    pub fn store(&self) -> &PgEventStore {
        &self.store
    }

    /// The consumer of stock requests.
    pub fn requests(&self) -> &Consumer {
        &self.requests
    }

    /// The product view's status, with the last rebuild started through the API.
    pub async fn read_model(&self) -> Option<ReadModelView> {
        self.model.view().await
    }

    /// Stops the consumer (after the messages in hand), the expiry saga, then the relay and
    /// the product view; stopping again does nothing.
    ///
    /// # Errors
    /// Why any had failed.
    pub async fn shutdown(&self) -> Result<(), String> {
        let consumer = self.requests.shutdown().await;
        let expiry = match self.expiry.lock().await.take() {
            Some(expiry) => expiry.shutdown().await.map_err(|e| e.to_string()),
            None => Ok(()),
        };
        consumer.and(expiry).and(self.model.shutdown().await)
    }
}

#[eventcore::async_trait]
impl Warehouse for InventoryService {
    async fn products(&self, limit: u32, offset: u32) -> Result<Vec<ProductRow>, ShopError> {
        Ok(pg::products::list(self.store.pool(), limit, offset).await?)
    }

    async fn product(&self, product_id: &str) -> Result<ProductRow, ShopError> {
        pg::products::get(self.store.pool(), product_id)
            .await?
            .ok_or_else(|| ShopError::NotFound {
                what: "product",
                id: product_id.to_owned(),
            })
    }

    fn inventory(&self) -> &Repository<Inventory> {
        &self.inventory
    }

    async fn catalogue_caught_up(&self) -> Result<(), ShopError> {
        let head = self.store.head_position().await?;
        self.model.wait_until(head).await
    }
}

#[eventcore::async_trait]
impl BrokerService for InventoryService {
    fn store(&self) -> &PgEventStore {
        &self.store
    }

    fn consumer(&self) -> &Consumer {
        &self.requests
    }

    /// The product view's, the expiry saga's (the relay retries for ever).
    async fn dead_letter_consumers(&self) -> Vec<String> {
        let mut consumers = vec![PRODUCT_VIEW.to_owned()];
        if let Some(expiry) = self.expiry.lock().await.as_ref() {
            consumers.push(expiry.manager().consumer());
        }
        consumers
    }

    async fn relay_lag(&self) -> u64 {
        self.model.lag_of(RELAY).await
    }
}

impl HostsModel for InventoryService {
    fn model(&self) -> &Arc<HostedModel> {
        &self.model
    }
}

type Served = super::app::Served<InventoryService>;

impl FromRef<Served> for WarehouseApi {
    fn from_ref(served: &Served) -> Self {
        Self(served.service.clone())
    }
}

/// The service's router, with `config` at its edge.
///
/// # Errors
/// The metrics registry cannot be built (a name clash: a bug).
pub fn router(
    service: Arc<InventoryService>,
    config: &HttpConfig,
) -> Result<Router, prometheus::Error> {
    let served = Served::new(service, config)?;
    let (shared, ops) = handlers::routes::<InventoryService>();
    let api = warehouse_routes::<Served>()
        .merge(hosted::routes::<InventoryService>())
        .merge(shared);
    let metrics = served.metrics.clone();
    Ok(super::app::assemble(api, ops, metrics, served, config))
}
