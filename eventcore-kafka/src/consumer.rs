//! [`KafkaConsumer`]: a consumer group's records applied once in effect through an
//! [`Inbox`], their offsets committed only after their transaction committed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use eventcore::RetryPolicy;
use eventcore::TransactionalStore;
use eventcore::backoff::Backoff;
use eventcore::broker::{
    BrokerMetrics, Finished, Inbox, MessageHandler, NoMetrics, finish_or_drop,
};
use futures::FutureExt;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Message as _, OwnedMessage};
use rdkafka::producer::FutureProducer;
use rdkafka::{Offset, TopicPartitionList};

use crate::dead_letters::{DeadLetterReason, dead_letter};
use crate::group::GroupContext;
pub use crate::group::Readiness;
use crate::publisher::client_config;
use crate::wire::message_of;

/// How a [`KafkaConsumer`] consumes.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ConsumerOptions {
    /// Its consumer group (`group.id`); also the name its inbox records live under.
    pub group: String,
    /// The topics it subscribes to.
    pub topics: Vec<String>,
    /// Records applied in one transaction at most.
    pub batch: usize,
    /// Attempts at a record that keeps failing transiently before it is dead-lettered.
    pub max_attempts: u32,
    /// The pause between attempts.
    pub backoff: Backoff,
    /// Where dead letters go: `<group>.dlq` unless set.
    pub dead_letter_topic: String,
    /// Extra librdkafka settings (`session.timeout.ms`, security, ...); later ones win. Offset
    /// auto-commit stays off whatever they say.
    pub config: Vec<(String, String)>,
}

impl ConsumerOptions {
    /// Options for group `group` subscribed to `topics`: batches of 64, 5 attempts, 100 ms
    /// growing to 5 s between them, dead letters to `<group>.dlq`, new groups starting at the
    /// earliest offset, fetches waiting at most 100 ms (`fetch.wait.max.ms`; brokers that do
    /// not answer a fetch early when data arrives, such as tansu, otherwise add up to 500 ms of
    /// latency).
    pub fn new(group: impl Into<String>, topics: &[&str]) -> Self {
        let group = group.into();
        Self {
            dead_letter_topic: format!("{group}.dlq"),
            group,
            topics: topics.iter().map(|t| (*t).to_owned()).collect(),
            batch: 64,
            max_attempts: 5,
            backoff: Backoff::new(Duration::from_millis(100), Duration::from_secs(5)),
            config: Vec::new(),
        }
    }

    /// The same options with `max_attempts` attempts per record.
    pub fn with_max_attempts(self, max_attempts: u32) -> Self {
        Self {
            max_attempts: max_attempts.max(1),
            ..self
        }
    }

    /// The same options with another pause between attempts.
    pub fn with_backoff(self, backoff: Backoff) -> Self {
        Self { backoff, ..self }
    }

    /// The same options with librdkafka setting `key` set to `value`.
    pub fn with_config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.push((key.into(), value.into()));
        self
    }
}

/// Why the consumer stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConsumerError {
    /// The store failed in a way no retry of one record can fix.
    #[error("store: {0}")]
    Store(#[from] eventcore::StoreError),
    /// librdkafka refused the configuration or the subscription.
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
}

/// Consumes topics as a member of a consumer group. Records are taken in batches, applied
/// through the [`Inbox`] (handler and inbox record in one store transaction), and only then
/// is each partition's offset committed past them: the highest contiguous handled offset,
/// since a batch is settled whole before its commit. A record that fails transiently is
/// retried in place with backoff (nothing of its stream overtakes it); after `max_attempts`,
/// or at once when it is malformed or fails permanently, it goes to the dead-letter topic
/// with the error, the attempt count and its original topic, partition, offset and key.
/// Partitions are handled one batch at a time, never concurrently; records of a partition
/// revoked meanwhile are left to its next owner (the inbox catches what both see). librdkafka
/// reconnects by itself.
pub struct KafkaConsumer<S, H> {
    brokers: String,
    options: ConsumerOptions,
    inbox: Inbox<S>,
    handler: H,
    metrics: Arc<dyn BrokerMetrics>,
    readiness: Readiness,
}

