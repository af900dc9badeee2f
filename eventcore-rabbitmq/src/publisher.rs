//! [`RabbitPublisher`]: the relay's [`Publisher`] on RabbitMQ.

use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use eventcore::broker::{Message, PublishError, Publisher};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Confirmation, Connection, ConnectionProperties, ExchangeKind};
use tokio::sync::Mutex;

use crate::wire::properties;

/// Publishes to a durable topic exchange with every safe default on: persistent messages,
/// `mandatory` (a message no queue is bound for comes back and fails the batch, never silently
/// dropped), publisher confirms awaited for the whole batch after it was sent (pipelined, not
/// one round trip per message). A lost connection is opened again on the next batch.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use eventcore::broker::Relay;
/// use eventcore::projection::{ErrorPolicy, ProjectionOptions, ProjectionRunner};
/// use eventcore_rabbitmq::RabbitPublisher;
///
/// let store = eventcore::InMemoryEventStore::new();
/// let publisher = RabbitPublisher::connect("amqp://guest:guest@127.0.0.1:5672/%2f", "shop").await?;
/// let running = ProjectionRunner::new(store)
///     .add("relay:shop", Relay::new(publisher), ProjectionOptions::default()
///         .with_policy(ErrorPolicy::retry_forever()))
///     .start()?;
/// # Ok(()) }
/// ```
pub struct RabbitPublisher {
    uri: String,
    exchange: String,
    channel: Mutex<Option<Channel>>,
    ready: AtomicBool,
}

impl std::fmt::Debug for RabbitPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RabbitPublisher")
            .field("exchange", &self.exchange)
            .finish()
    }
}

/// A channel in confirm mode, with the durable topic `exchange` declared.
pub(crate) async fn confirming_channel(uri: &str, exchange: &str) -> Result<Channel, lapin::Error> {
    let channel = plain_confirming_channel(uri).await?;
    within(
        "declaring the exchange",
        declare_exchange(&channel, exchange),
    )
    .await?;
    Ok(channel)
}

/// The longest a connection attempt (with its declarations) or a batch's confirms may take
/// before the connection counts as lost: a broker that accepts a socket and then says nothing
/// (while it starts, say) must not hang a relay or consumer for good.
pub(crate) const BROKER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// `operation`, failed as a lost connection when it takes longer than [`BROKER_TIMEOUT`].
pub(crate) async fn within<T>(
    what: &str,
    operation: impl std::future::Future<Output = Result<T, lapin::Error>>,
) -> Result<T, lapin::Error> {
    match tokio::time::timeout(BROKER_TIMEOUT, operation).await {
        Ok(result) => result,
        Err(_) => Err(lapin::Error::from(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("{what}: no answer from the broker within {BROKER_TIMEOUT:?}"),
        ))),
    }
}

/// A channel in confirm mode on a connection of its own.
pub(crate) async fn plain_confirming_channel(uri: &str) -> Result<Channel, lapin::Error> {
    within("connecting", async {
        let connection = Connection::connect(uri, ConnectionProperties::default()).await?;
        let channel = connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(channel)
    })
    .await
}

/// Publishes one message, `mandatory`, and waits for its confirm: anything but a plain ack
/// (refused, or returned as unroutable) is an error.
pub(crate) async fn publish_confirmed(
    channel: &Channel,
    exchange: &str,
    routing_key: &str,
    body: &[u8],
    properties: lapin::BasicProperties,
) -> Result<(), lapin::Error> {
    let published = async {
        channel
            .basic_publish(
                exchange.into(),
                routing_key.into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..BasicPublishOptions::default()
                },
                body,
                properties,
            )
            .await?
            .await
    };
    let confirm = within("publishing", published).await?;
    if matches!(confirm, Confirmation::Ack(None)) {
        Ok(())
    } else {
        Err(lapin::Error::from(lapin::ErrorKind::InvalidChannelState(
            lapin::ChannelState::Error,
            "a message was not confirmed or not routed",
        )))
    }
}

