//! Field types and the check of one value against its type.

use std::collections::BTreeMap;

use crate::date::Date;
use crate::ids::RecordId;
use crate::place::{Hierarchy, Level, check_code};
use crate::value::Value;

/// Earliest plausible time in a record (2000-01-01T00:00Z), Unix ms.
pub(crate) const MIN_MILLIS: i64 = 946_684_800_000;
/// Latest plausible time in a record (2100-01-01T00:00Z), Unix ms.
pub(crate) const MAX_MILLIS: i64 = 4_102_444_800_000;

/// The type of a field or entry attribute.
#[derive(Debug)]
pub(crate) enum Ty {
    /// Text of 1 to `n` characters.
    Text(usize),
    /// One of these names.
    Enum(&'static [&'static str]),
    /// A whole number in the range.
    Int(i64, i64),
    /// A `YYYY-MM-DD` day.
    Date,
    /// A time, Unix milliseconds (an integer between 2000 and 2100).
    Millis,
    /// A known place's code, of the given level if any.
    Place(Option<Level>),
    /// Another record's id.
    Record,
    /// A user name.
    User,
    /// A SHA-256 content hash, 64 hex digits ([`crate::attachment::ContentHash`]).
    Sha256,
    /// Another entry of the same record, by its dot (`device:counter`).
    EntryRef,
    /// A position: `lat`, `lon`, `accuracy_m`, `mock` (the handset reported
    /// a mock location) and optionally `time_ms`.
    Gps,
    /// A list of at most `n` values of one type.
    List(&'static Ty, usize),
    /// A map with these attributes.
    Struct(&'static [Attr]),
}

/// One attribute of a [`Ty::Struct`] or an entry.
#[derive(Debug)]
pub(crate) struct Attr {
    pub(crate) name: &'static str,
    pub(crate) ty: Ty,
    pub(crate) required: bool,
}

/// A required attribute.
pub(crate) const fn req(name: &'static str, ty: Ty) -> Attr {
    Attr { name, ty, required: true }
}

/// An optional attribute.
pub(crate) const fn opt(name: &'static str, ty: Ty) -> Attr {
    Attr { name, ty, required: false }
}

/// The attributes of a [`Ty::Gps`] position.
const GPS_ATTRS: [&str; 5] = ["lat", "lon", "accuracy_m", "mock", "time_ms"];

/// Checks `value` against `ty`. The error says why, naming the attribute
/// path inside the value; it never repeats the value.
pub(crate) fn check(ty: &Ty, value: &Value, dir: &dyn Hierarchy) -> Result<(), String> {
    match (ty, value) {
        (Ty::Text(max), Value::Text(t)) => {
            let n = t.chars().count();
            if n == 0 || n > *max {
                return Err(format!("must be 1 to {max} characters"));
            }
            if t.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
                return Err("must not contain control characters".into());
            }
            Ok(())
        }
        (Ty::Enum(names), Value::Text(t)) if names.contains(&t.as_str()) => Ok(()),
        (Ty::Enum(names), _) => Err(format!("must be one of {}", names.join(", "))),
        (Ty::Int(min, max), Value::Int(i)) if (min..=max).contains(&i) => Ok(()),
        (Ty::Int(min, max), _) => Err(format!("must be a whole number from {min} to {max}")),
        (Ty::Date, Value::Text(t)) if t.parse::<Date>().is_ok() => Ok(()),
        (Ty::Date, _) => Err("must be a date, YYYY-MM-DD".into()),
        (Ty::Millis, Value::Int(ms)) if (MIN_MILLIS..MAX_MILLIS).contains(ms) => Ok(()),
        (Ty::Millis, _) => Err("must be a time in Unix milliseconds between 2000 and 2100".into()),
        (Ty::Place(level), Value::Text(code)) => {
            check_code(code)?;
            match (dir.level(code), level) {
                (None, _) => Err("names no known place".into()),
                (Some(found), Some(want)) if found != *want => Err(format!("must name a {want}")),
                _ => Ok(()),
            }
        }
        (Ty::Record, Value::Text(t)) if t.parse::<RecordId>().is_ok() => Ok(()),
        (Ty::Record, _) => Err("must be a record id".into()),
        (Ty::User, Value::Text(t)) if !t.is_empty() && t.len() <= 64 => Ok(()),
        (Ty::User, _) => Err("must be a user name".into()),
        (Ty::Sha256, Value::Text(t)) if t.parse::<crate::attachment::ContentHash>().is_ok() => Ok(()),
        (Ty::Sha256, _) => Err("must be a SHA-256, 64 hexadecimal digits".into()),
        (Ty::EntryRef, Value::Text(t)) if crate::attachment::parse_dot(t).is_some() => Ok(()),
        (Ty::EntryRef, _) => Err("must name an entry of the record (device:counter)".into()),
        (Ty::Gps, Value::Map(m)) => check_gps(m),
        (Ty::Gps, _) => Err("must be a position {lat, lon, accuracy_m, mock}".into()),
        (Ty::List(item, max), Value::List(items)) => {
            if items.len() > *max {
                return Err(format!("must hold at most {max} items"));
            }
            for (i, v) in items.iter().enumerate() {
                check(item, v, dir).map_err(|e| format!("item {}: {e}", i + 1))?;
            }
            Ok(())
        }
        (Ty::Struct(attrs), Value::Map(m)) => check_attrs(attrs, m, dir).map_err(|(name, e)| match name {
            Some(name) => format!("{name}: {e}"),
            None => e,
        }),
        (Ty::Text(_) | Ty::Place(_), _) => Err("must be text".into()),
        (Ty::List(..), _) => Err("must be a list".into()),
        (Ty::Struct(_), _) => Err("must be a map".into()),
    }
}

