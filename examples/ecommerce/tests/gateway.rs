//! The gateway on real 127.0.0.1 sockets: in front of a real shop (a load and its checks pass
//! through it), and in front of a scripted upstream that fails, refuses, stalls or is gone
//! (the breaker, the timeouts, the edge concerns).

mod http_support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use ecommerce::app::{Shop, ShopConfig};
use ecommerce::gateway::breaker::BreakerPolicy;
use ecommerce::gateway::{self, GatewayConfig};
use ecommerce::http::auth::{Role, Tokens};
use ecommerce::http::limits::RateLimit;
use ecommerce::load::remote::{self, RemoteConfig};
use ecommerce::load::{LoadConfig, Outcome, remote_checks};
use ecommerce::payment::SimulatedProvider;
use http_support::{ADMIN_EMAIL, ADMIN_PASSWORD, api, config, metrics_text, serve};
use serde_json::{Value, json};

/// A scripted upstream: counts the calls it gets; orders fail with 500 while `failing`,
/// `/api/v1/customers/me` is always a 422, `/api/v1/products/slow` answers after 2 s.
#[derive(Clone, Default)]
struct Script {
    calls: Arc<AtomicUsize>,
    failing: Arc<AtomicBool>,
    /// The `X-Forwarded-For` of the last `/api/v1/customers/me`.
    forwarded_for: Arc<Mutex<Option<String>>>,
}

fn scripted(script: Script) -> Router {
    async fn orders(State(script): State<Script>) -> (StatusCode, &'static str) {
        script.calls.fetch_add(1, Ordering::SeqCst);
        if script.failing.load(Ordering::SeqCst) {
            (StatusCode::INTERNAL_SERVER_ERROR, "down")
        } else {
            (StatusCode::OK, "[]")
        }
    }
    async fn me(State(script): State<Script>, headers: HeaderMap) -> (StatusCode, &'static str) {
        script.calls.fetch_add(1, Ordering::SeqCst);
        let forwarded = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        *script.forwarded_for.lock().expect("lock") = forwarded;
        (StatusCode::UNPROCESSABLE_ENTITY, "refused")
    }
    async fn slow() -> &'static str {
        tokio::time::sleep(Duration::from_secs(2)).await;
        "late"
    }
    Router::new()
        .route("/api/v1/orders", get(orders))
        .route("/api/v1/customers/me", get(me))
        .route("/api/v1/products/slow", get(slow))
        .route("/health/ready", get(|| async { "ready" }))
        .with_state(script)
}

fn token() -> String {
    let tokens = Tokens::new(&config().jwt_secret, Duration::from_secs(600));
    tokens.issue("c-1", Role::Customer).expect("issued").token
}

async fn get_json(
    url: &str,
    token: Option<&str>,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let client = reqwest::Client::new();
    let mut request = client.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("the gateway answers");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap_or(Value::Null);
    (
        StatusCode::from_u16(status.as_u16()).expect("status"),
        headers,
        body,
    )
}

