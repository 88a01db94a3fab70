//! Output: the stable JSON shapes and the text renderings for people.
//!
//! JSON output is the contract for scripts (documented in `docs/CLI.md`;
//! fields are only ever added). Text output is for reading and may change.
//! Text output escapes control characters, so a value synced from another
//! device cannot send escape sequences to the terminal, and shows times in
//! the deployment's time zone (or UTC with `--utc`, [`zone`]), every `*_ms`
//! value included.

mod attachment;
mod dispute;
mod rejected;
mod text;
mod zone;

use std::borrow::Cow;
use std::fmt::Write as _;

pub(crate) use attachment::{AttachmentJson, attachments_text};
pub(crate) use dispute::{DisputeJson, dispute_text};
pub(crate) use rejected::{RejectedJson, rejected_text};
use text::{clean, clean_multiline, truncate};
pub(crate) use zone::{Zone, set as set_zone};
use zone::{time, value_time};

use gridsync_client_core::{Conflict, SyncReport};
use gridsync_proto::view::{CandidateView, Receipts, StampView};
use gridsync_proto::{RecordView, Stamp};
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

impl ConflictJson {
    /// The conflict, with the server's receipt of each value when known.
    pub(crate) fn new(c: &Conflict, receipts: Receipts<'_>) -> Self {
        let stamp = |s: &Stamp| {
            let receipt = receipts(&s.dot);
            StampView {
                device: s.device().to_string(),
                author: s.author.clone(),
                time_ms: s.time.millis,
                received_ms: receipt.map(|r| r.0),
                clock_suspect: receipt.is_some_and(|r| r.1),
            }
        };
        Self {
            record: c.record.to_string(),
            kind: c.kind.name(),
            field: c.field.clone(),
            values: c
                .values
                .iter()
                .map(|fv| CandidateView { value: fv.value.to_json(), stamp: stamp(&fv.stamp) })
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
    /// Whether the device has enrolled (it can write and sync only then).
    pub(crate) enrolled: bool,
    /// The enrolled user's name.
    pub(crate) user: Option<String>,
    /// Their role (`worker`, `township_admin`, …).
    pub(crate) role: Option<String>,
    /// The place they are assigned to (none: the whole deployment).
    pub(crate) place: Option<String>,
    /// Their unit, for department users.
    pub(crate) unit: Option<String>,
    /// Changes made here that the server has not acknowledged.
    pub(crate) pending: u64,
    /// Writes the server refused, kept until dismissed (`gridsync rejected`).
    pub(crate) refused: u64,
    /// Records in this device's scope that its budget leaves out.
    pub(crate) withheld: u32,
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
            let _ = writeln!(out, "created {} by {}{}", time(stamp.time_ms), origin(stamp), received(stamp));
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
            let _ = write!(out, "  {name}{:pad$}  {}", "", indent(&field_text(key, value), width + 4));
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
                let _ = writeln!(out, "    - {}", candidate(&c.field, v));
            }
        }
        let _ = writeln!(out, "  resolve with: gridsync resolve {} FIELD VALUE", view.id);
    }
    if let Some(l) = &view.lifecycle {
        let _ = write!(out, "lifecycle: {}, owner {}", l.stage, clean(&l.owner));
        if let Some(handler) = &l.handler {
            let _ = write!(out, ", handler {}", clean(handler));
        }
        if l.flagged {
            out.push_str(", FLAGGED");
        }
        let _ = writeln!(
            out,
            " ({}; gridsync dispute show {})",
            plural(l.steps.len() as u64, "step", "steps"),
            view.id
        );
    }
    if view.entries.is_empty() {
        out.push_str("entries: none\n");
    } else {
        out.push_str("entries:\n");
        for e in &view.entries {
            let _ = writeln!(
                out,
                "  {} {} by {}{}",
                time(e.stamp.time_ms),
                clean(&e.entry),
                origin(&e.stamp),
                received(&e.stamp)
            );
            for (k, v) in &e.body {
                let _ = writeln!(out, "    {}: {}", clean(k), indent(&field_text(k, v), 6));
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
        .map(|(k, v)| format!("{}={}", clean(k), truncate(&field_text(k, v).replace('\n', " "), WIDTH)))
        .collect();
    if view.fields.len() > SHOWN {
        fields.push(format!("+{} more", view.fields.len() - SHOWN));
    }
    let mut line = format!("{}  {:<12}  {}", view.id, view.kind, fields.join(", "));
    if let Some(l) = &view.lifecycle {
        let _ = write!(line, "  [{}]", l.stage);
    }
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
            let _ = writeln!(out, "  - {}", candidate(&c.field, v));
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
    if r.refused > 0 {
        let _ = write!(line, "; refused {} (see gridsync rejected)", plural(r.refused, "write", "writes"));
    }
    if r.rebuilt > 0 {
        let _ = write!(line, "; rebuilt {} from the server's copy", plural(r.rebuilt, "record", "records"));
    }
    if r.removed > 0 {
        let _ = write!(
            line,
            "; removed {} that left this device's scope",
            plural(r.removed, "record", "records")
        );
    }
    if r.withheld > 0 {
        let _ = write!(
            line,
            "; {} in scope withheld by the device budget",
            plural(u64::from(r.withheld), "record", "records")
        );
    }
    if r.skipped > 0 {
        let _ = write!(line, "; skipped {} that could not merge", r.skipped);
    }
    if r.requeued > 0 {
        let _ = write!(
            line,
            "; the server was restored from a backup: sent {} again",
            plural(r.requeued, "change", "changes")
        );
    }
    if r.uploaded > 0 {
        let _ = write!(line, "; uploaded {}", plural(r.uploaded, "attachment", "attachments"));
    }
    if r.uploads_deferred > 0 {
        let _ = write!(
            line,
            "; {} left for a later sync",
            plural(r.uploads_deferred, "attachment upload", "attachment uploads")
        );
    }
    if r.upload_failed > 0 {
        let _ = write!(
            line,
            "; the server refused {} (tried again next sync)",
            plural(r.upload_failed, "attachment upload", "attachment uploads")
        );
    }
    line
}

/// The device's state for reading.
pub(crate) fn status_text(s: &StatusJson) -> String {
    let user = match (&s.user, &s.role) {
        (Some(user), Some(role)) => {
            let place = s.place.as_deref().map_or_else(|| "the whole deployment".to_owned(), clean);
            let unit = s.unit.as_deref().map(|u| format!(", unit {}", clean(u))).unwrap_or_default();
            format!("{} ({role} at {place}{unit})", clean(user))
        }
        _ if s.enrolled => "enrolled (no profile yet: sync once)".to_owned(),
        _ => "not enrolled: gridsync enroll CODE".to_owned(),
    };
    let mut out = format!(
        "device     {}\nserver     {}\nuser       {user}\npending    {}\nrefused    {}\n",
        s.device,
        clean(&s.server_url),
        plural(s.pending, "unsent change", "unsent changes"),
        plural(s.refused, "write", "writes"),
    );
    if s.refused > 0 {
        out.truncate(out.len() - 1);
        out.push_str(" (see gridsync rejected)\n");
    }
    let _ = write!(
        out,
        "withheld   {}\ncursor     {}\nconflicts  {}\n",
        plural(u64::from(s.withheld), "record", "records"),
        s.cursor,
        plural(s.conflicts, "field", "fields"),
    );
    out
}

/// `n thing` or `n things`.
fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `value  by author on device 1a2b3c4d at time`, a value of `field`.
fn candidate(field: &str, v: &CandidateView) -> String {
    format!(
        "{}  by {} at {}{}",
        indent(&field_text(field, &v.value), 6),
        origin(&v.stamp),
        time(v.stamp.time_ms),
        received(&v.stamp)
    )
}

/// `, received TIME` once the server has it (and a warning when the
/// device's clock was off), else nothing.
fn received(stamp: &StampView) -> String {
    match (stamp.received_ms, stamp.clock_suspect) {
        (Some(ms), false) => format!(", received {}", time(ms)),
        (Some(ms), true) => format!(", received {} (device clock suspect)", time(ms)),
        (None, _) => String::new(),
    }
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

/// The value of the field or attribute `name` for reading: a whole number
/// under a name ending in `_ms` is a time (Unix milliseconds) and reads as
/// one, to the minute, in the chosen zone, also inside lists and objects
/// (a position's `time_ms`); everything else as [`value_text`].
pub(crate) fn field_text(name: &str, value: &Json) -> String {
    match as_time(name, value) {
        Some(time) => time,
        None => value_text(&with_times(value)),
    }
}

/// The time a `*_ms` value stands for, if it is one.
fn as_time(name: &str, value: &Json) -> Option<String> {
    if !name.ends_with("_ms") {
        return None;
    }
    value.as_i64().and_then(value_time)
}

/// `value` with every `*_ms` member of its objects replaced by its time.
fn with_times(value: &Json) -> Cow<'_, Json> {
    match value {
        Json::Object(members) => Cow::Owned(Json::Object(
            members
                .iter()
                .map(|(k, v)| {
                    let shown = as_time(k, v).map_or_else(|| with_times(v).into_owned(), Json::String);
                    (k.clone(), shown)
                })
                .collect(),
        )),
        Json::Array(items) => {
            Cow::Owned(Json::Array(items.iter().map(|v| with_times(v).into_owned()).collect()))
        }
        other => Cow::Borrowed(other),
    }
}

/// Indents continuation lines of a multi-line value by `by` spaces.
fn indent(s: &str, by: usize) -> String {
    s.replace('\n', &format!("\n{:by$}", ""))
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
        StampView {
            device: device.to_owned(),
            author: author.to_owned(),
            time_ms,
            received_ms: None,
            clock_suspect: false,
        }
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
            lifecycle: None,
        }
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
            lifecycle: None,
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
    fn ms_values_read_as_times_also_inside_objects() {
        // The renderings alone show UTC; `main` chooses China time or `--utc`.
        assert_eq!(field_text("visited_ms", &json!(MAY_FIRST)), "2024-05-01T08:30Z");
        assert_eq!(
            field_text("gps", &json!({"lat": 25.5, "time_ms": MAY_FIRST, "fix": [{"at_ms": 0}]})),
            r#"{"fix":[{"at_ms":"1970-01-01T00:00Z"}],"lat":25.5,"time_ms":"2024-05-01T08:30Z"}"#
        );
        assert_eq!(field_text("visited_ms", &json!("soon")), "soon", "text is not a time");
        assert_eq!(field_text("visited_ms", &json!(1.5)), "1.5");
        assert_eq!(field_text("risk", &json!(3)), "3");
        assert_eq!(field_text("ended_ms", &json!(u64::MAX)), u64::MAX.to_string(), "off the calendar");
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
            serde_json::from_str(&json(&[ConflictJson::new(&conflict, &|_| None)]).expect("encode"))
                .expect("decode");
        assert_eq!(
            printed,
            json!([{
                "record": conflict.record.to_string(),
                "kind": "dispute",
                "field": "status",
                "values": [
                    {"value": "found", "device": a.to_string(), "author": "李四", "time_ms": MAY_FIRST,
                     "received_ms": null, "clock_suspect": false},
                    {"value": "mediated", "device": b.to_string(), "author": "张三", "time_ms": MAY_FIRST + 1,
                     "received_ms": null, "clock_suspect": false},
                ],
            }])
        );
        assert_eq!(conflicts_text(&[]), "no conflicts\n");
        let text = conflicts_text(&[ConflictJson::new(&conflict, &|dot| {
            (dot.actor == b).then_some((MAY_FIRST + 9, true))
        })]);
        assert!(text.contains("dispute  field status: 2 values"), "{text}");
        assert!(text.contains("- found  by 李四 (device "), "{text}");
        assert!(text.contains(", received 2024-05-01T08:30:00Z (device clock suspect)\n"), "{text}");
    }

    #[test]
    fn sync_reports_read_and_serialise() {
        let report = SyncReport {
            pushed: 3,
            duplicates: 0,
            refused: 0,
            push_batches: 1,
            pulled: 5,
            rebuilt: 0,
            snapshots: 0,
            removed: 0,
            pull_pages: 1,
            skipped: 0,
            withheld: 0,
            cursor: 42,
            requeued: 0,
            uploaded: 0,
            uploaded_bytes: 0,
            uploads_deferred: 0,
            upload_failed: 0,
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
        let refused = SyncReport { refused: 1, rebuilt: 1, removed: 2, withheld: 4, ..report.clone() };
        assert_eq!(
            sync_text(&refused),
            "pushed 3 (0 already on server) in 1 batch; pulled 5 in 1 page; cursor 42; \
             refused 1 write (see gridsync rejected); rebuilt 1 record from the server's copy; \
             removed 2 records that left this device's scope; 4 records in scope withheld by the device budget"
        );
        let printed: Json = serde_json::from_str(&json(&report).expect("encode")).expect("decode");
        assert_eq!(
            printed,
            json!({"pushed": 3, "duplicates": 0, "refused": 0, "push_batches": 1, "pulled": 5,
                   "rebuilt": 0, "snapshots": 0, "removed": 0, "pull_pages": 1, "skipped": 0, "withheld": 0, "cursor": 42, "requeued": 0,
                   "uploaded": 0, "uploaded_bytes": 0, "uploads_deferred": 0, "upload_failed": 0})
        );
        let restored = SyncReport { duplicates: 3, requeued: 3, ..report.clone() };
        assert_eq!(
            sync_text(&restored),
            "pushed 3 (3 already on server) in 1 batch; pulled 5 in 1 page; cursor 42; \
             the server was restored from a backup: sent 3 changes again"
        );
        let files = SyncReport { uploaded: 2, uploads_deferred: 1, upload_failed: 1, ..report.clone() };
        assert_eq!(
            sync_text(&files),
            "pushed 3 (0 already on server) in 1 batch; pulled 5 in 1 page; cursor 42; uploaded 2 attachments; \
             1 attachment upload left for a later sync; the server refused 1 attachment upload (tried again next sync)"
        );
    }

    #[test]
    fn status_reads_and_serialises() {
        let status = StatusJson {
            device: DEVICE_A.to_owned(),
            server_url: "http://10.1.2.3:8080".to_owned(),
            enrolled: true,
            user: Some("li".to_owned()),
            role: Some("worker".to_owned()),
            place: Some("530102001-01".to_owned()),
            unit: None,
            pending: 1,
            refused: 2,
            withheld: 0,
            cursor: 7,
            conflicts: 0,
        };
        assert_eq!(
            status_text(&status),
            format!(
                "device     {DEVICE_A}\nserver     http://10.1.2.3:8080\nuser       li (worker at 530102001-01)\n\
                 pending    1 unsent change\nrefused    2 writes (see gridsync rejected)\n\
                 withheld   0 records\ncursor     7\nconflicts  0 fields\n"
            )
        );
        let printed: Json = serde_json::from_str(&json(&status).expect("encode")).expect("decode");
        assert_eq!(
            printed,
            json!({"device": DEVICE_A, "server_url": "http://10.1.2.3:8080", "enrolled": true, "user": "li",
                   "role": "worker", "place": "530102001-01", "unit": null, "pending": 1, "refused": 2,
                   "withheld": 0, "cursor": 7, "conflicts": 0})
        );
        let fresh = StatusJson { enrolled: false, user: None, role: None, place: None, refused: 0, ..status };
        let text = status_text(&fresh);
        assert!(text.contains("user       not enrolled: gridsync enroll CODE\n"), "{text}");
        assert!(text.contains("refused    0 writes\n"), "{text}");
    }
}
