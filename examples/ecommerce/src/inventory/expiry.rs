//! Reservation expiry: a durable deadline per reservation.
//!
//! [`ReservationExpiry`] is a saga with one instance per order: `StockReserved` sets the
//! deadline `expire`; a confirmation or release first ends it (cancelling the deadline); when
//! the deadline falls due it sends `ExpireReservation`, which returns the stock unless the
//! reservation was settled meanwhile. Deadlines are stored with the saga (they survive
//! restarts and fire once), so expiry needs nothing of the inventory aggregate itself.

use std::time::Duration;

use eventcore::RecordedEvent;
use eventcore::saga::{Reaction, Saga, Step};
use serde::{Deserialize, Serialize};

/// The inventory events the expiry saga reads (decoded by type name from `inventory` streams).
#[allow(
    clippy::enum_variant_names,
    reason = "the stored event type names of the inventory"
)]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExpiryEvent {
    /// A reservation is held: start the clock.
    StockReserved {
        /// The order.
        order_id: String,
    },
    /// Released in time.
    StockReleased {
        /// The order.
        order_id: String,
    },
    /// Confirmed in time.
    ReservationConfirmed {
        /// The order.
        order_id: String,
    },
    /// Expired (by this saga).
    ReservationExpired {
        /// The order.
        order_id: String,
    },
}

impl eventcore::Event for ExpiryEvent {}

/// What the expiry saga asks of the inventory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExpiryCommand {
    /// Expire the order's reservation (a no-op unless it is still held).
    ExpireReservation {
        /// The order.
        order_id: String,
    },
}

/// The expiry saga's state: the order it watches.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpiryState {
    /// The order.
    pub order_id: String,
}

/// Expires reservations not confirmed within [`after`](Self::after) (30 minutes by default).
#[derive(Clone, Copy, Debug)]
pub struct ReservationExpiry {
    /// How long a reservation may stay unconfirmed.
    pub after: Duration,
}

impl ReservationExpiry {
    /// The default: 30 minutes.
    pub const DEFAULT_AFTER: Duration = Duration::from_secs(30 * 60);

    /// The deadline's name.
    pub const DEADLINE: &'static str = "expire";
}

impl Default for ReservationExpiry {
    fn default() -> Self {
        Self {
            after: Self::DEFAULT_AFTER,
        }
    }
}

impl Saga for ReservationExpiry {
    const TYPE: &'static str = "reservation-expiry";
    const CATEGORIES: &'static [&'static str] = &["inventory"];
    type State = ExpiryState;
    type Event = ExpiryEvent;
    type Command = ExpiryCommand;
    type Error = std::convert::Infallible;

    fn correlate(&self, event: &ExpiryEvent, _: &RecordedEvent) -> Option<String> {
        match event {
            ExpiryEvent::StockReserved { order_id }
            | ExpiryEvent::StockReleased { order_id }
            | ExpiryEvent::ReservationConfirmed { order_id }
            | ExpiryEvent::ReservationExpired { order_id } => Some(order_id.clone()),
        }
    }

    fn on_event(
        &self,
        _: &ExpiryState,
        event: &ExpiryEvent,
    ) -> Result<Reaction<Self>, Self::Error> {
        Ok(match event {
            ExpiryEvent::StockReserved { order_id } => Reaction::new()
                .state(ExpiryState {
                    order_id: order_id.clone(),
                })
                .deadline(Self::DEADLINE, self.after),
            // Settled in time (or expired): nothing left to watch.
            _ => Reaction::new().cancel_deadline(Self::DEADLINE).complete(),
        })
    }

    fn on_deadline(&self, state: &ExpiryState, _: &str) -> Result<Reaction<Self>, Self::Error> {
        let expire = ExpiryCommand::ExpireReservation {
            order_id: state.order_id.clone(),
        };
        Ok(Reaction::new().step(Step::new("expire", expire)).complete())
    }

    fn on_step_failed(&self, _: &ExpiryState, _: &str, _: &str) -> Reaction<Self> {
        // Expiring only ever no-ops or returns stock; there is nothing to undo.
        Reaction::new().complete()
    }
}

/// The expiry saga's one command, applied to the warehouse inside the transaction that
/// records the step (`LocalBus`), in whichever store the inventory lives.
#[derive(Clone)]
pub struct Expirer {
    inventory: eventcore::Repository<super::Inventory>,
}

impl Expirer {
    /// An expirer writing through `inventory`.
    pub fn new(inventory: eventcore::Repository<super::Inventory>) -> Self {
        Self { inventory }
    }
}

#[eventcore::async_trait]
impl<Tx: eventcore::StoreTransaction> eventcore::saga::LocalCommands<ExpiryCommand, Tx>
    for Expirer
{
    async fn execute(
        &self,
        tx: &mut Tx,
        command: &ExpiryCommand,
        id: eventcore::CommandId,
        metadata: &eventcore::Metadata,
    ) -> Result<(), eventcore::saga::DispatchError> {
        let ExpiryCommand::ExpireReservation { order_id } = command;
        let action = super::InventoryAction::ExpireReservation {
            order_id: order_id.clone(),
        };
        let command = super::InventoryCommand::new(super::WAREHOUSE, action).with_id(id);
        self.inventory
            .execute_in(tx, command, metadata.clone())
            .await?;
        Ok(())
    }
}
