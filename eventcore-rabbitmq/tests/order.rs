//! Per-stream order with several consumer processes: three consumers of one queue split into
//! four partitions (single active consumer each), the first stopped midway; every stream's
//! events are applied once each, in version order.

mod common;

use std::time::Duration;

use common::{options, vhost};
use eventcore::broker::{Inbox, Relay};
use eventcore::projection::ProjectionRunner;
use eventcore::testing::brokers::SuiteHandler;
use eventcore::testing::counter::{Counter, CounterCommand, CounterEvent};
use eventcore::{EventReader, InMemoryEventStore, Repository, Upcasters};
use eventcore_rabbitmq::{RabbitConsumer, RabbitPublisher};

const STREAMS: u64 = 8;
const PER_STREAM: u64 = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_keep_their_order_across_three_consumers_and_a_failover() {
    let vhost = vhost();
    let source = InMemoryEventStore::new();
    let target = InMemoryEventStore::new();
    let start_consumer = || {
        // Small prefetch and batches: the broker spreads a queue's messages over whichever
        // consumers it may, so without a single active consumer per queue one stream's
        // messages would be handled side by side.
        let mut options = options("ordered").with_partitions(4);
        options.prefetch = 8;
        options.batch = 4;
        let consumer = RabbitConsumer::new(
            &vhost.uri(),
            "shop",
            options,
            Inbox::new(target.clone(), "ordered"),
            // Appends each message's stream version to `mirror-<stream>`, pausing 1 ms in
            // each (room for a concurrent handler): the mirror shows the order applied.
            SuiteHandler::new(&target).with_pause(Duration::from_millis(1)),
        );
        let readiness = consumer.readiness();
        (common::spawn(consumer), readiness)
    };
    let (consumers, readiness): (Vec<_>, Vec<_>) = (0..3).map(|_| start_consumer()).unzip();
    // The topology must stand before the relay publishes: a batch that is only partly routed
    // (a binding appearing mid-batch) is published again whole, and the part that did get
    // through would be handled before the earlier messages of its stream.
    for readiness in &readiness {
        common::wait_ready(readiness).await;
    }
    // The streams interleave in the log: round robin over them.
    let repo = Repository::<Counter>::new(source.clone());
    for round in 0..PER_STREAM {
        for s in 0..STREAMS {
            repo.execute(CounterCommand::add(format!("s{s}"), round + 1))
                .await
                .unwrap();
        }
    }
    let head = source.head_position().await.unwrap();
    let running = ProjectionRunner::new(source.clone())
        .add(
            "relay",
            Relay::new(
                RabbitPublisher::connect(&vhost.uri(), "shop")
                    .await
                    .unwrap(),
            ),
            common::relay_options(50),
        )
        .start()
        .unwrap();
    let applied = || async { target.read_all(1, usize::MAX).await.unwrap().len() as u64 };
    let total = STREAMS * PER_STREAM;
    // Stop the first consumer once some of the work is done; the others take its partitions.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while applied().await < total / 4 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "consumers make progress"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut consumers = consumers.into_iter();
    let (stop, task) = consumers.next().unwrap();
    let _ = stop.send(());
    task.await.unwrap().unwrap();
    while applied().await < total {
        assert!(
            tokio::time::Instant::now() < deadline,
            "applied {} of {total}",
            applied().await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    running.wait_until("relay", head).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(applied().await, total, "nothing applied twice");
    for s in 0..STREAMS {
        let stream = format!("counter-mirror-counter-s{s}");
        let versions: Vec<u64> = target
            .read_stream(&eventcore::StreamId::new(stream.clone()).unwrap(), 1, 100)
            .await
            .unwrap()
            .iter()
            .map(
                |e| match e.decode::<CounterEvent>(&Upcasters::default()).unwrap() {
                    CounterEvent::Added { amount } => amount,
                    other => panic!("{other:?}"),
                },
            )
            .collect();
        assert_eq!(
            versions,
            (1..=PER_STREAM).collect::<Vec<_>>(),
            "{stream}: applied once each, in version order"
        );
    }
    running.shutdown().await.unwrap();
    for (stop, task) in consumers {
        let _ = stop.send(());
        task.await.unwrap().unwrap();
    }
}
