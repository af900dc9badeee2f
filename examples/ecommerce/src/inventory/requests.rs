//! Stock requests: the order saga's inventory commands as messages, for an inventory context
//! in another process. The sender appends a [`StockRequest`] to the order's outbox stream
//! (`stockrequest-<order id>`, see [`outbox`]) in the transaction that records the saga's
//! step; its relay publishes it. The inventory service's consumer applies it through
//! [`StockDesk`], once in effect (its inbox), with the step's command id. The reply is the
//! warehouse's own event (`StockReserved`, `StockReservationRejected`, `ReservationConfirmed`,
//! ...), which the inventory service's relay publishes.

use std::collections::BTreeMap;

use eventcore::broker::{HandlerError, Message, MessageHandler};
use eventcore::{CommandId, Repository, RepositoryError, StoreTransaction, Upcasters};
use serde::{Deserialize, Serialize};

use super::{Inventory, InventoryAction, InventoryCommand, WAREHOUSE};
use crate::messaging::outbox::{self, Request as _, handler_error};

/// The category of the outbox streams of stock requests.
pub const CATEGORY: &str = "stockrequest";

/// An inventory command of the order saga, sent as a message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StockRequest {
    /// Reserve every item or none.
    ReserveStock {
        /// The order.
        order_id: String,
        /// Product id → quantity.
        items: BTreeMap<String, u32>,
        /// The step's command id.
        command_id: CommandId,
    },
    /// Release the order's reservation (a no-op unless it is held).
    ReleaseStock {
        /// The order.
        order_id: String,
        /// The step's command id.
        command_id: CommandId,
    },
    /// Turn the order's held reservation into sold stock.
    ConfirmReservation {
        /// The order.
        order_id: String,
        /// The step's command id.
        command_id: CommandId,
    },
    /// Put the order's sold units back on hand (a no-op unless confirmed).
    ReturnSoldStock {
        /// The order.
        order_id: String,
        /// The step's command id.
        command_id: CommandId,
    },
}

impl eventcore::Event for StockRequest {}

impl StockRequest {
    /// The request for the saga's `action` with the step's `command_id`; `None` for an action
    /// the saga never sends (the catalogue's, and expiry, which the inventory decides itself).
    pub fn of(action: InventoryAction, command_id: CommandId) -> Option<Self> {
        use InventoryAction as A;
        Some(match action {
            A::ReserveStock { order_id, items } => Self::ReserveStock {
                order_id,
                items,
                command_id,
            },
            A::ReleaseStock { order_id } => Self::ReleaseStock {
                order_id,
                command_id,
            },
            A::ConfirmReservation { order_id } => Self::ConfirmReservation {
                order_id,
                command_id,
            },
            A::ReturnSoldStock { order_id } => Self::ReturnSoldStock {
                order_id,
                command_id,
            },
            A::AddProduct { .. }
            | A::ChangePrice { .. }
            | A::AddStock { .. }
            | A::ExpireReservation { .. } => return None,
        })
    }

    /// The warehouse command it asks for, with the step's command id.
    pub fn into_command(self) -> InventoryCommand {
        use InventoryAction as A;
        let (action, id) = match self {
            Self::ReserveStock {
                order_id,
                items,
                command_id,
            } => (A::ReserveStock { order_id, items }, command_id),
            Self::ReleaseStock {
                order_id,
                command_id,
            } => (A::ReleaseStock { order_id }, command_id),
            Self::ConfirmReservation {
                order_id,
                command_id,
            } => (A::ConfirmReservation { order_id }, command_id),
            Self::ReturnSoldStock {
                order_id,
                command_id,
            } => (A::ReturnSoldStock { order_id }, command_id),
        };
        InventoryCommand::new(WAREHOUSE, action).with_id(id)
    }
}

impl outbox::Request for StockRequest {
    const CATEGORY: &'static str = CATEGORY;

    fn order_id(&self) -> &str {
        match self {
            Self::ReserveStock { order_id, .. }
            | Self::ReleaseStock { order_id, .. }
            | Self::ConfirmReservation { order_id, .. }
            | Self::ReturnSoldStock { order_id, .. } => order_id,
        }
    }

    fn command_id(&self) -> CommandId {
        match self {
            Self::ReserveStock { command_id, .. }
            | Self::ReleaseStock { command_id, .. }
            | Self::ConfirmReservation { command_id, .. }
            | Self::ReturnSoldStock { command_id, .. } => *command_id,
        }
    }
}

/// The inventory service's handler of [`StockRequest`]s: applies each to the warehouse in the
/// consumer's transaction, with the request's command id and correlation id.
///
/// A request the warehouse refuses (confirming a reservation that has expired meanwhile) is
/// answered by its absence: nothing is written, the refusal is logged, and the saga's reply
/// deadline cancels the order, as in the embedded shop a refused step does. A message that is
/// no stock request is dead-lettered.
#[derive(Clone)]
pub struct StockDesk {
    inventory: Repository<Inventory>,
}

impl StockDesk {
    /// A desk writing through `inventory`.
    pub fn new(inventory: Repository<Inventory>) -> Self {
        Self { inventory }
    }
}

#[eventcore::async_trait]
impl<Tx: StoreTransaction> MessageHandler<Tx> for StockDesk {
    async fn handle(&self, tx: &mut Tx, message: &Message) -> Result<(), HandlerError> {
        let request: StockRequest = message
            .decode(&Upcasters::default())
            .map_err(HandlerError::permanent)?;
        let metadata = outbox::metadata_of(message);
        let order_id = request.order_id().to_owned();
        tracing::info!(%order_id, correlation_id = ?message.correlation_id, request = %message.event_type, "stock request applied");
        match self
            .inventory
            .execute_in(tx, request.into_command(), metadata)
            .await
        {
            Ok(_) => Ok(()),
            Err(RepositoryError::Domain(refused)) => {
                tracing::warn!(%order_id, %refused, "stock request refused by the warehouse");
                Ok(())
            }
            Err(error) => Err(handler_error(error.into())),
        }
    }
}
