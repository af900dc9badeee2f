//! What the HTTP tests share: a shop on a fresh SQLite file, its router, and one-call helpers
//! that send a request through the router without a socket (`tower::ServiceExt::oneshot`).

#![allow(dead_code, reason = "each test file uses part of the kit")]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use ecommerce::app::{Shop, ShopConfig};
use ecommerce::http::HttpConfig;
use ecommerce::http::limits::RateLimit;
use ecommerce::payment::SimulatedProvider;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tower::ServiceExt;

/// The admin's login in tests.
pub const ADMIN_EMAIL: &str = "admin@shop.test";
/// The admin's password in tests.
pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";

/// A running shop and its API.
pub struct TestApi {
    /// The router under test.
    pub app: Router,
    /// The shop behind it.
    pub shop: Arc<Shop>,
    path: PathBuf,
}

impl Drop for TestApi {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut file = self.path.clone().into_os_string();
            file.push(suffix);
            let _ = std::fs::remove_file(file);
        }
    }
}

/// The configuration the tests run with: a fixed secret, a known admin, a generous rate limit.
pub fn config() -> HttpConfig {
    HttpConfig {
        jwt_secret: b"a secret only the tests know, 32+ bytes".to_vec(),
        admin_email: ADMIN_EMAIL.into(),
        admin_password: ADMIN_PASSWORD.into(),
        rate_limit: RateLimit {
            requests: 10_000,
            per: Duration::from_secs(60),
        },
        body_limit: 16 * 1024,
        cors_origins: vec!["https://shop.example".into()],
        ..HttpConfig::default()
    }
}

/// A shop on a fresh database (payments always approved) behind the API with `config`.
pub async fn api_with(config: HttpConfig) -> TestApi {
    let path = std::env::temp_dir().join(format!("ecommerce-http-{}.db", uuid::Uuid::new_v4()));
    let shop_config = ShopConfig {
        provider: SimulatedProvider {
            success_rate: 1.0,
            ..SimulatedProvider::seeded(7)
        },
        durable: false,
        ..ShopConfig::new(&path)
    };
    let shop = Arc::new(Shop::open(shop_config).await.expect("the shop opens"));
    shop.catch_up().await.expect("the read models catch up");
    let app = ecommerce::http::router(shop.clone(), config).expect("the router builds");
    TestApi { app, shop, path }
}

/// Serves `app` on an ephemeral 127.0.0.1 port until `stop` is sent.
pub async fn serve(
    app: Router,
) -> (
    SocketAddr,
    oneshot::Sender<()>,
    JoinHandle<std::io::Result<()>>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let addr = listener.local_addr().expect("bound");
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async {
            let _ = stopped.await;
        })
        .await
    });
    (addr, stop, server)
}

/// The Prometheus text of `base_url`'s `/metrics`.
pub async fn metrics_text(base_url: &str) -> String {
    reqwest::get(format!("{base_url}/metrics"))
        .await
        .expect("/metrics answers")
        .text()
        .await
        .expect("/metrics is text")
}

/// A shop behind the API with the test [`config`].
pub async fn api() -> TestApi {
    api_with(config()).await
}

/// A response: status, headers, JSON body (`Null` if the body is not JSON).
pub struct Reply {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body as JSON.
    pub body: Value,
    /// The body as text.
    pub text: String,
}

impl Reply {
    /// The error code of an error body.
    pub fn code(&self) -> &str {
        self.body["error"]["code"]
            .as_str()
            .unwrap_or("<no error body>")
    }
}

impl TestApi {
    /// Sends `request` through the router.
    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.app.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("the body reads");
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    /// `method uri` with an optional bearer token and JSON body.
    pub async fn call(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut builder = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        let body = match body {
            Some(json) => {
                builder = builder.header("content-type", "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        self.send(builder.body(body).expect("a valid request"))
            .await
    }

    /// `GET uri`.
    pub async fn get(&self, uri: &str, token: Option<&str>) -> Reply {
        self.call(Method::GET, uri, token, None).await
    }

    /// `POST uri` with a JSON body.
    pub async fn post(&self, uri: &str, token: Option<&str>, body: Value) -> Reply {
        self.call(Method::POST, uri, token, Some(body)).await
    }

    /// Registers `name` (`<name>@example.com`) and logs in: (customer id, token).
    pub async fn customer(&self, name: &str) -> (String, String) {
        let email = format!("{name}@example.com");
        let registered = self
            .post(
                "/api/v1/customers",
                None,
                json!({ "username": name, "email": email, "password": "password-123" }),
            )
            .await;
        assert_eq!(
            registered.status,
            StatusCode::CREATED,
            "{}",
            registered.text
        );
        let token = self.login(&email, "password-123").await;
        (
            registered.body["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            token,
        )
    }

    /// Logs in and returns the token.
    pub async fn login(&self, email: &str, password: &str) -> String {
        let login = self
            .post(
                "/api/v1/customers/login",
                None,
                json!({ "email": email, "password": password }),
            )
            .await;
        assert_eq!(login.status, StatusCode::OK, "{}", login.text);
        login.body["token"].as_str().unwrap_or_default().to_owned()
    }

    /// The admin's token.
    pub async fn admin(&self) -> String {
        self.login(ADMIN_EMAIL, ADMIN_PASSWORD).await
    }

    /// Places an order of `items` (product, quantity) and returns its id.
    pub async fn place(&self, token: &str, items: &[(&str, u32)]) -> String {
        let items: Vec<Value> = items
            .iter()
            .map(|(p, q)| json!({ "product_id": p, "quantity": q }))
            .collect();
        let placed = self
            .post("/api/v1/orders", Some(token), json!({ "items": items }))
            .await;
        assert_eq!(placed.status, StatusCode::ACCEPTED, "{}", placed.text);
        placed.body["order_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Polls the order view until the order is in `status` (10 s at most).
    pub async fn wait_for(&self, token: &str, order_id: &str, status: &str) -> Value {
        let uri = format!("/api/v1/orders/{order_id}");
        for _ in 0..400 {
            let reply = self.get(&uri, Some(token)).await;
            if reply.status == StatusCode::OK && reply.body["status"] == status {
                return reply.body;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("order {order_id} never reached {status}");
    }
}
