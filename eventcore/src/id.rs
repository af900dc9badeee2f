//! Identifiers: streams, events and commands, with the limits every backend enforces.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::InputError;

/// The longest stream id, in bytes, that any backend accepts.
pub const MAX_STREAM_ID_BYTES: usize = 256;
/// The longest event type name, in bytes, that any backend accepts.
pub const MAX_EVENT_TYPE_BYTES: usize = 256;
/// The largest serialized payload (event data or metadata), in bytes, that any backend accepts.
pub const MAX_PAYLOAD_BYTES: usize = 1024 * 1024;
/// The largest number of events one append may carry, across all of its streams.
pub const MAX_EVENTS_PER_APPEND: usize = 10_000;
/// The most streams one append may name. Each named stream is locked until the append's
/// transaction ends, and a database's lock table is shared by all of its clients: the bound
/// keeps one request from exhausting it for everybody else.
pub const MAX_STREAMS_PER_APPEND: usize = 100;
/// The deepest nesting (arrays and objects inside each other) a payload or metadata value may
/// have. JSON parsers limit recursion (serde_json at 128 levels, counting the envelope around
/// a value), so anything deeper could be stored but never read back.
pub const MAX_JSON_DEPTH: usize = 64;

/// The id of an event stream, e.g. `order-3f2a…`.
///
/// Any text is a valid stream id except the empty string, text longer than
/// [`MAX_STREAM_ID_BYTES`] and text containing a NUL character (which some databases cannot
/// store). Quotes, Unicode and other control characters are stored and read back verbatim.
///
/// ```
/// use eventcore::StreamId;
/// let id = StreamId::new("order-42").unwrap();
/// assert_eq!(id.as_str(), "order-42");
/// assert!(StreamId::new("").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(Arc<str>);

impl Serialize for StreamId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl StreamId {
    /// Validates and wraps a stream id.
    ///
    /// # Errors
    /// [`InputError::EmptyId`], [`InputError::IdTooLong`] or [`InputError::NulInId`].
    pub fn new(id: impl Into<String>) -> Result<Self, InputError> {
        let id: String = id.into();
        validate_text("stream id", &id, MAX_STREAM_ID_BYTES)?;
        Ok(Self(id.into()))
    }

    /// Validates and wraps borrowed text (one allocation, for the shared text).
    pub(crate) fn from_text(id: &str) -> Result<Self, InputError> {
        validate_text("stream id", id, MAX_STREAM_ID_BYTES)?;
        Ok(Self(Arc::from(id)))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The stream's category: the text before the first `-`, which for an aggregate's stream
    /// (`<Aggregate::TYPE>-<id>`) is the aggregate type; the whole id when it has no `-`.
    /// Event type names are namespaced by it: `Placed` in an `order-…` stream and `Placed` in
    /// a `cart-…` stream are different events (`order.Placed`, `cart.Placed`).
    ///
    /// ```
    /// use eventcore::StreamId;
    /// let id = StreamId::new("order-7f3a-2b").unwrap();
    /// assert_eq!(id.category(), "order");
    /// assert_eq!(id.entity_id(), Some("7f3a-2b"));
    /// assert_eq!(StreamId::new("settings").unwrap().entity_id(), None);
    /// ```
    pub fn category(&self) -> &str {
        self.0
            .split_once('-')
            .map_or(&self.0, |(category, _)| category)
    }

    /// The id within the category: the text after the first `-` (the aggregate id of an
    /// aggregate's stream); `None` when the stream id has no `-`.
    pub fn entity_id(&self) -> Option<&str> {
        self.0.split_once('-').map(|(_, id)| id)
    }
}

impl<'de> Deserialize<'de> for StreamId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        StreamId::new(text).map_err(serde::de::Error::custom)
    }
}

impl fmt::Debug for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for StreamId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl TryFrom<&str> for StreamId {
    type Error = InputError;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl TryFrom<String> for StreamId {
    type Error = InputError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

/// Checks one piece of identifying text against the shared limits.
pub(crate) fn validate_text(what: &'static str, text: &str, max: usize) -> Result<(), InputError> {
    if text.is_empty() {
        return Err(InputError::EmptyId { what });
    }
    if text.len() > max {
        return Err(InputError::IdTooLong {
            what,
            len: text.len(),
            max,
        });
    }
    if text.contains('\0') {
        return Err(InputError::NulInId { what });
    }
    Ok(())
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new random (v4) id.
            pub fn new_random() -> Self {
                Self(Uuid::new_v4())
            }

            /// The underlying UUID.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }

            /// The UUID's 16 bytes.
            pub fn as_bytes(&self) -> &[u8; 16] {
                self.0.as_bytes()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl From<Uuid> for $name {
            fn from(value: Uuid) -> Self {
                Self(value)
            }
        }

        impl From<$name> for Uuid {
            fn from(value: $name) -> Self {
                value.0
            }
        }
    };
}

uuid_id!(
    /// The globally unique id of one event. Appending an id twice is reported as
    /// [`StoreError::DuplicateEventId`](crate::StoreError::DuplicateEventId).
    EventId
);

uuid_id!(
    /// The id of one command. Handling the same command id twice has no second effect.
    CommandId
);

/// Namespace for ids derived from command ids (a fixed random UUID).
const DERIVED_NAMESPACE: Uuid = Uuid::from_u128(0x6d1f_0f5a_3c0e_4f0b_9a55_2f1e_8c3b_7d40);

impl EventId {
    /// The id of the `index`-th event that command `command` appends to `stream`.
    ///
    /// The same inputs always give the same id, so a retried or re-sent command produces the
    /// same event ids, and the store's duplicate-id check makes it idempotent.
    ///
    /// ```
    /// use eventcore::{CommandId, EventId, StreamId};
    /// let cmd = CommandId::new_random();
    /// let stream = StreamId::new("order-1").unwrap();
    /// assert_eq!(EventId::derived(cmd, &stream, 0), EventId::derived(cmd, &stream, 0));
    /// assert_ne!(EventId::derived(cmd, &stream, 0), EventId::derived(cmd, &stream, 1));
    /// ```
    pub fn derived(command: CommandId, stream: &StreamId, index: u32) -> Self {
        let mut name = Vec::with_capacity(16 + stream.as_str().len() + 5);
        name.extend_from_slice(command.0.as_bytes());
        name.extend_from_slice(&index.to_be_bytes());
        name.push(0);
        name.extend_from_slice(stream.as_str().as_bytes());
        Self(Uuid::new_v5(&DERIVED_NAMESPACE, &name))
    }
}

impl CommandId {
    /// A command id derived from a parent id and a step name, e.g. for a saga step, so that
    /// dispatching the same step again carries the same command id.
    pub fn derived(parent: Uuid, step: &str) -> Self {
        let mut name = Vec::with_capacity(16 + step.len());
        name.extend_from_slice(parent.as_bytes());
        name.extend_from_slice(step.as_bytes());
        Self(Uuid::new_v5(&DERIVED_NAMESPACE, &name))
    }
}
