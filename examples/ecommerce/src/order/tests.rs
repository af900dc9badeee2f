//! Given/when/then tests of the order lifecycle, its placement rules and its pricing.

use eventcore::Aggregate;
use eventcore::testing::AggregateFixture;

use super::*;
use crate::inventory::InventoryEvent;
use crate::money::Money;

fn catalogue() -> Catalogue {
    let added = |id: &str, cents| InventoryEvent::ProductAdded {
        product_id: id.into(),
        name: id.into(),
        description: "".into(),
        price: Money::usd(cents),
        initial_stock: 10,
    };
    let events = [
        added("prod-001", 99_999),
        added("prod-002", 2_999),
        InventoryEvent::PriceChanged {
            product_id: "prod-002".into(),
            price: Money::usd(1_999),
        },
    ];
    Catalogue::from_events(&events)
}

fn request(items: &[(&str, u32)]) -> PlaceOrder {
    PlaceOrder {
        order_id: "o1".into(),
        customer_id: "c1".into(),
        items: items
            .iter()
            .map(|(p, q)| RequestedItem {
                product_id: (*p).into(),
                quantity: *q,
            })
            .collect(),
    }
}

fn line(product: &str, quantity: u32, cents: i64) -> Line {
    Line {
        product_id: product.into(),
        quantity,
        unit_price: Money::usd(cents),
    }
}

fn placed() -> OrderEvent {
    OrderEvent::OrderPlaced {
        order_id: "o1".into(),
        customer_id: "c1".into(),
        lines: vec![line("prod-001", 2, 99_999)],
        total: Money::usd(199_998),
    }
}

fn confirmed() -> OrderEvent {
    OrderEvent::OrderConfirmed {
        order_id: "o1".into(),
        customer_id: "c1".into(),
    }
}

fn shipped() -> OrderEvent {
    OrderEvent::OrderShipped {
        order_id: "o1".into(),
        customer_id: "c1".into(),
        tracking_number: "T1".into(),
    }
}

fn act(action: OrderAction) -> OrderCommand {
    OrderCommand::new("o1", action)
}

fn cancel() -> OrderCommand {
    act(OrderAction::Cancel {
        reason: "changed my mind".into(),
    })
}

fn ship() -> OrderCommand {
    act(OrderAction::Ship {
        tracking_number: "T1".into(),
    })
}

#[test]
fn placing_prices_items_from_the_catalogue_and_totals_them() {
    let command = request(&[("prod-001", 2), ("prod-002", 3)])
        .price(&catalogue())
        .unwrap();
    let state = AggregateFixture::<Order>::new()
        .when(command)
        .then_expect_events([OrderEvent::OrderPlaced {
            order_id: "o1".into(),
            customer_id: "c1".into(),
            lines: vec![line("prod-001", 2, 99_999), line("prod-002", 3, 1_999)],
            total: Money::usd(2 * 99_999 + 3 * 1_999),
        }]);
    assert_eq!(state.status, Status::Pending);
}

#[test]
fn an_unknown_product_cannot_be_priced() {
    let error = request(&[("prod-001", 1), ("prod-404", 1)])
        .price(&catalogue())
        .unwrap_err();
    assert_eq!(error, OrderError::UnknownProduct("prod-404".into()));
}

#[test]
fn an_order_needs_one_to_fifty_distinct_items() {
    let place = |lines| {
        act(OrderAction::Place {
            customer_id: "c1".into(),
            lines,
        })
    };
    let error = AggregateFixture::<Order>::new()
        .when(place(vec![]))
        .then_expect_error();
    assert_eq!(error, OrderError::LineCount(0));
    let fifty_one = (0..51).map(|i| line(&format!("p{i}"), 1, 100)).collect();
    let error = AggregateFixture::<Order>::new()
        .when(place(fifty_one))
        .then_expect_error();
    assert_eq!(error, OrderError::LineCount(51));
    let fifty: Vec<_> = (0..50).map(|i| line(&format!("p{i}"), 1, 100)).collect();
    let events = Order::default().handle(&place(fifty)).unwrap();
    assert!(matches!(&events[..], [OrderEvent::OrderPlaced { lines, .. }] if lines.len() == 50));
    let error = AggregateFixture::<Order>::new()
        .when(place(vec![line("p", 1, 100), line("p", 2, 100)]))
        .then_expect_error();
    assert_eq!(error, OrderError::DuplicateItem("p".into()));
}

