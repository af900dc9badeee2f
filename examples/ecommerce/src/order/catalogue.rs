//! The order context's price list: a read model of the inventory's catalogue events, and the
//! pricing of a requested order against it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::aggregate::{Line, OrderAction, OrderCommand, OrderError};
use crate::inventory::InventoryEvent;
use crate::money::Money;

/// Where prices come from.
pub trait PriceLookup {
    /// The current unit price of `product_id`, if it is in the catalogue.
    fn price_of(&self, product_id: &str) -> Option<Money>;
}

/// Prices by product id, folded from inventory events.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalogue {
    prices: BTreeMap<String, Money>,
}

impl Catalogue {
    /// Folds one inventory event in (events that do not concern prices are ignored).
    pub fn apply(&mut self, event: &InventoryEvent) {
        match event {
            InventoryEvent::ProductAdded {
                product_id, price, ..
            }
            | InventoryEvent::PriceChanged { product_id, price } => {
                self.prices.insert(product_id.clone(), *price);
            }
            _ => {}
        }
    }

    /// A catalogue folded from `events`.
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a InventoryEvent>) -> Self {
        let mut catalogue = Self::default();
        for event in events {
            catalogue.apply(event);
        }
        catalogue
    }
}

impl PriceLookup for Catalogue {
    fn price_of(&self, product_id: &str) -> Option<Money> {
        self.prices.get(product_id).copied()
    }
}

/// One item a customer asks for: a product and how many, never a price.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestedItem {
    /// The product.
    pub product_id: String,
    /// How many.
    pub quantity: u32,
}

/// A customer's order as requested, before pricing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlaceOrder {
    /// The new order's id.
    pub order_id: String,
    /// Who orders.
    pub customer_id: String,
    /// What.
    pub items: Vec<RequestedItem>,
}

impl PlaceOrder {
    /// Prices every item from `prices` into the command that places the order.
    ///
    /// # Errors
    /// [`OrderError::UnknownProduct`] for the first item the catalogue does not know.
    pub fn price(&self, prices: &impl PriceLookup) -> Result<OrderCommand, OrderError> {
        let lines = self
            .items
            .iter()
            .map(|item| {
                let unit_price = prices
                    .price_of(&item.product_id)
                    .ok_or_else(|| OrderError::UnknownProduct(item.product_id.clone()))?;
                Ok::<_, OrderError>(Line {
                    product_id: item.product_id.clone(),
                    quantity: item.quantity,
                    unit_price,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(OrderCommand::new(
            &self.order_id,
            OrderAction::Place {
                customer_id: self.customer_id.clone(),
                lines,
            },
        ))
    }
}
