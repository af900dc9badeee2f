//! The suite's failure cases: the crash points of relay and consumer, lost connections and a
//! broker restart. Each ends with every event applied once, in order.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use super::BrokerUnderTest;
use super::cases::eventually;
use super::handler::{Tally, World, streams};
use crate::broker::{Message, PublishError, Publisher};

/// Publishes through `inner`; after the batch numbered `at` is confirmed, tells and hangs
/// (a relay killed before its checkpoint).
struct HangAfterPublishing<P> {
    inner: P,
    at: Mutex<(usize, Option<tokio::sync::oneshot::Sender<()>>)>,
}

#[async_trait]
impl<P: Publisher> Publisher for HangAfterPublishing<P> {
    async fn publish(&self, messages: &[Message]) -> Result<(), PublishError> {
        self.inner.publish(messages).await?;
        let tell = {
            let mut at = self
                .at
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if at.0 == 0 {
                at.1.take()
            } else {
                at.0 -= 1;
                None
            }
        };
        if let Some(tell) = tell {
            let _ = tell.send(());
            std::future::pending::<()>().await;
        }
        Ok(())
    }
}

/// 400 events over 20 streams: the whole log's worth for the crash cases.
async fn load(world: &World) {
    world.append(&streams("c", 20), 20).await;
}

async fn told(signal: tokio::sync::oneshot::Receiver<()>, what: &str) {
    tokio::time::timeout(Duration::from_secs(60), signal)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
        .unwrap_or_else(|_| panic!("never: {what}"));
}

/// A relay killed after the broker confirmed a batch and before its checkpoint committed:
/// the next relay publishes the batch again; duplicates on the wire, none in effect.
///
/// # Panics
/// When the adapter breaks the contract.
pub async fn a_relay_killed_after_publishing_before_its_checkpoint<B: BrokerUnderTest>(broker: B) {
    let world = World::new();
    let consumer = world.consumer(&broker);
    consumer.wait_ready().await;
    let (tell, signal) = tokio::sync::oneshot::channel();
    let crashing = HangAfterPublishing {
        inner: broker.publisher().await,
        at: Mutex::new((2, Some(tell))),
    };
    let first = world.relay(crashing, 25);
    load(&world).await;
    told(signal, "the relay published its third batch").await;
    first.abort().await;
    let second = world.relay(broker.publisher().await, 25);
    world
        .assert_mirrored_once_in_order(Duration::from_secs(60))
        .await;
    assert!(
        Tally::get(&world.tally.duplicates) > 0,
        "the batch went out twice"
    );
    assert_eq!(Tally::get(&world.tally.handled), 400);
    second.shutdown().await.expect("the relay stops");
    consumer.stop().await.expect("the consumer stops cleanly");
}

/// Starts a consumer and a relay, appends the load, waits for `signal` (the consumer hanging
/// at a crash point), kills the consumer and starts another: every event is applied once,
/// in order.
async fn kill_and_resume<B: BrokerUnderTest>(
    broker: &B,
    world: &World,
    signal: tokio::sync::oneshot::Receiver<()>,
    crash_point: &str,
) {
    let first = world.consumer(broker);
    first.wait_ready().await;
    let relay = world.relay(broker.publisher().await, 25);
    load(world).await;
    told(signal, crash_point).await;
    first.kill().await;
    let second = world.consumer(broker);
    world
        .assert_mirrored_once_in_order(Duration::from_secs(60))
        .await;
    relay.shutdown().await.expect("the relay stops");
    second.stop().await.expect("the consumer stops cleanly");
}

/// A consumer killed after its transaction committed and before the broker heard of it:
/// the messages come again to the next consumer, which skips them.
///
/// # Panics
/// When the adapter breaks the contract.
pub async fn a_consumer_killed_after_its_commit_before_its_ack<B: BrokerUnderTest>(broker: B) {
    let world = World::new();
    let signal = world.handler.hang_after_commit_after(3);
    kill_and_resume(
        &broker,
        &world,
        signal,
        "the consumer committed its fourth transaction",
    )
    .await;
    assert!(
        Tally::get(&world.tally.duplicates) > 0,
        "the committed, unacknowledged messages came again"
    );
}

/// A consumer killed inside a handler, its batch's transaction open: nothing of the batch
/// took effect, and the next consumer applies it once.
///
/// # Panics
/// When the adapter breaks the contract.
pub async fn a_consumer_killed_mid_batch<B: BrokerUnderTest>(broker: B) {
    let world = World::new();
    let signal = world.handler.hang_in_handler_after(30);
    kill_and_resume(
        &broker,
        &world,
        signal,
        "the consumer is inside its 31st message",
    )
    .await;
    assert_eq!(Tally::get(&world.tally.handled), 400);
}

/// Starts a consumer and a relay, appends half the load (200 events), waits until some of
/// it is handled, runs `disturb` under that load and appends the other half; returns the
/// consumer, the relay and what `disturb` returned.
async fn disturbed_under_load<B: BrokerUnderTest, T>(
    broker: &B,
    world: &World,
    disturb: impl std::future::Future<Output = T>,
) -> (
    super::RunningConsumer,
    crate::projection::RunningProjections<crate::InMemoryEventStore>,
    T,
) {
    let consumer = world.consumer(broker);
    consumer.wait_ready().await;
    let relay = world.relay(broker.publisher().await, 25);
    world.append(&streams("c", 20), 10).await;
    eventually("some handled", || async {
        Tally::get(&world.tally.handled) >= 20
    })
    .await;
    let disturbed = disturb.await;
    world.append(&streams("c", 20), 10).await;
    (consumer, relay, disturbed)
}

/// Every connection of the relay and the consumer closed twice under load: both reconnect
/// by themselves, report ready again, and every event is applied once.
///
/// # Panics
/// When the adapter breaks the contract.
pub async fn connections_closed_under_load_are_recovered_from<B: BrokerUnderTest>(broker: B) {
    let world = World::new();
    let (consumer, relay, closed) =
        disturbed_under_load(&broker, &world, broker.close_connections()).await;
    assert!(closed >= 2, "the relay's and the consumer's: {closed}");
    broker.close_connections().await;
    world
        .assert_mirrored_once_in_order(Duration::from_secs(90))
        .await;
    consumer.wait_ready().await;
    relay.shutdown().await.expect("the relay stops");
    consumer.stop().await.expect("the consumer stops cleanly");
}

/// The broker stopped and started under load: relay and consumer recover by themselves and
/// every event is applied once.
///
/// # Panics
/// When the adapter breaks the contract.
pub async fn a_broker_restart_under_load_is_recovered_from<B: BrokerUnderTest>(broker: B) {
    let world = World::new();
    let (consumer, relay, ()) =
        disturbed_under_load(&broker, &world, broker.restart_broker()).await;
    world
        .assert_mirrored_once_in_order(Duration::from_secs(120))
        .await;
    consumer.wait_ready().await;
    relay.shutdown().await.expect("the relay stops");
    consumer.stop().await.expect("the consumer stops cleanly");
}
