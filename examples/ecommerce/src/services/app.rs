//! What every service's HTTP side shares: its handlers' state, the assembly of its router
//! (API, health, metrics, edge), readiness, metrics and the dead-letter listing.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::FromRef;
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::response::Response;
use axum::routing::get;
use eventcore::{EventReader, RuntimeStore, TransactionalStore};
use eventcore_postgres::PgEventStore;

use crate::http::HttpConfig;
use crate::http::auth::Tokens;
use crate::http::errors::{self, ApiError};
use crate::http::health::{self, consumer_check, readiness, store_check};
use crate::http::limits::{self, ClientLimiter};
use crate::http::metrics::{self, Metrics, RuntimeFigures};
use crate::http::ops_views::{DeadLetterView, HealthView};
use crate::messaging::Consumer;

/// What a service's handlers share: the running service, the token checker, the metrics.
#[derive(Debug)]
pub(crate) struct Served<T> {
    pub(crate) service: Arc<T>,
    pub(crate) tokens: Arc<Tokens>,
    pub(crate) metrics: Arc<Metrics>,
}

impl<T> Clone for Served<T> {
    fn clone(&self) -> Self {
        Self {
            service: self.service.clone(),
            tokens: self.tokens.clone(),
            metrics: self.metrics.clone(),
        }
    }
}

impl<T> FromRef<Served<T>> for Arc<Tokens> {
    fn from_ref(served: &Served<T>) -> Self {
        served.tokens.clone()
    }
}

impl<T> Served<T> {
    /// The state of `service` with `config`'s token secret and a fresh metrics registry.
    pub(crate) fn new(service: Arc<T>, config: &HttpConfig) -> Result<Self, prometheus::Error> {
        Ok(Self {
            service,
            tokens: Arc::new(Tokens::new(&config.jwt_secret, config.token_ttl)),
            metrics: Arc::new(Metrics::new()?),
        })
    }
}

/// A service's app: `api` behind the per-client rate limit; `ops` (its `/health/ready` and
/// `/metrics`) and `/health/live`; every route metered into `metrics`; the JSON 404 for any
/// other path; the edge concerns of `config` around it all.
pub(crate) fn assemble<S: Clone + Send + Sync + 'static>(
    api: Router<S>,
    ops: Router<S>,
    metrics: Arc<Metrics>,
    state: S,
    config: &HttpConfig,
) -> Router {
    let limiter = Arc::new(ClientLimiter::new(
        config.rate_limit,
        config.trust_forwarded_for,
    ));
    let api = api
        .route_layer(from_fn_with_state(limiter, limits::rate_limit))
        .route_layer(from_fn_with_state(metrics.clone(), metrics::track));
    let ops = ops
        .route("/health/live", get(health::live))
        .route_layer(from_fn_with_state(metrics, metrics::track));
    let app = api.merge(ops).fallback(errors::no_route).with_state(state);
    crate::http::edge(app, config)
}

/// A service's `/health/ready`: 200 when its store answers and its broker consumer consumes,
/// else 503.
pub(crate) async fn ready(
    store: &PgEventStore,
    consumer: &Consumer,
) -> (StatusCode, Json<HealthView>) {
    let what = format!("PostgreSQL schema {}", store.schema());
    let store = store_check(&what, store.head_position().await);
    readiness(vec![store, consumer_check(consumer)])
}

/// A service's `/metrics`: the request series in `metrics`; sagas, events and dead letters
/// from its store's counts; its relay's lag (`relay_lag`) and its consumer's figures.
pub(crate) async fn scrape(
    metrics: &Metrics,
    store: &PgEventStore,
    consumer: &Consumer,
    relay_lag: u64,
) -> Response {
    match store.counts().await {
        Ok(counts) => metrics.set_runtime(&RuntimeFigures {
            sagas: counts.sagas_per_status().into_iter().collect(),
            dead_letters: counts.dead_letter_total(),
            events: counts.events.into_iter().collect(),
            relay_lag,
            consumers: vec![crate::http::runtime::consumer_figures(consumer)],
            ..RuntimeFigures::default()
        }),
        Err(error) => tracing::warn!(%error, "store counts unavailable for /metrics"),
    }
    metrics.response()
}

/// What a service's `GET /api/v1/dead-letters` shows: its store's dead letters of `consumers`
/// (its projections and sagas) and what its broker consumer gave up on.
///
/// # Errors
/// 503 when the store or the broker cannot be read.
pub(crate) async fn dead_letters(
    store: &PgEventStore,
    consumers: &[String],
    broker: &Consumer,
) -> Result<Vec<DeadLetterView>, ApiError> {
    let mut views = Vec::new();
    for consumer in consumers {
        let letters = store.dead_letters(consumer, 1_000).await;
        let letters = letters.map_err(ApiError::unavailable)?;
        views.extend(letters.iter().map(DeadLetterView::from));
    }
    let letters = broker.dead_letters(1_000).await;
    views.extend(
        letters
            .map_err(ApiError::unavailable)?
            .into_iter()
            .map(DeadLetterView::from),
    );
    Ok(views)
}
