//! Every error the API returns, as `{"error": {"code", "message", "details"}}` with a fitting
//! status: 400 malformed, 401/403 auth, 404 unknown, 409 conflict or illegal transition, 422
//! rule violated, 429 rate limited, 503 dependency down. Domain errors map here, in one place;
//! infrastructure detail is logged, never sent.

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use eventcore::StoreError;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::app::ShopError;
use crate::customer::CustomerError;
use crate::inventory::InventoryError;
use crate::order::OrderError;
use crate::payment::PaymentError;

/// The JSON body of every error response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong: a stable code, a sentence for people, and structured details.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable, machine-readable code (`not_found`, `illegal_transition`, ...).
    pub code: String,
    /// A human-readable message.
    pub message: String,
    /// Structured context (may be empty).
    #[schema(value_type = Object)]
    pub details: Value,
}

/// An API error: a status, a code, a message and details. Build it with the constructors;
/// it turns into the JSON error response.
#[derive(Clone, Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    details: Value,
    retry_after: Option<u64>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    /// An error with `status`, `code` and `message`, without details.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: json!({}),
            retry_after: None,
        }
    }

    /// The same error with `details`.
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    /// 400: the request cannot be understood.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 401: no valid credentials.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403: valid credentials, not allowed.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404: no `what` with this `id`.
    pub fn not_found(what: &str, id: &str) -> Self {
        let shown: String = id.chars().take(64).collect();
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
        .with_details(json!({ "resource": what, "id": shown }))
    }

    /// 409: the state of the resource does not allow it.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// 422: well-formed, but a business rule says no.
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    /// The same error with `Retry-After: seconds`.
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// 429 with `Retry-After: seconds`.
    pub fn rate_limited(seconds: u64) -> Self {
        let error = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many requests; retry in {seconds} s"),
        )
        .with_details(json!({ "retry_after_seconds": seconds }));
        error.with_retry_after(seconds)
    }

    /// 503: a dependency (the store, a broker) is down; the detail is logged, not sent.
    pub fn unavailable(detail: impl std::fmt::Display) -> Self {
        tracing::warn!(%detail, "dependency unavailable");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "a dependency is unavailable; retry later",
        )
    }

    /// 500: a bug or corrupt data; the detail is logged, not sent.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(%detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The error code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The body this error is sent as.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message.clone(),
                details: self.details.clone(),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body())).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<OrderError> for ApiError {
    fn from(error: OrderError) -> Self {
        let message = error.to_string();
        match error {
            OrderError::IllegalTransition { action, status } => {
                Self::conflict("illegal_transition", message)
                    .with_details(json!({ "action": action, "status": status.to_string() }))
            }
            OrderError::UnknownProduct(product) => Self::unprocessable("unknown_product", message)
                .with_details(json!({ "product_id": product })),
            _ => Self::unprocessable("rule_violated", message),
        }
    }
}

impl From<InventoryError> for ApiError {
    fn from(error: InventoryError) -> Self {
        let message = error.to_string();
        match error {
            InventoryError::UnknownProduct(id) => Self::not_found("product", &id),
            InventoryError::DuplicateProduct(_) => Self::conflict("duplicate_product", message),
            InventoryError::NotReserved { .. } => Self::conflict("illegal_transition", message),
            _ => Self::unprocessable("rule_violated", message),
        }
    }
}

impl From<CustomerError> for ApiError {
    fn from(error: CustomerError) -> Self {
        let message = error.to_string();
        match error {
            CustomerError::EmailTaken(_) => Self::conflict("email_taken", message),
            CustomerError::AlreadyRegistered | CustomerError::AlreadyActive => {
                Self::conflict("conflict", message)
            }
            CustomerError::NotRegistered => Self::new(StatusCode::NOT_FOUND, "not_found", message),
            CustomerError::Inactive => Self::forbidden(message),
            _ => Self::unprocessable("rule_violated", message),
        }
    }
}

impl From<PaymentError> for ApiError {
    fn from(error: PaymentError) -> Self {
        let message = error.to_string();
        match error {
            PaymentError::AlreadyPaid(_) | PaymentError::NotPaid(_) => {
                Self::conflict("illegal_transition", message)
            }
            _ => Self::unprocessable("rule_violated", message),
        }
    }
}

impl From<ShopError> for ApiError {
    fn from(error: ShopError) -> Self {
        let message = error.to_string();
        match error {
            ShopError::Invalid(_) => Self::bad_request("invalid_request", message),
            ShopError::InvalidCredentials => {
                Self::new(StatusCode::UNAUTHORIZED, "invalid_credentials", message)
            }
            ShopError::NotFound { what, id } => Self::not_found(what, &id),
            ShopError::Order(rule) => rule.into(),
            ShopError::Inventory(rule) => rule.into(),
            ShopError::Payment(rule) => rule.into(),
            ShopError::Customer(rule) => rule.into(),
            ShopError::IdempotencyKeyReused { key, order_id } => {
                Self::unprocessable("idempotency_key_reused", message)
                    .with_details(json!({ "idempotency_key": key, "order_id": order_id }))
            }
            ShopError::Unavailable { .. } => Self::unavailable(message),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        Self::unavailable(error)
    }
}

/// `axum::Json` whose rejections are API errors: malformed JSON and wrong shapes are 400, a
/// missing `Content-Type: application/json` is 415, an oversized body 413.
#[derive(Clone, Copy, Debug, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

fn json_rejection(rejection: &JsonRejection) -> ApiError {
    let text = rejection.body_text();
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "expected Content-Type: application/json",
        ),
        _ if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => payload_too_large(),
        _ => ApiError::bad_request("malformed_json", text),
    }
}

fn payload_too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "the request body is larger than the limit",
    )
}

/// The code an error status without a JSON body gets.
fn code_for(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        408 => "timeout",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        422 => "unprocessable",
        429 => "rate_limited",
        503 => "unavailable",
        500..=599 => "internal",
        _ => "error",
    }
}

/// Middleware: an error response that is not JSON yet (a rejection of axum's own extractors,
/// a 405, a 413 from the body limit) gets the API's error body; its status and headers stay.
pub async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_lowercase()
    } else {
        text
    };
    let error = ApiError::new(status, code_for(status), message);
    let bytes = serde_json::to_vec(&error.body()).unwrap_or_default();
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    parts
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Response::from_parts(parts, Body::from(bytes))
}

/// The fallback for paths no route matches: 404 in the API's error body.
pub async fn no_route() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::Status;

    #[test]
    fn illegal_transitions_are_conflicts_and_unknown_products_are_rule_violations() {
        let illegal = ApiError::from(OrderError::IllegalTransition {
            action: "ship",
            status: Status::Pending,
        });
        assert_eq!(illegal.status(), StatusCode::CONFLICT);
        assert_eq!(illegal.message(), "cannot ship an order in status pending");
        let unknown = ApiError::from(OrderError::UnknownProduct("nope".into()));
        assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(unknown.code(), "unknown_product");
    }

    #[test]
    fn store_failures_are_unavailable_without_their_detail() {
        let error = ApiError::unavailable("connection refused to /secret/path");
        assert_eq!(error.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(!error.message().contains("secret"));
    }
}
