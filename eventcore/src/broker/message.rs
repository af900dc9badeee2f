//! [`Message`]: an event as it travels through a broker.

use std::time::SystemTime;

use serde_json::value::RawValue;
use uuid::Uuid;

use crate::error::CodecError;
use crate::event::{Event, RecordedEvent, decode_stored};
use crate::id::{EventId, StreamId};
use crate::upcast::Upcasters;

/// An event on the wire: its payload as the body, its envelope as properties and headers. The
/// adapters map every field to and from their broker's message format.
#[derive(Clone, Debug)]
pub struct Message {
    /// The event id, as the message id: what consumers deduplicate by.
    pub message_id: EventId,
    /// `<aggregate>.<event>` in lower case ([`routing_key`]).
    pub routing_key: String,
    /// The stream it was appended to.
    pub stream: StreamId,
    /// Its version in the stream.
    pub stream_version: u64,
    /// Its position in the log it came from.
    pub global_position: u64,
    /// The event type name.
    pub event_type: String,
    /// The payload's schema version.
    pub schema_version: u32,
    /// The id shared by everything one original request caused.
    pub correlation_id: Option<Uuid>,
    /// The id of what directly caused the event.
    pub causation_id: Option<Uuid>,
    /// When the store recorded it.
    pub recorded_at: SystemTime,
    /// The JSON payload, exactly as stored.
    pub payload: Box<RawValue>,
}

/// The routing key of an event: its stream's category (the aggregate type) and its type, in
/// lower case, joined by a dot: `order.placed`.
///
/// ```
/// assert_eq!(eventcore::broker::routing_key("order", "ItemAdded"), "order.itemadded");
/// ```
pub fn routing_key(category: &str, event_type: &str) -> String {
    let mut key = String::with_capacity(category.len() + event_type.len() + 1);
    key.push_str(category);
    key.push('.');
    key.push_str(event_type);
    key.make_ascii_lowercase();
    key
}

impl Message {
    /// The message for a stored event.
    pub fn from_event(event: &RecordedEvent) -> Self {
        Self {
            message_id: event.event_id,
            routing_key: routing_key(event.stream_id.category(), &event.event_type),
            stream: event.stream_id.clone(),
            stream_version: event.stream_version,
            global_position: event.global_position,
            event_type: event.event_type.clone(),
            schema_version: event.schema_version,
            correlation_id: event.metadata.correlation_id,
            causation_id: event.metadata.causation_id,
            recorded_at: event.recorded_at,
            payload: event.payload.clone(),
        }
    }

    /// Decodes the payload as `E`, lifting older schema versions with `upcasters` first, as
    /// [`RecordedEvent::decode`] does.
    ///
    /// # Errors
    /// Any [`CodecError`]: unknown type, malformed payload, a newer schema than `E` knows.
    pub fn decode<E: Event>(&self, upcasters: &Upcasters) -> Result<E, CodecError> {
        decode_stored(
            &self.event_type,
            self.schema_version,
            self.payload.get(),
            upcasters,
        )
    }
}

/// Why a delivery from a broker is not a [`Message`] an adapter can hand to a handler (a
/// property or header missing or malformed, a body that is not JSON). Such a delivery is
/// dead-lettered at once, with this reason.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// A property or header is missing.
    #[error("missing {0}")]
    Missing(&'static str),
    /// A property, header or the body does not hold what it should.
    #[error("malformed {field}: {reason}")]
    Malformed {
        /// Which one.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

impl WireError {
    /// `field` does not hold what it should, because of `reason`.
    pub fn malformed(field: &'static str, reason: impl std::fmt::Display) -> Self {
        Self::Malformed {
            field,
            reason: reason.to_string(),
        }
    }
}
