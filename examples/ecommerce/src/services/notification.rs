//! The notification service: the notification context as its own process on PostgreSQL, in a
//! schema of its own. It consumes the order and payment events of the other services, mirrors
//! them into its store (`eventcore::broker::Mirror`), and runs the [`NotificationPolicy`]
//! over them there, exactly as the embedded shop does: one message per notable event, however
//! often the event is delivered. It serves `/health/*` (store and consumer) and `/metrics`.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use eventcore::Repository;
use eventcore::broker::Mirror;
use eventcore::saga::{LocalBus, PolicySaga, SagaHandle, SagaManager};
use eventcore_postgres::PgEventStore;

use crate::http::HttpConfig;
use crate::http::auth::AdminCaller;
use crate::http::errors::ApiError;
use crate::http::ops_views::{DeadLetterView, HealthView};
use crate::messaging::{Broker, BrokerError, Consumer};
use crate::notification::{NotificationPolicy, Notifier};

/// The consumer (queue or group, and inbox) of the events that call for a message.
pub const EVENTS: &str = "notification.events";

type Policies =
    SagaHandle<PolicySaga<NotificationPolicy>, PgEventStore, LocalBus<PgEventStore, Notifier>>;

/// A running notification service.
#[derive(Debug)]
pub struct NotificationService {
    store: PgEventStore,
    events: Consumer,
    policy: tokio::sync::Mutex<Option<Policies>>,
    /// The policy's consumer name (its dead letters are stored under it).
    policy_consumer: String,
}

impl NotificationService {
    /// Starts the policy over `store` and the consumer of the order and payment events on
    /// `broker`.
    ///
    /// # Errors
    /// The broker cannot be reached, or the policy cannot start.
    pub async fn start(store: PgEventStore, broker: &Broker) -> Result<Self, BrokerError> {
        let notifier = Notifier::new(Repository::new(store.clone()));
        let bus = LocalBus::new(store.clone(), notifier);
        let policy = SagaManager::new(PolicySaga::new(NotificationPolicy), store.clone(), bus)
            .start()
            .map_err(|e| BrokerError {
                broker: broker.name(),
                reason: format!("the notification policy cannot start: {e}"),
            })?;
        let categories = <NotificationPolicy as eventcore::saga::Policy>::CATEGORIES;
        let events = broker
            .consume(store.clone(), EVENTS, categories, Mirror)
            .await?;
        Ok(Self {
            store,
            events,
            policy_consumer: policy.manager().consumer(),
            policy: tokio::sync::Mutex::new(Some(policy)),
        })
    }

    /// The service's store.
    pub fn store(&self) -> &PgEventStore {
        &self.store
    }

    /// The consumer of the events.
    pub fn events(&self) -> &Consumer {
        &self.events
    }

    /// Stops the consumer (after the messages in hand), then the policy; stopping again does
    /// nothing.
    ///
    /// # Errors
    /// Why either had failed.
    pub async fn shutdown(&self) -> Result<(), String> {
        let consumer = self.events.shutdown().await;
        let policy = self.policy.lock().await.take();
        let policy = match policy {
            Some(policy) => policy.shutdown().await.map_err(|e| e.to_string()),
            None => Ok(()),
        };
        consumer.and(policy)
    }
}

type Served = super::app::Served<NotificationService>;

/// The service's router (`/api/v1/dead-letters` for the admin, `/health/*` and `/metrics`),
/// with `config` at its edge.
///
/// # Errors
/// The metrics registry cannot be built (a name clash: a bug).
pub fn router(
    service: Arc<NotificationService>,
    config: &HttpConfig,
) -> Result<Router, prometheus::Error> {
    let served = Served::new(service, config)?;
    let api = Router::new().route("/api/v1/dead-letters", get(dead_letters));
    let ops = Router::new()
        .route("/health/ready", get(ready))
        .route("/metrics", get(scrape));
    let metrics = served.metrics.clone();
    Ok(super::app::assemble(api, ops, metrics, served, config))
}

/// `GET /api/v1/dead-letters` (admin): what the policy and the consumer gave up on.
async fn dead_letters(
    State(served): State<Served>,
    _admin: AdminCaller,
) -> Result<Json<Vec<DeadLetterView>>, ApiError> {
    let service = &served.service;
    let consumers = [service.policy_consumer.clone()];
    let letters = super::app::dead_letters(&service.store, &consumers, &service.events).await?;
    Ok(Json(letters))
}

/// `GET /health/ready`: 200 when the store answers and the consumer consumes, else 503.
async fn ready(State(served): State<Served>) -> (StatusCode, Json<HealthView>) {
    super::app::ready(&served.service.store, &served.service.events).await
}

/// `GET /metrics`: the request series; sagas, events and dead letters from the store's
/// counts; the relay's lag and the consumer's.
async fn scrape(State(served): State<Served>) -> Response {
    let service = &served.service;
    let lag = 0; // it relays nothing
    super::app::scrape(&served.metrics, &service.store, &service.events, lag).await
}
