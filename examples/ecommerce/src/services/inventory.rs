//! The inventory service: the warehouse as its own process on PostgreSQL, in a schema of its
//! own. It seeds the catalogue (once), applies the order saga's stock requests from the
//! broker ([`StockDesk`]), expires reservations ([`ReservationExpiry`], a saga whose steps run
//! in the transaction that records them), keeps the product view, and relays the warehouse's
//! events (the saga's replies, and the catalogue the order context prices from). It serves the
//! embedded shop's catalogue and ledger handlers (`/api/v1/products`, `/api/v1/inventory`),
//! the product view's status and rebuild, `/health/*` and `/metrics`.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{FromRef, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use eventcore::projection::RunningProjections;
use eventcore::saga::{LocalBus, SagaHandle, SagaManager};
use eventcore::{Aggregate, EventReader, Repository};
use eventcore_postgres::PgEventStore;
use tokio::sync::RwLock;
use uuid::Uuid;

use crate::app::warehouse::{self, AddProduct};
use crate::app::{ShopError, Warehouse};
use crate::http::auth::AdminCaller;
use crate::http::errors::ApiError;
use crate::http::ops_views::{DeadLetterView, HealthView, ReadModelView};
use crate::http::rebuilds::Rebuilds;
use crate::http::{HttpConfig, WarehouseApi, warehouse_routes};
use crate::inventory::requests::{self, StockDesk};
use crate::inventory::{Expirer, Inventory, InventoryAction, ReservationExpiry, WAREHOUSE};
use crate::messaging::{Broker, BrokerError, Consumer};
use crate::money::Money;
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
    /// The relay and the product view; read-held by a rebuild, taken by the shutdown.
    projections: RwLock<Option<RunningProjections<PgEventStore>>>,
    expiry: tokio::sync::Mutex<Option<Expiry>>,
    rebuilds: Arc<Rebuilds>,
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
        let inventory = Repository::<Inventory>::new(store.clone());
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
            projections: RwLock::new(Some(projections)),
            expiry: tokio::sync::Mutex::new(Some(expiry)),
            rebuilds: Arc::default(),
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

    /// Events not yet relayed.
    pub async fn relay_lag(&self) -> u64 {
        let projections = self.projections.read().await;
        let status = projections.as_ref().and_then(|p| p.status(RELAY));
        status.map_or(0, |status| status.lag())
    }

    /// The product view's status, with the last rebuild started through the API.
    pub async fn read_model(&self) -> Option<ReadModelView> {
        let projections = self.projections.read().await;
        let status = projections.as_ref()?.status(PRODUCT_VIEW)?;
        Some(ReadModelView::new(&status, self.rebuilds.get(PRODUCT_VIEW)))
    }

    /// Waits until the product view shows every event appended so far (read-your-writes after
    /// an admin change).
    async fn catalogue_caught_up(&self) -> Result<(), ShopError> {
        let head = self.store.head_position().await?;
        let projections = self.projections.read().await;
        let running = projections
            .as_ref()
            .ok_or_else(|| ShopError::unavailable("the catalogue", "shutting down"))?;
        running.wait_until(PRODUCT_VIEW, head).await?;
        Ok(())
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
        let projections = match self.projections.write().await.take() {
            Some(running) => running.shutdown().await.map_err(|e| e.to_string()),
            None => Ok(()),
        };
        consumer.and(expiry).and(projections)
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

    async fn add_product(
        &self,
        product_id: &str,
        name: &str,
        description: &str,
        price: Money,
        initial_stock: u32,
        correlation: Option<Uuid>,
    ) -> Result<(), ShopError> {
        let product = AddProduct {
            id: product_id,
            name,
            description,
            price,
            initial_stock,
        };
        warehouse::add_product(&self.inventory, product, correlation).await?;
        self.catalogue_caught_up().await
    }

    async fn change_price(
        &self,
        product_id: &str,
        price: Money,
        correlation: Option<Uuid>,
    ) -> Result<(), ShopError> {
        let product_id = product_id.to_owned();
        let action = InventoryAction::ChangePrice { product_id, price };
        warehouse::change(&self.inventory, action, correlation).await?;
        self.catalogue_caught_up().await
    }

    async fn add_stock(
        &self,
        product_id: &str,
        quantity: u32,
        correlation: Option<Uuid>,
    ) -> Result<(), ShopError> {
        let product_id = product_id.to_owned();
        let action = InventoryAction::AddStock {
            product_id,
            quantity,
        };
        warehouse::change(&self.inventory, action, correlation).await?;
        self.catalogue_caught_up().await
    }

    async fn ledger(&self) -> Result<Inventory, ShopError> {
        let loaded = self.inventory.load(WAREHOUSE).await;
        Ok(loaded
            .map_err(|e| ShopError::unavailable("loading the inventory", e))?
            .state)
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
    let api = warehouse_routes::<Served>()
        .route("/api/v1/read-models", get(read_models))
        .route("/api/v1/read-models/{name}", get(read_model))
        .route("/api/v1/read-models/{name}/rebuild", post(rebuild))
        .route("/api/v1/dead-letters", get(dead_letters));
    let ops = Router::new()
        .route("/health/ready", get(ready))
        .route("/metrics", get(scrape));
    let metrics = served.metrics.clone();
    Ok(super::app::assemble(api, ops, metrics, served, config))
}

/// `GET /api/v1/read-models` (admin): the product view.
async fn read_models(
    State(served): State<Served>,
    _admin: AdminCaller,
) -> Json<Vec<ReadModelView>> {
    Json(served.service.read_model().await.into_iter().collect())
}

/// `GET /api/v1/read-models/product-view` (admin): its state, lag and rebuilds.
async fn read_model(
    State(served): State<Served>,
    _admin: AdminCaller,
    Path(name): Path<String>,
) -> Result<Json<ReadModelView>, ApiError> {
    let found = if name == PRODUCT_VIEW {
        served.service.read_model().await
    } else {
        None
    };
    found
        .map(Json)
        .ok_or_else(|| ApiError::not_found("read model", &name))
}

/// `POST /api/v1/read-models/product-view/rebuild` (admin): rebuilds it from the log while
/// the service runs; 202, or 409 while a rebuild runs.
async fn rebuild(
    State(served): State<Served>,
    _admin: AdminCaller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    if name != PRODUCT_VIEW {
        return Err(ApiError::not_found("read model", &name));
    }
    let service = served.service.clone();
    let rebuild = async move {
        let projections = service.projections.read().await;
        let running = projections
            .as_ref()
            .ok_or_else(|| "the service is shutting down".to_owned())?;
        pg::rebuild(running, PRODUCT_VIEW)
            .await
            .map_err(|e| e.to_string())
    };
    served.service.rebuilds.start(name, rebuild)
}

/// `GET /api/v1/dead-letters` (admin): what the product view, the expiry saga and the
/// consumer gave up on (the relay retries for ever).
async fn dead_letters(
    State(served): State<Served>,
    _admin: AdminCaller,
) -> Result<Json<Vec<DeadLetterView>>, ApiError> {
    let service = &served.service;
    let mut consumers = vec![PRODUCT_VIEW.to_owned()];
    if let Some(expiry) = service.expiry.lock().await.as_ref() {
        consumers.push(expiry.manager().consumer());
    }
    let letters = super::app::dead_letters(&service.store, &consumers, &service.requests).await?;
    Ok(Json(letters))
}

/// `GET /health/ready`: 200 when the store answers and the consumer consumes, else 503.
async fn ready(State(served): State<Served>) -> (StatusCode, Json<HealthView>) {
    super::app::ready(&served.service.store, &served.service.requests).await
}

/// `GET /metrics`: the request series; sagas, events and dead letters from the store's
/// counts; the relay's lag and the consumer's.
async fn scrape(State(served): State<Served>) -> Response {
    let service = &served.service;
    let lag = service.relay_lag().await;
    super::app::scrape(&served.metrics, &service.store, &service.requests, lag).await
}
