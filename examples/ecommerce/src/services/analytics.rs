//! The analytics service: the analytics context as its own process on PostgreSQL, in a schema
//! of its own. It consumes the order events of the other services, mirrors them into its store
//! (`eventcore::broker::Mirror`), and keeps the analytics read model there with the embedded
//! shop's projection ([`crate::readmodels::pg`]): orders per status, revenue per day, top
//! products, per-customer totals. It serves `GET /api/v1/analytics`, the read model's status
//! and rebuild (`/api/v1/read-models/analytics`), `/health/*` and `/metrics`.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use eventcore::Aggregate;
use eventcore::broker::Mirror;
use eventcore::projection::RunningProjections;
use eventcore_postgres::PgEventStore;
use tokio::sync::RwLock;

use crate::http::auth::AdminCaller;
use crate::http::errors::ApiError;
use crate::http::ops_views::{DeadLetterView, HealthView, ReadModelView};
use crate::http::rebuilds::Rebuilds;
use crate::http::{AnalyticsView, HttpConfig};
use crate::messaging::{Broker, BrokerError, Consumer};
use crate::readmodels::{ANALYTICS, pg};

/// The consumer (queue or group, and inbox) of the order events.
pub const EVENTS: &str = "analytics.events";

/// How long the projection waits for more events once woken (as the embedded shop's default).
const LINGER: Duration = Duration::from_millis(5);

/// A running analytics service: its consumer and its read model's projection.
#[derive(Debug)]
pub struct AnalyticsService {
    store: PgEventStore,
    events: Consumer,
    /// Read-held by a rebuild, taken by the shutdown.
    projections: RwLock<Option<RunningProjections<PgEventStore>>>,
    rebuilds: Arc<Rebuilds>,
}

impl AnalyticsService {
    /// Creates the read model's tables in `store` (their schema is the pool's `search_path`,
    /// see [`super::open_store`]), starts its projection and the consumer of the order events
    /// on `broker`.
    ///
    /// # Errors
    /// The store or the broker cannot be reached, or the projection cannot start.
    pub async fn start(store: PgEventStore, broker: &Broker) -> Result<Self, BrokerError> {
        let failed = |what: &str, e: &dyn std::fmt::Display| BrokerError {
            broker: broker.name(),
            reason: format!("{what}: {e}"),
        };
        pg::create_tables_of(&store, &[ANALYTICS])
            .await
            .map_err(|e| failed("the analytics tables cannot be created", &e))?;
        let projections = pg::runner_of(store.clone(), LINGER, &[ANALYTICS])
            .start()
            .map_err(|e| failed("the analytics projection cannot start", &e))?;
        let categories = [crate::order::Order::TYPE];
        let events = broker
            .consume(store.clone(), EVENTS, &categories, Mirror)
            .await?;
        Ok(Self {
            store,
            events,
            projections: RwLock::new(Some(projections)),
            rebuilds: Arc::default(),
        })
    }

    /// The service's store.
    pub fn store(&self) -> &PgEventStore {
        &self.store
    }

    /// The consumer of the order events.
    pub fn events(&self) -> &Consumer {
        &self.events
    }

    /// The read model's status, with the last rebuild started through the API; `None` once
    /// shut down.
    pub async fn read_model(&self) -> Option<ReadModelView> {
        let projections = self.projections.read().await;
        let status = projections.as_ref()?.status(ANALYTICS)?;
        Some(ReadModelView::new(&status, self.rebuilds.get(ANALYTICS)))
    }

    /// Stops the consumer (after the messages in hand), then the projection (after a rebuild
    /// in progress); stopping again does nothing.
    ///
    /// # Errors
    /// Why either had failed.
    pub async fn shutdown(&self) -> Result<(), String> {
        let consumer = self.events.shutdown().await;
        let projections = self.projections.write().await.take();
        let projections = match projections {
            Some(running) => running.shutdown().await.map_err(|e| e.to_string()),
            None => Ok(()),
        };
        consumer.and(projections)
    }
}

type Served = super::app::Served<AnalyticsService>;

/// The service's router, with `config` at its edge.
///
/// # Errors
/// The metrics registry cannot be built (a name clash: a bug).
pub fn router(
    service: Arc<AnalyticsService>,
    config: &HttpConfig,
) -> Result<Router, prometheus::Error> {
    let served = Served::new(service, config)?;
    let api = Router::new()
        .route("/api/v1/analytics", get(analytics))
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

/// `GET /api/v1/analytics` (admin): the report, with the ten best-selling products.
async fn analytics(
    State(served): State<Served>,
    _admin: AdminCaller,
) -> Result<Json<AnalyticsView>, ApiError> {
    let report = pg::analytics::report(served.service.store.pool(), 10).await;
    let report = report.map_err(ApiError::unavailable)?;
    Ok(Json(report.into()))
}

/// `GET /api/v1/read-models` (admin): the service's one read model.
async fn read_models(
    State(served): State<Served>,
    _admin: AdminCaller,
) -> Json<Vec<ReadModelView>> {
    Json(served.service.read_model().await.into_iter().collect())
}

/// `GET /api/v1/read-models/analytics` (admin): its state, lag and rebuilds.
async fn read_model(
    State(served): State<Served>,
    _admin: AdminCaller,
    Path(name): Path<String>,
) -> Result<Json<ReadModelView>, ApiError> {
    let found = if name == ANALYTICS {
        served.service.read_model().await
    } else {
        None
    };
    found
        .map(Json)
        .ok_or_else(|| ApiError::not_found("read model", &name))
}

/// `POST /api/v1/read-models/analytics/rebuild` (admin): rebuilds it from the mirrored log
/// while the service runs; 202, or 409 while a rebuild runs.
async fn rebuild(
    State(served): State<Served>,
    _admin: AdminCaller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    if name != ANALYTICS {
        return Err(ApiError::not_found("read model", &name));
    }
    let service = served.service.clone();
    let rebuild = async move {
        let projections = service.projections.read().await;
        let running = projections
            .as_ref()
            .ok_or_else(|| "the service is shutting down".to_owned())?;
        pg::rebuild(running, ANALYTICS)
            .await
            .map_err(|e| e.to_string())
    };
    served.service.rebuilds.start(name, rebuild)
}

/// `GET /api/v1/dead-letters` (admin): what the projection and the consumer gave up on.
async fn dead_letters(
    State(served): State<Served>,
    _admin: AdminCaller,
) -> Result<Json<Vec<DeadLetterView>>, ApiError> {
    let service = &served.service;
    let consumers = [ANALYTICS.to_owned()];
    let letters = super::app::dead_letters(&service.store, &consumers, &service.events).await?;
    Ok(Json(letters))
}

/// `GET /health/ready`: 200 when the store answers and the consumer consumes, else 503.
async fn ready(State(served): State<Served>) -> (StatusCode, Json<HealthView>) {
    super::app::ready(&served.service.store, &served.service.events).await
}

/// `GET /metrics`: the request series; events and dead letters from the store's counts; the
/// consumer's figures.
async fn scrape(State(served): State<Served>) -> Response {
    let service = &served.service;
    let lag = 0; // it relays nothing
    super::app::scrape(&served.metrics, &service.store, &service.events, lag).await
}
