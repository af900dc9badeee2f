//! An [`eventcore::broker::Message`] as an AMQP message and back: the payload as the body,
//! the event id as the message id, correlation id and type as properties, the rest as headers.

use std::time::{Duration, UNIX_EPOCH};

use eventcore::broker::Message;
use eventcore::{EventId, StreamId};
use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use serde_json::value::RawValue;

const STREAM: &str = "stream";
const VERSION: &str = "stream_version";
const POSITION: &str = "global_position";
const SCHEMA: &str = "schema_version";
const CAUSATION: &str = "causation_id";
const RECORDED_AT: &str = "recorded_at_us";

/// The header that spreads messages over a consumer's partitions: one of [`BUCKETS`] buckets,
/// a hash of the stream id (so one stream always has the same one), as decimal text.
pub const BUCKET: &str = "bucket";

/// How many buckets streams are hashed into; a consumer has at most this many partitions.
pub const BUCKETS: u16 = 64;

/// The bucket of `stream` (FNV-1a of its id: stable across processes and builds).
pub fn bucket_of(stream: &StreamId) -> u16 {
    let hash = stream
        .as_str()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    (hash % u64::from(BUCKETS)) as u16
}

pub use eventcore::broker::WireError;

/// The AMQP properties of `message` as the relay publishes it: persistent, JSON, every
/// envelope field ([`message_of`] reads them back).
pub fn properties(message: &Message) -> BasicProperties {
    let mut headers = FieldTable::default();
    headers.insert(
        STREAM.into(),
        AMQPValue::LongString(LongString::from(message.stream.as_str())),
    );
    headers.insert(
        BUCKET.into(),
        AMQPValue::LongString(LongString::from(bucket_of(&message.stream).to_string())),
    );
    headers.insert(VERSION.into(), int(message.stream_version));
    headers.insert(POSITION.into(), int(message.global_position));
    headers.insert(SCHEMA.into(), int(u64::from(message.schema_version)));
    if let Some(causation) = message.causation_id {
        headers.insert(
            CAUSATION.into(),
            AMQPValue::LongString(LongString::from(causation.to_string())),
        );
    }
    let micros = message
        .recorded_at
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    headers.insert(
        RECORDED_AT.into(),
        AMQPValue::LongLongInt(i64::try_from(micros).unwrap_or(i64::MAX)),
    );
    let mut properties = BasicProperties::default()
        .with_message_id(ShortString::from(message.message_id.to_string()))
        .with_type(ShortString::from(message.event_type.as_str()))
        .with_content_type("application/json".into())
        .with_delivery_mode(2)
        .with_timestamp((micros / 1_000_000) as u64)
        .with_headers(headers);
    if let Some(correlation) = message.correlation_id {
        properties = properties.with_correlation_id(ShortString::from(correlation.to_string()));
    }
    properties
}

fn int(value: u64) -> AMQPValue {
    AMQPValue::LongLongInt(i64::try_from(value).unwrap_or(i64::MAX))
}

fn header<'a>(headers: &'a FieldTable, name: &'static str) -> Result<&'a AMQPValue, WireError> {
    headers
        .inner()
        .get(&ShortString::from(name))
        .ok_or(WireError::Missing(name))
}

fn text(value: &AMQPValue, name: &'static str) -> Result<String, WireError> {
    match value {
        AMQPValue::LongString(s) => {
            String::from_utf8(s.as_bytes().to_vec()).map_err(|e| WireError::malformed(name, e))
        }
        AMQPValue::ShortString(s) => Ok(s.as_str().to_owned()),
        other => Err(WireError::malformed(name, format!("{other:?} is not text"))),
    }
}

fn number(value: &AMQPValue, name: &'static str) -> Result<u64, WireError> {
    let n: i128 = match value {
        AMQPValue::LongLongInt(n) => i128::from(*n),
        AMQPValue::LongInt(n) => i128::from(*n),
        AMQPValue::LongUInt(n) => i128::from(*n),
        AMQPValue::ShortInt(n) => i128::from(*n),
        AMQPValue::ShortUInt(n) => i128::from(*n),
        other => {
            return Err(WireError::malformed(
                name,
                format!("{other:?} is not a number"),
            ));
        }
    };
    u64::try_from(n).map_err(|_| WireError::malformed(name, format!("{n} is negative")))
}

