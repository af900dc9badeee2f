//! Property tests of the default event codec: every variant shape serde produces round-trips
//! through `encode_tagged` / `decode_tagged`, and payloads are written exactly as serde_json
//! writes the variant content (struct fields in declaration order).
//!
//! The generated events avoid the shapes serde_json itself cannot round-trip, which the codec
//! cannot either: non-finite floats (`f64::NAN` is written as `null`, so no floats at all
//! here), `Option<Option<T>>` (`Some(None)` reads back as `None`) and `Option<()>`.

use std::collections::BTreeMap;

use eventcore::CodecError;
use eventcore::codec::{decode_tagged, encode_tagged};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Point {
    x: i32,
    label: String,
    tags: Vec<String>,
}

/// A second event enum, nested in [`Shape`] and also encoded on its own.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(clippy::enum_variant_names)] // the shared postfix is what snake_case renaming shows
enum Inner {
    FirstThing,
    SecondThing(u32),
    ThirdThing { flag: bool, name: String },
}

/// One variant of every shape serde produces for an externally tagged enum.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
enum Shape {
    Unit,
    Unsigned(u64),
    Signed(i64),
    Text(String),
    Flag(bool),
    Bytes(Vec<u8>),
    Maybe(Option<String>),
    Nested(Point),
    Inner(Inner),
    Map(BTreeMap<String, i32>),
    Pair(u32, String),
    Triple(i8, Option<u16>, Vec<bool>),
    Record {
        id: u64,
        note: Option<String>,
        items: Vec<i32>,
        at: Point,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        extra: Option<i64>,
    },
    #[serde(rename = "shape.renamed")]
    Renamed {
        z: u8,
        a: Inner,
    },
}

/// The content of [`Shape::Record`] as a struct of its own, fields in the same order.
#[derive(Serialize)]
struct RecordContent {
    id: u64,
    note: Option<String>,
    items: Vec<i32>,
    at: Point,
    #[serde(skip_serializing_if = "Option::is_none")]
    extra: Option<i64>,
}

/// The content of [`Shape::Renamed`] as a struct of its own.
#[derive(Serialize)]
struct RenamedContent {
    z: u8,
    a: Inner,
}

/// Any string of any characters, control characters and astral-plane ones included
/// (`any::<String>()` leaves control characters out).
fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..12)
        .prop_map(|chars: Vec<char>| chars.into_iter().collect::<String>())
}

prop_compose! {
    fn point()(x in any::<i32>(), label in text(), tags in prop::collection::vec(text(), 0..3))
        -> Point {
        Point { x, label, tags }
    }
}

fn inner() -> impl Strategy<Value = Inner> {
    prop_oneof![
        Just(Inner::FirstThing),
        any::<u32>().prop_map(Inner::SecondThing),
        (any::<bool>(), text()).prop_map(|(flag, name)| Inner::ThirdThing { flag, name }),
    ]
}

prop_compose! {
    fn record()(
        id in any::<u64>(),
        note in prop::option::of(text()),
        items in prop::collection::vec(any::<i32>(), 0..6),
        at in point(),
        extra in any::<Option<i64>>(),
    ) -> Shape {
        Shape::Record { id, note, items, at, extra }
    }
}

fn shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        Just(Shape::Unit),
        any::<u64>().prop_map(Shape::Unsigned),
        any::<i64>().prop_map(Shape::Signed),
        text().prop_map(Shape::Text),
        any::<bool>().prop_map(Shape::Flag),
        prop::collection::vec(any::<u8>(), 0..8).prop_map(Shape::Bytes),
        prop::option::of(text()).prop_map(Shape::Maybe),
        point().prop_map(Shape::Nested),
        inner().prop_map(Shape::Inner),
        prop::collection::btree_map(text(), any::<i32>(), 0..4).prop_map(Shape::Map),
        (any::<u32>(), text()).prop_map(|(n, s)| Shape::Pair(n, s)),
        (
            any::<i8>(),
            any::<Option<u16>>(),
            prop::collection::vec(any::<bool>(), 0..4)
        )
            .prop_map(|(a, b, c)| Shape::Triple(a, b, c)),
        record(),
        (any::<u8>(), inner()).prop_map(|(z, a)| Shape::Renamed { z, a }),
    ]
}

/// The variant name serde gives `shape`.
fn variant_name(shape: &Shape) -> &'static str {
    match shape {
        Shape::Unit => "Unit",
        Shape::Unsigned(_) => "Unsigned",
        Shape::Signed(_) => "Signed",
        Shape::Text(_) => "Text",
        Shape::Flag(_) => "Flag",
        Shape::Bytes(_) => "Bytes",
        Shape::Maybe(_) => "Maybe",
        Shape::Nested(_) => "Nested",
        Shape::Inner(_) => "Inner",
        Shape::Map(_) => "Map",
        Shape::Pair(..) => "Pair",
        Shape::Triple(..) => "Triple",
        Shape::Record { .. } => "Record",
        Shape::Renamed { .. } => "shape.renamed",
    }
}

proptest! {
    #[test]
    fn every_variant_shape_round_trips(event in shape()) {
        let encoded = encode_tagged(&event).expect("an externally tagged variant encodes");
        prop_assert_eq!(encoded.event_type.as_str(), variant_name(&event));
        let back: Shape = decode_tagged(&encoded.event_type, encoded.payload.get())
            .expect("what was encoded decodes");
        prop_assert_eq!(back, event);
    }

    #[test]
    fn a_rename_all_enum_round_trips_under_its_serde_names(event in inner()) {
        let encoded = encode_tagged(&event).expect("encodes");
        let expected = match &event {
            Inner::FirstThing => "first_thing",
            Inner::SecondThing(_) => "second_thing",
            Inner::ThirdThing { .. } => "third_thing",
        };
        prop_assert_eq!(encoded.event_type.as_str(), expected);
        let back: Inner = decode_tagged(&encoded.event_type, encoded.payload.get())
            .expect("decodes");
        prop_assert_eq!(back, event);
    }

    #[test]
    fn the_payload_is_what_serde_json_writes_for_the_variant(event in shape()) {
        let encoded = encode_tagged(&event).expect("encodes");
        let whole = serde_json::to_string(&event).expect("serde_json writes it");
        let name = serde_json::to_string(&encoded.event_type).expect("a string");
        if matches!(event, Shape::Unit) {
            prop_assert_eq!(encoded.payload.get(), "null");
            prop_assert_eq!(whole, name);
        } else {
            prop_assert_eq!(whole, format!("{{{name}:{}}}", encoded.payload.get()));
        }
    }

    #[test]
    fn struct_variant_payloads_keep_the_field_order(event in prop_oneof![
        record(),
        (any::<u8>(), inner()).prop_map(|(z, a)| Shape::Renamed { z, a }),
    ]) {
        let encoded = encode_tagged(&event).expect("encodes");
        let content = match event {
            Shape::Record { id, note, items, at, extra } => {
                serde_json::to_string(&RecordContent { id, note, items, at, extra })
            }
            Shape::Renamed { z, a } => serde_json::to_string(&RenamedContent { z, a }),
            other => unreachable!("not generated: {other:?}"),
        }
        .expect("serde_json writes it");
        prop_assert_eq!(encoded.payload.get(), content);
    }
}

#[test]
fn a_struct_is_not_mistaken_for_a_variant() {
    let result = encode_tagged(&Point {
        x: 1,
        label: String::new(),
        tags: Vec::new(),
    });
    assert!(matches!(result, Err(CodecError::Unencodable { .. })));
}
