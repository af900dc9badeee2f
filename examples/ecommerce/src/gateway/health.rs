//! The gateway's health: `/health/live` is the gateway itself; `/health/ready` asks every
//! service's `/health/ready` at once (within the upstream timeout) and is 503 naming each
//! service that is down, whose breaker is open, or that did not answer.

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::breaker::BreakerState;
use super::{Gateway, Upstream};
use crate::http::ops_views::{CheckView, HealthView};

/// `GET /health/ready`: one check per service.
pub async fn ready(State(gateway): State<Arc<Gateway>>) -> (StatusCode, Json<HealthView>) {
    let checks = futures::future::join_all(
        gateway
            .upstreams
            .iter()
            .map(|upstream| check(&gateway, upstream)),
    )
    .await;
    let ok = checks.iter().all(|c| c.ok);
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = HealthView {
        status: if ok { "ok" } else { "unavailable" }.into(),
        checks,
    };
    (status, Json(body))
}

async fn check(gateway: &Gateway, upstream: &Upstream) -> CheckView {
    let name = upstream.name.clone();
    let breaker = upstream.breaker.state(Instant::now());
    if breaker == BreakerState::Open {
        return CheckView {
            name,
            ok: false,
            detail: "circuit breaker open".into(),
        };
    }
    let url = format!("{}/health/ready", upstream.base_url);
    let answer = gateway
        .client
        .get(&url)
        .timeout(gateway.upstream_timeout)
        .send()
        .await;
    let (ok, detail) = match answer {
        Ok(answer) if answer.status().is_success() => (true, "ready".to_owned()),
        Ok(answer) => (false, format!("not ready ({})", answer.status().as_u16())),
        Err(error) if error.is_timeout() => (false, "no answer in time".to_owned()),
        Err(_) => (false, "unreachable".to_owned()),
    };
    let detail = format!("{detail}; breaker {}", breaker.as_str());
    CheckView { name, ok, detail }
}
