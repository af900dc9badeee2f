//! Events and their envelopes: what is written ([`NewEvent`]), what is read back
//! ([`RecordedEvent`]) and its typed form ([`Envelope`]).

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::codec::{self, Encoded};
use crate::error::CodecError;
use crate::id::{EventId, StreamId};
use crate::upcast::Upcasters;

/// An immutable fact, named in the past tense (`OrderPlaced`).
///
/// The usual event type is a serde enum with one variant per fact; the default methods store
/// the variant name as the event type and the variant's content as the JSON payload, so
/// `impl Event for MyEvents {}` is all an enum needs.
///
/// ```
/// use eventcore::Event;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, PartialEq, Serialize, Deserialize)]
/// enum AccountEvent {
///     Opened { owner: String },
///     Deposited { amount: u64 },
///     Closed,
/// }
/// impl Event for AccountEvent {}
///
/// let stored = AccountEvent::Deposited { amount: 5 }.encode().unwrap();
/// assert_eq!(stored.event_type, "Deposited");
/// assert_eq!(stored.payload.get(), r#"{"amount":5}"#);
/// let back = AccountEvent::decode("Deposited", stored.payload.get()).unwrap();
/// assert_eq!(back, AccountEvent::Deposited { amount: 5 });
/// assert!(AccountEvent::decode("Robbed", "{}").is_err());
/// ```
///
/// # Contract
/// `decode(encode(e)) == e`; `schema_version` is the version `encode` writes, and the version
/// [`Upcasters`] lift older payloads to before `decode` sees them.
pub trait Event: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The current schema version of `event_type` (1 unless overridden).
    fn schema_version(event_type: &str) -> u32 {
        let _ = event_type;
        1
    }

    /// The stored form of this event.
    ///
    /// # Errors
    /// [`CodecError::Unencodable`] when the event cannot be serialized.
    fn encode(&self) -> Result<Encoded, CodecError> {
        codec::encode_tagged(self)
    }

    /// The event from its stored form, at the current schema version.
    ///
    /// # Errors
    /// [`CodecError::UnknownEventType`] or [`CodecError::MalformedPayload`].
    fn decode(event_type: &str, payload: &str) -> Result<Self, CodecError> {
        codec::decode_tagged(event_type, payload)
    }
}

/// Context carried with every event.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    /// The id shared by everything that one original request caused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<Uuid>,
    /// The id of the message (usually the command) that directly caused this event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<Uuid>,
    /// Free-form entries (tenant, actor, request id, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl Metadata {
    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        self.correlation_id.is_none() && self.causation_id.is_none() && self.extra.is_empty()
    }
}

/// An event to be appended.
#[derive(Clone, Debug)]
pub struct NewEvent {
    /// Its unique id.
    pub event_id: EventId,
    /// Its type name.
    pub event_type: String,
    /// The schema version of its payload (from 1).
    pub schema_version: u32,
    /// Its JSON payload.
    pub payload: Box<RawValue>,
    /// Its metadata.
    pub metadata: Metadata,
}

impl NewEvent {
    /// Encodes a typed event with a random id, the type's current schema version and empty
    /// metadata.
    ///
    /// # Errors
    /// [`CodecError::Unencodable`] when the event cannot be serialized.
    pub fn from_event<E: Event>(event: &E) -> Result<Self, CodecError> {
        let Encoded {
            event_type,
            payload,
        } = event.encode()?;
        Ok(Self {
            event_id: EventId::new_random(),
            schema_version: E::schema_version(&event_type),
            event_type,
            payload,
            metadata: Metadata::default(),
        })
    }

    /// An event from its parts, with a random id and empty metadata.
    pub fn raw(event_type: impl Into<String>, schema_version: u32, payload: Box<RawValue>) -> Self {
        Self {
            event_id: EventId::new_random(),
            event_type: event_type.into(),
            schema_version,
            payload,
            metadata: Metadata::default(),
        }
    }

    /// The same event with another id.
    pub fn with_id(mut self, event_id: EventId) -> Self {
        self.event_id = event_id;
        self
    }

    /// The same event with other metadata.
    pub fn with_metadata(mut self, metadata: Metadata) -> Self {
        self.metadata = metadata;
        self
    }
}

/// An event as stored: its payload still JSON, with the full envelope.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RecordedEvent {
    /// The event's unique id.
    pub event_id: EventId,
    /// The stream it belongs to.
    pub stream_id: StreamId,
    /// Its version within the stream (contiguous from 1).
    pub stream_version: u64,
    /// Its position in the whole log (strictly increasing, not necessarily contiguous).
    pub global_position: u64,
    /// Its type name.
    pub event_type: String,
    /// The schema version its payload was written with.
    pub schema_version: u32,
    /// When the store recorded it.
    pub recorded_at: SystemTime,
    /// Its metadata.
    pub metadata: Metadata,
    /// Its JSON payload, exactly as written.
    pub payload: Box<RawValue>,
}

impl RecordedEvent {
    /// Decodes the payload as `E`, lifting older schema versions with `upcasters` first.
    ///
    /// # Errors
    /// Any [`CodecError`]: unknown type, malformed payload, a newer schema than `E` knows, or a
    /// missing or failing upcaster.
    pub fn decode<E: Event>(&self, upcasters: &Upcasters) -> Result<E, CodecError> {
        decode_stored(
            &self.event_type,
            self.schema_version,
            self.payload.get(),
            upcasters,
        )
    }

    /// Decodes into a typed [`Envelope`].
    ///
    /// # Errors
    /// As [`RecordedEvent::decode`].
    pub fn into_envelope<E: Event>(self, upcasters: &Upcasters) -> Result<Envelope<E>, CodecError> {
        let event = self.decode(upcasters)?;
        Ok(self.with_event(event))
    }