impl<S, H> KafkaConsumer<S, H>
where
    S: TransactionalStore,
    H: MessageHandler<S::Transaction>,
{
    /// A consumer of the brokers at `brokers` (`host:port,...`) into `inbox` through
    /// `handler`.
    pub fn new(brokers: &str, options: ConsumerOptions, inbox: Inbox<S>, handler: H) -> Self {
        Self {
            brokers: brokers.to_owned(),
            options,
            inbox,
            handler,
            metrics: Arc::new(NoMetrics),
            readiness: Readiness::default(),
        }
    }

    /// Reports handled, duplicate, retried and dead-lettered records to `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<dyn BrokerMetrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Its readiness, for a health probe (take it before [`run`](Self::run)).
    pub fn readiness(&self) -> Readiness {
        self.readiness.clone()
    }

    fn clients(&self) -> Result<(Arc<StreamConsumer<GroupContext>>, FutureProducer), KafkaError> {
        let mut config = client_config(&self.brokers, &self.options.config);
        let dlq: FutureProducer = config
            .clone()
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .create()?;
        let reset = config
            .get("auto.offset.reset")
            .unwrap_or("earliest")
            .to_owned();
        let stats = config
            .get("statistics.interval.ms")
            .unwrap_or("1000")
            .to_owned();
        let wait = config.get("fetch.wait.max.ms").unwrap_or("100").to_owned();
        config
            .set("fetch.wait.max.ms", wait)
            .set("group.id", &self.options.group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", reset)
            .set("statistics.interval.ms", stats);
        let consumer: StreamConsumer<GroupContext> =
            config.create_with_context(GroupContext::new(self.readiness.clone()))?;
        Ok((Arc::new(consumer), dlq))
    }

    /// Consumes until `shutdown` completes, then finishes the batch in hand, commits it,
    /// leaves the group and returns (a batch not settled within
    /// [`STOP_GRACE`](eventcore::broker::STOP_GRACE) is dropped uncommitted, to be read again
    /// by the partition's next owner).
    ///
    /// # Errors
    /// [`ConsumerError::Store`] when the store fails in a way no retry can fix (a store that
    /// is away is waited for); [`ConsumerError::Kafka`] when the configuration is refused.
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send,
    ) -> Result<(), ConsumerError> {
        let (consumer, dlq) = self.clients()?;
        let topics: Vec<&str> = self.options.topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topics)?;
        let mut shutdown = std::pin::pin!(shutdown.fuse());
        let mut failures = 0;
        let result = loop {
            let first = futures::select! {
                next = consumer.recv().fuse() => next.map(|m| m.detach()),
                () = shutdown.as_mut() => break Ok(()),
            };
            let mut batch = match first {
                Ok(record) => vec![record],
                Err(error) => {
                    failures += 1;
                    tracing::warn!(%error, group = %self.options.group, "the consumer failed to fetch");
                    tokio::time::sleep(self.options.backoff.delay(failures)).await;
                    continue;
                }
            };
            failures = 0;
            while batch.len() < self.options.batch {
                match consumer.recv().now_or_never() {
                    Some(Ok(record)) => batch.push(record.detach()),
                    _ => break,
                }
            }
            // Records of a partition revoked while the batch was gathered are its next
            // owner's: that one starts from the last committed offset.
            let owned = consumer.context().owned();
            batch.retain(|r| owned.contains(&(r.topic().to_owned(), r.partition())));
            match finish_or_drop(self.settle(&consumer, &dlq, batch), shutdown.as_mut()).await {
                Finished::Settled(Ok(())) => {}
                Finished::SettledStopping(Ok(())) | Finished::Dropped => break Ok(()),
                Finished::Settled(Err(error)) | Finished::SettledStopping(Err(error)) => {
                    break Err(error);
                }
            }
        };
        self.readiness.stopped();
        drop(dlq);
        // Leaving the group blocks while librdkafka says goodbye: not on a runtime thread.
        let _ = tokio::task::spawn_blocking(move || drop(consumer)).await;
        result
    }

    /// Applies a batch ([`Inbox::settle`]), dead-letters what it gave up on and what is
    /// malformed, then commits each partition's offset past the batch.
    async fn settle(
        &self,
        consumer: &Arc<StreamConsumer<GroupContext>>,
        dlq: &FutureProducer,
        batch: Vec<OwnedMessage>,
    ) -> Result<(), ConsumerError> {
        let mut readable = Vec::with_capacity(batch.len());
        let mut messages = Vec::with_capacity(batch.len());
        for record in &batch {
            match message_of(record.headers(), record.payload()) {
                Ok(message) => {
                    messages.push(message);
                    readable.push(record);
                }
                Err(reason) => {
                    self.metrics.dead_lettered(1);
                    self.dead_letter(dlq, record, &reason.to_string(), 0).await;
                }
            }
        }
        let policy = RetryPolicy {
            max_attempts: self.options.max_attempts,
            backoff: self.options.backoff,
        };
        let given_up = self
            .inbox
            .settle(&self.handler, &messages, policy, self.metrics.as_ref())
            .await?;
        for dead in given_up {
            self.dead_letter(
                dlq,
                readable[dead.index],
                &dead.error.to_string(),
                dead.attempts,
            )
            .await;
        }
        let mut next: BTreeMap<(&str, i32), i64> = BTreeMap::new();
        for record in &batch {
            let offset = next
                .entry((record.topic(), record.partition()))
                .or_default();
            *offset = (*offset).max(record.offset() + 1);
        }
        let mut offsets = TopicPartitionList::new();
        for ((topic, partition), offset) in next {
            offsets.add_partition_offset(topic, partition, Offset::Offset(offset))?;
        }
        let committing = consumer.clone();
        let committed =
            tokio::task::spawn_blocking(move || committing.commit(&offsets, CommitMode::Sync))
                .await
                .unwrap_or_else(|_| Err(KafkaError::Canceled));
        if let Err(error) = committed {
            // The records were applied; their next owner gets them again and skips them.
            tracing::warn!(%error, group = %self.options.group, "committing offsets failed");
        }
        Ok(())
    }

    /// Produces `record` to the dead-letter topic, trying until it is delivered (its offset
    /// is committed only afterwards).
    async fn dead_letter(
        &self,
        dlq: &FutureProducer,
        record: &OwnedMessage,
        error: &str,
        attempts: u32,
    ) {
        let reason = DeadLetterReason { error, attempts };
        let mut failures = 0;
        while let Err(failure) =
            dead_letter(dlq, &self.options.dead_letter_topic, record, &reason).await
        {
            failures += 1;
            tracing::warn!(error = %failure, "dead-lettering a record failed; trying again");
            tokio::time::sleep(self.options.backoff.delay(failures)).await;
        }
        tracing::warn!(group = %self.options.group, %error, attempts, "dead-lettered a record");
    }
}
