//! The admin's view of the inventory service's own data: each product's stock ledger and
//! each order's reservation, read from the inventory aggregate (not a read model), so a
//! consistency check can compare them with what other services say.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::inventory::{ProductStock, Reservation};

/// One product's stock ledger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StockLedgerView {
    /// The product.
    pub product_id: String,
    /// Every unit ever received: initial stock plus additions.
    pub received: u64,
    /// Units in the warehouse, held ones included.
    pub on_hand: u32,
    /// Units free to reserve (on hand − reserved).
    pub available: u32,
    /// Units held for orders.
    pub reserved: u32,
    /// Units sold.
    pub sold: u32,
}

impl StockLedgerView {
    /// The view of product `id`'s ledger.
    pub fn new(id: &str, stock: &ProductStock) -> Self {
        Self {
            product_id: id.to_owned(),
            received: stock.received,
            on_hand: stock.on_hand,
            available: stock.available(),
            reserved: stock.reserved,
            sold: stock.sold,
        }
    }
}

/// Units of a product in a reservation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReservedItemView {
    /// The product.
    pub product_id: String,
    /// How many.
    pub quantity: u32,
}

/// An order's reservation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReservationView {
    /// The order.
    pub order_id: String,
    /// `reserved`, `rejected`, `released`, `expired`, `confirmed` or `returned`.
    pub status: String,
    /// What it holds (or held), by product.
    pub items: Vec<ReservedItemView>,
}

impl ReservationView {
    /// The view of order `order_id`'s `reservation`.
    pub fn new(order_id: &str, reservation: &Reservation) -> Self {
        Self {
            order_id: order_id.to_owned(),
            status: reservation.status.to_string(),
            items: reservation
                .items
                .iter()
                .map(|(product_id, quantity)| ReservedItemView {
                    product_id: product_id.clone(),
                    quantity: *quantity,
                })
                .collect(),
        }
    }
}
