//! What a consumer learns from librdkafka: which partitions it owns, and whether it is in its
//! group with a broker reachable ([`Readiness`]).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::statistics::Statistics;
use rdkafka::types::RDKafkaErrorCode;

/// Whether a consumer is a member of its group with a broker reachable, for a readiness
/// probe: not before it first joined, while every broker is down, or after it stopped.
/// Clones share the state.
#[derive(Clone, Debug, Default)]
pub struct Readiness {
    state: Arc<State>,
}

#[derive(Debug, Default)]
struct State {
    joined: AtomicBool,
    down: AtomicBool,
    stopped: AtomicBool,
}

impl Readiness {
    /// Whether it consumes right now.
    pub fn is_ready(&self) -> bool {
        let s = &self.state;
        s.joined.load(Ordering::Acquire)
            && !s.down.load(Ordering::Acquire)
            && !s.stopped.load(Ordering::Acquire)
    }

    pub(crate) fn stopped(&self) {
        self.state.stopped.store(true, Ordering::Release);
    }
}

/// The consumer's librdkafka context.
pub(crate) struct GroupContext {
    readiness: Readiness,
    owned: Mutex<HashSet<(String, i32)>>,
}

impl GroupContext {
    pub(crate) fn new(readiness: Readiness) -> Self {
        Self {
            readiness,
            owned: Mutex::default(),
        }
    }

    /// The partitions assigned to it now.
    pub(crate) fn owned(&self) -> HashSet<(String, i32)> {
        self.owned
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl ClientContext for GroupContext {
    fn stats(&self, statistics: Statistics) {
        let up = statistics
            .brokers
            .values()
            .any(|b| b.nodeid >= 0 && b.state == "UP");
        self.readiness.state.down.store(!up, Ordering::Release);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::AllBrokersDown) {
            self.readiness.state.down.store(true, Ordering::Release);
        }
        tracing::warn!(%error, reason, "librdkafka");
    }
}

impl ConsumerContext for GroupContext {
    fn pre_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(partitions) = rebalance {
            let mut owned = self.owned.lock().unwrap_or_else(PoisonError::into_inner);
            for p in partitions.elements() {
                owned.remove(&(p.topic().to_owned(), p.partition()));
            }
            tracing::info!(revoked = partitions.count(), "partitions revoked");
        }
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(partitions) = rebalance {
            let mut owned = self.owned.lock().unwrap_or_else(PoisonError::into_inner);
            for p in partitions.elements() {
                owned.insert((p.topic().to_owned(), p.partition()));
            }
            tracing::info!(assigned = partitions.count(), "partitions assigned");
        }
        let state = &self.readiness.state;
        state.joined.store(true, Ordering::Release);
        state.down.store(false, Ordering::Release);
    }
}
