//! The merged state of one record, and the merge rules.
//!
//! A record is a map of multi-value registers sharing one causal context,
//! plus a grow-only set of entries (the "causal CRDT" construction of
//! Almeida, Shoker and Baquero, *Delta state replicated data types*, 2018):
//!
//! * every change has a unique [`Dot`]; the [`CausalContext`] holds all dots seen;
//! * a field holds its *live* values. An edit adds its value and removes the
//!   values it [supersedes](crate::change::Op::Set) (those its author had seen);
//! * joining two states keeps a live value unless the other side has seen its
//!   dot and no longer holds it (that is, replaced it);
//! * entries are only ever added.
//!
//! Applying a change is exactly a join with the change's own tiny state, so
//! [`RecordState::apply`] and [`RecordState::merge`] agree, and both are
//! commutative, associative and idempotent: duplicates and any delivery
//! order give the same state. Concurrent edits of one field both stay live
//! and the field reports a conflict until an edit that has seen all of them
//! replaces them. Nothing is decided by wall-clock time.
//!
//! The one assumption is that a dot names one change only. Devices number
//! their own changes, and the server refuses a dot that arrives again with
//! different content.

mod layout;

pub(crate) use layout::{Laid, actors_of};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::change::{Change, Dot, Op};
use crate::context::CausalContext;
use crate::hlc::Hlc;
use crate::ids::{ActorId, RecordId};
use crate::kind::RecordKind;
use crate::value::Value;

/// Who made a value or entry, where and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    /// The change that made it; `dot.actor` is the device.
    pub dot: Dot,
    /// The user, as the device knew them.
    pub author: String,
    /// The device's hybrid clock at the time.
    pub time: Hlc,
}

impl Stamp {
    fn of(change: &Change) -> Self {
        Self { dot: change.dot, author: change.author.clone(), time: change.time }
    }

    /// The device that made it.
    pub fn device(&self) -> ActorId {
        self.dot.actor
    }

    fn order_key(&self) -> (Hlc, Dot) {
        (self.time, self.dot)
    }
}

/// One live value of a field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldValue {
    /// The value.
    pub value: Value,
    /// Its origin.
    pub stamp: Stamp,
}

/// One appended child entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// What sort of entry (e.g. `note`).
    pub entry: String,
    /// Its attributes.
    pub body: BTreeMap<String, Value>,
    /// Its origin.
    pub stamp: Stamp,
}

/// Why a change cannot be merged into a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    /// The change is for another record.
    #[error("change belongs to another record")]
    WrongRecord,
    /// The record exists with another kind.
    #[error("record is a {existing}, change says {claimed}")]
    KindMismatch {
        /// The kind the record has.
        existing: RecordKind,
        /// The kind the change claims.
        claimed: RecordKind,
    },
    /// An edit claims to replace something that is not a value of its field.
    #[error("edit of field {field:?} supersedes a change that is not a value of that field")]
    ForeignSupersedes {
        /// The edited field.
        field: String,
    },
}

/// Whether applying a change added anything new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The change was new to this replica.
    New,
    /// The change had been seen already: nothing changed.
    Duplicate,
}

/// The merged state of one record. It is serialized in the compact layout
/// of state format 2 ([`layout`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordState {
    id: RecordId,
    kind: RecordKind,
    context: CausalContext,
    created: Option<Stamp>,
    fields: BTreeMap<String, Vec<FieldValue>>,
    entries: BTreeMap<Dot, Entry>,
}

/// Leading byte of [`RecordState::to_bytes`], bumped when the layout changes.
const STATE_FORMAT: u8 = 2;

/// The leading byte of states written before the compact layout; still read.
const STATE_FORMAT_1: u8 = 1;

impl RecordState {
    /// An empty record that has seen no change.
    pub fn new(id: RecordId, kind: RecordKind) -> Self {
        Self {
            id,
            kind,
            context: CausalContext::default(),
            created: None,
            fields: BTreeMap::new(),
            entries: BTreeMap::new(),
        }
    }

