//! The load generator: N orders at concurrency C, timing each from placement to its terminal
//! state (confirmed or cancelled), then the invariant checks of ECOMMERCE.md ("Load").
//!
//! Two modes share the order mix ([`mix`]), the report ([`LoadReport`]) and the check rules
//! ([`check`]): [`run`] drives a [`Shop`] in-process and [`invariants`] checks its aggregates;
//! [`remote::run`] drives a running shop over its HTTP API ([`client`]) and
//! [`remote_checks`] checks it through that API only.

pub mod check;
pub mod client;
pub mod invariants;
pub mod mix;
pub mod remote;
pub mod remote_checks;
mod remote_rebuild;
mod summary;

pub use mix::{
    GENERATED_STOCK, PlannedOrder, ProductSpec, catalogue, order_request, planned_order,
};
pub use summary::{LoadReport, Outcome};

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use eventcore::saga::SagaStatus;

use crate::app::{Shop, ShopError, Warehouse};

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
    /// How many customers share the orders.
    pub customers: usize,
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
            customers: 100,
            order_timeout: Duration::from_secs(120),
        }
    }
}

/// The catalogue the load orders from ([`catalogue`]): ids, added to the shop (idempotent)
/// with their stock.
///
/// # Errors
/// The shop's.
pub async fn prepare_catalogue(shop: &Shop, config: &LoadConfig) -> Result<Vec<String>, ShopError> {
    let mut ids = Vec::new();
    for product in catalogue(config) {
        let ProductSpec {
            id,
            name,
            price,
            stock,
        } = product;
        shop.add_product(&id, &name, "load catalogue", price, stock, None)
            .await?;
        ids.push(id);
    }
    Ok(ids)
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
                let request =
                    mix::order_request_among(config.seed, index, &products, config.customers);
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
