//! Output: the stable JSON shapes and the text renderings for people.
//!
//! JSON output is the contract for scripts (documented in `docs/CLI.md`;
//! fields are only ever added). Text output is for reading and may change.
//! Text output escapes control characters, so a value synced from another
//! device cannot send escape sequences to the terminal.

use std::fmt::Write as _;

use gridsync_client_core::{Conflict, SyncReport};
use gridsync_proto::RecordView;
use gridsync_proto::view::{CandidateView, StampView};
use serde::Serialize;
use serde_json::Value as Json;

/// One field in conflict, as printed by `gridsync conflicts --json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ConflictJson {
    /// The record id.
    pub(crate) record: String,
    /// The record kind name.
    pub(crate) kind: String,
    /// The field.
    pub(crate) field: String,
    /// Every competing value: `{value, device, author, time_ms}`.
    pub(crate) values: Vec<CandidateView>,
}

impl From<&Conflict> for ConflictJson {
    fn from(c: &Conflict) -> Self {
        Self {
            record: c.record.to_string(),
            kind: c.kind.name(),
            field: c.field.clone(),
            values: c
                .values
                .iter()
                .map(|fv| CandidateView { value: fv.value.to_json(), stamp: (&fv.stamp).into() })
                .collect(),
        }
    }
}

/// The device's state, as printed by `gridsync status --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct StatusJson {
    /// This device's id.
    pub(crate) device: String,
    /// The server it syncs with.
    pub(crate) server_url: String,
    /// Changes made here that the server has not acknowledged.
    pub(crate) pending: u64,
    /// The last server sequence number applied here.
    pub(crate) cursor: u64,
    /// Fields in conflict on this device.
    pub(crate) conflicts: u64,
}

/// Pretty JSON for stdout.
pub(crate) fn json<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    serde_json::to_string_pretty(value)
}

/// A record for reading: header, fields, conflicts and entries.
pub(crate) fn record_text(view: &RecordView) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} {}", view.kind, view.id);
    match &view.created {
        Some(stamp) => {
            let _ = writeln!(out, "created {} by {}", time(stamp.time_ms), origin(stamp));
        }
        None => out.push_str("created (not received yet)\n"),
    }
    if view.fields.is_empty() {
        out.push_str("fields: none\n");
    } else {
        out.push_str("fields:\n");
        let width = view.fields.keys().map(|k| clean(k).chars().count()).max().unwrap_or(0);
        for (key, value) in &view.fields {
            let name = clean(key);
            let pad = width - name.chars().count();
            let _ = write!(out, "  {name}{:pad$}  {}", "", indent(&value_text(value), width + 4));
            if let Some(c) = view.conflicts.iter().find(|c| &c.field == key) {
                let _ = write!(out, "  [CONFLICT: {} values]", c.values.len());
            }
            out.push('\n');
        }
    }
    if !view.conflicts.is_empty() {
        out.push_str("conflicts:\n");
        for c in &view.conflicts {
            let _ = writeln!(out, "  {}:", clean(&c.field));
            for v in &c.values {
                let _ = writeln!(out, "    - {}", candidate(v));
            }
        }
        let _ = writeln!(out, "  resolve with: gridsync resolve {} FIELD VALUE", view.id);
    }
    if view.entries.is_empty() {
        out.push_str("entries: none\n");
    } else {
        out.push_str("entries:\n");
        for e in &view.entries {
            let _ = writeln!(out, "  {} {} by {}", time(e.stamp.time_ms), clean(&e.entry), origin(&e.stamp));
            for (k, v) in &e.body {
                let _ = writeln!(out, "    {}: {}", clean(k), indent(&value_text(v), 6));
            }
        }
    }
    out
}

/// A record in one line: id, kind, the first fields, and a conflict marker.
pub(crate) fn list_line(view: &RecordView) -> String {
    const SHOWN: usize = 3;
    const WIDTH: usize = 24;
    let mut fields: Vec<String> = view
        .fields
        .iter()
        .take(SHOWN)
        .map(|(k, v)| format!("{}={}", clean(k), truncate(&value_text(v).replace('\n', " "), WIDTH)))
        .collect();
    if view.fields.len() > SHOWN {
        fields.push(format!("+{} more", view.fields.len() - SHOWN));
    }
    let mut line = format!("{}  {:<12}  {}", view.id, view.kind, fields.join(", "));
    if !view.conflicts.is_empty() {
        line.push_str("  CONFLICT");
    }
    line.trim_end().to_owned()
}

