//! A simulated handset: makes changes exactly as `gridsync-client-core`'s
//! `Store::write` does, and checks every write with the record rules.

use std::collections::BTreeMap;

use anyhow::{Context, anyhow};
use gridsync_proto::{Actor, ActorId, Change, Directory, Dot, HlcClock, Op, RecordState, Value, check_group};

/// One device of one worker: its actor id, its user, the directory of its
/// profile, its clock and its outbox of write groups.
#[derive(Debug)]
pub(super) struct Handset {
    /// The device's actor id.
    pub(super) actor: ActorId,
    /// The user it is enrolled for.
    pub(super) who: Actor,
    dir: Directory,
    clock: HlcClock,
    /// The outbox: one group per local write, oldest first.
    pub(super) groups: Vec<Vec<Change>>,
}

/// A field to set.
pub(super) fn set(field: &str, value: impl Into<Value>) -> Op {
    Op::Set { field: field.to_owned(), value: value.into(), supersedes: Vec::new() }
}

/// An entry to append.
pub(super) fn append(entry: &str, body: BTreeMap<String, Value>) -> Op {
    Op::Append { entry: entry.to_owned(), body }
}

impl Handset {
    /// A handset of `who`, knowing the places in `dir`.
    pub(super) fn new(actor: ActorId, who: Actor, dir: Directory) -> Self {
        Self { actor, who, dir, clock: HlcClock::default(), groups: Vec::new() }
    }

    /// The directory the device checks its writes against.
    pub(super) fn directory(&self) -> &Directory {
        &self.dir
    }

    /// One local write at `now`: `ops` made into changes of `state` (after
    /// a create when `create` is set) and applied, as one write group.
    ///
    /// As client-core does: per-record counters from
    /// [`RecordState::next_counter`], `supersedes` = the field's
    /// [`RecordState::live_dots`], one HLC tick per change, the author is
    /// the device's user, and [`check_group`] must pass for the user and
    /// the profile's directory. A refusal is an error: the generator must
    /// never drift from the rules. Returns the dots made.
    pub(super) fn write(
        &mut self,
        state: &mut RecordState,
        create: bool,
        now: u64,
        ops: Vec<Op>,
    ) -> anyhow::Result<Vec<Dot>> {
        let before = (!create).then(|| state.clone());
        let mut group = Vec::with_capacity(ops.len() + 1);
        for mut op in create.then_some(Op::Create).into_iter().chain(ops) {
            if let Op::Set { field, supersedes, .. } = &mut op {
                *supersedes = state.live_dots(field);
            }
            let change = Change {
                record: state.id(),
                kind: state.kind(),
                dot: Dot { actor: self.actor, counter: state.next_counter(&self.actor) },
                author: self.who.user.clone(),
                time: self.clock.tick(now),
                op,
            };
            change.validate().context("generated an invalid change")?;
            state.apply(&change).context("a device's own change did not apply")?;
            group.push(change);
        }
        check_group(before.as_ref(), state, &group, &self.who, &self.dir)
            .map_err(|e| anyhow!("the rules refuse a generated {} write: {e}", state.kind()))?;
        let dots = group.iter().map(|c| c.dot).collect();
        self.groups.push(group);
        Ok(dots)
    }
}
