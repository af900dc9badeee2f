//! The walk-through of `docs/guide.md`, whole and runnable: a cart aggregate, a read model in
//! its own SQLite table, and a checkout saga that compensates when a payment is declined.
//!
//! Run it with `cargo run -p cart`; its tests (`cargo test -p cart`) run the same flow and
//! check that the guide's code is this code.

// An example application: its items are explained in the guide rather than in rustdoc.
#![allow(missing_docs)]

pub mod cart;
pub mod checkout;
pub mod payments;
pub mod totals;
pub mod warehouse;

// guide:start run
use std::path::Path;
use std::time::Duration;

use eventcore::projection::{ProjectionOptions, ProjectionRunner, Typed};
use eventcore::saga::SagaManager;
use eventcore::{EventReader, Repository};
use eventcore_sqlite::SqliteEventStore;

use cart::{Cart, CartAction, CartCommand};
use checkout::{CheckoutSaga, WAREHOUSE};
use payments::Payment;
use totals::{CartTotal, CartTotals};
use warehouse::{Warehouse, WarehouseAction, WarehouseCommand};

/// What a run ends with: the read model, and how each checkout ended.
#[derive(Debug)]
pub struct Outcome {
    pub totals: Vec<CartTotal>,
    pub checkouts: Vec<(String, String)>,
    pub stock_left: u32,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Opens (or creates) the database at `path`, then: stocks the warehouse, fills two carts and
/// checks them out; the small one is paid, the large one is declined and its reservation
/// released.
pub async fn run(path: &Path) -> Result<Outcome, BoxError> {
    let store = SqliteEventStore::open(path).await?;

    // Repositories: one per aggregate type, cloned wherever it is needed (clones share the
    // per-instance locks that keep one process's commands from racing each other).
    let carts = Repository::<Cart>::new(store.clone());
    let warehouses = Repository::<Warehouse>::new(store.clone());
    let payments = Repository::<Payment>::new(store.clone());

    // The read model: create its table, then run its projection in the background.
    totals::create_table(&store).await?;
    let projections = ProjectionRunner::new(store.clone())
        .add(
            "cart-totals",
            Typed::new(CartTotals),
            ProjectionOptions::default(),
        )
        .start()?;

    // The saga manager follows the log and sends each step through the bus.
    let bus = checkout::bus(warehouses.clone(), payments.clone());
    let sagas = SagaManager::new(CheckoutSaga, store.clone(), bus).start()?;

    let stock = WarehouseAction::Stock {
        sku: "mug".into(),
        quantity: 10,
    };
    warehouses
        .execute(WarehouseCommand {
            warehouse: WAREHOUSE.into(),
            id: uuid::Uuid::new_v4().into(),
            action: stock,
        })
        .await?;
    for (cart, quantity, unit_cents) in [("small", 2, 1_250), ("large", 5, 20_000)] {
        let add = CartAction::Add {
            sku: "mug".into(),
            quantity,
            unit_cents,
        };
        carts.execute(CartCommand::new(cart, add)).await?;
        carts
            .execute(CartCommand::new(cart, CartAction::CheckOut))
            .await?;
    }

    // Wait for both checkouts to end, and for the read model to catch up with the log.
    let mut checkouts = Vec::new();
    for order in ["small", "large"] {
        let ended = tokio::time::timeout(Duration::from_secs(30), sagas.wait_until_settled(order))
            .await??;
        checkouts.push((order.to_owned(), ended.status.to_string()));
    }
    projections
        .wait_until("cart-totals", store.head_position().await?)
        .await?;

    let outcome = Outcome {
        totals: totals::cart_totals(store.reader_pool()).await?,
        checkouts,
        stock_left: warehouses.load(WAREHOUSE).await?.state.available["mug"],
    };
    sagas.shutdown().await?;
    projections.shutdown().await?;
    Ok(outcome)
}
// guide:end run
