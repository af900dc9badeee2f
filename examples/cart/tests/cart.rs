//! The guide's fixture tests: the cart aggregate given/when/then, and the checkout saga step by
//! step, without a store.

// guide:start aggregate-fixture
use std::collections::BTreeMap;

use cart::cart::{Cart, CartAction, CartCommand, CartError, CartEvent};
use cart::checkout::{CheckoutCommand, CheckoutSaga};
use eventcore::testing::{AggregateFixture, SagaFixture};

#[test]
fn checking_out_lists_the_lines_and_the_total() {
    let added = CartEvent::ItemAdded {
        sku: "mug".into(),
        quantity: 2,
        unit_cents: 1_250,
    };
    AggregateFixture::<Cart>::given([added])
        .when(CartCommand::new("c-1", CartAction::CheckOut))
        .then_expect_events([CartEvent::CheckedOut {
            order: "c-1".into(),
            lines: BTreeMap::from([("mug".into(), 2)]),
            total_cents: 2_500,
        }]);
}

#[test]
fn an_empty_cart_cannot_be_checked_out() {
    let error = AggregateFixture::<Cart>::new()
        .when(CartCommand::new("c-1", CartAction::CheckOut))
        .then_expect_error();
    assert_eq!(error, CartError::Empty);
}
// guide:end aggregate-fixture

// guide:start saga-fixture
#[test]
fn a_declined_charge_releases_the_reservation() {
    let lines = BTreeMap::from([("mug".to_owned(), 5)]);
    let mut saga = SagaFixture::new(CheckoutSaga);
    saga.given(&[CartEvent::CheckedOut {
        order: "o-1".into(),
        lines: lines.clone(),
        total_cents: 100_000,
    }]);
    // The steps waiting to be sent, in order.
    assert_eq!(
        saga.commands(),
        [
            CheckoutCommand::Reserve {
                order: "o-1".into(),
                lines
            },
            CheckoutCommand::Charge {
                order: "o-1".into(),
                cents: 100_000
            },
        ]
    );
    saga.step_succeeds("reserve");
    saga.step_fails("charge", "declined");
    assert_eq!(
        saga.commands(),
        [CheckoutCommand::Release {
            order: "o-1".into()
        }]
    );
    saga.step_succeeds("undo:reserve");
    assert_eq!(saga.status().to_string(), "compensated");
}
// guide:end saga-fixture
