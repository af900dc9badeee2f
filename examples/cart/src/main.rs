//! `cargo run -p cart`: the docs/guide.md walk-through on a fresh SQLite file.

// guide:start main
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let dir = std::env::temp_dir().join(format!("eventcore-cart-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir)?;
    let outcome = cart::run(&dir.join("cart.db")).await?;
    for (order, status) in &outcome.checkouts {
        println!("checkout {order}: {status}");
    }
    for row in &outcome.totals {
        println!(
            "cart {}: {} items, {} cents, checked out: {}",
            row.cart_id, row.items, row.total_cents, row.checked_out
        );
    }
    println!("mugs left in stock: {}", outcome.stock_left);
    std::fs::remove_dir_all(dir)?;
    Ok(())
}
// guide:end main
