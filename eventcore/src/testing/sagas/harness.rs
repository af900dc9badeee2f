//! What the suite's cases share: the store bound, options, accounts, a manager on the transfer
//! saga, and helpers that drive instances by hand or wait for a started manager.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::transfer::{Deliveries, Move, TransferEvent, TransferSaga, counter_bus};
use crate::backoff::Backoff;
use crate::saga::{
    CommandBus, ManualClock, Saga, SagaManager, SagaOptions, SagaStatus, SagaView, StepStatus,
};
use crate::store::EventStore;
use crate::transaction::RuntimeStore;

/// What the suite runs against.
pub trait SagaStore: RuntimeStore + EventStore {}
impl<T: RuntimeStore + EventStore> SagaStore for T {}

pub(super) const WAIT: Duration = Duration::from_secs(30);

pub(super) fn options() -> SagaOptions {
    SagaOptions {
        step_retries: 2,
        step_backoff: Backoff::new(Duration::from_secs(1), Duration::from_secs(4)),
        poll_interval: Duration::from_millis(10),
        // One at a time, so a seeded simulation replays the same schedule on every backend.
        dispatch_concurrency: 1,
        step_lease: Duration::from_secs(10),
        ..SagaOptions::default()
    }
}

/// A unique prefix, so several runs can share a database.
pub(super) fn run_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_owned()
}

pub(super) struct Accounts {
    pub(super) from: String,
    pub(super) to: String,
    pub(super) fees: String,
}

impl Accounts {
    pub(super) fn new(run: &str, transfer: &str) -> Self {
        Self {
            from: format!("{run}-{transfer}-from"),
            to: format!("{run}-{transfer}-to"),
            fees: format!("{run}-fees"),
        }
    }

    pub(super) fn request(&self, transfer: &str, amount: u64, fee: u64) -> TransferEvent {
        TransferEvent::Requested {
            transfer: transfer.to_owned(),
            from: self.from.clone(),
            to: self.to.clone(),
            amount,
            fees: self.fees.clone(),
            fee,
        }
    }
}

pub(super) fn confirmed(transfer: &str) -> TransferEvent {
    TransferEvent::Confirmed {
        transfer: transfer.to_owned(),
    }
}

pub(super) type Manager<T, B> = SagaManager<TransferSaga, T, B>;

pub(super) fn manager<T: SagaStore>(
    store: &T,
    clock: &ManualClock,
) -> (Manager<T, impl CommandBus<Move>>, Arc<Deliveries>) {
    let deliveries = Arc::new(Deliveries::default());
    let bus = counter_bus(store.clone(), deliveries.clone());
    let manager = SagaManager::new(TransferSaga, store.clone(), bus)
        .with_clock(clock.clone())
        .with_options(options());
    (manager, deliveries)
}

/// Runs events, deadlines and steps until `done` holds for every instance in `ids`, moving the
/// manual clock on whenever nothing was left to do (past retry delays, and deadlines).
pub(super) async fn drive<S: Saga, T: SagaStore, B: CommandBus<S::Command>>(
    manager: &SagaManager<S, T, B>,
    clock: &ManualClock,
    ids: &[String],
    done: impl Fn(&SagaView<S>) -> bool,
) {
    let started = Instant::now();
    loop {
        let worked = manager.process_events(50).await.expect("events")
            + manager.fire_due_deadlines(50).await.expect("deadlines")
            + manager.dispatch_pending(50).await.expect("steps");
        let mut all = true;
        for id in ids {
            let view = manager.get(id).await.expect("get");
            all &= view.as_ref().is_some_and(&done);
        }
        if all {
            return;
        }
        assert!(
            started.elapsed() < WAIT,
            "sagas {ids:?} did not get there in time"
        );
        if worked == 0 {
            clock.advance(Duration::from_secs(2));
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

/// Waits (in real time) until a started manager has settled every saga in `ids`, and checks
/// that each completed.
pub(super) async fn completed<S: Saga, T: SagaStore, B: CommandBus<S::Command>>(
    manager: &SagaManager<S, T, B>,
    ids: &[String],
) {
    let until = tokio::time::Instant::now() + WAIT;
    for id in ids {
        let view = tokio::time::timeout_at(until, manager.wait_until_settled(id))
            .await
            .unwrap_or_else(|_| panic!("{id} did not settle in time"))
            .expect("wait");
        assert_eq!(view.status, SagaStatus::Completed, "{id}: {view:?}");
    }
}

/// Handles events until instance `id` exists (some backends show a commit to log readers a
/// little later).
pub(super) async fn started<S: Saga, T: SagaStore, B: CommandBus<S::Command>>(
    manager: &SagaManager<S, T, B>,
    id: &str,
) {
    let since = Instant::now();
    while manager.get(id).await.expect("get").is_none() {
        manager.process_events(10).await.expect("events");
        assert!(since.elapsed() < WAIT, "the events never became visible");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

pub(super) fn terminal<S: Saga>(view: &SagaView<S>) -> bool {
    view.phase.is_terminal()
}

pub(super) fn step_names<S: Saga>(view: &SagaView<S>) -> Vec<(String, StepStatus)> {
    view.steps
        .iter()
        .map(|s| (s.name.clone(), s.status))
        .collect()
}

pub(super) fn named(steps: &[(&str, StepStatus)]) -> Vec<(String, StepStatus)> {
    steps.iter().map(|(n, s)| ((*n).to_owned(), *s)).collect()
}

/// The transfer with a rejected fee ended compensated: both moves done, the fee failed, and
/// both moves undone in reverse order.
#[track_caller]
pub(super) fn assert_fee_failed_and_compensated(view: &SagaView<TransferSaga>) {
    use StepStatus::{Done, Failed};
    assert_eq!(view.status, crate::saga::SagaStatus::Compensated);
    assert_eq!(
        step_names(view),
        named(&[
            ("withdraw", Done),
            ("deposit", Done),
            ("fee", Failed),
            ("undo:deposit", Done),
            ("undo:withdraw", Done),
        ])
    );
}
