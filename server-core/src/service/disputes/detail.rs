//! One dispute in full for the desk: its view, its lifecycle history, its
//! mediation sessions, and each field in conflict with every competing
//! value side by side, who wrote it, on which device and when.

use std::collections::HashMap;

use gridsync_proto::view::{EntryView, LifecycleView, StampView};
use gridsync_proto::{Date, Dot, Lifecycle, RecordState, RecordView};
use serde::Serialize;
use serde_json::Value as Json;

use super::author::by_desk;
use super::desk::DeskOffer;
use super::list::DisputeLine;
use crate::error::{CoreResult, StorageError};
use crate::storage::ReadTx;

/// The entry kind of mediation sessions.
const MEDIATION: &str = "mediation";

/// A dispute as the desk shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DisputeDetail {
    /// Its line in the list (stage, owner, flags, overdue…).
    pub line: DisputeLine,
    /// The step the next step follows: pass it back as `after` with a step.
    pub head: Option<String>,
    /// Its stage, owner, departments and every step with its status
    /// (`applied`, `overridden`, `waiting`), author, device and times.
    pub lifecycle: Option<LifecycleView>,
    /// Its mediation sessions, oldest first.
    pub mediations: Vec<EntryView>,
    /// Each field in conflict, with its competing values.
    pub conflicts: Vec<FieldConflict>,
    /// The whole record: every field's shown value, every entry.
    pub record: RecordView,
    /// The log position it was read at (or written at, after a desk write).
    pub as_of: u64,
    /// What the reader may do from the desk on it now (nothing for the
    /// operator, who does not write at the desk).
    pub desk: DeskOffer,
}

/// One field with competing values.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldConflict {
    /// The field.
    pub field: String,
    /// Every live value, oldest first by hybrid time.
    pub candidates: Vec<Candidate>,
}

/// One competing value and its origin.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Candidate {
    /// Its id (`DEVICE:COUNTER`): pass the candidates' ids back as `seen`,
    /// and one of them as `pick`, to settle the conflict.
    pub id: String,
    /// The value.
    pub value: Json,
    /// The hybrid time's logical part, which orders values of one millisecond.
    pub logical: u32,
    /// Whether it was written at the desk rather than on a handset.
    pub desk: bool,
    /// Author, device, device time, server receipt, clock flag.
    #[serde(flatten)]
    pub stamp: StampView,
}

/// Reads the dispute's receipts from the log and builds its detail.
pub(crate) fn detail(
    tx: &mut dyn ReadTx,
    record: &RecordState,
    lifecycle: &Lifecycle,
    township: &str,
    today: Date,
    as_of: u64,
) -> CoreResult<DisputeDetail> {
    let receipts = receipts(tx, record, township)?;
    let lookup = |dot: &Dot| receipts.get(dot).copied();
    let view = RecordView::with_receipts(record, &lookup);
    let line = DisputeLine::of(record, lifecycle, today)
        .ok_or_else(|| StorageError::corrupt("a dispute's state"))?;
    let conflicts = record
        .conflicts()
        .map(|(field, values)| FieldConflict {
            field: field.to_owned(),
            candidates: values
                .iter()
                .map(|fv| {
                    let mut stamp = StampView::from(&fv.stamp);
                    if let Some((received, suspect)) = lookup(&fv.stamp.dot) {
                        (stamp.received_ms, stamp.clock_suspect) = (Some(received), suspect);
                    }
                    Candidate {
                        id: fv.stamp.dot.to_string(),
                        value: fv.value.to_json(),
                        logical: fv.stamp.time.logical,
                        desk: by_desk(&fv.stamp),
                        stamp,
                    }
                })
                .collect(),
        })
        .collect();
    let mediations = view.entries.iter().filter(|e| e.entry == MEDIATION).cloned().collect();
    Ok(DisputeDetail {
        line,
        head: lifecycle.head.map(|d| d.to_string()),
        lifecycle: view.lifecycle.clone(),
        mediations,
        conflicts,
        record: view,
        as_of,
        desk: DeskOffer::default(),
    })
}

/// When the server received each change of the record, and whether the
/// device's clock was suspect then.
fn receipts(
    tx: &mut dyn ReadTx,
    record: &RecordState,
    township: &str,
) -> CoreResult<HashMap<Dot, (u64, bool)>> {
    let mut out = HashMap::new();
    let mut corrupt = false;
    // Every position fits an i64 (storage guarantee 5).
    tx.history(record.id(), township, i64::MAX as u64, &mut |row| match row.change() {
        Ok(change) => {
            out.insert(change.dot, (row.received_ms, row.clock_suspect));
        }
        Err(_) => corrupt = true,
    })?;
    if corrupt {
        return Err(StorageError::corrupt("a logged change").into());
    }
    Ok(out)
}