/// Declares the durable topic exchange `exchange` (idempotent).
pub(crate) async fn declare_exchange(
    channel: &Channel,
    exchange: &str,
) -> Result<(), lapin::Error> {
    channel
        .exchange_declare(
            exchange.into(),
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                durable: true,
                ..ExchangeDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
}

impl RabbitPublisher {
    /// Connects to `uri` (`amqp://user:password@host:port/vhost`) and declares the durable
    /// topic exchange `exchange`.
    ///
    /// # Errors
    /// When the broker cannot be reached or refuses the declaration.
    pub async fn connect(uri: &str, exchange: &str) -> Result<Self, lapin::Error> {
        let channel = confirming_channel(uri, exchange).await?;
        Ok(Self {
            uri: uri.to_owned(),
            exchange: exchange.to_owned(),
            channel: Mutex::new(Some(channel)),
            ready: AtomicBool::new(true),
        })
    }

    /// Whether its last connection attempt and last batch went through, for a readiness
    /// probe (`false` after a lost connection until a batch goes through again).
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// The exchange it publishes to.
    pub fn exchange(&self) -> &str {
        &self.exchange
    }
}

fn connection_error(error: lapin::Error) -> PublishError {
    PublishError::Connection(Box::new(error))
}

#[async_trait]
impl Publisher for RabbitPublisher {
    async fn publish(&self, messages: &[Message]) -> Result<(), PublishError> {
        let mut slot = self.channel.lock().await;
        let channel = match slot.as_ref() {
            Some(channel) if channel.status().connected() => channel.clone(),
            _ => {
                *slot = None;
                let channel = confirming_channel(&self.uri, &self.exchange)
                    .await
                    .map_err(|error| {
                        self.ready.store(false, Ordering::Release);
                        connection_error(error)
                    })?;
                slot.insert(channel).clone()
            }
        };
        let result = publish_on(&channel, &self.exchange, messages).await;
        let lost = matches!(result, Err(PublishError::Connection(_)));
        if lost {
            *slot = None; // open a fresh channel next time
        }
        self.ready.store(!lost, Ordering::Release);
        result
    }
}

/// Sends every message, then awaits every confirm, within [`BROKER_TIMEOUT`] in all.
async fn publish_on(
    channel: &Channel,
    exchange: &str,
    messages: &[Message],
) -> Result<(), PublishError> {
    let options = BasicPublishOptions {
        mandatory: true,
        ..BasicPublishOptions::default()
    };
    // One deadline for the whole batch, sends included: a broker holding publishers back (a
    // memory or disk alarm) fails the batch as a lost connection instead of hanging the relay.
    let sent = async {
        let mut confirms = Vec::with_capacity(messages.len());
        for message in messages {
            let confirm = channel
                .basic_publish(
                    exchange.into(),
                    message.routing_key.as_str().into(),
                    options,
                    message.payload.get().as_bytes(),
                    properties(message),
                )
                .await?;
            confirms.push(confirm);
        }
        futures::future::try_join_all(confirms).await
    };
    let confirmed = within("publishing a batch", sent)
        .await
        .map_err(connection_error)?;
    for (message, confirmation) in messages.iter().zip(confirmed) {
        match confirmation {
            Confirmation::Ack(None) => {}
            Confirmation::Ack(Some(returned)) => {
                return Err(PublishError::Unroutable {
                    message_id: message.message_id,
                    routing_key: message.routing_key.clone(),
                    reason: returned.reply_text.as_str().to_owned(),
                });
            }
            Confirmation::Nack(_) => {
                return Err(PublishError::Refused {
                    message_id: message.message_id,
                });
            }
            Confirmation::NotRequested => {
                return Err(PublishError::Connection(
                    "the channel is not in confirm mode".into(),
                ));
            }
        }
    }
    Ok(())
}
