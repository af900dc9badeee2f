//! The inventory's own figures (admin): every product's stock ledger and an order's
//! reservation, read from the inventory aggregate, for consistency checks such as the load
//! run's stock conservation.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use utoipa::IntoParams;

use super::checked_id;
use crate::http::WarehouseApi;
use crate::http::auth::AdminCaller;
use crate::http::errors::{ApiError, ErrorBody};
use crate::http::inventory_views::{ReservationView, StockLedgerView};

/// Paging of the ledger.
#[derive(Clone, Copy, Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LedgerPaging {
    /// At most this many, 1–1000 (default 100).
    pub limit: Option<usize>,
    /// Skip this many (default 0).
    pub offset: Option<usize>,
}

/// Every product's stock ledger, by product id (admin).
#[utoipa::path(
    get, path = "/api/v1/inventory/stock", tag = "operations",
    security(("bearer" = [])), params(LedgerPaging),
    responses(
        (status = 200, description = "Ledgers", body = [StockLedgerView]),
        (status = 400, description = "Bad paging", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not the admin", body = ErrorBody),
    )
)]
pub(crate) async fn stock(
    State(WarehouseApi(warehouse)): State<WarehouseApi>,
    _admin: AdminCaller,
    Query(paging): Query<LedgerPaging>,
) -> Result<Json<Vec<StockLedgerView>>, ApiError> {
    let limit = super::page_limit(paging.limit, 100, 1000)?;
    let inventory = warehouse.ledger().await?;
    let page = inventory
        .products
        .iter()
        .skip(paging.offset.unwrap_or(0))
        .take(limit)
        .map(|(id, stock)| StockLedgerView::new(id, stock))
        .collect();
    Ok(Json(page))
}

/// An order's reservation (admin).
#[utoipa::path(
    get, path = "/api/v1/inventory/reservations/{order_id}", tag = "operations",
    security(("bearer" = [])),
    params(("order_id" = String, Path, description = "Order id")),
    responses(
        (status = 200, description = "The reservation", body = ReservationView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not the admin", body = ErrorBody),
        (status = 404, description = "No reservation for this order", body = ErrorBody),
    )
)]
pub(crate) async fn reservation(
    State(WarehouseApi(warehouse)): State<WarehouseApi>,
    _admin: AdminCaller,
    Path(order_id): Path<String>,
) -> Result<Json<ReservationView>, ApiError> {
    let id = checked_id("reservation", &order_id)?;
    let inventory = warehouse.ledger().await?;
    inventory
        .reservations
        .get(id)
        .map(|reservation| Json(ReservationView::new(id, reservation)))
        .ok_or_else(|| ApiError::not_found("reservation", id))
}
