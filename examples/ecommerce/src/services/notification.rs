//! The notification service: the notification context as its own process on PostgreSQL, in a
//! schema of its own. It consumes the order and payment events of the other services, mirrors
//! them into its store (`eventcore::broker::Mirror`), and runs the [`NotificationPolicy`]
//! over them there, exactly as the embedded shop does: one message per notable event, however
//! often the event is delivered. It serves `/health/*` (store and consumer) and `/metrics`.

use std::sync::Arc;

use axum::Router;
use eventcore::Repository;
use eventcore::broker::Mirror;
use eventcore::saga::{LocalBus, PolicySaga, SagaHandle, SagaManager};
use eventcore_postgres::PgEventStore;

use super::handlers::{self, BrokerService};
use crate::http::HttpConfig;
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

#[eventcore::async_trait]
impl BrokerService for NotificationService {
    fn store(&self) -> &PgEventStore {
        &self.store
    }

    fn consumer(&self) -> &Consumer {
        &self.events
    }

    async fn dead_letter_consumers(&self) -> Vec<String> {
        vec![self.policy_consumer.clone()]
    }

    async fn relay_lag(&self) -> u64 {
        0 // it relays nothing
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
    let (api, ops) = handlers::routes::<NotificationService>();
    let metrics = served.metrics.clone();
    Ok(super::app::assemble(api, ops, metrics, served, config))
}
