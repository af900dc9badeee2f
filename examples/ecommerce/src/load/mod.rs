//! The in-process load generator: N orders at concurrency C against a [`Shop`], timing each
//! from placement to its terminal state (confirmed or cancelled), then the invariant checks of
//! [`invariants`].

pub mod invariants;
mod summary;

pub use summary::{LoadReport, Outcome};

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use eventcore::saga::SagaStatus;

use crate::app::{PlaceOrderRequest, Shop, ShopError, generated_product};
use crate::inventory::SEED_CATALOGUE;
use crate::order::RequestedItem;

/// What to generate.
#[derive(Clone, Debug)]
pub struct LoadConfig {
    /// Orders to place.
    pub orders: usize,
    /// Orders in flight at once.
    pub concurrency: usize,
    /// Seeds the order mix (and, through the shop's config, the payment provider).
    pub seed: u64,
    /// Catalogue size: up to 3 is (a part of) the seed catalogue, more adds generated ones.
    pub products: usize,
    /// Units per product (`None`: the seed catalogue's stock, 1,000 for generated products).
    pub stock: Option<u32>,
    /// How long one order may take to settle before it counts as stuck.
    pub order_timeout: Duration,
}

impl Default for LoadConfig {
    fn default() -> Self {
        Self {
            orders: 1_000,
            concurrency: 50,
            seed: 42,
            products: 3,
            stock: None,
            order_timeout: Duration::from_secs(120),
        }
    }
}

/// Units a generated product starts with unless `--stock` says otherwise.
pub const GENERATED_STOCK: u32 = 1_000;

/// The catalogue the load orders from: ids, added to the shop (idempotent) with their stock.
///
/// # Errors
/// The shop's.
pub async fn prepare_catalogue(shop: &Shop, config: &LoadConfig) -> Result<Vec<String>, ShopError> {
    let mut ids = Vec::new();
    for index in 0..config.products.max(1) {
        let (id, name, price, stock) = match SEED_CATALOGUE.get(index) {
            Some(p) => (p.id.to_owned(), p.name.to_owned(), p.price, p.stock),
            None => {
                let (id, price) = generated_product(index);
                (id.clone(), format!("Product {id}"), price, GENERATED_STOCK)
            }
        };
        let stock = config.stock.unwrap_or(stock);
        shop.add_product(&id, &name, "load catalogue", price, stock)
            .await?;
        ids.push(id);
    }
    Ok(ids)
}

/// A small deterministic generator (splitmix64).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// Seeded.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

/// Order `index`'s request: 1–3 distinct products, 1–2 units each, one of 100 customers.
pub fn order_request(seed: u64, index: usize, products: &[String]) -> PlaceOrderRequest {
    let mut rng = Rng::new(seed ^ (index as u64).wrapping_mul(0x2545_f491_4f6c_dd1d));
    let lines = 1 + rng.below(3.min(products.len()));
    let mut items: Vec<RequestedItem> = Vec::new();
    while items.len() < lines {
        let product_id = products[rng.below(products.len())].clone();
        if items.iter().all(|i| i.product_id != product_id) {
            let quantity = 1 + rng.below(2) as u32;
            items.push(RequestedItem {
                product_id,
                quantity,
            });
        }
    }
    PlaceOrderRequest {
        customer_id: format!("customer-{:03}", rng.below(100)),
        items,
        idempotency_key: Some(format!("load-{seed}-{index}")),
    }
}

/// Runs the load against `shop`; `on_settled` is called after each order (a progress bar).
///
/// # Errors
/// The shop's, for a placement that fails outright.
pub async fn run(
    shop: Arc<Shop>,
    config: &LoadConfig,
    on_settled: Arc<dyn Fn() + Send + Sync>,
) -> Result<LoadReport, ShopError> {
    let products = Arc::new(prepare_catalogue(&shop, config).await?);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..config.concurrency.max(1) {
        let (shop, next, products) = (shop.clone(), next.clone(), products.clone());
        let (config, on_settled) = (config.clone(), on_settled.clone());
        workers.push(tokio::spawn(async move {
            let mut results = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= config.orders {
                    return Ok::<_, ShopError>(results);
                }
                let request = order_request(config.seed, index, &products);
                let placed_at = Instant::now();
                let placed = shop.place_order(request, None).await?;
                let outcome = match shop
                    .wait_for_order(&placed.order_id, config.order_timeout)
                    .await
                {
                    Ok(view) => match view.status {
                        SagaStatus::Completed => Outcome::Confirmed,
                        SagaStatus::Compensated => {
                            Outcome::cancelled(view.state.cancel_reason.as_deref())
                        }
                        _ => Outcome::Parked,
                    },
                    Err(_) => Outcome::Stuck,
                };
                results.push((outcome, placed_at.elapsed()));
                on_settled();
            }
        }));
    }
    let mut results = Vec::with_capacity(config.orders);
    for worker in workers {
        let done = worker
            .await
            .map_err(|e| ShopError::unavailable("a load worker", e))??;
        results.extend(done);
    }
    Ok(LoadReport::new(results, started.elapsed()))
}
