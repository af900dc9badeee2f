//! What the shop's end-to-end tests share: a shop on a fresh SQLite file and small helpers.

#![allow(dead_code, reason = "each test file uses part of the kit")]

pub mod services;

use std::path::PathBuf;
use std::time::Duration;

use ecommerce::app::{PlaceOrderRequest, Shop, ShopConfig, ShopStore};
use ecommerce::order::RequestedItem;
use ecommerce::payment::SimulatedProvider;
use eventcore::{EventReader, RecordedEvent};

/// How long a test waits for anything.
pub const WAIT: Duration = Duration::from_secs(30);

/// A fresh database path in the temporary directory.
pub fn temp_db() -> PathBuf {
    std::env::temp_dir().join(format!("ecommerce-test-{}.db", uuid::Uuid::new_v4()))
}

/// A config that approves every payment at once (no latency).
pub fn config(path: &PathBuf) -> ShopConfig {
    ShopConfig {
        provider: SimulatedProvider {
            success_rate: 1.0,
            ..SimulatedProvider::seeded(1)
        },
        durable: false,
        ..ShopConfig::new(path)
    }
}

/// A shop with [`config`].
pub async fn shop() -> Shop {
    Shop::open(config(&temp_db()))
        .await
        .expect("the shop opens")
}

/// An order request for `customer`.
pub fn request(customer: &str, items: &[(&str, u32)]) -> PlaceOrderRequest {
    PlaceOrderRequest {
        customer_id: customer.into(),
        items: items
            .iter()
            .map(|(p, q)| RequestedItem {
                product_id: (*p).into(),
                quantity: *q,
            })
            .collect(),
        idempotency_key: None,
    }
}

/// Every event in the log.
pub async fn log(shop: &Shop) -> Vec<RecordedEvent> {
    shop.store()
        .read_all(1, 1_000_000)
        .await
        .expect("the log reads")
}

/// The types of the events about `order_id` (by stream or by the order id in the payload),
/// in log order.
pub async fn timeline(shop: &Shop, order_id: &str) -> Vec<String> {
    log(shop)
        .await
        .into_iter()
        .filter(|e| {
            e.stream_id.to_string().contains(order_id) || e.payload.get().contains(order_id)
        })
        .map(|e| e.event_type)
        .collect()
}

/// Settles the shop (sagas, policies, read models) or fails the test.
pub async fn settle<St: ShopStore>(shop: &Shop<St>) {
    assert!(
        shop.settle(WAIT).await.expect("settling works"),
        "the shop did not settle"
    );
}