    /// Builds a record from changes in any order.
    pub fn from_changes<'a>(
        id: RecordId,
        kind: RecordKind,
        changes: impl IntoIterator<Item = &'a Change>,
    ) -> Result<Self, MergeError> {
        let mut state = Self::new(id, kind);
        for change in changes {
            state.apply(change)?;
        }
        Ok(state)
    }

    /// The record's id.
    pub fn id(&self) -> RecordId {
        self.id
    }

    /// The record's kind.
    pub fn kind(&self) -> RecordKind {
        self.kind
    }

    /// Who created the record, if the creation has arrived.
    pub fn created(&self) -> Option<&Stamp> {
        self.created.as_ref()
    }

    /// Every dot this replica has seen for the record.
    pub fn context(&self) -> &CausalContext {
        &self.context
    }

    /// The next counter for `actor`'s next change to this record.
    /// (Validation keeps counters at most [`crate::change::MAX_COUNTER`], so
    /// this cannot overflow for any state built from valid changes.)
    pub fn next_counter(&self, actor: &ActorId) -> u64 {
        self.context.max_counter(actor).saturating_add(1)
    }

    /// Field names with at least one live value, in name order.
    pub fn field_names(&self) -> impl Iterator<Item = &str> {
        self.fields.keys().map(String::as_str)
    }

    /// The live values of a field (more than one: a conflict), ordered by time.
    pub fn values(&self, field: &str) -> &[FieldValue] {
        self.fields.get(field).map_or(&[], Vec::as_slice)
    }

    /// The field's value to display: the only one, or in a conflict the
    /// latest by hybrid time (the conflict is still reported by [`Self::conflicts`]).
    pub fn value(&self, field: &str) -> Option<&Value> {
        self.values(field).last().map(|fv| &fv.value)
    }

    /// Dots of the live values of a field: what an edit made now supersedes.
    pub fn live_dots(&self, field: &str) -> Vec<Dot> {
        self.values(field).iter().map(|fv| fv.stamp.dot).collect()
    }

    /// Fields whose live values differ. Concurrent edits that wrote the
    /// same value (two phones filing the same day's report) agree, and are
    /// no conflict; the next edit of the field replaces both.
    pub fn conflicts(&self) -> impl Iterator<Item = (&str, &[FieldValue])> {
        self.fields.iter().filter(|(_, v)| differ(v)).map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// Whether `field` has live values that differ.
    pub fn in_conflict(&self, field: &str) -> bool {
        self.fields.get(field).is_some_and(|v| differ(v))
    }

    /// Whether any field is in conflict.
    pub fn has_conflicts(&self) -> bool {
        self.conflicts().next().is_some()
    }

    /// The entries, ordered by hybrid time.
    pub fn entries(&self) -> Vec<&Entry> {
        let mut out: Vec<&Entry> = self.entries.values().collect();
        out.sort_by_key(|e| e.stamp.order_key());
        out
    }

    /// Checks a change against this state before applying it (the server
    /// runs this on every incoming change).
    pub fn check(&self, change: &Change) -> Result<(), MergeError> {
        if change.record != self.id {
            return Err(MergeError::WrongRecord);
        }
        if change.kind != self.kind {
            return Err(MergeError::KindMismatch { existing: self.kind, claimed: change.kind });
        }
        if let Op::Set { field, supersedes, .. } = &change.op {
            let foreign = supersedes.iter().any(|dot| {
                self.entries.contains_key(dot)
                    || self
                        .fields
                        .iter()
                        .any(|(name, vals)| name != field && vals.iter().any(|fv| fv.stamp.dot == *dot))
            });
            if foreign {
                return Err(MergeError::ForeignSupersedes { field: field.clone() });
            }
        }
        Ok(())
    }

    /// Applies one change: a join with the change's own state.
    pub fn apply(&mut self, change: &Change) -> Result<Applied, MergeError> {
        self.check(change)?;
        let seen = self.context.contains(&change.dot);
        match &change.op {
            Op::Create => {
                let stamp = Stamp::of(change);
                if self.created.as_ref().is_none_or(|c| stamp.order_key() < c.order_key()) {
                    self.created = Some(stamp);
                }
            }
            Op::Set { field, value, supersedes } => {
                if !supersedes.is_empty() {
                    for values in self.fields.values_mut() {
                        values.retain(|fv| !supersedes.contains(&fv.stamp.dot));
                    }
                    self.fields.retain(|_, values| !values.is_empty());
                }
                if !seen {
                    let values = self.fields.entry(field.clone()).or_default();
                    values.push(FieldValue { value: value.clone(), stamp: Stamp::of(change) });
                    values.sort_by_key(|fv| fv.stamp.order_key());
                }
                for dot in supersedes {
                    self.context.insert(*dot);
                }
            }
            Op::Append { entry, body } => {
                self.entries.entry(change.dot).or_insert_with(|| Entry {
                    entry: entry.clone(),
                    body: body.clone(),
                    stamp: Stamp::of(change),
                });
            }
        }
        self.context.insert(change.dot);
        Ok(if seen { Applied::Duplicate } else { Applied::New })
    }

    /// Joins another replica's state of the same record into this one.
    pub fn merge(&mut self, other: &RecordState) -> Result<(), MergeError> {
        if other.id != self.id {
            return Err(MergeError::WrongRecord);
        }
        if other.kind != self.kind {
            return Err(MergeError::KindMismatch { existing: self.kind, claimed: other.kind });
        }
        let mut names: Vec<String> = self.fields.keys().cloned().collect();
        names.extend(other.fields.keys().filter(|k| !self.fields.contains_key(*k)).cloned());
        for name in names {
            let ours = self.fields.remove(&name).unwrap_or_default();
            let theirs = other.values(&name);
            let mut joined: Vec<FieldValue> = ours
                .into_iter()
                .filter(|fv| {
                    theirs.iter().any(|t| t.stamp.dot == fv.stamp.dot)
                        || !other.context.contains(&fv.stamp.dot)
                })
                .collect();
            for fv in theirs {
                let new = !self.context.contains(&fv.stamp.dot)
                    && !joined.iter().any(|j| j.stamp.dot == fv.stamp.dot);
                if new {
                    joined.push(fv.clone());
                }
            }
            if !joined.is_empty() {
                joined.sort_by_key(|fv| fv.stamp.order_key());
                self.fields.insert(name, joined);
            }
        }
        for (dot, entry) in &other.entries {
            self.entries.entry(*dot).or_insert_with(|| entry.clone());
        }
        if let Some(theirs) = &other.created
            && self.created.as_ref().is_none_or(|c| theirs.order_key() < c.order_key())
        {
            self.created = Some(theirs.clone());
        }
        self.context.merge(&other.context);
        Ok(())
    }

    /// Encodes the state for storage, behind a format byte.
    pub fn to_bytes(&self) -> Vec<u8> {
        let out = vec![STATE_FORMAT];
        postcard::to_extend(self, out).expect("encoding into a Vec cannot fail")
    }

    /// Decodes a stored state, of the current format or of format 1.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, StateDecodeError> {
        match bytes.split_first() {
            Some((&STATE_FORMAT, rest)) => match postcard::take_from_bytes(rest) {
                Ok((state, [])) => Ok(state),
                _ => Err(StateDecodeError),
            },
            Some((&STATE_FORMAT_1, rest)) => match postcard::take_from_bytes::<layout::Format1>(rest) {
                Ok((state, [])) => Ok(state.into()),
                _ => Err(StateDecodeError),
            },
            _ => Err(StateDecodeError),
        }
    }
}

