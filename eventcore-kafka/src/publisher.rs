//! [`KafkaPublisher`]: the relay's [`Publisher`] on Kafka.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use eventcore::broker::{Message, PublishError, Publisher};
use rdkafka::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};

use crate::wire::headers;

/// Which topic a message goes to.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Topics {
    /// Every message to one topic.
    Single(String),
    /// `<prefix><category>`: a topic per aggregate type (`shop.order`, `shop.payment`).
    PerCategory {
        /// What every topic name starts with.
        prefix: String,
    },
}

impl Topics {
    /// Every message to `topic`.
    pub fn single(topic: impl Into<String>) -> Self {
        Self::Single(topic.into())
    }

    /// A topic per aggregate type, named `<prefix><category>`.
    pub fn per_category(prefix: impl Into<String>) -> Self {
        Self::PerCategory {
            prefix: prefix.into(),
        }
    }

    /// The topic of `message`.
    pub fn topic_of(&self, message: &Message) -> String {
        match self {
            Self::Single(topic) => topic.clone(),
            Self::PerCategory { prefix } => format!("{prefix}{}", message.stream.category()),
        }
    }
}

/// The client settings shared by producers and consumers: `bootstrap.servers` and whatever
/// `extra` adds (security, timeouts); later settings win.
pub(crate) fn client_config(brokers: &str, extra: &[(String, String)]) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        // Small requests (a relay batch, an offset commit) go out at once, not after the
        // peer's delayed acknowledgement.
        .set("socket.nagle.disable", "true");
    for (key, value) in extra {
        config.set(key, value);
    }
    config
}

/// Produces with every safe default on: the idempotent producer (`enable.idempotence`,
/// `acks=all`: no duplicates from its own retries, order kept per partition), the stream id as
/// the key (one stream, one partition: per-stream order), every envelope field as a header.
/// A batch is sent whole, then every delivery report awaited; it succeeds only when all of
/// them did, so a relay's checkpoint never passes an undelivered event. librdkafka reconnects
/// by itself.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use eventcore::broker::Relay;
/// use eventcore::projection::{ErrorPolicy, ProjectionOptions, ProjectionRunner};
/// use eventcore_kafka::{KafkaPublisher, Topics};
///
/// let store = eventcore::InMemoryEventStore::new();
/// let publisher = KafkaPublisher::new("127.0.0.1:9092", Topics::per_category("shop."))?;
/// let running = ProjectionRunner::new(store)
///     .add("relay:shop", Relay::new(publisher), ProjectionOptions::default()
///         .with_policy(ErrorPolicy::retry_forever()))
///     .start()?;
/// # Ok(()) }
/// ```
pub struct KafkaPublisher {
    producer: FutureProducer,
    topics: Topics,
    ready: AtomicBool,
}

impl std::fmt::Debug for KafkaPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaPublisher")
            .field("topics", &self.topics)
            .finish()
    }
}

impl KafkaPublisher {
    /// A publisher to `brokers` (`host:port,...`) routing by `topics`.
    ///
    /// # Errors
    /// When librdkafka refuses the configuration.
    pub fn new(brokers: &str, topics: Topics) -> Result<Self, KafkaError> {
        Self::with_config(brokers, topics, &[])
    }

    /// The same with extra librdkafka settings (`security.protocol`, `delivery.timeout.ms`,
    /// ...). The safe defaults (`enable.idempotence`, `acks=all`) cannot be turned off.
    ///
    /// # Errors
    /// When librdkafka refuses the configuration.
    pub fn with_config(
        brokers: &str,
        topics: Topics,
        extra: &[(String, String)],
    ) -> Result<Self, KafkaError> {
        let mut config = client_config(brokers, extra);
        let linger = config.get("linger.ms").unwrap_or("2").to_owned();
        config
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", linger);
        Ok(Self {
            producer: config.create()?,
            topics,
            ready: AtomicBool::new(true),
        })
    }

    /// Whether its last batch was delivered, for a readiness probe.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// How messages are routed to topics.
    pub fn topics(&self) -> &Topics {
        &self.topics
    }

    /// Waits up to `timeout` for everything sent to be delivered (before a shutdown).
    ///
    /// # Errors
    /// When something is still undelivered after `timeout`.
    pub fn flush(&self, timeout: Duration) -> Result<(), KafkaError> {
        self.producer.flush(timeout)
    }
}

fn failed(error: KafkaError) -> PublishError {
    PublishError::Connection(Box::new(error))
}

#[async_trait]
impl Publisher for KafkaPublisher {
    async fn publish(&self, messages: &[Message]) -> Result<(), PublishError> {
        let mut reports = Vec::with_capacity(messages.len());
        for message in messages {
            let topic = self.topics.topic_of(message);
            let mut record = FutureRecord::to(&topic)
                .key(message.stream.as_str())
                .payload(message.payload.get())
                .headers(headers(message));
            // A full local queue is waited out (delivery reports drain it), not failed.
            let report = loop {
                match self.producer.send_result(record) {
                    Ok(report) => break report,
                    Err((
                        KafkaError::MessageProduction(rdkafka::types::RDKafkaErrorCode::QueueFull),
                        back,
                    )) => {
                        record = back;
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    Err((error, _)) => {
                        self.ready.store(false, Ordering::Release);
                        return Err(failed(error));
                    }
                }
            };
            reports.push(report);
        }
        let mut outcome = Ok(());
        for report in reports {
            let delivered = match report.await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err((error, _))) => Err(failed(error)),
                Err(_) => Err(PublishError::Connection(
                    "the producer dropped a delivery report".into(),
                )),
            };
            if outcome.is_ok() {
                outcome = delivered;
            }
        }
        self.ready.store(outcome.is_ok(), Ordering::Release);
        outcome
    }
}
