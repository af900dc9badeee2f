//! The `/api/v1` endpoints, one file per resource.

pub(crate) mod customers;
pub(crate) mod fulfilment;
pub(crate) mod inventory;
pub(crate) mod operations;
pub(crate) mod orders;
pub(crate) mod products;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};

use std::sync::Arc;

use axum::extract::FromRef;

use super::auth::Tokens;
use super::errors::ApiError;
use super::{AppState, CustomerApi, WarehouseApi};
use crate::app::ShopStore;

/// The customer context's routes, for any state that holds a [`CustomerApi`] and the tokens
/// (the embedded shop's, or a customer service's).
pub(crate) fn customers<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    CustomerApi: FromRef<S>,
    Arc<Tokens>: FromRef<S>,
{
    Router::new()
        .route("/api/v1/customers", post(customers::register))
        .route("/api/v1/customers/login", post(customers::login))
        .route("/api/v1/customers/me", get(customers::me))
}

/// The inventory context's routes (the catalogue, the admin's changes to it, the ledger), for
/// any state that holds a [`WarehouseApi`] and the tokens (the embedded shop's, or an
/// inventory service's).
pub(crate) fn warehouse<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    WarehouseApi: FromRef<S>,
    Arc<Tokens>: FromRef<S>,
{
    Router::new()
        .route("/api/v1/products", get(products::list).post(products::add))
        .route("/api/v1/products/{id}", get(products::get_one))
        .route("/api/v1/products/{id}/price", put(products::change_price))
        .route("/api/v1/products/{id}/stock", post(products::add_stock))
        .route("/api/v1/inventory/stock", get(inventory::stock))
        .route(
            "/api/v1/inventory/reservations/{order_id}",
            get(inventory::reservation),
        )
}

/// Every `/api/v1` route (the OpenAPI document is served beside them, unlimited).
pub(crate) fn api<St: ShopStore>() -> Router<AppState<St>> {
    customers::<AppState<St>>()
        .merge(warehouse::<AppState<St>>())
        .route(
            "/api/v1/orders",
            get(orders::list::<St>).post(orders::place::<St>),
        )
        .route("/api/v1/orders/{id}", get(orders::get_one::<St>))
        .route("/api/v1/orders/{id}/history", get(orders::history::<St>))
        .route("/api/v1/orders/{id}/cancel", post(orders::cancel::<St>))
        .route("/api/v1/orders/{id}/ship", post(fulfilment::ship::<St>))
        .route(
            "/api/v1/orders/{id}/deliver",
            post(fulfilment::deliver::<St>),
        )
        .route("/api/v1/orders/{id}/payment", get(orders::payment::<St>))
        .route("/api/v1/analytics", get(operations::analytics::<St>))
        .route("/api/v1/sagas", get(operations::sagas::<St>))
        .route("/api/v1/sagas/{id}", get(operations::saga::<St>))
        .route(
            "/api/v1/sagas/{id}/retry",
            post(operations::retry_saga::<St>),
        )
        .route(
            "/api/v1/unfinished-sagas",
            get(operations::unfinished_sagas::<St>),
        )
        .route("/api/v1/dead-letters", get(operations::dead_letters::<St>))
        .route("/api/v1/read-models", get(operations::read_models::<St>))
        .route(
            "/api/v1/read-models/{name}",
            get(operations::read_model::<St>),
        )
        .route(
            "/api/v1/read-models/{name}/rebuild",
            post(operations::rebuild::<St>),
        )
}

/// The longest id the API accepts in a path.
pub(crate) const MAX_ID_LEN: usize = 128;

/// `id` if it can name something: 1–128 ASCII letters, digits, `-`, `_` or `.`, and not a
/// dot-only name. Anything else (very long, unicode, `../`) names nothing: 404 for `what`.
pub(crate) fn checked_id<'a>(what: &str, id: &'a str) -> Result<&'a str, ApiError> {
    let ok = (1..=MAX_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !id.bytes().all(|b| b == b'.');
    if ok {
        Ok(id)
    } else {
        Err(ApiError::not_found(what, id))
    }
}

/// The page size asked for (`default` without one); 400 `invalid_query` outside 1 to `max`.
pub(crate) fn page_limit<T>(asked: Option<T>, default: T, max: T) -> Result<T, ApiError>
where
    T: Copy + PartialOrd + From<u8> + std::fmt::Display,
{
    let limit = asked.unwrap_or(default);
    if limit < T::from(1) || limit > max {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("limit must be 1 to {max}"),
        ));
    }
    Ok(limit)
}

/// A `status` reply (201 Created, 202 Accepted) whose `Location` names the resource, with
/// `body`.
pub(crate) fn located(
    status: StatusCode,
    location: String,
    body: impl serde::Serialize,
) -> Response {
    (status, [(header::LOCATION, location)], Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::checked_id;

    #[test]
    fn hostile_ids_name_nothing() {
        for bad in ["", "..", "../etc/passwd", "ordér", "a b", &"x".repeat(129)] {
            assert!(checked_id("order", bad).is_err(), "{bad}");
        }
        assert_eq!(checked_id("order", "prod-001").unwrap(), "prod-001");
    }
}
