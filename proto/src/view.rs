//! The stable JSON view of a record, printed by the `gridsync` CLI and used
//! by exports. Its shape is documented in `docs/CLI.md`; fields are only
//! ever added.

use serde::Serialize;
use serde_json::{Map, Value as Json};

use crate::record::{RecordState, Stamp};

/// A record as JSON: fields (each shown by its latest value), conflicts with
/// every competing value, and entries in time order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordView {
    /// Record id.
    pub id: String,
    /// Kind name (`patrol`, `visit`, `dispute`, `daily_report`, or `kind_N`).
    pub kind: String,
    /// Who created the record, if that change has arrived.
    pub created: Option<StampView>,
    /// Field name → value (in a conflict, the latest value by hybrid time).
    pub fields: Map<String, Json>,
    /// Fields with competing values, by field name.
    pub conflicts: Vec<ConflictView>,
    /// Appended entries, oldest first.
    pub entries: Vec<EntryView>,
}

/// Origin of a value or entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StampView {
    /// Device (actor) id.
    pub device: String,
    /// Author as the device knew them.
    pub author: String,
    /// Device hybrid time, Unix milliseconds.
    pub time_ms: u64,
}

/// One field in conflict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConflictView {
    /// The field.
    pub field: String,
    /// Every live value, oldest first.
    pub values: Vec<CandidateView>,
}

/// One competing value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CandidateView {
    /// The value.
    pub value: Json,
    /// Where it came from.
    #[serde(flatten)]
    pub stamp: StampView,
}

/// One entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntryView {
    /// Entry sort, e.g. `note`.
    pub entry: String,
    /// Attributes.
    pub body: Map<String, Json>,
    /// Where it came from.
    #[serde(flatten)]
    pub stamp: StampView,
}

impl From<&Stamp> for StampView {
    fn from(s: &Stamp) -> Self {
        Self { device: s.device().to_string(), author: s.author.clone(), time_ms: s.time.millis }
    }
}

impl From<&RecordState> for RecordView {
    fn from(r: &RecordState) -> Self {
        let fields = r
            .field_names()
            .filter_map(|name| r.value(name).map(|v| (name.to_owned(), v.to_json())))
            .collect();
        let conflicts = r
            .conflicts()
            .map(|(field, values)| ConflictView {
                field: field.to_owned(),
                values: values
                    .iter()
                    .map(|fv| CandidateView { value: fv.value.to_json(), stamp: (&fv.stamp).into() })
                    .collect(),
            })
            .collect();
        let entries = r
            .entries()
            .into_iter()
            .map(|e| EntryView {
                entry: e.entry.clone(),
                body: e.body.iter().map(|(k, v)| (k.clone(), v.to_json())).collect(),
                stamp: (&e.stamp).into(),
            })
            .collect();
        Self {
            id: r.id().to_string(),
            kind: r.kind().name(),
            created: r.created().map(StampView::from),
            fields,
            conflicts,
            entries,
        }
    }
}
