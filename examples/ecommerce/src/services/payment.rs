//! The payment service: the payment context as its own process on PostgreSQL, in a schema of
//! its own. Payment requests arrive as messages (the order saga's steps, sent through the
//! sender's outbox) and are applied by [`PaymentDesk`] through an inbox, once in effect; the
//! payments' events leave through a relay, and are the replies the saga waits for. It serves
//! `GET /api/v1/orders/{id}/payment` (the gateway routes it here), `/health/*` (store and
//! consumer) and `/metrics` (with the relay's and the consumer's lag).

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use eventcore::projection::{ProjectionRunner, RunningProjections};
use eventcore::{Aggregate, Repository};
use eventcore_postgres::PgEventStore;

use crate::http::auth::{AdminCaller, Caller};
use crate::http::errors::ApiError;
use crate::http::ops_views::{DeadLetterView, HealthView};
use crate::http::{HttpConfig, PaymentView};
use crate::messaging::{Broker, BrokerError, Consumer};
use crate::payment::requests::{self, PaymentDesk};
use crate::payment::{Payment, PaymentProvider, PaymentStatus};

/// The relay of the payments' events.
pub const RELAY: &str = "relay:payments";
/// The consumer (queue or group, and inbox) of payment requests.
pub const REQUESTS: &str = "payment.requests";

/// A running payment service: its consumer and relay.
#[derive(Debug)]
pub struct PaymentService {
    store: PgEventStore,
    payments: Repository<Payment>,
    requests: Consumer,
    relay: Mutex<Option<RunningProjections<PgEventStore>>>,
}

impl PaymentService {
    /// Starts the relay of `store`'s payment events and the consumer of payment requests on
    /// `broker`, charging through `provider`.
    ///
    /// # Errors
    /// The broker cannot be reached, or the relay cannot start.
    pub async fn start(
        store: PgEventStore,
        broker: &Broker,
        provider: Arc<dyn PaymentProvider>,
    ) -> Result<Self, BrokerError> {
        let payments = Repository::<Payment>::new(store.clone());
        let runner = ProjectionRunner::new(store.clone());
        let runner = broker.add_relay(runner, RELAY, &[Payment::TYPE]).await?;
        let relay = runner.start().map_err(|e| BrokerError {
            broker: broker.name(),
            reason: format!("the relay cannot start: {e}"),
        })?;
        let desk = PaymentDesk::new(payments.clone(), provider);
        let requests = broker
            .consume(store.clone(), REQUESTS, &[requests::CATEGORY], desk)
            .await?;
        Ok(Self {
            store,
            payments,
            requests,
            relay: Mutex::new(Some(relay)),
        })
    }

    /// The service's store.
    pub fn store(&self) -> &PgEventStore {
        &self.store
    }

    /// The consumer of payment requests.
    pub fn requests(&self) -> &Consumer {
        &self.requests
    }

    /// Events not yet relayed.
    pub fn relay_lag(&self) -> u64 {
        let relay = self.relay.lock().ok();
        let status = relay.and_then(|r| r.as_ref().and_then(|r| r.status(RELAY)));
        status.map_or(0, |status| status.lag())
    }

    /// Stops the consumer (after the messages in hand), then the relay; stopping again does
    /// nothing. Requests still being answered keep working on the store.
    ///
    /// # Errors
    /// Why either had failed.
    pub async fn shutdown(&self) -> Result<(), String> {
        let consumer = self.requests.shutdown().await;
        let relay = self.relay.lock().ok().and_then(|mut relay| relay.take());
        let relay = match relay {
            Some(relay) => relay.shutdown().await.map_err(|e| e.to_string()),
            None => Ok(()),
        };
        consumer.and(relay)
    }
}

type Served = super::app::Served<PaymentService>;

/// The service's router, with `config` at its edge.
///
/// # Errors
/// The metrics registry cannot be built (a name clash: a bug).
pub fn router(
    service: Arc<PaymentService>,
    config: &HttpConfig,
) -> Result<Router, prometheus::Error> {
    let served = Served::new(service, config)?;
    let api = Router::new()
        .route("/api/v1/orders/{id}/payment", get(payment))
        .route("/api/v1/dead-letters", get(dead_letters));
    let ops = Router::new()
        .route("/health/ready", get(ready))
        .route("/metrics", get(scrape));
    let metrics = served.metrics.clone();
    Ok(super::app::assemble(api, ops, metrics, served, config))
}

/// `GET /api/v1/orders/{id}/payment`: the order's payment, for the admin or the customer it
/// charged; 404 otherwise (or before any charge).
async fn payment(
    State(served): State<Served>,
    Caller(claims): Caller,
    Path(id): Path<String>,
) -> Result<Json<PaymentView>, ApiError> {
    let loaded = served.service.payments.load(&id).await;
    let payment = loaded
        .map_err(|e| crate::app::ShopError::from_repo(e, crate::app::ShopError::Payment))?
        .state;
    let visible = claims.is_admin() || payment.customer_id.as_deref() == Some(&claims.sub);
    if payment.status == PaymentStatus::None || !visible {
        return Err(crate::app::ShopError::NotFound {
            what: "payment of order",
            id,
        }
        .into());
    }
    Ok(Json(PaymentView::new(&id, &payment)))
}

/// `GET /api/v1/dead-letters` (admin): what the service gave up on (its relay retries for
/// ever, so only its consumer's).
async fn dead_letters(
    State(served): State<Served>,
    _admin: AdminCaller,
) -> Result<Json<Vec<DeadLetterView>>, ApiError> {
    let service = &served.service;
    let relay = [RELAY.to_owned()];
    let letters = super::app::dead_letters(&service.store, &relay, &service.requests).await?;
    Ok(Json(letters))
}

/// `GET /health/ready`: 200 when the store answers and the consumer consumes, else 503.
async fn ready(State(served): State<Served>) -> (StatusCode, Json<HealthView>) {
    super::app::ready(&served.service.store, &served.service.requests).await
}

/// `GET /metrics`: the request series; sagas, events and dead letters from the store's
/// counts; the relay's lag and the consumer's.
async fn scrape(State(served): State<Served>) -> Response {
    let service = &served.service;
    let lag = service.relay_lag();
    super::app::scrape(&served.metrics, &service.store, &service.requests, lag).await
}
