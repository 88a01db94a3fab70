//! Field values: a small, self-contained data model.
//!
//! Values nest (a list of checkpoints, a map describing a party), but not
//! without bound: [`MAX_DEPTH`] is enforced while decoding, so a hostile
//! message of a million nested lists cannot exhaust the stack.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// How deeply lists and maps may nest inside one value.
pub const MAX_DEPTH: usize = 8;

/// A field value or an entry attribute.
///
/// Floats compare by bit pattern, so `Value` is `Eq` and two replicas never
/// disagree about whether two values are the same; NaN and infinities are
/// refused by [`crate::change::Change::validate`].
#[derive(Clone, Serialize)]
pub enum Value {
    /// No value (a cleared field).
    Null,
    /// True or false.
    Bool(bool),
    /// A whole number.
    Int(i64),
    /// A finite floating-point number (coordinates, accuracies).
    Float(f64),
    /// UTF-8 text.
    Text(String),
    /// An ordered list.
    List(Vec<Value>),
    /// A map with text keys, kept in key order.
    Map(BTreeMap<String, Value>),
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a.to_bits() == b.to_bits(),
            (Value::Text(a), Value::Text(b)) => a == b,
            (Value::List(a), Value::List(b)) => a == b,
            (Value::Map(a), Value::Map(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Value {}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x:?}"),
            Value::Text(s) => write!(f, "{s:?}"),
            Value::List(l) => f.debug_list().entries(l).finish(),
            Value::Map(m) => f.debug_map().entries(m).finish(),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Text(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Text(s)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<f64> for Value {
    fn from(x: f64) -> Self {
        Value::Float(x)
    }
}

impl Value {
    /// The deepest nesting inside this value (a scalar is depth 0).
    pub fn depth(&self) -> usize {
        match self {
            Value::List(l) => 1 + l.iter().map(Value::depth).max().unwrap_or(0),
            Value::Map(m) => 1 + m.values().map(Value::depth).max().unwrap_or(0),
            _ => 0,
        }
    }

    /// Every map key, text and float inside, for validation.
    pub(crate) fn visit(&self, f: &mut impl FnMut(Leaf<'_>)) {
        match self {
            Value::Text(s) => f(Leaf::Text(s)),
            Value::Float(x) => f(Leaf::Float(*x)),
            Value::List(l) => l.iter().for_each(|v| v.visit(f)),
            Value::Map(m) => m.iter().for_each(|(k, v)| {
                f(Leaf::Key(k));
                v.visit(f)
            }),
            Value::Null | Value::Bool(_) | Value::Int(_) => {}
        }
    }

    /// Converts to JSON for display and export (non-finite floats become null).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(x) => serde_json::Number::from_f64(*x).map_or(J::Null, J::Number),
            Value::Text(s) => J::String(s.clone()),
            Value::List(l) => J::Array(l.iter().map(Value::to_json).collect()),
            Value::Map(m) => J::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
        }
    }

    /// Converts from JSON. Integers that fit `i64` become [`Value::Int`], other
    /// numbers [`Value::Float`].
    pub fn from_json(json: &serde_json::Value) -> Self {
        use serde_json::Value as J;
        match json {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            J::String(s) => Value::Text(s.clone()),
            J::Array(a) => Value::List(a.iter().map(Value::from_json).collect()),
            J::Object(o) => Value::Map(o.iter().map(|(k, v)| (k.clone(), Value::from_json(v))).collect()),
        }
    }
}

/// A leaf reached by [`Value::visit`].
pub(crate) enum Leaf<'a> {
    Key(&'a str),
    Text(&'a str),
    Float(f64),
}

const VARIANTS: &[&str] = &["Null", "Bool", "Int", "Float", "Text", "List", "Map"];

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        ValueSeed { depth: 0 }.deserialize(deserializer)
    }
}

/// Deserializes a [`Value`] at a known nesting depth.
#[derive(Clone, Copy)]
struct ValueSeed {
    depth: usize,
}

impl ValueSeed {
    fn nested<E: de::Error>(self) -> Result<Self, E> {
        if self.depth >= MAX_DEPTH {
            return Err(E::custom(format_args!("value nested deeper than {MAX_DEPTH} levels")));
        }
        Ok(Self { depth: self.depth + 1 })
    }
}

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_enum("Value", VARIANTS, self)
    }
}

