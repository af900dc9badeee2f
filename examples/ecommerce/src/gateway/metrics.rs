//! The gateway's `/metrics` (Prometheus text): what each upstream answered and where its
//! breaker stands.
//!
//! Series: `gateway_upstream_requests_total{service,outcome}` with outcome `ok` (below 400),
//! `client_error` (4xx, not a failure), `server_error` (5xx), `timeout`, `unreachable` (also
//! counted for a replica that could not be connected to before the next one took the
//! request), or `refused` (every replica's breaker was open: not sent);
//! `gateway_breaker_state{service,replica,state}`, 1 for the state the breaker is in (`closed`,
//! `open`, `half-open`) and 0 for the others.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::http::HeaderValue;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use prometheus::{Encoder, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};

use super::Gateway;
use super::breaker::BreakerState;
use crate::http::errors::ApiError;

/// How an upstream request ended, as counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Answered below 400.
    Ok,
    /// Answered 4xx.
    ClientError,
    /// Answered 5xx.
    ServerError,
    /// No answer within the upstream timeout.
    Timeout,
    /// No connection or no complete answer.
    Unreachable,
    /// Not sent: the breaker was open.
    Refused,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::ClientError => "client_error",
            Self::ServerError => "server_error",
            Self::Timeout => "timeout",
            Self::Unreachable => "unreachable",
            Self::Refused => "refused",
        }
    }
}

/// The gateway's registry.
#[derive(Debug)]
pub struct GatewayMetrics {
    registry: Registry,
    requests: IntCounterVec,
    breakers: IntGaugeVec,
}

impl GatewayMetrics {
    /// A registry with both series.
    ///
    /// # Errors
    /// A series that cannot be registered (a name clash: a bug).
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "gateway_upstream_requests_total",
                "Requests forwarded (or refused) per service and outcome",
            ),
            &["service", "outcome"],
        )?;
        let breakers = IntGaugeVec::new(
            Opts::new("gateway_breaker_state", "Each replica's circuit breaker"),
            &["service", "replica", "state"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(breakers.clone()))?;
        Ok(Self {
            registry,
            requests,
            breakers,
        })
    }

    /// Counts one request to `service`.
    pub fn count(&self, service: &str, outcome: Outcome) {
        self.requests
            .with_label_values(&[service, outcome.label()])
            .inc();
    }
}

/// `GET /metrics`.
pub async fn scrape(State(gateway): State<Arc<Gateway>>) -> Response {
    let metrics = &gateway.metrics;
    let now = Instant::now();
    for upstream in &gateway.upstreams {
        for replica in &upstream.replicas {
            let current = replica.breaker.state(now);
            for state in [
                BreakerState::Closed,
                BreakerState::Open,
                BreakerState::HalfOpen,
            ] {
                let labels = [upstream.name.as_str(), &replica.base_url, state.as_str()];
                metrics
                    .breakers
                    .with_label_values(&labels)
                    .set(i64::from(state == current));
            }
        }
    }
    let mut text = Vec::new();
    if let Err(error) = TextEncoder::new().encode(&metrics.registry.gather(), &mut text) {
        return ApiError::internal(error).into_response();
    }
    let mut response = text.into_response();
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    response
}
