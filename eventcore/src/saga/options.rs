//! How a saga manager runs: batch sizes, polling, retries, concurrency and leases.

use std::time::Duration;

use crate::backoff::Backoff;
use crate::projection::ErrorPolicy;

/// How a saga manager runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SagaOptions {
    /// Events per transaction.
    pub batch_size: usize,
    /// How often the dispatcher looks for steps to run and deadlines due (it is also woken
    /// when this process handled events, or retried a parked saga), and how often
    /// [`wait_until`](super::SagaManager::wait_until) reads the instance again when no commit
    /// of this process woke it (a change made by another replica).
    pub poll_interval: Duration,
    /// Retries of a step after a transient failure, before it counts as failed.
    pub step_retries: u32,
    /// The wait after each transient failure of a step (measured by the manager's clock).
    pub step_backoff: Backoff,
    /// How many instances' steps are dispatched at once (each instance still runs its own
    /// steps one at a time).
    pub dispatch_concurrency: usize,
    /// How many instances' next steps commit in one transaction when the steps run in the
    /// saga's own store (a [`LocalBus`](super::LocalBus)); 1 gives each step a transaction of
    /// its own. A group takes one commit and one `BEGIN` for all its steps, so fewer round
    /// trips and syncs, at some latency per step. Anything unusual in a group (a command that
    /// fails, a record changed meanwhile, a failed commit) rolls the whole group back and runs
    /// its steps again one by one. Steps of a group that go to one aggregate build on each
    /// other's state ([`StoreTransaction::own_states`](crate::StoreTransaction::own_states)),
    /// so a hot aggregate is not read again per step. Once a group commits, the instances it
    /// left with another step due go on at once in a next group, from the records it saved
    /// (not listed again). On PostgreSQL a group holds its streams'
    /// locks until it commits: plain commands on those aggregates wait for the whole group.
    /// Sent steps are never grouped.
    pub step_group: usize,
    /// How long a dispatcher holds a step it is sending: other dispatchers (replicas) leave it
    /// alone meanwhile; if the sender dies, another sends it again after this.
    pub step_lease: Duration,
    /// What happens when handling an event fails (a saga error, an unreadable event).
    pub events: ErrorPolicy,
    /// How long the event intake waits, once woken by an append, for more appends before
    /// reading (see [`ProjectionOptions::linger`](crate::projection::ProjectionOptions::linger)):
    /// fewer intake transactions under load, for up to this much more latency per event.
    pub linger: Duration,
}

impl Default for SagaOptions {
    /// Batches of 100, a 100 ms poll, 5 step retries waiting from 200 ms doubling up to 60 s,
    /// 8 instances dispatched at once, local steps committed in groups of up to 8, 30 s step
    /// leases, [`ErrorPolicy::stop_after`] 5 retries for events, and no linger.
    fn default() -> Self {
        Self {
            batch_size: 100,
            poll_interval: Duration::from_millis(100),
            step_retries: 5,
            step_backoff: Backoff::new(Duration::from_millis(200), Duration::from_secs(60)),
            dispatch_concurrency: 8,
            step_group: 8,
            step_lease: Duration::from_secs(30),
            events: ErrorPolicy::stop_after(5),
            linger: Duration::ZERO,
        }
    }
}
