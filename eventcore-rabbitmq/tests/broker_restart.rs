//! The broker application stopped and started again under load (`rabbitmqctl stop_app`,
//! `start_app`): the relay and the consumer recover by themselves, and every event takes
//! effect once. It stops the whole broker for a few seconds, so it runs alone in its binary.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Mirror, Vhost, options, rabbitmqctl, total};
use eventcore::backoff::Backoff;
use eventcore::broker::{Inbox, Relay};
use eventcore::projection::{ErrorPolicy, ProjectionOptions, ProjectionRunner};
use eventcore::testing::counter::{Counter, CounterCommand};
use eventcore::{EventReader, InMemoryEventStore, Repository};
use eventcore_rabbitmq::{RabbitConsumer, RabbitPublisher};

/// Starts the broker application again however the test ends.
struct Restart;

impl Drop for Restart {
    fn drop(&mut self) {
        let _ = std::process::Command::new("rabbitmqctl")
            .arg("start_app")
            .output();
        let _ = std::process::Command::new("rabbitmqctl")
            .args(["await_startup", "--timeout", "60"])
            .output();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_and_consumer_recover_when_the_broker_restarts() {
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
    let readiness = consumer.readiness();
    let (stop, consuming) = common::spawn(consumer);
    while !readiness.is_ready() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let running = ProjectionRunner::new(source.clone())
        .add(
            "relay",
            Relay::new(
                RabbitPublisher::connect(&vhost.uri(), "shop")
                    .await
                    .unwrap(),
            ),
            ProjectionOptions::default()
                .with_batch_size(20)
                .with_policy(ErrorPolicy::retry_forever().with_backoff(Backoff::new(
                    Duration::from_millis(50),
                    Duration::from_millis(500),
                ))),
        )
        .start()
        .unwrap();
    let repo = Repository::<Counter>::new(source.clone());
    for i in 0..300u64 {
        repo.execute(CounterCommand::add(format!("c{}", i % 3), 1))
            .await
            .unwrap();
        if i == 150 {
            let restart = Restart;
            rabbitmqctl(&["stop_app"]);
            // Writes go on while the broker is away; the relay catches up afterwards.
            tokio::time::sleep(Duration::from_secs(1)).await;
            drop(restart);
        }
    }
    let head = source.head_position().await.unwrap();
    tokio::time::timeout(Duration::from_secs(60), running.wait_until("relay", head))
        .await
        .expect("the relay recovered")
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let mut totals = Vec::new();
        for c in 0..3 {
            totals.push(total(&target, &format!("mirror-counter-c{c}")).await);
        }
        if totals.iter().all(|t| *t == 100) {
            break;
        }
        assert!(
            totals.iter().all(|t| *t <= 100),
            "applied twice: {totals:?}"
        );
        assert!(
            tokio::time::Instant::now() < deadline,
            "the consumer recovered: {totals:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(readiness.is_ready(), "ready again");
    running.shutdown().await.unwrap();
    let _ = stop.send(());
    consuming.await.unwrap().unwrap();
}
