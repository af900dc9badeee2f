//! The invariant checks of ECOMMERCE.md ("Load") through the HTTP API only, as the admin, so
//! they hold a shop to account whether it runs in one process or as services behind a
//! gateway: each figure comes from the service that owns it (the inventory's ledger and
//! reservations, the order view, the payments, the saga runtimes, the read models). The rules
//! are [`super::check`]'s, the same the in-process checks apply.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

use super::check::{self, Check, OrderFacts, StockFigures};
use super::client::{Call, RemoteError, ShopClient};
use super::remote::in_parallel;
use crate::http::inventory_views::{ReservationView, StockLedgerView};
use crate::http::ops_views::{DeadLetterView, ReadModelView, UnfinishedSagasView};
use crate::http::{OrderPage, OrderView, PaymentView, ProductView};

/// An order with what the payment and inventory services hold for it.
struct OrderRecord {
    order: OrderView,
    payment: Option<PaymentView>,
    reservation: Option<ReservationView>,
}

/// Waits (up to `timeout`) until every saga is terminal and every read model has caught up,
/// then runs every check, `concurrency` requests at once. Behind a gateway the services
/// converge separately (a refund a policy sent may still be on its way to the payment
/// service), so checks that fail are run again until they hold or `timeout` has passed: a
/// violation that lasts is reported.
///
/// # Errors
/// [`RemoteError`] when a figure cannot be read.
pub async fn check_all(
    client: &Arc<ShopClient>,
    admin: &str,
    concurrency: usize,
    timeout: Duration,
) -> Result<Vec<Check>, RemoteError> {
    let until = std::time::Instant::now() + timeout;
    let mut checks = loop {
        settle(client, admin, timeout).await?;
        let checks = data_checks(client, admin, concurrency).await?;
        if checks.iter().all(Check::holds) || std::time::Instant::now() >= until {
            break checks;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    checks.push(Check {
        name: check::READ_MODELS,
        violations: super::remote_rebuild::read_models(client, admin, timeout).await?,
    });
    Ok(checks)
}

/// Every check but the read models' (which rebuilds them).
async fn data_checks(
    client: &Arc<ShopClient>,
    admin: &str,
    concurrency: usize,
) -> Result<Vec<Check>, RemoteError> {
    let orders = all_orders(client, admin).await?;
    let (fetcher, token) = (client.clone(), Arc::<str>::from(admin));
    let records = in_parallel(orders, concurrency, move |order| {
        let (client, admin) = (fetcher.clone(), token.clone());
        async move {
            let payment_path = format!("/api/v1/orders/{}/payment", order.id);
            let reservation_path = format!("/api/v1/inventory/reservations/{}", order.id);
            let payment = client
                .optional(&Call::get(&payment_path, Some(&admin)))
                .await?;
            let reservation = client
                .optional(&Call::get(&reservation_path, Some(&admin)))
                .await?;
            Ok(OrderRecord {
                order,
                payment,
                reservation,
            })
        }
    })
    .await?;
    let ledgers: Vec<StockLedgerView> =
        paged(client, admin, "/api/v1/inventory/stock", 1000).await?;
    let products: Vec<ProductView> = paged(client, admin, "/api/v1/products", 100).await?;
    let unfinished: Vec<UnfinishedSagasView> =
        admin_get(client, admin, "/api/v1/unfinished-sagas").await?;
    let letters: Vec<DeadLetterView> = admin_get(client, admin, "/api/v1/dead-letters").await?;
    Ok(vec![
        Check {
            name: check::STOCK_CONSERVED,
            violations: stock_conserved(&ledgers, &products, &records),
        },
        Check {
            name: check::ORDERS_AND_PAYMENTS,
            violations: records.iter().flat_map(order_violations).collect(),
        },
        Check {
            name: check::SAGAS_TERMINAL,
            violations: unfinished
                .iter()
                .map(|u| check::unfinished(&u.saga_type, &u.status, u.count))
                .collect(),
        },
        Check {
            name: check::NO_DEAD_LETTERS,
            violations: letters
                .iter()
                .map(|d| check::dead_letter(&d.consumer, &d.event_type, d.position, &d.error))
                .collect(),
        },
    ])
}

/// `GET path` as the admin.
pub(crate) async fn admin_get<T: DeserializeOwned>(
    client: &ShopClient,
    admin: &str,
    path: &str,
) -> Result<T, RemoteError> {
    client.json(&Call::get(path, Some(admin))).await
}

/// Every item of a list paged with `limit` and `offset`.
pub(crate) async fn paged<T: DeserializeOwned>(
    client: &ShopClient,
    admin: &str,
    path: &str,
    limit: usize,
) -> Result<Vec<T>, RemoteError> {
    let mut all = Vec::new();
    loop {
        let page: Vec<T> = admin_get(
            client,
            admin,
            &format!("{path}?limit={limit}&offset={}", all.len()),
        )
        .await?;
        let last = page.len() < limit;
        all.extend(page);
        if last {
            return Ok(all);
        }
    }
}

/// Every order in the order view, newest first.
pub(crate) async fn all_orders(
    client: &ShopClient,
    admin: &str,
) -> Result<Vec<OrderView>, RemoteError> {
    let mut all = Vec::new();
    loop {
        let path = format!("/api/v1/orders?limit=100&offset={}", all.len());
        let page: OrderPage = admin_get(client, admin, &path).await?;
        let last = page.orders.len() < 100;
        all.extend(page.orders);
        if last {
            return Ok(all);
        }
    }
}

/// Polls until no saga is unfinished and every read model has no lag, twice in a row at the
/// same checkpoints; `false` if `timeout` passed first (the checks then say what is left).
async fn settle(client: &ShopClient, admin: &str, timeout: Duration) -> Result<bool, RemoteError> {
    let until = Instant::now() + timeout;
    let mut quiet_at: Option<Vec<u64>> = None;
    loop {
        let unfinished: Vec<UnfinishedSagasView> =
            admin_get(client, admin, "/api/v1/unfinished-sagas").await?;
        let models: Vec<ReadModelView> = admin_get(client, admin, "/api/v1/read-models").await?;
        let checkpoints: Vec<u64> = models.iter().map(|m| m.checkpoint).collect();
        let quiet = unfinished.is_empty() && models.iter().all(|m| m.lag == 0);
        if quiet && quiet_at.as_ref() == Some(&checkpoints) {
            return Ok(true);
        }
        quiet_at = quiet.then_some(checkpoints);
        if Instant::now() >= until {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Per product: the inventory's ledger conserves stock and matches the reservations; the
/// product view shows what the ledger holds.
fn stock_conserved(
    ledgers: &[StockLedgerView],
    products: &[ProductView],
    records: &[OrderRecord],
) -> Vec<String> {
    let mut held: BTreeMap<&str, u64> = BTreeMap::new();
    let mut sold: BTreeMap<&str, u64> = BTreeMap::new();
    for reservation in records.iter().filter_map(|r| r.reservation.as_ref()) {
        let into = match reservation.status.as_str() {
            "reserved" => &mut held,
            "confirmed" => &mut sold,
            _ => continue,
        };
        for item in &reservation.items {
            *into.entry(item.product_id.as_str()).or_default() += u64::from(item.quantity);
        }
    }
    let views: BTreeMap<&str, &ProductView> = products.iter().map(|p| (p.id.as_str(), p)).collect();
    let mut violations = Vec::new();
    for ledger in ledgers {
        let id = ledger.product_id.as_str();
        let figures = StockFigures {
            received: ledger.received,
            available: ledger.available,
            reserved: ledger.reserved,
            sold: ledger.sold,
        };
        let (h, s) = (held.get(id).copied(), sold.get(id).copied());
        violations.extend(check::stock_violations(
            id,
            figures,
            h.unwrap_or(0),
            s.unwrap_or(0),
        ));
        match views.get(id) {
            Some(view)
                if (view.available, view.reserved, view.sold)
                    == (ledger.available, ledger.reserved, ledger.sold) => {}
            other => violations.push(format!(
                "{id}: product view {other:?} differs from the ledger {ledger:?}"
            )),
        }
    }
    violations
}

fn order_violations(record: &OrderRecord) -> Vec<String> {
    let payment = record.payment.as_ref();
    check::order_violations(&OrderFacts {
        order_id: &record.order.id,
        status: &record.order.status,
        payment_status: payment.map_or("none", |p| p.status.as_str()),
        paid_cents: payment.and_then(|p| p.paid).map_or(0, |m| m.cents),
        refunded_cents: payment.map_or(0, |p| p.refunded_cents),
        reservation: record.reservation.as_ref().map(|r| r.status.as_str()),
    })
}