/// Every conflict for reading, with each candidate's origin.
pub(crate) fn conflicts_text(conflicts: &[ConflictJson]) -> String {
    if conflicts.is_empty() {
        return "no conflicts\n".to_owned();
    }
    let mut out = String::new();
    for c in conflicts {
        let _ =
            writeln!(out, "{}  {}  field {}: {} values", c.record, c.kind, clean(&c.field), c.values.len());
        for v in &c.values {
            let _ = writeln!(out, "  - {}", candidate(v));
        }
    }
    out.push_str("resolve with: gridsync resolve RECORD FIELD VALUE\n");
    out
}

/// One line on what a sync did.
pub(crate) fn sync_text(r: &SyncReport) -> String {
    let mut line = format!(
        "pushed {} ({} already on server) in {}; pulled {} in {}; cursor {}",
        r.pushed,
        r.duplicates,
        plural(u64::from(r.push_batches), "batch", "batches"),
        r.pulled,
        plural(u64::from(r.pull_pages), "page", "pages"),
        r.cursor
    );
    if r.skipped > 0 {
        let _ = write!(line, "; skipped {} that could not merge", r.skipped);
    }
    line
}

/// The device's state for reading.
pub(crate) fn status_text(s: &StatusJson) -> String {
    format!(
        "device     {}\nserver     {}\npending    {}\ncursor     {}\nconflicts  {}\n",
        s.device,
        clean(&s.server_url),
        plural(s.pending, "unsent change", "unsent changes"),
        s.cursor,
        plural(s.conflicts, "field", "fields"),
    )
}

/// `n thing` or `n things`.
fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `value  by author on device 1a2b3c4d at time`.
fn candidate(v: &CandidateView) -> String {
    format!("{}  by {} at {}", indent(&value_text(&v.value), 6), origin(&v.stamp), time(v.stamp.time_ms))
}

/// `author (device 1a2b3c4d)`: the device id shortened to its first 8 digits.
fn origin(stamp: &StampView) -> String {
    let short: String = stamp.device.chars().take(8).collect();
    format!("{} (device {short})", clean(&stamp.author))
}

/// A value for reading: text as is, everything else as compact JSON.
pub(crate) fn value_text(value: &Json) -> String {
    match value {
        Json::String(s) => clean_multiline(s),
        other => clean(&other.to_string()),
    }
}

/// Indents continuation lines of a multi-line value by `by` spaces.
fn indent(s: &str, by: usize) -> String {
    s.replace('\n', &format!("\n{:by$}", ""))
}

/// Escapes control characters (including newlines).
fn clean(s: &str) -> String {
    s.chars().flat_map(|c| EscapeControl::new(c, false)).collect()
}

/// Escapes control characters but keeps newlines.
fn clean_multiline(s: &str) -> String {
    s.chars().flat_map(|c| EscapeControl::new(c, true)).collect()
}

/// A character, or its `\u{..}` escape if it is a control character.
#[derive(Debug)]
enum EscapeControl {
    /// Printed as is.
    Plain(Option<char>),
    /// Escaped.
    Escaped(std::char::EscapeUnicode),
}

impl EscapeControl {
    fn new(c: char, keep_newline: bool) -> Self {
        if c.is_control() && !(keep_newline && c == '\n') {
            EscapeControl::Escaped(c.escape_unicode())
        } else {
            EscapeControl::Plain(Some(c))
        }
    }
}

impl Iterator for EscapeControl {
    type Item = char;

    fn next(&mut self) -> Option<char> {
        match self {
            EscapeControl::Plain(c) => c.take(),
            EscapeControl::Escaped(e) => e.next(),
        }
    }
}