fn uuid(text: &str, name: &'static str) -> Result<uuid::Uuid, WireError> {
    uuid::Uuid::parse_str(text).map_err(|e| WireError::malformed(name, e))
}

/// The message a delivery carries.
///
/// # Errors
/// A [`WireError`] for anything missing or malformed: the body is not JSON, a header is
/// absent, an id is not a UUID.
pub fn message_of(
    routing_key: &str,
    properties: &BasicProperties,
    body: &[u8],
) -> Result<Message, WireError> {
    let id = properties
        .message_id()
        .as_ref()
        .ok_or(WireError::Missing("message_id"))?;
    let message_id = EventId::from(uuid(id.as_str(), "message_id")?);
    let event_type = properties
        .kind()
        .as_ref()
        .ok_or(WireError::Missing("type"))?
        .as_str()
        .to_owned();
    let correlation_id = properties
        .correlation_id()
        .as_ref()
        .map(|c| uuid(c.as_str(), "correlation_id"))
        .transpose()?;
    let empty = FieldTable::default();
    let headers = properties.headers().as_ref().unwrap_or(&empty);
    let stream = StreamId::new(text(header(headers, STREAM)?, STREAM)?)
        .map_err(|e| WireError::malformed(STREAM, e))?;
    let causation_id = match headers.inner().get(&ShortString::from(CAUSATION)) {
        Some(value) => Some(uuid(&text(value, CAUSATION)?, CAUSATION)?),
        None => None,
    };
    let schema_version = u32::try_from(number(header(headers, SCHEMA)?, SCHEMA)?)
        .map_err(|e| WireError::malformed(SCHEMA, e))?;
    let micros = number(header(headers, RECORDED_AT)?, RECORDED_AT)?;
    let body = std::str::from_utf8(body).map_err(|e| WireError::malformed("body", e))?;
    let payload =
        RawValue::from_string(body.to_owned()).map_err(|e| WireError::malformed("body", e))?;
    Ok(Message {
        message_id,
        routing_key: routing_key.to_owned(),
        stream,
        stream_version: number(header(headers, VERSION)?, VERSION)?,
        global_position: number(header(headers, POSITION)?, POSITION)?,
        event_type,
        schema_version,
        correlation_id,
        causation_id,
        recorded_at: UNIX_EPOCH + Duration::from_micros(micros),
        payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_survives_its_properties_and_body() {
        let payload = RawValue::from_string(r#"{"amount":3}"#.to_owned()).unwrap();
        let message = Message {
            message_id: EventId::new_random(),
            routing_key: "counter.added".to_owned(),
            stream: StreamId::new("counter-a").unwrap(),
            stream_version: 7,
            global_position: 1 << 40,
            event_type: "Added".to_owned(),
            schema_version: 2,
            correlation_id: Some(uuid::Uuid::new_v4()),
            causation_id: Some(uuid::Uuid::new_v4()),
            recorded_at: UNIX_EPOCH + Duration::from_micros(1_700_000_000_123_456),
            payload,
        };
        let back = message_of(
            &message.routing_key,
            &properties(&message),
            message.payload.get().as_bytes(),
        )
        .unwrap();
        assert_eq!(back.message_id, message.message_id);
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
        assert_eq!(back.causation_id, message.causation_id);
        assert_eq!(back.recorded_at, message.recorded_at);
        assert_eq!(back.payload.get(), r#"{"amount":3}"#);
    }

    #[test]
    fn buckets_are_stable_and_spread() {
        let stream = |s: &str| StreamId::new(s).unwrap();
        assert_eq!(bucket_of(&stream("order-1")), bucket_of(&stream("order-1")));
        let used: std::collections::HashSet<u16> = (0..1000)
            .map(|i| bucket_of(&stream(&format!("order-{i}"))))
            .collect();
        assert_eq!(
            used.len(),
            usize::from(BUCKETS),
            "1,000 streams cover every bucket"
        );
        assert!(used.iter().all(|b| *b < BUCKETS));
    }

    #[test]
    fn a_delivery_without_its_headers_is_refused_with_the_reason() {
        let properties = BasicProperties::default()
            .with_message_id(ShortString::from(EventId::new_random().to_string()))
            .with_type("Added".into());
        let error = message_of("counter.added", &properties, b"{}").unwrap_err();
        assert_eq!(error.to_string(), "missing stream");
        let error = message_of("x", &BasicProperties::default(), b"{}").unwrap_err();
        assert_eq!(error.to_string(), "missing message_id");
    }
}
