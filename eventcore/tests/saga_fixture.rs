//! The saga fixture on the suite's transfer saga: decisions without a store.

use std::time::Duration;

use eventcore::saga::{Phase, SagaStatus};
use eventcore::testing::SagaFixture;
use eventcore::testing::sagas::transfer::{CONFIRM_WITHIN, Move, TransferEvent, TransferSaga};

fn requested(fee: u64) -> TransferEvent {
    TransferEvent::Requested {
        transfer: "t".into(),
        from: "a".into(),
        to: "b".into(),
        amount: 30,
        fees: "fees".into(),
        fee,
    }
}

fn confirmed() -> TransferEvent {
    TransferEvent::Confirmed {
        transfer: "t".into(),
    }
}

fn mv(counter: &str, add: bool, amount: u64) -> Move {
    Move {
        counter: counter.into(),
        add,
        amount,
    }
}

#[test]
fn a_request_plans_two_steps_and_a_deadline() {
    let mut fixture = SagaFixture::new(TransferSaga);
    fixture.given(&[requested(1)]);
    assert_eq!(fixture.commands(), [mv("a", false, 30), mv("b", true, 30)]);
    assert_eq!(
        fixture.deadlines(),
        [("confirm".to_owned(), CONFIRM_WITHIN)]
    );
    assert_eq!(fixture.status(), SagaStatus::Dispatching);
    assert!(fixture.state().requested);
}

#[test]
fn confirmation_adds_the_fee_and_completes_after_the_steps() {
    let mut fixture = SagaFixture::new(TransferSaga);
    fixture.given(&[requested(2), confirmed()]);
    assert!(
        fixture.deadlines().is_empty(),
        "confirmation cancels the deadline"
    );
    fixture.step_succeeds("withdraw").step_succeeds("deposit");
    assert_eq!(fixture.commands(), [mv("fees", true, 2)]);
    assert_eq!(fixture.phase(), Phase::Completing);
    fixture.step_succeeds("fee");
    assert_eq!(fixture.status(), SagaStatus::Completed);
}

#[test]
fn an_early_confirmation_is_remembered() {
    let mut fixture = SagaFixture::new(TransferSaga);
    fixture.given(&[confirmed()]);
    assert!(fixture.commands().is_empty());
    fixture.when(&requested(1));
    assert_eq!(
        fixture.commands().len(),
        3,
        "withdraw, deposit and fee at once"
    );
    assert!(fixture.deadlines().is_empty());
}

#[test]
fn a_rejected_step_compensates_the_completed_ones_in_reverse() {
    let mut fixture = SagaFixture::new(TransferSaga);
    fixture.given(&[requested(1)]);
    fixture.step_succeeds("withdraw");
    fixture.step_fails("deposit", "account closed");
    assert_eq!(fixture.status(), SagaStatus::Compensating);
    assert_eq!(
        fixture.commands(),
        [mv("a", true, 30)],
        "only the withdrawal is undone"
    );
    assert!(
        fixture.deadlines().is_empty(),
        "compensating cancels deadlines"
    );
    fixture.step_succeeds("undo:withdraw");
    assert_eq!(fixture.status(), SagaStatus::Compensated);
}

#[test]
fn a_missed_deadline_compensates_after_the_step_in_flight() {
    let mut fixture = SagaFixture::new(TransferSaga);
    fixture.given(&[requested(1)]);
    fixture.step_succeeds("withdraw");
    fixture.advance(Duration::from_secs(29));
    assert_eq!(fixture.status(), SagaStatus::Dispatching, "not due yet");
    fixture.advance(Duration::from_secs(2));
    assert_eq!(fixture.phase(), Phase::Compensating);
    // The deposit may already have been sent: it runs, then both are undone, newest first.
    assert_eq!(fixture.commands(), [mv("b", true, 30)]);
    fixture.step_succeeds("deposit");
    assert_eq!(fixture.commands(), [mv("b", false, 30), mv("a", true, 30)]);
    fixture
        .step_succeeds("undo:deposit")
        .step_succeeds("undo:withdraw");
    assert_eq!(fixture.status(), SagaStatus::Compensated);
}

mod properties {
    use std::collections::BTreeMap;

    use eventcore::saga::Phase;
    use proptest::prelude::*;

    use super::*;

    #[derive(Clone, Debug)]
    enum Action {
        Succeed,
        Fail,
        Advance(u64),
        Confirm,
    }

    fn action() -> impl Strategy<Value = Action> {
        prop_oneof![
            4 => Just(Action::Succeed),
            1 => Just(Action::Fail),
            2 => (0u64..40).prop_map(Action::Advance),
            1 => Just(Action::Confirm),
        ]
    }

    proptest! {
        /// Whatever happens, once every step has an outcome the saga is terminal, and a
        /// compensated saga's completed moves cancel out exactly.
        #[test]
        fn every_schedule_ends_terminal_and_consistent(
            fee in 0u64..2,
            actions in proptest::collection::vec(action(), 0..30),
        ) {
            let mut fixture = SagaFixture::new(TransferSaga);
            fixture.given(&[requested(fee)]);
            let mut done: Vec<Move> = Vec::new();
            let resolve = |fixture: &mut SagaFixture<TransferSaga>, succeed: bool, done: &mut Vec<Move>| {
                if let Some(name) = fixture.next_step().map(str::to_owned) {
                    let command = fixture.commands()[0].clone();
                    if succeed {
                        fixture.step_succeeds(&name);
                        done.push(command);
                    } else {
                        fixture.step_fails(&name, "rejected");
                    }
                }
            };
            for action in actions {
                match action {
                    Action::Succeed => resolve(&mut fixture, true, &mut done),
                    Action::Fail => resolve(&mut fixture, false, &mut done),
                    Action::Advance(secs) => { fixture.advance(Duration::from_secs(secs)); }
                    Action::Confirm => { fixture.when(&confirmed()); }
                }
            }
            // Recovery: a parked saga is retried, every remaining step succeeds, and time runs
            // out for an unconfirmed transfer.
            for _ in 0..20 {
                fixture.retry();
                while fixture.next_step().is_some() {
                    resolve(&mut fixture, true, &mut done);
                }
                fixture.advance(Duration::from_secs(60));
            }
            prop_assert!(matches!(fixture.phase(), Phase::Completed | Phase::Compensated), "{:?}", fixture.phase());
            let mut net: BTreeMap<String, i64> = BTreeMap::new();
            for m in &done {
                *net.entry(m.counter.clone()).or_default() += if m.add { m.amount as i64 } else { -(m.amount as i64) };
            }
            if fixture.phase() == Phase::Compensated {
                prop_assert!(net.values().all(|&n| n == 0), "compensation left {net:?}");
            } else {
                prop_assert_eq!(net.get("a"), Some(&-30));
                prop_assert_eq!(net.get("b"), Some(&30));
                prop_assert_eq!(net.get("fees"), Some(&(fee as i64)));
            }
        }
    }
}

#[test]
#[should_panic(expected = "step deposit is not the next step to run")]
fn steps_can_only_be_reported_in_the_order_the_manager_runs_them() {
    let mut fixture = SagaFixture::new(TransferSaga);
    fixture.given(&[requested(1)]);
    // "withdraw" runs first; the manager never sends "deposit" before it has.
    fixture.step_succeeds("deposit");
}