/// At most `max` characters, with `…` if cut.
fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Unix milliseconds as UTC ISO 8601, e.g. `2024-05-01T08:30:00Z`.
pub(crate) fn time(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// `civil_from_days`, for non-negative day counts).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use gridsync_proto::view::{ConflictView, EntryView};
    use gridsync_proto::{ActorId, Dot, FieldValue, Hlc, RecordId, RecordKind, Stamp, Value};
    use serde_json::json;

    use super::*;

    const DEVICE_A: &str = "1a2b3c4d-0000-4000-8000-000000000001";
    const DEVICE_B: &str = "9f8e7d6c-0000-4000-8000-000000000002";
    const MAY_FIRST: u64 = 1_714_552_200_000; // 2024-05-01T08:30:00Z

    fn stamp(device: &str, author: &str, time_ms: u64) -> StampView {
        StampView { device: device.to_owned(), author: author.to_owned(), time_ms }
    }

    fn disputed() -> RecordView {
        let fields = json!({"category": "邻里纠纷", "status": "mediated", "parties": 2});
        RecordView {
            id: "0190f3a2-7b1c-7d4e-8f00-123456789abc".to_owned(),
            kind: "dispute".to_owned(),
            created: Some(stamp(DEVICE_A, "张三", MAY_FIRST)),
            fields: fields.as_object().cloned().unwrap_or_default(),
            conflicts: vec![ConflictView {
                field: "status".to_owned(),
                values: vec![
                    CandidateView {
                        value: json!("found"), stamp: stamp(DEVICE_B, "李四", MAY_FIRST + 1000)
                    },
                    CandidateView {
                        value: json!("mediated"),
                        stamp: stamp(DEVICE_A, "张三", MAY_FIRST + 60_000),
                    },
                ],
            }],
            entries: vec![EntryView {
                entry: "note".to_owned(),
                body: json!({"text": "双方到村委会调解\n第二行"}).as_object().cloned().unwrap_or_default(),
                stamp: stamp(DEVICE_A, "张三", MAY_FIRST + 120_000),
            }],
        }
    }

    #[test]
    fn times_are_utc_iso_8601() {
        assert_eq!(time(0), "1970-01-01T00:00:00Z");
        assert_eq!(time(MAY_FIRST + 999), "2024-05-01T08:30:00Z");
        assert_eq!(time(1_709_164_800_000), "2024-02-29T00:00:00Z");
        assert_eq!(time(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(time(4_102_444_799_000), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn a_record_reads_with_its_conflicts_and_entries() {
        let text = record_text(&disputed());
        let expected = "\
dispute 0190f3a2-7b1c-7d4e-8f00-123456789abc
created 2024-05-01T08:30:00Z by 张三 (device 1a2b3c4d)
fields:
  category  邻里纠纷
  parties   2
  status    mediated  [CONFLICT: 2 values]
conflicts:
  status:
    - found  by 李四 (device 9f8e7d6c) at 2024-05-01T08:30:01Z
    - mediated  by 张三 (device 1a2b3c4d) at 2024-05-01T08:31:00Z
  resolve with: gridsync resolve 0190f3a2-7b1c-7d4e-8f00-123456789abc FIELD VALUE
entries:
  2024-05-01T08:32:00Z note by 张三 (device 1a2b3c4d)
    text: 双方到村委会调解
      第二行
";
        assert_eq!(text, expected);
    }

    #[test]
    fn an_empty_record_reads_plainly() {
        let view = RecordView {
            id: "x".to_owned(),
            kind: "patrol".to_owned(),
            created: None,
            fields: serde_json::Map::new(),
            conflicts: vec![],
            entries: vec![],
        };
        assert_eq!(record_text(&view), "patrol x\ncreated (not received yet)\nfields: none\nentries: none\n");
    }

    #[test]
    fn list_lines_show_a_few_fields_and_the_conflict_marker() {
        let mut view = disputed();
        assert_eq!(
            list_line(&view),
            "0190f3a2-7b1c-7d4e-8f00-123456789abc  dispute       \
             category=邻里纠纷, parties=2, status=mediated  CONFLICT"
        );
        view.conflicts.clear();
        view.fields
            .insert("address".to_owned(), json!("云南省文山州西畴县兴街镇某某村民小组第三十七号院东侧"));
        let line = list_line(&view);
        assert!(line.contains("address=云南省文山州西畴县兴街镇某某村民小组第三十七号…, "), "{line}");
        assert!(line.ends_with("+1 more"), "{line}");
    }

    #[test]
    fn control_characters_are_escaped_in_text() {
        assert_eq!(value_text(&json!("a\u{1b}[31mb\nc")), "a\\u{1b}[31mb\nc");
        assert_eq!(clean("a\nb"), "a\\u{a}b");
        assert_eq!(value_text(&json!([1, "x"])), "[1,\"x\"]");
    }

    #[test]
    fn conflicts_have_a_stable_json_shape() {
        let fv = |actor: ActorId, value: &str, author: &str, ms: u64| FieldValue {
            value: Value::from(value),
            stamp: Stamp {
                dot: Dot { actor, counter: 2 },
                author: author.to_owned(),
                time: Hlc::from_millis(ms),
            },
        };
        let (a, b) = (ActorId::random(), ActorId::random());
        let conflict = Conflict {
            record: RecordId::generate(MAY_FIRST),
            kind: RecordKind::Dispute,
            field: "status".to_owned(),
            values: vec![fv(a, "found", "李四", MAY_FIRST), fv(b, "mediated", "张三", MAY_FIRST + 1)],
        };
        let printed: Json =
            serde_json::from_str(&json(&[ConflictJson::from(&conflict)]).expect("encode")).expect("decode");
        assert_eq!(
            printed,
            json!([{
                "record": conflict.record.to_string(),
                "kind": "dispute",
                "field": "status",
                "values": [
                    {"value": "found", "device": a.to_string(), "author": "李四", "time_ms": MAY_FIRST},
                    {"value": "mediated", "device": b.to_string(), "author": "张三", "time_ms": MAY_FIRST + 1},
                ],
            }])
        );
        assert_eq!(conflicts_text(&[]), "no conflicts\n");
        let text = conflicts_text(&[ConflictJson::from(&conflict)]);
        assert!(text.contains("dispute  field status: 2 values"), "{text}");
        assert!(text.contains("- found  by 李四 (device "), "{text}");
    }

    #[test]
    fn sync_reports_read_and_serialise() {
        let report = SyncReport {
            pushed: 3,
            duplicates: 0,
            push_batches: 1,
            pulled: 5,
            pull_pages: 1,
            skipped: 0,
            cursor: 42,
        };
        assert_eq!(
            sync_text(&report),
            "pushed 3 (0 already on server) in 1 batch; pulled 5 in 1 page; cursor 42"
        );
        let more = SyncReport { push_batches: 2, pull_pages: 0, skipped: 1, ..report.clone() };
        assert_eq!(
            sync_text(&more),
            "pushed 3 (0 already on server) in 2 batches; pulled 5 in 0 pages; cursor 42; \
             skipped 1 that could not merge"
        );
        let printed: Json = serde_json::from_str(&json(&report).expect("encode")).expect("decode");
        assert_eq!(
            printed,
            json!({"pushed": 3, "duplicates": 0, "push_batches": 1, "pulled": 5, "pull_pages": 1,
                   "skipped": 0, "cursor": 42})
        );
    }

    #[test]
    fn status_reads_and_serialises() {
        let status = StatusJson {
            device: DEVICE_A.to_owned(),
            server_url: "http://10.1.2.3:8080".to_owned(),
            pending: 1,
            cursor: 7,
            conflicts: 0,
        };
        assert_eq!(
            status_text(&status),
            format!(
                "device     {DEVICE_A}\nserver     http://10.1.2.3:8080\npending    1 unsent change\n\
                 cursor     7\nconflicts  0 fields\n"
            )
        );
        let printed: Json = serde_json::from_str(&json(&status).expect("encode")).expect("decode");
        assert_eq!(
            printed,
            json!({"device": DEVICE_A, "server_url": "http://10.1.2.3:8080", "pending": 1, "cursor": 7,
                   "conflicts": 0})
        );
    }
}
