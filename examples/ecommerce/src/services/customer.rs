//! The customer service: registration, login and `me` (the embedded shop's handlers) over its
//! own PostgreSQL schema, with the edge concerns, the rate limit, `/health/*` and `/metrics`.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use eventcore::{EventReader, RuntimeStore};
use eventcore_postgres::PgEventStore;

use crate::app::Customers;
use crate::customer::Argon2Hasher;
use crate::http::auth::{AdminAccount, Tokens};
use crate::http::health::{readiness, store_check};
use crate::http::metrics::{Metrics, RuntimeFigures};
use crate::http::ops_views::HealthView;
use crate::http::{CustomerApi, HttpConfig, customer_routes};

/// What the service's handlers share.
#[derive(Clone, Debug)]
struct Service {
    api: CustomerApi,
    store: PgEventStore,
    metrics: Arc<Metrics>,
}

impl FromRef<Service> for CustomerApi {
    fn from_ref(service: &Service) -> Self {
        service.api.clone()
    }
}

impl FromRef<Service> for Arc<Tokens> {
    fn from_ref(service: &Service) -> Self {
        service.api.tokens.clone()
    }
}

/// The service's router over `store` (its own schema), with `config` at its edge.
///
/// # Errors
/// The metrics registry cannot be built (a name clash: a bug).
pub fn router(store: PgEventStore, config: &HttpConfig) -> Result<Router, prometheus::Error> {
    let metrics = Arc::new(Metrics::new()?);
    let service = Service {
        api: CustomerApi {
            customers: Arc::new(Customers::new(store.clone(), Arc::new(Argon2Hasher))),
            tokens: Arc::new(Tokens::new(&config.jwt_secret, config.token_ttl)),
            admin: Arc::new(AdminAccount::new(
                &config.admin_email,
                &config.admin_password,
            )),
        },
        store,
        metrics: metrics.clone(),
    };
    let ops = Router::new()
        .route("/health/ready", get(ready))
        .route("/metrics", get(scrape));
    let api = customer_routes::<Service>();
    Ok(super::app::assemble(api, ops, metrics, service, config))
}

/// `GET /health/ready`: 200 when the service's store answers, else 503.
async fn ready(State(service): State<Service>) -> (StatusCode, Json<HealthView>) {
    let what = format!("PostgreSQL schema {}", service.store.schema());
    let store = store_check(&what, service.store.head_position().await);
    readiness(vec![store])
}

/// `GET /metrics`: the request series, and events and dead letters from the store's counts.
async fn scrape(State(service): State<Service>) -> Response {
    match service.store.counts().await {
        Ok(counts) => service.metrics.set_runtime(&RuntimeFigures {
            dead_letters: counts.dead_letter_total(),
            events: counts.events.into_iter().collect(),
            ..RuntimeFigures::default()
        }),
        Err(error) => tracing::warn!(%error, "store counts unavailable for /metrics"),
    }
    service.metrics.response()
}
