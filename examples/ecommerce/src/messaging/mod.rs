//! How the distributed shop's processes reach each other, over RabbitMQ or Kafka (chosen by
//! flag): a service's [relay](Broker::add_relay) publishes its events, and the commands it
//! sends as events of an outbox stream, committed with the step that sends them; a
//! [consumer](Broker::consume) applies another service's messages through an inbox, each once
//! in effect (`eventcore::broker`).
//!
//! Names on the wire: the routing key (RabbitMQ) is `<category>.<event type>` (lower case) on
//! one durable topic exchange, a queue per consumer bound to `<category>.*`, or to the few
//! types it acts on ([`Broker::consume_types`]); on Kafka every category has its topic
//! `<prefix><category>` and every consumer its group.

mod consumer;
pub mod outbox;

pub use consumer::{Consumer, ConsumerFigures};

use std::sync::Arc;

use eventcore::backoff::Backoff;
use eventcore::broker::{BrokerMetrics, Inbox, MessageHandler, Relay};
use eventcore::projection::{ErrorPolicy, ProjectionOptions, ProjectionRunner};
use eventcore::{RuntimeStore, TransactionalStore};
use eventcore_kafka::{KafkaConsumer, KafkaPublisher, Topics};
use eventcore_rabbitmq::{RabbitConsumer, RabbitPublisher};

/// Partitions of each Kafka topic the shop creates: how many replicas of a consumer share
/// its work (one stream always stays in one partition, in order).
pub const KAFKA_PARTITIONS: i32 = 4;

/// How long a RabbitMQ consumer's batch waits for more deliveries once it has one: under
/// load, batches (and so transactions) several times larger, for a few milliseconds per hop.
/// (A Kafka consumer's fetches bring records in batches of their own.)
pub const CONSUMER_LINGER: std::time::Duration = std::time::Duration::from_millis(5);

/// The longest pause between a relay's attempts at a batch the broker did not take (away, or
/// with no queue bound for an event yet: services start in any order). At most this long
/// after the consumer's queue appears, the relay has published what waited for it.
pub const RELAY_MAX_BACKOFF: std::time::Duration = std::time::Duration::from_secs(2);

/// Which broker, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Broker {
    /// RabbitMQ at `uri` (`amqp://user:password@host:port/vhost`), on the durable topic
    /// exchange `exchange`.
    RabbitMq {
        /// The AMQP URI.
        uri: String,
        /// The exchange every service publishes to.
        exchange: String,
    },
    /// A Kafka-protocol broker at `brokers` (`host:port[,host:port]`), a topic per category
    /// named `<prefix><category>`.
    Kafka {
        /// The bootstrap servers.
        brokers: String,
        /// What every topic name starts with.
        prefix: String,
        /// This replica's name among its service's replicas (`payment-0`): its consumers are
        /// then static group members, which take their place in the group back when the
        /// replica restarts instead of joining as new members.
        instance: Option<String>,
        /// librdkafka's debug contexts for the consumers (`cgrp`, `consumer`, ...).
        debug: Option<String>,
    },
}

/// A message a consumer gave up on, as its dead-letter queue or topic holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerDeadLetter {
    /// The consumer's queue or group.
    pub consumer: String,
    /// Where it came from: its routing key (RabbitMQ) or topic (Kafka).
    pub origin: String,
    /// Why it was given up on.
    pub error: String,
}

/// The broker cannot be reached or refuses the set-up.
#[derive(Debug, thiserror::Error)]
#[error("{broker}: {reason}")]
pub struct BrokerError {
    /// `RabbitMQ` or `Kafka`.
    pub broker: &'static str,
    /// What went wrong.
    pub reason: String,
}

