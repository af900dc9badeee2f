//! What the API offers consistency checks (the load run's, through HTTP only): the
//! inventory's ledger and reservations, unfinished sagas, dead letters; an idempotency key
//! that cannot be reused for another order; and request ids that reach every command's events.

mod http_support;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use eventcore::EventReader;
use http_support::{Reply, TestApi, api};
use serde_json::{Value, json};
use uuid::Uuid;

/// `method uri` with a bearer token, a JSON body and extra headers.
async fn send(
    api: &TestApi,
    method: Method,
    uri: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Value,
) -> Reply {
    let mut builder = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json");
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    api.send(builder.body(Body::from(body.to_string())).unwrap())
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_reads_each_products_ledger_and_each_orders_reservation() {
    let api = api().await;
    let admin = api.admin().await;
    let (_, token) = api.customer("ada").await;
    let order_id = api.place(&token, &[("prod-002", 2), ("prod-003", 1)]).await;
    api.wait_for(&token, &order_id, "confirmed").await;
    assert!(
        api.shop
            .settle(std::time::Duration::from_secs(10))
            .await
            .unwrap()
    );

    let stock = api.get("/api/v1/inventory/stock", Some(&admin)).await;
    assert_eq!(stock.status, StatusCode::OK, "{}", stock.text);
    let mouse = stock
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["product_id"] == "prod-002");
    let mouse = mouse.expect("the mouse has a ledger");
    assert_eq!(
        (
            &mouse["received"],
            &mouse["available"],
            &mouse["reserved"],
            &mouse["sold"]
        ),
        (&json!(500), &json!(498), &json!(0), &json!(2))
    );
    let page = api
        .get("/api/v1/inventory/stock?limit=1&offset=1", Some(&admin))
        .await;
    assert_eq!(page.body.as_array().unwrap().len(), 1);
    assert_eq!(page.body[0]["product_id"], "prod-002");
    let bad = api
        .get("/api/v1/inventory/stock?limit=0", Some(&admin))
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    let path = format!("/api/v1/inventory/reservations/{order_id}");
    let reservation = api.get(&path, Some(&admin)).await;
    assert_eq!(reservation.status, StatusCode::OK, "{}", reservation.text);
    assert_eq!(reservation.body["status"], "confirmed");
    assert_eq!(
        reservation.body["items"],
        json!([
            { "product_id": "prod-002", "quantity": 2 },
            { "product_id": "prod-003", "quantity": 1 }
        ])
    );
    let unknown = api
        .get("/api/v1/inventory/reservations/no-such-order", Some(&admin))
        .await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    for uri in ["/api/v1/inventory/stock", path.as_str()] {
        assert_eq!(
            api.get(uri, Some(&token)).await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(api.get(uri, None).await.status, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unfinished_sagas_and_dead_letters_are_admin_only_and_empty_once_settled() {
    let api = api().await;
    let admin = api.admin().await;
    let (_, token) = api.customer("ada").await;
    let order_id = api.place(&token, &[("prod-001", 1)]).await;
    api.wait_for(&token, &order_id, "confirmed").await;
    assert!(
        api.shop
            .settle(std::time::Duration::from_secs(10))
            .await
            .unwrap()
    );
    for uri in ["/api/v1/unfinished-sagas", "/api/v1/dead-letters"] {
        let reply = api.get(uri, Some(&admin)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        assert_eq!(reply.body, json!([]), "{uri}");
        assert_eq!(
            api.get(uri, Some(&token)).await.status,
            StatusCode::FORBIDDEN
        );
    }
    let doc = api.get("/api/v1/openapi.json", None).await;
    for path in [
        "/api/v1/inventory/stock",
        "/api/v1/inventory/reservations/{order_id}",
        "/api/v1/unfinished-sagas",
        "/api/v1/dead-letters",
    ] {
        assert!(
            doc.body["paths"][path]["get"].is_object(),
            "{path} undocumented"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idempotency_key_reused_with_other_items_is_422_and_with_the_same_items_the_first_order()
{
    let api = api().await;
    let (_, token) = api.customer("ada").await;
    let place = |items: Value| {
        send(
            &api,
            Method::POST,
            "/api/v1/orders",
            Some(&token),
            &[("idempotency-key", "checkout-7")],
            json!({ "items": items }),
        )
    };
    let mouse = json!([{ "product_id": "prod-002", "quantity": 1 }]);
    let first = place(mouse.clone()).await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.text);
    let other = place(json!([{ "product_id": "prod-002", "quantity": 3 }])).await;
    assert_eq!(
        (other.status, other.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused"),
        "{}",
        other.text
    );
    assert_eq!(
        other.body["error"]["details"]["order_id"],
        first.body["order_id"]
    );
    assert_eq!(
        other.body["error"]["details"]["idempotency_key"],
        "checkout-7"
    );
    let retry = place(mouse).await;
    assert_eq!(retry.status, StatusCode::ACCEPTED, "{}", retry.text);
    assert_eq!(retry.body["order_id"], first.body["order_id"]);
    let order_id = first.body["order_id"].as_str().unwrap();
    let order = api.wait_for(&token, order_id, "confirmed").await;
    assert_eq!(order["items"][0]["quantity"], 1, "the first order stands");
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_placements_under_one_key_make_one_order_and_the_other_items_are_422() {
    let api = api().await;
    let (_, token) = api.customer("ada").await;
    for round in 0..5 {
        let key = format!("race-{round}");
        let headers = [("idempotency-key", key.as_str())];
        let place = |quantity: u32| {
            send(
                &api,
                Method::POST,
                "/api/v1/orders",
                Some(&token),
                &headers,
                json!({ "items": [{ "product_id": "prod-002", "quantity": quantity }] }),
            )
        };
        let (one, two) = tokio::join!(place(1), place(2));
        let mut statuses = [one.status, two.status];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::ACCEPTED, StatusCode::UNPROCESSABLE_ENTITY],
            "{} / {}",
            one.text,
            two.text
        );
        let (won, lost) = if one.status == StatusCode::ACCEPTED {
            (one, two)
        } else {
            (two, one)
        };
        assert_eq!(lost.code(), "idempotency_key_reused");
        assert_eq!(
            lost.body["error"]["details"]["order_id"],
            won.body["order_id"]
        );
    }
}

/// The correlation ids of the events of `event_type` in the log.
async fn correlations(api: &TestApi, event_type: &str) -> Vec<Option<Uuid>> {
    let events = api.shop.store().read_all(1, 10_000).await.unwrap();
    events
        .iter()
        .filter(|e| e.event_type == event_type)
        .map(|e| e.metadata.correlation_id)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn request_ids_reach_the_metadata_of_registration_and_admin_product_commands() {
    let api = api().await;
    let admin = api.admin().await;
    let ids: Vec<Uuid> = (0..4).map(|_| Uuid::new_v4()).collect();
    let ids_text: Vec<String> = ids.iter().map(Uuid::to_string).collect();
    let request = |n: usize| [("x-request-id", ids_text[n].as_str())];
    let registered = send(
        &api,
        Method::POST,
        "/api/v1/customers",
        None,
        &request(0),
        json!({ "username": "ada", "email": "ada@example.com", "password": "password-123" }),
    )
    .await;
    assert_eq!(
        registered.status,
        StatusCode::CREATED,
        "{}",
        registered.text
    );
    let product = json!({
        "id": "prod-777", "name": "Monitor",
        "price": { "cents": 19_999, "currency": "USD" }, "initial_stock": 5
    });
    let added = send(
        &api,
        Method::POST,
        "/api/v1/products",
        Some(&admin),
        &request(1),
        product,
    )
    .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.text);
    let price = json!({ "price": { "cents": 17_999, "currency": "USD" } });
    let priced = send(
        &api,
        Method::PUT,
        "/api/v1/products/prod-777/price",
        Some(&admin),
        &request(2),
        price,
    )
    .await;
    assert_eq!(priced.status, StatusCode::OK, "{}", priced.text);
    let stock = json!({ "quantity": 3 });
    let stocked = send(
        &api,
        Method::POST,
        "/api/v1/products/prod-777/stock",
        Some(&admin),
        &request(3),
        stock,
    )
    .await;
    assert_eq!(stocked.status, StatusCode::OK, "{}", stocked.text);

    assert_eq!(
        correlations(&api, "CustomerRegistered").await,
        vec![Some(ids[0])]
    );
    let claims = correlations(&api, "EmailClaimed").await;
    assert_eq!(claims, vec![Some(ids[0])], "the address's claim too");
    // The seed catalogue was added at start, by no request.
    let added = correlations(&api, "ProductAdded").await;
    assert_eq!(added.last(), Some(&Some(ids[1])), "{added:?}");
    assert_eq!(correlations(&api, "PriceChanged").await, vec![Some(ids[2])]);
    assert_eq!(correlations(&api, "StockAdded").await, vec![Some(ids[3])]);
}
