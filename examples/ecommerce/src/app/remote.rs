//! The shop's side of the distributed mode: the contexts that run as services of their own,
//! and the relays and the consumer that connect this shop to them through a broker.

use eventcore::Aggregate;
use eventcore::broker::Mirror;
use eventcore::projection::ProjectionRunner;
use eventcore_sqlite::SqliteEventStore;

use super::ShopError;
use crate::messaging::{Broker, Consumer};
use crate::payment::{Payment, requests};

/// The relay of payment requests to the payment service.
pub const PAYMENT_REQUEST_RELAY: &str = "relay:payment-requests";
/// The consumer (queue or group, and inbox) of the payment service's events.
pub const PAYMENT_REPLIES: &str = "shop.payments";
/// The relay of the events the notification and analytics services consume.
pub const NOTIFICATION_RELAY: &str = "relay:notifications";
/// Every relay the shop may run.
pub const RELAYS: [&str; 2] = [PAYMENT_REQUEST_RELAY, NOTIFICATION_RELAY];

/// Which contexts run as services elsewhere, and the broker between them and this shop.
#[derive(Clone, Debug)]
pub struct RemoteContexts {
    /// The broker.
    pub broker: Broker,
    /// The payment service handles payments (`ecommerce service payment`): payment steps are
    /// sent as messages through this store's outbox, and the service's payment events come
    /// back through a consumer, mirrored into this store (saga steps then always run
    /// [`StepMode::Local`](super::StepMode::Local)).
    pub payment: bool,
    /// The notification service sends the notifications (`ecommerce service notification`):
    /// this shop relays its order events to it (and its payment events, when payments are
    /// handled here) and runs no notification policy itself.
    pub notification: bool,
    /// The analytics service keeps the analytics (`ecommerce service analytics`): this shop
    /// relays its order events to it and keeps no analytics read model itself.
    pub analytics: bool,
}

impl RemoteContexts {
    /// Nothing elsewhere yet, over `broker`.
    pub fn new(broker: Broker) -> Self {
        Self {
            broker,
            payment: false,
            notification: false,
            analytics: false,
        }
    }

    /// The payment context elsewhere.
    pub fn with_payment(self) -> Self {
        Self {
            payment: true,
            ..self
        }
    }

    /// The notification context elsewhere.
    pub fn with_notification(self) -> Self {
        Self {
            notification: true,
            ..self
        }
    }

    /// The analytics context elsewhere.
    pub fn with_analytics(self) -> Self {
        Self {
            analytics: true,
            ..self
        }
    }

    /// Adds the relays to `runner` and starts the consumer of the payment service's events.
    pub(super) async fn connect(
        &self,
        store: &SqliteEventStore,
        mut runner: ProjectionRunner<SqliteEventStore>,
    ) -> Result<(ProjectionRunner<SqliteEventStore>, Option<Consumer>), ShopError> {
        let broker = &self.broker;
        let relay_failed = |e| ShopError::unavailable("a relay to the services", e);
        let mut replies = None;
        if self.payment {
            let categories = [requests::CATEGORY];
            runner = broker
                .add_relay(runner, PAYMENT_REQUEST_RELAY, &categories)
                .await
                .map_err(relay_failed)?;
            let consumer = broker
                .consume(store.clone(), PAYMENT_REPLIES, &[Payment::TYPE], Mirror)
                .await
                .map_err(|e| ShopError::unavailable("the broker", e))?;
            replies = Some(consumer);
        }
        // One relay publishes what the other services consume: each has its own queue or group.
        if self.notification || self.analytics {
            let mut categories = vec![crate::order::Order::TYPE];
            if self.notification && !self.payment {
                categories.push(Payment::TYPE);
            }
            runner = broker
                .add_relay(runner, NOTIFICATION_RELAY, &categories)
                .await
                .map_err(relay_failed)?;
        }
        Ok((runner, replies))
    }
}
