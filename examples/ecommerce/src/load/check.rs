//! What a check found, and the rules both modes judge by: the in-process checks read the
//! shop's aggregates, the URL-mode checks read the HTTP API, and both hand what they read to
//! the same rules here, so a rule is written once.

/// The check that stock is conserved.
pub const STOCK_CONSERVED: &str = "stock conserved per product";
/// The check that orders, payments and reservations agree.
pub const ORDERS_AND_PAYMENTS: &str = "orders and payments agree";
/// The check that no saga is left unfinished.
pub const SAGAS_TERMINAL: &str = "every saga terminal";
/// The check that no consumer gave up on an event.
pub const NO_DEAD_LETTERS: &str = "no dead letters";
/// The check that read models caught up and equal a rebuild of themselves.
pub const READ_MODELS: &str = "read models caught up and equal to a rebuild";

/// One named check and what it found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// What is checked.
    pub name: &'static str,
    /// What is wrong (empty: holds).
    pub violations: Vec<String>,
}

impl Check {
    /// Whether the check holds.
    pub fn holds(&self) -> bool {
        self.violations.is_empty()
    }
}

/// One product's stock ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StockFigures {
    /// Every unit ever received: initial stock plus additions.
    pub received: u64,
    /// Units free to reserve.
    pub available: u32,
    /// Units held for orders.
    pub reserved: u32,
    /// Units sold.
    pub sold: u32,
}

/// Stock conservation for product `id`: received (initial + added) = available + reserved +
/// sold, and the units held and sold equal what the reservations hold (`held`) and sold
/// (`sold`).
pub fn stock_violations(id: &str, ledger: StockFigures, held: u64, sold: u64) -> Vec<String> {
    let mut violations = Vec::new();
    let accounted =
        u64::from(ledger.available) + u64::from(ledger.reserved) + u64::from(ledger.sold);
    if accounted != ledger.received {
        violations.push(format!(
            "{id}: received {} but available {} + reserved {} + sold {} = {accounted}",
            ledger.received, ledger.available, ledger.reserved, ledger.sold
        ));
    }
    if held != u64::from(ledger.reserved) || sold != u64::from(ledger.sold) {
        violations.push(format!(
            "{id}: ledger says reserved {} sold {}, reservations say {held} and {sold}",
            ledger.reserved, ledger.sold
        ));
    }
    violations
}

/// What is known of one order once the shop has settled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderFacts<'a> {
    /// The order.
    pub order_id: &'a str,
    /// Its status (`confirmed`, `cancelled`, ...).
    pub status: &'a str,
    /// Its payment's status (`none` if no charge was attempted).
    pub payment_status: &'a str,
    /// What was charged, in cents (0 if nothing).
    pub paid_cents: i64,
    /// What was refunded, in cents.
    pub refunded_cents: i64,
    /// Its reservation's status (`reserved`, `confirmed`, ...), if inventory has one.
    pub reservation: Option<&'a str>,
}

/// A confirmed order has one completed payment, no refund and sold stock; a cancelled one has
/// no net charge and neither held nor sold stock; any other status is not terminal.
pub fn order_violations(facts: &OrderFacts<'_>) -> Vec<String> {
    let id = facts.order_id;
    let reservation = facts.reservation;
    let mut violations = Vec::new();
    match facts.status {
        "confirmed" => {
            if facts.payment_status != "completed" || facts.refunded_cents != 0 {
                violations.push(format!(
                    "{id}: confirmed but payment is {} with {} refunded",
                    facts.payment_status, facts.refunded_cents
                ));
            }
            if reservation != Some("confirmed") {
                violations.push(format!("{id}: confirmed but its stock is {reservation:?}"));
            }
        }
        "cancelled" => {
            let net = facts.paid_cents - facts.refunded_cents;
            if net != 0 {
                violations.push(format!("{id}: cancelled with a net charge of {net} cents"));
            }
            if matches!(reservation, Some("reserved" | "confirmed")) {
                violations.push(format!("{id}: cancelled but its stock is {reservation:?}"));
            }
        }
        other => violations.push(format!("{id}: not terminal ({other})")),
    }
    violations
}

/// A consumer's dead letter as a violation.
pub fn dead_letter(consumer: &str, event_type: &str, position: u64, error: &str) -> String {
    format!("{consumer} dead-lettered {event_type} at {position}: {error}")
}

/// Unfinished sagas as a violation.
pub fn unfinished(saga_type: &str, status: &str, count: usize) -> String {
    format!("{count} {saga_type} sagas are {status}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(status: &'a str, payment: &'a str, reservation: &'a str) -> OrderFacts<'a> {
        OrderFacts {
            order_id: "o-1",
            status,
            payment_status: payment,
            paid_cents: if payment == "none" { 0 } else { 500 },
            refunded_cents: if payment == "refunded" { 500 } else { 0 },
            reservation: Some(reservation),
        }
    }

    #[test]
    fn settled_orders_that_agree_pass_and_each_disagreement_is_named() {
        assert!(order_violations(&facts("confirmed", "completed", "confirmed")).is_empty());
        assert!(order_violations(&facts("cancelled", "refunded", "returned")).is_empty());
        assert!(order_violations(&facts("cancelled", "none", "rejected")).is_empty());
        assert_eq!(
            order_violations(&facts("confirmed", "refunded", "confirmed")).len(),
            1
        );
        assert_eq!(
            order_violations(&facts("confirmed", "completed", "reserved")).len(),
            1
        );
        let charged = order_violations(&facts("cancelled", "completed", "reserved"));
        assert_eq!(charged.len(), 2, "{charged:?}");
        assert!(
            order_violations(&facts("pending", "none", "reserved"))[0].contains("not terminal")
        );
    }

    #[test]
    fn stock_is_conserved_only_when_every_unit_is_accounted_for() {
        let ledger = StockFigures {
            received: 10,
            available: 5,
            reserved: 2,
            sold: 3,
        };
        assert!(stock_violations("p", ledger, 2, 3).is_empty());
        assert_eq!(
            stock_violations("p", StockFigures { sold: 4, ..ledger }, 2, 4).len(),
            1
        );
        assert_eq!(stock_violations("p", ledger, 1, 3).len(), 1);
    }
}
