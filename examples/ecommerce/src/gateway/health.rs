//! The gateway's health: `/health/live` is the gateway itself; `/health/ready` asks every
//! replica's `/health/ready` at once (within the upstream timeout) and is 503 naming each
//! service none of whose replicas is ready (down, breaker open, or no answer).

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::breaker::BreakerState;
use super::{Gateway, Replica, Upstream};
use crate::http::health::readiness;
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
    readiness(checks)
}

/// A service is ready when one of its replicas is; the detail names each replica's state.
async fn check(gateway: &Gateway, upstream: &Upstream) -> CheckView {
    let replicas = futures::future::join_all(
        upstream
            .replicas
            .iter()
            .map(|replica| check_replica(gateway, replica)),
    )
    .await;
    let ok = replicas.iter().any(|(ok, _)| *ok);
    let details: Vec<String> = replicas.into_iter().map(|(_, detail)| detail).collect();
    CheckView {
        name: upstream.name.clone(),
        ok,
        detail: details.join("; "),
    }
}

async fn check_replica(gateway: &Gateway, replica: &Replica) -> (bool, String) {
    let at = &replica.base_url;
    let breaker = replica.breaker.state(Instant::now());
    if breaker == BreakerState::Open {
        return (false, format!("{at}: circuit breaker open"));
    }
    let answer = gateway
        .client
        .get(format!("{at}/health/ready"))
        .timeout(gateway.upstream_timeout)
        .send()
        .await;
    let (ok, state) = match answer {
        Ok(answer) if answer.status().is_success() => (true, "ready".to_owned()),
        Ok(answer) => (false, format!("not ready ({})", answer.status().as_u16())),
        Err(error) if error.is_timeout() => (false, "no answer in time".to_owned()),
        Err(_) => (false, "unreachable".to_owned()),
    };
    (ok, format!("{at}: {state}, breaker {}", breaker.as_str()))
}
