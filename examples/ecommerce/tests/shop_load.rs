//! A small in-process load: every invariant of ECOMMERCE.md holds afterwards, and the
//! analytics read model agrees with the pure fold over the log.

mod shop_support;

use std::sync::Arc;
use std::time::Duration;

use ecommerce::analytics::Analytics;
use ecommerce::app::{Shop, ShopConfig, StepMode};
use ecommerce::load::{self, LoadConfig, Outcome, invariants};
use ecommerce::order::OrderEvent;
use ecommerce::payment::SimulatedProvider;
use eventcore::Upcasters;
use shop_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_orders_leave_every_invariant_holding() {
    load_and_check(StepMode::Local).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claimed_steps_leave_every_invariant_holding_too() {
    load_and_check(StepMode::Claimed).await;
}

async fn load_and_check(step_mode: StepMode) {
    let path = temp_db();
    let config = ShopConfig {
        provider: SimulatedProvider {
            success_rate: 0.8,
            ..SimulatedProvider::seeded(9)
        },
        seed_catalogue: false,
        durable: false,
        step_mode,
        ..ShopConfig::new(&path)
    };
    let shop = Arc::new(Shop::open(config).await.expect("opens"));
    let load = LoadConfig {
        orders: 200,
        concurrency: 20,
        seed: 9,
        products: 3,
        stock: Some(60),
        customers: 100,
        order_timeout: Duration::from_secs(60),
    };
    let report = load::run(shop.clone(), &load, Arc::new(|| {}))
        .await
        .expect("runs");
    assert_eq!(report.orders, 200);
    assert_eq!(
        report.count(Outcome::Stuck) + report.count(Outcome::Parked),
        0,
        "{report}"
    );
    assert!(report.count(Outcome::Confirmed) > 0, "{report}");
    assert!(
        report.count(Outcome::OutOfStock) > 0,
        "a flash sale runs out: {report}"
    );
    assert!(report.count(Outcome::PaymentDeclined) > 0, "{report}");

    let checks = invariants::check_all(&shop, WAIT)
        .await
        .expect("checks run");
    for check in &checks {
        assert!(
            check.violations.is_empty(),
            "{}: {:?}",
            check.name,
            check.violations
        );
    }

    // The SQL analytics equal the pure fold over the order events.
    let mut fold = Analytics::default();
    for event in log(&shop)
        .await
        .iter()
        .filter(|e| e.stream_id.category() == "order")
    {
        let decoded: OrderEvent = event.decode(&Upcasters::default()).expect("decodes");
        fold.apply(event.recorded_at, &decoded);
    }
    let report = shop.analytics(10).await.expect("analytics");
    let per_status: Vec<(String, i64)> = fold
        .orders_per_status
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(s, n)| (s.clone(), *n as i64))
        .collect();
    assert_eq!(report.orders_per_status, per_status);
    let revenue: Vec<(i64, i64)> = fold.revenue_per_day.iter().map(|(d, c)| (*d, *c)).collect();
    assert_eq!(report.revenue_per_day, revenue);
    let top: Vec<(String, i64)> = fold
        .top_products(10)
        .into_iter()
        .map(|(p, u)| (p, u as i64))
        .collect();
    assert_eq!(report.top_products, top);
    if let Ok(shop) = Arc::try_unwrap(shop) {
        shop.shutdown().await.expect("shuts down");
    }
}
