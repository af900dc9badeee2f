//! Recovery against the real RabbitMQ: the broker closes the test's connections under load, and a
//! relay fails after the broker confirmed a batch (as if it crashed before its checkpoint);
//! the relay and the consumer recover by themselves, and every event takes effect once.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use common::{Counts, Vhost};
use eventcore::broker::{Message, PublishError, Publisher, Relay};
use eventcore::projection::ProjectionRunner;
use eventcore::testing::counter::{Counter, CounterCommand};
use eventcore::{EventReader, InMemoryEventStore, Repository};
use eventcore_rabbitmq::RabbitPublisher;

/// Publishes, then reports a failure for every third batch although the broker confirmed it:
/// the relay publishes that batch again, as after a crash before its checkpoint.
struct ConfirmedThenCrashed {
    inner: RabbitPublisher,
    batches: AtomicU32,
}

#[async_trait]
impl Publisher for ConfirmedThenCrashed {
    async fn publish(&self, messages: &[Message]) -> Result<(), PublishError> {
        self.inner.publish(messages).await?;
        if self.batches.fetch_add(1, Ordering::SeqCst) % 3 == 0 {
            return Err(PublishError::Connection(
                "crashed before the checkpoint".into(),
            ));
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_and_consumer_recover_from_closed_connections_and_a_relay_crash() {
    let vhost = Vhost::new();
    let source = InMemoryEventStore::new();
    let target = InMemoryEventStore::new();
    let consumer = common::mirror_consumer(&vhost, &target, "mirror", 0);
    let counts = Arc::new(Counts::default());
    let consumer = consumer.with_metrics(counts.clone());
    let readiness = consumer.readiness();
    assert!(!readiness.is_ready(), "not consuming before it runs");
    let (stop, consuming) = common::spawn(consumer);
    common::wait_ready(&readiness).await;
    let publisher = ConfirmedThenCrashed {
        inner: RabbitPublisher::connect(&vhost.uri(), "shop")
            .await
            .unwrap(),
        batches: AtomicU32::new(0),
    };
    let relay_options = common::relay_options(25);
    let running = ProjectionRunner::new(source.clone())
        .add(
            "relay",
            Relay::new(publisher).with_metrics(counts.clone()),
            relay_options,
        )
        .start()
        .unwrap();
    // 600 commands over 6 counters while the broker drops every connection twice.
    let repo = Repository::<Counter>::new(source.clone());
    for i in 0..600u64 {
        repo.execute(CounterCommand::add(format!("c{}", i % 6), 1))
            .await
            .unwrap();
        if i == 200 || i == 400 {
            let closed = vhost.close_connections();
            assert!(
                closed >= 2,
                "the relay's and the consumer's connections: {closed}"
            );
        }
    }
    let head = source.head_position().await.unwrap();
    tokio::time::timeout(Duration::from_secs(60), running.wait_until("relay", head))
        .await
        .expect("the relay recovered and published everything")
        .unwrap();
    let counters: Vec<String> = (0..6).map(|c| format!("c{c}")).collect();
    common::wait_for_mirrors(&target, &counters, &[100; 6]).await;
    assert!(
        readiness.is_ready(),
        "ready again after the closed connections"
    );
    assert_eq!(
        counts.handled.load(Ordering::SeqCst),
        600,
        "each event applied once"
    );
    assert!(
        counts.duplicates.load(Ordering::SeqCst) > 0,
        "the re-sent batches were skipped"
    );
    assert!(counts.published.load(Ordering::SeqCst) >= 600);
    running.shutdown().await.unwrap();
    let _ = stop.send(());
    consuming.await.unwrap().unwrap();
    assert!(!readiness.is_ready(), "not ready once stopped");
}
