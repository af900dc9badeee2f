//! Prometheus metrics at `/metrics`, in the text exposition format.
//!
//! The `prometheus` crate, not the `metrics` facade: its registry is an ordinary value owned
//! by the router, so every router (every test) has its own series and nothing is installed
//! process-wide; the runtime's numbers (sagas per status, events appended per type, projection
//! and relay lag, dead letters) are read from the shop when scraped, so they are exact at the
//! moment of the scrape rather than sampled.
//!
//! Series: `http_requests_total{method,route,status}`,
//! `http_request_duration_seconds{method,route}`, `sagas_total{status}`,
//! `events_appended_total{event_type}`, `projection_lag_events{projection}`,
//! `relay_lag_events`, `dead_letters_total`; in distributed mode per broker consumer
//! `consumer_lag_seconds{consumer}` and `consumer_messages_applied_total{consumer}`.

use crate::app::ShopStore;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use eventcore::saga::SagaStatus;

use super::AppState;
use super::errors::ApiError;

/// The runtime's numbers at one moment, as the shop reports them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RuntimeFigures {
    /// Saga instances per status (every saga type).
    pub sagas: Vec<(String, u64)>,
    /// Events in the log per event type.
    pub events: Vec<(String, u64)>,
    /// Events each projection is behind the log's head.
    pub projection_lag: Vec<(String, u64)>,
    /// Events the relay has not published yet (0 in-process, where nothing is relayed).
    pub relay_lag: u64,
    /// Dead letters waiting for an operator.
    pub dead_letters: u64,
    /// Per broker consumer: how long after its append elsewhere the newest applied message
    /// committed here, in seconds, and how many messages it applied (distributed mode).
    pub consumers: Vec<(String, f64, u64)>,
}

/// The registry and its series.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    duration: HistogramVec,
    sagas: IntGaugeVec,
    events: IntGaugeVec,
    projection_lag: IntGaugeVec,
    relay_lag: IntGauge,
    dead_letters: IntGauge,
    consumer_lag: GaugeVec,
    consumer_handled: IntGaugeVec,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Metrics {
    /// A registry with every series registered.
    ///
    /// # Errors
    /// A series that cannot be registered (a name clash: a bug).
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests answered"),
            &["method", "route", "status"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time to answer an HTTP request",
            ),
            &["method", "route"],
        )?;
        let sagas = IntGaugeVec::new(
            Opts::new("sagas_total", "Saga instances per status"),
            &["status"],
        )?;
        let events = IntGaugeVec::new(
            Opts::new("events_appended_total", "Events in the log per event type"),
            &["event_type"],
        )?;
        let projection_lag = IntGaugeVec::new(
            Opts::new(
                "projection_lag_events",
                "Events a projection is behind the log",
            ),
            &["projection"],
        )?;
        let relay_lag = IntGauge::new("relay_lag_events", "Events not yet relayed to the broker")?;
        let dead_letters = IntGauge::new("dead_letters_total", "Dead letters waiting")?;
        let consumer_lag = GaugeVec::new(
            Opts::new(
                "consumer_lag_seconds",
                "Time from a message's append in its service to its commit here (newest applied)",
            ),
            &["consumer"],
        )?;
        let consumer_handled = IntGaugeVec::new(
            Opts::new(
                "consumer_messages_applied_total",
                "Messages a broker consumer applied since the process started",
            ),
            &["consumer"],
        )?;
        registry.register(Box::new(consumer_lag.clone()))?;
        registry.register(Box::new(consumer_handled.clone()))?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(sagas.clone()))?;
        registry.register(Box::new(events.clone()))?;
        registry.register(Box::new(projection_lag.clone()))?;
        registry.register(Box::new(relay_lag.clone()))?;
        registry.register(Box::new(dead_letters.clone()))?;
        Ok(Self {
            registry,
            requests,
            duration,
            sagas,
            events,
            projection_lag,
            relay_lag,
            dead_letters,
            consumer_lag,
            consumer_handled,
        })
    }

    /// Counts one answered request.
    pub fn observe(&self, method: &str, route: &str, status: u16, took: Duration) {
        let status = status.to_string();
        self.requests
            .with_label_values(&[method, route, status.as_str()])
            .inc();
        self.duration
            .with_label_values(&[method, route])
            .observe(took.as_secs_f64());
    }

    /// Sets the runtime's series from `figures`.
    pub fn set_runtime(&self, figures: &RuntimeFigures) {
        // Every status is exported, at 0 when no saga has it (an absent series reads as
        // "unknown" to alerting, not as none).
        for status in SagaStatus::ALL {
            self.sagas.with_label_values(&[status.as_str()]).set(0);
        }
        for (status, count) in &figures.sagas {
            self.sagas
                .with_label_values(&[status.as_str()])
                .set(clamp(*count));
        }
        for (event_type, count) in &figures.events {
            self.events
                .with_label_values(&[event_type.as_str()])
                .set(clamp(*count));
        }
        for (projection, lag) in &figures.projection_lag {
            self.projection_lag
                .with_label_values(&[projection.as_str()])
                .set(clamp(*lag));
        }
        self.relay_lag.set(clamp(figures.relay_lag));
        self.dead_letters.set(clamp(figures.dead_letters));
        for (consumer, lag, handled) in &figures.consumers {
            self.consumer_lag
                .with_label_values(&[consumer.as_str()])
                .set(*lag);
            self.consumer_handled
                .with_label_values(&[consumer.as_str()])
                .set(clamp(*handled));
        }
    }

    /// The `/metrics` reply: every series as Prometheus text (500 if it cannot be rendered).
    pub fn response(&self) -> Response {
        match self.render() {
            Ok(text) => {
                let mut response = text.into_response();
                response.headers_mut().insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                );
                response
            }
            Err(error) => ApiError::internal(error).into_response(),
        }
    }

    /// Every series in the text exposition format.
    ///
    /// # Errors
    /// The encoder's (it does not fail on a well-formed registry).
    pub fn render(&self) -> Result<String, prometheus::Error> {
        let mut buffer = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buffer)?;
        Ok(String::from_utf8_lossy(&buffer).into_owned())
    }
}

