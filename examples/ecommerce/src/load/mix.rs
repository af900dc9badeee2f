//! What a load run orders, the same in both modes: the catalogue it orders from and a
//! deterministic order mix (1–3 distinct products, 1–2 units each, one of the customers),
//! derived from the seed and the order's index alone.

use crate::app::{PlaceOrderRequest, generated_product};
use crate::inventory::SEED_CATALOGUE;
use crate::money::Money;
use crate::order::RequestedItem;

use super::LoadConfig;

/// Units a generated product starts with unless `--stock` says otherwise.
pub const GENERATED_STOCK: u32 = 1_000;

/// One product of the load's catalogue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProductSpec {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its unit price.
    pub price: Money,
    /// The units it should start with.
    pub stock: u32,
}

/// The catalogue `config` orders from: up to 3 products are (a part of) the seed catalogue,
/// more add generated ones; `config.stock` overrides every product's stock.
pub fn catalogue(config: &LoadConfig) -> Vec<ProductSpec> {
    (0..config.products.max(1))
        .map(|index| {
            let (id, name, price, stock) = match SEED_CATALOGUE.get(index) {
                Some(p) => (p.id.to_owned(), p.name.to_owned(), p.price, p.stock),
                None => {
                    let (id, price) = generated_product(index);
                    (id.clone(), format!("Product {id}"), price, GENERATED_STOCK)
                }
            };
            ProductSpec {
                id,
                name,
                price,
                stock: config.stock.unwrap_or(stock),
            }
        })
        .collect()
}

/// One order of the mix, before it is addressed to a customer id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedOrder {
    /// Its index in the run.
    pub index: usize,
    /// Which of the run's customers places it (below the number of customers).
    pub customer: usize,
    /// What it asks for.
    pub items: Vec<RequestedItem>,
    /// The key that makes a retried placement safe.
    pub idempotency_key: String,
}

/// Order `index` of a run with `seed` over `products` and `customers` customers.
pub fn planned_order(
    seed: u64,
    index: usize,
    products: &[String],
    customers: usize,
) -> PlannedOrder {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::SmallRng::seed_from_u64(
        seed ^ (index as u64).wrapping_mul(0x2545_f491_4f6c_dd1d),
    );
    // No products, no items (the shop refuses such an order).
    let lines = match products.len() {
        0 => 0,
        n => rng.random_range(1..=n.min(3)),
    };
    let mut items: Vec<RequestedItem> = Vec::new();
    while items.len() < lines {
        let product_id = products[rng.random_range(0..products.len())].clone();
        if items.iter().all(|i| i.product_id != product_id) {
            let quantity = rng.random_range(1..=2);
            items.push(RequestedItem {
                product_id,
                quantity,
            });
        }
    }
    PlannedOrder {
        index,
        customer: rng.random_range(0..customers.max(1)),
        items,
        idempotency_key: format!("load-{seed}-{index}"),
    }
}

/// Order `index`'s request in-process, for customer `customer-NNN` of [`LoadConfig::customers`]
/// (in-process, a customer id needs no registration).
pub fn order_request(seed: u64, index: usize, products: &[String]) -> PlaceOrderRequest {
    order_request_among(seed, index, products, LoadConfig::default().customers)
}

/// [`order_request`] among `customers` customers.
pub fn order_request_among(
    seed: u64,
    index: usize,
    products: &[String],
    customers: usize,
) -> PlaceOrderRequest {
    let planned = planned_order(seed, index, products, customers);
    PlaceOrderRequest {
        customer_id: format!("customer-{:03}", planned.customer),
        items: planned.items,
        idempotency_key: Some(planned.idempotency_key),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_is_deterministic_distinct_and_within_bounds() {
        let products: Vec<String> = (1..=5).map(|n| format!("prod-{n:03}")).collect();
        for index in 0..200 {
            let a = planned_order(7, index, &products, 10);
            assert_eq!(a, planned_order(7, index, &products, 10));
            assert!((1..=3).contains(&a.items.len()) && a.customer < 10);
            let mut ids: Vec<&str> = a.items.iter().map(|i| i.product_id.as_str()).collect();
            ids.dedup();
            ids.sort_unstable();
            ids.dedup();
            assert_eq!(ids.len(), a.items.len(), "distinct products");
            assert!(a.items.iter().all(|i| (1..=2).contains(&i.quantity)));
        }
    }

    #[test]
    fn the_catalogue_is_the_seed_one_then_generated_products_with_the_stock_asked_for() {
        let config = LoadConfig {
            products: 5,
            stock: Some(7),
            ..LoadConfig::default()
        };
        let specs = catalogue(&config);
        assert_eq!(specs.len(), 5);
        assert_eq!(specs[0].id, SEED_CATALOGUE[0].id);
        assert_eq!(specs[4].id, "prod-005");
        assert!(specs.iter().all(|s| s.stock == 7));
        let default = catalogue(&LoadConfig::default());
        assert_eq!(default[1].stock, SEED_CATALOGUE[1].stock);
    }
}
