//! The admin's endpoints through the router: shipping and delivery, cancellations,
//! analytics, sagas and read models.

mod http_support;

use std::time::Duration;

use axum::http::StatusCode;
use http_support::api;
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_ships_and_delivers_and_illegal_transitions_are_409() {
    let api = api().await;
    let admin = api.admin().await;
    let (_, token) = api.customer("ada").await;
    let order_id = api.place(&token, &[("prod-001", 1)]).await;
    api.wait_for(&token, &order_id, "confirmed").await;
    let deliver = format!("/api/v1/orders/{order_id}/deliver");
    let early = api.post(&deliver, Some(&admin), json!({})).await;
    assert_eq!(
        (early.status, early.code()),
        (StatusCode::CONFLICT, "illegal_transition")
    );
    assert_eq!(
        early.body["error"]["message"],
        "cannot deliver an order in status confirmed"
    );
    let ship = format!("/api/v1/orders/{order_id}/ship");
    let by_customer = api
        .post(&ship, Some(&token), json!({ "tracking_number": "T-1" }))
        .await;
    assert_eq!(by_customer.status, StatusCode::FORBIDDEN);
    let blank = api
        .post(&ship, Some(&admin), json!({ "tracking_number": " " }))
        .await;
    assert_eq!(blank.status, StatusCode::UNPROCESSABLE_ENTITY);
    let shipped = api
        .post(&ship, Some(&admin), json!({ "tracking_number": "T-1" }))
        .await;
    assert_eq!(
        (shipped.status, shipped.body["status"].as_str()),
        (StatusCode::OK, Some("shipped"))
    );
    let delivered = api.post(&deliver, Some(&admin), json!({})).await;
    assert_eq!(delivered.body["status"], "delivered");
    let cancel = api
        .post(
            &format!("/api/v1/orders/{order_id}/cancel"),
            Some(&token),
            json!({}),
        )
        .await;
    assert_eq!(
        (cancel.status, cancel.code()),
        (StatusCode::CONFLICT, "illegal_transition")
    );
    let unknown = api
        .post(
            "/api/v1/orders/no-such-order/ship",
            Some(&admin),
            json!({ "tracking_number": "T" }),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let unknown = api
        .post(
            "/api/v1/orders/no-such-order/deliver",
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_customer_cancels_a_confirmed_order_and_gets_refunded() {
    let api = api().await;
    let (_, token) = api.customer("ada").await;
    let order_id = api.place(&token, &[("prod-003", 2)]).await;
    api.wait_for(&token, &order_id, "confirmed").await;
    let cancel = format!("/api/v1/orders/{order_id}/cancel");
    let cancelled = api
        .post(
            &cancel,
            Some(&token),
            json!({ "reason": "changed my mind" }),
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.text);
    assert_eq!(cancelled.body["cancellation_reason"], "changed my mind");
    let again = api.post(&cancel, Some(&token), json!({})).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let payment = format!("/api/v1/orders/{order_id}/payment");
    for _ in 0..400 {
        if api.get(&payment, Some(&token)).await.body["status"] == "refunded" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the payment of a cancelled order was never refunded");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_sees_analytics_and_sagas() {
    let api = api().await;
    let admin = api.admin().await;
    let (_, token) = api.customer("ada").await;
    let order_id = api.place(&token, &[("prod-002", 3)]).await;
    api.wait_for(&token, &order_id, "confirmed").await;
    api.shop.catch_up().await.unwrap();
    let analytics = api.get("/api/v1/analytics", Some(&admin)).await;
    assert_eq!(analytics.status, StatusCode::OK, "{}", analytics.text);
    assert_eq!(
        analytics.body["top_products"][0],
        json!({ "product_id": "prod-002", "units": 3 })
    );
    let uri = format!("/api/v1/sagas/{order_id}");
    let mut saga = api.get(&uri, Some(&admin)).await;
    for _ in 0..400 {
        if saga.body["status"] == "completed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
        saga = api.get(&uri, Some(&admin)).await;
    }
    assert_eq!(saga.status, StatusCode::OK, "{}", saga.text);
    assert_eq!(saga.body["status"], "completed", "{}", saga.text);
    assert!(saga.body["steps"].as_array().unwrap().len() >= 3);
    let completed = api
        .get("/api/v1/sagas?status=completed", Some(&admin))
        .await;
    assert!(
        completed
            .body
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == order_id.as_str())
    );
    let bad = api.get("/api/v1/sagas?status=failed", Some(&admin)).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let retry = api
        .post(
            &format!("/api/v1/sagas/{order_id}/retry"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(
        (retry.status, retry.code()),
        (StatusCode::CONFLICT, "not_parked")
    );
    let missing = api.get("/api/v1/sagas/no-such-order", Some(&admin)).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_rebuilds_a_read_model_and_watches_it_finish() {
    let api = api().await;
    let admin = api.admin().await;
    let models = api.get("/api/v1/read-models", Some(&admin)).await;
    let names: Vec<&str> = models
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    assert_eq!(names.len(), 3, "{}", models.text);
    assert!(names.contains(&"product-view"));
    let started = api
        .post(
            "/api/v1/read-models/product-view/rebuild",
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.text);
    let mut last = serde_json::Value::Null;
    for _ in 0..400 {
        last = api
            .get("/api/v1/read-models/product-view", Some(&admin))
            .await
            .body;
        if last["last_rebuild"]["status"] == "completed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(last["last_rebuild"]["status"], "completed", "{last}");
    let products = api.get("/api/v1/products", None).await;
    assert_eq!(products.body.as_array().unwrap().len(), 3);
    let unknown = api
        .post("/api/v1/read-models/nope/rebuild", Some(&admin), json!({}))
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}