impl Broker {
    /// The broker's name, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Self::RabbitMq { .. } => "RabbitMQ",
            Self::Kafka { .. } => "Kafka",
        }
    }

    fn error(&self, reason: impl std::fmt::Display) -> BrokerError {
        BrokerError {
            broker: self.name(),
            reason: reason.to_string(),
        }
    }

    /// The Kafka topics of `categories` (created if missing).
    async fn topics(
        &self,
        brokers: &str,
        prefix: &str,
        categories: &[&str],
    ) -> Result<Vec<String>, BrokerError> {
        let topics: Vec<String> = categories.iter().map(|c| format!("{prefix}{c}")).collect();
        let names: Vec<&str> = topics.iter().map(String::as_str).collect();
        eventcore_kafka::ensure_topics(brokers, &names, KAFKA_PARTITIONS, 1)
            .await
            .map_err(|e| self.error(e))?;
        Ok(topics)
    }

    /// Adds to `runner` the relay `name`, which publishes every event of `categories` (and
    /// of no other); it retries a failed batch for ever (the log is
    /// the outbox: nothing is lost while the broker is away). Its lag is the projection's.
    ///
    /// # Errors
    /// The broker cannot be reached.
    pub async fn add_relay<S: RuntimeStore>(
        &self,
        runner: ProjectionRunner<S>,
        name: &str,
        categories: &[&str],
    ) -> Result<ProjectionRunner<S>, BrokerError> {
        let options = ProjectionOptions::default()
            .with_batch_size(500)
            .with_policy(ErrorPolicy::retry_forever().with_backoff(Backoff::new(
                std::time::Duration::from_millis(100),
                RELAY_MAX_BACKOFF,
            )));
        let only = categories.iter().map(|c| (*c).to_owned());
        Ok(match self {
            Self::RabbitMq { uri, exchange } => {
                let publisher = RabbitPublisher::connect(uri, exchange)
                    .await
                    .map_err(|e| self.error(e))?;
                runner.add(name, Relay::new(publisher).only_categories(only), options)
            }
            Self::Kafka {
                brokers, prefix, ..
            } => {
                self.topics(brokers, prefix, categories).await?;
                let publisher = KafkaPublisher::new(brokers, Topics::per_category(prefix.clone()))
                    .map_err(|e| self.error(e))?;
                runner.add(name, Relay::new(publisher).only_categories(only), options)
            }
        })
    }

    /// The queue (RabbitMQ) or group (Kafka) of the consumer `name`: in the broker's
    /// namespace (`<exchange>.<name>`, `<prefix><name>`), so shops on one broker stay apart.
    pub fn queue_of(&self, name: &str) -> String {
        match self {
            Self::RabbitMq { exchange, .. } => format!("{exchange}.{name}"),
            Self::Kafka { prefix, .. } => format!("{prefix}{name}"),
        }
    }

    /// Up to `limit` dead letters of the consumer `name`, oldest first (they stay where they
    /// are).
    ///
    /// # Errors
    /// The broker cannot be reached.
    pub async fn dead_letters(
        &self,
        name: &str,
        limit: usize,
    ) -> Result<Vec<BrokerDeadLetter>, BrokerError> {
        let consumer = self.queue_of(name);
        Ok(match self {
            Self::RabbitMq { uri, .. } => eventcore_rabbitmq::DeadLetters::new(uri, &consumer)
                .list(limit)
                .await
                .map_err(|e| self.error(e))?
                .into_iter()
                .map(|letter| BrokerDeadLetter {
                    consumer: consumer.clone(),
                    origin: letter.original_routing_key,
                    error: letter.error,
                })
                .collect(),
            Self::Kafka { brokers, .. } => {
                let topic = format!("{consumer}.dlq");
                eventcore_kafka::DeadLetters::new(brokers, &topic)
                    .list(limit)
                    .await
                    .map_err(|e| self.error(e))?
                    .into_iter()
                    .map(|letter| BrokerDeadLetter {
                        consumer: consumer.clone(),
                        origin: letter.original_topic,
                        error: letter.error,
                    })
                    .collect()
            }
        })
    }

    /// Starts the consumer `name` (its inbox's name; its queue or group is
    /// [`queue_of`](Self::queue_of) it) of every event of `categories`, applying each through
    /// `handler` in a transaction of `store`; it runs until [`Consumer::shutdown`].
    ///
    /// # Errors
    /// The broker cannot be reached (Kafka: its topics cannot be created).
    pub async fn consume<S, H>(
        &self,
        store: S,
        name: &str,
        categories: &[&str],
        handler: H,
    ) -> Result<Consumer, BrokerError>
    where
        S: TransactionalStore + Send + Sync,
        S::Transaction: Send,
        H: MessageHandler<S::Transaction>,
    {
        let bindings: Vec<String> = categories.iter().map(|c| format!("{c}.*")).collect();
        self.consume_bound(store, name, categories, &bindings, handler)
            .await
    }

    /// As [`consume`](Self::consume), for a consumer that acts on a few event types only,
    /// given as `(category, event type)`: on RabbitMQ its queue is bound to just those
    /// (the broker delivers nothing else); on Kafka it reads its categories' topics whole, and
    /// `handler` passes over the other types.
    ///
    /// # Errors
    /// As [`consume`](Self::consume).
    pub async fn consume_types<S, H>(
        &self,
        store: S,
        name: &str,
        types: &[(&str, &str)],
        handler: H,
    ) -> Result<Consumer, BrokerError>
    where
        S: TransactionalStore + Send + Sync,
        S::Transaction: Send,
        H: MessageHandler<S::Transaction>,
    {
        let mut categories: Vec<&str> = types.iter().map(|(category, _)| *category).collect();
        categories.sort_unstable();
        categories.dedup();
        let bindings: Vec<String> = types
            .iter()
            .map(|(category, event_type)| eventcore::broker::routing_key(category, event_type))
            .collect();
        self.consume_bound(store, name, &categories, &bindings, handler)
            .await
    }

    /// The consumer `name` of `categories` (Kafka: their topics), its queue bound with
    /// `bindings` (RabbitMQ).
    async fn consume_bound<S, H>(
        &self,
        store: S,
        name: &str,
        categories: &[&str],
        bindings: &[String],
        handler: H,
    ) -> Result<Consumer, BrokerError>
    where
        S: TransactionalStore + Send + Sync,
        S::Transaction: Send,
        H: MessageHandler<S::Transaction>,
    {
        let figures = Arc::new(ConsumerFigures::default());
        let handler = consumer::Tracked::new(handler, figures.clone());
        let inbox = Inbox::new(store, name);
        let metrics: Arc<dyn BrokerMetrics> = figures.clone();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let shutdown = consumer::stop_signal(stopped);
        Ok(match self {
            Self::RabbitMq { uri, exchange } => {
                let bindings: Vec<&str> = bindings.iter().map(String::as_str).collect();
                let options =
                    eventcore_rabbitmq::ConsumerOptions::new(self.queue_of(name), &bindings)
                        .with_linger(CONSUMER_LINGER);
                let consumer = RabbitConsumer::new(uri, exchange, options, inbox, handler)
                    .with_metrics(metrics);
                let ready = consumer.readiness();
                let run = async move { consumer.run(shutdown).await.map_err(|e| e.to_string()) };
                let ready = Box::new(move || ready.is_ready());
                Consumer::new(self, name, stop, tokio::spawn(run), ready, figures)
            }
            Self::Kafka {
                brokers,
                prefix,
                instance,
                debug,
            } => {
                let topics = self.topics(brokers, prefix, categories).await?;
                let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
                // A replica that vanished without leaving its group (killed) gives its
                // partitions up after 6 s, not librdkafka's default 45 s, and a rebalance
                // does not wait minutes for members that are gone.
                let options = eventcore_kafka::ConsumerOptions::new(self.queue_of(name), &topics)
                    .with_config("session.timeout.ms", "6000")
                    .with_config("heartbeat.interval.ms", "500")
                    // A rebalance waits for the group's known members at most this long
                    // (librdkafka's default is 5 minutes).
                    .with_config("max.poll.interval.ms", "10000");
                let options = match instance {
                    Some(instance) => {
                        let member = format!("{}.{instance}", self.queue_of(name));
                        options.with_config("group.instance.id", member)
                    }
                    None => options,
                };
                let options = match debug {
                    Some(contexts) => options.with_config("debug", contexts.as_str()),
                    None => options,
                };
                let consumer =
                    KafkaConsumer::new(brokers, options, inbox, handler).with_metrics(metrics);
                let ready = consumer.readiness();
                let run = async move { consumer.run(shutdown).await.map_err(|e| e.to_string()) };
                let ready = Box::new(move || ready.is_ready());
                Consumer::new(self, name, stop, tokio::spawn(run), ready, figures)
            }
        })
    }
}
