//! End to end on SQLite: each path of an order reaches its terminal state with the right
//! events, read models and notifications.

mod shop_support;

use std::time::Duration;

use ecommerce::app::{Shop, ShopConfig, ShopError};
use ecommerce::order::OrderError;
use ecommerce::readmodels::orders::OrderFilter;
use eventcore::saga::SagaStatus;
use shop_support::*;

async fn place_and_settle(shop: &Shop, items: &[(&str, u32)]) -> (String, SagaStatus) {
    let order = shop
        .place_order(request("ada", items), None)
        .await
        .expect("placed")
        .order_id;
    let view = shop.wait_for_order(&order, WAIT).await.expect("settles");
    settle(shop).await;
    (order, view.status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_order_is_confirmed_with_its_stock_sold_and_one_notification() {
    let shop = shop().await;
    let (order, status) = place_and_settle(&shop, &[("prod-002", 2), ("prod-003", 1)]).await;
    assert_eq!(status, SagaStatus::Completed);
    assert_eq!(
        timeline(&shop, &order).await,
        [
            "OrderPlaced",
            "StockReserved",
            "PaymentCompleted",
            "ReservationConfirmed",
            "OrderConfirmed",
            "NotificationSent"
        ]
    );
    let view = shop.order_view(&order).await.expect("in the order view");
    assert_eq!(
        (
            view.status.as_str(),
            view.payment_status.as_str(),
            view.inventory_status.as_str()
        ),
        ("confirmed", "completed", "confirmed")
    );
    assert_eq!(view.total_cents, 2 * 2_999 + 14_999);
    let mouse = shop.product("prod-002").await.expect("in the product view");
    assert_eq!((mouse.available, mouse.reserved, mouse.sold), (498, 0, 2));
    let report = shop.analytics(3).await.expect("analytics");
    assert_eq!(report.orders_per_status, [("confirmed".to_owned(), 1)]);
    assert_eq!(report.top_products[0], ("prod-002".to_owned(), 2));
    shop.shutdown().await.expect("shuts down");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_the_stock_cannot_cover_is_cancelled_and_holds_nothing() {
    let shop = shop().await;
    let (order, status) = place_and_settle(&shop, &[("prod-001", 101)]).await;
    assert_eq!(status, SagaStatus::Compensated);
    assert_eq!(
        timeline(&shop, &order).await,
        [
            "OrderPlaced",
            "StockReservationRejected",
            "OrderCancelled",
            "NotificationSent"
        ]
    );
    let view = shop.order_view(&order).await.expect("in the order view");
    assert_eq!(view.inventory_status, "rejected");
    assert!(
        view.cancellation_reason
            .expect("a reason")
            .starts_with("insufficient stock")
    );
    assert_eq!(
        shop.product("prod-001").await.expect("product").available,
        100
    );
    shop.shutdown().await.expect("shuts down");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_payment_releases_the_stock_and_cancels_the_order() {
    let path = temp_db();
    let config = ShopConfig {
        provider: ecommerce::payment::SimulatedProvider {
            success_rate: 0.0,
            ..ecommerce::payment::SimulatedProvider::seeded(1)
        },
        ..config(&path)
    };
    let shop = Shop::open(config).await.expect("opens");
    let (order, status) = place_and_settle(&shop, &[("prod-003", 3)]).await;
    assert_eq!(status, SagaStatus::Compensated);
    let events = timeline(&shop, &order).await;
    for expected in ["PaymentFailed", "StockReleased", "OrderCancelled"] {
        assert!(
            events.contains(&expected.to_owned()),
            "{expected} missing from {events:?}"
        );
    }
    // One message for the failed payment, one for the cancellation.
    assert_eq!(
        events.iter().filter(|e| *e == "NotificationSent").count(),
        2
    );
    let view = shop.order_view(&order).await.expect("view");
    assert_eq!(
        (view.payment_status.as_str(), view.inventory_status.as_str()),
        ("failed", "released")
    );
    assert_eq!(
        shop.product("prod-003").await.expect("product").available,
        200
    );
    shop.shutdown().await.expect("shuts down");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_cancelling_mid_flight_gets_stock_and_money_back() {
    let shop = shop().await;
    let order = shop
        .place_order(request("ada", &[("prod-002", 5)]), None)
        .await
        .expect("placed")
        .order_id;
    shop.cancel_order(&order, Some("ada"), "changed my mind", None)
        .await
        .expect("cancelled");
    let view = shop.wait_for_order(&order, WAIT).await.expect("settles");
    settle(&shop).await;
    assert_eq!(view.status, SagaStatus::Compensated);
    let payment = shop.payment(&order).await;
    if let Ok(payment) = payment {
        assert_eq!(payment.paid.map_or(0, |m| m.cents), payment.refunded_cents);
    }
    let mouse = shop.product("prod-002").await.expect("product");
    assert_eq!((mouse.available, mouse.reserved, mouse.sold), (500, 0, 0));
    assert_eq!(
        shop.order_view(&order).await.expect("view").status,
        "cancelled"
    );
    shop.shutdown().await.expect("shuts down");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_payment_reply_times_out_and_compensates() {
    let path = temp_db();
    let config = ShopConfig {
        reply_timeout: Duration::from_millis(500),
        ..config(&path)
    };
    let shop = Shop::open(config).await.expect("opens");
    shop.set_payment_outage(true);
    let order = shop
        .place_order(request("ada", &[("prod-003", 1)]), None)
        .await
        .expect("placed")
        .order_id;
    let view = shop.wait_for_order(&order, WAIT).await.expect("settles");
    shop.set_payment_outage(false);
    settle(&shop).await;
    assert_eq!(view.status, SagaStatus::Compensated);
    let reason = shop
        .order(&order)
        .await
        .expect("order")
        .cancellation_reason
        .expect("a reason");
    assert!(reason.starts_with("timed out"), "{reason}");
    assert_eq!(
        shop.product("prod-003").await.expect("product").available,
        200
    );
    shop.shutdown().await.expect("shuts down");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_confirmed_order_refunds_it_and_returns_the_sold_stock() {
    let shop = shop().await;
    let (order, status) = place_and_settle(&shop, &[("prod-001", 2)]).await;
    assert_eq!(status, SagaStatus::Completed);
    shop.cancel_order(&order, None, "returned", None)
        .await
        .expect("cancelled");
    settle(&shop).await;
    let payment = shop.payment(&order).await.expect("paid");
    assert_eq!(payment.refunded_cents, 2 * 99_999);
    let laptop = shop.product("prod-001").await.expect("product");
    assert_eq!(
        (laptop.available, laptop.reserved, laptop.sold),
        (100, 0, 0)
    );
    let events = timeline(&shop, &order).await;
    for expected in ["OrderCancelled", "PaymentRefunded", "SoldStockReturned"] {
        assert!(
            events.contains(&expected.to_owned()),
            "{expected} missing from {events:?}"
        );
    }
    let report = shop.analytics(3).await.expect("analytics");
    assert!(report.revenue_per_day.iter().all(|(_, cents)| *cents == 0));
    shop.shutdown().await.expect("shuts down");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redelivered_events_send_no_second_notification_and_refund_once() {
    let shop = shop().await;
    let (order, _) = place_and_settle(&shop, &[("prod-002", 1)]).await;
    shop.cancel_order(&order, None, "returned", None)
        .await
        .expect("cancelled");
    settle(&shop).await;
    for event in log(&shop).await {
        shop.redeliver_to_policies(&event)
            .await
            .expect("redelivered");
    }
    settle(&shop).await;
    let events = timeline(&shop, &order).await;
    let count = |t: &str| events.iter().filter(|e| *e == t).count();
    assert_eq!(
        (
            count("NotificationSent"),
            count("PaymentRefunded"),
            count("SoldStockReturned")
        ),
        (2, 1, 1)
    );
    shop.shutdown().await.expect("shuts down");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn illegal_transitions_and_unknown_products_are_typed_errors() {
    let shop = shop().await;
    let unknown = shop.place_order(request("ada", &[("nope", 1)]), None).await;
    assert!(matches!(
        unknown,
        Err(ShopError::Order(OrderError::UnknownProduct(_)))
    ));
    let (order, _) = place_and_settle(&shop, &[("prod-002", 1)]).await;
    let deliver = shop
        .deliver_order(&order, None)
        .await
        .expect_err("not shipped");
    assert_eq!(deliver.code(), "illegal_transition");
    shop.ship_order(&order, "TRACK-1", None)
        .await
        .expect("ships");
    shop.deliver_order(&order, None).await.expect("delivers");
    settle(&shop).await;
    assert_eq!(
        shop.order_view(&order).await.expect("view").status,
        "delivered"
    );
    let filter = OrderFilter {
        customer_id: Some("ada".into()),
        status: Some("delivered".into()),
        ..OrderFilter::default()
    };
    assert_eq!(shop.orders(&filter).await.expect("listed").len(), 1);
    let (history, placed) = shop.order_history(&order, Some(1)).await.expect("history");
    assert_eq!(history.len(), 4);
    assert_eq!(placed.status.to_string(), "pending");
    shop.shutdown().await.expect("shuts down");
}
