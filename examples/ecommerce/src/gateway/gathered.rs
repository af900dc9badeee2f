//! The lists the gateway gathers from every service, the operator's view across processes:
//! `GET /api/v1/dead-letters` (what `load --url` checks is empty) and `GET /api/v1/read-models`
//! (each service's read models, which `load --url` waits to catch up). Each service is asked
//! once, at a replica whose breaker is not open (its replicas share their store and their
//! broker queues); a service that has no such endpoint (404) has none to show.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::State;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::Gateway;
use super::breaker::BreakerState;
use crate::http::errors::ApiError;

/// `GET /api/v1/dead-letters`: every service's, concatenated.
pub async fn dead_letters(State(gateway): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    gather(&gateway, &headers, "/api/v1/dead-letters", "dead letters").await
}

/// `GET /api/v1/read-models`: every service's, concatenated.
pub async fn read_models(State(gateway): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    gather(&gateway, &headers, "/api/v1/read-models", "read models").await
}

/// Every service's JSON array at `path` (`what` in errors), concatenated.
async fn gather(gateway: &Gateway, headers: &HeaderMap, path: &str, what: &str) -> Response {
    if let Err(error) = super::proxy::check_token(gateway, headers) {
        return error.into_response();
    }
    let mut asked = BTreeSet::new();
    let mut items: Vec<Value> = Vec::new();
    for upstream in &gateway.upstreams {
        let now = Instant::now();
        let replica = upstream
            .replicas
            .iter()
            .find(|r| r.breaker.state(now) != BreakerState::Open);
        let Some(replica) = replica else {
            return failed(
                what,
                &upstream.name,
                "every replica's circuit breaker is open",
            );
        };
        // One process may serve several services (the embedded shop): ask it once.
        if !asked.insert(replica.base_url.clone()) {
            continue;
        }
        let mut request = gateway
            .client
            .get(format!("{}{path}", replica.base_url))
            .timeout(gateway.upstream_timeout);
        if let Some(token) = headers.get(AUTHORIZATION) {
            request = request.header(AUTHORIZATION, token);
        }
        let answer = match request.send().await {
            Ok(answer) => answer,
            Err(error) => return failed(what, &upstream.name, &error.to_string()),
        };
        match answer.status().as_u16() {
            200 => match answer.json::<Vec<Value>>().await {
                Ok(found) => items.extend(found),
                Err(error) => return failed(what, &upstream.name, &error.to_string()),
            },
            404 => {}
            status @ (401 | 403) => {
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN);
                return ApiError::new(status, "forbidden", "not allowed by a service")
                    .into_response();
            }
            status => return failed(what, &upstream.name, &format!("answered {status}")),
        }
    }
    Json(items).into_response()
}

/// 502 naming the service whose `what` could not be read.
fn failed(what: &str, service: &str, why: &str) -> Response {
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        "bad_gateway",
        format!("cannot read the {what} of {service}: {why}"),
    )
    .into_response()
}
