//! Inventory: the catalogue (products and prices) and the stock ledger (on hand, reserved,
//! sold), with all-or-nothing reservations per order and their expiry.
//!
//! # Aggregate boundary
//!
//! A reservation must take every item of an order or none, and available stock
//! (on hand − reserved) must never go negative. Both are decisions over *several products
//! at once*. eventcore's repository decides on one stream per command (a multi-stream append
//! exists at the store level, but no aggregate spans streams, and a transaction with several
//! [`execute_in`](eventcore::Repository::execute_in) calls cannot take back the first
//! product's reservation when the third is short). So the consistency boundary is one
//! [`Inventory`] aggregate per warehouse (stream `inventory-<warehouse>`, the shop has one:
//! [`WAREHOUSE`]) holding every product's ledger and every order's reservation. One stream
//! serialises reservations; the repository's group commit (up to 64 queued commands per
//! append) keeps a flash sale moving, and snapshots keep loading it cheap.
//!
//! Expiry is a durable deadline: [`ReservationExpiry`] is a saga per reservation that sets a
//! deadline on `StockReserved` and sends `ExpireReservation` when it falls due unless the
//! reservation was confirmed or released first (see [`expiry`]).

mod decide;
pub mod expiry;
pub mod requests;
mod stock;

pub use expiry::{Expirer, ExpiryCommand, ExpiryEvent, ReservationExpiry};
pub use stock::{
    Inventory, InventoryAction, InventoryCommand, InventoryError, InventoryEvent, ProductStock,
    Reservation, ReservationStatus,
};

use crate::money::Money;

/// The shop's one warehouse: the id of its [`Inventory`].
pub const WAREHOUSE: &str = "main";

/// A product of the seed catalogue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeedProduct {
    /// Product id.
    pub id: &'static str,
    /// Name.
    pub name: &'static str,
    /// Price.
    pub price: Money,
    /// Initial stock.
    pub stock: u32,
}

/// The seed catalogue: a laptop, a mouse and a keyboard.
pub const SEED_CATALOGUE: [SeedProduct; 3] = [
    SeedProduct {
        id: "prod-001",
        name: "Laptop",
        price: Money::usd(99_999),
        stock: 100,
    },
    SeedProduct {
        id: "prod-002",
        name: "Mouse",
        price: Money::usd(2_999),
        stock: 500,
    },
    SeedProduct {
        id: "prod-003",
        name: "Keyboard",
        price: Money::usd(14_999),
        stock: 200,
    },
];

/// The commands that add the seed catalogue to [`WAREHOUSE`] (each with a fresh command id).
pub fn seed_commands() -> Vec<InventoryCommand> {
    SEED_CATALOGUE
        .iter()
        .map(|p| {
            InventoryCommand::new(
                WAREHOUSE,
                InventoryAction::AddProduct {
                    product_id: p.id.into(),
                    name: p.name.into(),
                    description: format!("{} (seed catalogue)", p.name),
                    price: p.price,
                    initial_stock: p.stock,
                },
            )
        })
        .collect()
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
