//! The shop's data survives a restart: orders, read models and the seed catalogue (seeded
//! once), and an idempotency key still names the same order.

mod shop_support;

use ecommerce::app::Shop;
use eventcore::saga::SagaStatus;
use shop_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_read_models_and_the_catalogue_survive_a_reopen() {
    let path = temp_db();
    let shop = Shop::open(config(&path)).await.expect("opens");
    let mut keyed = request("grace", &[("prod-002", 3)]);
    keyed.idempotency_key = Some("checkout-1".into());
    let order = shop
        .place_order(keyed.clone(), None)
        .await
        .expect("placed")
        .order_id;
    let again = shop
        .place_order(keyed.clone(), None)
        .await
        .expect("retried")
        .order_id;
    assert_eq!(order, again, "the same key is the same order");
    assert_eq!(
        shop.wait_for_order(&order, WAIT)
            .await
            .expect("settles")
            .status,
        SagaStatus::Completed
    );
    settle(&shop).await;
    let before = shop.order_view(&order).await.expect("view");
    shop.shutdown().await.expect("shuts down");

    let shop = Shop::open(config(&path)).await.expect("reopens");
    settle(&shop).await;
    assert_eq!(shop.order_view(&order).await.expect("still there"), before);
    assert_eq!(
        shop.order(&order).await.expect("order").status.to_string(),
        "confirmed"
    );
    let products = shop.products(100, 0).await.expect("products");
    assert_eq!(products.len(), 3, "seeded once");
    let mouse = shop.product("prod-002").await.expect("mouse");
    assert_eq!((mouse.received, mouse.sold, mouse.available), (500, 3, 497));
    let retried = shop
        .place_order(keyed, None)
        .await
        .expect("retried after restart")
        .order_id;
    assert_eq!(retried, order);
    settle(&shop).await;
    assert_eq!(
        shop.orders(&Default::default())
            .await
            .expect("listed")
            .len(),
        1
    );
    shop.shutdown().await.expect("shuts down");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_register_once_per_address_and_log_in_with_their_password() {
    let shop = shop().await;
    let id = shop
        .customers()
        .register("ada", "Ada@Example.com", "correct horse", None)
        .await
        .expect("registers");
    let taken = shop
        .customers()
        .register("ada2", "ada@example.com", "another one", None)
        .await
        .expect_err("taken");
    assert_eq!(taken.code(), "conflict");
    assert_eq!(
        shop.customers()
            .login("ada@example.com", "correct horse")
            .await
            .expect("logs in"),
        id
    );
    let wrong = shop
        .customers()
        .login("ada@example.com", "wrong horse")
        .await
        .expect_err("refused");
    assert_eq!(wrong.code(), "invalid_credentials");
    shop.shutdown().await.expect("shuts down");
}
