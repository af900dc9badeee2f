//! The serializer behind [`encode_tagged`](super::encode_tagged): it captures the one
//! externally tagged enum variant an event serializes as, and writes the variant's content as
//! JSON text, byte for byte what serde_json's compact serializer writes for it.
//!
//! Anything else at the top level (a struct, a map, a string, a number, an `Option`, a
//! sequence...) is refused: those are the shapes internally tagged, adjacently tagged and
//! untagged enums, or non-enum types, serialize as, and the default decoder could not read
//! them back.

use std::fmt;

use serde::Serialize;
use serde::ser::{self, Impossible, Serializer};
use serde_json::value::RawValue;

use super::Encoded;
use crate::error::CodecError;

/// Serializes `event`, which must serialize as an externally tagged enum variant, into its
/// stored form.
pub(super) fn capture<E: Serialize + ?Sized>(event: &E) -> Result<Encoded, CodecError> {
    event
        .serialize(VariantCapture)
        .map_err(|CaptureError(reason)| CodecError::Unencodable { reason })
}

/// Why an event could not be captured; becomes [`CodecError::Unencodable`].
#[derive(Debug)]
struct CaptureError(String);

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CaptureError {}

impl ser::Error for CaptureError {
    fn custom<T>(msg: T) -> Self
    where
        T: fmt::Display,
    {
        Self(msg.to_string())
    }
}

impl From<serde_json::Error> for CaptureError {
    fn from(error: serde_json::Error) -> Self {
        Self(error.to_string())
    }
}

/// The error for a top-level value that is not an externally tagged enum variant; `got`
/// describes what it was instead.
fn refuse(got: &str) -> CaptureError {
    CaptureError(format!(
        "the default event codec needs an externally tagged enum (one variant per event type); \
         got {got}; implement Event::encode and Event::decode for other shapes"
    ))
}

/// The hint added for structs and maps, the usual result of a non-default enum representation.
const TAGGED_HINT: &str = "(internally tagged, adjacently tagged and untagged enums serialize as \
                           structs and maps too)";

/// Builds the stored form from the variant name and the payload's JSON text.
fn encoded(event_type: &'static str, payload: String) -> Result<Encoded, CaptureError> {
    Ok(Encoded {
        event_type: event_type.to_owned(),
        payload: RawValue::from_string(payload)?,
    })
}

/// The top-level serializer: accepts one enum variant and nothing else.
struct VariantCapture;

/// The serializer state for the top-level shapes that are refused before any element arrives.
type Refused = Impossible<Encoded, CaptureError>;

