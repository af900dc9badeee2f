//! The walk-through end to end on a SQLite file: the small checkout completes, the large one
//! is declined and compensated, and the read model shows both carts.

use cart::totals::CartTotal;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_walkthrough_completes_one_checkout_and_compensates_the_other() {
    let dir = std::env::temp_dir().join(format!("eventcore-cart-test-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let outcome = cart::run(&dir.join("cart.db"))
        .await
        .expect("the walk-through runs");
    std::fs::remove_dir_all(&dir).unwrap();

    assert_eq!(
        outcome.checkouts,
        [
            ("small".to_owned(), "completed".to_owned()),
            ("large".to_owned(), "compensated".to_owned()),
        ]
    );
    assert_eq!(
        outcome.stock_left, 8,
        "the large order's reservation was released"
    );
    let row = |cart_id: &str, items, total_cents| CartTotal {
        cart_id: cart_id.into(),
        items,
        total_cents,
        checked_out: true,
    };
    assert_eq!(
        outcome.totals,
        [row("large", 5, 100_000), row("small", 2, 2_500)]
    );
}
