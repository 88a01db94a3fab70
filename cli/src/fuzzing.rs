//! What the `cli_values` fuzz target runs (`fuzz/fuzz_targets/cli_values.rs`),
//! kept here so `cli/tests/fuzz_corpus.rs` replays the committed corpus with
//! the same code on stable. Not an API; it panics when an invariant breaks.
//!
//! The input is read as the arguments of one command, one per line (the
//! shell hands the command line UTF-8 text without newlines inside an
//! argument here). Each goes through every parser a value argument meets:
//! the field syntax ([`values::parse_assignment`], [`values::parse_value`]),
//! the whole argument list ([`values::parse_assignments`]) and the record,
//! device and date parsers that `clap` calls for ids and dates.

use std::collections::HashSet;
use std::str::FromStr;

use gridsync_proto::{ActorId, Date, RecordId, Value};

use crate::values::{self, ValueError};

/// Parses every line of `data` as a field argument; panics when a parser
/// breaks an invariant.
pub fn parse_arguments(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let args: Vec<String> = text.split('\n').map(str::to_owned).collect();
    for (i, arg) in args.iter().enumerate() {
        assignment(arg, i + 1);
        for json in [false, true] {
            if let Ok(value) = values::parse_value(arg, json, "f") {
                typed_value(arg, json, &value);
            }
        }
        round_trips::<RecordId>(arg);
        round_trips::<ActorId>(arg);
        round_trips::<Date>(arg);
    }
    match values::parse_assignments(&args) {
        Ok(fields) => {
            assert_eq!(fields.len(), args.len(), "one field per argument");
            let keys: HashSet<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
            assert_eq!(keys.len(), fields.len(), "every field once");
        }
        Err(ValueError::Duplicate { field }) => {
            let count = args
                .iter()
                .filter_map(|a| values::parse_assignment(a, 1).ok())
                .filter(|(k, _)| *k == field)
                .count();
            assert!(count >= 2, "a duplicate is named only when a field repeats");
        }
        Err(_) => {}
    }
}

/// One `KEY=TEXT` or `KEY:=JSON` argument.
fn assignment(arg: &str, position: usize) {
    match values::parse_assignment(arg, position) {
        Ok((key, value)) => {
            assert!(!key.is_empty(), "a field has a name");
            assert!(arg.starts_with(key.as_str()), "the name is the argument's start");
            let rest = &arg[key.len()..];
            match rest.strip_prefix(":=") {
                Some(json) => typed_value(json, true, &value),
                None => {
                    let text = rest.strip_prefix('=').expect("the separator follows the name");
                    assert_eq!(value, Value::Text(text.to_owned()), "KEY=TEXT is text, as given");
                }
            }
        }
        Err(error) => {
            let message = error.to_string();
            match &error {
                ValueError::NoSeparator { position: p } | ValueError::EmptyKey { position: p } => {
                    assert_eq!(*p, position, "the error names the argument's position");
                }
                ValueError::BadJson { field, .. } => assert!(arg.starts_with(field.as_str())),
                ValueError::Duplicate { .. } => panic!("one argument cannot repeat a field"),
            }
            // Personal data is not ASCII (names, addresses, notes in
            // Chinese), while every message template is: a value that is
            // not ASCII must never be echoed.
            let value = arg.split_once('=').map_or(arg, |(_, v)| v);
            let key = arg.split_once('=').map_or("", |(k, _)| k);
            if !value.is_ascii() && !key.contains(value) {
                assert!(!message.contains(value), "an error echoes the value: {message}");
            }
        }
    }
}

/// A value that parsed: text is kept as given, JSON survives a round trip
/// through the JSON the CLI prints.
fn typed_value(raw: &str, json: bool, value: &Value) {
    if !json {
        assert_eq!(*value, Value::Text(raw.to_owned()));
        return;
    }
    let printed = value.to_json();
    let back = Value::from_json(&printed);
    assert_eq!(back.to_json(), printed, "a value prints and reads back alike");
    let text = serde_json::to_string(&printed).expect("a value prints");
    let again = values::parse_value(&text, true, "f").expect("printed JSON parses");
    assert_eq!(again.to_json(), printed);
}

/// An id or a date: what parses prints as text that parses to the same.
fn round_trips<T: FromStr + ToString + PartialEq + std::fmt::Debug>(arg: &str) {
    if let Ok(parsed) = arg.parse::<T>() {
        let shown = parsed.to_string();
        let back = shown.parse::<T>().ok();
        assert_eq!(back, Some(parsed), "{shown} parses back");
    }
}

/// Argument lists for the seed corpus: `(file name, one argument a line)`.
pub fn seeds() -> Vec<(&'static str, &'static str)> {
    vec![
        ("text", "category=邻里纠纷\nsummary=双方因漏水争执"),
        ("typed", "count:=3\nlat:=25.04\nurgent:=true\ncleared:=null"),
        ("json", "gps:=[25.04, 102.7]\nparty:={\"role\":\"applicant\",\"name\":\"张三\"}"),
        ("url", "url=http://x/?a=b\na:b=c\nempty="),
        ("bad", "secret\n=x\n:=1\nn:=[1,\ncount:=秘密 text"),
        ("duplicate", "a=1\na:=2"),
        ("ids", "0190f5e2-7c4e-7b9a-8c1d-2f3a4b5c6d7e\n2026-12-03\n2026-02-30"),
        ("numbers", "big:=18446744073709551616\nneg:=-9223372036854775808\nexp:=1e308\ntiny:=5e-324"),
    ]
}
