//! [`DeadLetters`]: an operator's view of a consumer's dead-letter queue, and replay.

use lapin::BasicProperties;
use lapin::options::{BasicAckOptions, BasicGetOptions, BasicNackOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};

use crate::publisher::{plain_confirming_channel, publish_confirmed};

/// A dead-lettered message, as [`DeadLetters::list`] shows it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct DeadLetter {
    /// The message id (the event id), when it had one.
    pub message_id: Option<String>,
    /// Why it was dead-lettered.
    pub error: String,
    /// How many times it was tried.
    pub attempts: i64,
    /// The exchange it was first published to.
    pub original_exchange: String,
    /// Its original routing key.
    pub original_routing_key: String,
    /// The body, as received.
    pub body: Vec<u8>,
}

/// The dead-letter queue `<queue>.dlq` of a consumer: list what is in it, and publish messages
/// back to their original exchange and routing key (after the cause was fixed), oldest first.
///
/// ```no_run
/// # async fn demo() -> Result<(), lapin::Error> {
/// let letters = eventcore_rabbitmq::DeadLetters::new("amqp://guest:guest@127.0.0.1:5672/%2f", "billing");
/// for letter in letters.list(20).await? {
///     println!("{:?}: {} after {} attempts", letter.message_id, letter.error, letter.attempts);
/// }
/// let replayed = letters.replay(20).await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct DeadLetters {
    uri: String,
    queue: String,
}

fn text(headers: &FieldTable, name: &str) -> String {
    match headers.inner().get(&ShortString::from(name)) {
        Some(AMQPValue::LongString(s)) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
        Some(AMQPValue::ShortString(s)) => s.as_str().to_owned(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

impl DeadLetters {
    /// The dead letters of the consumer whose queue is `queue` (its dead-letter queue is
    /// `<queue>.dlq`) on the broker at `uri`.
    pub fn new(uri: &str, queue: &str) -> Self {
        Self {
            uri: uri.to_owned(),
            queue: format!("{queue}.dlq"),
        }
    }

    /// Up to `limit` dead letters, oldest first; they stay in the queue.
    ///
    /// # Errors
    /// When the broker cannot be reached.
    pub async fn list(&self, limit: usize) -> Result<Vec<DeadLetter>, lapin::Error> {
        let channel = plain_confirming_channel(&self.uri).await?;
        let mut letters = Vec::new();
        let mut last = None;
        while letters.len() < limit {
            let Some(message) = channel
                .basic_get(
                    self.queue.as_str().into(),
                    BasicGetOptions { no_ack: false },
                )
                .await?
            else {
                break;
            };
            let delivery = message.delivery;
            let empty = FieldTable::default();
            let headers = delivery.properties.headers().as_ref().unwrap_or(&empty);
            letters.push(DeadLetter {
                message_id: delivery
                    .properties
                    .message_id()
                    .as_ref()
                    .map(|id| id.as_str().to_owned()),
                error: text(headers, "x-error"),
                attempts: match headers.inner().get(&ShortString::from("x-attempts")) {
                    Some(AMQPValue::LongLongInt(n)) => n.to_owned(),
                    _ => 0,
                },
                original_exchange: text(headers, "x-original-exchange"),
                original_routing_key: text(headers, "x-original-routing-key"),
                body: delivery.data.clone(),
            });
            last = Some(delivery.acker);
        }
        if let Some(acker) = last {
            // Back into the queue, all of them, in their order.
            acker
                .nack(BasicNackOptions {
                    multiple: true,
                    requeue: true,
                })
                .await?;
        }
        Ok(letters)
    }

    /// Publishes up to `limit` of the dead letters in the queue now back to their original
    /// exchange and routing key (confirmed, `mandatory`), removing each from the dead-letter
    /// queue once confirmed; returns how many. A replayed message that fails again comes
    /// back behind them and is not replayed again by this call. The replayed message keeps its id, so a consumer that had applied it
    /// after all skips it.
    ///
    /// # Errors
    /// When the broker cannot be reached or refuses a message (it then stays a dead letter).
    pub async fn replay(&self, limit: usize) -> Result<usize, lapin::Error> {
        let channel = plain_confirming_channel(&self.uri).await?;
        // Only what is there now: a replayed message that fails again comes back behind them.
        let waiting = channel
            .queue_declare(
                self.queue.as_str().into(),
                QueueDeclareOptions {
                    passive: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await?
            .message_count();
        let limit = limit.min(usize::try_from(waiting).unwrap_or(usize::MAX));
        let mut replayed = 0;
        while replayed < limit {
            let Some(message) = channel
                .basic_get(
                    self.queue.as_str().into(),
                    BasicGetOptions { no_ack: false },
                )
                .await?
            else {
                break;
            };
            let delivery = message.delivery;
            let mut headers = delivery.properties.headers().clone().unwrap_or_default();
            let exchange = text(&headers, "x-original-exchange");
            let routing_key = text(&headers, "x-original-routing-key");
            let mut kept = FieldTable::default();
            for (name, value) in headers.inner() {
                if !name.as_str().starts_with("x-") {
                    kept.insert(name.clone(), value.clone());
                }
            }
            headers = kept;
            let properties: BasicProperties = delivery.properties.clone().with_headers(headers);
            let published = publish_confirmed(
                &channel,
                &exchange,
                &routing_key,
                &delivery.data,
                properties,
            )
            .await;
            if let Err(error) = published {
                delivery
                    .acker
                    .nack(BasicNackOptions {
                        multiple: false,
                        requeue: true,
                    })
                    .await?;
                return Err(error);
            }
            delivery.acker.ack(BasicAckOptions::default()).await?;
            replayed += 1;
        }
        Ok(replayed)
    }
}
