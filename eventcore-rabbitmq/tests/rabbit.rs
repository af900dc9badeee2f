//! Against the real RabbitMQ on 127.0.0.1:5672 (guest/guest), each test in a vhost of its own,
//! made and removed with `rabbitmqctl`. A missing broker fails the tests.

mod common;

use std::time::Duration;

use common::{total, vhost};
use eventcore::broker::{Message, Publisher, Relay};
use eventcore::projection::ProjectionRunner;
use eventcore::testing::counter::{Counter, CounterCommand};
use eventcore::{EventReader, InMemoryEventStore, Repository};
use eventcore_rabbitmq::RabbitPublisher;
use lapin::options::{BasicGetOptions, BasicPublishOptions};
use lapin::{BasicProperties, Connection, ConnectionProperties};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_travels_through_rabbitmq_and_is_applied_once_despite_duplicates_on_the_wire() {
    let vhost = vhost();
    let source = InMemoryEventStore::new();
    let target = InMemoryEventStore::new();
    let consumer = common::mirror_consumer(&vhost, &target, "mirror", 0);
    let (stop, consuming) = common::spawn(consumer);
    let repo = Repository::<Counter>::new(source.clone());
    for i in 0..30u64 {
        repo.execute(CounterCommand::add(format!("c{}", i % 3), i + 1))
            .await
            .unwrap();
    }
    let head = source.head_position().await.unwrap();
    let retry = common::relay_options(8);
    // Two relays under different names: every event goes out twice.
    let running = ProjectionRunner::new(source.clone())
        .add(
            "relay-a",
            Relay::new(
                RabbitPublisher::connect(&vhost.uri(), "shop")
                    .await
                    .unwrap(),
            ),
            retry,
        )
        .add(
            "relay-b",
            Relay::new(
                RabbitPublisher::connect(&vhost.uri(), "shop")
                    .await
                    .unwrap(),
            ),
            retry,
        )
        .start()
        .unwrap();
    for name in ["relay-a", "relay-b"] {
        tokio::time::timeout(Duration::from_secs(30), running.wait_until(name, head))
            .await
            .expect("published and confirmed")
            .unwrap();
    }
    let expected: Vec<u64> = (0..3u64)
        .map(|c| (0..30u64).filter(|i| i % 3 == c).map(|i| i + 1).sum())
        .collect();
    let counters: Vec<String> = (0..3).map(|c| format!("c{c}")).collect();
    common::wait_for_mirrors(&target, &counters, &expected).await;
    running.shutdown().await.unwrap();
    let _ = stop.send(());
    consuming.await.unwrap().unwrap();
    // Every delivery was acknowledged: nothing is left in the queue once the consumer is gone.
    let connection = Connection::connect(&vhost.uri(), ConnectionProperties::default())
        .await
        .unwrap();
    let queue = connection
        .create_channel()
        .await
        .unwrap()
        .queue_declare(
            "mirror".into(),
            lapin::options::QueueDeclareOptions {
                passive: true,
                durable: true,
                ..Default::default()
            },
            Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(queue.message_count(), 0, "all 60 deliveries acknowledged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_exhausted_messages_go_to_the_dead_letter_queue_with_their_reason() {
    let vhost = vhost();
    let source = InMemoryEventStore::new();
    let target = InMemoryEventStore::new();
    let consumer = common::mirror_consumer(&vhost, &target, "mirror", u32::MAX);
    let readiness = consumer.readiness();
    let (stop, consuming) = common::spawn(consumer);
    // Wait until the consumer consumes (its queue is bound: a message published before would
    // be dropped unroutable), then publish a malformed message and one that always fails.
    common::wait_ready(&readiness).await;
    let connection = Connection::connect(&vhost.uri(), ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    channel
        .basic_publish(
            "shop".into(),
            "counter.added".into(),
            BasicPublishOptions::default(),
            b"not json",
            BasicProperties::default(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    let events = Repository::<Counter>::new(source.clone())
        .execute(CounterCommand::add("bad", 5))
        .await
        .unwrap();
    let recorded = source.read_all(events[0].global_position, 1).await.unwrap();
    RabbitPublisher::connect(&vhost.uri(), "shop")
        .await
        .unwrap()
        .publish(&[Message::from_event(&recorded[0])])
        .await
        .unwrap();
    let mut letters = Vec::new();
    for _ in 0..200 {
        if let Some(message) = channel
            .basic_get("mirror.dlq".into(), BasicGetOptions { no_ack: true })
            .await
            .unwrap()
        {
            letters.push(message.delivery);
            if letters.len() == 2 {
                break;
            }
        } else {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    assert_eq!(letters.len(), 2, "both dead-lettered");
    let header = |d: &lapin::message::Delivery, name: &str| -> String {
        match d.properties.headers().as_ref().and_then(|h| {
            h.inner()
                .get(&lapin::types::ShortString::from(name))
                .cloned()
        }) {
            Some(lapin::types::AMQPValue::LongString(text)) => {
                String::from_utf8_lossy(text.as_bytes()).into_owned()
            }
            Some(lapin::types::AMQPValue::LongLongInt(n)) => n.to_string(),
            other => panic!("header {name}: {other:?}"),
        }
    };
    let malformed = &letters[0];
    assert_eq!(malformed.data, b"not json");
    assert_eq!(header(malformed, "x-error"), "missing message_id");
    assert_eq!(header(malformed, "x-attempts"), "0");
    let exhausted = &letters[1];
    assert_eq!(header(exhausted, "x-attempts"), "3");
    assert!(header(exhausted, "x-error").contains("not yet"));
    assert_eq!(header(exhausted, "x-original-routing-key"), "counter.added");
    assert_eq!(header(exhausted, "x-original-exchange"), "shop");
    assert_eq!(header(exhausted, "stream"), "counter-bad");
    assert_eq!(
        total(&target, "mirror-counter-bad").await,
        0,
        "nothing of it applied"
    );
    let _ = stop.send(());
    consuming.await.unwrap().unwrap();
}

/// Records the size of every committed batch.
struct Batches(std::sync::Arc<std::sync::Mutex<Vec<usize>>>);

#[async_trait::async_trait]
impl eventcore::broker::MessageHandler<eventcore::InMemoryTransaction> for Batches {
    async fn handle(
        &self,
        _: &mut eventcore::InMemoryTransaction,
        _: &Message,
    ) -> Result<(), eventcore::broker::HandlerError> {
        Ok(())
    }

    async fn committed(&self, messages: &[&Message]) {
        self.0.lock().unwrap().push(messages.len());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lingering_consumer_applies_messages_arriving_close_together_in_one_batch() {
    let vhost = vhost();
    let target = InMemoryEventStore::new();
    let sizes = std::sync::Arc::default();
    let options = common::options("lingering").with_linger(Duration::from_secs(2));
    let consumer = eventcore_rabbitmq::RabbitConsumer::new(
        &vhost.uri(),
        "shop",
        options,
        eventcore::broker::Inbox::new(target, "lingering"),
        Batches(std::sync::Arc::clone(&sizes)),
    );
    let ready = consumer.readiness();
    let (stop, consuming) = common::spawn(consumer);
    common::wait_ready(&ready).await;
    let source = InMemoryEventStore::new();
    let repo = Repository::<Counter>::new(source.clone());
    for i in 0..5u64 {
        repo.execute(CounterCommand::add("c", i + 1)).await.unwrap();
    }
    let events = source.read_all(1, 10).await.unwrap();
    let publisher = RabbitPublisher::connect(&vhost.uri(), "shop")
        .await
        .unwrap();
    // One at a time, 20 ms apart: without lingering each would be a batch of its own.
    for event in &events {
        publisher
            .publish(&[Message::from_event(event)])
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while sizes.lock().unwrap().iter().sum::<usize>() < 5 {
        assert!(tokio::time::Instant::now() < deadline, "all five applied");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(*sizes.lock().unwrap(), [5], "one transaction for the five");
    let _ = stop.send(());
    consuming.await.unwrap().unwrap();
}
