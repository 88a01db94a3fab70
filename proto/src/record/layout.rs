//! The compact layout of a record's state (state format 2): how the server
//! stores a record, how a handset stores it, and how a snapshot carries it.
//!
//! Format 1 wrote every stamp whole: its device's 16-byte id, its author's
//! name and its hybrid time, once per live value and per entry, and each
//! entry's dot twice (as its key and in its stamp). A record of the county
//! workload took 1,124 bytes that way, 338 of them stamps. Format 2 lists the
//! record's devices and authors once and each stamp refers to them by
//! position; a stamp's time is an offset from the record's earliest one; the
//! causal context names devices by position too. The same record takes about
//! 845 bytes, and a page of 2,000 of them compresses to about 145 bytes a
//! record with zstd (ADR 0019).
//!
//! The layout is an encoding only: [`RecordState`] is unchanged, and a
//! decoded state equals the one encoded. Decoding checks every position it
//! is given and never panics on bad input.

use std::collections::BTreeMap;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Entry, FieldValue, RecordState, Stamp};
use crate::change::Dot;
use crate::context::CausalContext;
use crate::hlc::Hlc;
use crate::ids::{ActorId, RecordId};
use crate::kind::RecordKind;
use crate::value::Value;

/// A stamp, by positions into the record's devices and authors.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Mark {
    /// Position of the device in [`Layout::actors`].
    actor: u32,
    /// The dot's counter.
    counter: u64,
    /// Position of the author in [`Layout::authors`].
    author: u32,
    /// Milliseconds after [`Layout::base_ms`].
    after_ms: u64,
    /// The hybrid time's logical part.
    logical: u32,
}

/// The layout as written: borrowed from the state.
#[derive(Serialize)]
struct Written<'a> {
    id: RecordId,
    kind: RecordKind,
    actors: &'a [ActorId],
    authors: Vec<&'a str>,
    base_ms: u64,
    /// The context's gap-free prefixes: (device position, counter).
    clock: Vec<(u32, u64)>,
    /// The context's dots ahead of a gap: (device position, counter).
    cloud: Vec<(u32, u64)>,
    created: Option<Mark>,
    fields: Vec<(&'a str, Vec<(&'a Value, Mark)>)>,
    entries: Vec<(Mark, &'a str, &'a BTreeMap<String, Value>)>,
}

/// The layout as read.
#[derive(Deserialize)]
struct Layout {
    id: RecordId,
    kind: RecordKind,
    actors: Vec<ActorId>,
    authors: Vec<String>,
    base_ms: u64,
    clock: Vec<(u32, u64)>,
    cloud: Vec<(u32, u64)>,
    created: Option<Mark>,
    fields: Vec<(String, Vec<(Value, Mark)>)>,
    entries: Vec<(Mark, String, BTreeMap<String, Value>)>,
}

/// Every device the state names (its context and its stamps), in id order.
pub(crate) fn actors_of(state: &RecordState) -> Vec<ActorId> {
    let mut actors: Vec<ActorId> = state.context.actors().collect();
    actors.extend(stamps(state).map(|s| s.dot.actor));
    actors.sort_unstable();
    actors.dedup();
    actors
}

/// Position of `actor` in `actors` (sorted, and holding it).
pub(crate) fn position(actors: &[ActorId], actor: &ActorId) -> u32 {
    actors.binary_search(actor).unwrap_or_default() as u32
}

fn stamps(state: &RecordState) -> impl Iterator<Item = &Stamp> {
    let values = state.fields.values().flatten().map(|fv| &fv.stamp);
    state.created.iter().chain(values).chain(state.entries.values().map(|e| &e.stamp))
}

impl Serialize for RecordState {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Laid { state: self, actors: &actors_of(self) }.serialize(serializer)
    }
}

/// A state to write with its devices already listed ([`actors_of`]), for
/// a writer that needs the list too (a snapshot's receipts).
pub(crate) struct Laid<'a> {
    /// The state.
    pub(crate) state: &'a RecordState,
    /// `actors_of(state)`.
    pub(crate) actors: &'a [ActorId],
}

impl Serialize for Laid<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Self { state, actors } = *self;
        let mut authors: Vec<&str> = stamps(state).map(|s| s.author.as_str()).collect();
        authors.sort_unstable();
        authors.dedup();
        let base_ms = stamps(state).map(|s| s.time.millis).min().unwrap_or(0);
        let mark = |s: &Stamp| Mark {
            actor: position(actors, &s.dot.actor),
            counter: s.dot.counter,
            author: authors.binary_search(&s.author.as_str()).unwrap_or_default() as u32,
            after_ms: s.time.millis - base_ms,
            logical: s.time.logical,
        };
        let by_position = |(actor, counter): (ActorId, u64)| (position(actors, &actor), counter);
        Written {
            id: state.id,
            kind: state.kind,
            clock: state.context.clock_counters().map(by_position).collect(),
            cloud: state.context.cloud_dots().map(|d| by_position((d.actor, d.counter))).collect(),
            created: state.created.as_ref().map(mark),
            fields: state
                .fields
                .iter()
                .map(|(name, values)| {
                    (name.as_str(), values.iter().map(|fv| (&fv.value, mark(&fv.stamp))).collect())
                })
                .collect(),
            entries: state.entries.values().map(|e| (mark(&e.stamp), e.entry.as_str(), &e.body)).collect(),
            actors,
            authors,
            base_ms,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for RecordState {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Layout::deserialize(deserializer)?.into_state().map_err(D::Error::custom)
    }
}

