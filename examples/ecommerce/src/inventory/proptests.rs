//! Stock conservation over random reserve / release / confirm / expire / restock sequences.

use proptest::prelude::*;

use eventcore::Aggregate;

use super::*;
use crate::money::Money;

fn cmd(action: InventoryAction) -> InventoryCommand {
    InventoryCommand::new(WAREHOUSE, action)
}

#[derive(Clone, Debug)]
enum Op {
    Reserve(u8, u32, u32),
    Release(u8),
    Confirm(u8),
    Expire(u8),
    AddStock(u32),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..6u8, 0..40u32, 0..40u32).prop_map(|(o, a, b)| Op::Reserve(o, a, b)),
        (0..6u8).prop_map(Op::Release),
        (0..6u8).prop_map(Op::Confirm),
        (0..6u8).prop_map(Op::Expire),
        (1..20u32).prop_map(Op::AddStock),
    ]
}

proptest! {
    /// Whatever happens, per product: received = available + reserved + sold, and the
    /// reserved units are exactly what the held reservations hold.
    #[test]
    fn stock_is_conserved_over_any_sequence(ops in proptest::collection::vec(op(), 0..60)) {
        let mut inventory = Inventory::default();
        let run = |inventory: &mut Inventory, action| {
            if let Ok(events) = inventory.handle(&cmd(action)) {
                for event in events {
                    inventory.apply(&event);
                }
            }
        };
        run(&mut inventory, InventoryAction::AddProduct { product_id: "a".into(), name: "A".into(), description: "".into(), price: Money::usd(1), initial_stock: 30 });
        run(&mut inventory, InventoryAction::AddProduct { product_id: "b".into(), name: "B".into(), description: "".into(), price: Money::usd(1), initial_stock: 10 });
        for op in ops {
            let order = |o: u8| format!("o{o}");
            let action = match op {
                Op::Reserve(o, a, b) => {
                    let items = [("a", a), ("b", b)].into_iter().filter(|(_, q)| *q > 0).map(|(p, q)| (p.to_owned(), q)).collect();
                    InventoryAction::ReserveStock { order_id: order(o), items }
                }
                Op::Release(o) => InventoryAction::ReleaseStock { order_id: order(o) },
                Op::Confirm(o) => InventoryAction::ConfirmReservation { order_id: order(o) },
                Op::Expire(o) => InventoryAction::ExpireReservation { order_id: order(o) },
                Op::AddStock(q) => InventoryAction::AddStock { product_id: "a".into(), quantity: q },
            };
            run(&mut inventory, action);
            for (id, product) in &inventory.products {
                prop_assert!(product.reserved <= product.on_hand);
                let total = u64::from(product.available()) + u64::from(product.reserved) + u64::from(product.sold);
                prop_assert_eq!(product.received, total);
                let held: u32 = inventory.reservations.values()
                    .filter(|r| r.status == ReservationStatus::Reserved)
                    .filter_map(|r| r.items.get(id)).sum();
                prop_assert_eq!(product.reserved, held);
            }
        }
    }
}
