//! Customers: register, log in (a bearer token), and read oneself.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::http::CustomerApi;
use crate::http::CustomerView;
use crate::http::auth::{AdminAccount, CustomerCaller, Role, TokenResponse};
use crate::http::errors::{ApiError, ApiJson, ErrorBody};
use crate::http::request_id::RequestContext;

/// A registration.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct RegisterBody {
    /// 3–50 characters.
    #[schema(example = "ada")]
    pub username: String,
    /// A valid address, not taken.
    #[schema(example = "ada@example.com")]
    pub email: String,
    /// At least 8 characters.
    #[schema(example = "correct horse battery")]
    pub password: String,
}

/// A login.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct LoginBody {
    /// The address registered with (or the admin's).
    #[schema(example = "ada@example.com")]
    pub email: String,
    /// The password.
    #[schema(example = "correct horse battery")]
    pub password: String,
}

/// Registers a customer.
#[utoipa::path(
    post, path = "/api/v1/customers", tag = "customers",
    request_body = RegisterBody,
    responses(
        (status = 201, description = "Registered", body = CustomerView),
        (status = 400, description = "Malformed", body = ErrorBody),
        (status = 409, description = "The address is taken", body = ErrorBody),
        (status = 422, description = "Invalid username, address or weak password", body = ErrorBody),
    )
)]
pub(crate) async fn register(
    State(state): State<CustomerApi>,
    context: RequestContext,
    ApiJson(body): ApiJson<RegisterBody>,
) -> Result<Response, ApiError> {
    let id = state
        .customers
        .register(
            &body.username,
            &body.email,
            &body.password,
            Some(context.correlation_id),
        )
        .await?;
    let customer = state.customers.get(&id).await?;
    let location = format!("/api/v1/customers/{id}");
    let view = CustomerView::new(&id, &customer);
    Ok(super::located(StatusCode::CREATED, location, view))
}

/// Logs in: a bearer token for a customer, or for the admin account.
#[utoipa::path(
    post, path = "/api/v1/customers/login", tag = "customers",
    request_body = LoginBody,
    responses(
        (status = 200, description = "A bearer token", body = TokenResponse),
        (status = 401, description = "Wrong address or password", body = ErrorBody),
    )
)]
pub(crate) async fn login(
    State(state): State<CustomerApi>,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Json<TokenResponse>, ApiError> {
    if state.admin.is(&body.email) {
        let admin = Arc::clone(&state.admin);
        let password = body.password;
        let ok = tokio::task::spawn_blocking(move || admin.verify(&password))
            .await
            .map_err(ApiError::internal)?;
        if !ok {
            return Err(invalid_credentials());
        }
        return state
            .tokens
            .issue(AdminAccount::SUBJECT, Role::Admin)
            .map(Json);
    }
    let customer_id = state.customers.login(&body.email, &body.password).await?;
    state.tokens.issue(&customer_id, Role::Customer).map(Json)
}

fn invalid_credentials() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
        "invalid credentials",
    )
}

/// The calling customer.
#[utoipa::path(
    get, path = "/api/v1/customers/me", tag = "customers",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller", body = CustomerView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not a customer token", body = ErrorBody),
    )
)]
pub(crate) async fn me(
    State(state): State<CustomerApi>,
    CustomerCaller(claims): CustomerCaller,
) -> Result<Json<CustomerView>, ApiError> {
    let customer = state.customers.get(&claims.sub).await?;
    Ok(Json(CustomerView::new(&claims.sub, &customer)))
}