impl Layout {
    /// The state the layout describes, or what is wrong with it.
    fn into_state(self) -> Result<RecordState, &'static str> {
        let actor = |n: u32| self.actors.get(n as usize).copied().ok_or("a device position is out of range");
        let stamp = |m: Mark| -> Result<Stamp, &'static str> {
            Ok(Stamp {
                dot: Dot { actor: actor(m.actor)?, counter: m.counter },
                author: self
                    .authors
                    .get(m.author as usize)
                    .ok_or("an author position is out of range")?
                    .clone(),
                time: Hlc {
                    millis: self.base_ms.checked_add(m.after_ms).ok_or("a time is out of range")?,
                    logical: m.logical,
                },
            })
        };
        let clock: Vec<(ActorId, u64)> =
            self.clock.iter().map(|&(n, counter)| Ok((actor(n)?, counter))).collect::<Result<_, &str>>()?;
        let cloud: Vec<Dot> = self
            .cloud
            .iter()
            .map(|&(n, counter)| Ok(Dot { actor: actor(n)?, counter }))
            .collect::<Result<_, &str>>()?;
        let created = self.created.map(stamp).transpose()?;
        let mut fields = BTreeMap::new();
        for (name, values) in self.fields {
            let values: Vec<FieldValue> = values
                .into_iter()
                .map(|(value, m)| Ok(FieldValue { value, stamp: stamp(m)? }))
                .collect::<Result<_, &str>>()?;
            if values.is_empty() || fields.insert(name, values).is_some() {
                return Err("a field is empty or named twice");
            }
        }
        let mut entries = BTreeMap::new();
        for (m, entry, body) in self.entries {
            let stamp = stamp(m)?;
            if entries.insert(stamp.dot, Entry { entry, body, stamp }).is_some() {
                return Err("an entry is listed twice");
            }
        }
        Ok(RecordState {
            id: self.id,
            kind: self.kind,
            context: CausalContext::from_parts(clock, cloud),
            created,
            fields,
            entries,
        })
    }
}

/// The format 1 layout, still read from stores written before format 2.
#[derive(Deserialize)]
pub(super) struct Format1 {
    id: RecordId,
    kind: RecordKind,
    context: CausalContext,
    created: Option<Stamp>,
    fields: BTreeMap<String, Vec<FieldValue>>,
    entries: BTreeMap<Dot, Entry>,
}

impl From<Format1> for RecordState {
    fn from(old: Format1) -> Self {
        let Format1 { id, kind, context, created, fields, entries } = old;
        Self { id, kind, context, created, fields, entries }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::{Change, Op};

    /// The format 1 layout, written as it was.
    #[derive(Serialize)]
    struct WrittenFormat1<'a> {
        id: RecordId,
        kind: RecordKind,
        context: &'a CausalContext,
        created: &'a Option<Stamp>,
        fields: &'a BTreeMap<String, Vec<FieldValue>>,
        entries: &'a BTreeMap<Dot, Entry>,
    }

    fn change(actor: ActorId, counter: u64, millis: u64, author: &str, op: Op) -> Change {
        Change {
            record: RecordId::from_bytes([7; 16]),
            kind: RecordKind::Dispute,
            dot: Dot { actor, counter },
            author: author.into(),
            time: Hlc { millis, logical: counter as u32 },
            op,
        }
    }

    /// Two devices, a conflict, an entry, and a dot that arrived ahead of a gap.
    fn state() -> RecordState {
        let (a, b) = (ActorId::from_bytes([1; 16]), ActorId::from_bytes([2; 16]));
        let set = |field: &str, value: &str| Op::Set {
            field: field.into(),
            value: value.into(),
            supersedes: vec![],
        };
        let changes = [
            change(a, 1, 1_700_000_000_000, "张伟", Op::Create),
            change(a, 2, 1_700_000_000_500, "张伟", set("status", "调解中")),
            change(b, 1, 1_700_000_100_000, "李娜", set("status", "已化解")),
            change(
                b,
                3,
                1_700_000_200_000,
                "李娜",
                Op::Append {
                    entry: "note".into(), body: [("text".to_owned(), Value::from("回访"))].into()
                },
            ),
        ];
        RecordState::from_changes(RecordId::from_bytes([7; 16]), RecordKind::Dispute, &changes)
            .expect("applies")
    }

    #[test]
    fn a_state_reads_back_equal_and_smaller_than_format_1() {
        let state = state();
        assert!(state.has_conflicts() && state.context().size() == 3, "a conflict and a cloud dot");
        let bytes = postcard::to_allocvec(&state).expect("encodes");
        assert_eq!(postcard::from_bytes::<RecordState>(&bytes), Ok(state.clone()));
        let old = WrittenFormat1 {
            id: state.id,
            kind: state.kind,
            context: &state.context,
            created: &state.created,
            fields: &state.fields,
            entries: &state.entries,
        };
        let old = postcard::to_allocvec(&old).expect("encodes");
        assert!(bytes.len() * 10 < old.len() * 8, "{} bytes against {}", bytes.len(), old.len());
        let format1: Format1 = postcard::from_bytes(&old).expect("format 1 reads");
        assert_eq!(RecordState::from(format1), state);
    }

    #[test]
    fn positions_out_of_range_are_refused_not_panicked_on() {
        let state = state();
        let mut bytes = postcard::to_allocvec(&state).expect("encodes");
        // Every single-byte corruption either decodes or is refused.
        for at in 0..bytes.len() {
            let saved = bytes[at];
            for value in [0, 1, 2, 0x7f, 0xff] {
                bytes[at] = value;
                let _ = postcard::from_bytes::<RecordState>(&bytes);
            }
            bytes[at] = saved;
        }
        let layout = Layout {
            id: state.id,
            kind: state.kind,
            actors: vec![],
            authors: vec![],
            base_ms: u64::MAX,
            clock: vec![(0, 1)],
            cloud: vec![],
            created: None,
            fields: vec![],
            entries: vec![],
        };
        assert!(layout.into_state().is_err());
    }
}
