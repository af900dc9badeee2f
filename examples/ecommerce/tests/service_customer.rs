//! The customer service as the distributed mode runs it: its own PostgreSQL schema, behind the
//! gateway, beside an embedded shop that serves the other contexts. A customer registered and
//! logged in at the service places an order at the shop: the contexts meet only through the
//! token, as in the distributed mode.

mod http_support;

use std::collections::BTreeMap;
use std::time::Duration;

use ecommerce::gateway::{self, GatewayConfig, routes::SERVICES};
use ecommerce::http::request_id::RequestContext;
use ecommerce::services;
use eventcore::{EventReader, RuntimeStore};
use http_support::{api, config, metrics_text, serve};
use serde_json::{Value, json};

fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

async fn call(
    method: reqwest::Method,
    url: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new().request(method, url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_of_the_postgres_service_orders_from_the_shop_through_the_gateway() {
    let schema = format!(
        "ec_test_ecommerce_customer_{}",
        uuid::Uuid::new_v4().simple()
    );
    let store = services::open_store(&database_url(), &schema, 4)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL must be running at {}: {e}", database_url()));
    let service = services::customer::router(store.clone(), &config()).expect("builds");
    let (service_addr, stop_service, _) = serve(service).await;
    let shop = api().await;
    let (shop_addr, stop_shop, _) = serve(shop.app.clone()).await;
    let mut upstreams: BTreeMap<String, Vec<String>> = SERVICES
        .iter()
        .map(|s| ((*s).to_owned(), vec![format!("http://{shop_addr}")]))
        .collect();
    upstreams.insert("customer".into(), vec![format!("http://{service_addr}")]);
    let gateway = gateway::router(GatewayConfig {
        upstreams,
        ..GatewayConfig::single("", config())
    })
    .expect("builds");
    let (addr, stop, _) = serve(gateway).await;
    let b = format!("http://{addr}/api/v1");

    let (status, health) = call(
        reqwest::Method::GET,
        &format!("http://{service_addr}/health/ready"),
        None,
        None,
    )
    .await;
    assert_eq!(status, 200, "{health}");
    assert!(health.to_string().contains(&schema), "{health}");

    let registration =
        json!({"username": "grace", "email": "grace@example.com", "password": "correct horse"});
    // The request id the client sends becomes the correlation id of the service's events.
    let request_id = format!("signup-{}", uuid::Uuid::new_v4());
    let signed_up = reqwest::Client::new()
        .post(format!("{b}/customers"))
        .header("x-request-id", &request_id)
        .json(&registration)
        .send()
        .await
        .expect("answers");
    assert_eq!(signed_up.status().as_u16(), 201);
    assert_eq!(
        signed_up.headers()["x-request-id"].to_str().ok(),
        Some(request_id.as_str()),
        "the gateway kept the client's request id"
    );
    let (status, body) = call(
        reqwest::Method::POST,
        &format!("{b}/customers"),
        None,
        Some(registration),
    )
    .await;
    assert_eq!(
        status, 409,
        "the address is taken in the service's schema: {body}"
    );
    let login = json!({"email": "grace@example.com", "password": "correct horse"});
    let (status, body) = call(
        reqwest::Method::POST,
        &format!("{b}/customers/login"),
        None,
        Some(login),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().expect("a token").to_owned();
    let (status, me) = call(
        reqwest::Method::GET,
        &format!("{b}/customers/me"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(
        (status, me["username"].as_str()),
        (200, Some("grace")),
        "{me}"
    );

    let order = json!({"items": [{"product_id": "prod-002", "quantity": 1}]});
    let (status, placed) = call(
        reqwest::Method::POST,
        &format!("{b}/orders"),
        Some(&token),
        Some(order),
    )
    .await;
    assert_eq!(status, 202, "{placed}");
    let order_id = placed["order_id"].as_str().expect("an order id").to_owned();
    let mut confirmed = false;
    for _ in 0..400 {
        let (_, view) = call(
            reqwest::Method::GET,
            &format!("{b}/orders/{order_id}"),
            Some(&token),
            None,
        )
        .await;
        if view["status"] == "confirmed" {
            assert_eq!(view["customer_id"], me["id"], "{view}");
            confirmed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(confirmed, "the order reached confirmed");

    let logged = store.read_all(1, 100).await.expect("the service's log");
    let registered = logged
        .iter()
        .find(|e| e.event_type == "CustomerRegistered")
        .expect("registered in the service's schema");
    assert_eq!(
        registered.metadata.correlation_id,
        Some(RequestContext::new(&request_id).correlation_id),
        "the service's event carries the request's correlation id"
    );
    let in_service = store.counts().await.expect("counts");
    assert_eq!(
        in_service.events.get("CustomerRegistered"),
        Some(&1),
        "{in_service:?}"
    );
    let in_shop = shop.shop.store().counts().await.expect("counts");
    assert_eq!(
        in_shop.events.get("CustomerRegistered"),
        None,
        "the shop holds no customer"
    );
    let metrics = metrics_text(&format!("http://{service_addr}")).await;
    assert!(
        metrics.contains(r#"events_appended_total{event_type="CustomerRegistered"} 1"#),
        "{metrics}"
    );

    let _ = stop.send(());
    let _ = stop_service.send(());
    let _ = stop_shop.send(());
    let pool = eventcore_postgres::sqlx::PgPool::connect(&database_url())
        .await
        .expect("connects");
    eventcore_postgres::sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .execute(&pool)
        .await
        .expect("drops the test's schema");
}
