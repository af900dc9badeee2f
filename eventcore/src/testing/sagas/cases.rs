//! The suite's behaviour tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::transfer::{
    CONFIRM_WITHIN, Deliveries, Move, TransferEvent, TransferSaga, balance, counter_bus, fund,
    publish,
};
use crate::saga::{
    CommandBus, FaultInjector, InjectedCrash, ManualClock, Phase, Policy, PolicySaga, Saga,
    SagaManager, SagaOptions, SagaView, StepStatus,
};
use crate::store::EventStore;
use crate::transaction::RuntimeStore;

/// What the suite runs against.
pub trait SagaStore: RuntimeStore + EventStore {}
impl<T: RuntimeStore + EventStore> SagaStore for T {}

const WAIT: Duration = Duration::from_secs(30);

pub(super) fn options() -> SagaOptions {
    SagaOptions {
        step_retries: 2,
        step_backoff: Duration::from_secs(1),
        max_step_backoff: Duration::from_secs(4),
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

fn confirmed(transfer: &str) -> TransferEvent {
    TransferEvent::Confirmed {
        transfer: transfer.to_owned(),
    }
}

type Manager<T, B> = SagaManager<TransferSaga, T, B>;

fn manager<T: SagaStore>(
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

/// Waits (in real time) until a started manager has completed every saga in `ids`.
async fn completed<S: Saga, T: SagaStore, B: CommandBus<S::Command>>(
    manager: &SagaManager<S, T, B>,
    ids: &[String],
) {
    let started = Instant::now();
    for id in ids {
        loop {
            let view = manager.get(id).await.expect("get");
            if view.as_ref().is_some_and(|v| v.status == "completed") {
                break;
            }
            let status = view.map(|v| v.status);
            assert!(
                started.elapsed() < WAIT,
                "{id} did not complete: {status:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Handles events until instance `id` exists (some backends show a commit to log readers a
/// little later).
async fn started<S: Saga, T: SagaStore, B: CommandBus<S::Command>>(
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

fn terminal<S: Saga>(view: &SagaView<S>) -> bool {
    view.phase.is_terminal()
}

fn step_names<S: Saga>(view: &SagaView<S>) -> Vec<(String, StepStatus)> {
    view.steps
        .iter()
        .map(|s| (s.name.clone(), s.status))
        .collect()
}

fn named(steps: &[(&str, StepStatus)]) -> Vec<(String, StepStatus)> {
    steps.iter().map(|(n, s)| ((*n).to_owned(), *s)).collect()
}

/// The happy path: three steps in order, completed, visible to operators.
pub async fn completes_a_three_step_saga<T: SagaStore>(store: T) {
    let (run, clock) = (run_id(), ManualClock::default());
    let id = format!("{run}-t1");
    let accounts = Accounts::new(&run, "t1");
    fund(&store, &accounts.from, 100).await;
    publish(&store, &id, &accounts.request(&id, 30, 1)).await;
    publish(&store, &id, &confirmed(&id)).await;
    let (manager, _) = manager(&store, &clock);
    drive(&manager, &clock, std::slice::from_ref(&id), terminal).await;
    let view = manager.get(&id).await.expect("get").expect("exists");
    assert_eq!(view.status, "completed");
    use StepStatus::Done;
    assert_eq!(
        step_names(&view),
        named(&[("withdraw", Done), ("deposit", Done), ("fee", Done)])
    );
    assert!(view.deadlines.is_empty(), "{:?}", view.deadlines);
    assert!(view.history.iter().any(|(_, what)| what == "completed"));
    assert_eq!(balance(&store, &accounts.from).await, (70, 2));
    assert_eq!(balance(&store, &accounts.to).await, (30, 1));
    assert_eq!(balance(&store, &accounts.fees).await, (1, 1));
    let completed = manager.list("completed", 100).await.expect("list");
    assert!(completed.iter().any(|v| v.id == id));
}

/// The started manager (projection + dispatcher tasks) runs sagas on its own.
pub async fn runs_in_the_background<T: SagaStore>(store: T) {
    let run = run_id();
    let deliveries = Arc::new(Deliveries::default());
    let bus = counter_bus(store.clone(), deliveries);
    let options = SagaOptions {
        dispatch_concurrency: 4,
        ..options()
    };
    let manager = SagaManager::new(TransferSaga, store.clone(), bus).with_options(options);
    let handle = manager.clone().start().expect("start");
    let ids: Vec<String> = (0..3).map(|i| format!("{run}-bg{i}")).collect();
    for id in &ids {
        let accounts = Accounts::new(&run, id);
        fund(&store, &accounts.from, 50).await;
        publish(&store, id, &accounts.request(id, 20, 1)).await;
        publish(&store, id, &confirmed(id)).await;
    }
    completed(&manager, &ids).await;
    assert_eq!(balance(&store, &format!("{run}-fees")).await, (3, 3));
    handle.shutdown().await.expect("shutdown");
}

/// Two started managers on one store (two replicas of a service) run side by side, racing for
/// the same events and steps: every saga completes once and every command takes effect once.
pub async fn two_managers_share_the_work<T: SagaStore>(store: T) {
    let run = run_id();
    let start = || {
        let bus = counter_bus(store.clone(), Arc::new(Deliveries::default()));
        let options = SagaOptions {
            dispatch_concurrency: 4,
            ..options()
        };
        let manager = SagaManager::new(TransferSaga, store.clone(), bus).with_options(options);
        (manager.clone(), manager.start().expect("start"))
    };
    let (first, first_handle) = start();
    let (_, second_handle) = start();
    let ids: Vec<String> = (0..12).map(|i| format!("{run}-r{i}")).collect();
    for id in &ids {
        let accounts = Accounts {
            fees: format!("{run}-{id}-fees"),
            ..Accounts::new(&run, id)
        };
        fund(&store, &accounts.from, 50).await;
        publish(&store, id, &accounts.request(id, 20, 1)).await;
        publish(&store, id, &confirmed(id)).await;
    }
    completed(&first, &ids).await;
    for id in &ids {
        let view = first.get(id).await.expect("get").expect("exists");
        assert_eq!(view.steps.len(), 3, "{:?}", view.steps);
        let accounts = Accounts::new(&run, id);
        assert_eq!(
            balance(&store, &accounts.from).await,
            (30, 2),
            "{id}: withdrawn once"
        );
        assert_eq!(
            balance(&store, &accounts.to).await,
            (20, 1),
            "{id}: deposited once"
        );
        assert_eq!(balance(&store, &format!("{run}-{id}-fees")).await, (1, 1));
    }
    first_handle.shutdown().await.expect("shutdown");
    second_handle.shutdown().await.expect("shutdown");
}

/// Holds every command until the test lets it through.
struct Gated<B> {
    inner: B,
    gate: Arc<tokio::sync::Semaphore>,
}

#[async_trait::async_trait]
impl<B: CommandBus<Move>> CommandBus<Move> for Gated<B> {
    async fn dispatch(
        &self,
        command: &Move,
        id: crate::id::CommandId,
    ) -> Result<(), crate::saga::DispatchError> {
        let _permit = self.gate.acquire().await.expect("gate open");
        self.inner.dispatch(command, id).await
    }
}

/// A step one dispatcher is sending is claimed: a second dispatcher (a replica) leaves it
/// alone, so a refusal cannot be overtaken by a second send nobody records.
pub async fn a_claimed_step_is_left_to_its_dispatcher<T: SagaStore>(store: T) {
    let (run, clock) = (run_id(), ManualClock::default());
    let id = format!("{run}-t8");
    let accounts = Accounts::new(&run, "t8");
    publish(&store, &id, &accounts.request(&id, 30, 1)).await; // unfunded: refused
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let first_deliveries = Arc::new(Deliveries::default());
    let bus = Gated {
        inner: counter_bus(store.clone(), first_deliveries.clone()),
        gate: gate.clone(),
    };
    let first = SagaManager::new(TransferSaga, store.clone(), bus)
        .with_clock(clock.clone())
        .with_options(options());
    let (second, second_deliveries) = manager(&store, &clock);
    started(&first, &id).await;
    let since = Instant::now();
    let sending = tokio::spawn({
        let first = first.clone();
        async move { first.dispatch_pending(10).await }
    });
    // Wait until the first dispatcher has claimed the withdrawal and is sending it.
    loop {
        let view = first.get(&id).await.expect("get").expect("exists");
        if view.version >= 2 {
            break;
        }
        assert!(since.elapsed() < WAIT, "the step was never claimed");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(second.dispatch_pending(10).await.expect("second"), 0);
    assert_eq!(
        second_deliveries.reached.load(Ordering::Relaxed),
        0,
        "left alone"
    );
    gate.add_permits(100);
    assert_eq!(sending.await.expect("task").expect("first"), 1);
    let view = first.get(&id).await.expect("get").expect("exists");
    assert_eq!(
        view.steps[0].status,
        StepStatus::Failed,
        "the refusal is recorded"
    );
    drive(&second, &clock, std::slice::from_ref(&id), terminal).await;
    assert_eq!(
        second.get(&id).await.expect("get").expect("exists").status,
        "compensated"
    );
    assert_eq!(
        balance(&store, &accounts.from).await,
        (0, 0),
        "nothing was withdrawn"
    );
    assert_eq!(first_deliveries.reached.load(Ordering::Relaxed), 1);
}

/// A rejected third step compensates the two completed ones, newest first.
pub async fn compensates_in_reverse_order<T: SagaStore>(store: T) {
    let (run, clock) = (run_id(), ManualClock::default());
    let id = format!("{run}-t2");
    let accounts = Accounts::new(&run, "t2");
    fund(&store, &accounts.from, 100).await;
    publish(&store, &id, &accounts.request(&id, 30, 0)).await; // a zero fee is rejected
    publish(&store, &id, &confirmed(&id)).await;
    let (manager, _) = manager(&store, &clock);
    drive(&manager, &clock, std::slice::from_ref(&id), terminal).await;
    let view = manager.get(&id).await.expect("get").expect("exists");
    assert_eq!(view.status, "compensated");
    use StepStatus::{Done, Failed};
    assert_eq!(
        step_names(&view),
        named(&[
            ("withdraw", Done),
            ("deposit", Done),
            ("fee", Failed),
            ("undo:deposit", Done),
            ("undo:withdraw", Done),
        ])
    );
    let fee = &view.steps[2];
    assert!(
        fee.last_error
            .as_deref()
            .is_some_and(|e| e.contains("rejected"))
    );
    assert_eq!(balance(&store, &accounts.from).await, (100, 3));
    assert_eq!(balance(&store, &accounts.to).await, (0, 2));
}

/// A compensation that keeps failing parks the saga, visibly and not as compensated; an
/// operator's retry after the cause is fixed finishes it.
pub async fn parks_when_a_compensation_keeps_failing<T: SagaStore>(store: T) {
    let (run, clock) = (run_id(), ManualClock::default());
    let id = format!("{run}-t3");
    let accounts = Accounts::new(&run, "t3");
    fund(&store, &accounts.from, 100).await;
    publish(&store, &id, &accounts.request(&id, 30, 1)).await;
    let (manager, _) = manager(&store, &clock);
    drive(&manager, &clock, std::slice::from_ref(&id), |v| {
        v.steps.iter().all(|s| s.status == StepStatus::Done)
    })
    .await;
    // Someone empties the destination: the deposit can no longer be undone.
    let counters = crate::Repository::<crate::testing::counter::Counter>::new(store.clone());
    counters
        .execute(crate::testing::counter::CounterCommand::subtract(
            &accounts.to,
            30,
        ))
        .await
        .expect("drain");
    clock.advance(CONFIRM_WITHIN + Duration::from_secs(1));
    drive(&manager, &clock, std::slice::from_ref(&id), |v| {
        v.status == "parked"
    })
    .await;
    let view = manager.get(&id).await.expect("get").expect("exists");
    assert_eq!(view.phase, Phase::Compensating, "parked, not compensated");
    assert!(
        view.parked
            .as_deref()
            .is_some_and(|p| p.contains("undo:deposit")),
        "{view:?}"
    );
    assert!(
        manager
            .list("parked", 10)
            .await
            .expect("list")
            .iter()
            .any(|v| v.id == id)
    );
    assert!(
        manager
            .list("compensated", 10)
            .await
            .expect("list")
            .iter()
            .all(|v| v.id != id)
    );

    fund(&store, &accounts.to, 30).await;
    assert!(manager.retry(&id).await.expect("retry"));
    assert!(
        !manager.retry(&id).await.expect("retry"),
        "no longer parked"
    );
    drive(&manager, &clock, std::slice::from_ref(&id), terminal).await;
    let view = manager.get(&id).await.expect("get").expect("exists");
    assert_eq!(view.status, "compensated");
    assert_eq!(balance(&store, &accounts.from).await.0, 100);
    assert_eq!(balance(&store, &accounts.to).await.0, 0);
}

/// A deadline fires after its due time through a new manager (a restart); a cancelled one
/// never fires.
pub async fn deadlines_survive_a_restart_and_cancel<T: SagaStore>(store: T) {
    let (run, clock) = (run_id(), ManualClock::default());
    let (late, prompt) = (format!("{run}-late"), format!("{run}-prompt"));
    for id in [&late, &prompt] {
        let accounts = Accounts::new(&run, id);
        fund(&store, &accounts.from, 100).await;
        publish(&store, id, &accounts.request(id, 10, 1)).await;
    }
    publish(&store, &prompt, &confirmed(&prompt)).await;
    {
        let (first, _) = manager(&store, &clock);
        drive(&first, &clock, &[late.clone(), prompt.clone()], |v| {
            v.steps.iter().all(|s| s.status == StepStatus::Done)
        })
        .await;
        let view = first.get(&late).await.expect("get").expect("exists");
        assert_eq!(view.status, "active");
        assert_eq!(view.deadlines.len(), 1, "{:?}", view.deadlines);
        assert_eq!(view.deadlines[0].0, "confirm");
        let stored = store
            .deadlines_of(TransferSaga::TYPE, &late)
            .await
            .expect("deadlines");
        assert_eq!(stored.len(), 1);
        assert!(
            store
                .deadlines_of(TransferSaga::TYPE, &prompt)
                .await
                .expect("deadlines")
                .is_empty()
        );
        assert_eq!(
            first.fire_due_deadlines(10).await.expect("fire"),
            0,
            "not due yet"
        );
    } // the first manager is gone
    clock.advance(CONFIRM_WITHIN + Duration::from_secs(1));
    let (second, _) = manager(&store, &clock);
    assert_eq!(second.fire_due_deadlines(10).await.expect("fire"), 1);
    assert_eq!(
        second.fire_due_deadlines(10).await.expect("fire"),
        0,
        "fires once"
    );
    drive(&second, &clock, &[late.clone(), prompt.clone()], terminal).await;
    assert_eq!(
        second
            .get(&late)
            .await
            .expect("get")
            .expect("exists")
            .status,
        "compensated"
    );
    assert_eq!(
        second
            .get(&prompt)
            .await
            .expect("get")
            .expect("exists")
            .status,
        "completed"
    );
}

/// Crashes once right after a command took effect, before its outcome was recorded.
struct CrashAfterSend(AtomicBool);

impl FaultInjector for CrashAfterSend {
    fn check(&self, point: &'static str) -> Result<(), InjectedCrash> {
        if point == "dispatch:after-send" && !self.0.swap(true, Ordering::SeqCst) {
            return Err(InjectedCrash { point });
        }
        Ok(())
    }
}

/// The same step dispatched again after a crash carries the same command id: no second effect.
pub async fn redispatch_after_a_crash_has_no_second_effect<T: SagaStore>(store: T) {
    let (run, clock) = (run_id(), ManualClock::default());
    let id = format!("{run}-t5");
    let accounts = Accounts::new(&run, "t5");
    fund(&store, &accounts.from, 100).await;
    publish(&store, &id, &accounts.request(&id, 30, 1)).await;
    publish(&store, &id, &confirmed(&id)).await;
    let (crashing, deliveries) = manager(&store, &clock);
    let crashing = crashing.with_faults(Arc::new(CrashAfterSend(AtomicBool::new(false))));
    started(&crashing, &id).await;
    let crash = crashing
        .dispatch_pending(10)
        .await
        .expect_err("crashes after sending");
    assert!(crash.to_string().contains("dispatch:after-send"), "{crash}");
    assert_eq!(
        deliveries.reached.load(Ordering::Relaxed),
        1,
        "the withdrawal went through"
    );
    let view = crashing.get(&id).await.expect("get").expect("exists");
    assert_eq!(
        view.steps[0].status,
        StepStatus::Pending,
        "its outcome was not recorded"
    );

    let (restarted, again) = manager(&store, &clock);
    drive(&restarted, &clock, std::slice::from_ref(&id), terminal).await;
    assert!(
        again.reached.load(Ordering::Relaxed) >= 3,
        "the withdrawal was sent again"
    );
    assert_eq!(
        balance(&store, &accounts.from).await,
        (70, 2),
        "withdrawn once"
    );
    assert_eq!(
        restarted
            .get(&id)
            .await
            .expect("get")
            .expect("exists")
            .status,
        "completed"
    );
}

/// An event delivered early (before the one it follows in the log) and events delivered twice
/// take effect once.
pub async fn duplicate_and_early_deliveries_have_one_effect<T: SagaStore>(store: T) {
    let (run, clock) = (run_id(), ManualClock::default());
    let id = format!("{run}-t6");
    let accounts = Accounts::new(&run, "t6");
    fund(&store, &accounts.from, 100).await;
    let requested = publish(&store, &id, &accounts.request(&id, 30, 1)).await;
    let confirmation = publish(&store, &id, &confirmed(&id)).await;
    let (manager, _) = manager(&store, &clock);
    manager
        .deliver(&confirmation)
        .await
        .expect("early delivery");
    manager.deliver(&confirmation).await.expect("repeat");
    manager.deliver(&requested).await.expect("delivery");
    manager.deliver(&requested).await.expect("repeat");
    drive(&manager, &clock, std::slice::from_ref(&id), terminal).await;
    let view = manager.get(&id).await.expect("get").expect("exists");
    assert_eq!(view.status, "completed");
    assert_eq!(view.steps.len(), 3, "{:?}", view.steps);
    assert_eq!(balance(&store, &accounts.from).await, (70, 2));
    assert_eq!(balance(&store, &accounts.fees).await, (1, 1));
}

/// Counts transfer requests on an audit counter per transfer.
struct Audit;

impl Policy for Audit {
    const NAME: &'static str = "audit";
    type Event = TransferEvent;
    type Command = Move;

    fn react(&self, event: &TransferEvent) -> Vec<(String, Move)> {
        match event {
            TransferEvent::Requested { from, .. } => vec![(
                "count".into(),
                Move {
                    counter: format!("{from}-audit"),
                    add: true,
                    amount: 1,
                },
            )],
            TransferEvent::Confirmed { .. } => Vec::new(),
        }
    }
}

/// A policy turns each event into commands once, however often the event is delivered.
pub async fn policies_turn_events_into_commands<T: SagaStore>(store: T) {
    let (run, clock) = (run_id(), ManualClock::default());
    let id = format!("{run}-t7");
    let accounts = Accounts::new(&run, "t7");
    let requested = publish(&store, &id, &accounts.request(&id, 30, 1)).await;
    publish(&store, &id, &confirmed(&id)).await;
    let bus = counter_bus(store.clone(), Arc::new(Deliveries::default()));
    let policy = SagaManager::new(PolicySaga::new(Audit), store.clone(), bus)
        .with_clock(clock.clone())
        .with_options(options());
    let instance = requested.event_id.to_string();
    drive(&policy, &clock, std::slice::from_ref(&instance), terminal).await;
    policy.deliver(&requested).await.expect("repeat");
    assert_eq!(policy.dispatch_pending(10).await.expect("steps"), 0);
    let audit = format!("{}-audit", accounts.from);
    assert_eq!(balance(&store, &audit).await, (1, 1));
    let view = policy.get(&instance).await.expect("get").expect("exists");
    assert_eq!(view.status, "completed");
    assert!(
        policy.list("completed", 100).await.expect("list").len() == 1,
        "confirmations ask for nothing"
    );
}