/// Middleware (on matched routes): counts and times each request by its route template.
pub async fn track(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(req).await;
    metrics.observe(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// `GET /metrics`: the runtime's figures are read from the shop, then everything rendered.
pub async fn scrape<St: ShopStore>(State(state): State<AppState<St>>) -> Response {
    match super::runtime::figures(&state.shop).await {
        Ok(figures) => state.metrics.set_runtime(&figures),
        Err(error) => tracing::warn!(%error, "runtime figures unavailable for /metrics"),
    }
    state.metrics.response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_series_is_rendered_with_its_name() {
        let metrics = Metrics::new().unwrap();
        metrics.observe("GET", "/api/v1/products", 200, Duration::from_millis(3));
        metrics.set_runtime(&RuntimeFigures {
            sagas: vec![("completed".into(), 2)],
            events: vec![("OrderPlaced".into(), 3)],
            projection_lag: vec![("order_view".into(), 0)],
            relay_lag: 4,
            dead_letters: 0,
            consumers: vec![("shop.payments".into(), 0.25, 7)],
        });
        let text = metrics.render().unwrap();
        for name in [
            "http_requests_total",
            "http_request_duration_seconds",
            "sagas_total",
            "events_appended_total",
            "projection_lag_events",
            "relay_lag_events",
            "dead_letters_total",
        ] {
            assert!(text.contains(name), "{name} missing from {text}");
        }
        assert!(text.contains(r#"sagas_total{status="completed"} 2"#));
        assert!(text.contains("relay_lag_events 4"), "{text}");
        assert!(text.contains(r#"consumer_lag_seconds{consumer="shop.payments"} 0.25"#));
        assert!(text.contains(r#"consumer_messages_applied_total{consumer="shop.payments"} 7"#));
    }
}
