//! The admin's view of the machinery: analytics, order sagas (list, get, retry a parked one),
//! unfinished sagas of every type, dead letters, read models (status and lag, start a rebuild
//! and watch it).

use crate::app::ShopStore;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use eventcore::saga::SagaStatus;
use serde::Deserialize;
use utoipa::IntoParams;

use super::checked_id;
use crate::http::auth::AdminCaller;
use crate::http::errors::{ApiError, ErrorBody};
use crate::http::ops_views::{
    DeadLetterView, ReadModelView, RebuildAccepted, RetryAccepted, SagaDetailView, SagaSummaryView,
    UnfinishedSagasView,
};
use crate::http::{AnalyticsView, AppState};
use crate::readmodels;

/// Which sagas to list.
#[derive(Clone, Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SagaQuery {
    /// Only with this status (default: every status).
    pub status: Option<String>,
    /// At most this many, 1–500 (default 50).
    pub limit: Option<usize>,
}

/// Analytics: orders per status, revenue per day, top products, per-customer totals (admin).
#[utoipa::path(
    get, path = "/api/v1/analytics", tag = "operations",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The report", body = AnalyticsView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not the admin", body = ErrorBody),
    )
)]
pub(crate) async fn analytics<St: ShopStore>(
    State(state): State<AppState<St>>,
    _admin: AdminCaller,
) -> Result<Json<AnalyticsView>, ApiError> {
    Ok(Json(state.shop.analytics(10).await?.into()))
}

/// Order sagas, by status (admin).
#[utoipa::path(
    get, path = "/api/v1/sagas", tag = "operations",
    security(("bearer" = [])), params(SagaQuery),
    responses(
        (status = 200, description = "Sagas", body = [SagaSummaryView]),
        (status = 400, description = "Unknown status or bad limit", body = ErrorBody),
        (status = 403, description = "Not the admin", body = ErrorBody),
    )
)]
pub(crate) async fn sagas<St: ShopStore>(
    State(state): State<AppState<St>>,
    _admin: AdminCaller,
    Query(query): Query<SagaQuery>,
) -> Result<Json<Vec<SagaSummaryView>>, ApiError> {
    let limit = super::page_limit(query.limit, 50, 500)?;
    let statuses = match &query.status {
        Some(text) => vec![
            text.parse::<SagaStatus>()
                .map_err(|e| ApiError::bad_request("invalid_query", e.to_string()))?,
        ],
        None => SagaStatus::ALL.to_vec(),
    };
    let mut found = Vec::new();
    for status in statuses {
        let left = limit - found.len();
        if left == 0 {
            break;
        }
        let views = state.shop.sagas(status, left).await?;
        found.extend(views.iter().map(SagaSummaryView::from));
    }
    Ok(Json(found))
}

/// One order's saga: state, steps with attempts and errors, deadlines, history (admin).
#[utoipa::path(
    get, path = "/api/v1/sagas/{id}", tag = "operations",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The order id")),
    responses(
        (status = 200, description = "The saga", body = SagaDetailView),
        (status = 403, description = "Not the admin", body = ErrorBody),
        (status = 404, description = "No such saga", body = ErrorBody),
    )
)]
pub(crate) async fn saga<St: ShopStore>(
    State(state): State<AppState<St>>,
    _admin: AdminCaller,
    Path(id): Path<String>,
) -> Result<Json<SagaDetailView>, ApiError> {
    let id = checked_id("saga", &id)?;
    Ok(Json(SagaDetailView::from(&state.shop.saga(id).await?)))
}

/// Sends a parked saga back to work (admin).
#[utoipa::path(
    post, path = "/api/v1/sagas/{id}/retry", tag = "operations",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The order id")),
    responses(
        (status = 202, description = "Retrying", body = RetryAccepted),
        (status = 403, description = "Not the admin", body = ErrorBody),
        (status = 404, description = "No such saga", body = ErrorBody),
        (status = 409, description = "Not parked", body = ErrorBody),
    )
)]
pub(crate) async fn retry_saga<St: ShopStore>(
    State(state): State<AppState<St>>,
    _admin: AdminCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = checked_id("saga", &id)?;
    let saga = state.shop.saga(id).await?;
    if saga.status != SagaStatus::Parked || !state.shop.retry_saga(id).await? {
        return Err(ApiError::conflict(
            "not_parked",
            format!("saga {id} is {}, not parked", saga.status),
        ));
    }
    let body = RetryAccepted { id: id.to_owned() };
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

/// How many sagas of each type (the order saga, reservation expiry, the notification and
/// undo-sale policies) are not terminal: active, dispatching, compensating or parked (admin).
/// Empty once the shop has settled.
#[utoipa::path(
    get, path = "/api/v1/unfinished-sagas", tag = "operations",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Non-zero counts by type and status", body = [UnfinishedSagasView]),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not the admin", body = ErrorBody),
    )
)]
pub(crate) async fn unfinished_sagas<St: ShopStore>(
    State(state): State<AppState<St>>,
    _admin: AdminCaller,
) -> Result<Json<Vec<UnfinishedSagasView>>, ApiError> {
    let counts = state.shop.unfinished_sagas().await?;
    Ok(Json(
        counts
            .into_iter()
            .map(|(saga_type, status, count)| UnfinishedSagasView {
                saga_type,
                status,
                count,
            })
            .collect(),
    ))
}