/// Whether live values disagree.
fn differ(values: &[FieldValue]) -> bool {
    values.iter().any(|fv| fv.value != values[0].value)
}

/// A stored record state that cannot be read (corruption or a newer format).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stored record state is corrupt or of an unknown format")]
pub struct StateDecodeError;

#[cfg(test)]
mod tests {
    use super::*;

    struct Device {
        actor: ActorId,
        state: RecordState,
        clock: u64,
    }

    impl Device {
        fn new(id: RecordId) -> Self {
            Self { actor: ActorId::random(), state: RecordState::new(id, RecordKind::Dispute), clock: 0 }
        }

        fn change(&mut self, op: Op) -> Change {
            self.clock += 1;
            let change = Change {
                record: self.state.id(),
                kind: RecordKind::Dispute,
                dot: Dot { actor: self.actor, counter: self.state.next_counter(&self.actor) },
                author: "w".into(),
                time: Hlc::from_millis(self.clock),
                op,
            };
            self.state.apply(&change).expect("own change applies");
            change
        }

        fn set(&mut self, field: &str, value: &str) -> Change {
            let supersedes = self.state.live_dots(field);
            self.change(Op::Set { field: field.into(), value: value.into(), supersedes })
        }

        fn receive(&mut self, changes: &[Change]) {
            for c in changes {
                self.state.apply(c).expect("remote change applies");
            }
        }
    }

