//! Writes the server refused, as printed by `gridsync rejected`.

use std::fmt::Write as _;

use gridsync_client_core::Rejection;
use serde::Serialize;

use super::{clean, time};

/// One refused write, as printed by `gridsync rejected --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
        }
    }
}

/// Refused writes for reading.
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
    }
    out.push_str(
        "the record on this device was rebuilt from the server's copy; redo the change if it still \
         applies, then: gridsync rejected dismiss ID\n",
    );
    out
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
            change_count: 1,
        };
        let text = rejected_text(std::slice::from_ref(&r));
        assert!(
            text.starts_with(
                "3  2024-05-01T08:30:00Z  dispute 0190f3a2-7b1c-7d4e-8f00-123456789abc  forbidden (field summary): \
                 only the dispute's owner"
            ),
            "{text}"
        );
        assert!(text.contains("gridsync rejected dismiss ID"), "{text}");
        assert_eq!(rejected_text(&[]), "no refused writes\n");
        assert_eq!(
            serde_json::to_value(&r).expect("encode"),
            json!({
                "id": 3, "record": "0190f3a2-7b1c-7d4e-8f00-123456789abc", "kind": "dispute",
                "code": "forbidden", "field": "summary",
                "message": "only the dispute's owner or a level above it may change its fields",
                "refused_ms": 1_714_552_200_000u64, "change_count": 1,
            })
        );
    }
}
