//! Analytics (read side only): pure folds over order events, for the read models to store.
//! Orders per status, revenue per day, top products and per-customer totals.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::order::{OrderEvent, Status};

/// A day as days since 1970-01-01 (UTC).
pub type Day = i64;

/// The UTC day of `at`.
pub fn day_of(at: SystemTime) -> Day {
    match at.duration_since(UNIX_EPOCH) {
        Ok(since) => (since.as_secs() / 86_400) as Day,
        Err(before) => -(before.duration().as_secs().div_ceil(86_400) as Day),
    }
}

/// One customer's totals.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CustomerTotals {
    /// Orders placed.
    pub orders: u64,
    /// Revenue from their confirmed orders, in cents.
    pub revenue_cents: i64,
}

/// The analytics folded so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Analytics {
    /// Orders per current status.
    pub orders_per_status: BTreeMap<String, u64>,
    /// Confirmed revenue per day (cents), by the day of confirmation.
    pub revenue_per_day: BTreeMap<Day, i64>,
    /// Units per product in confirmed orders.
    pub units_per_product: BTreeMap<String, u64>,
    /// Per customer.
    pub customers: BTreeMap<String, CustomerTotals>,
    orders: BTreeMap<String, OrderFacts>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct OrderFacts {
    status: Status,
    customer_id: String,
    total_cents: i64,
    lines: Vec<(String, u32)>,
}

impl Analytics {
    fn set_status(&mut self, order_id: &str, status: Status) -> Option<OrderFacts> {
        let facts = self.orders.get_mut(order_id)?;
        let old = std::mem::replace(&mut facts.status, status);
        let facts = facts.clone();
        if let Some(n) = self.orders_per_status.get_mut(&old.to_string()) {
            *n = n.saturating_sub(1);
        }
        *self
            .orders_per_status
            .entry(status.to_string())
            .or_default() += 1;
        Some(facts)
    }

    /// Folds one order event recorded at `at`.
    pub fn apply(&mut self, at: SystemTime, event: &OrderEvent) {
        match event {
            OrderEvent::OrderPlaced {
                order_id,
                customer_id,
                lines,
                total,
            } => {
                let facts = OrderFacts {
                    status: Status::Pending,
                    customer_id: customer_id.clone(),
                    total_cents: total.cents,
                    lines: lines
                        .iter()
                        .map(|l| (l.product_id.clone(), l.quantity))
                        .collect(),
                };
                self.orders.insert(order_id.clone(), facts);
                *self
                    .orders_per_status
                    .entry(Status::Pending.to_string())
                    .or_default() += 1;
                self.customers
                    .entry(customer_id.clone())
                    .or_default()
                    .orders += 1;
            }
            OrderEvent::OrderConfirmed { order_id, .. } => {
                let Some(facts) = self.set_status(order_id, Status::Confirmed) else {
                    return;
                };
                *self.revenue_per_day.entry(day_of(at)).or_default() += facts.total_cents;
                self.customers
                    .entry(facts.customer_id)
                    .or_default()
                    .revenue_cents += facts.total_cents;
                for (product, quantity) in facts.lines {
                    *self.units_per_product.entry(product).or_default() += u64::from(quantity);
                }
            }
            OrderEvent::OrderCancelled { order_id, .. } => {
                let Some(facts) = self.orders.get(order_id).cloned() else {
                    return;
                };
                self.set_status(order_id, Status::Cancelled);
                if facts.status == Status::Confirmed {
                    // A confirmed order's revenue and units are taken back.
                    *self.revenue_per_day.entry(day_of(at)).or_default() -= facts.total_cents;
                    self.customers
                        .entry(facts.customer_id)
                        .or_default()
                        .revenue_cents -= facts.total_cents;
                    for (product, quantity) in facts.lines {
                        let units = self.units_per_product.entry(product).or_default();
                        *units = units.saturating_sub(u64::from(quantity));
                    }
                }
            }
            OrderEvent::OrderShipped { order_id, .. } => {
                self.set_status(order_id, Status::Shipped);
            }
            OrderEvent::OrderDelivered { order_id, .. } => {
                self.set_status(order_id, Status::Delivered);
            }
        }
    }

    /// The `n` products with most units sold, most first (ties by product id).
    pub fn top_products(&self, n: usize) -> Vec<(String, u64)> {
        let mut all: Vec<_> = self
            .units_per_product
            .iter()
            .map(|(p, u)| (p.clone(), *u))
            .collect();
        all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        all.truncate(n);
        all
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::money::Money;
    use crate::order::Line;

    fn placed(order: &str, customer: &str, product: &str, quantity: u32, cents: i64) -> OrderEvent {
        OrderEvent::OrderPlaced {
            order_id: order.into(),
            customer_id: customer.into(),
            lines: vec![Line {
                product_id: product.into(),
                quantity,
                unit_price: Money::usd(cents),
            }],
            total: Money::usd(cents * i64::from(quantity)),
        }
    }

    fn confirmed(order: &str, customer: &str) -> OrderEvent {
        OrderEvent::OrderConfirmed {
            order_id: order.into(),
            customer_id: customer.into(),
        }
    }

    #[test]
    fn folds_statuses_revenue_per_day_top_products_and_customer_totals() {
        let day1 = UNIX_EPOCH + Duration::from_secs(86_400 * 10 + 5);
        let day2 = day1 + Duration::from_secs(86_400);
        let mut analytics = Analytics::default();
        analytics.apply(day1, &placed("o1", "c1", "mouse", 3, 100));
        analytics.apply(day1, &placed("o2", "c1", "laptop", 1, 1_000));
        analytics.apply(day1, &placed("o3", "c2", "mouse", 1, 100));
        analytics.apply(day1, &confirmed("o1", "c1"));
        analytics.apply(day2, &confirmed("o2", "c1"));
        analytics.apply(
            day2,
            &OrderEvent::OrderCancelled {
                order_id: "o3".into(),
                customer_id: "c2".into(),
                reason: "r".into(),
                after_confirmation: false,
            },
        );
        assert_eq!(analytics.orders_per_status["confirmed"], 2);
        assert_eq!(analytics.orders_per_status["pending"], 0);
        assert_eq!(analytics.orders_per_status["cancelled"], 1);
        assert_eq!(
            analytics.revenue_per_day,
            BTreeMap::from([(10, 300), (11, 1_000)])
        );
        assert_eq!(analytics.top_products(1), [("mouse".to_owned(), 3)]);
        assert_eq!(
            analytics.customers["c1"],
            CustomerTotals {
                orders: 2,
                revenue_cents: 1_300
            }
        );
        assert_eq!(
            analytics.customers["c2"],
            CustomerTotals {
                orders: 1,
                revenue_cents: 0
            }
        );
        // Cancelling a confirmed order takes its revenue back.
        analytics.apply(
            day2,
            &OrderEvent::OrderCancelled {
                order_id: "o2".into(),
                customer_id: "c1".into(),
                reason: "r".into(),
                after_confirmation: true,
            },
        );
        assert_eq!(analytics.revenue_per_day[&11], 0);
        assert_eq!(analytics.customers["c1"].revenue_cents, 300);
    }

    #[test]
    fn days_count_from_the_epoch() {
        assert_eq!(day_of(UNIX_EPOCH + Duration::from_secs(86_399)), 0);
        assert_eq!(day_of(UNIX_EPOCH + Duration::from_secs(86_400)), 1);
        assert_eq!(day_of(UNIX_EPOCH - Duration::from_secs(1)), -1);
    }
}
