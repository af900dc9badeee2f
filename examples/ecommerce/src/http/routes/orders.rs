//! Orders: place (202, idempotent with `Idempotency-Key`), read, list, history with time
//! travel, cancel; payments by order (the admin's shipping is in `fulfilment`). Customers see
//! only their own orders: another customer's order is 404, as if it did not exist.

use crate::app::ShopStore;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::checked_id;
use crate::app::{PlaceOrderRequest, ShopError};
use crate::http::auth::{Caller, Claims, CustomerCaller};
use crate::http::errors::{ApiError, ApiJson, ErrorBody};
use crate::http::request_id::RequestContext;
use crate::http::time;
use crate::http::{
    AppState, HistoryEventView, LineView, OrderAccepted, OrderHistoryView, OrderPage,
    OrderStateView, OrderView, PaymentView,
};
use crate::money::Money;
use crate::order::{Order, RequestedItem};
use crate::readmodels::history::HistoryEntry;
use crate::readmodels::orders::{OrderFilter, OrderRow};

/// One item asked for: a product and how many, never a price.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ItemBody {
    /// The product.
    #[schema(example = "prod-002")]
    pub product_id: String,
    /// How many (1–1000).
    #[schema(example = 1)]
    pub quantity: u32,
}

/// An order to place.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct PlaceOrderBody {
    /// 1–50 distinct products.
    pub items: Vec<ItemBody>,
}

/// Why an order is cancelled.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct CancelBody {
    /// The reason (optional).
    pub reason: Option<String>,
}

/// Which orders to list.
#[derive(Clone, Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderQuery {
    /// Only this customer's (customers: only their own id).
    pub customer: Option<String>,
    /// Only in this status.
    pub status: Option<String>,
    /// Placed at or after (`YYYY-MM-DD` or RFC 3339 UTC).
    pub from: Option<String>,
    /// Placed before (`YYYY-MM-DD` or RFC 3339 UTC).
    pub to: Option<String>,
    /// At most this many, 1–100 (default 10).
    pub limit: Option<u32>,
    /// Skip this many (default 0).
    pub offset: Option<u32>,
}

/// Time travel.
#[derive(Clone, Copy, Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Show the events and state up to this version (from 1; default: the latest).
    pub as_of: Option<u64>,
}

const STATUSES: [&str; 5] = ["pending", "confirmed", "shipped", "delivered", "cancelled"];
/// The idempotency key header.
const IDEMPOTENCY_KEY: &str = "idempotency-key";

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()));
    match key {
        Some(key) => Ok(Some(key.to_owned())),
        None => Err(ApiError::bad_request(
            "invalid_idempotency_key",
            "Idempotency-Key must be 1 to 255 visible ASCII characters",
        )),
    }
}

/// The order `id` if the caller may see it (404 otherwise, as for an unknown order).
async fn visible_order<St: ShopStore>(
    state: &AppState<St>,
    caller: &Claims,
    id: &str,
) -> Result<Order, ApiError> {
    let id = checked_id("order", id)?;
    let order = state.shop.order(id).await?;
    if caller.may_see(&order.customer_id) {
        Ok(order)
    } else {
        Err(ApiError::not_found("order", id))
    }
}

/// Places an order for the calling customer (202: the order saga takes it from here).
#[utoipa::path(
    post, path = "/api/v1/orders", tag = "orders",
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header,
        description = "Retries with the same key and items return the same order; the same key \
                       with other items is 422 idempotency_key_reused")),
    request_body = PlaceOrderBody,
    responses(
        (status = 202, description = "Accepted", body = OrderAccepted),
        (status = 400, description = "Malformed", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not a customer", body = ErrorBody),
        (status = 422, description = "Unknown product, quantities, item count; Idempotency-Key reused with other items", body = ErrorBody),
    )
)]
pub(crate) async fn place<St: ShopStore>(
    State(state): State<AppState<St>>,
    CustomerCaller(claims): CustomerCaller,
    context: RequestContext,
    headers: HeaderMap,
    ApiJson(body): ApiJson<PlaceOrderBody>,
) -> Result<Response, ApiError> {
    let request = PlaceOrderRequest {
        customer_id: claims.sub,
        items: body
            .items
            .into_iter()
            .map(|item| RequestedItem {
                product_id: item.product_id,
                quantity: item.quantity,
            })
            .collect(),
        idempotency_key: idempotency_key(&headers)?,
    };
    let placed = state
        .shop
        .place_order(request, Some(context.correlation_id))
        .await?;
    let location = format!("/api/v1/orders/{}", placed.order_id);
    let accepted = OrderAccepted {
        order_id: placed.order_id,
        location: location.clone(),
    };
    Ok(super::located(StatusCode::ACCEPTED, location, accepted))
}

