//! Dead letters on Kafka: what a consumer gave up on goes to a topic of its own with why and
//! where it came from; [`DeadLetters`] lets an operator list and replay them.

use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, Headers, Message as _, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};

use crate::publisher::client_config;
use crate::wire::text;

/// The headers a dead letter carries besides the record's own.
pub mod header {
    /// Why it was dead-lettered.
    pub const ERROR: &str = "x-error";
    /// How many times it was tried (0: it could not be read).
    pub const ATTEMPTS: &str = "x-attempts";
    /// The topic it was consumed from.
    pub const ORIGINAL_TOPIC: &str = "x-original-topic";
    /// Its partition there.
    pub const ORIGINAL_PARTITION: &str = "x-original-partition";
    /// Its offset there.
    pub const ORIGINAL_OFFSET: &str = "x-original-offset";
    /// Its key, when it had one (UTF-8, lossy).
    pub const ORIGINAL_KEY: &str = "x-original-key";
}

pub(crate) struct DeadLetterReason<'a> {
    pub error: &'a str,
    pub attempts: u32,
}

/// Produces `record` to `topic` with the reason and its origin in headers; waits for the
/// delivery report.
pub(crate) async fn dead_letter(
    producer: &FutureProducer,
    topic: &str,
    record: &OwnedMessage,
    reason: &DeadLetterReason<'_>,
) -> Result<(), KafkaError> {
    let mut headers = own_headers(record);
    let key = record.key().map(String::from_utf8_lossy);
    let fields = [
        (header::ERROR, reason.error.to_owned()),
        (header::ATTEMPTS, reason.attempts.to_string()),
        (header::ORIGINAL_TOPIC, record.topic().to_owned()),
        (header::ORIGINAL_PARTITION, record.partition().to_string()),
        (header::ORIGINAL_OFFSET, record.offset().to_string()),
        (header::ORIGINAL_KEY, key.unwrap_or_default().into_owned()),
    ];
    for (name, value) in &fields {
        headers = headers.insert(Header {
            key: name,
            value: Some(value.as_bytes()),
        });
    }
    producer
        .send(like(topic, record, headers), Duration::from_secs(30))
        .await
        .map(drop)
        .map_err(|(error, _)| error)
}

/// `record`'s own headers, without the dead-letter ones (`x-…`).
fn own_headers(record: &OwnedMessage) -> OwnedHeaders {
    let mut headers = OwnedHeaders::new();
    if let Some(original) = record.headers() {
        for h in original.iter().filter(|h| !h.key.starts_with("x-")) {
            headers = headers.insert(h);
        }
    }
    headers
}

/// A record for `topic` with `record`'s key and value and `headers`.
fn like<'a>(
    topic: &'a str,
    record: &'a OwnedMessage,
    headers: OwnedHeaders,
) -> FutureRecord<'a, [u8], [u8]> {
    let mut out = FutureRecord::to(topic).headers(headers);
    if let Some(key) = record.key() {
        out = out.key(key);
    }
    if let Some(payload) = record.payload() {
        out = out.payload(payload);
    }
    out
}

/// A dead-lettered record, as [`DeadLetters::list`] shows it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct DeadLetter {
    /// The message id (the event id), when it had one.
    pub message_id: Option<String>,
    /// Why it was dead-lettered.
    pub error: String,
    /// How many times it was tried.
    pub attempts: u32,
    /// The topic it was consumed from.
    pub original_topic: String,
    /// Its partition there.
    pub original_partition: i32,
    /// Its offset there.
    pub original_offset: i64,
    /// Its key.
    pub original_key: String,
    /// The value, as received.
    pub body: Vec<u8>,
}

impl DeadLetter {
    fn of(record: &OwnedMessage) -> Self {
        let h = record.headers();
        let field = |name| text(h, name).unwrap_or_default().to_owned();
        Self {
            message_id: text(h, crate::wire::header::MESSAGE_ID).map(str::to_owned),
            error: field(header::ERROR),
            attempts: field(header::ATTEMPTS).parse().unwrap_or(0),
            original_topic: field(header::ORIGINAL_TOPIC),
            original_partition: field(header::ORIGINAL_PARTITION).parse().unwrap_or(-1),
            original_offset: field(header::ORIGINAL_OFFSET).parse().unwrap_or(-1),
            original_key: field(header::ORIGINAL_KEY),
            body: record.payload().unwrap_or_default().to_vec(),
        }
    }
}

