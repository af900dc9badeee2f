//! Given/when/then tests of the inventory: catalogue, reservations, their life cycle and
//! expiry, and stock conservation over random sequences.

use std::collections::BTreeMap;
use std::time::Duration;

use eventcore::Aggregate;
use eventcore::saga::SagaStatus;
use eventcore::testing::{AggregateFixture, SagaFixture};

use super::*;
use crate::money::Money;

fn cmd(action: InventoryAction) -> InventoryCommand {
    InventoryCommand::new(WAREHOUSE, action)
}

fn laptops(stock: u32) -> InventoryEvent {
    InventoryEvent::ProductAdded {
        product_id: "prod-001".into(),
        name: "Laptop".into(),
        description: "".into(),
        price: Money::usd(99_999),
        initial_stock: stock,
    }
}

fn mice(stock: u32) -> InventoryEvent {
    InventoryEvent::ProductAdded {
        product_id: "prod-002".into(),
        name: "Mouse".into(),
        description: "".into(),
        price: Money::usd(2_999),
        initial_stock: stock,
    }
}

fn items(list: &[(&str, u32)]) -> BTreeMap<String, u32> {
    list.iter().map(|(p, q)| ((*p).to_owned(), *q)).collect()
}

fn reserved(order: &str, list: &[(&str, u32)]) -> InventoryEvent {
    InventoryEvent::StockReserved {
        order_id: order.into(),
        items: items(list),
    }
}

fn reserve(order: &str, list: &[(&str, u32)]) -> InventoryCommand {
    cmd(InventoryAction::ReserveStock {
        order_id: order.into(),
        items: items(list),
    })
}

fn order_cmd(f: fn(String) -> InventoryAction, order: &str) -> InventoryCommand {
    cmd(f(order.into()))
}

fn release(o: String) -> InventoryAction {
    InventoryAction::ReleaseStock { order_id: o }
}
fn confirm(o: String) -> InventoryAction {
    InventoryAction::ConfirmReservation { order_id: o }
}
fn expire(o: String) -> InventoryAction {
    InventoryAction::ExpireReservation { order_id: o }
}

#[test]
fn the_seed_catalogue_adds_three_products_with_their_stock() {
    let mut inventory = Inventory::default();
    for command in seed_commands() {
        for event in inventory.handle(&command).unwrap() {
            inventory.apply(&event);
        }
    }
    let laptop = &inventory.products["prod-001"];
    assert_eq!(
        (laptop.price, laptop.available()),
        (Some(Money::usd(99_999)), 100)
    );
    assert_eq!(inventory.products["prod-002"].available(), 500);
    assert_eq!(
        inventory.products["prod-003"].price,
        Some(Money::usd(14_999))
    );
}

#[test]
fn a_product_id_is_added_once_and_prices_are_positive() {
    let add = |price| {
        cmd(InventoryAction::AddProduct {
            product_id: "prod-001".into(),
            name: "Laptop".into(),
            description: "".into(),
            price,
            initial_stock: 1,
        })
    };
    let error = AggregateFixture::<Inventory>::given([laptops(1)])
        .when(add(Money::usd(1)))
        .then_expect_error();
    assert_eq!(error, InventoryError::DuplicateProduct("prod-001".into()));
    let error = AggregateFixture::<Inventory>::new()
        .when(add(Money::usd(0)))
        .then_expect_error();
    assert_eq!(error, InventoryError::InvalidPrice(Money::usd(0)));
}

#[test]
fn prices_change_and_stock_is_added_for_known_products_only() {
    let change = InventoryAction::ChangePrice {
        product_id: "prod-001".into(),
        price: Money::usd(89_999),
    };
    AggregateFixture::<Inventory>::given([laptops(1)])
        .when(cmd(change.clone()))
        .then_expect_events([InventoryEvent::PriceChanged {
            product_id: "prod-001".into(),
            price: Money::usd(89_999),
        }]);
    let error = AggregateFixture::<Inventory>::new()
        .when(cmd(change))
        .then_expect_error();
    assert_eq!(error, InventoryError::UnknownProduct("prod-001".into()));
    let add = |quantity| {
        cmd(InventoryAction::AddStock {
            product_id: "prod-001".into(),
            quantity,
        })
    };
    let state = AggregateFixture::<Inventory>::given([laptops(1)])
        .when(add(4))
        .then_expect_events([InventoryEvent::StockAdded {
            product_id: "prod-001".into(),
            quantity: 4,
        }]);
    assert_eq!(state.products["prod-001"].available(), 5);
    let error = AggregateFixture::<Inventory>::given([laptops(1)])
        .when(add(0))
        .then_expect_error();
    assert_eq!(error, InventoryError::ZeroQuantity);
}

