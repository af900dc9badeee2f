//! The eventcore flagship shop: the domain on the embedded store.
//!
//! Run it with `cargo run -p ecommerce`: on SQLite (file `ecommerce.db` in the current
//! directory, or the path in `ECOMMERCE_DB`) it seeds the catalogue, places three orders (one
//! that goes through, one the stock cannot cover, one the payment provider declines), lets the
//! order saga run them, and prints each order's outcome and the saga's status. The HTTP API,
//! read models and load generator grow on top of this domain.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use eventcore::Repository;
use eventcore::saga::SagaManager;
use eventcore_sqlite::SqliteEventStore;

use ecommerce::inventory::{self, Inventory, WAREHOUSE};
use ecommerce::order::{Catalogue, Order, PlaceOrder, RequestedItem};
use ecommerce::payment::{Payment, SimulatedProvider};
use ecommerce::saga::{self, OrderSaga};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let path = std::env::var("ECOMMERCE_DB").unwrap_or_else(|_| "ecommerce.db".to_owned());
    let store = SqliteEventStore::open(&path)
        .await
        .with_context(|| format!("opening the shop database {path}"))?;
    println!("event store: SQLite at {path}");
    let stock = Repository::<Inventory>::new(store.clone());
    let orders = Repository::<Order>::new(store.clone());
    let payments = Repository::<Payment>::new(store.clone());

    if stock.load(WAREHOUSE).await?.state.products.is_empty() {
        for command in inventory::seed_commands() {
            stock.execute(command).await?;
        }
    }
    // The order context's price list, here folded straight from the inventory's state.
    let mut catalogue = Catalogue::default();
    for (id, product) in &stock.load(WAREHOUSE).await?.state.products {
        if let Some(price) = product.price {
            catalogue.apply(&inventory::InventoryEvent::PriceChanged {
                product_id: id.clone(),
                price,
            });
        }
    }

    let provider = Arc::new(SimulatedProvider {
        success_rate: 1.0,
        ..SimulatedProvider::seeded(42)
    });
    let bus = saga::bus(stock.clone(), orders.clone(), payments.clone(), provider);
    let sagas = SagaManager::new(OrderSaga::default(), store.clone(), bus).start()?;

    let cases = [
        (
            "a mouse and a keyboard",
            vec![("prod-002", 1), ("prod-003", 1)],
        ),
        ("more laptops than there are", vec![("prod-001", 1000)]),
        (
            "eleven laptops, above the card limit",
            vec![("prod-001", 11)],
        ),
    ];
    for (what, items) in cases {
        let order_id = uuid::Uuid::new_v4().to_string();
        let request = PlaceOrder {
            order_id: order_id.clone(),
            customer_id: "customer-ada".into(),
            items: items
                .into_iter()
                .map(|(p, q)| RequestedItem {
                    product_id: p.into(),
                    quantity: q,
                })
                .collect(),
        };
        orders.execute(request.price(&catalogue)?).await?;
        let view =
            tokio::time::timeout(Duration::from_secs(30), sagas.wait_until_settled(&order_id))
                .await??;
        let order = orders.load(&order_id).await?.state;
        let reason = order.cancellation_reason.unwrap_or_default();
        println!(
            "{what}: order {} ({reason}), saga {}",
            order.status, view.status
        );
    }
    sagas.shutdown().await?;
    Ok(())
}