/// Orders, newest first (customers: their own).
#[utoipa::path(
    get, path = "/api/v1/orders", tag = "orders",
    security(("bearer" = [])), params(OrderQuery),
    responses(
        (status = 200, description = "A page of orders", body = OrderPage),
        (status = 400, description = "Bad filter", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Another customer's orders", body = ErrorBody),
    )
)]
pub(crate) async fn list<St: ShopStore>(
    State(state): State<AppState<St>>,
    Caller(claims): Caller,
    Query(query): Query<OrderQuery>,
) -> Result<Json<OrderPage>, ApiError> {
    let invalid = |message: &str| ApiError::bad_request("invalid_query", message.to_owned());
    let limit = super::page_limit(query.limit, 10, 100)?;
    if query
        .status
        .as_deref()
        .is_some_and(|s| !STATUSES.contains(&s))
    {
        return Err(invalid(
            "status must be pending, confirmed, shipped, delivered or cancelled",
        ));
    }
    let date = |text: &Option<String>| match text {
        None => Ok(None),
        Some(text) => time::parse(text)
            .map(Some)
            .ok_or_else(|| invalid("from and to are YYYY-MM-DD or RFC 3339 UTC times")),
    };
    let customer_id = if claims.is_admin() {
        query.customer.clone()
    } else if query.customer.as_ref().is_some_and(|c| *c != claims.sub) {
        return Err(ApiError::forbidden("customers see only their own orders"));
    } else {
        Some(claims.sub.clone())
    };
    let offset = query.offset.unwrap_or(0);
    let filter = OrderFilter {
        customer_id,
        status: query.status.clone(),
        from: date(&query.from)?,
        to: date(&query.to)?,
        limit: Some(limit),
        offset: Some(offset),
    };
    let rows = state.shop.orders(&filter).await?;
    Ok(Json(OrderPage {
        orders: rows.into_iter().map(OrderView::from).collect(),
        limit,
        offset,
    }))
}

/// How long to wait for an order still in progress.
#[derive(Clone, Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WaitQuery {
    /// Seconds (0–4) to wait, if the order is not yet confirmed or cancelled, for it to be
    /// before answering (a long poll: the answer comes as soon as it is, or when the time is
    /// up, with the order as it is then). Without it, or 0, the answer is immediate.
    pub wait: Option<u64>,
}

/// The longest long poll of `GET /api/v1/orders/{id}?wait=`, in seconds: below the gateway's
/// default upstream timeout (5 s).
pub const MAX_WAIT_SECS: u64 = 4;

/// One order, from the order view (an order the view has not caught up with yet is read from
/// its own events); with `?wait=`, a long poll until it is confirmed or cancelled.
#[utoipa::path(
    get, path = "/api/v1/orders/{id}", tag = "orders",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Order id"), WaitQuery),
    responses(
        (status = 200, description = "The order", body = OrderView),
        (status = 400, description = "wait is over 4 s", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such order (or not yours)", body = ErrorBody),
    )
)]
pub(crate) async fn get_one<St: ShopStore>(
    State(state): State<AppState<St>>,
    Caller(claims): Caller,
    Path(id): Path<String>,
    Query(query): Query<WaitQuery>,
) -> Result<Json<OrderView>, ApiError> {
    let id = checked_id("order", &id)?;
    let wait = match query.wait {
        Some(secs) if secs > MAX_WAIT_SECS => {
            let message = format!("wait is at most {MAX_WAIT_SECS} seconds");
            return Err(ApiError::bad_request("invalid_query", message));
        }
        wait => Duration::from_secs(wait.unwrap_or(0)),
    };
    if wait.is_zero() {
        return current(&state, &claims, id).await.map(Json);
    }
    // Before waiting, only whether the caller may see the order and whether the view has it
    // settled already (a just placed order is not in the view yet: its own stream says whose
    // it is); the answer is read once, after the wait.
    match state.shop.order_view(id).await {
        Ok(row) => {
            let order = OrderView::from(owned(&claims, id, row)?);
            if order.is_settled() {
                return Ok(Json(order));
            }
        }
        Err(ShopError::NotFound { .. }) => drop(visible_order(&state, &claims, id).await?),
        Err(other) => return Err(other.into()),
    }
    // Settled or not when the time is up: the order as it is now.
    state.shop.wait_for_settled_view(id, wait).await?;
    current(&state, &claims, id).await.map(Json)
}

/// The order as the order view has it now, or from its own events before the view has it.
async fn current<St: ShopStore>(
    state: &AppState<St>,
    claims: &Claims,
    id: &str,
) -> Result<OrderView, ApiError> {
    match state.shop.order_view(id).await {
        Ok(row) => owned(claims, id, row).map(OrderView::from),
        Err(ShopError::NotFound { .. }) => from_events(state, claims, id).await,
        Err(other) => Err(other.into()),
    }
}

/// `row` if the caller may see it (an admin, or its customer), otherwise the 404 of `id`.
fn owned(claims: &Claims, id: &str, row: OrderRow) -> Result<OrderRow, ApiError> {
    if claims.may_see(&row.customer_id) {
        Ok(row)
    } else {
        Err(ApiError::not_found("order", id))
    }
}

