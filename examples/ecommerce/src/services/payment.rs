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
use axum::routing::get;
use eventcore::projection::{ProjectionRunner, RunningProjections};
use eventcore::{Aggregate, Repository};
use eventcore_postgres::PgEventStore;

use super::handlers::{self, BrokerService};
use crate::http::auth::Caller;
use crate::http::errors::ApiError;
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

#[eventcore::async_trait]
impl BrokerService for PaymentService {
    fn store(&self) -> &PgEventStore {
        &self.store
    }

    fn consumer(&self) -> &Consumer {
        &self.requests
    }

    /// None of its own: its relay retries for ever.
    async fn dead_letter_consumers(&self) -> Vec<String> {
        vec![RELAY.to_owned()]
    }

    async fn relay_lag(&self) -> u64 {
        PaymentService::relay_lag(self)
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
    let (shared, ops) = handlers::routes::<PaymentService>();
    let api = Router::new()
        .route("/api/v1/orders/{id}/payment", get(payment))
        .merge(shared);
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
    let owner = payment.customer_id.as_deref();
    let visible = owner.map_or(claims.is_admin(), |owner| claims.may_see(owner));
    if payment.status == PaymentStatus::None || !visible {
        return Err(crate::app::ShopError::NotFound {
            what: "payment of order",
            id,
        }
        .into());
    }
    Ok(Json(PaymentView::new(&id, &payment)))
}
