//! Forwarding one request: the service that owns the path, the token check at the edge, a
//! replica whose breaker lets it through (the next one if it cannot connect) and its timeout,
//! then the request as it came (minus hop-by-hop headers, with `X-Forwarded-For` set to the
//! client's address) and the upstream's answer as it went.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::Gateway;
use super::metrics::Outcome;
use super::routes::{is_public, service_for};
use super::upstream::admit;
use crate::http::errors::{ApiError, no_route};

/// Headers that belong to one hop, never forwarded (RFC 9110 §7.6.1), and `Host`.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
];

/// The handler for every `/api/v1` path.
pub async fn forward(State(gateway): State<Arc<Gateway>>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    let Some(service) = service_for(&path) else {
        return no_route().await.into_response();
    };
    if !is_public(req.method(), &path)
        && let Err(error) = check_token(&gateway, req.headers())
    {
        return error.into_response();
    }
    let Some(upstream) = gateway.upstream(service) else {
        return ApiError::unavailable(format!("no upstream configured for {service}"))
            .into_response();
    };
    let client = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip().to_string());
    let (parts, body) = req.into_parts();
    // The edge's body limit already bounds what is buffered here.
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(error) => {
            return ApiError::bad_request("unreadable_body", error.to_string()).into_response();
        }
    };
    // The gateway is the edge: the client's own `X-Forwarded-For` is not believed.
    let mut headers = forwardable(&parts.headers);
    let forwarded_for = HeaderName::from_static("x-forwarded-for");
    headers.remove(&forwarded_for);
    if let Some(client) = client.and_then(|c| HeaderValue::from_str(&c).ok()) {
        headers.insert(forwarded_for, client);
    }
    let request = Outgoing {
        method: parts.method,
        path_and_query: parts
            .uri
            .path_and_query()
            .map_or(path, |p| p.as_str().to_owned()),
        headers,
        body,
    };
    let mut rotation = upstream.rotation();
    // The last replica that could not be connected to, if any was tried.
    let mut unconnected: Option<reqwest::Error> = None;
    loop {
        let (replica, permit) = match admit(&mut rotation, Instant::now()) {
            Ok(admitted) => admitted,
            Err(wait) => {
                if let Some(error) = unconnected {
                    return unreachable(service, &error, gateway.upstream_timeout);
                }
                gateway.metrics.count(service, Outcome::Refused);
                return open_circuit(service, wait.as_secs().max(1));
            }
        };
        match request.send(&gateway, &replica.base_url).await {
            Ok((status, headers, body)) => {
                let outcome = if status.is_server_error() {
                    permit.failed(Instant::now());
                    Outcome::ServerError
                } else {
                    permit.succeeded(Instant::now());
                    if status.is_client_error() {
                        Outcome::ClientError
                    } else {
                        Outcome::Ok
                    }
                };
                gateway.metrics.count(service, outcome);
                let mut response = Response::new(Body::from(body));
                *response.status_mut() = status;
                *response.headers_mut() = headers;
                return response;
            }
            Err(error) => {
                permit.failed(Instant::now());
                let outcome = if error.is_timeout() {
                    Outcome::Timeout
                } else {
                    Outcome::Unreachable
                };
                gateway.metrics.count(service, outcome);
                // Not connected: it never reached this replica, so the next one may take it.
                if error.is_connect() {
                    tracing::info!(%service, replica = %replica.base_url, "cannot connect; trying the next replica");
                    unconnected = Some(error);
                    continue;
                }
                return unreachable(service, &error, gateway.upstream_timeout);
            }
        }
    }
}

/// A request on its way to a replica.
struct Outgoing {
    method: Method,
    path_and_query: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Outgoing {
    /// Sends it to the replica at `base_url` within the upstream timeout: the answer's
    /// status, forwardable headers and body.
    async fn send(
        &self,
        gateway: &Gateway,
        base_url: &str,
    ) -> Result<(StatusCode, HeaderMap, Bytes), reqwest::Error> {
        let answer = gateway
            .client
            .request(
                self.method.clone(),
                format!("{base_url}{}", self.path_and_query),
            )
            .headers(self.headers.clone())
            .body(self.body.clone())
            .timeout(gateway.upstream_timeout)
            .send()
            .await?;
        let (status, headers) = (answer.status(), forwardable(answer.headers()));
        Ok((status, headers, answer.bytes().await?))
    }
}

/// 401 unless the request carries a valid bearer token (the service checks the role).
pub(super) fn check_token(gateway: &Gateway, headers: &HeaderMap) -> Result<(), ApiError> {
    let token = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| ApiError::unauthorized("a bearer token is required"))?;
    gateway.tokens.verify(token).map(drop)
}

/// The headers of `from` that may cross the gateway.
fn forwardable(from: &HeaderMap) -> HeaderMap {
    let mut headers = from.clone();
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
    headers
}

/// 503 `upstream_open` with `Retry-After`: the service's breaker is open.
fn open_circuit(service: &str, seconds: u64) -> Response {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "upstream_open",
        format!("the {service} service is failing; retry in {seconds} s"),
    )
    .with_details(json!({ "service": service, "retry_after_seconds": seconds }))
    .with_retry_after(seconds)
    .into_response()
}

/// 504 when the service did not answer in time, else 502; the detail is logged, not sent.
fn unreachable(service: &str, error: &reqwest::Error, limit: std::time::Duration) -> Response {
    tracing::warn!(%service, %error, "upstream request failed");
    let (status, code, message) = if error.is_timeout() {
        (
            StatusCode::GATEWAY_TIMEOUT,
            "upstream_timeout",
            format!(
                "the {service} service did not answer within {} ms",
                limit.as_millis()
            ),
        )
    } else {
        (
            StatusCode::BAD_GATEWAY,
            "upstream_unreachable",
            format!("the {service} service cannot be reached"),
        )
    };
    ApiError::new(status, code, message)
        .with_details(json!({ "service": service }))
        .into_response()
}
