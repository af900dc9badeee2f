//! Given/when/then tests of the order saga: each path of the diagram, customer cancellation,
//! reply timeouts, reverse-order compensation and parking.

use std::collections::BTreeMap;
use std::time::Duration;

use eventcore::saga::SagaStatus;
use eventcore::testing::SagaFixture;

use super::*;
use crate::order::Line;

const O: &str = "o1";

fn placed() -> OrderFlowEvent {
    OrderFlowEvent::OrderPlaced {
        order_id: O.into(),
        customer_id: "c1".into(),
        lines: vec![Line {
            product_id: "prod-001".into(),
            quantity: 2,
            unit_price: Money::usd(99_999),
        }],
        total: Money::usd(199_998),
    }
}

fn reserve() -> OrderSagaCommand {
    OrderSagaCommand::ReserveStock {
        order_id: O.into(),
        items: BTreeMap::from([("prod-001".to_owned(), 2)]),
    }
}

fn pay() -> OrderSagaCommand {
    OrderSagaCommand::ProcessPayment {
        order_id: O.into(),
        customer_id: "c1".into(),
        amount: Money::usd(199_998),
    }
}

fn release() -> OrderSagaCommand {
    OrderSagaCommand::ReleaseStock { order_id: O.into() }
}

fn refund() -> OrderSagaCommand {
    OrderSagaCommand::RefundPayment { order_id: O.into() }
}

fn cancel(reason: &str) -> OrderSagaCommand {
    OrderSagaCommand::CancelOrder {
        order_id: O.into(),
        reason: reason.into(),
    }
}

fn cancelled(reason: &str) -> OrderFlowEvent {
    OrderFlowEvent::OrderCancelled {
        order_id: O.into(),
        reason: reason.into(),
    }
}

fn stock_reserved() -> OrderFlowEvent {
    OrderFlowEvent::StockReserved { order_id: O.into() }
}

/// A saga that reserved stock and sent the payment.
fn paying() -> SagaFixture<OrderSaga> {
    let mut saga = SagaFixture::new(OrderSaga::default());
    saga.given(&[placed()]);
    saga.step_succeeds("reserve-stock");
    saga.when(&stock_reserved());
    saga
}

#[test]
fn a_placed_order_reserves_its_stock_with_a_reply_deadline() {
    let mut saga = SagaFixture::new(OrderSaga::default());
    saga.given(&[placed()]);
    assert_eq!(saga.commands(), [reserve()]);
    assert_eq!(saga.state().stage, Stage::ReservingStock);
    assert_eq!(
        saga.deadlines(),
        [("reply".to_owned(), Duration::from_secs(30))]
    );
}

#[test]
fn the_happy_path_pays_confirms_the_reservation_then_the_order_and_completes() {
    let mut saga = paying();
    assert_eq!(saga.commands(), [pay()]);
    saga.step_succeeds("process-payment");
    saga.when(&OrderFlowEvent::PaymentCompleted { order_id: O.into() });
    assert_eq!(
        saga.commands(),
        [OrderSagaCommand::ConfirmReservation { order_id: O.into() }]
    );
    saga.step_succeeds("confirm-reservation");
    saga.when(&OrderFlowEvent::ReservationConfirmed { order_id: O.into() });
    assert_eq!(
        saga.commands(),
        [OrderSagaCommand::ConfirmOrder { order_id: O.into() }]
    );
    saga.step_succeeds("confirm-order");
    assert_ne!(saga.status(), SagaStatus::Completed);
    saga.when(&OrderFlowEvent::OrderConfirmed { order_id: O.into() });
    assert_eq!(saga.status(), SagaStatus::Completed);
    assert!(saga.deadlines().is_empty());
}

#[test]
fn a_failed_payment_releases_the_stock_then_cancels_the_order() {
    let mut saga = paying();
    saga.step_succeeds("process-payment");
    saga.when(&OrderFlowEvent::PaymentFailed {
        order_id: O.into(),
        reason: "card declined".into(),
    });
    assert_eq!(
        saga.commands(),
        [release(), cancel("payment failed: card declined")]
    );
    saga.step_succeeds("release-stock");
    saga.step_succeeds("cancel-order");
    saga.when(&cancelled("payment failed: card declined"));
    // Nothing left to undo: nothing was charged, and the stock was released above.
    assert!(saga.commands().is_empty());
    assert_eq!(saga.status(), SagaStatus::Compensated);
}

