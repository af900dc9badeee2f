//! How an [`Inventory`] folds its events and decides on commands.

use std::collections::BTreeMap;

use eventcore::Aggregate;

use super::stock::{
    Inventory, InventoryAction, InventoryCommand, InventoryError, InventoryEvent, ProductStock,
    Reservation, ReservationStatus,
};
use crate::money::Money;

type Items = BTreeMap<String, u32>;

impl Inventory {
    fn product(&mut self, id: &str) -> &mut ProductStock {
        self.products.entry(id.to_owned()).or_default()
    }

    fn settle(&mut self, order_id: &str, status: ReservationStatus) {
        if let Some(reservation) = self.reservations.get_mut(order_id) {
            reservation.status = status;
        }
    }

    fn unhold(&mut self, items: &Items) {
        for (id, quantity) in items {
            let product = self.product(id);
            product.reserved = product.reserved.saturating_sub(*quantity);
        }
    }

    /// The status of `order_id`'s reservation, if it has one.
    pub fn reservation_status(&self, order_id: &str) -> Option<ReservationStatus> {
        self.reservations.get(order_id).map(|r| r.status)
    }

    /// The reservation's items if it is in `status`.
    fn items_if(&self, order_id: &str, status: ReservationStatus) -> Option<Items> {
        self.reservations
            .get(order_id)
            .filter(|r| r.status == status)
            .map(|r| r.items.clone())
    }

    fn known(&self, product_id: &str) -> Result<&ProductStock, InventoryError> {
        self.products
            .get(product_id)
            .ok_or_else(|| InventoryError::UnknownProduct(product_id.to_owned()))
    }

    fn reserve(
        &self,
        order_id: &str,
        items: &Items,
    ) -> Result<Vec<InventoryEvent>, InventoryError> {
        if self.reservations.contains_key(order_id) {
            return Ok(vec![]); // decided before: the first decision stands
        }
        if items.is_empty() {
            return Err(InventoryError::NothingToReserve);
        }
        if items.values().any(|q| *q == 0) {
            return Err(InventoryError::ZeroQuantity);
        }
        for (product_id, requested) in items {
            let available = self
                .products
                .get(product_id)
                .map_or(0, ProductStock::available);
            if available < *requested {
                return Ok(vec![InventoryEvent::StockReservationRejected {
                    order_id: order_id.to_owned(),
                    product_id: product_id.clone(),
                    available,
                    requested: *requested,
                }]);
            }
        }
        Ok(vec![InventoryEvent::StockReserved {
            order_id: order_id.to_owned(),
            items: items.clone(),
        }])
    }
}

fn positive(price: Money) -> Result<(), InventoryError> {
    if price.is_positive() {
        Ok(())
    } else {
        Err(InventoryError::InvalidPrice(price))
    }
}

impl Aggregate for Inventory {
    const TYPE: &'static str = "inventory";
    type Event = InventoryEvent;
    type Command = InventoryCommand;
    type Error = InventoryError;

