//! The eventcore flagship shop — so far, the order lifecycle on the event store.
//!
//! Run it with `cargo run -p ecommerce`: on the embedded SQLite store (file `ecommerce.db` in
//! the current directory, or the path in `ECOMMERCE_DB`), it places an order, takes it through
//! confirmation, shipping and delivery, shows an illegal transition being refused, and prints
//! the order's event timeline. The full shop (services, saga, HTTP API, load generator) grows here as the
//! framework's issues land.

mod order;

use anyhow::Context;
use eventcore::{EventReader, Repository, RepositoryError};
use eventcore_sqlite::SqliteEventStore;

use order::{Line, Money, Order, OrderAction, OrderCommand};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let path = std::env::var("ECOMMERCE_DB").unwrap_or_else(|_| "ecommerce.db".to_owned());
    let store = SqliteEventStore::open(&path)
        .await
        .with_context(|| format!("opening the shop database {path}"))?;
    println!("event store: SQLite at {path}");
    let orders = Repository::<Order>::new(store.clone());
    let order_id = uuid::Uuid::new_v4().to_string();
    let lines = vec![
        Line {
            product_id: "prod-001".into(),
            quantity: 1,
            unit_price: Money::usd(99_999),
        },
        Line {
            product_id: "prod-002".into(),
            quantity: 2,
            unit_price: Money::usd(2_999),
        },
    ];
    let steps = [
        OrderAction::Place {
            customer_id: "customer-ada".into(),
            lines,
        },
        OrderAction::Confirm,
        OrderAction::Ship {
            tracking_number: "TRK-0001".into(),
        },
        OrderAction::Deliver,
    ];
    for action in steps {
        orders.execute(OrderCommand::new(&order_id, action)).await?;
    }
    match orders
        .execute(OrderCommand::new(
            &order_id,
            OrderAction::Cancel {
                reason: "too late".into(),
            },
        ))
        .await
    {
        Err(RepositoryError::Domain(refused)) => println!("refused as expected: {refused}"),
        other => anyhow::bail!("a delivered order must refuse confirmation, got {other:?}"),
    }

    let loaded = orders.load(&order_id).await?;
    let total = loaded.state.total.context("a placed order has a total")?;
    println!(
        "order {order_id}: status {}, total {total}",
        loaded.state.status
    );
    println!("timeline:");
    for event in store.read_stream(&loaded.stream, 1, 100).await? {
        println!(
            "  v{} {:<16} {}",
            event.stream_version,
            event.event_type,
            event.payload.get()
        );
    }
    Ok(())
}
