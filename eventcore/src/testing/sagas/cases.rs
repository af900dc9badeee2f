//! The suite's cases for sagas that go as planned: the happy path, the started manager,
//! waiting for an outcome, replicas sharing the work, duplicate deliveries and policies.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::harness::{
    Accounts, SagaStore, WAIT, assert_fee_failed_and_compensated, completed, confirmed, drive,
    manager, named, options, run_id, started, step_names, terminal,
};
use super::transfer::{
    Deliveries, Move, TransferEvent, TransferSaga, balance, counter_bus, fund, publish,
};
use crate::saga::{
    CommandBus, ManualClock, Policy, PolicySaga, SagaManager, SagaOptions, SagaStatus, StepStatus,
};

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
    assert_eq!(view.status, SagaStatus::Completed);
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
    let completed = manager
        .list(SagaStatus::Completed, 100)
        .await
        .expect("list");
    assert!(completed.iter().any(|v| v.id == id));
}

/// With a bus whose commands go to the saga's own store, each step's command, its outcome and
/// the saga record commit together: one commit per step (no claim), each command once.
pub async fn local_steps_commit_with_the_saga_record<T: SagaStore>(store: T) {
    let (run, clock) = (run_id(), ManualClock::default());
    let id = format!("{run}-local");
    let accounts = Accounts::new(&run, "local");
    fund(&store, &accounts.from, 100).await;
    publish(&store, &id, &accounts.request(&id, 30, 1)).await;
    publish(&store, &id, &confirmed(&id)).await;
    let deliveries = Arc::new(Deliveries::default());
    let bus = super::transfer::local_counter_bus(store.clone(), deliveries.clone());
    let manager = SagaManager::new(TransferSaga, store.clone(), bus)
        .with_clock(clock.clone())
        .with_options(options());
    // The instance as its events left it (log readers may see them a little after appending).
    let before = loop {
        manager.process_events(10).await.expect("events");
        if let Some(view) = manager.get(&id).await.expect("get") {
            if !view.steps.is_empty() {
                break view.version;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    };
    drive(&manager, &clock, std::slice::from_ref(&id), terminal).await;
    let view = manager.get(&id).await.expect("get").expect("exists");
    assert_eq!(view.status, SagaStatus::Completed);
    assert_eq!(
        view.version - before,
        3,
        "one saga-record save per step: the command, its outcome and the record in one commit"
    );
    assert_eq!(
        deliveries
            .reached
            .load(std::sync::atomic::Ordering::Relaxed),
        3
    );
    assert_eq!(balance(&store, &accounts.from).await, (70, 2));
    assert_eq!(balance(&store, &accounts.to).await, (30, 1));
    assert_eq!(balance(&store, &accounts.fees).await, (1, 1));
}

/// Grouped local steps: once a group commits, its instances go on with their next steps at
/// once (from the records it saved), so one dispatch round takes each instance through all of
/// its steps, each step still one record save.
pub async fn a_committed_step_group_goes_on_with_the_next_steps<T: SagaStore>(store: T) {
    let (run, clock) = (run_id(), ManualClock::default());
    let ids: Vec<String> = (0..3).map(|i| format!("{run}-chain{i}")).collect();
    let mut all = Vec::new();
    for id in &ids {
        let accounts = Accounts::new(&run, id);
        fund(&store, &accounts.from, 100).await;
        publish(&store, id, &accounts.request(id, 30, 1)).await;
        publish(&store, id, &confirmed(id)).await;
        all.push(accounts);
    }
    let deliveries = Arc::new(Deliveries::default());
    let bus = super::transfer::local_counter_bus(store.clone(), deliveries.clone());
    let manager = SagaManager::new(TransferSaga, store.clone(), bus)
        .with_clock(clock.clone())
        .with_options(SagaOptions {
            step_group: 8,
            ..options()
        });
    let mut versions = Vec::new();
    while versions.len() < ids.len() {
        manager.process_events(10).await.expect("events");
        versions.clear();
        for id in &ids {
            match manager.get(id).await.expect("get") {
                Some(view) if !view.steps.is_empty() => versions.push(view.version),
                _ => {}
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let recorded = manager.dispatch_pending(50).await.expect("steps");
    assert_eq!(
        recorded, 9,
        "one round: three steps of each of three instances"
    );
    for (id, before) in ids.iter().zip(versions) {
        let view = manager.get(id).await.expect("get").expect("exists");
        assert_eq!(view.status, SagaStatus::Completed, "{id}");
        assert_eq!(view.version - before, 3, "{id}: one record save per step");
    }
    assert_eq!(deliveries.reached.load(Ordering::Relaxed), 9);
    for accounts in &all {
        assert_eq!(balance(&store, &accounts.from).await, (70, 2));
        assert_eq!(balance(&store, &accounts.to).await, (30, 1));
    }
    // The run's transfers share their fee account.
    assert_eq!(balance(&store, &all[0].fees).await, (3, 3));
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

/// A caller waiting for an instance no event has started yet gets it back once a started
/// manager has completed it.
pub async fn waiting_returns_a_saga_once_it_completed<T: SagaStore>(store: T) {
    let run = run_id();
    let id = format!("{run}-w1");
    let accounts = Accounts::new(&run, "w1");
    let bus = counter_bus(store.clone(), Arc::new(Deliveries::default()));
    let manager = SagaManager::new(TransferSaga, store.clone(), bus).with_options(options());
    let handle = manager.clone().start().expect("start");
    let waiting = tokio::spawn({
        let (manager, id) = (manager.clone(), id.clone());
        async move { manager.wait_until_settled(&id).await }
    });
    fund(&store, &accounts.from, 100).await;
    publish(&store, &id, &accounts.request(&id, 30, 1)).await;
    publish(&store, &id, &confirmed(&id)).await;
    let view = tokio::time::timeout(WAIT, waiting)
        .await
        .expect("settled in time")
        .expect("waiting task")
        .expect("wait");
    assert_eq!(view.status, SagaStatus::Completed);
    use StepStatus::Done;
    assert_eq!(
        step_names(&view),
        named(&[("withdraw", Done), ("deposit", Done), ("fee", Done)])
    );
    assert_eq!(balance(&store, &accounts.from).await, (70, 2));
    assert_eq!(balance(&store, &accounts.to).await, (30, 1));
    handle.shutdown().await.expect("shutdown");
}

/// A caller waiting for an instance gets it back (or only its status) once it compensated,
/// woken by the commit that settled it: the manager's poll interval is far longer than the
/// test may take.
pub async fn waiting_returns_a_saga_once_it_compensated<T: SagaStore>(store: T) {
    let (run, clock) = (run_id(), ManualClock::default());
    let id = format!("{run}-w2");
    let accounts = Accounts::new(&run, "w2");
    fund(&store, &accounts.from, 100).await;
    let (manager, _) = manager(&store, &clock);
    let manager = manager.with_options(SagaOptions {
        poll_interval: Duration::from_secs(3600),
        ..options()
    });
    let waiting = tokio::spawn({
        let (manager, id) = (manager.clone(), id.clone());
        async move { manager.wait_until_settled(&id).await }
    });
    let status = tokio::spawn({
        let (manager, id) = (manager.clone(), id.clone());
        async move { manager.wait_until_settled_status(&id).await }
    });
    publish(&store, &id, &accounts.request(&id, 30, 0)).await; // a zero fee is rejected
    publish(&store, &id, &confirmed(&id)).await;
    drive(&manager, &clock, std::slice::from_ref(&id), terminal).await;
    let view = tokio::time::timeout(WAIT, waiting)
        .await
        .expect("woken by the commit that settled it")
        .expect("waiting task")
        .expect("wait");
    assert_fee_failed_and_compensated(&view);
    let status = tokio::time::timeout(WAIT, status)
        .await
        .expect("the status too")
        .expect("waiting task")
        .expect("wait");
    assert_eq!(status, SagaStatus::Compensated);
    assert_eq!(balance(&store, &accounts.from).await, (100, 3));
    assert_eq!(balance(&store, &accounts.to).await, (0, 2));
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
        self.dispatch_with(command, id, &crate::Metadata::default())
            .await
    }

    async fn dispatch_with(
        &self,
        command: &Move,
        id: crate::id::CommandId,
        metadata: &crate::Metadata,
    ) -> Result<(), crate::saga::DispatchError> {
        let _permit = self.gate.acquire().await.expect("gate open");
        self.inner.dispatch_with(command, id, metadata).await
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
    let sending = tokio::spawn({
        let first = first.clone();
        async move { first.dispatch_pending(10).await }
    });
    // Wait until the first dispatcher has claimed the withdrawal and is sending it.
    tokio::time::timeout(WAIT, first.wait_until(&id, |view| view.version >= 2))
        .await
        .expect("the step was never claimed")
        .expect("wait");
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
        SagaStatus::Compensated
    );
    assert_eq!(
        balance(&store, &accounts.from).await,
        (0, 0),
        "nothing was withdrawn"
    );
    assert_eq!(first_deliveries.reached.load(Ordering::Relaxed), 1);
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
    assert_eq!(view.status, SagaStatus::Completed);
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
    assert_eq!(view.status, SagaStatus::Completed);
    assert!(
        policy
            .list(SagaStatus::Completed, 100)
            .await
            .expect("list")
            .len()
            == 1,
        "confirmations ask for nothing"
    );
}