    /// The envelope of this record around an already decoded event, leaving the record as it
    /// is (the payload is not copied).
    pub fn to_envelope<E>(&self, event: E) -> Envelope<E> {
        Envelope {
            event,
            event_id: self.event_id,
            stream_id: self.stream_id.clone(),
            stream_version: self.stream_version,
            global_position: self.global_position,
            event_type: self.event_type.clone(),
            schema_version: self.schema_version,
            recorded_at: self.recorded_at,
            metadata: self.metadata.clone(),
        }
    }

    /// The envelope of this record around an already decoded event.
    pub fn with_event<E>(self, event: E) -> Envelope<E> {
        Envelope {
            event,
            event_id: self.event_id,
            stream_id: self.stream_id,
            stream_version: self.stream_version,
            global_position: self.global_position,
            event_type: self.event_type,
            schema_version: self.schema_version,
            recorded_at: self.recorded_at,
            metadata: self.metadata,
        }
    }
}

/// Decodes a stored payload as `E`, lifting older schema versions with `upcasters` first
/// (one parse of the payload when it is at the current schema version).
pub(crate) fn decode_stored<E: Event>(
    event_type: &str,
    schema_version: u32,
    payload: &str,
    upcasters: &Upcasters,
) -> Result<E, CodecError> {
    let current = E::schema_version(event_type);
    if schema_version == current {
        return E::decode(event_type, payload);
    }
    if schema_version > current {
        // A type `E` does not know at all is reported as unknown, not as too new.
        if let Err(unknown @ CodecError::UnknownEventType { .. }) = E::decode(event_type, payload) {
            return Err(unknown);
        }
        return Err(CodecError::NewerSchema {
            event_type: event_type.to_owned(),
            stored: schema_version,
            supported: current,
        });
    }
    let value: serde_json::Value =
        serde_json::from_str(payload).map_err(|source| CodecError::MalformedPayload {
            event_type: event_type.to_owned(),
            source,
        })?;
    let lifted = upcasters.upcast(event_type, schema_version, current, value)?;
    E::decode(event_type, &lifted.to_string())
}

/// A stored event as folding it into an aggregate needs it: its place and its payload text
/// (read without the rest of the envelope, and decoded once, straight from the text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoldEvent {
    /// Its version within the stream.
    pub stream_version: u64,
    /// Its position in the whole log.
    pub global_position: u64,
    /// Its type name.
    pub event_type: String,
    /// The schema version its payload was written with.
    pub schema_version: u32,
    /// Its JSON payload, as stored.
    pub payload: String,
}

impl FoldEvent {
    /// Decodes the payload as `E`, as [`RecordedEvent::decode`] does.
    ///
    /// # Errors
    /// As [`RecordedEvent::decode`].
    pub fn decode<E: Event>(&self, upcasters: &Upcasters) -> Result<E, CodecError> {
        decode_stored(
            &self.event_type,
            self.schema_version,
            &self.payload,
            upcasters,
        )
    }
}

impl FoldEvent {
    /// The event borrowed.
    pub fn as_ref(&self) -> FoldEventRef<'_> {
        FoldEventRef {
            stream_version: self.stream_version,
            global_position: self.global_position,
            event_type: &self.event_type,
            schema_version: self.schema_version,
            payload: &self.payload,
        }
    }
}

/// A [`FoldEvent`] borrowed from where a backend read it (a row's buffer), handed to a
/// [`FoldSink`](crate::FoldSink) while the rest of the stream is still arriving.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FoldEventRef<'a> {
    /// Its version within the stream.
    pub stream_version: u64,
    /// Its position in the whole log.
    pub global_position: u64,
    /// Its type name.
    pub event_type: &'a str,
    /// The schema version its payload was written with.
    pub schema_version: u32,
    /// Its JSON payload, as stored.
    pub payload: &'a str,
}

impl FoldEventRef<'_> {
    /// Decodes the payload as `E`, as [`RecordedEvent::decode`] does.
    ///
    /// # Errors
    /// As [`RecordedEvent::decode`].
    pub fn decode<E: Event>(&self, upcasters: &Upcasters) -> Result<E, CodecError> {
        decode_stored(
            self.event_type,
            self.schema_version,
            self.payload,
            upcasters,
        )
    }

    /// An owned copy.
    pub fn to_owned(&self) -> FoldEvent {
        FoldEvent {
            stream_version: self.stream_version,
            global_position: self.global_position,
            event_type: self.event_type.to_owned(),
            schema_version: self.schema_version,
            payload: self.payload.to_owned(),
        }
    }
}

impl From<RecordedEvent> for FoldEvent {
    fn from(event: RecordedEvent) -> Self {
        Self {
            stream_version: event.stream_version,
            global_position: event.global_position,
            event_type: event.event_type,
            schema_version: event.schema_version,
            payload: String::from(Box::<str>::from(event.payload)),
        }
    }
}

/// A decoded event with its envelope.
#[derive(Clone, Debug, PartialEq)]
pub struct Envelope<E> {
    /// The event.
    pub event: E,
    /// The event's unique id.
    pub event_id: EventId,
    /// The stream it belongs to.
    pub stream_id: StreamId,
    /// Its version within the stream.
    pub stream_version: u64,
    /// Its position in the whole log.
    pub global_position: u64,
    /// Its stored type name.
    pub event_type: String,
    /// The schema version it was stored with (before any upcasting).
    pub schema_version: u32,
    /// When the store recorded it.
    pub recorded_at: SystemTime,
    /// Its metadata.
    pub metadata: Metadata,
}
