//! The gateway of the distributed shop: one address in front of the services, routing each
//! `/api/v1` path to the service that owns it ([`routes`]), with the same edge concerns as the
//! embedded shop's API (request ids, JSON errors, CORS, the body limit, the per-request
//! timeout, the rate limit per client, bearer tokens checked at the edge) and, per upstream, a
//! timeout and a circuit breaker ([`breaker`]): 5 consecutive failures open it, a trial
//! request passes after 60 s, and a business 4xx is not a failure. `/health/ready` aggregates
//! the services' readiness ([`health`]); `/metrics` counts each upstream's answers and shows
//! its breaker ([`metrics`]).
//!
//! Each service has one or more replicas (base URLs), taken in turn ([`upstream`]); several
//! services may share one (the embedded shop serves them all).

pub mod breaker;
mod gathered;
pub mod health;
pub mod metrics;
mod proxy;
pub mod routes;
pub mod upstream;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{any, get};

use crate::http::auth::Tokens;
use crate::http::limits::{self, ClientLimiter};
use crate::http::{HttpConfig, errors, openapi};
use breaker::BreakerPolicy;
pub use upstream::{Replica, Upstream};

/// How the gateway runs.
#[derive(Clone, Debug)]
pub struct GatewayConfig {
    /// Each service's replicas' base URLs (`http://127.0.0.1:8101`), by service name (see
    /// [`routes::SERVICES`]).
    pub upstreams: BTreeMap<String, Vec<String>>,
    /// How long one upstream request may take before it counts as a failure (504).
    pub upstream_timeout: Duration,
    /// When each replica's breaker opens and for how long.
    pub breaker: BreakerPolicy,
    /// The edge: token secret, rate limit, CORS, body limit, request timeout.
    pub http: HttpConfig,
}

impl GatewayConfig {
    /// Every service at `base_url` (the embedded shop), 5 s upstream timeout, the default
    /// breaker, and `http`.
    pub fn single(base_url: &str, http: HttpConfig) -> Self {
        Self::replicated(&[base_url.to_owned()], http)
    }

    /// Every service at each of `base_urls` (replicas of the embedded shop on one database),
    /// otherwise as [`single`](Self::single).
    pub fn replicated(base_urls: &[String], http: HttpConfig) -> Self {
        let upstreams = routes::SERVICES
            .iter()
            .map(|service| ((*service).to_owned(), base_urls.to_vec()))
            .collect();
        Self {
            upstreams,
            upstream_timeout: Duration::from_secs(5),
            breaker: BreakerPolicy::default(),
            http,
        }
    }
}

/// What the gateway's handlers share.
#[derive(Debug)]
pub struct Gateway {
    upstreams: Vec<Upstream>,
    client: reqwest::Client,
    upstream_timeout: Duration,
    tokens: Tokens,
    metrics: metrics::GatewayMetrics,
}

impl Gateway {
    /// The upstream of `service`.
    pub fn upstream(&self, service: &str) -> Option<&Upstream> {
        self.upstreams.iter().find(|u| u.name == service)
    }
}

/// Why the gateway cannot be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    /// A service has no upstream, or an upstream names no service.
    #[error("{0}")]
    Upstreams(String),
    /// The HTTP client cannot be built.
    #[error("building the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    /// The metrics registry cannot be built (a name clash: a bug).
    #[error("building the metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}

/// The gateway's router: `/api/v1/*` forwarded, `/health/*` and the OpenAPI document its own.
///
/// # Errors
/// [`GatewayError`] for a missing or unknown service, or a client that cannot be built.
pub fn router(config: GatewayConfig) -> Result<Router, GatewayError> {
    let unknown: Vec<&String> = config
        .upstreams
        .keys()
        .filter(|name| !routes::SERVICES.contains(&name.as_str()))
        .collect();
    let missing: Vec<&str> = routes::SERVICES
        .into_iter()
        .filter(|service| config.upstreams.get(*service).is_none_or(Vec::is_empty))
        .collect();
    if !unknown.is_empty() || !missing.is_empty() {
        return Err(GatewayError::Upstreams(format!(
            "upstreams: unknown {unknown:?}, missing {missing:?} (one per service: {:?})",
            routes::SERVICES
        )));
    }
    let upstreams = config
        .upstreams
        .iter()
        .map(|(name, urls)| Upstream::new(name, urls, config.breaker))
        .collect();
    let gateway = Arc::new(Gateway {
        upstreams,
        client: reqwest::Client::builder().build()?,
        upstream_timeout: config.upstream_timeout,
        tokens: Tokens::new(&config.http.jwt_secret, config.http.token_ttl),
        metrics: metrics::GatewayMetrics::new()?,
    });
    let http = &config.http;
    let limiter = Arc::new(ClientLimiter::new(
        http.rate_limit,
        http.trust_forwarded_for,
    ));
    let api = Router::new()
        .route("/api/v1/dead-letters", get(gathered::dead_letters))
        .route("/api/v1/read-models", get(gathered::read_models))
        .route("/api/v1/{*path}", any(proxy::forward))
        .route_layer(from_fn_with_state(limiter, limits::rate_limit));
    let app = api
        .route("/health/live", get(crate::http::health::live))
        .route("/health/ready", get(health::ready))
        .route("/metrics", get(metrics::scrape))
        .route("/api/v1/openapi.json", get(openapi::serve))
        .fallback(errors::no_route)
        .with_state(gateway);
    Ok(crate::http::edge(app, http))
}
