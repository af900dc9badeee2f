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

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Shapes {
        Unit,
        Newtype(u32),
        Tuple(u8, String),
        Struct {
            a: i64,
            b: Option<String>,
        },
        #[serde(rename = "shape.renamed")]
        Renamed {
            x: bool,
        },
    }

    fn round_trip(value: Shapes) {
        let encoded = encode_tagged(&value).expect("encodes");
        let back: Shapes =
            decode_tagged(&encoded.event_type, encoded.payload.get()).expect("decodes");
        assert_eq!(back, value);
    }

    #[test]
    fn every_variant_shape_round_trips() {
        round_trip(Shapes::Unit);
        round_trip(Shapes::Newtype(7));
        round_trip(Shapes::Tuple(1, "two".into()));
        round_trip(Shapes::Struct { a: -3, b: None });
        round_trip(Shapes::Renamed { x: true });
    }

    #[test]
    fn the_serde_name_is_the_event_type() {
        let encoded = encode_tagged(&Shapes::Renamed { x: false }).unwrap();
        assert_eq!(encoded.event_type, "shape.renamed");
        assert_eq!(encoded.payload.get(), r#"{"x":false}"#);
        assert_eq!(encode_tagged(&Shapes::Unit).unwrap().payload.get(), "null");
    }

    #[test]
    fn an_unknown_type_is_reported_as_such() {
        let error = decode_tagged::<Shapes>("Hexagon", "{}").unwrap_err();
        assert!(
            matches!(error, CodecError::UnknownEventType { ref event_type } if event_type == "Hexagon")
        );
    }

    #[test]
    fn malformed_payloads_are_reported_with_their_type() {
        for (event_type, payload) in [
            ("Struct", r#"{"a":"not a number"}"#),
            ("Struct", r#"{"a":1"#),
            ("Struct", r#"{"a":1} trailing"#),
            ("Newtype", "[]"),
            ("Tuple", "[1]"),
            ("Unit", r#"{"unexpected":1}"#),
            ("Struct", ""),
        ] {
            match decode_tagged::<Shapes>(event_type, payload) {
                Err(CodecError::MalformedPayload { event_type: t, .. }) => {
                    assert_eq!(t, event_type)
                }
                other => {
                    panic!("{event_type} {payload:?}: expected MalformedPayload, got {other:?}")
                }
            }
        }
    }

    #[test]
    fn non_enum_values_cannot_use_the_default_codec() {
        assert!(matches!(
            encode_tagged(&5u32),
            Err(CodecError::Unencodable { .. })
        ));
        assert!(matches!(
            decode_tagged::<u32>("Anything", "5"),
            Err(CodecError::MalformedPayload { .. })
        ));
    }
}
