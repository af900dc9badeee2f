//! Recovery against the real RabbitMQ: the broker closes the test's connections under load, and a
//! relay fails after the broker confirmed a batch (as if it crashed before its checkpoint);
//! the relay and the consumer recover by themselves, and every event takes effect once.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use common::{Counts, Mirror, Vhost, options, total};
use eventcore::backoff::Backoff;
use eventcore::broker::{Inbox, Message, PublishError, Publisher, Relay};
use eventcore::projection::{ErrorPolicy, ProjectionOptions, ProjectionRunner};
use eventcore::testing::counter::{Counter, CounterCommand};
use eventcore::{EventReader, InMemoryEventStore, Repository};
use eventcore_rabbitmq::{RabbitConsumer, RabbitPublisher};

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
    let consumer = RabbitConsumer::new(
        &vhost.uri(),
        "shop",
        options("mirror"),
        Inbox::new(target.clone(), "mirror"),
        Mirror {
            repo: Repository::new(target.clone()),
            failures: Arc::default(),
            fail_first: 0,
        },
    );
    let counts = Arc::new(Counts::default());
    let consumer = consumer.with_metrics(counts.clone());
    let readiness = consumer.readiness();
    assert!(!readiness.is_ready(), "not consuming before it runs");
    let (stop, consuming) = common::spawn(consumer);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !readiness.is_ready() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the consumer became ready"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let publisher = ConfirmedThenCrashed {
        inner: RabbitPublisher::connect(&vhost.uri(), "shop")
            .await
            .unwrap(),
        batches: AtomicU32::new(0),
    };
    let relay_options = ProjectionOptions::default()
        .with_batch_size(25)
        .with_policy(ErrorPolicy::retry_forever().with_backoff(Backoff::new(
            Duration::from_millis(20),
            Duration::from_millis(200),
        )));
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
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let mut totals = Vec::new();
        for c in 0..6 {
            totals.push(total(&target, &format!("mirror-counter-c{c}")).await);
        }
        if totals.iter().all(|t| *t == 100) {
            break;
        }
        assert!(
            totals.iter().all(|t| *t <= 100),
            "an event applied twice: {totals:?}"
        );
        assert!(
            tokio::time::Instant::now() < deadline,
            "the consumer recovered: {totals:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for c in 0..6 {
        assert_eq!(
            total(&target, &format!("mirror-counter-c{c}")).await,
            100,
            "c{c}: every event once in effect"
        );
    }
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