#[test]
fn quantities_are_one_to_a_thousand() {
    for (quantity, ok) in [(0, false), (1, true), (1000, true), (1001, false)] {
        let result = Order::default().handle(&act(OrderAction::Place {
            customer_id: "c1".into(),
            lines: vec![line("p", quantity, 100)],
        }));
        match result {
            Ok(_) => assert!(ok, "quantity {quantity} accepted"),
            Err(error) => {
                assert!(!ok, "quantity {quantity} refused");
                assert_eq!(
                    error,
                    OrderError::Quantity {
                        product_id: "p".into(),
                        quantity
                    }
                );
            }
        }
    }
}

#[test]
fn an_order_is_placed_once() {
    let again = act(OrderAction::Place {
        customer_id: "c1".into(),
        lines: vec![line("p", 1, 100)],
    });
    let error = AggregateFixture::<Order>::given([placed()])
        .when(again)
        .then_expect_error();
    assert_eq!(error.to_string(), "cannot place an order in status pending");
}

#[test]
fn the_happy_lifecycle_is_pending_confirmed_shipped_delivered() {
    let state = AggregateFixture::<Order>::given([placed()])
        .when(act(OrderAction::Confirm))
        .then_expect_events([confirmed()]);
    assert_eq!(state.status, Status::Confirmed);
    let state = AggregateFixture::<Order>::given([placed(), confirmed()])
        .when(ship())
        .then_expect_events([shipped()]);
    assert_eq!(state.tracking_number.as_deref(), Some("T1"));
    let state = AggregateFixture::<Order>::given([placed(), confirmed(), shipped()])
        .when(act(OrderAction::Deliver))
        .then_expect_events([OrderEvent::OrderDelivered {
            order_id: "o1".into(),
            customer_id: "c1".into(),
        }]);
    assert_eq!(state.status, Status::Delivered);
}

#[test]
fn a_pending_or_confirmed_order_can_be_cancelled_with_a_reason() {
    let cancelled = OrderEvent::OrderCancelled {
        order_id: "o1".into(),
        customer_id: "c1".into(),
        reason: "changed my mind".into(),
        after_confirmation: false,
    };
    let state = AggregateFixture::<Order>::given([placed()])
        .when(cancel())
        .then_expect_events([cancelled.clone()]);
    assert_eq!(
        state.cancellation_reason.as_deref(),
        Some("changed my mind")
    );
    // After confirmation the event says so: only the undo policy undoes the sale then.
    let after_confirmation = OrderEvent::OrderCancelled {
        order_id: "o1".into(),
        customer_id: "c1".into(),
        reason: "changed my mind".into(),
        after_confirmation: true,
    };
    AggregateFixture::<Order>::given([placed(), confirmed()])
        .when(cancel())
        .then_expect_events([after_confirmation]);
}

#[test]
fn illegal_transitions_are_typed_errors_naming_the_status() {
    let cancelled = OrderEvent::OrderCancelled {
        order_id: "o1".into(),
        customer_id: "c1".into(),
        reason: "r".into(),
        after_confirmation: true,
    };
    let delivered = OrderEvent::OrderDelivered {
        order_id: "o1".into(),
        customer_id: "c1".into(),
    };
    let cases: Vec<(Vec<OrderEvent>, OrderCommand, &str)> = vec![
        (
            vec![placed()],
            ship(),
            "cannot ship an order in status pending",
        ),
        (
            vec![placed()],
            act(OrderAction::Deliver),
            "cannot deliver an order in status pending",
        ),
        (
            vec![],
            act(OrderAction::Confirm),
            "cannot confirm an order in status new",
        ),
        (
            vec![placed(), confirmed()],
            act(OrderAction::Confirm),
            "cannot confirm an order in status confirmed",
        ),
        (
            vec![placed(), confirmed(), shipped()],
            cancel(),
            "cannot cancel an order in status shipped",
        ),
        (
            vec![placed(), confirmed(), shipped(), delivered],
            cancel(),
            "cannot cancel an order in status delivered",
        ),
        (
            vec![placed(), cancelled.clone()],
            cancel(),
            "cannot cancel an order in status cancelled",
        ),
        (
            vec![placed(), cancelled],
            act(OrderAction::Confirm),
            "cannot confirm an order in status cancelled",
        ),
    ];
    for (given, command, message) in cases {
        let error = AggregateFixture::<Order>::given(given)
            .when(command)
            .then_expect_error();
        assert!(matches!(error, OrderError::IllegalTransition { .. }));
        assert_eq!(error.to_string(), message);
    }
}
