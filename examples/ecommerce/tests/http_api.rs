//! The HTTP API end to end through the router (no socket): customers, products, orders and
//! their errors, on a real shop on SQLite.

mod http_support;

use axum::http::{Method, StatusCode};
use http_support::api;
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn a_customer_registers_logs_in_and_reads_themself() {
    let api = api().await;
    let (id, token) = api.customer("ada").await;
    let me = api.get("/api/v1/customers/me", Some(&token)).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["id"], id.as_str());
    assert_eq!(me.body["email"], "ada@example.com");
    assert!(me.body.get("password_hash").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn registration_rules_are_422_and_a_taken_address_is_409() {
    let api = api().await;
    api.customer("ada").await;
    let register = |username: &str, email: &str, password: &str| json!({ "username": username, "email": email, "password": password });
    let taken = api
        .post(
            "/api/v1/customers",
            None,
            register("ada2", "ADA@example.com", "password-123"),
        )
        .await;
    assert_eq!(
        (taken.status, taken.code()),
        (StatusCode::CONFLICT, "email_taken")
    );
    for body in [
        register("ab", "ab@example.com", "password-123"),
        register("bob", "not-an-address", "password-123"),
        register("bob", "bob@example.com", "short"),
    ] {
        let reply = api.post("/api/v1/customers", None, body).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            reply.text
        );
        assert_eq!(reply.code(), "rule_violated");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_credentials_and_missing_or_forged_tokens_are_401() {
    let api = api().await;
    api.customer("ada").await;
    let wrong = api
        .post(
            "/api/v1/customers/login",
            None,
            json!({ "email": "ada@example.com", "password": "wrong-password" }),
        )
        .await;
    assert_eq!(
        (wrong.status, wrong.code()),
        (StatusCode::UNAUTHORIZED, "invalid_credentials")
    );
    for token in [
        None,
        Some("garbage"),
        Some("eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl"),
    ] {
        let reply = api.get("/api/v1/customers/me", token).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{token:?}");
        assert_eq!(reply.code(), "unauthorized");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_is_forbidden_customer_endpoints_and_customers_admin_ones() {
    let api = api().await;
    let admin = api.admin().await;
    let (_, customer) = api.customer("ada").await;
    let me = api.get("/api/v1/customers/me", Some(&admin)).await;
    assert_eq!((me.status, me.code()), (StatusCode::FORBIDDEN, "forbidden"));
    let product =
        json!({ "id": "prod-9", "name": "Cable", "price": { "cents": 500, "currency": "USD" } });
    let add = api
        .post("/api/v1/products", Some(&customer), product.clone())
        .await;
    assert_eq!(add.status, StatusCode::FORBIDDEN);
    let anonymous = api.post("/api/v1/products", None, product).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    for uri in ["/api/v1/analytics", "/api/v1/sagas", "/api/v1/read-models"] {
        assert_eq!(
            api.get(uri, Some(&customer)).await.status,
            StatusCode::FORBIDDEN,
            "{uri}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_catalogue_is_public_and_unknown_products_are_404() {
    let api = api().await;
    let list = api.get("/api/v1/products", None).await;
    assert_eq!(list.status, StatusCode::OK);
    let ids: Vec<&str> = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    assert_eq!(ids, ["prod-001", "prod-002", "prod-003"]);
    let laptop = api.get("/api/v1/products/prod-001", None).await;
    assert_eq!(
        laptop.body["price"],
        json!({ "cents": 99_999, "currency": "USD" })
    );
    assert_eq!(laptop.body["available"], 100);
    let unknown = api.get("/api/v1/products/prod-999", None).await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let bad_page = api.get("/api/v1/products?limit=0", None).await;
    assert_eq!(bad_page.status, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_adds_a_product_reprices_it_and_adds_stock() {
    let api = api().await;
    let admin = api.admin().await;
    let product = json!({
        "id": "prod-004", "name": "Monitor", "description": "27 inch",
        "price": { "cents": 19_999, "currency": "USD" }, "initial_stock": 5
    });
    let added = api
        .post("/api/v1/products", Some(&admin), product.clone())
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.text);
    assert_eq!(added.body["available"], 5);
    let again = api.post("/api/v1/products", Some(&admin), product).await;
    assert_eq!(
        (again.status, again.code()),
        (StatusCode::CONFLICT, "duplicate_product")
    );
    let price = json!({ "price": { "cents": 17_999, "currency": "USD" } });
    let repriced = api
        .call(
            Method::PUT,
            "/api/v1/products/prod-004/price",
            Some(&admin),
            Some(price),
        )
        .await;
    assert_eq!(repriced.status, StatusCode::OK, "{}", repriced.text);
    assert_eq!(repriced.body["price"]["cents"], 17_999);
    let stocked = api
        .post(
            "/api/v1/products/prod-004/stock",
            Some(&admin),
            json!({ "quantity": 10 }),
        )
        .await;
    assert_eq!(stocked.body["available"], 15);
    let zero = api
        .post(
            "/api/v1/products/prod-004/stock",
            Some(&admin),
            json!({ "quantity": 0 }),
        )
        .await;
    assert_eq!(zero.status, StatusCode::UNPROCESSABLE_ENTITY);
    let free = json!({ "price": { "cents": 0, "currency": "USD" } });
    let free = api
        .call(
            Method::PUT,
            "/api/v1/products/prod-004/price",
            Some(&admin),
            Some(free),
        )
        .await;
    assert_eq!(free.status, StatusCode::UNPROCESSABLE_ENTITY);
    let unknown = api
        .post(
            "/api/v1/products/prod-404/stock",
            Some(&admin),
            json!({ "quantity": 1 }),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_order_is_accepted_confirmed_paid_and_has_a_history() {
    let api = api().await;
    let (customer_id, token) = api.customer("ada").await;
    let placed = api
        .post(
            "/api/v1/orders",
            Some(&token),
            json!({ "items": [{ "product_id": "prod-002", "quantity": 2 }] }),
        )
        .await;
    assert_eq!(placed.status, StatusCode::ACCEPTED, "{}", placed.text);
    let order_id = placed.body["order_id"].as_str().unwrap().to_owned();
    assert_eq!(
        placed.headers["location"],
        format!("/api/v1/orders/{order_id}").as_str()
    );
    // Readable at once, before the order view has caught up.
    let at_once = api
        .get(&format!("/api/v1/orders/{order_id}"), Some(&token))
        .await;
    assert_eq!(at_once.status, StatusCode::OK, "{}", at_once.text);
    // A long poll answers once the order is settled and the view has caught up with it.
    let waited = api
        .get(&format!("/api/v1/orders/{order_id}?wait=4"), Some(&token))
        .await;
    assert_eq!(waited.status, StatusCode::OK, "{}", waited.text);
    let order = waited.body;
    assert_eq!(order["status"], "confirmed", "{order}");
    assert_eq!(order["customer_id"], customer_id.as_str());
    assert_eq!(order["total"], json!({ "cents": 5_998, "currency": "USD" }));
    assert_eq!(order["payment_status"], "completed");
    let payment = api
        .get(&format!("/api/v1/orders/{order_id}/payment"), Some(&token))
        .await;
    assert_eq!(payment.body["status"], "completed");
    let history = api
        .get(&format!("/api/v1/orders/{order_id}/history"), Some(&token))
        .await;
    let types: Vec<&str> = history.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["event_type"].as_str())
        .collect();
    assert_eq!(types, ["OrderPlaced", "OrderConfirmed"]);
    let first = api
        .get(
            &format!("/api/v1/orders/{order_id}/history?as_of=1"),
            Some(&token),
        )
        .await;
    assert_eq!(first.body["version"], 1);
    assert_eq!(first.body["state"]["status"], "pending");
    let zero = api
        .get(
            &format!("/api/v1/orders/{order_id}/history?as_of=0"),
            Some(&token),
        )
        .await;
    assert_eq!(zero.status, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_poll_is_bounded_and_shows_only_ones_own_order() {
    let api = api().await;
    let (_, ada) = api.customer("ada").await;
    let (_, bob) = api.customer("bob").await;
    let order_id = api.place(&ada, &[("prod-001", 1)]).await;
    let uri = |wait: &str| format!("/api/v1/orders/{order_id}?wait={wait}");
    let too_long = api.get(&uri("5"), Some(&ada)).await;
    assert_eq!(
        too_long.status,
        StatusCode::BAD_REQUEST,
        "{}",
        too_long.text
    );
    assert_eq!(too_long.code(), "invalid_query");
    let not_a_number = api.get(&uri("soon"), Some(&ada)).await;
    assert_eq!(not_a_number.status, StatusCode::BAD_REQUEST);
    let not_yours = api.get(&uri("4"), Some(&bob)).await;
    assert_eq!(
        not_yours.status,
        StatusCode::NOT_FOUND,
        "{}",
        not_yours.text
    );
    let settled = api.get(&uri("4"), Some(&ada)).await;
    assert_eq!(settled.body["status"], "confirmed", "{}", settled.text);
    // Settled already: the same answer at once, with or without a wait.
    let again = api.get(&uri("0"), Some(&ada)).await;
    assert_eq!(again.body, settled.body);
    let unknown = api
        .get("/api/v1/orders/no-such-order?wait=1", Some(&ada))
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.text);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retry_with_the_same_idempotency_key_returns_the_same_order() {
    let api = api().await;
    let (_, token) = api.customer("ada").await;
    let send = |key: &'static str| {
        let request = axum::http::Request::builder()
            .method(Method::POST)
            .uri("/api/v1/orders")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .header("idempotency-key", key)
            .body(axum::body::Body::from(
                json!({ "items": [{ "product_id": "prod-003", "quantity": 1 }] }).to_string(),
            ))
            .unwrap();
        api.send(request)
    };
    let first = send("checkout-42").await;
    let retry = send("checkout-42").await;
    let other = send("checkout-43").await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.text);
    assert_eq!(retry.status, StatusCode::ACCEPTED, "{}", retry.text);
    assert_eq!(first.body["order_id"], retry.body["order_id"]);
    assert_ne!(first.body["order_id"], other.body["order_id"]);
    for reply in [&first, &other] {
        api.wait_for(
            &token,
            reply.body["order_id"].as_str().unwrap(),
            "confirmed",
        )
        .await;
    }
    let orders = api.get("/api/v1/orders?limit=100", Some(&token)).await;
    let ids = orders.body["orders"].as_array().unwrap();
    assert_eq!(ids.len(), 2, "two orders, not three");
}

#[tokio::test(flavor = "multi_thread")]
async fn orders_that_break_a_rule_are_422() {
    let api = api().await;
    let (_, token) = api.customer("ada").await;
    for (items, code) in [
        (
            json!([{ "product_id": "prod-999", "quantity": 1 }]),
            "unknown_product",
        ),
        (
            json!([{ "product_id": "prod-001", "quantity": 0 }]),
            "rule_violated",
        ),
        (
            json!([{ "product_id": "prod-001", "quantity": 1001 }]),
            "rule_violated",
        ),
        (json!([]), "rule_violated"),
    ] {
        let reply = api
            .post("/api/v1/orders", Some(&token), json!({ "items": items }))
            .await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, code),
            "{items}"
        );
    }
    let negative = api
        .post(
            "/api/v1/orders",
            Some(&token),
            json!({ "items": [{ "product_id": "prod-001", "quantity": -1 }] }),
        )
        .await;
    assert_eq!(negative.status, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread")]
async fn customers_see_only_their_own_orders() {
    let api = api().await;
    let (ada_id, ada) = api.customer("ada").await;
    let (_, bob) = api.customer("bob").await;
    let order_id = api.place(&ada, &[("prod-002", 1)]).await;
    api.wait_for(&ada, &order_id, "confirmed").await;
    for uri in [
        format!("/api/v1/orders/{order_id}"),
        format!("/api/v1/orders/{order_id}/history"),
        format!("/api/v1/orders/{order_id}/payment"),
    ] {
        let reply = api.get(&uri, Some(&bob)).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{uri}");
    }
    let cancel = api
        .post(
            &format!("/api/v1/orders/{order_id}/cancel"),
            Some(&bob),
            json!({}),
        )
        .await;
    assert_eq!(cancel.status, StatusCode::NOT_FOUND);
    let bobs = api.get("/api/v1/orders", Some(&bob)).await;
    assert_eq!(bobs.body["orders"], json!([]));
    let spying = api
        .get(&format!("/api/v1/orders?customer={ada_id}"), Some(&bob))
        .await;
    assert_eq!(spying.status, StatusCode::FORBIDDEN);
    let admin = api.admin().await;
    let all = api
        .get(
            &format!("/api/v1/orders?customer={ada_id}&status=confirmed"),
            Some(&admin),
        )
        .await;
    assert_eq!(all.body["orders"][0]["id"], order_id.as_str());
}