#[test]
fn a_reservation_holds_every_item_and_lowers_availability() {
    let state = AggregateFixture::<Inventory>::given([laptops(5), mice(5)])
        .when(reserve("o1", &[("prod-001", 2), ("prod-002", 5)]))
        .then_expect_events([reserved("o1", &[("prod-001", 2), ("prod-002", 5)])]);
    assert_eq!(state.products["prod-001"].available(), 3);
    assert_eq!(state.products["prod-002"].available(), 0);
    assert_eq!(state.products["prod-001"].on_hand, 5);
}

#[test]
fn one_short_item_rejects_the_whole_reservation_and_holds_nothing() {
    let state = AggregateFixture::<Inventory>::given([
        laptops(5),
        mice(1),
        reserved("o0", &[("prod-001", 4)]),
    ])
    .when(reserve("o1", &[("prod-001", 1), ("prod-002", 3)]))
    .then_expect_events([InventoryEvent::StockReservationRejected {
        order_id: "o1".into(),
        product_id: "prod-002".into(),
        available: 1,
        requested: 3,
    }]);
    // The laptop, which was there, was not held either.
    assert_eq!(state.products["prod-001"].available(), 1);
    assert_eq!(
        state.reservation_status("o1"),
        Some(ReservationStatus::Rejected)
    );
}

#[test]
fn available_counts_what_other_orders_hold_and_unknown_products_have_none() {
    AggregateFixture::<Inventory>::given([laptops(3), reserved("o0", &[("prod-001", 2)])])
        .when(reserve("o1", &[("prod-001", 2)]))
        .then_expect_events([InventoryEvent::StockReservationRejected {
            order_id: "o1".into(),
            product_id: "prod-001".into(),
            available: 1,
            requested: 2,
        }]);
    AggregateFixture::<Inventory>::new()
        .when(reserve("o1", &[("prod-999", 1)]))
        .then_expect_events([InventoryEvent::StockReservationRejected {
            order_id: "o1".into(),
            product_id: "prod-999".into(),
            available: 0,
            requested: 1,
        }]);
}

#[test]
fn reserving_for_a_decided_order_again_changes_nothing() {
    AggregateFixture::<Inventory>::given([laptops(5), reserved("o1", &[("prod-001", 1)])])
        .when(reserve("o1", &[("prod-001", 1)]))
        .then_expect_no_events();
    let error = AggregateFixture::<Inventory>::given([laptops(5)])
        .when(reserve("o1", &[]))
        .then_expect_error();
    assert_eq!(error, InventoryError::NothingToReserve);
}

#[test]
fn releasing_returns_the_stock_once_and_is_then_a_no_op() {
    let released = InventoryEvent::StockReleased {
        order_id: "o1".into(),
        items: items(&[("prod-001", 2)]),
    };
    let given = [laptops(5), reserved("o1", &[("prod-001", 2)])];
    let state = AggregateFixture::<Inventory>::given(given.clone())
        .when(order_cmd(release, "o1"))
        .then_expect_events([released.clone()]);
    assert_eq!(state.products["prod-001"].available(), 5);
    let mut twice = given.to_vec();
    twice.push(released);
    AggregateFixture::<Inventory>::given(twice)
        .when(order_cmd(release, "o1"))
        .then_expect_no_events();
    // Never reserved, or expired: nothing to release.
    AggregateFixture::<Inventory>::given([laptops(5)])
        .when(order_cmd(release, "o9"))
        .then_expect_no_events();
    let expired = InventoryEvent::ReservationExpired {
        order_id: "o1".into(),
        items: items(&[("prod-001", 2)]),
    };
    AggregateFixture::<Inventory>::given([laptops(5), reserved("o1", &[("prod-001", 2)]), expired])
        .when(order_cmd(release, "o1"))
        .then_expect_no_events();
}

