//! The handlers every service on the broker shares, over what [`BrokerService`] says of it:
//! `GET /api/v1/dead-letters` (admin), `/health/ready` and `/metrics`.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use eventcore_postgres::PgEventStore;

use super::app::{Served, dead_letters, ready, scrape};
use crate::http::auth::AdminCaller;
use crate::http::errors::ApiError;
use crate::http::ops_views::{DeadLetterView, HealthView};
use crate::messaging::Consumer;

/// What the shared handlers need of a service on the broker.
#[eventcore::async_trait]
pub(crate) trait BrokerService: Send + Sync + 'static {
    /// Its store (its own schema).
    fn store(&self) -> &PgEventStore;

    /// Its broker consumer.
    fn consumer(&self) -> &Consumer;

    /// The store's consumers (projections, sagas) whose dead letters it shows.
    async fn dead_letter_consumers(&self) -> Vec<String>;

    /// Events its relay has not published yet (0 without a relay).
    async fn relay_lag(&self) -> u64;
}

/// The shared routes of service `T`: the dead letters (to go behind the rate limit with the
/// rest of its API), and its `/health/ready` and `/metrics`.
pub(crate) fn routes<T: BrokerService>() -> (Router<Served<T>>, Router<Served<T>>) {
    let api = Router::new().route("/api/v1/dead-letters", get(dead_letters_of::<T>));
    let ops = Router::new()
        .route("/health/ready", get(ready_of::<T>))
        .route("/metrics", get(scrape_of::<T>));
    (api, ops)
}

/// `GET /api/v1/dead-letters` (admin): what the service's projections, sagas and consumer
/// gave up on.
async fn dead_letters_of<T: BrokerService>(
    State(served): State<Served<T>>,
    _admin: AdminCaller,
) -> Result<Json<Vec<DeadLetterView>>, ApiError> {
    let service = &served.service;
    let consumers = service.dead_letter_consumers().await;
    let letters = dead_letters(service.store(), &consumers, service.consumer()).await?;
    Ok(Json(letters))
}

/// `GET /health/ready`: 200 when the store answers and the consumer consumes, else 503.
async fn ready_of<T: BrokerService>(
    State(served): State<Served<T>>,
) -> (StatusCode, Json<HealthView>) {
    ready(served.service.store(), served.service.consumer()).await
}

/// `GET /metrics`: the request series; sagas, events and dead letters from the store's
/// counts; the relay's lag and the consumer's.
async fn scrape_of<T: BrokerService>(State(served): State<Served<T>>) -> Response {
    let service = &served.service;
    let lag = service.relay_lag().await;
    scrape(&served.metrics, service.store(), service.consumer(), lag).await
}