impl Serializer for VariantCapture {
    type Ok = Encoded;
    type Error = CaptureError;
    type SerializeSeq = Refused;
    type SerializeTuple = Refused;
    type SerializeTupleStruct = Refused;
    type SerializeTupleVariant = ContentWriter;
    type SerializeMap = Refused;
    type SerializeStruct = Refused;
    type SerializeStructVariant = ContentWriter;

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _variant_index: u32,
        variant: &'static str,
    ) -> Result<Encoded, CaptureError> {
        encoded(variant, "null".to_owned())
    }

    fn serialize_newtype_variant<T>(
        self,
        _name: &'static str,
        _variant_index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Encoded, CaptureError>
    where
        T: ?Sized + Serialize,
    {
        encoded(variant, serde_json::to_string(value)?)
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _variant_index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<ContentWriter, CaptureError> {
        Ok(ContentWriter::open(variant, b'[', b']'))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _variant_index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<ContentWriter, CaptureError> {
        Ok(ContentWriter::open(variant, b'{', b'}'))
    }

    fn serialize_newtype_struct<T>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<Encoded, CaptureError>
    where
        T: ?Sized + Serialize,
    {
        // A wrapper around an event enum stores as the enum does.
        value.serialize(self)
    }

    fn serialize_bool(self, _v: bool) -> Result<Encoded, CaptureError> {
        Err(refuse("a boolean"))
    }

    fn serialize_i8(self, _v: i8) -> Result<Encoded, CaptureError> {
        Err(refuse("an integer"))
    }

    fn serialize_i16(self, _v: i16) -> Result<Encoded, CaptureError> {
        Err(refuse("an integer"))
    }

    fn serialize_i32(self, _v: i32) -> Result<Encoded, CaptureError> {
        Err(refuse("an integer"))
    }

    fn serialize_i64(self, _v: i64) -> Result<Encoded, CaptureError> {
        Err(refuse("an integer"))
    }

    fn serialize_i128(self, _v: i128) -> Result<Encoded, CaptureError> {
        Err(refuse("an integer"))
    }

    fn serialize_u8(self, _v: u8) -> Result<Encoded, CaptureError> {
        Err(refuse("an integer"))
    }

    fn serialize_u16(self, _v: u16) -> Result<Encoded, CaptureError> {
        Err(refuse("an integer"))
    }

    fn serialize_u32(self, _v: u32) -> Result<Encoded, CaptureError> {
        Err(refuse("an integer"))
    }

    fn serialize_u64(self, _v: u64) -> Result<Encoded, CaptureError> {
        Err(refuse("an integer"))
    }

    fn serialize_u128(self, _v: u128) -> Result<Encoded, CaptureError> {
        Err(refuse("an integer"))
    }

    fn serialize_f32(self, _v: f32) -> Result<Encoded, CaptureError> {
        Err(refuse("a floating-point number"))
    }

    fn serialize_f64(self, _v: f64) -> Result<Encoded, CaptureError> {
        Err(refuse("a floating-point number"))
    }

    fn serialize_char(self, _v: char) -> Result<Encoded, CaptureError> {
        Err(refuse("a character"))
    }

    fn serialize_str(self, _v: &str) -> Result<Encoded, CaptureError> {
        Err(refuse("a string"))
    }

    fn serialize_bytes(self, _v: &[u8]) -> Result<Encoded, CaptureError> {
        Err(refuse("a byte string"))
    }

    fn serialize_none(self) -> Result<Encoded, CaptureError> {
        Err(refuse("an Option (None)"))
    }

    fn serialize_some<T>(self, _value: &T) -> Result<Encoded, CaptureError>
    where
        T: ?Sized + Serialize,
    {
        Err(refuse("an Option (Some)"))
    }

    fn serialize_unit(self) -> Result<Encoded, CaptureError> {
        Err(refuse(
            "a unit value (an untagged enum's unit variant serializes as one)",
        ))
    }

    fn serialize_unit_struct(self, name: &'static str) -> Result<Encoded, CaptureError> {
        Err(refuse(&format!("the unit struct `{name}`")))
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Refused, CaptureError> {
        Err(refuse("a sequence"))
    }

    fn serialize_tuple(self, _len: usize) -> Result<Refused, CaptureError> {
        Err(refuse("a tuple"))
    }

    fn serialize_tuple_struct(
        self,
        name: &'static str,
        _len: usize,
    ) -> Result<Refused, CaptureError> {
        Err(refuse(&format!("the tuple struct `{name}`")))
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Refused, CaptureError> {
        Err(refuse(&format!("a map {TAGGED_HINT}")))
    }

    fn serialize_struct(self, name: &'static str, _len: usize) -> Result<Refused, CaptureError> {
        Err(refuse(&format!("the struct `{name}` {TAGGED_HINT}")))
    }
}

/// The content of a tuple variant (a JSON array) or struct variant (a JSON object), written
/// with serde_json element by element as serde hands them over, so the text is what serde_json
/// would write for the variant content, fields in the order they were serialized.
struct ContentWriter {
    /// The variant name.
    event_type: &'static str,
    /// The JSON text so far: the opening bracket, then the elements written.
    buf: Vec<u8>,
    /// The closing bracket.
    close: u8,
}

impl ContentWriter {
    /// Starts the content of `event_type` with the bracket `open`, to be closed by `close`.
    fn open(event_type: &'static str, open: u8, close: u8) -> Self {
        Self {
            event_type,
            buf: vec![open],
            close,
        }
    }

    /// Writes the comma before every element but the first. Every element writes at least
    /// one byte, so anything past the opening bracket means an element came before.
    fn separate(&mut self) {
        if self.buf.len() > 1 {
            self.buf.push(b',');
        }
    }

    /// Writes one tuple element.
    fn element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), CaptureError> {
        self.separate();
        serde_json::to_writer(&mut self.buf, value)?;
        Ok(())
    }

    /// Writes one struct field as `"key":value`.
    fn field<T: ?Sized + Serialize>(&mut self, key: &str, value: &T) -> Result<(), CaptureError> {
        self.separate();
        serde_json::to_writer(&mut self.buf, key)?;
        self.buf.push(b':');
        serde_json::to_writer(&mut self.buf, value)?;
        Ok(())
    }

    /// Closes the bracket and builds the stored form.
    fn finish(mut self) -> Result<Encoded, CaptureError> {
        self.buf.push(self.close);
        let text = String::from_utf8(self.buf).map_err(|e| CaptureError(e.to_string()))?;
        encoded(self.event_type, text)
    }
}

impl ser::SerializeTupleVariant for ContentWriter {
    type Ok = Encoded;
    type Error = CaptureError;

    fn serialize_field<T>(&mut self, value: &T) -> Result<(), CaptureError>
    where
        T: ?Sized + Serialize,
    {
        self.element(value)
    }

    fn end(self) -> Result<Encoded, CaptureError> {
        self.finish()
    }
}

impl ser::SerializeStructVariant for ContentWriter {
    type Ok = Encoded;
    type Error = CaptureError;

    fn serialize_field<T>(&mut self, key: &'static str, value: &T) -> Result<(), CaptureError>
    where
        T: ?Sized + Serialize,
    {
        self.field(key, value)
    }

    fn skip_field(&mut self, _key: &'static str) -> Result<(), CaptureError> {
        // serde_json writes nothing for a skipped field either.
        Ok(())
    }

    fn end(self) -> Result<Encoded, CaptureError> {
        self.finish()
    }
}
