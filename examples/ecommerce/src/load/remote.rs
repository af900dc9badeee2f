//! The URL mode: the same load against a running shop, through its HTTP API only. It logs
//! in as the admin, prepares the catalogue, registers the customers the mix needs, then
//! places every order (with an `Idempotency-Key`) and long-polls it (`?wait=`) until it is
//! confirmed or cancelled, timing placed → terminal. The checks are [`super::remote_checks`]'.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use super::client::{Call, RemoteError, ShopClient};
use super::mix::{PlannedOrder, ProductSpec, catalogue, planned_order};
use super::{LoadConfig, LoadReport, Outcome};
use crate::http::ops_views::SagaDetailView;
use crate::http::{MoneyView, OrderAccepted, OrderView, ProductView};

/// What a URL-mode run needs.
#[derive(Clone, Debug)]
pub struct RemoteConfig {
    /// The shop, e.g. `http://127.0.0.1:8080`.
    pub url: String,
    /// The admin's login address.
    pub admin_email: String,
    /// The admin's password.
    pub admin_password: String,
    /// What to generate.
    pub load: LoadConfig,
}

/// A finished URL-mode run: its figures, and the client and admin token the checks go on
/// with.
#[derive(Debug)]
pub struct RemoteRun {
    /// The figures.
    pub report: LoadReport,
    /// The client it used.
    pub client: Arc<ShopClient>,
    /// The admin's bearer token.
    pub admin_token: String,
}

/// Runs the load against the shop at `config.url`; `on_settled` is called after each order.
///
/// # Errors
/// [`RemoteError`] when a request fails outright: the shop is unreachable, the admin login
/// is refused, a placement is rejected.
pub async fn run(
    config: &RemoteConfig,
    on_settled: Arc<dyn Fn() + Send + Sync>,
) -> Result<RemoteRun, RemoteError> {
    let client = Arc::new(ShopClient::new(&config.url)?);
    let admin_token = client
        .login(&config.admin_email, &config.admin_password)
        .await?;
    let load = &config.load;
    let products = prepare_catalogue(&client, &admin_token, load).await?;
    let customers = load.customers.max(1);
    let plans: Vec<PlannedOrder> = (0..load.orders)
        .map(|index| planned_order(load.seed, index, &products, customers))
        .collect();
    let used: BTreeSet<usize> = plans.iter().map(|plan| plan.customer).collect();
    let tokens = Arc::new(register_customers(&client, used, load.concurrency).await?);
    let orders = Orders {
        client: client.clone(),
        tokens,
        admin_token: admin_token.clone(),
        order_timeout: load.order_timeout,
    };
    let started = Instant::now();
    let orders = Arc::new(orders);
    let results = in_parallel(plans, load.concurrency, move |plan| {
        let (orders, on_settled) = (orders.clone(), on_settled.clone());
        async move {
            let result = orders.place_and_settle(plan).await?;
            on_settled();
            Ok(result)
        }
    })
    .await?;
    Ok(RemoteRun {
        report: LoadReport::new(results, started.elapsed()),
        client,
        admin_token,
    })
}

/// The load's catalogue on the shop: a missing product is added with its stock; an existing
/// one is kept, topped up to `config.stock` units available when that was asked for.
async fn prepare_catalogue(
    client: &Arc<ShopClient>,
    admin: &str,
    config: &LoadConfig,
) -> Result<Vec<String>, RemoteError> {
    let specs = catalogue(config);
    let ids = specs.iter().map(|spec| spec.id.clone()).collect();
    let (client, admin, top_up) = (client.clone(), admin.to_owned(), config.stock);
    in_parallel(specs, config.concurrency, move |spec| {
        let (client, admin) = (client.clone(), admin.clone());
        async move { prepare_product(&client, &admin, &spec, top_up).await }
    })
    .await?;
    Ok(ids)
}

async fn prepare_product(
    client: &ShopClient,
    admin: &str,
    spec: &ProductSpec,
    top_up: Option<u32>,
) -> Result<(), RemoteError> {
    let path = format!("/api/v1/products/{}", spec.id);
    let existing: Option<ProductView> = client.optional(&Call::get(&path, None)).await?;
    match existing {
        None => {
            let body = json!({
                "id": spec.id,
                "name": spec.name,
                "description": "load catalogue",
                "price": MoneyView::from(spec.price),
                "initial_stock": spec.stock,
            });
            let call = Call::post("/api/v1/products", Some(admin), &body);
            let answer = client.send(&call).await?;
            // 409: added meanwhile by someone else; it is there either way.
            if !(answer.status.is_success() || answer.status == StatusCode::CONFLICT) {
                return Err(call.unexpected(&answer));
            }
        }
        Some(product) => {
            if let Some(target) = top_up.filter(|target| product.available < *target) {
                let body = json!({ "quantity": target - product.available });
                let path = format!("{path}/stock");
                let _: ProductView = client.json(&Call::post(&path, Some(admin), &body)).await?;
            }
        }
    }
    Ok(())
}