impl<'de> Visitor<'de> for ValueSeed {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a gridsync value")
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Value, A::Error> {
        let (tag, variant) = data.variant::<Tag>()?;
        Ok(match tag {
            Tag::Null => {
                variant.unit_variant()?;
                Value::Null
            }
            Tag::Bool => Value::Bool(variant.newtype_variant()?),
            Tag::Int => Value::Int(variant.newtype_variant()?),
            Tag::Float => Value::Float(variant.newtype_variant()?),
            Tag::Text => Value::Text(variant.newtype_variant()?),
            Tag::List => Value::List(variant.newtype_variant_seed(ListSeed(self.nested()?))?),
            Tag::Map => Value::Map(variant.newtype_variant_seed(MapSeed(self.nested()?))?),
        })
    }
}

/// The variant tag, read either by index (postcard) or by name (JSON).
enum Tag {
    Null,
    Bool,
    Int,
    Float,
    Text,
    List,
    Map,
}

impl<'de> Deserialize<'de> for Tag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TagVisitor;
        impl Visitor<'_> for TagVisitor {
            type Value = Tag;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a value type")
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Tag, E> {
                match v {
                    0 => Ok(Tag::Null),
                    1 => Ok(Tag::Bool),
                    2 => Ok(Tag::Int),
                    3 => Ok(Tag::Float),
                    4 => Ok(Tag::Text),
                    5 => Ok(Tag::List),
                    6 => Ok(Tag::Map),
                    _ => Err(E::invalid_value(de::Unexpected::Unsigned(v), &self)),
                }
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Tag, E> {
                match VARIANTS.iter().position(|name| *name == v) {
                    Some(i) => self.visit_u64(i as u64),
                    None => Err(E::unknown_variant(v, VARIANTS)),
                }
            }
        }
        deserializer.deserialize_identifier(TagVisitor)
    }
}

struct ListSeed(ValueSeed);

impl<'de> DeserializeSeed<'de> for ListSeed {
    type Value = Vec<Value>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Vec<Value>, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ListSeed {
    type Value = Vec<Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of values")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Value>, A::Error> {
        // Never trust a length prefix for preallocation.
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(v) = seq.next_element_seed(self.0)? {
            out.push(v);
        }
        Ok(out)
    }
}

struct MapSeed(ValueSeed);

impl<'de> DeserializeSeed<'de> for MapSeed {
    type Value = BTreeMap<String, Value>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for MapSeed {
    type Value = BTreeMap<String, Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of values")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = BTreeMap::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(self.0)?;
            out.insert(key, value);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(depth: usize) -> Value {
        (0..depth).fold(Value::Int(1), |v, _| Value::List(vec![v]))
    }

    #[test]
    fn postcard_round_trip() {
        let v = Value::Map(BTreeMap::from([
            ("gps".to_owned(), Value::List(vec![Value::Float(25.04), Value::Float(102.7)])),
            ("note".to_owned(), Value::Text("平安".to_owned())),
            ("n".to_owned(), Value::Int(-3)),
            ("ok".to_owned(), Value::Bool(true)),
            ("none".to_owned(), Value::Null),
        ]));
        let bytes = postcard::to_allocvec(&v).expect("encode");
        assert_eq!(postcard::from_bytes::<Value>(&bytes).expect("decode"), v);
    }

    #[test]
    fn json_round_trip_through_serde() {
        let v = nested(3);
        let json = serde_json::to_string(&v).expect("encode");
        assert_eq!(serde_json::from_str::<Value>(&json).expect("decode"), v);
    }

    #[test]
    fn depth_limit_is_enforced_while_decoding() {
        let ok = postcard::to_allocvec(&nested(MAX_DEPTH)).expect("encode");
        assert_eq!(postcard::from_bytes::<Value>(&ok).expect("at limit"), nested(MAX_DEPTH));
        let too_deep = postcard::to_allocvec(&nested(MAX_DEPTH + 1)).expect("encode");
        assert!(postcard::from_bytes::<Value>(&too_deep).is_err());
        // A million nested list tags: refused, not a stack overflow.
        let mut hostile = Vec::new();
        for _ in 0..1_000_000 {
            hostile.extend_from_slice(&[5, 1]);
        }
        assert!(postcard::from_bytes::<Value>(&hostile).is_err());
    }

    #[test]
    fn floats_compare_by_bits() {
        assert_eq!(Value::Float(0.5), Value::Float(0.5));
        assert_ne!(Value::Float(0.0), Value::Float(-0.0));
        assert_eq!(nested(2).depth(), 2);
    }

    #[test]
    fn json_conversion() {
        let j = serde_json::json!({"a": [1, 2.5, "x", null, true]});
        assert_eq!(Value::from_json(&j).to_json(), j);
    }
}
