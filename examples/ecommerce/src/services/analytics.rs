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
use axum::extract::State;
use axum::routing::get;
use eventcore::Aggregate;
use eventcore::broker::Mirror;
use eventcore_postgres::PgEventStore;

use super::handlers::{self, BrokerService};
use super::hosted::{self, HostedModel, HostsModel};
use crate::http::auth::AdminCaller;
use crate::http::errors::ApiError;
use crate::http::ops_views::ReadModelView;
use crate::http::{AnalyticsView, HttpConfig};
use crate::messaging::{Broker, BrokerError, Consumer};
use crate::readmodels::{ANALYTICS, pg};

/// The consumer (queue or group, and inbox) of the order events.
pub const EVENTS: &str = "analytics.events";

/// How long the projection waits for more events once woken (as the embedded shop's default).
const LINGER: Duration = Duration::from_millis(5);

/// A running analytics service: its consumer and its read model.
#[derive(Debug)]
pub struct AnalyticsService {
    store: PgEventStore,
    events: Consumer,
    model: Arc<HostedModel>,
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
            model: Arc::new(HostedModel::new(ANALYTICS, projections)),
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
        self.model.view().await
    }

    /// Stops the consumer (after the messages in hand), then the projection (after a rebuild
    /// in progress); stopping again does nothing.
    ///
    /// # Errors
    /// Why either had failed.
    pub async fn shutdown(&self) -> Result<(), String> {
        let consumer = self.events.shutdown().await;
        consumer.and(self.model.shutdown().await)
    }
}

#[eventcore::async_trait]
impl BrokerService for AnalyticsService {
    fn store(&self) -> &PgEventStore {
        &self.store
    }

    fn consumer(&self) -> &Consumer {
        &self.events
    }

    async fn dead_letter_consumers(&self) -> Vec<String> {
        vec![ANALYTICS.to_owned()]
    }

    async fn relay_lag(&self) -> u64 {
        0 // it relays nothing
    }
}

impl HostsModel for AnalyticsService {
    fn model(&self) -> &Arc<HostedModel> {
        &self.model
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
    let (shared, ops) = handlers::routes::<AnalyticsService>();
    let api = Router::new()
        .route("/api/v1/analytics", get(analytics))
        .merge(hosted::routes::<AnalyticsService>())
        .merge(shared);
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
