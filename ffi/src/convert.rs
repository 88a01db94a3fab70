//! Arguments in, views out: field values and record views cross the
//! boundary as JSON text, ids and dates as their usual text forms.
//!
//! A field value is recursive (lists and maps of values), which UniFFI's
//! type system cannot describe without a boxed enum per level; JSON is what
//! every app already parses, and it is the shape `docs/CLI.md` documents for
//! `gridsync show --json`. See `docs/adr/0011-ffi-uniffi.md`.
//!
//! Every reason written here for bad input names the argument and what is
//! expected, never the input itself: an argument may hold personal data.

use std::collections::BTreeMap;

use gridsync_client_core::Store;
use gridsync_proto::date::CHINA_UTC_OFFSET_MINUTES;
use gridsync_proto::{Action, Date, Dot, RecordId, RecordKind, RecordState, RecordView, Value};
use serde_json::Value as Json;

use crate::error::GridError;

/// A field value from JSON text (`"text"`, `3`, `2.5`, `true`, `null`,
/// `[...]`, `{...}`).
pub(crate) fn value(json: &str, argument: &str) -> Result<Value, GridError> {
    Ok(Value::from_json(&parse(json, argument)?))
}

/// Field values from a JSON object (`{"summary": "…", "risk": 2}`), in key
/// order.
pub(crate) fn fields(json: &str, argument: &str) -> Result<BTreeMap<String, Value>, GridError> {
    match parse(json, argument)? {
        Json::Object(map) => Ok(map.iter().map(|(k, v)| (k.clone(), Value::from_json(v))).collect()),
        _ => Err(GridError::invalid(argument, "expected a JSON object of field names to values")),
    }
}

fn parse(json: &str, argument: &str) -> Result<Json, GridError> {
    serde_json::from_str(json).map_err(|e| {
        // serde_json's own message may quote the input; only its position is kept.
        GridError::invalid(argument, format!("not valid JSON (line {}, column {})", e.line(), e.column()))
    })
}

/// A field value as JSON text.
pub(crate) fn value_json(value: &Value) -> String {
    value.to_json().to_string()
}

/// A record's view as JSON text: the object `gridsync show --json` prints
/// (`docs/CLI.md`, "Record view"), with the server's receipts.
pub(crate) fn view_json(store: &Store, state: &RecordState) -> Result<String, GridError> {
    let receipts = store.receipts(state.id())?;
    let view =
        RecordView::with_receipts(state, &|dot| receipts.get(dot).map(|r| (r.received_ms, r.clock_suspect)));
    to_json(&view)
}

/// Anything serializable as JSON text.
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Result<String, GridError> {
    serde_json::to_string(value)
        .map_err(|_| GridError::Other { reason: "cannot encode a view as JSON".into() })
}

/// A record id (a UUID in its hyphenated form).
pub(crate) fn record_id(text: &str, argument: &str) -> Result<RecordId, GridError> {
    text.trim().parse().map_err(|_| GridError::invalid(argument, "expected a record id (a UUID)"))
}

/// Optional record id.
pub(crate) fn record_id_opt(text: Option<&str>, argument: &str) -> Result<Option<RecordId>, GridError> {
    text.map(|t| record_id(t, argument)).transpose()
}

/// A step id (`DEVICE:COUNTER`).
pub(crate) fn dot(text: &str, argument: &str) -> Result<Dot, GridError> {
    text.trim().parse().map_err(|_| GridError::invalid(argument, "expected a step id (DEVICE-UUID:COUNTER)"))
}

/// A record kind by name (`patrol`, `visit`, `dispute`, `daily_report`,
/// `household`, or `kind_N`).
pub(crate) fn kind(text: &str, argument: &str) -> Result<RecordKind, GridError> {
    text.trim()
        .parse()
        .map_err(|e: gridsync_proto::kind::UnknownKind| GridError::invalid(argument, e.to_string()))
}

