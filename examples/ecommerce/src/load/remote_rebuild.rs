//! The read-model check over HTTP: every read model is running with no lag, and equals a
//! rebuild of itself — what the API shows of it (the orders list for the order view, the
//! catalogue for the product view, the analytics report) is the same before and after the
//! admin rebuilds it from the log.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde::Serialize;

use super::client::{Call, RemoteError, ShopClient};
use super::remote_checks::{admin_get, all_orders, paged};
use crate::http::AnalyticsView;
use crate::http::ProductView;
use crate::http::ops_views::ReadModelView;
use crate::readmodels::{ANALYTICS, ORDER_VIEW, PRODUCT_VIEW};

/// What the API shows of each read model: its rows as JSON text, sorted.
#[derive(Debug, PartialEq, Eq)]
struct Shown {
    orders: Vec<String>,
    products: Vec<String>,
    analytics: Vec<String>,
}

fn rows<T: Serialize>(items: impl IntoIterator<Item = T>) -> Vec<String> {
    let mut rows: Vec<String> = items
        .into_iter()
        .map(|item| serde_json::to_string(&item).unwrap_or_default())
        .collect();
    rows.sort_unstable();
    rows
}

async fn shown(client: &ShopClient, admin: &str) -> Result<Shown, RemoteError> {
    let orders = all_orders(client, admin).await?;
    let products: Vec<ProductView> = paged(client, admin, "/api/v1/products", 100).await?;
    let analytics: AnalyticsView = admin_get(client, admin, "/api/v1/analytics").await?;
    let mut report = rows(analytics.orders_per_status);
    report.extend(rows(analytics.revenue_per_day));
    report.extend(rows(analytics.top_products));
    report.extend(rows(analytics.customers));
    Ok(Shown {
        orders: rows(orders),
        products: rows(products),
        analytics: report,
    })
}

/// Rows in one sorted list and not the other (a multiset difference, both ways).
fn differing(before: &[String], after: &[String]) -> usize {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < before.len() && j < after.len() {
        match before[i].cmp(&after[j]) {
            std::cmp::Ordering::Less => (n, i) = (n + 1, i + 1),
            std::cmp::Ordering::Greater => (n, j) = (n + 1, j + 1),
            std::cmp::Ordering::Equal => (i, j) = (i + 1, j + 1),
        }
    }
    n + (before.len() - i) + (after.len() - j)
}

/// Starts rebuilding `name` and waits (up to `timeout`) until it is no longer running: the
/// violation if it failed or did not finish.
async fn rebuild(
    client: &ShopClient,
    admin: &str,
    name: &str,
    timeout: Duration,
) -> Result<Option<String>, RemoteError> {
    let start = format!("/api/v1/read-models/{name}/rebuild");
    let call = Call::post(&start, Some(admin), &());
    let answer = client.send(&call).await?;
    // 409: a rebuild is running already; wait for that one.
    if !(answer.status == StatusCode::ACCEPTED || answer.status == StatusCode::CONFLICT) {
        return Err(call.unexpected(&answer));
    }
    let path = format!("/api/v1/read-models/{name}");
    let until = Instant::now() + timeout;
    loop {
        let view: ReadModelView = admin_get(client, admin, &path).await?;
        match view.last_rebuild {
            Some(outcome) if outcome.status == "completed" => return Ok(None),
            Some(outcome) if outcome.status == "failed" => {
                let error = outcome.error.unwrap_or_default();
                return Ok(Some(format!("{name}: its rebuild failed: {error}")));
            }
            _ if Instant::now() >= until => {
                return Ok(Some(format!(
                    "{name}: its rebuild did not finish within {} s",
                    timeout.as_secs()
                )));
            }
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Every read model runs with no lag and shows the same after a rebuild.
///
/// # Errors
/// [`RemoteError`] when the read models cannot be read or rebuilt.
pub async fn read_models(
    client: &ShopClient,
    admin: &str,
    timeout: Duration,
) -> Result<Vec<String>, RemoteError> {
    let mut violations = Vec::new();
    let models: Vec<ReadModelView> = admin_get(client, admin, "/api/v1/read-models").await?;
    for model in &models {
        if model.lag != 0 {
            violations.push(format!("{} lags by {} positions", model.name, model.lag));
        }
        if model.state != "running" {
            let error = model.error.as_deref().unwrap_or("no error given");
            violations.push(format!("{} is {}: {error}", model.name, model.state));
        }
    }
    let before = shown(client, admin).await?;
    for name in [ORDER_VIEW, PRODUCT_VIEW, ANALYTICS] {
        violations.extend(rebuild(client, admin, name, timeout).await?);
    }
    let after = shown(client, admin).await?;
    for (name, before, after) in [
        (ORDER_VIEW, &before.orders, &after.orders),
        (PRODUCT_VIEW, &before.products, &after.products),
        (ANALYTICS, &before.analytics, &after.analytics),
    ] {
        let n = differing(before, after);
        if n > 0 {
            violations.push(format!("{name}: {n} rows differ from a rebuild"));
        }
    }
    Ok(violations)
}

#[cfg(test)]
mod tests {
    use super::differing;

    #[test]
    fn differing_counts_rows_missing_on_either_side() {
        let list = |rows: &[&str]| rows.iter().map(|r| (*r).to_owned()).collect::<Vec<_>>();
        assert_eq!(differing(&list(&["a", "b"]), &list(&["a", "b"])), 0);
        assert_eq!(differing(&list(&["a", "b", "d"]), &list(&["b", "c"])), 3);
        assert_eq!(differing(&list(&[]), &list(&["x", "x"])), 2);
    }
}