/// Runs a small load (12 orders, 3 at a time) through the gateway at `url` and checks every
/// invariant through it.
async fn load_and_check(url: &str, seed: u64, products: usize, stock: Option<u32>) {
    let config = RemoteConfig {
        url: url.to_owned(),
        admin_email: ADMIN_EMAIL.into(),
        admin_password: ADMIN_PASSWORD.into(),
        load: LoadConfig {
            orders: 12,
            concurrency: 3,
            seed,
            products,
            stock,
            customers: 3,
            order_timeout: Duration::from_secs(60),
        },
    };
    let run = remote::run(&config, Arc::new(|| {}))
        .await
        .expect("the load runs");
    let report = &run.report;
    assert_eq!(report.outcomes.values().sum::<usize>(), 12, "{report}");
    assert_eq!(report.count(Outcome::Stuck), 0, "{report}");
    assert!(report.count(Outcome::Confirmed) > 0, "{report}");
    let checks =
        remote_checks::check_all(&run.client, &run.admin_token, 3, Duration::from_secs(60))
            .await
            .expect("the checks run");
    for check in &checks {
        assert!(check.holds(), "{}: {:?}", check.name, check.violations);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_through_the_gateway_settles_and_passes_every_check() {
    let shop = api().await;
    let (shop_addr, stop_shop, _) = serve(shop.app.clone()).await;
    let gateway = gateway::router(GatewayConfig::single(
        &format!("http://{shop_addr}"),
        config(),
    ))
    .expect("the gateway builds");
    let (addr, stop, _) = serve(gateway).await;
    let url = format!("http://{addr}");

    let (status, headers, ready) = get_json(&format!("{url}/health/ready"), None).await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    assert_eq!(ready["checks"].as_array().map(Vec::len), Some(6), "{ready}");
    assert!(headers.contains_key("x-request-id"));

    load_and_check(&url, 5, 3, None).await;
    let _ = stop.send(());
    let _ = stop_shop.send(());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_failures_open_the_breaker_and_a_business_refusal_does_not() {
    let script = Script::default();
    script.failing.store(true, Ordering::SeqCst);
    let (upstream, stop_upstream, _) = serve(scripted(script.clone())).await;
    let mut gateway_config = GatewayConfig::single(&format!("http://{upstream}"), config());
    gateway_config.breaker = BreakerPolicy {
        failures_to_open: 5,
        open_for: Duration::from_millis(400),
    };
    let (addr, stop, _) = serve(gateway::router(gateway_config).expect("builds")).await;
    let (url, token) = (format!("http://{addr}"), token());

    for _ in 0..8 {
        let (status, _, _) = get_json(&format!("{url}/api/v1/customers/me"), Some(&token)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "passed through");
    }
    for n in 0..5 {
        let (status, _, _) = get_json(&format!("{url}/api/v1/orders"), Some(&token)).await;
        assert_eq!(
            status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "failure {n} passed through"
        );
    }
    assert_eq!(script.calls.load(Ordering::SeqCst), 13);
    let (status, headers, body) = get_json(&format!("{url}/api/v1/orders"), Some(&token)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "upstream_open", "{body}");
    assert_eq!(body["error"]["details"]["service"], "order", "{body}");
    assert!(headers.contains_key("retry-after"));
    assert_eq!(
        script.calls.load(Ordering::SeqCst),
        13,
        "refused at the gateway"
    );
    let (status, _, _) = get_json(&format!("{url}/api/v1/customers/me"), Some(&token)).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "other services unaffected"
    );

    let (status, _, health) = get_json(&format!("{url}/health/ready"), None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{health}");
    let failing: Vec<&str> = health["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["ok"] == json!(false))
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(failing, ["order"], "{health}");

    // Half-open: one trial; it fails, so open again.
    tokio::time::sleep(Duration::from_millis(450)).await;
    let (status, _, _) = get_json(&format!("{url}/api/v1/orders"), Some(&token)).await;
    assert_eq!(
        status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "the trial went through"
    );
    let (status, _, _) = get_json(&format!("{url}/api/v1/orders"), Some(&token)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "open again");
    // Healed: the next trial closes it.
    script.failing.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(450)).await;
    for _ in 0..3 {
        let (status, _, _) = get_json(&format!("{url}/api/v1/orders"), Some(&token)).await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, _, health) = get_json(&format!("{url}/health/ready"), None).await;
    assert_eq!(status, StatusCode::OK, "{health}");
    let metrics = metrics_text(&url).await;
    let replica = format!(r#"replica="http://{upstream}""#);
    for series in [
        r#"gateway_upstream_requests_total{outcome="client_error",service="customer"} 9"#.into(),
        r#"gateway_upstream_requests_total{outcome="server_error",service="order"} 6"#.into(),
        r#"gateway_upstream_requests_total{outcome="refused",service="order"} 2"#.into(),
        r#"gateway_upstream_requests_total{outcome="ok",service="order"} 3"#.into(),
        format!(r#"gateway_breaker_state{{{replica},service="order",state="closed"}} 1"#),
        format!(r#"gateway_breaker_state{{{replica},service="order",state="open"}} 0"#),
    ] {
        assert!(metrics.contains(&series), "{series} in\n{metrics}");
    }
    let _ = stop.send(());
    let _ = stop_upstream.send(());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gone_service_is_502_a_slow_one_504_and_the_edge_answers_for_itself() {
    let script = Script::default();
    let (upstream, stop_upstream, _) = serve(scripted(script.clone())).await;
    let gone = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
        listener.local_addr().expect("bound")
    };
    let mut gateway_config = GatewayConfig::single(&format!("http://{upstream}"), config());
    gateway_config
        .upstreams
        .insert("order".into(), vec![format!("http://{gone}")]);
    gateway_config.upstream_timeout = Duration::from_millis(300);
    gateway_config.http.rate_limit = RateLimit {
        requests: 12,
        per: Duration::from_secs(60),
    };
    let (addr, stop, _) = serve(gateway::router(gateway_config).expect("builds")).await;
    let (url, token) = (format!("http://{addr}"), token());

    let (status, _, body) = get_json(&format!("{url}/api/v1/orders"), Some(&token)).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["error"]["code"], "upstream_unreachable", "{body}");
    let (status, _, body) = get_json(&format!("{url}/api/v1/products/slow"), None).await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{body}");
    assert_eq!(body["error"]["code"], "upstream_timeout", "{body}");

    let (status, _, body) = get_json(&format!("{url}/api/v1/customers/me"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, _, _) = get_json(&format!("{url}/api/v1/customers/me"), Some("forged")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, body) = get_json(&format!("{url}/api/v1/no-such-thing"), Some(&token)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(
        script.calls.load(Ordering::SeqCst),
        0,
        "none of these reached it"
    );
    let oversized = reqwest::Client::new()
        .post(format!("{url}/api/v1/orders"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(vec![b' '; 64 * 1024])
        .send()
        .await
        .expect("answers");
    assert_eq!(oversized.status().as_u16(), 413);

    let spoofed = reqwest::Client::new()
        .get(format!("{url}/api/v1/customers/me"))
        .bearer_auth(&token)
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .expect("answers");
    assert_eq!(spoofed.status().as_u16(), 422);
    assert_eq!(
        script.forwarded_for.lock().expect("lock").as_deref(),
        Some("127.0.0.1"),
        "the client's own X-Forwarded-For is replaced by its address"
    );

    let mut limited = None;
    for _ in 0..20 {
        let (status, headers, _) =
            get_json(&format!("{url}/api/v1/customers/me"), Some(&token)).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(headers);
            break;
        }
    }
    let headers = limited.expect("the rate limit answers 429 within 20 requests");
    assert!(headers.contains_key("retry-after"));
    let _ = stop.send(());
    let _ = stop_upstream.send(());
}

/// An upstream whose `/api/v1/dead-letters` lists `letters` (admins only), or none at all.
fn with_dead_letters(letters: Option<Value>) -> Router {
    let router = Router::new().route("/health/ready", get(|| async { "ready" }));
    match letters {
        None => router,
        Some(letters) => router.route(
            "/api/v1/dead-letters",
            get(move |headers: HeaderMap| async move {
                let admin = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.starts_with("Bearer "));
                if admin {
                    (StatusCode::OK, axum::Json(letters))
                } else {
                    (StatusCode::UNAUTHORIZED, axum::Json(json!({})))
                }
            }),
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_gathers_every_services_dead_letters() {
    let letter = |consumer: &str| json!({"consumer": consumer, "position": 0, "event_type": "x", "error": "bad"});
    let (payment, stop_payment, _) =
        serve(with_dead_letters(Some(json!([letter("payment.requests")])))).await;
    let (shop, stop_shop, _) = serve(with_dead_letters(Some(json!([letter("order-saga")])))).await;
    let (customer, stop_customer, _) = serve(with_dead_letters(None)).await;
    let mut gateway_config = GatewayConfig::single(&format!("http://{shop}"), config());
    gateway_config
        .upstreams
        .insert("payment".into(), vec![format!("http://{payment}")]);
    gateway_config
        .upstreams
        .insert("customer".into(), vec![format!("http://{customer}")]);
    let (addr, stop, _) = serve(gateway::router(gateway_config).expect("builds")).await;
    let url = format!("http://{addr}/api/v1/dead-letters");

    let (status, _, _) = get_json(&url, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, body) = get_json(&url, Some(&token())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut consumers: Vec<&str> = body
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|l| l["consumer"].as_str())
        .collect();
    consumers.sort_unstable();
    // The shop serves four services and is asked once; the customer service has none.
    assert_eq!(consumers, ["order-saga", "payment.requests"], "{body}");

    let _ = stop_payment.send(());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (status, _, body) = get_json(&url, Some(&token())).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert!(body.to_string().contains("payment"), "{body}");
    let _ = stop.send(());
    let _ = stop_shop.send(());
    let _ = stop_customer.send(());
}

/// A shop on the SQLite file at `path` (payments always approved) and its router.
async fn replica(path: &std::path::Path) -> (Arc<Shop>, Router) {
    let shop_config = ShopConfig {
        provider: SimulatedProvider {
            success_rate: 1.0,
            ..SimulatedProvider::seeded(7)
        },
        durable: false,
        ..ShopConfig::new(path)
    };
    let shop = Arc::new(Shop::open(shop_config).await.expect("the shop opens"));
    let app = ecommerce::http::router(shop.clone(), config()).expect("the router builds");
    (shop, app)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_the_traffic_without_double_effects_and_one_may_go() {
    let path = std::env::temp_dir().join(format!("ecommerce-gw-{}.db", uuid::Uuid::new_v4()));
    let (first, first_app) = replica(&path).await;
    let (second, second_app) = replica(&path).await;
    let (a, stop_a, server_a) = serve(first_app).await;
    let (b, stop_b, _) = serve(second_app).await;
    let urls = [format!("http://{a}"), format!("http://{b}")];
    let gateway = gateway::router(GatewayConfig::replicated(&urls, config())).expect("builds");
    let (addr, stop, _) = serve(gateway).await;
    let url = format!("http://{addr}");

    load_and_check(&url, 9, 4, Some(5)).await;
    let metrics = metrics_text(&url).await;
    assert!(
        metrics.contains(&format!("replica=\"http://{a}\"")),
        "{metrics}"
    );

    // The first replica goes away: requests that cannot connect to it go to the second.
    let _ = stop_a.send(());
    let _ = server_a.await;
    drop(first);
    // Every other request tries it first: 12 give its breaker more than the 5 failures.
    for n in 0..12 {
        let (status, _, body) = get_json(&format!("{url}/api/v1/products"), None).await;
        assert_eq!(status, StatusCode::OK, "request {n}: {body}");
    }
    let (status, _, health) = get_json(&format!("{url}/health/ready"), None).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "one replica each is enough: {health}"
    );
    assert!(
        health.to_string().contains("circuit breaker open"),
        "the gone replica's breaker opened: {health}"
    );
    let _ = stop.send(());
    let _ = stop_b.send(());
    drop(second);
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.clone().into_os_string();
        file.push(suffix);
        let _ = std::fs::remove_file(file);
    }
}
