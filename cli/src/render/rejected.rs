//! Writes the server refused, as printed by `gridsync rejected`.

use std::fmt::Write as _;

use gridsync_client_core::{Outcome, RefusedEdit, Rejection};
use serde::Serialize;
use serde_json::Value as Json;

use super::{clean, indent, time, value_text};

/// One refused write, as printed by `gridsync rejected --json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct RejectedJson {
    /// Its id on this device, for `gridsync rejected dismiss ID`.
    pub(crate) id: i64,
    /// The record.
    pub(crate) record: String,
    /// Its kind name.
    pub(crate) kind: String,
    /// The server's stable code (`forbidden`, `out_of_scope`, …).
    pub(crate) code: String,
    /// The field, entry or attribute concerned.
    pub(crate) field: Option<String>,
    /// The server's reason (never the values).
    pub(crate) message: String,
    /// When the server's answer arrived (device clock, Unix ms).
    pub(crate) refused_ms: u64,
    /// How many changes the refused write made.
    pub(crate) change_count: u64,
    /// What became of the record on this device: `rebuilt`, `kept`, `removed`.
    pub(crate) outcome: Outcome,
    /// The refused edits with their values, to redo them.
    pub(crate) edits: Vec<RefusedEdit>,
}

impl From<&Rejection> for RejectedJson {
    fn from(r: &Rejection) -> Self {
        Self {
            id: r.id,
            record: r.record.to_string(),
            kind: r.kind.name(),
            code: r.code.to_string(),
            field: r.field.clone(),
            message: r.message.clone(),
            refused_ms: r.refused_ms,
            change_count: r.changes.len() as u64,
            outcome: r.outcome,
            edits: r.edits(),
        }
    }
}

/// Refused writes for reading: each with its refused values and what
/// became of its record on this device.
pub(crate) fn rejected_text(refused: &[RejectedJson]) -> String {
    if refused.is_empty() {
        return "no refused writes\n".to_owned();
    }
    let mut out = String::new();
    for r in refused {
        let field = r.field.as_deref().map(|f| format!(" (field {})", clean(f))).unwrap_or_default();
        let _ = writeln!(
            out,
            "{}  {}  {} {}  {}{field}: {}",
            r.id,
            time(r.refused_ms),
            r.kind,
            r.record,
            r.code,
            clean(&r.message)
        );
        for edit in &r.edits {
            let _ = writeln!(out, "   refused: {}", edit_text(edit));
        }
        let _ = writeln!(out, "   {}", r.outcome.describe());
    }
    out.push_str("redo what still applies, then: gridsync rejected dismiss ID\n");
    out
}

/// One refused edit: `summary = VALUE`, `note: TEXT`, `step: action=…, note=…`.
fn edit_text(edit: &RefusedEdit) -> String {
    // Continuation lines of a multi-line value line up under `refused: `.
    const INDENT: usize = 12;
    match edit {
        RefusedEdit::Create => "created the record".to_owned(),
        RefusedEdit::Set { field, value } => {
            format!("{} = {}", clean(field), indent(&value_text(value), INDENT))
        }
        RefusedEdit::Append { entry, body } => {
            let attrs = match body {
                Json::Object(map) if map.len() == 1 && map.contains_key("text") => value_text(&map["text"]),
                Json::Object(map) => map
                    .iter()
                    .map(|(k, v)| format!("{}={}", clean(k), value_text(v)))
                    .collect::<Vec<_>>()
                    .join(", "),
                other => value_text(other),
            };
            format!("{}: {}", clean(entry), indent(&attrs, INDENT))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn refusals_read_and_serialise() {
        let r = RejectedJson {
            id: 3,
            record: "0190f3a2-7b1c-7d4e-8f00-123456789abc".to_owned(),
            kind: "dispute".to_owned(),
            code: "forbidden".to_owned(),
            field: Some("summary".to_owned()),
            message: "only the dispute's owner or a level above it may change its fields".to_owned(),
            refused_ms: 1_714_552_200_000,
            change_count: 2,
            outcome: Outcome::Removed,
            edits: vec![
                RefusedEdit::Set {
                    field: "summary".to_owned(), value: json!("已疏通一半\n明天再看")
                },
                RefusedEdit::Append { entry: "note".to_owned(), body: json!({"text": "双方同意"}) },
            ],
        };
        let text = rejected_text(std::slice::from_ref(&r));
        assert!(
            text.starts_with(
                "3  2024-05-01T08:30:00Z  dispute 0190f3a2-7b1c-7d4e-8f00-123456789abc  forbidden (field summary): \
                 only the dispute's owner"
            ),
            "{text}"
        );
        assert!(text.contains("\n   refused: summary = 已疏通一半\n            明天再看\n"), "{text}");
        assert!(text.contains("\n   refused: note: 双方同意\n"), "{text}");
        assert!(text.contains("left your scope and was removed from this device"), "{text}");
        assert!(!text.contains("rebuilt"), "{text}");
        assert!(text.ends_with("gridsync rejected dismiss ID\n"), "{text}");
        let step = RefusedEdit::Append {
            entry: "step".to_owned(),
            body: json!({"action": "resolve", "note": "x\u{1b}"}),
        };
        assert_eq!(edit_text(&step), "step: action=resolve, note=x\\u{1b}");
        assert_eq!(rejected_text(&[]), "no refused writes\n");
        assert_eq!(
            serde_json::to_value(&r).expect("encode"),
            json!({
                "id": 3, "record": "0190f3a2-7b1c-7d4e-8f00-123456789abc", "kind": "dispute",
                "code": "forbidden", "field": "summary",
                "message": "only the dispute's owner or a level above it may change its fields",
                "refused_ms": 1_714_552_200_000u64, "change_count": 2, "outcome": "removed",
                "edits": [
                    {"op": "set", "field": "summary", "value": "已疏通一半\n明天再看"},
                    {"op": "append", "entry": "note", "body": {"text": "双方同意"}},
                ],
            })
        );
    }
}
