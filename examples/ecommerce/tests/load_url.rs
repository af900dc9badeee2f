//! The URL-mode load end to end: the shop's router served on a real 127.0.0.1 port, the load
//! run against it through HTTP only, and every invariant checked through the API.

mod http_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ecommerce::http::limits::RateLimit;
use ecommerce::load::client::{Call, ShopClient};
use ecommerce::load::remote::{self, RemoteConfig};
use ecommerce::load::{LoadConfig, Outcome, planned_order, remote_checks};
use http_support::{ADMIN_EMAIL, ADMIN_PASSWORD, api, api_with, config, serve};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_orders_over_http_settle_and_pass_every_check() {
    let api = api().await;
    let (addr, stop, server) = serve(api.app.clone()).await;

    let config = RemoteConfig {
        url: format!("http://{addr}"),
        admin_email: ADMIN_EMAIL.into(),
        admin_password: ADMIN_PASSWORD.into(),
        load: LoadConfig {
            orders: 20,
            concurrency: 4,
            seed: 11,
            // The seed catalogue is there already; the load adds prod-004 and prod-005 with
            // 3 units each: a flash sale.
            products: 5,
            stock: Some(3),
            customers: 4,
            order_timeout: Duration::from_secs(60),
        },
    };
    let settled = Arc::new(AtomicUsize::new(0));
    let counter = settled.clone();
    let run = remote::run(
        &config,
        Arc::new(move || {
            counter.fetch_add(1, Ordering::Relaxed);
        }),
    )
    .await
    .expect("the load runs");
    let report = &run.report;
    assert_eq!(report.orders, 20, "{report}");
    assert_eq!(
        settled.load(Ordering::Relaxed),
        20,
        "the bar saw every order"
    );
    let counted: usize = report.outcomes.values().sum();
    assert_eq!(counted, 20, "{report}");
    assert_eq!(
        report.count(Outcome::Stuck) + report.count(Outcome::Parked),
        0,
        "{report}"
    );
    assert!(report.count(Outcome::Confirmed) > 0, "{report}");
    let ids: Vec<String> = (1..=5).map(|n| format!("prod-{n:03}")).collect();
    let wanted: u32 = (0..20)
        .flat_map(|index| planned_order(11, index, &ids, 4).items)
        .filter(|item| item.product_id == "prod-004")
        .map(|item| item.quantity)
        .sum();
    assert!(wanted > 3, "the mix wants {wanted} of 3 units");
    assert!(report.count(Outcome::OutOfStock) > 0, "{report}");

    let checks =
        remote_checks::check_all(&run.client, &run.admin_token, 4, Duration::from_secs(60))
            .await
            .expect("the checks run");
    assert_eq!(checks.len(), 5);
    for check in &checks {
        assert!(check.holds(), "{}: {:?}", check.name, check.violations);
    }
    let added = api
        .shop
        .product("prod-004")
        .await
        .expect("the load added it");
    assert_eq!(added.received, 3);

    let _ = stop.send(());
    server
        .await
        .expect("the server task ends")
        .expect("the server stops cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_client_waits_as_retry_after_says_and_gets_through() {
    let api = api_with(ecommerce::http::HttpConfig {
        rate_limit: RateLimit {
            requests: 3,
            per: Duration::from_secs(1),
        },
        ..config()
    })
    .await;
    let (addr, stop, server) = serve(api.app.clone()).await;
    let client = ShopClient::new(&format!("http://{addr}")).expect("a plain http url");
    for _ in 0..6 {
        let products: Vec<ecommerce::http::ProductView> = client
            .json(&Call::get("/api/v1/products", None))
            .await
            .expect("every request gets through in the end");
        assert_eq!(products.len(), 3);
    }
    assert!(
        client.throttled() > 0,
        "the budget of 3 was spent and waited out"
    );
    let _ = stop.send(());
    server
        .await
        .expect("the server task ends")
        .expect("the server stops cleanly");
}