#[test]
fn rejected_stock_cancels_the_order_with_the_short_product() {
    let mut saga = SagaFixture::new(OrderSaga::default());
    saga.given(&[placed()]);
    saga.step_succeeds("reserve-stock");
    saga.when(&OrderFlowEvent::StockReservationRejected {
        order_id: O.into(),
        product_id: "prod-001".into(),
        available: 1,
        requested: 2,
    });
    let reason = "insufficient stock: prod-001 has 1 available, 2 requested";
    assert_eq!(saga.commands(), [cancel(reason)]);
    assert!(saga.deadlines().is_empty());
    saga.step_succeeds("cancel-order");
    saga.when(&cancelled(reason));
    // Nothing was reserved: no release is sent.
    assert!(saga.commands().is_empty());
    assert_eq!(saga.status(), SagaStatus::Compensated);
}

#[test]
fn a_customer_cancellation_mid_flight_refunds_then_releases() {
    let mut saga = paying();
    saga.step_succeeds("process-payment");
    saga.when(&OrderFlowEvent::PaymentCompleted { order_id: O.into() });
    saga.when(&cancelled("changed my mind"));
    // confirm-reservation may be in flight: it still runs, so that it can be undone.
    saga.step_succeeds("confirm-reservation");
    assert_eq!(
        saga.commands(),
        [
            OrderSagaCommand::ReturnSoldStock { order_id: O.into() },
            refund(),
            release()
        ]
    );
    saga.step_succeeds("undo:confirm-reservation");
    saga.step_succeeds("undo:process-payment");
    saga.step_succeeds("undo:reserve-stock");
    assert_eq!(saga.status(), SagaStatus::Compensated);
}

#[test]
fn a_customer_cancellation_before_payment_only_releases_the_stock() {
    let mut saga = SagaFixture::new(OrderSaga::default());
    saga.given(&[placed()]);
    saga.step_succeeds("reserve-stock");
    saga.when(&cancelled("changed my mind"));
    assert_eq!(saga.commands(), [release()]);
    saga.step_succeeds("undo:reserve-stock");
    assert_eq!(saga.status(), SagaStatus::Compensated);
}

#[test]
fn a_missing_reply_past_the_deadline_cancels_and_compensates() {
    let mut saga = SagaFixture::new(OrderSaga {
        reply_timeout: Duration::from_secs(5),
    });
    saga.given(&[placed()]);
    saga.step_succeeds("reserve-stock");
    saga.when(&stock_reserved());
    saga.step_succeeds("process-payment");
    saga.advance(Duration::from_secs(4));
    assert!(saga.commands().is_empty());
    saga.advance(Duration::from_secs(1));
    let reason = "timed out: no reply for the payment within 5 s";
    assert_eq!(saga.commands(), [cancel(reason)]);
    saga.step_succeeds("cancel-order");
    // A late reply changes nothing now.
    saga.when(&OrderFlowEvent::PaymentCompleted { order_id: O.into() });
    assert!(saga.commands().is_empty());
    saga.when(&cancelled(reason));
    assert_eq!(saga.commands(), [refund(), release()]);
    saga.step_succeeds("undo:process-payment");
    saga.step_succeeds("undo:reserve-stock");
    assert_eq!(saga.status(), SagaStatus::Compensated);
}

#[test]
fn a_step_failing_for_good_cancels_the_order() {
    let mut saga = paying();
    saga.step_succeeds("process-payment");
    saga.when(&OrderFlowEvent::PaymentCompleted { order_id: O.into() });
    saga.step_fails("confirm-reservation", "reservation expired");
    assert_eq!(
        saga.commands(),
        [cancel("confirm-reservation failed: reservation expired")]
    );
    saga.step_succeeds("cancel-order");
    saga.when(&cancelled(
        "confirm-reservation failed: reservation expired",
    ));
    assert_eq!(saga.commands(), [refund(), release()]);
}

#[test]
fn a_compensation_that_keeps_failing_parks_the_saga_until_retried() {
    let mut saga = SagaFixture::new(OrderSaga::default());
    saga.given(&[placed()]);
    saga.step_succeeds("reserve-stock");
    saga.when(&cancelled("changed my mind"));
    saga.step_fails("undo:reserve-stock", "store down");
    assert_eq!(saga.status(), SagaStatus::Parked);
    assert_ne!(saga.status(), SagaStatus::Compensated);
    assert!(saga.retry());
    saga.step_succeeds("undo:reserve-stock");
    assert_eq!(saga.status(), SagaStatus::Compensated);
}

#[test]
fn replies_out_of_stage_are_ignored() {
    let mut saga = SagaFixture::new(OrderSaga::default());
    saga.given(&[placed()]);
    saga.when(&OrderFlowEvent::PaymentCompleted { order_id: O.into() });
    saga.when(&OrderFlowEvent::OrderConfirmed { order_id: O.into() });
    assert_eq!(saga.commands(), [reserve()]);
    assert_eq!(saga.state().stage, Stage::ReservingStock);
}
