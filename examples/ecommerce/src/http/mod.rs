//! The shop's HTTP API (`/api/v1`, JSON), on axum.
//!
//! [`router`] builds the whole application as an `axum::Router` over a running
//! [`Shop`]: testable without a socket (`tower::ServiceExt::oneshot`), served
//! by `ecommerce serve`. The OpenAPI document of every endpoint is generated from this code
//! ([`openapi`]) and served at `/api/v1/openapi.json`.
//!
//! Edge concerns, outermost first: the request id ([`request_id`]), JSON error bodies for
//! every error ([`errors`]), CORS, a tracing span per request carrying the request id, the
//! per-request timeout and the body size limit ([`limits`]); on the API's routes, metrics
//! ([`metrics`]) and the rate limit per client. Bearer tokens ([`auth`]) are checked by the
//! handlers' extractors, so each endpoint's signature says who may call it.

pub mod auth;
mod config;
pub mod errors;
pub mod health;
pub mod inventory_views;
pub mod limits;
pub mod metrics;
pub mod openapi;
pub mod ops_views;
pub(crate) mod rebuilds;
pub mod request_id;
mod routes;
pub(crate) mod runtime;
mod time;
mod views;

pub use config::HttpConfig;
pub(crate) use routes::customers as customer_routes;
pub use routes::orders::MAX_WAIT_SECS;
pub(crate) use routes::warehouse as warehouse_routes;
pub use views::*;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRef};
use axum::http::{HeaderName, HeaderValue, Method, Request, header};
use axum::middleware::{from_fn, from_fn_with_state, map_response};
use axum::routing::get;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;

use crate::app::{Customers, Shop, ShopStore};
use auth::{AdminAccount, Tokens};
use eventcore_sqlite::SqliteEventStore;
use limits::ClientLimiter;
use metrics::Metrics;

/// What every handler can reach: the shop (on the embedded SQLite store by default, or on
/// PostgreSQL: the order service), tokens, the admin account, metrics and rebuilds.
#[derive(Debug)]
pub struct AppState<St: ShopStore = SqliteEventStore> {
    /// The running shop.
    pub shop: Arc<Shop<St>>,
    /// Token issuing and checking.
    pub tokens: Arc<Tokens>,
    /// The bootstrapped admin account.
    pub admin: Arc<AdminAccount>,
    /// The metrics registry.
    pub metrics: Arc<Metrics>,
    /// The rebuilds started through the API.
    pub(crate) rebuilds: Arc<rebuilds::Rebuilds>,
}

// By hand: a derive would ask the store to be `Clone` through `Arc`.
impl<St: ShopStore> Clone for AppState<St> {
    fn clone(&self) -> Self {
        Self {
            shop: self.shop.clone(),
            tokens: self.tokens.clone(),
            admin: self.admin.clone(),
            metrics: self.metrics.clone(),
            rebuilds: self.rebuilds.clone(),
        }
    }
}

impl<St: ShopStore> FromRef<AppState<St>> for Arc<Tokens> {
    fn from_ref(state: &AppState<St>) -> Self {
        state.tokens.clone()
    }
}

/// What the customer endpoints need: the customer context, tokens and the admin account. The
/// embedded shop's [`AppState`] holds it; a customer service runs it alone.
#[derive(Clone, Debug)]
pub struct CustomerApi {
    /// The customer context.
    pub customers: Arc<Customers>,
    /// Token issuing and checking.
    pub tokens: Arc<Tokens>,
    /// The bootstrapped admin account.
    pub admin: Arc<AdminAccount>,
}

impl<St: ShopStore> FromRef<AppState<St>> for CustomerApi {
    fn from_ref(state: &AppState<St>) -> Self {
        Self {
            customers: state.shop.customers().clone(),
            tokens: state.tokens.clone(),
            admin: state.admin.clone(),
        }
    }
}

/// What the inventory context's handlers reach: the embedded shop's [`AppState`] holds the
/// shop; an inventory service holds itself.
#[derive(Clone)]
pub struct WarehouseApi(pub Arc<dyn crate::app::Warehouse>);

impl std::fmt::Debug for WarehouseApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WarehouseApi")
    }
}

impl<St: ShopStore> FromRef<AppState<St>> for WarehouseApi {
    fn from_ref(state: &AppState<St>) -> Self {
        Self(state.shop.clone())
    }
}

impl FromRef<CustomerApi> for Arc<Tokens> {
    fn from_ref(state: &CustomerApi) -> Self {
        state.tokens.clone()
    }
}

/// The application: every endpoint and every edge concern, over `shop`.
///
/// # Errors
/// [`prometheus::Error`] if the metrics registry cannot be built (a name clash: a bug).
pub fn router<St: ShopStore>(
    shop: Arc<Shop<St>>,
    config: HttpConfig,
) -> Result<Router, prometheus::Error> {
    let registry = Arc::new(Metrics::new()?);
    let state = AppState {
        shop,
        tokens: Arc::new(Tokens::new(&config.jwt_secret, config.token_ttl)),
        admin: Arc::new(AdminAccount::new(
            &config.admin_email,
            &config.admin_password,
        )),
        metrics: registry.clone(),
        rebuilds: Arc::default(),
    };
    let limiter = Arc::new(ClientLimiter::new(
        config.rate_limit,
        config.trust_forwarded_for,
    ));
    let api = routes::api::<St>()
        .route_layer(from_fn_with_state(limiter, limits::rate_limit))
        .route_layer(from_fn_with_state(registry.clone(), metrics::track));
    let ops = Router::new()
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready::<St>))
        .route("/metrics", get(metrics::scrape::<St>))
        .route("/api/v1/openapi.json", get(openapi::serve))
        .route_layer(from_fn_with_state(registry, metrics::track));
    let app = api.merge(ops).fallback(errors::no_route).with_state(state);
    Ok(edge(app, &config))
}

/// The edge concerns around `app`, outermost first: the request id, JSON error bodies, CORS,
/// a tracing span per request, the per-request timeout and the body size limit (the embedded
/// shop's, the gateway's and each service's).
pub fn edge(app: Router, config: &HttpConfig) -> Router {
    app.layer(DefaultBodyLimit::max(config.body_limit))
        .layer(RequestBodyLimitLayer::new(config.body_limit))
        .layer(from_fn_with_state(config.request_timeout, limits::timeout))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(cors(&config.cors_origins))
        .layer(map_response(errors::json_errors))
        .layer(from_fn(request_id::request_id))
}

/// The tracing span of a request: method, path and request id.
fn request_span(req: &Request<axum::body::Body>) -> tracing::Span {
    let id = req
        .headers()
        .get(&request_id::REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "request",
        method = %req.method(),
        path = %req.uri().path(),
        request_id = %id,
    )
}

/// CORS: no origins, no CORS headers (same-origin only); `*`, any origin; else the listed
/// origins (unparsable entries are skipped).
fn cors(origins: &[String]) -> CorsLayer {
    let base = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::OPTIONS])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("idempotency-key"),
            request_id::REQUEST_ID.clone(),
        ])
        .expose_headers([request_id::REQUEST_ID.clone(), header::RETRY_AFTER]);
    if origins.iter().any(|o| o == "*") {
        base.allow_origin(AllowOrigin::any())
    } else {
        let list: Vec<HeaderValue> = origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect();
        base.allow_origin(AllowOrigin::list(list))
    }
}
