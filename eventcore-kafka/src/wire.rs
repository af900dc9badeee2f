//! An [`eventcore::broker::Message`] as a Kafka record and back: the stream id as the key, the
//! payload as the value, every envelope field as a header (UTF-8 text).

use std::time::{Duration, UNIX_EPOCH};

use eventcore::broker::Message;
use eventcore::{EventId, StreamId};
use rdkafka::message::{Header, Headers, OwnedHeaders};
use serde_json::value::RawValue;

/// Header names, as the relay writes them.
pub mod header {
    /// The event id (the message id consumers deduplicate by).
    pub const MESSAGE_ID: &str = "message_id";
    /// `<category>.<event>` in lower case, as on RabbitMQ.
    pub const ROUTING_KEY: &str = "routing_key";
    /// The event type.
    pub const TYPE: &str = "type";
    /// The stream id (also the record key).
    pub const STREAM: &str = "stream";
    /// The event's version in its stream.
    pub const VERSION: &str = "stream_version";
    /// The event's position in the log.
    pub const POSITION: &str = "global_position";
    /// The payload's schema version.
    pub const SCHEMA: &str = "schema_version";
    /// The correlation id, when there is one.
    pub const CORRELATION: &str = "correlation_id";
    /// The causation id, when there is one.
    pub const CAUSATION: &str = "causation_id";
    /// When the event was recorded, in microseconds since the Unix epoch.
    pub const RECORDED_AT: &str = "recorded_at_us";
}

pub use eventcore::broker::WireError;

/// The headers of `message` as the relay produces it ([`message_of`] reads them back).
pub fn headers(message: &Message) -> OwnedHeaders {
    let micros = message
        .recorded_at
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    let mut fields: Vec<(&str, String)> = vec![
        (header::MESSAGE_ID, message.message_id.to_string()),
        (header::ROUTING_KEY, message.routing_key.clone()),
        (header::TYPE, message.event_type.clone()),
        (header::STREAM, message.stream.as_str().to_owned()),
        (header::VERSION, message.stream_version.to_string()),
        (header::POSITION, message.global_position.to_string()),
        (header::SCHEMA, message.schema_version.to_string()),
        (header::RECORDED_AT, micros.to_string()),
    ];
    if let Some(correlation) = message.correlation_id {
        fields.push((header::CORRELATION, correlation.to_string()));
    }
    if let Some(causation) = message.causation_id {
        fields.push((header::CAUSATION, causation.to_string()));
    }
    fields.iter().fold(
        OwnedHeaders::new_with_capacity(fields.len()),
        |h, (key, value)| {
            h.insert(Header {
                key,
                value: Some(value.as_bytes()),
            })
        },
    )
}

/// The text of header `name`, if present.
pub(crate) fn text<'a>(headers: Option<&'a impl Headers>, name: &str) -> Option<&'a str> {
    headers?
        .iter()
        .find(|h| h.key == name)
        .and_then(|h| h.value)
        .and_then(|v| std::str::from_utf8(v).ok())
}

fn required<'a>(
    headers: Option<&'a impl Headers>,
    name: &'static str,
) -> Result<&'a str, WireError> {
    text(headers, name).ok_or(WireError::Missing(name))
}

fn number<T: std::str::FromStr>(
    headers: Option<&impl Headers>,
    name: &'static str,
) -> Result<T, WireError>
where
    T::Err: std::fmt::Display,
{
    required(headers, name)?
        .parse()
        .map_err(|e: T::Err| WireError::malformed(name, e))
}

fn uuid(
    headers: Option<&impl Headers>,
    name: &'static str,
) -> Result<Option<uuid::Uuid>, WireError> {
    text(headers, name)
        .map(|t| t.parse().map_err(|e| WireError::malformed(name, e)))
        .transpose()
}

/// The message a record carries, from its headers and value.
///
/// # Errors
/// [`WireError`] when a header is missing or malformed, or the value is not JSON.
pub fn message_of(
    headers: Option<&impl Headers>,
    value: Option<&[u8]>,
) -> Result<Message, WireError> {
    let message_id = EventId::from(
        uuid(headers, header::MESSAGE_ID)?.ok_or(WireError::Missing(header::MESSAGE_ID))?,
    );
    let stream = StreamId::new(required(headers, header::STREAM)?)
        .map_err(|e| WireError::malformed(header::STREAM, e))?;
    let text = std::str::from_utf8(value.unwrap_or_default())
        .map_err(|e| WireError::malformed("value", e))?;
    let payload =
        RawValue::from_string(text.to_owned()).map_err(|e| WireError::malformed("value", e))?;
    let micros: u64 = number(headers, header::RECORDED_AT)?;
    Ok(Message {
        message_id,
        routing_key: required(headers, header::ROUTING_KEY)?.to_owned(),
        stream,
        stream_version: number(headers, header::VERSION)?,
        global_position: number(headers, header::POSITION)?,
        event_type: required(headers, header::TYPE)?.to_owned(),
        schema_version: number(headers, header::SCHEMA)?,
        correlation_id: uuid(headers, header::CORRELATION)?,
        causation_id: uuid(headers, header::CAUSATION)?,
        recorded_at: UNIX_EPOCH + Duration::from_micros(micros),
        payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Message {
        Message {
            message_id: EventId::new_random(),
            routing_key: "counter.added".to_owned(),
            stream: StreamId::new("counter-a").unwrap(),
            stream_version: 7,
            global_position: 1 << 40,
            event_type: "Added".to_owned(),
            schema_version: 2,
            correlation_id: Some(uuid::Uuid::new_v4()),
            causation_id: None,
            recorded_at: UNIX_EPOCH + Duration::from_micros(1_700_000_000_123_456),
            payload: RawValue::from_string(r#"{"amount":3}"#.to_owned()).unwrap(),
        }
    }

    #[test]
    fn a_message_survives_its_headers_and_value() {
        let message = sample();
        let headers = headers(&message);
        let back = message_of(Some(&headers), Some(message.payload.get().as_bytes())).unwrap();
        assert_eq!(back.message_id, message.message_id);
        assert_eq!(back.routing_key, "counter.added");
        assert_eq!(back.stream, message.stream);
        assert_eq!(
            (
                back.stream_version,
                back.global_position,
                back.schema_version
            ),
            (7, 1 << 40, 2)
        );
        assert_eq!(back.event_type, "Added");
        assert_eq!(back.correlation_id, message.correlation_id);
        assert_eq!(back.causation_id, None);
        assert_eq!(back.recorded_at, message.recorded_at);
        assert_eq!(back.payload.get(), r#"{"amount":3}"#);
    }

    #[test]
    fn a_record_without_its_headers_or_with_a_broken_value_is_refused_with_the_reason() {
        let error = message_of(None::<&OwnedHeaders>, Some(b"{}")).unwrap_err();
        assert_eq!(error.to_string(), "missing message_id");
        let message = sample();
        let headers = headers(&message);
        let error = message_of(Some(&headers), Some(b"{ not json")).unwrap_err();
        assert!(error.to_string().starts_with("malformed value"), "{error}");
        let wrong = OwnedHeaders::new().insert(Header {
            key: header::MESSAGE_ID,
            value: Some("not-a-uuid"),
        });
        let error = message_of(Some(&wrong), Some(b"{}")).unwrap_err();
        assert!(
            error.to_string().starts_with("malformed message_id"),
            "{error}"
        );
    }
}
