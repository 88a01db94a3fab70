//! Records sent whole as their merged state (protocol version 3).
//!
//! A device that must receive a record whole (a new device, a reset, a
//! record entering its scope, a rebuild after a refused change) gets the
//! server's [`RecordState`]: the live values, the entries and the compact
//! causal context, which is all a later change needs to merge. Replaying
//! every change of the record's history gives the same state (merging is a
//! join: [`RecordState::apply`] of each change and [`RecordState::merge`] of
//! the result agree), at a fraction of the bytes.
//!
//! The server's receipt of each change (when it arrived, and whether the
//! device's clock was far off) travels beside the state as
//! [`ReceiptRun`]s: consecutive changes of one device received together
//! share one run, so a record's receipts take a few bytes. On the wire a run
//! names its device by position among the devices the state names (the
//! compact layout of state format 2), so it repeats no 16-byte id.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::change::Dot;
use crate::hlc::Hlc;
use crate::ids::ActorId;
use crate::record::RecordState;

/// One record's merged state, as the server holds it, with its receipts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The record's merged state.
    pub state: RecordState,
    /// When the server received its changes, by runs of dots.
    pub receipts: Vec<ReceiptRun>,
}

/// The server received the changes `first..=last` of `actor` to one record
/// at `received_ms`, flagged `clock_suspect` alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptRun {
    /// The device that made the changes.
    pub actor: ActorId,
    /// The first counter of the run.
    pub first: u64,
    /// The last counter of the run (at least `first`).
    pub last: u64,
    /// When the server received them (Unix ms, server clock).
    pub received_ms: u64,
    /// The device's clock was far off the server's when it sent them.
    pub clock_suspect: bool,
}

/// A run on the wire: its device by position.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Run {
    /// Position among the state's devices, then the snapshot's others.
    actor: u32,
    first: u64,
    /// `last - first`.
    more: u64,
    received_ms: u64,
    clock_suspect: bool,
}

/// A snapshot as written: the state, devices of receipts the state does not
/// name (rare: a device whose every change was superseded and forgotten is
/// still in the causal context), and the runs.
#[derive(Serialize)]
struct Written<'a> {
    state: crate::record::Laid<'a>,
    others: Vec<ActorId>,
    receipts: Vec<Run>,
}

/// A snapshot as read.
#[derive(Deserialize)]
struct Read {
    state: RecordState,
    others: Vec<ActorId>,
    receipts: Vec<Run>,
}

impl Serialize for Snapshot {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let named = crate::record::actors_of(&self.state);
        let mut others: Vec<ActorId> = Vec::new();
        let receipts = self
            .receipts
            .iter()
            .map(|r| {
                let actor = match named.binary_search(&r.actor) {
                    Ok(n) => n,
                    Err(_) => {
                        named.len()
                            + others.iter().position(|a| *a == r.actor).unwrap_or_else(|| {
                                others.push(r.actor);
                                others.len() - 1
                            })
                    }
                };
                Run {
                    actor: actor as u32,
                    first: r.first,
                    more: r.last.saturating_sub(r.first),
                    received_ms: r.received_ms,
                    clock_suspect: r.clock_suspect,
                }
            })
            .collect();
        let state = crate::record::Laid { state: &self.state, actors: &named };
        Written { state, others, receipts }.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Snapshot {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let Read { state, others, receipts } = Read::deserialize(deserializer)?;
        let named = crate::record::actors_of(&state);
        let receipts = receipts
            .into_iter()
            .map(|r| {
                let n = r.actor as usize;
                let actor = named.get(n).or_else(|| others.get(n - named.len())).copied();
                Some(ReceiptRun {
                    actor: actor?,
                    first: r.first,
                    last: r.first.checked_add(r.more)?,
                    received_ms: r.received_ms,
                    clock_suspect: r.clock_suspect,
                })
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| D::Error::custom("a receipt's device or counters are out of range"))?;
        Ok(Self { state, receipts })
    }
}

impl ReceiptRun {
    /// Whether the run covers `dot`.
    pub fn covers(&self, dot: &Dot) -> bool {
        dot.actor == self.actor && (self.first..=self.last).contains(&dot.counter)
    }
}

impl Snapshot {
    /// The server's receipt of the change `dot`, if the snapshot carries it:
    /// `(received_ms, clock_suspect)`.
    pub fn receipt(&self, dot: &Dot) -> Option<(u64, bool)> {
        self.receipts.iter().find(|r| r.covers(dot)).map(|r| (r.received_ms, r.clock_suspect))
    }

