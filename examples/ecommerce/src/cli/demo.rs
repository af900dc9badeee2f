//! `demo`: the event timeline of the happy path and of each failure path, every event of a
//! scenario found by the correlation id its request carried.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use ecommerce::app::{PlaceOrderRequest, Shop, ShopConfig};
use ecommerce::order::RequestedItem;
use ecommerce::payment::SimulatedProvider;
use eventcore::EventReader;
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(60);

/// What the customer does after placing the order.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Then {
    Nothing,
    CancelAtOnce,
    CancelWhenConfirmed,
    PaymentOutage,
}

/// Runs every scenario on a shop at `db` (by default a fresh temporary file, removed at the
/// end).
pub async fn run(db: Option<PathBuf>) -> anyhow::Result<()> {
    let (db, _throwaway) = super::db_or_temp(db, "demo");
    let config = ShopConfig {
        provider: SimulatedProvider {
            success_rate: 1.0,
            latency: Duration::from_millis(300),
            ..SimulatedProvider::seeded(7)
        },
        reply_timeout: Duration::from_secs(3),
        ..ShopConfig::new(&db)
    };
    let shop = Shop::open(config).await.context("opening the demo shop")?;
    println!("demo shop on SQLite at {}\n", db.display());
    let scenarios = [
        (
            "happy path: a mouse and a keyboard",
            vec![("prod-002", 1), ("prod-003", 1)],
            Then::Nothing,
        ),
        (
            "insufficient stock: 1,000 laptops",
            vec![("prod-001", 1000)],
            Then::Nothing,
        ),
        (
            "payment declined: 11 laptops, above the card limit",
            vec![("prod-001", 11)],
            Then::Nothing,
        ),
        (
            "customer cancels mid-flight",
            vec![("prod-002", 2)],
            Then::CancelAtOnce,
        ),
        (
            "reply timeout: the payment provider is down",
            vec![("prod-003", 1)],
            Then::PaymentOutage,
        ),
        (
            "cancel after confirmation: refund and stock back",
            vec![("prod-001", 1)],
            Then::CancelWhenConfirmed,
        ),
    ];
    for (title, items, then) in scenarios {
        scenario(&shop, title, items, then).await?;
    }
    shop.shutdown().await?;
    Ok(())
}

async fn scenario(
    shop: &Shop,
    title: &str,
    items: Vec<(&str, u32)>,
    then: Then,
) -> anyhow::Result<()> {
    println!("== {title}");
    let correlation = Uuid::new_v4();
    let from = shop.store().head_position().await? + 1;
    shop.set_payment_outage(then == Then::PaymentOutage);
    let request = PlaceOrderRequest {
        customer_id: "customer-ada".into(),
        items: items
            .into_iter()
            .map(|(p, q)| RequestedItem {
                product_id: p.into(),
                quantity: q,
            })
            .collect(),
        idempotency_key: None,
    };
    let order_id = shop.place_order(request, Some(correlation)).await?.order_id;
    if then == Then::CancelAtOnce {
        shop.cancel_order(&order_id, None, "changed my mind", Some(correlation))
            .await?;
    }
    let view = shop.wait_for_order(&order_id, WAIT).await?;
    shop.set_payment_outage(false);
    if then == Then::CancelWhenConfirmed {
        shop.cancel_order(
            &order_id,
            None,
            "returned by the customer",
            Some(correlation),
        )
        .await?;
    }
    settle(shop).await?;
    timeline(shop, from, correlation).await?;
    let order = shop.order(&order_id).await?;
    let reason = order
        .cancellation_reason
        .map(|r| format!(" ({r})"))
        .unwrap_or_default();
    println!("-> order {}{reason}, saga {}\n", order.status, view.status);
    Ok(())
}

/// Waits until every saga and policy is done and the read models caught up.
async fn settle(shop: &Shop) -> anyhow::Result<()> {
    if !shop.settle(WAIT).await? {
        anyhow::bail!("the shop did not settle within {} s", WAIT.as_secs());
    }
    Ok(())
}

/// Prints the events from position `from` on that carry `correlation`.
async fn timeline(shop: &Shop, from: u64, correlation: Uuid) -> anyhow::Result<()> {
    let events = shop.store().read_all(from, 10_000).await?;
    for event in events
        .iter()
        .filter(|e| e.metadata.correlation_id == Some(correlation))
    {
        let mut fields: serde_json::Value = serde_json::from_str(event.payload.get())?;
        // Ids are in the stream name already.
        if let Some(map) = fields.as_object_mut() {
            for noise in ["order_id", "customer_id", "body", "recipient", "key"] {
                map.remove(noise);
            }
        }
        let mut detail = fields.to_string();
        if detail.chars().count() > 90 {
            detail = detail.chars().take(89).collect::<String>() + "…";
        }
        let stream = event.stream_id.to_string();
        let stream = if stream.len() > 30 {
            format!("{}…", &stream[..29])
        } else {
            stream
        };
        println!(
            "  {:<26} {:<31} v{:<3} {detail}",
            event.event_type, stream, event.stream_version
        );
    }
    Ok(())
}