/// An order the order view has not caught up with yet (just placed), from its own events:
/// payment and reservation read `none` until the view knows better.
async fn from_events<St: ShopStore>(
    state: &AppState<St>,
    claims: &Claims,
    id: &str,
) -> Result<OrderView, ApiError> {
    let order = visible_order(state, claims, id).await?;
    let (events, _) = state.shop.order_history(id, None).await?;
    let at = |entry: Option<&HistoryEntry>| {
        entry.map_or_else(String::new, |e| time::rfc3339(e.recorded_at))
    };
    Ok(OrderView {
        id: id.to_owned(),
        customer_id: order.customer_id.clone(),
        status: order.status.to_string(),
        items: order.lines.iter().map(LineView::from).collect(),
        total: order.total.unwrap_or(Money::usd(0)).into(),
        payment_status: "none".into(),
        inventory_status: "none".into(),
        cancellation_reason: order.cancellation_reason.clone(),
        created_at: at(events.first()),
        updated_at: at(events.last()),
    })
}

/// An order's events and its state as of a version.
#[utoipa::path(
    get, path = "/api/v1/orders/{id}/history", tag = "orders",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Order id"), HistoryQuery),
    responses(
        (status = 200, description = "Events and state", body = OrderHistoryView),
        (status = 400, description = "as_of is 0", body = ErrorBody),
        (status = 404, description = "No such order (or not yours)", body = ErrorBody),
    )
)]
pub(crate) async fn history<St: ShopStore>(
    State(state): State<AppState<St>>,
    Caller(claims): Caller,
    Path(id): Path<String>,
    Query(query): Query<HistoryQuery>,
) -> Result<Json<OrderHistoryView>, ApiError> {
    if query.as_of == Some(0) {
        return Err(ApiError::bad_request("invalid_query", "as_of starts at 1"));
    }
    // One read of the stream: the history's own state says whose order it is (set by its
    // first event, so the same at every version shown).
    let id = checked_id("order", &id)?;
    let (events, as_of) = state.shop.order_history(id, query.as_of).await?;
    if !claims.may_see(&as_of.customer_id) {
        return Err(ApiError::not_found("order", id));
    }
    let latest = events.last().map_or(0, |e| e.version);
    let version = query.as_of.map_or(latest, |v| v.min(latest));
    let shown: Vec<_> = events.iter().filter(|e| e.version <= version).collect();
    Ok(Json(OrderHistoryView {
        order_id: id.to_owned(),
        version,
        events: shown.into_iter().map(HistoryEventView::from).collect(),
        state: OrderStateView::from(&as_of),
    }))
}

/// Cancels an order (customers: their own; pending or confirmed). Stock and money come back.
#[utoipa::path(
    post, path = "/api/v1/orders/{id}/cancel", tag = "orders",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Order id")),
    request_body(content = CancelBody, description = "An optional reason (the body may be empty)"),
    responses(
        (status = 200, description = "Cancelled", body = OrderStateView),
        (status = 404, description = "No such order (or not yours)", body = ErrorBody),
        (status = 409, description = "Shipped, delivered or cancelled already", body = ErrorBody),
    )
)]
pub(crate) async fn cancel<St: ShopStore>(
    State(state): State<AppState<St>>,
    Caller(claims): Caller,
    context: RequestContext,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<OrderStateView>, ApiError> {
    let id = checked_id("order", &id)?;
    let body: CancelBody = if body.iter().all(u8::is_ascii_whitespace) {
        CancelBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request("malformed_json", e.to_string()))?
    };
    let who = if claims.is_admin() {
        "the admin"
    } else {
        "the customer"
    };
    let reason = body
        .reason
        .map(|r| r.chars().take(500).collect::<String>())
        .filter(|r| !r.trim().is_empty())
        .unwrap_or_else(|| format!("cancelled by {who}"));
    let owner = (!claims.is_admin()).then_some(claims.sub.as_str());
    state
        .shop
        .cancel_order(id, owner, &reason, Some(context.correlation_id))
        .await?;
    Ok(Json(OrderStateView::from(&state.shop.order(id).await?)))
}

/// An order's payment.
#[utoipa::path(
    get, path = "/api/v1/orders/{id}/payment", tag = "payments",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Order id")),
    responses(
        (status = 200, description = "The payment", body = PaymentView),
        (status = 404, description = "No such order (or not yours), or no charge yet", body = ErrorBody),
    )
)]
pub(crate) async fn payment<St: ShopStore>(
    State(state): State<AppState<St>>,
    Caller(claims): Caller,
    Path(id): Path<String>,
) -> Result<Json<PaymentView>, ApiError> {
    visible_order(&state, &claims, &id).await?;
    let payment = state.shop.payment(&id).await?;
    Ok(Json(PaymentView::new(&id, &payment)))
}