    #[test]
    fn different_fields_merge_and_the_same_field_conflicts() {
        let id = RecordId::generate(1);
        let (mut a, mut b) = (Device::new(id), Device::new(id));
        let c0 = a.change(Op::Create);
        b.receive(&[c0]);
        let ca = vec![a.set("status", "mediating"), a.set("risk", "low")];
        let cb = vec![b.set("status", "escalated"), b.set("place", "村委会")];
        a.receive(&cb);
        b.receive(&ca);
        assert_eq!(a.state, b.state);
        assert_eq!(a.state.value("risk"), Some(&Value::from("low")));
        assert_eq!(a.state.value("place"), Some(&Value::from("村委会")));
        let conflicts: Vec<_> = a.state.conflicts().map(|(f, v)| (f, v.len())).collect();
        assert_eq!(conflicts, vec![("status", 2)]);
        // Resolving on one device replaces both values everywhere.
        let fix = a.set("status", "resolved");
        b.receive(&[fix]);
        assert_eq!(a.state, b.state);
        assert!(!b.state.has_conflicts());
        assert_eq!(b.state.value("status"), Some(&Value::from("resolved")));
    }

    #[test]
    fn a_value_arriving_after_its_replacement_stays_replaced() {
        let id = RecordId::generate(1);
        let (mut a, mut b) = (Device::new(id), Device::new(id));
        let first = a.set("status", "found");
        b.receive(std::slice::from_ref(&first));
        let second = b.set("status", "accepted");
        let mut late = RecordState::new(id, RecordKind::Dispute);
        late.apply(&second).expect("apply");
        assert_eq!(late.apply(&first), Ok(Applied::Duplicate));
        assert_eq!(late.value("status"), Some(&Value::from("accepted")));
        assert_eq!(late, b.state);
    }

    #[test]
    fn concurrent_equal_values_are_no_conflict() {
        let id = RecordId::generate(1);
        let (mut a, mut b) = (Device::new(id), Device::new(id));
        let ca = a.set("status", "all_safe");
        let cb = b.set("status", "all_safe");
        a.receive(&[cb]);
        b.receive(&[ca]);
        assert_eq!(a.state, b.state);
        assert_eq!(a.state.values("status").len(), 2);
        assert!(!a.state.has_conflicts() && !a.state.in_conflict("status"));
        let next = a.set("status", "has_items");
        b.receive(&[next]);
        assert_eq!(b.state.values("status").len(), 1, "one edit replaces both");
    }

    #[test]
    fn entries_never_conflict_and_duplicates_change_nothing() {
        let id = RecordId::generate(1);
        let (mut a, mut b) = (Device::new(id), Device::new(id));
        let note = |t: &str| Op::Append {
            entry: "note".into(),
            body: BTreeMap::from([("text".to_owned(), Value::from(t))]),
        };
        let na = a.change(note("一"));
        let nb = b.change(note("二"));
        a.receive(&[nb.clone(), nb]);
        b.receive(&[na.clone(), na]);
        assert_eq!(a.state, b.state);
        assert_eq!(a.state.entries().len(), 2);
    }

    #[test]
    fn refuses_wrong_kind_and_foreign_supersedes() {
        let id = RecordId::generate(1);
        let mut a = Device::new(id);
        let s = a.set("status", "found");
        let mut wrong = s.clone();
        wrong.kind = RecordKind::Visit;
        assert!(matches!(a.state.apply(&wrong), Err(MergeError::KindMismatch { .. })));
        let mut foreign = a.set("risk", "high");
        foreign.dot.counter += 10;
        foreign.op = Op::Set { field: "risk".into(), value: Value::Null, supersedes: vec![s.dot] };
        assert_eq!(a.state.check(&foreign), Err(MergeError::ForeignSupersedes { field: "risk".into() }));
    }

    #[test]
    fn storage_round_trip() {
        let id = RecordId::generate(1);
        let mut a = Device::new(id);
        a.change(Op::Create);
        a.set("x", "y");
        let bytes = a.state.to_bytes();
        assert_eq!(RecordState::from_bytes(&bytes), Ok(a.state.clone()));
        assert_eq!(RecordState::from_bytes(&bytes[1..]), Err(StateDecodeError));
    }
}
