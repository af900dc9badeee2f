//! Edge limits: a rate limit per client (GCRA from `governor`, default 60 requests per 60 s,
//! 429 with `Retry-After`) and a per-request timeout (503 `timeout` in the API's error body).
//!
//! A client is its peer IP address (from axum's `ConnectInfo`), or, when the server trusts a
//! proxy in front of it, the first address of `X-Forwarded-For`. Requests without either (an
//! in-process test) share one key.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::errors::ApiError;

/// How many requests a client may make per window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests per window (at least 1).
    pub requests: u32,
    /// The window.
    pub per: Duration,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            requests: 60,
            per: Duration::from_secs(60),
        }
    }
}

/// A keyed rate limiter: every client has its own budget.
pub struct ClientLimiter {
    limiter: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
    trust_forwarded_for: bool,
    checks: AtomicU64,
}

/// Every this many checks, clients whose budget is full again are forgotten, so a stream of
/// distinct addresses cannot grow the limiter's map without bound.
const FORGET_EVERY: u64 = 4096;

impl std::fmt::Debug for ClientLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientLimiter").finish_non_exhaustive()
    }
}

impl ClientLimiter {
    /// A limiter allowing `limit` per client: a burst of `limit.requests`, refilled evenly
    /// over `limit.per`.
    pub fn new(limit: RateLimit, trust_forwarded_for: bool) -> Self {
        let burst = NonZeroU32::new(limit.requests.max(1)).unwrap_or(NonZeroU32::MIN);
        let period = (limit.per / burst.get()).max(Duration::from_nanos(1));
        let quota = Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_second(burst))
            .allow_burst(burst);
        Self {
            limiter: RateLimiter::keyed(quota),
            clock: DefaultClock::default(),
            trust_forwarded_for,
            checks: AtomicU64::new(0),
        }
    }

    fn client(&self, req: &Request) -> String {
        if self.trust_forwarded_for {
            let forwarded = req
                .headers()
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .map(str::trim)
                .filter(|v| !v.is_empty() && v.len() <= 64);
            if let Some(address) = forwarded {
                return address.to_owned();
            }
        }
        req.extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map_or_else(|| "local".to_owned(), |info| info.0.ip().to_string())
    }

    /// `Ok` if the client may go on, else how many seconds it should wait.
    fn check(&self, client: &str) -> Result<(), u64> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % FORGET_EVERY == FORGET_EVERY - 1 {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        self.limiter
            .check_key(&client.to_owned())
            .map_err(|not_until| {
                let wait = not_until.wait_time_from(self.clock.now());
                wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
            })
    }
}

/// Middleware: 429 with `Retry-After` once the client's budget is spent.
pub async fn rate_limit(
    State(limiter): State<Arc<ClientLimiter>>,
    req: Request,
    next: Next,
) -> Response {
    let client = limiter.client(&req);
    match limiter.check(&client) {
        Ok(()) => next.run(req).await,
        Err(seconds) => {
            tracing::info!(%client, seconds, "rate limited");
            ApiError::rate_limited(seconds.max(1)).into_response()
        }
    }
}

/// Middleware: a request that takes longer than the configured timeout is answered with 503
/// `timeout` (its work is dropped; a command already committed stays committed).
pub async fn timeout(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            format!("the request took longer than {} ms", limit.as_millis()),
        )
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_client_has_its_own_budget_and_forgotten_clients_start_afresh() {
        let limit = RateLimit {
            requests: 2,
            per: Duration::from_secs(60),
        };
        let limiter = ClientLimiter::new(limit, false);
        assert!(limiter.check("a").is_ok() && limiter.check("a").is_ok());
        let wait = limiter.check("a").unwrap_err();
        assert!((1..=30).contains(&wait), "{wait}");
        assert!(limiter.check("b").is_ok());
        let quick = ClientLimiter::new(
            RateLimit {
                requests: 1,
                per: Duration::from_millis(1),
            },
            false,
        );
        for n in 1..FORGET_EVERY {
            let _ = quick.check(&format!("client-{n}"));
        }
        std::thread::sleep(Duration::from_millis(20));
        let _ = quick.check("the one that sweeps");
        assert!(
            quick.limiter.len() <= 1,
            "{} clients kept",
            quick.limiter.len()
        );
    }
}
