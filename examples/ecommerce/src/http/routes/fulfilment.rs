//! Fulfilment (admin): shipping a confirmed order and marking a shipped one delivered.

use crate::app::ShopStore;
use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::checked_id;
use crate::http::auth::AdminCaller;
use crate::http::errors::{ApiError, ApiJson, ErrorBody};
use crate::http::request_id::RequestContext;
use crate::http::{AppState, OrderStateView};

/// A shipment.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ShipBody {
    /// The carrier's tracking number (1–100 characters).
    #[schema(example = "TRACK-123")]
    pub tracking_number: String,
}

/// Ships a confirmed order (admin).
#[utoipa::path(
    post, path = "/api/v1/orders/{id}/ship", tag = "orders",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Order id")),
    request_body = ShipBody,
    responses(
        (status = 200, description = "Shipped", body = OrderStateView),
        (status = 403, description = "Not the admin", body = ErrorBody),
        (status = 404, description = "No such order", body = ErrorBody),
        (status = 409, description = "Not confirmed", body = ErrorBody),
        (status = 422, description = "Bad tracking number", body = ErrorBody),
    )
)]
pub(crate) async fn ship<St: ShopStore>(
    State(state): State<AppState<St>>,
    _admin: AdminCaller,
    context: RequestContext,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ShipBody>,
) -> Result<Json<OrderStateView>, ApiError> {
    let id = checked_id("order", &id)?;
    let tracking = body.tracking_number.trim();
    if tracking.is_empty() || tracking.chars().count() > 100 {
        return Err(ApiError::unprocessable(
            "rule_violated",
            "tracking number must be 1 to 100 characters",
        ));
    }
    state
        .shop
        .ship_order(id, tracking, Some(context.correlation_id))
        .await?;
    Ok(Json(OrderStateView::from(&state.shop.order(id).await?)))
}

/// Marks a shipped order delivered (admin).
#[utoipa::path(
    post, path = "/api/v1/orders/{id}/deliver", tag = "orders",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Order id")),
    responses(
        (status = 200, description = "Delivered", body = OrderStateView),
        (status = 403, description = "Not the admin", body = ErrorBody),
        (status = 404, description = "No such order", body = ErrorBody),
        (status = 409, description = "Not shipped", body = ErrorBody),
    )
)]
pub(crate) async fn deliver<St: ShopStore>(
    State(state): State<AppState<St>>,
    _admin: AdminCaller,
    context: RequestContext,
    Path(id): Path<String>,
) -> Result<Json<OrderStateView>, ApiError> {
    let id = checked_id("order", &id)?;
    state
        .shop
        .deliver_order(id, Some(context.correlation_id))
        .await?;
    Ok(Json(OrderStateView::from(&state.shop.order(id).await?)))
}
