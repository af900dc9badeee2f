//! The notification service: the notification context as its own process on PostgreSQL, in a
//! schema of its own. It consumes the order and payment events of the other services and
//! applies the [`NotificationPolicy`](crate::notification::NotificationPolicy) to each in the
//! consumer's transaction ([`NotificationDesk`]): one message per notable event, however often
//! the event is delivered, as the embedded shop's policy saga sends it. It serves `/health/*`
//! (store and consumer), the consumer's dead letters and `/metrics`.

use std::sync::Arc;

use axum::Router;
use eventcore::Repository;
use eventcore_postgres::PgEventStore;

use super::handlers::{self, BrokerService};
use crate::http::HttpConfig;
use crate::messaging::{Broker, BrokerError, Consumer};
use crate::notification::{NotifiableEvent, NotificationDesk, Notifier};

/// The consumer (queue or group, and inbox) of the events that call for a message.
pub const EVENTS: &str = "notification.events";

/// A running notification service.
#[derive(Debug)]
pub struct NotificationService {
    store: PgEventStore,
    events: Consumer,
}

impl NotificationService {
    /// Starts the consumer of the order and payment events on `broker`, sending into `store`.
    ///
    /// # Errors
    /// The broker cannot be reached.
    pub async fn start(store: PgEventStore, broker: &Broker) -> Result<Self, BrokerError> {
        let desk = NotificationDesk::new(Notifier::new(Repository::new(store.clone())));
        // Only the notable types: on RabbitMQ nothing else reaches the service.
        let events = broker
            .consume_types(store.clone(), EVENTS, &NotifiableEvent::TYPES, desk)
            .await?;
        Ok(Self { store, events })
    }

    /// The service's store.
    pub fn store(&self) -> &PgEventStore {
        &self.store
    }

    /// The consumer of the events.
    pub fn events(&self) -> &Consumer {
        &self.events
    }

    /// Stops the consumer (after the messages in hand); stopping again does nothing.
    ///
    /// # Errors
    /// Why it had failed.
    pub async fn shutdown(&self) -> Result<(), String> {
        self.events.shutdown().await
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

    /// None: what it gives up on is in its consumer's dead-letter queue or topic.
    async fn dead_letter_consumers(&self) -> Vec<String> {
        Vec::new()
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
