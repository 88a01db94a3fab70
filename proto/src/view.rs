//! The stable JSON view of a record, printed by the `gridsync` CLI and used
//! by exports. Its shape is documented in `docs/CLI.md`; fields are only
//! ever added.

use serde::Serialize;
use serde_json::{Map, Value as Json};

use crate::change::Dot;
use crate::dispute::{Lifecycle, StepStatus};
use crate::record::{RecordState, Stamp};

/// Where the server's receipt of a change is known: `(received_ms, clock_suspect)`.
pub type Receipts<'a> = &'a dyn Fn(&Dot) -> Option<(u64, bool)>;

/// A record as JSON: fields (each shown by its latest value), conflicts with
/// every competing value, entries in time order and, for a dispute, its
/// lifecycle.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordView {
    /// Record id.
    pub id: String,
    /// Kind name (`patrol`, `visit`, `dispute`, `daily_report`, or `kind_N`).
    pub kind: String,
    /// Who created the record, if that change has arrived.
    pub created: Option<StampView>,
    /// Field name → value (in a conflict, the latest value by hybrid time).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub fields: Map<String, Json>,
    /// Fields with competing values, by field name.
    pub conflicts: Vec<ConflictView>,
    /// Appended entries, oldest first.
    pub entries: Vec<EntryView>,
    /// A dispute's stage, owner, departments and steps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<LifecycleView>,
}

/// Origin of a value or entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StampView {
    /// Device (actor) id.
    pub device: String,
    /// Author as the device knew them.
    pub author: String,
    /// Device hybrid time, Unix milliseconds.
    pub time_ms: u64,
    /// When the server received it (server clock), once known.
    pub received_ms: Option<u64>,
    /// The device's clock was far off the server's: `time_ms` is not to be trusted.
    pub clock_suspect: bool,
}

/// A dispute's lifecycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LifecycleView {
    /// Its stage (`found`, `accepted`, …, `closed`).
    pub stage: String,
    /// The place that owns it.
    pub owner: String,
    /// The department handling it, after a transfer.
    pub handler: Option<String>,
    /// Departments cooperating on it.
    pub cooperating: Vec<String>,
    /// A clash overrode a step nobody has acknowledged yet.
    pub flagged: bool,
    /// Those overridden steps.
    pub unacknowledged: Vec<String>,
    /// Every step, in lifecycle order.
    pub steps: Vec<StepView>,
}

/// One lifecycle step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StepView {
    /// Its reference (`DEVICE:COUNTER`), which later steps name as parent.
    pub id: String,
    /// What it did.
    pub action: String,
    /// `applied`, `overridden` or `waiting`.
    pub status: StepStatus,
    /// The step it followed.
    pub parent: Option<String>,
    /// The author's role.
    pub by_role: String,
    /// The author's place.
    pub by_place: Option<String>,
    /// The author's unit.
    pub by_unit: Option<String>,
    /// Escalation target.
    pub to: Option<String>,
    /// Department concerned.
    pub unit: Option<String>,
    /// The letter it sent (`transfer` 转办, `assistance` 协办函, `reminder` 提示函).
    pub letter: Option<String>,
    /// The letter's number.
    pub letter_number: Option<String>,
    /// The department's receipt.
    pub receipt: Option<String>,
    /// Reason, outcome or remark.
    pub note: Option<String>,
    /// Where it came from.
    #[serde(flatten)]
    pub stamp: StampView,
}

/// One field in conflict.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConflictView {
    /// The field.
    pub field: String,
    /// Every live value, oldest first.
    pub values: Vec<CandidateView>,
}

/// One competing value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CandidateView {
    /// The value.
    pub value: Json,
    /// Where it came from.
    #[serde(flatten)]
    pub stamp: StampView,
}

/// One entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EntryView {
    /// Entry sort, e.g. `note`.
    pub entry: String,
    /// Attributes.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub body: Map<String, Json>,
    /// Where it came from.
    #[serde(flatten)]
    pub stamp: StampView,
}

impl StampView {
    fn of(s: &Stamp, receipts: Receipts<'_>) -> Self {
        let receipt = receipts(&s.dot);
        Self {
            device: s.device().to_string(),
            author: s.author.clone(),
            time_ms: s.time.millis,
            received_ms: receipt.map(|r| r.0),
            clock_suspect: receipt.is_some_and(|r| r.1),
        }
    }
}

impl From<&Stamp> for StampView {
    fn from(s: &Stamp) -> Self {
        Self::of(s, &|_| None)
    }
}

impl LifecycleView {
    fn of(lifecycle: &Lifecycle, receipts: Receipts<'_>) -> Self {
        let state = &lifecycle.state;
        Self {
            stage: state.stage.name().to_owned(),
            owner: state.owner.clone(),
            handler: state.handler.clone(),
            cooperating: state.cooperating.iter().cloned().collect(),
            flagged: lifecycle.flagged(),
            unacknowledged: lifecycle.unacknowledged.iter().map(Dot::to_string).collect(),
            steps: lifecycle
                .steps
                .iter()
                .map(|s| StepView {
                    id: s.dot.to_string(),
                    action: s.step.action.name().to_owned(),
                    status: s.status,
                    parent: s.step.parent.map(|p| p.to_string()),
                    by_role: s.step.by.role.name().to_owned(),
                    by_place: s.step.by.place.clone(),
                    by_unit: s.step.by.unit.clone(),
                    to: s.step.to.clone(),
                    unit: s.step.unit.clone(),
                    letter: s.step.action.letter().map(|l| l.name().to_owned()),
                    letter_number: s.step.letter_number.clone(),
                    receipt: s.step.receipt.clone(),
                    note: s.step.note.clone(),
                    stamp: StampView::of(
                        &Stamp { dot: s.dot, author: s.author.clone(), time: s.time },
                        receipts,
                    ),
                })
                .collect(),
        }
    }
}

impl From<&RecordState> for RecordView {
    fn from(r: &RecordState) -> Self {
        Self::with_receipts(r, &|_| None)
    }
}

impl RecordView {
    /// The view, with the server's receipt of each value, entry and step.
    pub fn with_receipts(r: &RecordState, receipts: Receipts<'_>) -> Self {
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
                    .map(|fv| CandidateView {
                        value: fv.value.to_json(),
                        stamp: StampView::of(&fv.stamp, receipts),
                    })
                    .collect(),
            })
            .collect();
        let entries = r
            .entries()
            .into_iter()
            .map(|e| EntryView {
                entry: e.entry.clone(),
                body: e.body.iter().map(|(k, v)| (k.clone(), v.to_json())).collect(),
                stamp: StampView::of(&e.stamp, receipts),
            })
            .collect();
        Self {
            id: r.id().to_string(),
            kind: r.kind().name(),
            created: r.created().map(|s| StampView::of(s, receipts)),
            fields,
            conflicts,
            entries,
            lifecycle: (r.kind() == crate::kind::RecordKind::Dispute)
                .then(|| Lifecycle::of(r))
                .flatten()
                .map(|l| LifecycleView::of(&l, receipts)),
        }
    }
}