    fn apply(&mut self, event: &InventoryEvent) {
        use InventoryEvent as E;
        match event {
            E::ProductAdded {
                product_id,
                name,
                price,
                initial_stock,
                ..
            } => {
                let product = self.product(product_id);
                product.name.clone_from(name);
                product.price = Some(*price);
                product.on_hand += initial_stock;
                product.received += u64::from(*initial_stock);
            }
            E::PriceChanged { product_id, price } => self.product(product_id).price = Some(*price),
            E::StockAdded {
                product_id,
                quantity,
            } => {
                let product = self.product(product_id);
                product.on_hand += quantity;
                product.received += u64::from(*quantity);
            }
            E::StockReserved { order_id, items } => {
                for (id, quantity) in items {
                    self.product(id).reserved += quantity;
                }
                let status = ReservationStatus::Reserved;
                let items = items.clone();
                self.reservations
                    .insert(order_id.clone(), Reservation { items, status });
            }
            E::StockReservationRejected { order_id, .. } => {
                let reservation = Reservation {
                    items: Items::new(),
                    status: ReservationStatus::Rejected,
                };
                self.reservations.insert(order_id.clone(), reservation);
            }
            E::StockReleased { order_id, items } => {
                self.unhold(items);
                self.settle(order_id, ReservationStatus::Released);
            }
            E::ReservationExpired { order_id, items } => {
                self.unhold(items);
                self.settle(order_id, ReservationStatus::Expired);
            }
            E::ReservationConfirmed { order_id, items } => {
                for (id, quantity) in items {
                    let product = self.product(id);
                    product.reserved = product.reserved.saturating_sub(*quantity);
                    product.on_hand = product.on_hand.saturating_sub(*quantity);
                    product.sold += quantity;
                }
                self.settle(order_id, ReservationStatus::Confirmed);
            }
            E::SoldStockReturned { order_id, items } => {
                for (id, quantity) in items {
                    let product = self.product(id);
                    product.sold = product.sold.saturating_sub(*quantity);
                    product.on_hand += quantity;
                }
                self.settle(order_id, ReservationStatus::Returned);
            }
        }
    }

    fn handle(&self, command: &InventoryCommand) -> Result<Vec<InventoryEvent>, InventoryError> {
        use InventoryAction as A;
        use InventoryEvent as E;
        use ReservationStatus::{Confirmed, Reserved};
        let order = |id: &String| id.clone();
        match &command.action {
            A::AddProduct { product_id, .. } if self.products.contains_key(product_id) => {
                Err(InventoryError::DuplicateProduct(product_id.clone()))
            }
            A::AddProduct {
                product_id,
                name,
                description,
                price,
                initial_stock,
            } => {
                positive(*price)?;
                Ok(vec![E::ProductAdded {
                    product_id: product_id.clone(),
                    name: name.clone(),
                    description: description.clone(),
                    price: *price,
                    initial_stock: *initial_stock,
                }])
            }
            A::ChangePrice { product_id, price } => {
                self.known(product_id)?;
                positive(*price)?;
                Ok(vec![E::PriceChanged {
                    product_id: product_id.clone(),
                    price: *price,
                }])
            }
            A::AddStock { quantity: 0, .. } => Err(InventoryError::ZeroQuantity),
            A::AddStock {
                product_id,
                quantity,
            } => {
                let product = self.known(product_id)?;
                if product.on_hand.checked_add(*quantity).is_none() {
                    return Err(InventoryError::Overflow(product_id.clone()));
                }
                Ok(vec![E::StockAdded {
                    product_id: product_id.clone(),
                    quantity: *quantity,
                }])
            }
            A::ReserveStock { order_id, items } => self.reserve(order_id, items),
            A::ReleaseStock { order_id } => Ok(self
                .items_if(order_id, Reserved)
                .map(|items| E::StockReleased {
                    order_id: order(order_id),
                    items,
                })
                .into_iter()
                .collect()),
            A::ExpireReservation { order_id } => Ok(self
                .items_if(order_id, Reserved)
                .map(|items| E::ReservationExpired {
                    order_id: order(order_id),
                    items,
                })
                .into_iter()
                .collect()),
            A::ReturnSoldStock { order_id } => Ok(self
                .items_if(order_id, Confirmed)
                .map(|items| E::SoldStockReturned {
                    order_id: order(order_id),
                    items,
                })
                .into_iter()
                .collect()),
            A::ConfirmReservation { order_id } => match self.items_if(order_id, Reserved) {
                Some(items) => Ok(vec![E::ReservationConfirmed {
                    order_id: order(order_id),
                    items,
                }]),
                None => Err(InventoryError::NotReserved {
                    order_id: order(order_id),
                    status: self
                        .reservation_status(order_id)
                        .map_or_else(|| "none".to_owned(), |s| s.to_string()),
                }),
            },
        }
    }
}
