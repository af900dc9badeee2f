//! Health: `/health/live` (the process answers) and `/health/ready` (the store answers, every
//! read model runs, the broker's consumer consumes, and, when the inventory service keeps the
//! warehouse, its catalogue has reached this shop; 503 when not). In the embedded default
//! there is no broker: events are dispatched in-process, and the check says so.

use crate::app::ShopStore;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use eventcore::projection::ProjectionState;

use super::AppState;
use super::ops_views::{CheckView, HealthView};

/// `GET /health/live`: 200 while the process serves requests.
#[utoipa::path(
    get, path = "/health/live", tag = "health",
    responses((status = 200, description = "Alive", body = HealthView))
)]
pub async fn live() -> Json<HealthView> {
    Json(HealthView::live())
}

/// `GET /health/ready`: 200 when the store and the read models are usable, else 503.
#[utoipa::path(
    get, path = "/health/ready", tag = "health",
    responses(
        (status = 200, description = "Ready", body = HealthView),
        (status = 503, description = "A dependency is down", body = HealthView),
    )
)]
pub async fn ready<St: ShopStore>(
    State(state): State<AppState<St>>,
) -> (StatusCode, Json<HealthView>) {
    let store = store_check(St::NAME, state.shop.store().head_position().await);
    let stopped: Vec<String> = state
        .shop
        .read_models()
        .into_iter()
        .filter(|s| !matches!(s.state, ProjectionState::Running))
        .map(|s| s.name)
        .collect();
    let projections = CheckView {
        name: "projections".into(),
        ok: stopped.is_empty(),
        detail: if stopped.is_empty() {
            "every read model is running".into()
        } else {
            format!("stopped: {}", stopped.join(", "))
        },
    };
    let mut checks = vec![store, projections];
    let consumers: Vec<CheckView> = state.shop.replies().map(consumer_check).collect();
    if consumers.is_empty() {
        checks.push(CheckView {
            name: "broker".into(),
            ok: true,
            detail: "in-process dispatch (embedded mode has no broker)".into(),
        });
    }
    checks.extend(consumers);
    if state.shop.repositories().stock_elsewhere {
        checks.push(catalogue_check(state.shop.products(1, 0).await));
    }
    readiness(checks)
}

/// The mirrored catalogue's check: ok once a product of the inventory service's has reached
/// this shop. Until then every order would be refused as of an unknown product (the service
/// always has its seed catalogue, so an empty mirror is one that has not caught up yet).
fn catalogue_check(
    products: Result<Vec<crate::readmodels::rows::ProductRow>, crate::app::ShopError>,
) -> CheckView {
    let (ok, detail) = match products {
        Ok(products) if !products.is_empty() => (true, "mirrored from the inventory service"),
        Ok(_) => (
            false,
            "no product has reached this shop from the inventory service yet",
        ),
        Err(error) => {
            tracing::warn!(%error, "readiness: the product view does not answer");
            (false, "the product view does not answer")
        }
    };
    CheckView {
        name: "catalogue".into(),
        ok,
        detail: detail.into(),
    }
}

/// A broker consumer's check: ok while it consumes.
pub fn consumer_check(consumer: &crate::messaging::Consumer) -> CheckView {
    let ok = consumer.is_ready();
    CheckView {
        name: "broker".into(),
        ok,
        detail: if ok {
            format!("consuming as {}", consumer.name())
        } else {
            format!("the consumer {} is not connected", consumer.name())
        },
    }
}

/// The store's check from its head position (or why it has none); `what` names the store.
pub fn store_check(what: &str, head: Result<u64, eventcore::StoreError>) -> CheckView {
    match head {
        Ok(head) => CheckView {
            name: "store".into(),
            ok: true,
            detail: format!("{what}, log head at {head}"),
        },
        Err(error) => {
            tracing::warn!(%error, "readiness: the store does not answer");
            CheckView {
                name: "store".into(),
                ok: false,
                detail: "the event store does not answer".into(),
            }
        }
    }
}

/// 200 with `checks` when every one is ok, else 503 with them (the failing ones named).
pub fn readiness(checks: Vec<CheckView>) -> (StatusCode, Json<HealthView>) {
    let ok = checks.iter().all(|c| c.ok);
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = HealthView {
        status: if ok { "ok" } else { "unavailable" }.into(),
        checks,
    };
    (status, Json(body))
}