/// A consumer group's dead-letter topic (`<group>.dlq` unless the consumer set another):
/// list the letters not yet replayed, and produce them again to their original topic with
/// their original key (after the cause was fixed), oldest first per partition. What was
/// replayed is remembered by the consumer group `<topic>.replay`.
///
/// ```no_run
/// # async fn demo() -> Result<(), rdkafka::error::KafkaError> {
/// let letters = eventcore_kafka::DeadLetters::new("127.0.0.1:9092", "billing.dlq");
/// for letter in letters.list(20).await? {
///     println!("{:?}: {} after {} attempts", letter.message_id, letter.error, letter.attempts);
/// }
/// let replayed = letters.replay(20).await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct DeadLetters {
    brokers: String,
    topic: String,
}

impl DeadLetters {
    /// The dead-letter topic `topic` on `brokers`.
    pub fn new(brokers: &str, topic: &str) -> Self {
        Self {
            brokers: brokers.to_owned(),
            topic: topic.to_owned(),
        }
    }

    /// Up to `limit` dead letters not yet replayed; they stay where they are.
    ///
    /// # Errors
    /// When the brokers cannot be reached.
    pub async fn list(&self, limit: usize) -> Result<Vec<DeadLetter>, KafkaError> {
        let (consumer, records) = self.read(limit).await?;
        let _ = tokio::task::spawn_blocking(move || drop(consumer)).await;
        Ok(records.iter().map(DeadLetter::of).collect())
    }

    /// Produces up to `limit` of the dead letters there now to their original topics with
    /// their original key and headers, each delivered before it counts as replayed; returns
    /// how many. The replayed record keeps its message id, so a consumer that had applied it
    /// after all skips it. A replayed record that fails again comes back behind them and is
    /// not replayed again by this call.
    ///
    /// # Errors
    /// When the brokers cannot be reached; what was not delivered stays to be replayed.
    pub async fn replay(&self, limit: usize) -> Result<usize, KafkaError> {
        let (consumer, records) = self.read(limit).await?;
        let producer: FutureProducer = client_config(&self.brokers, &[])
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .create()?;
        let mut done = TopicPartitionList::new();
        let mut replayed = 0;
        let mut outcome = Ok(());
        for record in &records {
            let letter = DeadLetter::of(record);
            let out = like(&letter.original_topic, record, own_headers(record));
            if let Err((error, _)) = producer.send(out, Duration::from_secs(30)).await {
                outcome = Err(error);
                break;
            }
            done.add_partition_offset(
                record.topic(),
                record.partition(),
                Offset::Offset(record.offset() + 1),
            )?;
            replayed += 1;
        }
        let committed = tokio::task::spawn_blocking(move || {
            let result = if done.count() > 0 {
                consumer.commit(&done, CommitMode::Sync)
            } else {
                Ok(())
            };
            drop(done);
            drop(consumer);
            result
        })
        .await
        .unwrap_or(Err(KafkaError::Canceled));
        outcome.and(committed).map(|()| replayed)
    }

    /// Reads from the replay group's offsets to the end of every partition (as the fetch
    /// responses say), at most `limit` records.
    async fn read(&self, limit: usize) -> Result<(BaseConsumer, Vec<OwnedMessage>), KafkaError> {
        let brokers = self.brokers.clone();
        let topic = self.topic.clone();
        tokio::task::spawn_blocking(move || read_to_end(&brokers, &topic, limit))
            .await
            .unwrap_or(Err(KafkaError::Canceled))
    }
}

fn read_to_end(
    brokers: &str,
    topic: &str,
    limit: usize,
) -> Result<(BaseConsumer, Vec<OwnedMessage>), KafkaError> {
    let consumer: BaseConsumer = client_config(brokers, &[])
        .set("group.id", format!("{topic}.replay"))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("auto.offset.reset", "earliest")
        .create()?;
    let partitions: Vec<i32> = {
        let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(10))?;
        metadata
            .topics()
            .iter()
            .filter(|t| t.name() == topic && t.error().is_none())
            .flat_map(|t| t.partitions().iter().map(|p| p.id()))
            .collect()
    };
    let mut records = Vec::new();
    if partitions.is_empty() {
        return Ok((consumer, records));
    }
    let mut assignment = TopicPartitionList::new();
    for partition in &partitions {
        assignment.add_partition_offset(topic, *partition, Offset::Stored)?;
    }
    consumer.assign(&assignment)?;
    drop(assignment);
    let mut at_end = std::collections::HashSet::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while at_end.len() < partitions.len() && records.len() < limit {
        if std::time::Instant::now() > deadline {
            return Err(KafkaError::MessageConsumption(
                rdkafka::types::RDKafkaErrorCode::OperationTimedOut,
            ));
        }
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(record)) => records.push(record.detach()),
            Some(Err(KafkaError::PartitionEOF(partition))) => {
                at_end.insert(partition);
            }
            Some(Err(error)) => return Err(error),
            None => {}
        }
    }
    Ok((consumer, records))
}
