//! The suite's cases for sagas that go wrong: a rejected step, a compensation that keeps
//! failing, a missed deadline across a restart, a crash between sending and recording.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::harness::{
    Accounts, SagaStore, WAIT, assert_fee_failed_and_compensated, confirmed, drive, manager,
    run_id, started, terminal,
};
use super::transfer::{CONFIRM_WITHIN, TransferSaga, balance, fund, publish};
use crate::saga::{FaultInjector, InjectedCrash, ManualClock, Phase, Saga, SagaStatus, StepStatus};

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
    assert_fee_failed_and_compensated(&view);
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
        v.status == SagaStatus::Parked
    })
    .await;
    let view = tokio::time::timeout(WAIT, manager.wait_until_settled(&id))
        .await
        .expect("a parked saga is settled: waiting returns it")
        .expect("wait");
    assert_eq!(view.status, SagaStatus::Parked);
    assert!(!view.status.is_terminal());
    assert_eq!(view.phase, Phase::Compensating, "parked, not compensated");
    assert!(
        view.parked
            .as_deref()
            .is_some_and(|p| p.contains("undo:deposit")),
        "{view:?}"
    );
    assert!(
        manager
            .list(SagaStatus::Parked, 10)
            .await
            .expect("list")
            .iter()
            .any(|v| v.id == id)
    );
    assert!(
        manager
            .list(SagaStatus::Compensated, 10)
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
    assert_eq!(view.status, SagaStatus::Compensated);
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
        assert_eq!(view.status, SagaStatus::Active);
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
        SagaStatus::Compensated
    );
    assert_eq!(
        second
            .get(&prompt)
            .await
            .expect("get")
            .expect("exists")
            .status,
        SagaStatus::Completed
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
        SagaStatus::Completed
    );
}
