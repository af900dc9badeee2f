//! Given/when/then tests of payments: one charge per order, refund rules, the simulation.

use eventcore::testing::AggregateFixture;
use eventcore::{InMemoryEventStore, Repository};

use super::*;
use crate::money::Money;

fn charge(outcome: ChargeOutcome, cents: i64) -> PaymentCommand {
    PaymentCommand::new(
        "o1",
        PaymentAction::Charge {
            customer_id: "c1".into(),
            amount: Money::usd(cents),
            outcome,
        },
    )
}

fn approved() -> ChargeOutcome {
    ChargeOutcome::Approved {
        payment_id: "pay-1".into(),
    }
}

fn completed(cents: i64) -> PaymentEvent {
    PaymentEvent::PaymentCompleted {
        payment_id: "pay-1".into(),
        order_id: "o1".into(),
        customer_id: "c1".into(),
        amount: Money::usd(cents),
    }
}

fn refund(cents: i64) -> PaymentCommand {
    PaymentCommand::new(
        "o1",
        PaymentAction::Refund {
            amount: Money::usd(cents),
        },
    )
}

fn refunded(cents: i64) -> PaymentEvent {
    PaymentEvent::PaymentRefunded {
        order_id: "o1".into(),
        amount: Money::usd(cents),
    }
}

#[test]
fn an_approved_charge_completes_the_payment() {
    let state = AggregateFixture::<Payment>::new()
        .when(charge(approved(), 500))
        .then_expect_events([completed(500)]);
    assert_eq!(state.status, PaymentStatus::Completed);
}

#[test]
fn a_declined_charge_fails_with_the_reason() {
    let declined = ChargeOutcome::Declined {
        reason: "card declined".into(),
    };
    AggregateFixture::<Payment>::new()
        .when(charge(declined, 500))
        .then_expect_events([PaymentEvent::PaymentFailed {
            order_id: "o1".into(),
            customer_id: "c1".into(),
            amount: Money::usd(500),
            reason: "card declined".into(),
        }]);
}

#[test]
fn an_order_cannot_be_charged_twice() {
    let error = AggregateFixture::<Payment>::given([completed(500)])
        .when(charge(approved(), 500))
        .then_expect_error();
    assert_eq!(error, PaymentError::AlreadyPaid("o1".into()));
    let error = AggregateFixture::<Payment>::new()
        .when(charge(approved(), 0))
        .then_expect_error();
    assert_eq!(error, PaymentError::InvalidAmount(Money::usd(0)));
}

#[test]
fn a_refund_needs_a_completed_payment_and_stays_within_it() {
    let error = AggregateFixture::<Payment>::new()
        .when(refund(100))
        .then_expect_error();
    assert_eq!(error, PaymentError::NotPaid(PaymentStatus::None));
    AggregateFixture::<Payment>::given([completed(500)])
        .when(refund(200))
        .then_expect_events([refunded(200)]);
    let error = AggregateFixture::<Payment>::given([completed(500), refunded(200)])
        .when(refund(301))
        .then_expect_error();
    assert_eq!(
        error,
        PaymentError::RefundTooLarge {
            asked: Money::usd(301),
            left: Money::usd(300)
        }
    );
    let state = AggregateFixture::<Payment>::given([completed(500), refunded(200)])
        .when(refund(300))
        .then_expect_events([refunded(300)]);
    assert_eq!(state.status, PaymentStatus::Refunded);
    let error = AggregateFixture::<Payment>::given([completed(500), refunded(500)])
        .when(refund(1))
        .then_expect_error();
    assert_eq!(error, PaymentError::NotPaid(PaymentStatus::Refunded));
}

#[test]
fn reversing_refunds_what_is_left_or_nothing() {
    let reverse = || PaymentCommand::new("o1", PaymentAction::Reverse);
    AggregateFixture::<Payment>::given([completed(500), refunded(100)])
        .when(reverse())
        .then_expect_events([refunded(400)]);
    AggregateFixture::<Payment>::new()
        .when(reverse())
        .then_expect_no_events();
    AggregateFixture::<Payment>::given([completed(500), refunded(500)])
        .when(reverse())
        .then_expect_no_events();
}

#[test]
fn the_simulation_declines_above_the_limit_and_is_deterministic_per_seed() {
    let provider = SimulatedProvider {
        success_rate: 1.0,
        ..SimulatedProvider::default()
    };
    assert!(matches!(
        provider.decide("o1", Money::usd(1_000_001)),
        ChargeOutcome::Declined { .. }
    ));
    assert!(matches!(
        provider.decide("o1", Money::usd(1_000_000)),
        ChargeOutcome::Approved { .. }
    ));
    let never = SimulatedProvider {
        success_rate: 0.0,
        ..SimulatedProvider::default()
    };
    assert!(matches!(
        never.decide("o1", Money::usd(1)),
        ChargeOutcome::Declined { .. }
    ));
    let orders: Vec<String> = (0..1000).map(|i| format!("o{i}")).collect();
    let run = |seed| {
        let provider = SimulatedProvider::seeded(seed);
        orders
            .iter()
            .map(|o| {
                matches!(
                    provider.decide(o, Money::usd(100)),
                    ChargeOutcome::Approved { .. }
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(run(7), run(7));
    assert_ne!(run(7), run(8));
    let approved = run(7).into_iter().filter(|a| *a).count();
    assert!(
        (850..=950).contains(&approved),
        "{approved} of 1000 approved at 90%"
    );
}

#[tokio::test]
async fn processing_twice_charges_once() {
    let payments = Repository::<Payment>::new(InMemoryEventStore::new());
    let provider = SimulatedProvider {
        success_rate: 1.0,
        ..SimulatedProvider::default()
    };
    let amount = Money::usd(100);
    let pay = |id| {
        let (payments, provider) = (&payments, &provider);
        async move {
            process_payment(
                payments,
                provider,
                "o1",
                "c1",
                amount,
                id,
                Metadata::default(),
            )
            .await
        }
    };
    let id = eventcore::CommandId::new_random();
    let first = pay(id).await;
    assert_eq!(first.unwrap(), PaymentStatus::Completed);
    // The same step again: the first outcome.
    let again = pay(id).await;
    assert_eq!(again.unwrap(), PaymentStatus::Completed);
    // Another attempt: refused.
    let error = pay(eventcore::CommandId::new_random()).await;
    assert!(matches!(
        error,
        Err(eventcore::RepositoryError::Domain(
            PaymentError::AlreadyPaid(_)
        ))
    ));
    let events = payments.load("o1").await.unwrap();
    assert_eq!(events.state.paid, Some(amount));
}

#[tokio::test]
async fn a_declined_charge_reports_failed_also_when_repeated() {
    let payments = Repository::<Payment>::new(InMemoryEventStore::new());
    let provider = SimulatedProvider {
        success_rate: 0.0,
        ..SimulatedProvider::default()
    };
    let id = eventcore::CommandId::new_random();
    for _ in 0..2 {
        let status = process_payment(
            &payments,
            &provider,
            "o2",
            "c1",
            Money::usd(100),
            id,
            Metadata::default(),
        )
        .await
        .unwrap();
        assert_eq!(status, PaymentStatus::Failed);
    }
    assert_eq!(
        payments.load("o2").await.unwrap().state.status,
        PaymentStatus::Failed
    );
}
