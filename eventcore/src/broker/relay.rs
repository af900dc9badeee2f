//! [`Relay`]: the log published to a broker, as a projection whose checkpoint advances only
//! after the broker confirmed the batch.

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use tracing::Instrument;

use crate::broker::{BrokerMetrics, Message, NoMetrics};
use crate::error::BoxError;
use crate::event::RecordedEvent;
use crate::projection::Projection;

/// Why a batch was not published. The relay sends the whole batch again later (the projection
/// runner's [`ErrorPolicy`](crate::projection::ErrorPolicy); a relay retries forever).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// The broker refused (negatively confirmed) a message.
    #[error("the broker refused message {message_id}")]
    Refused {
        /// The refused message.
        message_id: crate::id::EventId,
    },
    /// The broker returned a message it could not route anywhere (`mandatory` publishing):
    /// treated as a failure, never as delivered.
    #[error("message {message_id} ({routing_key}) could not be routed: {reason}")]
    Unroutable {
        /// The returned message.
        message_id: crate::id::EventId,
        /// Its routing key.
        routing_key: String,
        /// The broker's reply text.
        reason: String,
    },
    /// The connection or channel failed, or confirms did not arrive in time.
    #[error("publishing failed: {0}")]
    Connection(#[source] BoxError),
}

/// Publishes messages to a broker, in order, and reports success only once the broker has
/// confirmed every one of them (publisher confirms, delivery reports).
#[async_trait]
pub trait Publisher: Send + Sync + 'static {
    /// Publishes `messages` (never empty) in this order.
    ///
    /// # Errors
    /// Any [`PublishError`]: some messages may have been taken and others not; the relay
    /// publishes the whole batch again, and consumers skip the duplicates.
    async fn publish(&self, messages: &[Message]) -> Result<(), PublishError>;
}

/// A [`Projection`] that publishes the log, or the part of it its filters select, through a
/// [`Publisher`]. Run it with a [`ProjectionRunner`](crate::projection::ProjectionRunner) and
/// [`ErrorPolicy::retry_forever`](crate::projection::ErrorPolicy::retry_forever) (a relay must
/// never dead-letter an event): each batch is published, confirmed, and only then its
/// checkpoint committed. See the [module docs](crate::broker) for an example.
pub struct Relay<P> {
    publisher: P,
    categories: Option<HashSet<String>>,
    event_types: Option<HashSet<String>>,
    metrics: Arc<dyn BrokerMetrics>,
}

impl<P: Publisher> Relay<P> {
    /// A relay of every event through `publisher`.
    pub fn new(publisher: P) -> Self {
        Self {
            publisher,
            categories: None,
            event_types: None,
            metrics: Arc::new(NoMetrics),
        }
    }

    /// Reports published batches and failures to `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<dyn BrokerMetrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Publishes only events of streams in these categories (aggregate types).
    pub fn only_categories<I: IntoIterator<Item = T>, T: Into<String>>(
        mut self,
        categories: I,
    ) -> Self {
        self.categories = Some(categories.into_iter().map(Into::into).collect());
        self
    }

    /// Publishes only events of these types.
    pub fn only_event_types<I: IntoIterator<Item = T>, T: Into<String>>(
        mut self,
        types: I,
    ) -> Self {
        self.event_types = Some(types.into_iter().map(Into::into).collect());
        self
    }

    /// Whether `event` passes the filters.
    pub fn selects(&self, event: &RecordedEvent) -> bool {
        self.categories
            .as_ref()
            .is_none_or(|c| c.contains(event.stream_id.category()))
            && self
                .event_types
                .as_ref()
                .is_none_or(|t| t.contains(&event.event_type))
    }
}

#[async_trait]
impl<Tx: Send, P: Publisher> Projection<Tx> for Relay<P> {
    async fn apply(&mut self, _tx: &mut Tx, events: &[RecordedEvent]) -> Result<(), BoxError> {
        let messages: Vec<Message> = events
            .iter()
            .filter(|event| self.selects(event))
            .map(Message::from_event)
            .collect();
        if messages.is_empty() {
            return Ok(());
        }
        let span = tracing::info_span!(
            "relay_publish",
            messages = messages.len(),
            first_position = messages[0].global_position
        );
        match self.publisher.publish(&messages).instrument(span).await {
            Ok(()) => {
                self.metrics.published(messages.len());
                Ok(())
            }
            Err(error) => {
                self.metrics.publish_failed(messages.len());
                Err(error.into())
            }
        }
    }
}
