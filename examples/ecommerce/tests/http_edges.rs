//! The API's edge: malformed and oversized bodies, hostile ids, unknown routes, the rate
//! limit, the timeout, request ids, CORS, health, metrics and the OpenAPI document.

mod http_support;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use ecommerce::http::HttpConfig;
use ecommerce::http::limits::RateLimit;
use eventcore::EventReader;
use http_support::{api, api_with, config};
use serde_json::json;

fn raw(method: Method, uri: &str, content_type: &str, body: impl Into<Body>) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", content_type)
        .body(body.into())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_json_is_400_and_a_wrong_content_type_415() {
    let api = api().await;
    for body in ["{", "not json", r#"{"username": 5}"#, "[]"] {
        let reply = api
            .send(raw(
                Method::POST,
                "/api/v1/customers",
                "application/json",
                body,
            ))
            .await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::BAD_REQUEST, "malformed_json"),
            "{body}"
        );
        assert!(reply.body["error"]["message"].is_string());
        assert!(reply.body["error"]["details"].is_object());
    }
    let text = api
        .send(raw(Method::POST, "/api/v1/customers", "text/plain", "{}"))
        .await;
    assert_eq!(text.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oversized_body_is_413_in_the_error_body() {
    let api = api().await;
    let huge = json!({ "username": "x".repeat(64 * 1024), "email": "a@b.co", "password": "p" });
    let reply = api
        .send(raw(
            Method::POST,
            "/api/v1/customers",
            "application/json",
            huge.to_string(),
        ))
        .await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
    let declared = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/customers")
        .header("content-type", "application/json")
        .header("content-length", "1000000")
        .body(Body::from(huge.to_string()))
        .unwrap();
    let reply = api.send(declared).await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_ids_are_404_and_never_reach_the_store() {
    let api = api().await;
    let (_, token) = api.customer("ada").await;
    let long = "9".repeat(10_000);
    for id in [
        long.as_str(),
        "%E2%9C%93%F0%9F%92%A5",
        "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
        "..",
        "a%00b",
        "%FF%FE",
    ] {
        for uri in [
            format!("/api/v1/orders/{id}"),
            format!("/api/v1/orders/{id}/history"),
            format!("/api/v1/products/{id}"),
        ] {
            let reply = api.get(&uri, Some(&token)).await;
            assert!(
                matches!(
                    reply.status,
                    StatusCode::NOT_FOUND | StatusCode::BAD_REQUEST
                ),
                "{uri}: {} {}",
                reply.status,
                reply.text
            );
            assert!(
                reply.body["error"]["code"].is_string(),
                "{uri}: {}",
                reply.text
            );
        }
    }
    let traversal = api
        .get("/api/v1/orders/../../etc/passwd", Some(&token))
        .await;
    assert_eq!(traversal.status, StatusCode::NOT_FOUND);
    let cancel = api
        .post(
            &format!("/api/v1/orders/{long}/cancel"),
            Some(&token),
            json!({}),
        )
        .await;
    assert_eq!(cancel.status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_routes_and_methods_get_the_error_body() {
    let api = api().await;
    let unknown = api.get("/api/v1/nothing-here", None).await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let method = api
        .call(Method::DELETE, "/api/v1/products", None, None)
        .await;
    assert_eq!(
        (method.status, method.code()),
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn past_the_rate_limit_a_client_gets_429_with_retry_after() {
    let api = api_with(HttpConfig {
        rate_limit: RateLimit {
            requests: 3,
            per: Duration::from_secs(60),
        },
        ..config()
    })
    .await;
    for _ in 0..3 {
        assert_eq!(
            api.get("/api/v1/products", None).await.status,
            StatusCode::OK
        );
    }
    let limited = api.get("/api/v1/products", None).await;
    assert_eq!(
        (limited.status, limited.code()),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    let wait: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&wait), "retry after {wait} s");
    // Probes are not rate limited.
    assert_eq!(api.get("/health/live", None).await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_over_the_timeout_is_503() {
    let api = api_with(HttpConfig {
        request_timeout: Duration::from_millis(1),
        ..config()
    })
    .await;
    // The admin's login verifies an argon2 hash on a blocking thread: far beyond 1 ms.
    let body =
        json!({ "email": http_support::ADMIN_EMAIL, "password": http_support::ADMIN_PASSWORD });
    let reply = api.post("/api/v1/customers/login", None, body).await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::SERVICE_UNAVAILABLE, "timeout")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_request_id_is_echoed_and_becomes_the_events_correlation_id() {
    let api = api().await;
    let (_, token) = api.customer("ada").await;
    let generated = api.get("/api/v1/products", None).await;
    assert_eq!(generated.headers["x-request-id"].len(), 36);
    let hostile = Request::builder()
        .uri("/api/v1/products")
        .header("x-request-id", "x".repeat(500))
        .body(Body::empty())
        .unwrap();
    assert_eq!(api.send(hostile).await.headers["x-request-id"].len(), 36);
    let request_id = uuid::Uuid::new_v4().to_string();
    let place = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/orders")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .header("x-request-id", &request_id)
        .body(Body::from(
            json!({ "items": [{ "product_id": "prod-002", "quantity": 1 }] }).to_string(),
        ))
        .unwrap();
    let placed = api.send(place).await;
    assert_eq!(placed.headers["x-request-id"], request_id.as_str());
    let order_id = placed.body["order_id"].as_str().unwrap();
    let history = api
        .get(&format!("/api/v1/orders/{order_id}/history"), Some(&token))
        .await;
    assert_eq!(
        history.body["events"][0]["correlation_id"],
        request_id.as_str()
    );
    // Every event of the order's flow carries it: the saga's steps (stock, payment,
    // confirmation) and the notifications they led to.
    api.wait_for(&token, order_id, "confirmed").await;
    assert!(api.shop.settle(Duration::from_secs(10)).await.unwrap());
    let log = api.shop.store().read_all(1, 10_000).await.unwrap();
    let flow: Vec<&str> = log
        .iter()
        .filter(|e| e.metadata.correlation_id.map(|c| c.to_string()) == Some(request_id.clone()))
        .map(|e| e.event_type.as_str())
        .collect();
    for event_type in [
        "OrderPlaced",
        "StockReserved",
        "PaymentCompleted",
        "ReservationConfirmed",
        "OrderConfirmed",
        "NotificationSent",
    ] {
        assert!(flow.contains(&event_type), "{event_type} not in {flow:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn cors_allows_the_configured_origin_only() {
    let api = api().await;
    let preflight = |origin: &str| {
        Request::builder()
            .method(Method::OPTIONS)
            .uri("/api/v1/orders")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .body(Body::empty())
            .unwrap()
    };
    let allowed = api.send(preflight("https://shop.example")).await;
    assert_eq!(
        allowed.headers["access-control-allow-origin"],
        "https://shop.example"
    );
    let other = api.send(preflight("https://evil.example")).await;
    assert!(other.headers.get("access-control-allow-origin").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn health_metrics_and_the_openapi_document_are_served() {
    let api = api().await;
    let live = api.get("/health/live", None).await;
    assert_eq!(
        (live.status, live.body["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    let ready = api.get("/health/ready", None).await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.text);
    assert_eq!(ready.body["checks"].as_array().unwrap().len(), 3);
    api.get("/api/v1/products", None).await;
    let metrics = api.get("/metrics", None).await;
    assert_eq!(metrics.status, StatusCode::OK);
    for series in [
        "http_requests_total",
        "http_request_duration_seconds",
        "sagas_total",
        "events_appended_total",
        "projection_lag_events",
        "relay_lag_events",
        "dead_letters_total",
    ] {
        assert!(metrics.text.contains(series), "{series} missing");
    }
    assert!(metrics.text.contains(r#"route="/api/v1/products""#));
    assert!(
        metrics
            .text
            .contains(r#"events_appended_total{event_type="ProductAdded"} 3"#)
    );
    let doc = api.get("/api/v1/openapi.json", None).await;
    assert_eq!(doc.status, StatusCode::OK);
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/orders",
        "/api/v1/orders/{id}/cancel",
        "/api/v1/sagas/{id}/retry",
    ] {
        assert!(doc.body["paths"].get(path).is_some(), "{path}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn list_filters_are_validated() {
    let api = api().await;
    let (_, token) = api.customer("ada").await;
    for query in [
        "limit=0",
        "limit=101",
        "status=lost",
        "from=yesterday",
        "to=2026-02-30",
        "offset=-1",
    ] {
        let reply = api
            .get(&format!("/api/v1/orders?{query}"), Some(&token))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{query}: {}",
            reply.text
        );
        assert!(reply.body["error"]["code"].is_string(), "{query}");
    }
    let ok = api
        .get(
            "/api/v1/orders?from=2020-01-01&to=2100-01-01T00:00:00Z&limit=5",
            Some(&token),
        )
        .await;
    assert_eq!(
        (ok.status, ok.body["limit"].as_u64()),
        (StatusCode::OK, Some(5))
    );
}
