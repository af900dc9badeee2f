//! `serve`: the shop runs until Ctrl-C.

use std::path::PathBuf;

use anyhow::Context;
use ecommerce::app::{Shop, ShopConfig};

/// Opens the shop at `db` and runs it until Ctrl-C.
pub async fn run(db: PathBuf) -> anyhow::Result<()> {
    let shop = Shop::open(ShopConfig::new(&db))
        .await
        .with_context(|| format!("opening the shop at {}", db.display()))?;
    println!("shop running on SQLite at {}", db.display());
    for product in shop.products(100, 0).await? {
        println!(
            "  {} {:<10} {:>10} available {}",
            product.product_id,
            product.name,
            product.price.to_string(),
            product.available
        );
    }
    // TODO(HTTP engineer): serve `/api/v1` here on top of the `Shop` facade (see the crate
    // docs of `ecommerce::app`): build the router with the shop in its state, bind the
    // listener, print where it listens, and shut the shop down after the server stops.
    println!("the HTTP API comes next; the sagas, policies and read models run now (Ctrl-C stops)");
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    shop.shutdown().await?;
    println!("stopped");
    Ok(())
}
