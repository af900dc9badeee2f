//! The default stored form of an event: an enum variant's name as the event type, and the
//! variant's content as the JSON payload.
//!
//! # Encoding
//! [`encode_tagged`] accepts, at the top level, only an externally tagged enum variant (serde's
//! default enum representation; a newtype struct around such an enum is looked through):
//!
//! - a unit variant `Closed` is stored as event type `Closed` with payload `null`;
//! - a newtype variant `Renamed(String)` as `Renamed` with the content, e.g. `"new"`;
//! - a tuple variant `Moved(i32, i32)` as `Moved` with an array, e.g. `[1,2]`;
//! - a struct variant `Deposited { amount: u64 }` as `Deposited` with an object, e.g.
//!   `{"amount":5}`.
//!
//! The payload is written exactly as serialized, straight to JSON text: there is no
//! `serde_json::Value` round trip, so object keys keep their declaration (serialization) order,
//! and the text is what `serde_json::to_string` writes for the variant's content.
//!
//! Every other shape is refused with [`CodecError::Unencodable`] rather than stored in a form
//! the default decoder could not read back: structs, maps, sequences, tuples, strings, numbers,
//! booleans, `Option`s and unit values, and therefore also internally tagged
//! (`#[serde(tag = "...")]`), adjacently tagged (`#[serde(tag = "...", content = "...")]`)
//! and untagged (`#[serde(untagged)]`) enums. Such events implement
//! [`Event::encode`](crate::Event::encode) and [`Event::decode`](crate::Event::decode)
//! themselves.
//!
//! # Decoding
//! Decoding goes straight from the stored payload text into the typed enum, without building a
//! `serde_json::Value` first; an unknown type name is reported as
//! [`CodecError::UnknownEventType`], found from the enum's own list of variants. A newtype
//! struct around the enum is looked through here too.
//!
//! # Round trips
//! `decode_tagged(encode_tagged(e)) == e` holds for every variant whose content serde_json
//! itself round-trips. Shapes serde_json itself cannot round-trip do not round-trip here
//! either: non-finite floats (written as `null`, which does not read back as a float),
//! `Option<Option<T>>` (`Some(None)` reads back as `None`) and `Option<()>` (`Some(())` reads
//! back as `None`).

use std::cell::Cell;

use serde::Serialize;
use serde::de::{
    self, DeserializeOwned, Deserializer, EnumAccess, IntoDeserializer, VariantAccess,
};
use serde_json::value::RawValue;

use crate::error::CodecError;