/// Registers and logs in one fresh customer per index in `used`: index → bearer token.
async fn register_customers(
    client: &Arc<ShopClient>,
    used: BTreeSet<usize>,
    concurrency: usize,
) -> Result<HashMap<usize, String>, RemoteError> {
    let run = uuid::Uuid::new_v4().simple().to_string();
    let run: Arc<str> = Arc::from(&run[..8]);
    let (client, used): (_, Vec<usize>) = (client.clone(), used.into_iter().collect());
    let tokens = in_parallel(used, concurrency, move |index| {
        let (client, run) = (client.clone(), run.clone());
        async move {
            let email = format!("load-{run}-{index}@example.com");
            let password = format!("load-{run}-password");
            let body = json!({
                "username": format!("load-{run}-{index}"),
                "email": email,
                "password": password,
            });
            let _: crate::http::CustomerView = client
                .json(&Call::post("/api/v1/customers", None, &body))
                .await?;
            Ok((index, client.login(&email, &password).await?))
        }
    })
    .await?;
    Ok(tokens.into_iter().collect())
}

/// What placing and following an order needs.
struct Orders {
    client: Arc<ShopClient>,
    tokens: Arc<HashMap<usize, String>>,
    admin_token: String,
    order_timeout: Duration,
}

/// The first pause between two polls of an order that is still in progress (each poll waits
/// for it to settle first), doubled up to [`MAX_POLL_PAUSE`].
const FIRST_POLL_PAUSE: Duration = Duration::from_millis(5);
/// The longest pause between two polls of an order.
const MAX_POLL_PAUSE: Duration = Duration::from_millis(100);

impl Orders {
    /// Places `plan` and polls it until it is terminal: its outcome and placed → terminal.
    async fn place_and_settle(
        &self,
        plan: PlannedOrder,
    ) -> Result<(Outcome, Duration), RemoteError> {
        let token = self.tokens.get(&plan.customer).map(String::as_str);
        let items: Vec<_> = plan
            .items
            .iter()
            .map(|item| json!({ "product_id": item.product_id, "quantity": item.quantity }))
            .collect();
        let body = json!({ "items": items });
        let placed_at = Instant::now();
        let call = Call {
            idempotency_key: Some(&plan.idempotency_key),
            ..Call::post("/api/v1/orders", token, &body)
        };
        let accepted: OrderAccepted = self.client.json(&call).await?;
        // A long poll: each answer comes once the order is settled (or after a few seconds).
        let path = format!(
            "/api/v1/orders/{}?wait={}",
            accepted.order_id,
            crate::http::MAX_WAIT_SECS
        );
        let mut pause = FIRST_POLL_PAUSE;
        while placed_at.elapsed() < self.order_timeout {
            let order: Option<OrderView> = self.client.optional(&Call::get(&path, token)).await?;
            let outcome = match order {
                Some(order) if order.status == "cancelled" => {
                    Some(Outcome::cancelled(order.cancellation_reason.as_deref()))
                }
                Some(order) if order.is_settled() => Some(Outcome::Confirmed),
                _ => None,
            };
            if let Some(outcome) = outcome {
                return Ok((outcome, placed_at.elapsed()));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_POLL_PAUSE);
        }
        let saga_path = format!("/api/v1/sagas/{}", accepted.order_id);
        let saga: Option<SagaDetailView> = self
            .client
            .optional(&Call::get(&saga_path, Some(&self.admin_token)))
            .await?;
        let outcome = match saga {
            Some(saga) if saga.status == "parked" => Outcome::Parked,
            _ => Outcome::Stuck,
        };
        Ok((outcome, placed_at.elapsed()))
    }
}

/// Runs `work` on every item, at most `concurrency` at once; the results in the items' order.
///
/// # Errors
/// The first error of `work` (the rest of the work is dropped), or [`RemoteError::Worker`].
pub(crate) async fn in_parallel<T, R, F, Fut>(
    items: Vec<T>,
    concurrency: usize,
    work: F,
) -> Result<Vec<R>, RemoteError>
where
    T: Send + 'static,
    R: Send + 'static,
    F: Fn(T) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, RemoteError>> + Send + 'static,
{
    let queue: VecDeque<(usize, T)> = items.into_iter().enumerate().collect();
    let queue = Arc::new(Mutex::new(queue));
    let work = Arc::new(work);
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let (queue, work) = (queue.clone(), work.clone());
        workers.spawn(async move {
            let mut done = Vec::new();
            loop {
                let next = queue.lock().ok().and_then(|mut queue| queue.pop_front());
                let Some((index, item)) = next else {
                    return Ok::<_, RemoteError>(done);
                };
                done.push((index, work(item).await?));
            }
        });
    }
    let mut results = Vec::new();
    while let Some(joined) = workers.join_next().await {
        results.extend(joined.map_err(|e| RemoteError::Worker(e.to_string()))??);
    }
    results.sort_by_key(|(index, _)| *index);
    Ok(results.into_iter().map(|(_, result)| result).collect())
}