/// The events every read model, saga and policy gave up on, and the messages the shop's broker
/// consumer gave up on in distributed mode (admin). Empty in a healthy shop.
#[utoipa::path(
    get, path = "/api/v1/dead-letters", tag = "operations",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Dead letters", body = [DeadLetterView]),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not the admin", body = ErrorBody),
    )
)]
pub(crate) async fn dead_letters<St: ShopStore>(
    State(state): State<AppState<St>>,
    _admin: AdminCaller,
) -> Result<Json<Vec<DeadLetterView>>, ApiError> {
    let letters = state.shop.dead_letters().await?;
    let mut views: Vec<DeadLetterView> = letters.iter().map(DeadLetterView::from).collect();
    for consumer in state.shop.replies() {
        let broker = consumer.dead_letters(1_000).await;
        views.extend(
            broker
                .map_err(ApiError::unavailable)?
                .into_iter()
                .map(DeadLetterView::from),
        );
    }
    Ok(Json(views))
}

fn known_read_model(name: &str) -> Result<&str, ApiError> {
    if readmodels::ALL.contains(&name) {
        Ok(name)
    } else {
        Err(ApiError::not_found("read model", name))
    }
}

/// Every read model's state and lag (admin).
#[utoipa::path(
    get, path = "/api/v1/read-models", tag = "operations",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Read models", body = [ReadModelView]),
        (status = 403, description = "Not the admin", body = ErrorBody),
    )
)]
pub(crate) async fn read_models<St: ShopStore>(
    State(state): State<AppState<St>>,
    _admin: AdminCaller,
) -> Json<Vec<ReadModelView>> {
    let views = state
        .shop
        .read_models()
        .iter()
        .map(|status| ReadModelView::new(status, state.rebuilds.get(&status.name)))
        .collect();
    Json(views)
}

/// One read model: state, lag, and the rebuild in progress (admin).
#[utoipa::path(
    get, path = "/api/v1/read-models/{name}", tag = "operations",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "order-view, product-view or analytics")),
    responses(
        (status = 200, description = "The read model", body = ReadModelView),
        (status = 404, description = "No such read model", body = ErrorBody),
    )
)]
pub(crate) async fn read_model<St: ShopStore>(
    State(state): State<AppState<St>>,
    _admin: AdminCaller,
    Path(name): Path<String>,
) -> Result<Json<ReadModelView>, ApiError> {
    let name = known_read_model(&name)?;
    let status = state
        .shop
        .read_models()
        .into_iter()
        .find(|s| s.name == name)
        .ok_or_else(|| ApiError::not_found("read model", name))?;
    Ok(Json(ReadModelView::new(&status, state.rebuilds.get(name))))
}

/// Starts rebuilding a read model from the log while the shop runs (admin); watch it at
/// `GET /api/v1/read-models/{name}`.
#[utoipa::path(
    post, path = "/api/v1/read-models/{name}/rebuild", tag = "operations",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "order-view, product-view or analytics")),
    responses(
        (status = 202, description = "Started", body = RebuildAccepted),
        (status = 404, description = "No such read model", body = ErrorBody),
        (status = 409, description = "A rebuild is running", body = ErrorBody),
    )
)]
pub(crate) async fn rebuild<St: ShopStore>(
    State(state): State<AppState<St>>,
    _admin: AdminCaller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let name = known_read_model(&name)?.to_owned();
    let (shop, task_name) = (Arc::clone(&state.shop), name.clone());
    let rebuild = async move { shop.rebuild_read_model(&task_name).await };
    state.rebuilds.start(name, rebuild)
}
