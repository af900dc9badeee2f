//! [`Kafka`]: the adapter as the broker suite drives it.

use std::time::Duration;

use async_trait::async_trait;
use eventcore::testing::brokers::{BrokerUnderTest, ConsumerSpec, DeadLetterView, RunningConsumer};
use eventcore_kafka::{ConsumerOptions, DeadLetters, KafkaConsumer, KafkaPublisher, Topics};
use rdkafka::producer::{FutureProducer, FutureRecord};

use super::Tansu;

/// The topic the suite's events go to (a topic per aggregate type, `suite.<category>`).
pub const TOPIC: &str = "suite.counter";

/// A broker of the test's own with the suite's topic.
pub struct Kafka {
    pub broker: Tansu,
}

impl Kafka {
    pub async fn isolated() -> Self {
        let broker = Tansu::start().await;
        eventcore_kafka::ensure_topics(broker.brokers(), &[TOPIC], 4, 1)
            .await
            .expect("the topic is created");
        Self { broker }
    }

    /// Consumer options as the tests use them: short session timeouts, so that a group
    /// forms and rebalances in seconds.
    pub fn options(group: &str) -> ConsumerOptions {
        ConsumerOptions::new(group, &[TOPIC])
            .with_config("session.timeout.ms", "6000")
            .with_config("heartbeat.interval.ms", "500")
    }
}

#[async_trait]
impl BrokerUnderTest for Kafka {
    type Publisher = KafkaPublisher;

    async fn publisher(&self) -> KafkaPublisher {
        KafkaPublisher::new(self.broker.brokers(), Topics::per_category("suite."))
            .expect("the producer is configured")
    }

    fn consumer(&self, spec: ConsumerSpec) -> RunningConsumer {
        let options = Self::options(&spec.group)
            .with_max_attempts(spec.max_attempts)
            .with_backoff(spec.backoff);
        let consumer = KafkaConsumer::new(self.broker.brokers(), options, spec.inbox, spec.handler)
            .with_metrics(spec.metrics);
        let readiness = consumer.readiness();
        RunningConsumer::spawn(
            move || readiness.is_ready(),
            |shutdown| consumer.run(shutdown),
        )
    }

    async fn close_connections(&self) -> usize {
        self.broker.cut_connections()
    }

    async fn restart_broker(&self) {
        self.broker.pause(Duration::from_secs(3)).await;
    }

    async fn publish_malformed(&self, _group: &str, body: &[u8]) {
        let producer: FutureProducer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", self.broker.brokers())
            .create()
            .unwrap();
        producer
            .send(
                FutureRecord::to(TOPIC)
                    .key("counter-malformed")
                    .payload(body),
                Duration::from_secs(10),
            )
            .await
            .expect("the malformed record is delivered");
    }

    async fn dead_letters(&self, group: &str) -> Vec<DeadLetterView> {
        DeadLetters::new(self.broker.brokers(), &format!("{group}.dlq"))
            .list(1_000)
            .await
            .expect("the dead letters list")
            .into_iter()
            .map(|letter| DeadLetterView {
                message_id: letter.message_id,
                error: letter.error,
                attempts: letter.attempts,
                origin: format!(
                    "{}[{}]@{} key {}",
                    letter.original_topic,
                    letter.original_partition,
                    letter.original_offset,
                    letter.original_key
                ),
            })
            .collect()
    }

    async fn replay_dead_letters(&self, group: &str) -> usize {
        DeadLetters::new(self.broker.brokers(), &format!("{group}.dlq"))
            .replay(1_000)
            .await
            .expect("the dead letters replay")
    }
}
