//! Turning a device's edits into changes: the one place that numbers a
//! device's changes, names what each edit supersedes and stamps it with the
//! device's clock. The handset store, the demo and the benchmarks all make
//! their changes here, so they make them alike.

use std::collections::BTreeMap;

use crate::change::{Change, Dot, InvalidChange, Op};
use crate::hlc::HlcClock;
use crate::ids::ActorId;
use crate::record::{MergeError, RecordState};
use crate::value::Value;

/// One edit to a record, before it becomes a [`Change`].
#[derive(Debug, Clone, PartialEq)]
pub enum Edit {
    /// Set a field (replacing every value of it this device has seen).
    Set(String, Value),
    /// Append an entry of the given kind.
    Append(String, BTreeMap<String, Value>),
}

/// Why edits could not become changes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// A change fails validation.
    #[error(transparent)]
    Invalid(#[from] InvalidChange),
    /// A change cannot merge.
    #[error(transparent)]
    Merge(#[from] MergeError),
}

/// Who makes the changes and with which clock.
#[derive(Debug)]
pub struct Author<'a> {
    /// The device.
    pub device: ActorId,
    /// The user, as the device knows them.
    pub name: &'a str,
    /// The device's hybrid clock, ticked once per change.
    pub clock: &'a mut HlcClock,
    /// The device's wall clock now, Unix ms.
    pub now_ms: u64,
}

/// Makes the changes of one write group: a `Create` first when `create`,
/// then one change per edit, each applied to `state` as it is made (so a
/// later edit of the same field supersedes an earlier one). On error,
/// `state` may hold part of the group: work on a copy.
pub fn make_group(
    state: &mut RecordState,
    author: &mut Author<'_>,
    create: bool,
    edits: impl IntoIterator<Item = Edit>,
) -> Result<Vec<Change>, EditError> {
    let ops = create.then_some(Op::Create).into_iter().chain(edits.into_iter().map(|edit| match edit {
        // `supersedes` is filled in just before the change is made.
        Edit::Set(field, value) => Op::Set { field, value, supersedes: Vec::new() },
        Edit::Append(entry, body) => Op::Append { entry, body },
    }));
    let mut changes = Vec::new();
    for mut op in ops {
        if let Op::Set { field, supersedes, .. } = &mut op {
            *supersedes = state.live_dots(field);
        }
        let change = Change {
            record: state.id(),
            kind: state.kind(),
            dot: Dot { actor: author.device, counter: state.next_counter(&author.device) },
            author: author.name.to_owned(),
            time: author.clock.tick(author.now_ms),
            op,
        };
        change.validate()?;
        state.apply(&change)?;
        changes.push(change);
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::RecordId;
    use crate::kind::RecordKind;

    #[test]
    fn later_edits_supersede_earlier_ones_of_the_same_group() {
        let id = RecordId::generate(1);
        let mut state = RecordState::new(id, RecordKind::Visit);
        let mut clock = HlcClock::default();
        let mut author = Author { device: ActorId::random(), name: "w", clock: &mut clock, now_ms: 5 };
        let edits = [Edit::Set("result".into(), "a".into()), Edit::Set("result".into(), "b".into())];
        let group = make_group(&mut state, &mut author, true, edits).expect("group");
        assert_eq!(group.len(), 3);
        assert!(matches!(&group[2].op, Op::Set { supersedes, .. } if supersedes == &[group[1].dot]));
        assert_eq!(state.value("result"), Some(&"b".into()));
        assert!(group.windows(2).all(|w| w[0].time < w[1].time && w[1].dot.counter == w[0].dot.counter + 1));
        let bad = make_group(&mut state, &mut author, false, [Edit::Set(String::new(), Value::Null)]);
        assert_eq!(bad, Err(EditError::Invalid(InvalidChange::BadName)));
    }
}
