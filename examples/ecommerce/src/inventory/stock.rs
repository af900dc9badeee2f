//! The [`Inventory`] aggregate: products, their stock ledger and the reservations per order.

use std::collections::BTreeMap;

use eventcore::{Command, CommandId, Event};
use serde::{Deserialize, Serialize};

use crate::money::Money;

/// What happens in a warehouse.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum InventoryEvent {
    /// A product joined the catalogue with its initial stock.
    ProductAdded {
        /// Product id.
        product_id: String,
        /// Name.
        name: String,
        /// Description.
        description: String,
        /// Unit price.
        price: Money,
        /// Units on hand from the start.
        initial_stock: u32,
    },
    /// A product's price changed.
    PriceChanged {
        /// Product id.
        product_id: String,
        /// The new unit price.
        price: Money,
    },
    /// Units arrived.
    StockAdded {
        /// Product id.
        product_id: String,
        /// How many.
        quantity: u32,
    },
    /// Every item of an order is held for it.
    StockReserved {
        /// The order.
        order_id: String,
        /// Product id → quantity.
        items: BTreeMap<String, u32>,
    },
    /// An order's reservation was refused: this product is short.
    StockReservationRejected {
        /// The order.
        order_id: String,
        /// The first product that is short.
        product_id: String,
        /// What was available of it.
        available: u32,
        /// What the order asked for.
        requested: u32,
    },
    /// A reservation was released: its units are available again.
    StockReleased {
        /// The order.
        order_id: String,
        /// What was held.
        items: BTreeMap<String, u32>,
    },
    /// A reservation was confirmed: its units are sold.
    ReservationConfirmed {
        /// The order.
        order_id: String,
        /// What was sold.
        items: BTreeMap<String, u32>,
    },
    /// A reservation lapsed unconfirmed: its units are available again.
    ReservationExpired {
        /// The order.
        order_id: String,
        /// What was held.
        items: BTreeMap<String, u32>,
    },
    /// Sold units of a cancelled order went back on hand.
    SoldStockReturned {
        /// The order.
        order_id: String,
        /// What returns.
        items: BTreeMap<String, u32>,
    },
}

impl Event for InventoryEvent {}

/// What can be asked of a warehouse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InventoryAction {
    /// Add a product (its id must be new; price above zero).
    AddProduct {
        /// Product id.
        product_id: String,
        /// Name.
        name: String,
        /// Description.
        description: String,
        /// Unit price.
        price: Money,
        /// Units on hand from the start.
        initial_stock: u32,
    },
    /// Change a product's price (above zero).
    ChangePrice {
        /// Product id.
        product_id: String,
        /// The new price.
        price: Money,
    },
    /// Add units (at least one).
    AddStock {
        /// Product id.
        product_id: String,
        /// How many.
        quantity: u32,
    },
    /// Reserve every item or none. A decided order (reserved or rejected before) is a no-op.
    ReserveStock {
        /// The order.
        order_id: String,
        /// Product id → quantity.
        items: BTreeMap<String, u32>,
    },
    /// Release a reservation: a no-op unless it is held.
    ReleaseStock {
        /// The order.
        order_id: String,
    },
    /// Turn a held reservation into sold stock; an error unless it is held.
    ConfirmReservation {
        /// The order.
        order_id: String,
    },
    /// Expire a reservation: a no-op unless it is held.
    ExpireReservation {
        /// The order.
        order_id: String,
    },
    /// Put a confirmed reservation's units back on hand: a no-op unless it is confirmed.
    ReturnSoldStock {
        /// The order.
        order_id: String,
    },
}

/// A command for one warehouse.
#[derive(Clone, Debug)]
pub struct InventoryCommand {
    /// The warehouse.
    pub warehouse: String,
    /// The command id (re-sending it has no second effect).
    pub id: CommandId,
    /// What to do.
    pub action: InventoryAction,
}

impl InventoryCommand {
    /// A command with a fresh id.
    pub fn new(warehouse: &str, action: InventoryAction) -> Self {
        Self {
            warehouse: warehouse.to_owned(),
            id: CommandId::new_random(),
            action,
        }
    }

    /// The same command with `id` (a saga step's id).
    pub fn with_id(self, id: CommandId) -> Self {
        Self { id, ..self }
    }
}

impl Command for InventoryCommand {
    fn aggregate_id(&self) -> &str {
        &self.warehouse
    }
    fn command_id(&self) -> CommandId {
        self.id
    }
}

/// The rules a warehouse command can break.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InventoryError {
    /// No such product.
    #[error("unknown product {0}")]
    UnknownProduct(String),
    /// The product exists already.
    #[error("product {0} exists already")]
    DuplicateProduct(String),
    /// Prices are above zero.
    #[error("price must be above zero, got {0}")]
    InvalidPrice(Money),
    /// Quantities are at least one.
    #[error("quantity must be at least 1")]
    ZeroQuantity,
    /// A reservation needs at least one item.
    #[error("a reservation needs at least one item")]
    NothingToReserve,
    /// Stock would overflow.
    #[error("stock of {0} would overflow")]
    Overflow(String),
    /// Only a held reservation can be confirmed.
    #[error("cannot confirm the reservation of order {order_id}: it is {status}")]
    NotReserved {
        /// The order.
        order_id: String,
        /// Where its reservation is (`none` if there is none).
        status: String,
    },
}

/// One product's ledger. `on_hand` counts the units in the warehouse, reserved ones included.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductStock {
    /// Name.
    pub name: String,
    /// Unit price.
    pub price: Option<Money>,
    /// Units in the warehouse (held ones included).
    pub on_hand: u32,
    /// Units held for orders.
    pub reserved: u32,
    /// Units sold (gone from `on_hand`).
    pub sold: u32,
    /// Every unit ever received: initial stock plus additions.
    pub received: u64,
}

impl ProductStock {
    /// Units free to reserve: on hand − reserved.
    pub fn available(&self) -> u32 {
        self.on_hand.saturating_sub(self.reserved)
    }
}

/// Where an order's reservation is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReservationStatus {
    /// Held.
    Reserved,
    /// Refused (nothing held).
    Rejected,
    /// Released.
    Released,
    /// Lapsed.
    Expired,
    /// Sold.
    Confirmed,
    /// Sold, then returned.
    Returned,
}

impl std::fmt::Display for ReservationStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Reserved => "reserved",
            Self::Rejected => "rejected",
            Self::Released => "released",
            Self::Expired => "expired",
            Self::Confirmed => "confirmed",
            Self::Returned => "returned",
        })
    }
}

/// An order's reservation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    /// Product id → quantity.
    pub items: BTreeMap<String, u32>,
    /// Where it is.
    pub status: ReservationStatus,
}

/// A warehouse: every product's ledger and every order's reservation.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Inventory {
    /// Product id → ledger.
    pub products: BTreeMap<String, ProductStock>,
    /// Order id → reservation.
    pub reservations: BTreeMap<String, Reservation>,
}
