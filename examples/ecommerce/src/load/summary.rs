//! What a load run measured: throughput, latency percentiles and outcome counts.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// How an order ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// Confirmed.
    Confirmed,
    /// Cancelled: the stock was short.
    OutOfStock,
    /// Cancelled: the payment was declined.
    PaymentDeclined,
    /// Cancelled for another reason (timeout, customer).
    CancelledOther,
    /// Its saga parked (a compensation kept failing).
    Parked,
    /// Not settled within the order timeout.
    Stuck,
}

impl Outcome {
    /// A compensated order, by its cancellation reason.
    pub fn cancelled(reason: Option<&str>) -> Self {
        match reason {
            Some(r) if r.starts_with("insufficient stock") => Self::OutOfStock,
            Some(r) if r.starts_with("payment failed") => Self::PaymentDeclined,
            _ => Self::CancelledOther,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Confirmed => "confirmed",
            Self::OutOfStock => "cancelled: insufficient stock",
            Self::PaymentDeclined => "cancelled: payment declined",
            Self::CancelledOther => "cancelled: other",
            Self::Parked => "parked",
            Self::Stuck => "stuck (not settled)",
        }
    }
}

/// The figures of one run.
#[derive(Clone, Debug)]
pub struct LoadReport {
    /// Orders settled.
    pub orders: usize,
    /// Wall time from the first placement to the last settlement.
    pub elapsed: Duration,
    /// Placed → terminal, sorted.
    pub latencies: Vec<Duration>,
    /// Orders per outcome.
    pub outcomes: BTreeMap<Outcome, usize>,
}

impl LoadReport {
    /// A report over `results` (outcome and latency per order).
    pub fn new(results: Vec<(Outcome, Duration)>, elapsed: Duration) -> Self {
        let mut outcomes = BTreeMap::new();
        let mut latencies = Vec::with_capacity(results.len());
        for (outcome, latency) in results {
            *outcomes.entry(outcome).or_default() += 1;
            latencies.push(latency);
        }
        latencies.sort();
        Self {
            orders: latencies.len(),
            elapsed,
            latencies,
            outcomes,
        }
    }

    /// Orders settled per second.
    pub fn orders_per_second(&self) -> f64 {
        self.orders as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The `p`-th percentile latency (0–100).
    pub fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * (self.latencies.len() - 1) as f64).round() as usize;
        self.latencies[rank.min(self.latencies.len() - 1)]
    }

    /// How many orders ended as `outcome`.
    pub fn count(&self, outcome: Outcome) -> usize {
        self.outcomes.get(&outcome).copied().unwrap_or(0)
    }
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1_000.0;
        writeln!(f, "{:<32} {:>12}", "orders", self.orders)?;
        writeln!(
            f,
            "{:<32} {:>12.1}",
            "elapsed (s)",
            self.elapsed.as_secs_f64()
        )?;
        writeln!(f, "{:<32} {:>12.1}", "orders/s", self.orders_per_second())?;
        for p in [50.0, 95.0, 99.0] {
            let label = format!("p{p} placed → terminal (ms)");
            writeln!(f, "{label:<32} {:>12.1}", ms(self.percentile(p)))?;
        }
        for (outcome, n) in &self.outcomes {
            writeln!(f, "{:<32} {n:>12}", outcome.label())?;
        }
        Ok(())
    }
}
