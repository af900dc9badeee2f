//! The default stored form of an event: an enum variant's name as the event type, and the
//! variant's content as the JSON payload.
//!
//! Decoding goes straight from the stored payload text into the typed enum, without building a
//! `serde_json::Value` first; an unknown type name is reported as
//! [`CodecError::UnknownEventType`], found from the enum's own list of variants.

use std::cell::Cell;

use serde::Serialize;
use serde::de::{
    self, DeserializeOwned, Deserializer, EnumAccess, IntoDeserializer, VariantAccess,
};
use serde_json::value::RawValue;

use crate::error::CodecError;

/// An event in its stored form: type name and JSON payload.
#[derive(Debug)]
pub struct Encoded {
    /// The event type name (the enum variant's serialized name).
    pub event_type: String,
    /// The JSON payload.
    pub payload: Box<RawValue>,
}

/// Encodes an externally tagged enum value as `(variant name, variant content)`.
///
/// # Errors
/// [`CodecError::Unencodable`] when the value does not serialize as an enum variant.
pub fn encode_tagged<E: Serialize + ?Sized>(event: &E) -> Result<Encoded, CodecError> {
    let unencodable = |reason: String| CodecError::Unencodable { reason };
    let value = serde_json::to_value(event).map_err(|e| unencodable(e.to_string()))?;
    let (event_type, content) = match value {
        serde_json::Value::String(name) => (name, serde_json::Value::Null),
        serde_json::Value::Object(map) if map.len() == 1 => {
            map.into_iter().next().expect("map has one entry")
        }
        other => {
            return Err(unencodable(format!(
                "expected an enum variant, got {}",
                json_kind(&other)
            )));
        }
    };
    let payload =
        serde_json::value::to_raw_value(&content).map_err(|e| unencodable(e.to_string()))?;
    Ok(Encoded {
        event_type,
        payload,
    })
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object with other than one key",
    }
}

/// Decodes the variant `event_type` of enum `E` from its JSON content `payload`.
///
/// # Errors
/// [`CodecError::UnknownEventType`] when `E` has no such variant, and
/// [`CodecError::MalformedPayload`] when the payload does not fit the variant.
pub fn decode_tagged<E: DeserializeOwned>(
    event_type: &str,
    payload: &str,
) -> Result<E, CodecError> {
    let unknown = Cell::new(false);
    let mut json = serde_json::Deserializer::from_str(payload);
    let parts = Parts {
        event_type,
        payload: &mut json,
        unknown: &unknown,
    };
    let result = E::deserialize(parts).and_then(|event| json.end().map(|()| event));
    result.map_err(|source| {
        if unknown.get() {
            CodecError::UnknownEventType {
                event_type: event_type.to_owned(),
            }
        } else {
            CodecError::MalformedPayload {
                event_type: event_type.to_owned(),
                source,
            }
        }
    })
}

/// A deserializer presenting `(type name, payload)` as an externally tagged enum.
struct Parts<'a, D> {
    event_type: &'a str,
    payload: D,
    unknown: &'a Cell<bool>,
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Parts<'_, D> {
    type Error = D::Error;

    fn deserialize_any<V: de::Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom(
            "the default event codec needs an enum; implement Event::decode for other types",
        ))
    }

    fn deserialize_enum<V: de::Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        if !variants.contains(&self.event_type) {
            self.unknown.set(true);
            return Err(de::Error::unknown_variant(self.event_type, variants));
        }
        visitor.visit_enum(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}

impl<'de, D: Deserializer<'de>> EnumAccess<'de> for Parts<'_, D> {
    type Error = D::Error;
    type Variant = Content<D>;

    fn variant_seed<T: de::DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<(T::Value, Self::Variant), Self::Error> {
        let name: de::value::StrDeserializer<'_, D::Error> = self.event_type.into_deserializer();
        let variant = seed.deserialize(name)?;
        Ok((variant, Content(self.payload)))
    }
}

/// The stored payload, read as the content of the chosen variant.
struct Content<D>(D);

impl<'de, D: Deserializer<'de>> VariantAccess<'de> for Content<D> {
    type Error = D::Error;

    fn unit_variant(self) -> Result<(), Self::Error> {
        <() as de::Deserialize>::deserialize(self.0)
    }

    fn newtype_variant_seed<T: de::DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, Self::Error> {
        seed.deserialize(self.0)
    }

    fn tuple_variant<V: de::Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_tuple(len, visitor)
    }

    fn struct_variant<V: de::Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_struct("", fields, visitor)
    }
}
