//! The invariants a load run must leave true (ECOMMERCE.md, "Load"), checked in-process on
//! the shop's aggregates and tables: each check returns the violations it found, as
//! sentences; an empty list is a pass. The rules themselves are [`super::check`]'s, shared
//! with the URL mode's checks over HTTP ([`super::remote_checks`]).

use std::collections::BTreeMap;
use std::time::Duration;

pub use super::check::Check;
use super::check::{self, OrderFacts, StockFigures};
use crate::app::{Shop, ShopError};
use crate::inventory::{Inventory, ReservationStatus, WAREHOUSE};
use crate::readmodels::{self, orders, products};

/// Waits (up to `timeout`) until every saga and policy is terminal and every read model has
/// caught up, then runs every check.
///
/// # Errors
/// The shop's, when a check cannot read what it needs.
pub async fn check_all(shop: &Shop, timeout: Duration) -> Result<Vec<Check>, ShopError> {
    shop.settle(timeout).await?;
    let inventory = shop
        .repositories()
        .inventory
        .load(WAREHOUSE)
        .await
        .map_err(|e| ShopError::from_repo(e, ShopError::Inventory))?
        .state;
    Ok(vec![
        Check {
            name: check::STOCK_CONSERVED,
            violations: stock_conserved(shop, &inventory).await?,
        },
        Check {
            name: check::ORDERS_AND_PAYMENTS,
            violations: orders_and_payments(shop, &inventory).await?,
        },
        Check {
            name: check::SAGAS_TERMINAL,
            violations: shop
                .unfinished_sagas()
                .await?
                .into_iter()
                .map(|(t, s, n)| check::unfinished(&t, &s, n))
                .collect(),
        },
        Check {
            name: check::NO_DEAD_LETTERS,
            violations: shop
                .dead_letters()
                .await?
                .into_iter()
                .map(|d| check::dead_letter(&d.consumer, &d.event_type, d.position, &d.error))
                .collect(),
        },
        Check {
            name: check::READ_MODELS,
            violations: read_models(shop).await?,
        },
    ])
}

/// initial + added = available + reserved + sold, per product; held and sold units match the
/// reservations; the product view agrees with the ledger.
async fn stock_conserved(shop: &Shop, inventory: &Inventory) -> Result<Vec<String>, ShopError> {
    let mut violations = Vec::new();
    let mut held: BTreeMap<&str, u64> = BTreeMap::new();
    let mut sold: BTreeMap<&str, u64> = BTreeMap::new();
    for reservation in inventory.reservations.values() {
        let into = match reservation.status {
            ReservationStatus::Reserved => &mut held,
            ReservationStatus::Confirmed => &mut sold,
            _ => continue,
        };
        for (product, quantity) in &reservation.items {
            *into.entry(product.as_str()).or_default() += u64::from(*quantity);
        }
    }
    for (id, p) in &inventory.products {
        let ledger = StockFigures {
            received: p.received,
            available: p.available(),
            reserved: p.reserved,
            sold: p.sold,
        };
        violations.extend(check::stock_violations(
            id,
            ledger,
            held.get(id.as_str()).copied().unwrap_or(0),
            sold.get(id.as_str()).copied().unwrap_or(0),
        ));
        match products::get(shop.store().reader_pool(), id).await? {
            Some(row)
                if (row.available, row.reserved, row.sold, row.received)
                    == (p.available(), p.reserved, p.sold, p.received) => {}
            other => violations.push(format!(
                "{id}: product view {other:?} differs from the ledger {p:?}"
            )),
        }
    }
    Ok(violations)
}

/// Every order is confirmed or cancelled; a confirmed one has one completed payment and no
/// refund; a cancelled one has no net charge and no held or sold stock.
async fn orders_and_payments(shop: &Shop, inventory: &Inventory) -> Result<Vec<String>, ShopError> {
    let mut violations = Vec::new();
    for row in orders::all(shop.store().reader_pool()).await? {
        let id = row.order_id.as_str();
        let order = shop.order(id).await?;
        if order.status.to_string() != row.status {
            violations.push(format!(
                "{id}: order view says {}, the order {}",
                row.status, order.status
            ));
        }
        let payment = shop.repositories().payments.load(id).await;
        let payment = payment
            .map_err(|e| ShopError::from_repo(e, ShopError::Payment))?
            .state;
        let (status, payment_status) = (order.status.to_string(), payment.status.to_string());
        let reservation = inventory.reservations.get(id).map(|r| r.status.to_string());
        violations.extend(check::order_violations(&OrderFacts {
            order_id: id,
            status: &status,
            payment_status: &payment_status,
            paid_cents: payment.paid.map_or(0, |m| m.cents),
            refunded_cents: payment.refunded_cents,
            reservation: reservation.as_deref(),
        }));
    }
    Ok(violations)
}

/// Every read model has no lag and equals a rebuild of itself.
async fn read_models(shop: &Shop) -> Result<Vec<String>, ShopError> {
    let mut violations = Vec::new();
    for status in shop.read_models() {
        if status.lag() != 0 {
            violations.push(format!(
                "{} lags by {} positions",
                status.name,
                status.lag()
            ));
        }
    }
    let pool = shop.store().reader_pool();
    for model in shop.read_models() {
        let name = model.name.as_str();
        let before = readmodels::dump(pool, name).await?;
        shop.rebuild_read_model(name).await?;
        let after = readmodels::dump(pool, name).await?;
        if before != after {
            let differing = before.iter().filter(|r| !after.contains(r)).count()
                + after.iter().filter(|r| !before.contains(r)).count();
            violations.push(format!("{name}: {differing} rows differ from a rebuild"));
        }
    }
    Ok(violations)
}