#[path = "codec_capture.rs"]
mod capture;

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
/// The payload is the variant content's JSON text as serde_json writes it (fields in the
/// order they are serialized); a unit variant's payload is `null`.
///
/// # Errors
/// [`CodecError::Unencodable`] when the value does not serialize as an externally tagged enum
/// variant (see the [module documentation](crate::codec)), or when serde_json cannot serialize
/// the variant's content (a map with keys that are neither strings nor numbers, a failing
/// `Serialize` implementation).
pub fn encode_tagged<E: Serialize + ?Sized>(event: &E) -> Result<Encoded, CodecError> {
    capture::capture(event)
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

    /// A newtype struct around the event enum is looked through, as encoding does.
    fn deserialize_newtype_struct<V: de::Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct seq tuple
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

    /// Asserts that `value` is refused by the encoder with the explanatory message.
    fn assert_unencodable<T: Serialize + ?Sized>(value: &T, what: &str) {
        match encode_tagged(value) {
            Err(CodecError::Unencodable { reason }) => assert!(
                reason.contains("needs an externally tagged enum")
                    && reason.contains("Event::encode"),
                "{what}: unexpected reason {reason:?}"
            ),
            other => panic!("{what}: expected Unencodable, got {other:?}"),
        }
    }

    #[derive(Serialize)]
    struct OneField {
        a: u32,
    }

    #[derive(Serialize)]
    struct Meters(u32);

    #[derive(Serialize)]
    #[serde(tag = "type")]
    enum Internal {
        X,
        Y { b: u8 },
    }

    #[derive(Serialize)]
    #[serde(tag = "t", content = "c")]
    enum Adjacent {
        X,
        Y(u8),
        Z { b: u8 },
    }

    #[derive(Serialize)]
    #[serde(untagged)]
    enum Untagged {
        Nothing,
        Number(u32),
        Object { a: u32 },
    }

    #[test]
    fn shapes_the_decoder_cannot_read_back_are_refused() {
        assert_unencodable(&OneField { a: 1 }, "one-field struct");
        assert_unencodable(&Meters(3), "newtype struct around a number");
        let map: std::collections::BTreeMap<String, u32> = [("Unit".to_owned(), 1)].into();
        assert_unencodable(&map, "one-entry map");
        assert_unencodable(&Internal::X, "internally tagged unit variant");
        assert_unencodable(&Internal::Y { b: 1 }, "internally tagged struct variant");
        assert_unencodable(&Adjacent::X, "adjacently tagged unit variant");
        assert_unencodable(&Adjacent::Y(1), "adjacently tagged newtype variant");
        assert_unencodable(&Adjacent::Z { b: 1 }, "adjacently tagged struct variant");
        assert_unencodable(&Untagged::Nothing, "untagged unit variant");
        assert_unencodable(&Untagged::Number(1), "untagged newtype variant");
        assert_unencodable(&Untagged::Object { a: 1 }, "untagged struct variant");
        assert_unencodable(&Some(Shapes::Unit), "Some(enum)");
        assert_unencodable(&None::<Shapes>, "None");
        assert_unencodable("Unit", "a string naming a variant");
        assert_unencodable([Shapes::Unit].as_slice(), "a sequence of events");
        assert_unencodable(&(Shapes::Unit,), "a tuple");
        assert_unencodable(&(), "unit");
        assert_unencodable(&true, "a boolean");
        assert_unencodable(&1.5f64, "a float");
        assert_unencodable(&-7i128, "an i128");
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Ordered {
        Fields {
            z: u8,
            a: String,
            m: Vec<u8>,
        },
        Empty {},
        NoFields(),
        Flattened {
            first: u8,
            #[serde(flatten)]
            rest: std::collections::BTreeMap<String, u8>,
        },
    }

    #[test]
    fn struct_variant_fields_keep_their_declaration_order() {
        let value = Ordered::Fields {
            z: 1,
            a: "quote \" and \u{1F600}\n".into(),
            m: vec![3],
        };
        let encoded = encode_tagged(&value).unwrap();
        assert_eq!(encoded.event_type, "Fields");
        let expected = "{\"z\":1,\"a\":\"quote \\\" and \u{1F600}\\n\",\"m\":[3]}";
        assert_eq!(encoded.payload.get(), expected);
        let whole = serde_json::to_string(&value).unwrap();
        assert_eq!(whole, format!(r#"{{"Fields":{}}}"#, encoded.payload.get()));
        let back: Ordered = decode_tagged("Fields", encoded.payload.get()).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn empty_and_flattened_variants_are_written_as_serde_json_writes_them() {
        for (value, payload) in [
            (Ordered::Empty {}, "{}"),
            (Ordered::NoFields(), "[]"),
            (
                Ordered::Flattened {
                    first: 1,
                    rest: [("b".to_owned(), 2), ("a".to_owned(), 3)].into(),
                },
                r#"{"first":1,"a":3,"b":2}"#,
            ),
        ] {
            let encoded = encode_tagged(&value).unwrap();
            assert_eq!(encoded.payload.get(), payload);
            let back: Ordered = decode_tagged(&encoded.event_type, encoded.payload.get()).unwrap();
            assert_eq!(back, value);
        }
    }

    #[test]
    fn tuple_variant_elements_are_escaped_as_serde_json_escapes_them() {
        let text = "tab\t, NUL \u{0}, \u{7f}, \u{2028}, é";
        let encoded = encode_tagged(&Shapes::Tuple(9, text.into())).unwrap();
        assert_eq!(
            encoded.payload.get(),
            serde_json::to_string(&(9u8, text)).unwrap()
        );
        round_trip(Shapes::Tuple(9, text.into()));
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(transparent)]
    struct Transparent(Shapes);

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Wrapped(Shapes);

    #[test]
    fn a_wrapper_around_an_enum_is_stored_like_the_enum() {
        let shape = || Shapes::Struct {
            a: 1,
            b: Some("b".into()),
        };
        let direct = encode_tagged(&shape()).unwrap();
        let (event_type, payload) = (direct.event_type.as_str(), direct.payload.get());
        for wrapper in [
            encode_tagged(&Transparent(shape())),
            encode_tagged(&Wrapped(shape())),
        ] {
            let wrapper = wrapper.unwrap();
            assert_eq!(wrapper.event_type, event_type);
            assert_eq!(wrapper.payload.get(), payload);
        }
        let transparent = decode_tagged::<Transparent>(event_type, payload).unwrap();
        assert_eq!(transparent, Transparent(shape()));
        let wrapped = decode_tagged::<Wrapped>(event_type, payload).unwrap();
        assert_eq!(wrapped, Wrapped(shape()));
    }

    #[test]
    fn content_serde_json_cannot_write_is_unencodable() {
        #[derive(Serialize)]
        enum Keys {
            Bad(std::collections::BTreeMap<(u8, u8), u8>),
        }
        let result = encode_tagged(&Keys::Bad([((1, 2), 3)].into()));
        assert!(matches!(result, Err(CodecError::Unencodable { .. })));
    }
}
