//! The suite's steady-state cases: order under racing relays and several consumers, retries
//! and dead letters, and a clean shutdown.

use std::time::Duration;

use super::BrokerUnderTest;
use super::handler::{GROUP, Tally, World, streams};
use crate::backoff::Backoff;
use crate::broker::STOP_GRACE;

/// Waits (up to 30 s) until `condition` holds, polling.
pub(super) async fn eventually<F: std::future::Future<Output = bool>>(
    what: &str,
    mut condition: impl FnMut() -> F,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !condition().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// 10,000 events over 100 streams, published by two relays racing on one checkpoint (each
/// batch may go out twice) to three consumer processes of one group: every stream's events
/// are applied once each, in version order.
///
/// # Panics
/// When the adapter breaks the contract.
pub async fn streams_keep_their_order_with_racing_relays_and_three_consumers<B: BrokerUnderTest>(
    broker: B,
) {
    let world = World::new();
    let consumers: Vec<_> = (0..3).map(|_| world.consumer(&broker)).collect();
    for consumer in &consumers {
        consumer.wait_ready().await;
    }
    let relays = [
        world.relay(broker.publisher().await, 100),
        world.relay(broker.publisher().await, 100),
    ];
    world.append(&streams("s", 100), 100).await;
    world
        .assert_mirrored_once_in_order(Duration::from_secs(180))
        .await;
    assert_eq!(
        Tally::get(&world.tally.handled),
        10_000,
        "each event applied once"
    );
    for relay in relays {
        relay.shutdown().await.expect("the relay stops");
    }
    for consumer in consumers {
        consumer.stop().await.expect("the consumer stops cleanly");
    }
}

/// A stream failing twice is retried in place and applied in order; a stream failing on and
/// on is dead-lettered after the attempts allowed, with the reason, without holding up other
/// streams; a malformed message is dead-lettered at once; replayed after the cause is fixed,
/// the dead letter is applied once.
///
/// # Panics
/// When the adapter breaks the contract.
pub async fn failing_messages_are_retried_in_order_then_dead_lettered_and_replayed<
    B: BrokerUnderTest,
>(
    broker: B,
) {
    let world = World::new();
    world.handler.fail("counter-flaky", 2);
    world.handler.fail("counter-poison", u32::MAX);
    let consumer = world.consumer(&broker);
    consumer.wait_ready().await;
    let relay = world.relay(broker.publisher().await, 50);
    world.append(&["poison".to_owned()], 1).await;
    world.append(&["flaky".to_owned()], 5).await;
    world.append(&streams("ok", 10), 20).await;
    broker.publish_malformed(GROUP, b"{ not a message").await;
    world
        .assert_mirrored_except(Duration::from_secs(60), &["poison"])
        .await;
    assert!(
        Tally::get(&world.tally.retried) >= 2,
        "the flaky stream was retried"
    );
    eventually("two dead letters", || async {
        broker.dead_letters(GROUP).await.len() >= 2
    })
    .await;
    let letters = broker.dead_letters(GROUP).await;
    assert_eq!(letters.len(), 2, "{letters:?}");
    let poison = letters
        .iter()
        .find(|l| l.attempts > 0)
        .expect("the poison message");
    assert_eq!(poison.attempts, 3, "dead-lettered after 3 attempts");
    assert!(poison.error.contains("failing on cue"), "{poison:?}");
    assert!(poison.message_id.is_some(), "{poison:?}");
    assert!(!poison.origin.is_empty(), "{poison:?}");
    let malformed = letters
        .iter()
        .find(|l| l.attempts == 0)
        .expect("the malformed message, dead-lettered at once");
    assert!(!malformed.error.is_empty(), "{malformed:?}");
    assert_eq!(
        Tally::get(&world.tally.dead_lettered),
        2,
        "two dead-lettered"
    );

    world.handler.heal("counter-poison");
    assert_eq!(broker.replay_dead_letters(GROUP).await, 2);
    world
        .assert_mirrored_once_in_order(Duration::from_secs(60))
        .await;
    // The malformed message is no better the second time.
    eventually(
        "the malformed message back among the dead letters",
        || async {
            let letters = broker.dead_letters(GROUP).await;
            letters.len() == 1 && letters[0].attempts == 0
        },
    )
    .await;
    relay.shutdown().await.expect("the relay stops");
    consumer.stop().await.expect("the consumer stops cleanly");
}

/// A consumer stopped while it handles a batch finishes it, acknowledges it and stops: the
/// next consumer of its group is handed nothing it applied.
///
/// # Panics
/// When the adapter breaks the contract.
pub async fn a_clean_shutdown_acknowledges_what_it_handled<B: BrokerUnderTest>(broker: B) {
    let mut world = World::new();
    world.handler = world.handler.clone().with_pause(Duration::from_millis(2));
    let first = world.consumer(&broker);
    first.wait_ready().await;
    let relay = world.relay(broker.publisher().await, 50);
    // Far more than a consumer holds in flight (several partitions' batches of 64): the stop
    // lands midway.
    world.append(&streams("c", 50), 40).await;
    eventually("the first consumer handles a few", || async {
        Tally::get(&world.tally.handled) >= 40
    })
    .await;
    tokio::time::timeout(Duration::from_secs(30), first.stop())
        .await
        .expect("a clean stop finishes")
        .expect("the consumer stops cleanly");
    let by_first = Tally::get(&world.tally.handled);
    assert!(by_first < 2_000, "stopped midway ({by_first} handled)");
    let second = world.consumer(&broker);
    world
        .assert_mirrored_once_in_order(Duration::from_secs(60))
        .await;
    assert_eq!(
        Tally::get(&world.tally.duplicates),
        0,
        "what the first consumer applied was acknowledged"
    );
    assert_eq!(Tally::get(&world.tally.handled), 2_000);
    relay.shutdown().await.expect("the relay stops");
    second.stop().await.expect("the consumer stops cleanly");
}

/// A consumer asked to stop while a message waits out a long pause before its next attempt
/// stops after the grace ([`STOP_GRACE`]), without acknowledging the message: the next
/// consumer of its group gets it and applies it.
///
/// # Panics
/// When the adapter breaks the contract.
pub async fn a_stop_does_not_wait_for_a_message_retrying_in_place<B: BrokerUnderTest>(broker: B) {
    let world = World::new();
    world.handler.fail("counter-stuck", u32::MAX);
    // A minute between attempts: a stop that waited for the batch would take that long.
    let minute = Backoff::new(Duration::from_secs(60), Duration::from_secs(60));
    let patient = world.consumer_with(&broker, 100, minute);
    patient.wait_ready().await;
    let relay = world.relay(broker.publisher().await, 50);
    world.append(&["stuck".to_owned()], 1).await;
    eventually("the message failed once", || async {
        Tally::get(&world.tally.retried) >= 1
    })
    .await;
    let asked = tokio::time::Instant::now();
    tokio::time::timeout(STOP_GRACE + Duration::from_secs(20), patient.stop())
        .await
        .expect("the stop is not held up by the retry")
        .expect("the consumer stops cleanly");
    assert!(asked.elapsed() >= STOP_GRACE, "the batch had its grace");
    world.handler.heal("counter-stuck");
    let next = world.consumer(&broker);
    world
        .assert_mirrored_once_in_order(Duration::from_secs(60))
        .await;
    assert_eq!(Tally::get(&world.tally.dead_lettered), 0);
    relay.shutdown().await.expect("the relay stops");
    next.stop().await.expect("the consumer stops cleanly");
}

/// A second consumer process joins the group mid-stream and later leaves it (the work is
/// shared out again each time): every stream is applied once each, in order.
///
/// # Panics
/// When the adapter breaks the contract.
pub async fn a_consumer_joining_and_leaving_mid_stream<B: BrokerUnderTest>(broker: B) {
    let mut world = World::new();
    world.handler = world.handler.clone().with_pause(Duration::from_millis(5));
    let first = world.consumer(&broker);
    first.wait_ready().await;
    let relay = world.relay(broker.publisher().await, 50);
    world.append(&streams("r", 40), 25).await;
    eventually("the first consumer handles some", || async {
        Tally::get(&world.tally.handled) >= 100
    })
    .await;
    let second = world.consumer(&broker);
    second.wait_ready().await;
    let joined_at = Tally::get(&world.tally.handled);
    eventually("both handle more", || async {
        Tally::get(&world.tally.handled) >= joined_at + 200
    })
    .await;
    assert!(
        Tally::get(&world.tally.handled) < 1_000,
        "the second left mid-stream"
    );
    second
        .stop()
        .await
        .expect("the second consumer stops cleanly");
    world
        .assert_mirrored_once_in_order(Duration::from_secs(90))
        .await;
    assert_eq!(Tally::get(&world.tally.handled), 1_000);
    relay.shutdown().await.expect("the relay stops");
    first.stop().await.expect("the consumer stops cleanly");
}
