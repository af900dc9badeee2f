//! Products: the catalogue with available stock (public), and the admin's changes to it.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::checked_id;
use crate::app::Warehouse;
use crate::http::auth::AdminCaller;
use crate::http::errors::{ApiError, ApiJson, ErrorBody};
use crate::http::request_id::RequestContext;
use crate::http::{MoneyView, ProductView, WarehouseApi};

/// Paging of the catalogue.
#[derive(Clone, Copy, Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// At most this many, 1–100 (default 100).
    pub limit: Option<u32>,
    /// Skip this many (default 0).
    pub offset: Option<u32>,
}

/// A new product.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct NewProductBody {
    /// Its id (letters, digits, `-`, `_`, `.`; at most 128).
    #[schema(example = "prod-004")]
    pub id: String,
    /// Name.
    #[schema(example = "Monitor")]
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Unit price (above zero).
    pub price: MoneyView,
    /// Units on hand from the start.
    #[serde(default)]
    pub initial_stock: u32,
}

/// A new price.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct PriceBody {
    /// The new unit price (above zero).
    pub price: MoneyView,
}

/// Units arriving.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, ToSchema)]
pub struct StockBody {
    /// How many (at least 1).
    pub quantity: u32,
}

/// The catalogue, by product id.
#[utoipa::path(
    get, path = "/api/v1/products", tag = "products", params(Paging),
    responses(
        (status = 200, description = "Products with available stock", body = [ProductView]),
        (status = 400, description = "Bad paging", body = ErrorBody),
    )
)]
pub(crate) async fn list(
    State(WarehouseApi(warehouse)): State<WarehouseApi>,
    Query(paging): Query<Paging>,
) -> Result<Json<Vec<ProductView>>, ApiError> {
    let limit = super::page_limit(paging.limit, 100, 100)?;
    let rows = warehouse
        .products(limit, paging.offset.unwrap_or(0))
        .await?;
    Ok(Json(rows.into_iter().map(ProductView::from).collect()))
}

/// One product.
#[utoipa::path(
    get, path = "/api/v1/products/{id}", tag = "products",
    params(("id" = String, Path, description = "Product id")),
    responses(
        (status = 200, description = "The product", body = ProductView),
        (status = 404, description = "No such product", body = ErrorBody),
    )
)]
pub(crate) async fn get_one(
    State(WarehouseApi(warehouse)): State<WarehouseApi>,
    Path(id): Path<String>,
) -> Result<Json<ProductView>, ApiError> {
    let id = checked_id("product", &id)?;
    Ok(Json(warehouse.product(id).await?.into()))
}

/// The product as the view shows it after the admin's change (the shop's admin commands
/// return once the catalogue has caught up with them).
async fn fresh(warehouse: &dyn Warehouse, id: &str) -> Result<ProductView, ApiError> {
    Ok(warehouse.product(id).await?.into())
}

/// Adds a product (admin).
#[utoipa::path(
    post, path = "/api/v1/products", tag = "products",
    security(("bearer" = [])),
    request_body = NewProductBody,
    responses(
        (status = 201, description = "Added", body = ProductView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not the admin", body = ErrorBody),
        (status = 409, description = "The id is taken", body = ErrorBody),
        (status = 422, description = "Price not above zero, bad id", body = ErrorBody),
    )
)]
pub(crate) async fn add(
    State(WarehouseApi(warehouse)): State<WarehouseApi>,
    _admin: AdminCaller,
    context: RequestContext,
    ApiJson(body): ApiJson<NewProductBody>,
) -> Result<Response, ApiError> {
    let id = checked_id("product", &body.id)
        .map_err(|_| ApiError::unprocessable("invalid_id", "invalid product id"))?;
    if body.name.trim().is_empty() || body.name.chars().count() > 200 {
        return Err(ApiError::unprocessable(
            "rule_violated",
            "name must be 1 to 200 characters",
        ));
    }
    if warehouse.product(id).await.is_ok() {
        return Err(ApiError::conflict(
            "duplicate_product",
            format!("product {id} exists already"),
        ));
    }
    warehouse
        .add_product(
            id,
            body.name.trim(),
            &body.description,
            body.price.into(),
            body.initial_stock,
            Some(context.correlation_id),
        )
        .await?;
    let view = fresh(&*warehouse, id).await?;
    let location = format!("/api/v1/products/{id}");
    Ok(super::located(StatusCode::CREATED, location, view))
}

/// Changes a product's price (admin).
#[utoipa::path(
    put, path = "/api/v1/products/{id}/price", tag = "products",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Product id")),
    request_body = PriceBody,
    responses(
        (status = 200, description = "The product with its new price", body = ProductView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not the admin", body = ErrorBody),
        (status = 404, description = "No such product", body = ErrorBody),
        (status = 422, description = "Price not above zero", body = ErrorBody),
    )
)]
pub(crate) async fn change_price(
    State(WarehouseApi(warehouse)): State<WarehouseApi>,
    _admin: AdminCaller,
    context: RequestContext,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PriceBody>,
) -> Result<Json<ProductView>, ApiError> {
    let id = checked_id("product", &id)?;
    warehouse
        .change_price(id, body.price.into(), Some(context.correlation_id))
        .await?;
    Ok(Json(fresh(&*warehouse, id).await?))
}

/// Adds units of a product (admin).
#[utoipa::path(
    post, path = "/api/v1/products/{id}/stock", tag = "products",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Product id")),
    request_body = StockBody,
    responses(
        (status = 200, description = "The product with its new stock", body = ProductView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not the admin", body = ErrorBody),
        (status = 404, description = "No such product", body = ErrorBody),
        (status = 422, description = "Zero quantity or overflow", body = ErrorBody),
    )
)]
pub(crate) async fn add_stock(
    State(WarehouseApi(warehouse)): State<WarehouseApi>,
    _admin: AdminCaller,
    context: RequestContext,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<StockBody>,
) -> Result<Json<ProductView>, ApiError> {
    let id = checked_id("product", &id)?;
    warehouse
        .add_stock(id, body.quantity, Some(context.correlation_id))
        .await?;
    Ok(Json(fresh(&*warehouse, id).await?))
}