    /// The dots whose receipt a record view shows: the creation, the live
    /// values and the entries.
    pub fn shown_dots(&self) -> Vec<Dot> {
        let state = &self.state;
        let mut dots: Vec<Dot> = state.created().map(|s| s.dot).into_iter().collect();
        for name in state.field_names() {
            dots.extend(state.values(name).iter().map(|fv| fv.stamp.dot));
        }
        dots.extend(state.entries().iter().map(|e| e.stamp.dot));
        dots
    }

    /// The latest hybrid time among the changes the state still shows.
    pub fn latest_time(&self) -> Option<Hlc> {
        let state = &self.state;
        let created = state.created().map(|s| s.time);
        let values = state.field_names().flat_map(|name| state.values(name).iter().map(|fv| fv.stamp.time));
        let entries = state.entries().into_iter().map(|e| e.stamp.time);
        created.into_iter().chain(values).chain(entries).max()
    }
}

/// Folds receipts, given in `(actor, counter)` order, into runs: a run goes
/// on while the same device's counters follow one another with the same
/// receipt time and flag.
pub fn receipt_runs(receipts: impl IntoIterator<Item = (Dot, u64, bool)>) -> Vec<ReceiptRun> {
    let mut runs: Vec<ReceiptRun> = Vec::new();
    for (dot, received_ms, clock_suspect) in receipts {
        match runs.last_mut() {
            Some(run)
                if run.actor == dot.actor
                    && run.last.checked_add(1) == Some(dot.counter)
                    && run.received_ms == received_ms
                    && run.clock_suspect == clock_suspect =>
            {
                run.last = dot.counter;
            }
            _ => runs.push(ReceiptRun {
                actor: dot.actor,
                first: dot.counter,
                last: dot.counter,
                received_ms,
                clock_suspect,
            }),
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Change, Op, RecordId, RecordKind};

    #[test]
    fn receipts_fold_into_runs_and_are_found_again() {
        let (a, b) = (ActorId::from_bytes([1; 16]), ActorId::from_bytes([2; 16]));
        let dot = |actor, counter| Dot { actor, counter };
        let runs = receipt_runs([
            (dot(a, 1), 100, false),
            (dot(a, 2), 100, false),
            (dot(a, 3), 200, false),
            (dot(a, 5), 200, false),
            (dot(b, 1), 200, true),
        ]);
        assert_eq!(runs.len(), 4);
        assert_eq!((runs[0].first, runs[0].last), (1, 2));
        let id = RecordId::generate(1);
        let create = Change {
            record: id,
            kind: RecordKind::Visit,
            dot: dot(a, 1),
            author: "w".into(),
            time: Hlc::from_millis(7),
            op: Op::Create,
        };
        let state = RecordState::from_changes(id, RecordKind::Visit, [&create]).expect("applies");
        let snapshot = Snapshot { state, receipts: runs };
        assert_eq!(snapshot.receipt(&dot(a, 2)), Some((100, false)));
        assert_eq!(snapshot.receipt(&dot(a, 4)), None);
        assert_eq!(snapshot.receipt(&dot(b, 1)), Some((200, true)));
        assert_eq!(snapshot.shown_dots(), vec![dot(a, 1)]);
        assert_eq!(snapshot.latest_time(), Some(Hlc::from_millis(7)));
    }
}