#[test]
fn confirming_turns_reserved_stock_into_sold_stock() {
    let state =
        AggregateFixture::<Inventory>::given([laptops(5), reserved("o1", &[("prod-001", 2)])])
            .when(order_cmd(confirm, "o1"))
            .then_expect_events([InventoryEvent::ReservationConfirmed {
                order_id: "o1".into(),
                items: items(&[("prod-001", 2)]),
            }]);
    let laptop = &state.products["prod-001"];
    assert_eq!((laptop.on_hand, laptop.reserved, laptop.sold), (3, 0, 2));
    assert_eq!(laptop.available(), 3);
}

#[test]
fn only_a_held_reservation_can_be_confirmed() {
    let error = AggregateFixture::<Inventory>::given([laptops(5)])
        .when(order_cmd(confirm, "o1"))
        .then_expect_error();
    assert_eq!(
        error.to_string(),
        "cannot confirm the reservation of order o1: it is none"
    );
    let released = InventoryEvent::StockReleased {
        order_id: "o1".into(),
        items: items(&[("prod-001", 2)]),
    };
    let error = AggregateFixture::<Inventory>::given([
        laptops(5),
        reserved("o1", &[("prod-001", 2)]),
        released,
    ])
    .when(order_cmd(confirm, "o1"))
    .then_expect_error();
    assert!(matches!(error, InventoryError::NotReserved { status, .. } if status == "released"));
}

#[test]
fn expiry_returns_held_stock_and_leaves_confirmed_stock_alone() {
    AggregateFixture::<Inventory>::given([laptops(5), reserved("o1", &[("prod-001", 2)])])
        .when(order_cmd(expire, "o1"))
        .then_expect_events([InventoryEvent::ReservationExpired {
            order_id: "o1".into(),
            items: items(&[("prod-001", 2)]),
        }]);
    let confirmed = InventoryEvent::ReservationConfirmed {
        order_id: "o1".into(),
        items: items(&[("prod-001", 2)]),
    };
    AggregateFixture::<Inventory>::given([
        laptops(5),
        reserved("o1", &[("prod-001", 2)]),
        confirmed,
    ])
    .when(order_cmd(expire, "o1"))
    .then_expect_no_events();
}

#[test]
fn sold_stock_of_a_cancelled_order_goes_back_on_hand() {
    let confirmed = InventoryEvent::ReservationConfirmed {
        order_id: "o1".into(),
        items: items(&[("prod-001", 2)]),
    };
    let ret = |o| InventoryAction::ReturnSoldStock { order_id: o };
    let state = AggregateFixture::<Inventory>::given([
        laptops(5),
        reserved("o1", &[("prod-001", 2)]),
        confirmed,
    ])
    .when(order_cmd(ret, "o1"))
    .then_expect_events([InventoryEvent::SoldStockReturned {
        order_id: "o1".into(),
        items: items(&[("prod-001", 2)]),
    }]);
    assert_eq!(state.products["prod-001"].available(), 5);
    assert_eq!(state.products["prod-001"].sold, 0);
}

#[test]
fn an_unconfirmed_reservation_expires_after_the_configured_time() {
    let mut saga = SagaFixture::new(ReservationExpiry {
        after: Duration::from_secs(60),
    });
    saga.given(&[ExpiryEvent::StockReserved {
        order_id: "o1".into(),
    }]);
    assert_eq!(
        saga.deadlines(),
        [("expire".to_owned(), Duration::from_secs(60))]
    );
    saga.advance(Duration::from_secs(59));
    assert!(saga.commands().is_empty());
    saga.advance(Duration::from_secs(1));
    assert_eq!(
        saga.commands(),
        [ExpiryCommand::ExpireReservation {
            order_id: "o1".into()
        }]
    );
    saga.step_succeeds("expire");
    assert_eq!(saga.status(), SagaStatus::Completed);
}

#[test]
fn a_confirmed_reservation_never_expires() {
    let mut saga = SagaFixture::new(ReservationExpiry::default());
    saga.given(&[
        ExpiryEvent::StockReserved {
            order_id: "o1".into(),
        },
        ExpiryEvent::ReservationConfirmed {
            order_id: "o1".into(),
        },
    ]);
    assert_eq!(saga.status(), SagaStatus::Completed);
    assert!(saga.deadlines().is_empty());
    saga.advance(ReservationExpiry::DEFAULT_AFTER * 2);
    assert!(saga.commands().is_empty());
}
