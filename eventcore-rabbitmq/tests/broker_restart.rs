//! The broker application stopped and started again under load (`rabbitmqctl stop_app`,
//! `start_app`): the relay and the consumer recover by themselves, and every event takes
//! effect once. It stops the whole broker for a few seconds, so it runs alone in its binary.

mod common;

use std::time::Duration;

use common::{Vhost, rabbitmqctl};
use eventcore::broker::Relay;
use eventcore::projection::ProjectionRunner;
use eventcore::testing::counter::{Counter, CounterCommand};
use eventcore::{EventReader, InMemoryEventStore, Repository};
use eventcore_rabbitmq::RabbitPublisher;

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
    let consumer = common::mirror_consumer(&vhost, &target, "mirror", 0);
    let readiness = consumer.readiness();
    let (stop, consuming) = common::spawn(consumer);
    common::wait_ready(&readiness).await;
    let running = ProjectionRunner::new(source.clone())
        .add(
            "relay",
            Relay::new(
                RabbitPublisher::connect(&vhost.uri(), "shop")
                    .await
                    .unwrap(),
            ),
            common::relay_options(20),
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
    let counters: Vec<String> = (0..3).map(|c| format!("c{c}")).collect();
    common::wait_for_mirrors(&target, &counters, &[100; 3]).await;
    assert!(readiness.is_ready(), "ready again");
    running.shutdown().await.unwrap();
    let _ = stop.send(());
    consuming.await.unwrap().unwrap();
}