/// A dispute action by name (`accept`, `escalate`, `close`, …).
pub(crate) fn action(text: &str, argument: &str) -> Result<Action, GridError> {
    text.trim().parse().map_err(|e: String| GridError::invalid(argument, e))
}

/// A `YYYY-MM-DD` date.
pub(crate) fn date(text: &str, argument: &str) -> Result<Date, GridError> {
    text.trim().parse().map_err(|_| GridError::invalid(argument, "expected a date as YYYY-MM-DD"))
}

/// Optional date.
pub(crate) fn date_opt(text: Option<&str>, argument: &str) -> Result<Option<Date>, GridError> {
    text.map(|t| date(t, argument)).transpose()
}

/// A date, or today in China Standard Time (UTC+8) when none is given.
pub(crate) fn date_or_today(text: Option<&str>, argument: &str) -> Result<Date, GridError> {
    match text {
        Some(text) => date(text, argument),
        None => Store::today(CHINA_UTC_OFFSET_MINUTES)
            .ok_or_else(|| GridError::Other { reason: "the device clock gives no date".into() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: &str = "张三";

    #[test]
    fn values_round_trip_through_json() {
        let v =
            value(r#"{"lat": 35.54, "n": 3, "names": ["a", null, true], "ok": false}"#, "v").expect("value");
        let Value::Map(map) = &v else { panic!("a map: {v:?}") };
        assert_eq!(map["n"], Value::Int(3));
        assert_eq!(map["lat"], Value::Float(35.54));
        assert_eq!(map["names"], Value::List(vec![Value::from("a"), Value::Null, Value::Bool(true)]));
        let back: Json = serde_json::from_str(&value_json(&v)).expect("json");
        assert_eq!(back, serde_json::json!({"lat": 35.54, "n": 3, "names": ["a", null, true], "ok": false}));
        assert_eq!(value("\"平安\"", "v").expect("text"), Value::from("平安"));
        assert_eq!(value("null", "v").expect("null"), Value::Null);
    }

    #[test]
    fn fields_need_an_object() {
        let f = fields(r#"{"summary": "排水沟", "risk": 2}"#, "fields_json").expect("fields");
        assert_eq!(f.keys().collect::<Vec<_>>(), ["risk", "summary"]);
        let e = fields("[1, 2]", "fields_json").expect_err("not an object");
        assert!(
            matches!(&e, GridError::Validation { code, field: Some(f), .. } if code == "invalid_request" && f == "fields_json")
        );
    }

    #[test]
    fn bad_input_is_refused_without_repeating_it() {
        let errors = [
            fields(&format!(r#"{{"parties": [{{"name": "{NAME}"}}"#), "fields_json").expect_err("truncated"),
            fields(&format!(r#"{{"parties": {NAME}}}"#), "fields_json").expect_err("bare word"),
            value(&format!("\"{NAME}"), "value_json").expect_err("unterminated"),
            record_id(NAME, "id").expect_err("not an id"),
            kind(NAME, "kind").expect_err("not a kind"),
            action(NAME, "action").expect_err("not an action"),
            date(NAME, "date").expect_err("not a date"),
            dot(NAME, "acknowledges").expect_err("not a dot"),
        ];
        for e in errors {
            let shown = format!("{e} {e:?}");
            assert!(!shown.contains(NAME), "{shown}");
            assert!(matches!(e, GridError::Validation { .. }), "{shown}");
        }
    }

    #[test]
    fn names_and_dates_parse() {
        assert_eq!(kind("daily_report", "kind").expect("kind"), RecordKind::DailyReport);
        assert_eq!(kind("kind_77", "kind").expect("kind"), RecordKind::Other(77));
        assert_eq!(action("follow_up", "action").expect("action"), Action::FollowUp);
        assert_eq!(date("2026-12-01", "date").expect("date").to_string(), "2026-12-01");
        assert!(date_or_today(None, "date").is_ok());
        let id = RecordId::generate(1);
        assert_eq!(record_id(&id.to_string(), "id").expect("id"), id);
        assert_eq!(record_id_opt(None, "id").expect("none"), None);
    }
}
