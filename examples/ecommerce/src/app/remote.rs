//! The shop's side of the distributed mode: the contexts that run as services of their own,
//! and the relays and the consumer that connect this shop to them through a broker.

use eventcore::Aggregate;
use eventcore::broker::Mirror;
use eventcore::projection::ProjectionRunner;

use super::ShopError;
use crate::inventory::Inventory;
use crate::inventory::requests as stock_requests;
use crate::messaging::{Broker, Consumer};
use crate::payment::{Payment, requests};

/// The consumer (queue or group, and inbox) of the payment service's events.
pub const PAYMENT_REPLIES: &str = "shop.payments";
/// The consumer (queue or group, and inbox) of the inventory service's events.
pub const STOCK_REPLIES: &str = "shop.inventory";
/// The one relay of everything the other services consume from this shop: the payment and
/// stock requests, and the order events for the notification and analytics services. One
/// relay reads the log once per batch for all of them (the broker routes each event by its
/// category to the services that consume it).
pub const SERVICES_RELAY: &str = "relay:services";
/// Every relay the shop may run.
pub const RELAYS: [&str; 1] = [SERVICES_RELAY];

/// The consumers of the services' events that [`RemoteContexts::connect`] started.
#[derive(Debug, Default)]
pub(super) struct Replies {
    /// The payment service's.
    pub(super) payments: Option<Consumer>,
    /// The inventory service's.
    pub(super) stock: Option<Consumer>,
}

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
    /// The inventory service keeps the warehouse (`ecommerce service inventory`): stock steps
    /// are sent as messages through this store's outbox, and the service's warehouse events
    /// come back through a consumer, mirrored into this store (the catalogue orders are priced
    /// from, and the saga's replies); this shop seeds no catalogue and runs no reservation
    /// expiry (the service does).
    pub inventory: bool,
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
            inventory: false,
        }
    }

    /// The inventory context elsewhere.
    pub fn with_inventory(self) -> Self {
        Self {
            inventory: true,
            ..self
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

    /// Adds the relay to `runner` and starts the consumers of the payment and inventory
    /// services' events.
    pub(super) async fn connect<St: super::ShopStore>(
        &self,
        store: &St,
        mut runner: ProjectionRunner<St>,
    ) -> Result<(ProjectionRunner<St>, Replies), ShopError> {
        let broker = &self.broker;
        let relay_failed = |e| ShopError::unavailable("a relay to the services", e);
        let consume_failed = |e| ShopError::unavailable("the broker", e);
        let mut replies = Replies::default();
        let mut relayed = Vec::new();
        if self.payment {
            relayed.push(requests::CATEGORY);
            let consumer = broker
                .consume(store.clone(), PAYMENT_REPLIES, &[Payment::TYPE], Mirror)
                .await
                .map_err(consume_failed)?;
            replies.payments = Some(consumer);
        }
        if self.inventory {
            relayed.push(stock_requests::CATEGORY);
            let consumer = broker
                .consume(store.clone(), STOCK_REPLIES, &[Inventory::TYPE], Mirror)
                .await
                .map_err(consume_failed)?;
            replies.stock = Some(consumer);
        }
        // The notification and analytics services each have their own queue or group.
        if self.notification || self.analytics {
            relayed.push(crate::order::Order::TYPE);
            if self.notification && !self.payment {
                relayed.push(Payment::TYPE);
            }
        }
        if !relayed.is_empty() {
            runner = broker
                .add_relay(runner, SERVICES_RELAY, &relayed)
                .await
                .map_err(relay_failed)?;
        }
        Ok((runner, replies))
    }
}