/// Checks a map of attributes; the error names the attribute.
pub(crate) fn check_attrs(
    attrs: &[Attr],
    map: &BTreeMap<String, Value>,
    dir: &dyn Hierarchy,
) -> Result<(), (Option<String>, String)> {
    if let Some(unknown) = map.keys().find(|k| !attrs.iter().any(|a| a.name == k.as_str())) {
        let known: Vec<&str> = attrs.iter().map(|a| a.name).collect();
        return Err((Some(unknown.clone()), format!("unknown attribute; expected {}", known.join(", "))));
    }
    for attr in attrs {
        match map.get(attr.name) {
            None | Some(Value::Null) if attr.required => {
                return Err((Some(attr.name.to_owned()), "is required".into()));
            }
            None | Some(Value::Null) => {}
            Some(v) => check(&attr.ty, v, dir).map_err(|e| (Some(attr.name.to_owned()), e))?,
        }
    }
    Ok(())
}

fn check_gps(m: &BTreeMap<String, Value>) -> Result<(), String> {
    if let Some(unknown) = m.keys().find(|k| !GPS_ATTRS.contains(&k.as_str())) {
        return Err(format!("{unknown}: unknown attribute; expected lat, lon, accuracy_m, mock, time_ms"));
    }
    let number = |name: &str, min: f64, max: f64| match m.get(name) {
        Some(Value::Float(x)) if (min..=max).contains(x) => Ok(()),
        Some(Value::Int(i)) if (min..=max).contains(&(*i as f64)) => Ok(()),
        _ => Err(format!("{name}: must be a number from {min} to {max}")),
    };
    number("lat", -90.0, 90.0)?;
    number("lon", -180.0, 180.0)?;
    number("accuracy_m", 0.0, 100_000.0)?;
    match m.get("mock") {
        Some(Value::Bool(_)) => {}
        _ => return Err("mock: must be true or false".into()),
    }
    match m.get("time_ms") {
        None | Some(Value::Null) => Ok(()),
        Some(v) => check(&Ty::Millis, v, &NoPlaces).map_err(|e| format!("time_ms: {e}")),
    }
}

/// A hierarchy with nothing in it, for checks that name no place.
struct NoPlaces;

impl Hierarchy for NoPlaces {
    fn place(&self, _: &str) -> Option<&crate::place::Place> {
        None
    }
    fn unit(&self, _: &str) -> Option<&crate::place::Unit> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::place::tests::sample;

    fn gps(lat: f64, mock: Value) -> Value {
        Value::Map(BTreeMap::from([
            ("lat".into(), Value::Float(lat)),
            ("lon".into(), Value::Float(102.7)),
            ("accuracy_m".into(), Value::Int(12)),
            ("mock".into(), mock),
        ]))
    }

    #[test]
    fn values_are_checked_against_their_types() {
        let dir = sample();
        assert_eq!(check(&Ty::Text(4), &"平安无事".into(), &dir), Ok(()));
        assert!(check(&Ty::Text(4), &"平安无事了".into(), &dir).is_err());
        assert!(check(&Ty::Text(4), &"".into(), &dir).is_err());
        assert!(check(&Ty::Enum(&["a", "b"]), &"c".into(), &dir).expect_err("enum").contains("a, b"));
        assert!(check(&Ty::Int(1, 4), &Value::Int(5), &dir).is_err());
        assert_eq!(check(&Ty::Date, &"2026-12-01".into(), &dir), Ok(()));
        assert!(check(&Ty::Millis, &Value::Int(5), &dir).is_err());
        assert_eq!(check(&Ty::Place(Some(Level::Grid)), &"530102001-1".into(), &dir), Ok(()));
        assert!(
            check(&Ty::Place(Some(Level::Grid)), &"530102001".into(), &dir)
                .expect_err("level")
                .contains("grid")
        );
        assert!(check(&Ty::Place(None), &"999".into(), &dir).expect_err("unknown").contains("known place"));
        assert_eq!(check(&Ty::Gps, &gps(25.04, Value::Bool(true)), &dir), Ok(()));
        assert!(check(&Ty::Gps, &gps(95.0, Value::Bool(false)), &dir).expect_err("lat").starts_with("lat"));
        assert!(check(&Ty::Gps, &gps(25.0, Value::Null), &dir).expect_err("mock").starts_with("mock"));
        let list = Value::List(vec![Value::Int(1), "x".into()]);
        assert!(check(&Ty::List(&Ty::Int(0, 9), 5), &list, &dir).expect_err("item").starts_with("item 2"));
    }

    #[test]
    fn structs_name_the_attribute() {
        const ATTRS: &[Attr] = &[req("name", Ty::Text(8)), opt("phone", Ty::Text(8))];
        let dir = sample();
        let ok = BTreeMap::from([("name".to_owned(), Value::from("张三"))]);
        assert_eq!(check_attrs(ATTRS, &ok, &dir), Ok(()));
        let missing = BTreeMap::from([("phone".to_owned(), Value::from("1"))]);
        assert_eq!(check_attrs(ATTRS, &missing, &dir).map_err(|e| e.0), Err(Some("name".into())));
        let extra =
            BTreeMap::from([("name".to_owned(), Value::from("x")), ("age".to_owned(), Value::Int(3))]);
        assert_eq!(check_attrs(ATTRS, &extra, &dir).map_err(|e| e.0), Err(Some("age".into())));
    }
}
