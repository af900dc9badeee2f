//! The RabbitMQ adapter under the broker conformance suite of `eventcore::testing::brokers`:
//! a vhost per test, consumers with four partitions.

use async_trait::async_trait;
use eventcore::testing::brokers::{BrokerUnderTest, ConsumerSpec, DeadLetterView, RunningConsumer};
use eventcore_rabbitmq::{ConsumerOptions, DeadLetters, RabbitConsumer, RabbitPublisher};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{BasicProperties, Connection, ConnectionProperties};

use std::sync::Arc;

use super::{Vhost, rabbitmqctl};

/// The exchange the suite publishes to.
const EXCHANGE: &str = "shop";

/// A vhost of the test's own on the local broker.
pub struct Rabbit {
    vhost: Arc<Vhost>,
}

impl Rabbit {
    pub async fn isolated() -> Self {
        Self {
            vhost: Arc::new(tokio::task::spawn_blocking(super::vhost).await.unwrap()),
        }
    }
}

#[async_trait]
impl BrokerUnderTest for Rabbit {
    type Publisher = RabbitPublisher;

    async fn publisher(&self) -> RabbitPublisher {
        RabbitPublisher::connect(&self.vhost.uri(), EXCHANGE)
            .await
            .expect("the broker accepts the publisher")
    }

    fn consumer(&self, spec: ConsumerSpec) -> RunningConsumer {
        let options = ConsumerOptions::new(spec.group, &["counter.*"])
            .with_partitions(4)
            .with_max_attempts(spec.max_attempts)
            .with_backoff(spec.backoff);
        let consumer = RabbitConsumer::new(
            &self.vhost.uri(),
            EXCHANGE,
            options,
            spec.inbox,
            spec.handler,
        )
        .with_metrics(spec.metrics);
        let readiness = consumer.readiness();
        RunningConsumer::spawn(
            move || readiness.is_ready(),
            |shutdown| consumer.run(shutdown),
        )
    }

    async fn close_connections(&self) -> usize {
        let vhost = self.vhost.clone();
        tokio::task::spawn_blocking(move || vhost.close_connections())
            .await
            .unwrap()
            .expect("rabbitmqctl closes the connections")
    }

    async fn restart_broker(&self) {
        tokio::task::spawn_blocking(|| {
            let restart = super::Restart;
            rabbitmqctl(&["stop_app"]);
            std::thread::sleep(std::time::Duration::from_secs(1));
            drop(restart);
        })
        .await
        .unwrap();
    }

    async fn publish_malformed(&self, group: &str, body: &[u8]) {
        let connection = Connection::connect(&self.vhost.uri(), ConnectionProperties::default())
            .await
            .unwrap();
        let channel = connection.create_channel().await.unwrap();
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .unwrap();
        // Straight into the first partition's queue: it carries no stream to route by.
        let queue = format!("{group}.p0");
        let confirm = channel
            .basic_publish(
                "".into(),
                queue.as_str().into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..Default::default()
                },
                body,
                BasicProperties::default(),
            )
            .await
            .unwrap()
            .await
            .unwrap();
        assert!(confirm.is_ack(), "the broker took the malformed message");
        let _ = connection.close(200, "done".into()).await;
    }

    async fn dead_letters(&self, group: &str) -> Vec<DeadLetterView> {
        DeadLetters::new(&self.vhost.uri(), group)
            .list(1_000)
            .await
            .expect("the dead letters list")
            .into_iter()
            .map(|letter| DeadLetterView {
                message_id: letter.message_id,
                error: letter.error,
                attempts: u32::try_from(letter.attempts).unwrap_or(u32::MAX),
                origin: format!(
                    "{} {}",
                    letter.original_exchange, letter.original_routing_key
                ),
            })
            .collect()
    }

    async fn replay_dead_letters(&self, group: &str) -> usize {
        DeadLetters::new(&self.vhost.uri(), group)
            .replay(1_000)
            .await
            .expect("the dead letters replay")
    }
}
