//! [`BrokerMetrics`]: counters a relay or consumer reports, for a metrics exporter.

/// Receives what relays and consumers do, as counts. Every method does nothing by default;
/// implement the ones an exporter needs (a Prometheus counter each, say). A relay's lag is
/// its projection's: [`ProjectionStatus::lag`](crate::projection::ProjectionStatus::lag).
pub trait BrokerMetrics: Send + Sync + 'static {
    /// `count` messages were published and confirmed by the broker.
    fn published(&self, count: usize) {
        let _ = count;
    }

    /// A batch of `count` messages failed to publish (it is sent again).
    fn publish_failed(&self, count: usize) {
        let _ = count;
    }

    /// `count` messages were applied (their transaction committed).
    fn handled(&self, count: usize) {
        let _ = count;
    }

    /// `count` redelivered messages were skipped: applied before.
    fn duplicates(&self, count: usize) {
        let _ = count;
    }

    /// `count` messages failed and will be tried again.
    fn retried(&self, count: usize) {
        let _ = count;
    }

    /// `count` messages went to the dead-letter queue.
    fn dead_lettered(&self, count: usize) {
        let _ = count;
    }
}

/// Reports nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoMetrics;

impl BrokerMetrics for NoMetrics {}
