//! Change operations: the unit a device records, pushes and the server logs.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::hlc::Hlc;
use crate::ids::{ActorId, RecordId};
use crate::kind::RecordKind;
use crate::value::{Leaf, MAX_DEPTH, Value};

pub mod log_body;

/// Longest field, entry-kind or map-key name, in bytes.
pub const MAX_NAME_LEN: usize = 64;
/// Longest text inside one change, in bytes (a long mediation note fits).
pub const MAX_TEXT_LEN: usize = 64 * 1024;
/// Most attributes on one appended entry.
pub const MAX_ENTRY_ATTRS: usize = 64;
/// Most values one edit may supersede (one per device that edited the field).
pub const MAX_SUPERSEDES: usize = 256;
/// Longest author name, in bytes.
pub const MAX_AUTHOR_LEN: usize = 128;
/// Highest change counter: no device makes four billion changes to one
/// record, and the bound keeps every `counter + 1` far from overflow.
pub const MAX_COUNTER: u64 = u32::MAX as u64;

/// One event of one actor on one record: `counter` is the actor's n-th change
/// to that record, counting from 1.
///
/// Counting per record (not per device) keeps a record's causal context a
/// plain version vector once every change has arrived: its size is the
/// number of devices that touched the record, whatever the device did
/// elsewhere.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Dot {
    /// Who made the change.
    pub actor: ActorId,
    /// The actor's sequence number on this record, from 1.
    pub counter: u64,
}

impl fmt::Debug for Dot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.actor, self.counter)
    }
}

/// The text form `ACTOR:COUNTER`, used where one change names another
/// (a dispute step's parent).
impl fmt::Display for Dot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.actor, self.counter)
    }
}

impl std::str::FromStr for Dot {
    type Err = crate::ids::ParseIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (actor, counter) = s.rsplit_once(':').ok_or_else(crate::ids::ParseIdError::dot)?;
        let counter: u64 = counter.parse().map_err(|_| crate::ids::ParseIdError::dot())?;
        if counter == 0 || counter > MAX_COUNTER {
            return Err(crate::ids::ParseIdError::dot());
        }
        Ok(Dot { actor: actor.parse().map_err(|_| crate::ids::ParseIdError::dot())?, counter })
    }
}

/// One change to one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// The record changed.
    pub record: RecordId,
    /// The record's kind, carried by every change so that any change can
    /// arrive first and the record still knows what it is.
    pub kind: RecordKind,
    /// The change's unique identity and causal position.
    pub dot: Dot,
    /// The user who made it, as the device knew them.
    pub author: String,
    /// When, by the device's hybrid clock.
    pub time: Hlc,
    /// What was done.
    pub op: Op,
}

/// What a change does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// The record was created (with no fields yet, or before its first edits).
    Create,
    /// A field was set. `supersedes` lists the values of that field that the
    /// editor had seen: they are replaced. Values it had not seen stay, and
    /// the field then reports a conflict.
    Set {
        /// The field name.
        field: String,
        /// The new value.
        value: Value,
        /// Dots of the values this edit replaces.
        supersedes: Vec<Dot>,
    },
    /// A child entry (note, mediation session, status step) was appended.
    /// Entries are never edited or removed and never conflict.
    Append {
        /// What sort of entry, e.g. `note`.
        entry: String,
        /// The entry's attributes.
        body: BTreeMap<String, Value>,
    },
}

/// Why a change is refused, before it touches any state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidChange {
    /// The dot's counter is zero (counters start at 1).
    #[error("change counter must start at 1")]
    ZeroCounter,
    /// A counter (of the change or of a value it supersedes) is above [`MAX_COUNTER`].
    #[error("change counter is above {MAX_COUNTER}")]
    CounterTooLarge,
    /// A field, entry or map-key name is empty or too long.
    #[error("name is empty or longer than {MAX_NAME_LEN} bytes")]
    BadName,
    /// A text is longer than [`MAX_TEXT_LEN`].
    #[error("text longer than {MAX_TEXT_LEN} bytes")]
    TextTooLong,
    /// The author is longer than [`MAX_AUTHOR_LEN`].
    #[error("author longer than {MAX_AUTHOR_LEN} bytes")]
    AuthorTooLong,
    /// A float is NaN or infinite.
    #[error("number is not finite")]
    NotFinite,
    /// Lists or maps nest deeper than [`MAX_DEPTH`].
    #[error("value nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// An entry has more than [`MAX_ENTRY_ATTRS`] attributes.
    #[error("entry has more than {MAX_ENTRY_ATTRS} attributes")]
    TooManyAttributes,
    /// An edit supersedes too many values, or itself.
    #[error("edit supersedes itself or more than {MAX_SUPERSEDES} values")]
    BadSupersedes,
}

impl Change {
    /// Checks everything about a change that does not need the record's
    /// state. Device and server run the same check.
    pub fn validate(&self) -> Result<(), InvalidChange> {
        if self.dot.counter == 0 {
            return Err(InvalidChange::ZeroCounter);
        }
        if self.dot.counter > MAX_COUNTER {
            return Err(InvalidChange::CounterTooLarge);
        }
        if self.author.len() > MAX_AUTHOR_LEN {
            return Err(InvalidChange::AuthorTooLong);
        }
        match &self.op {
            Op::Create => Ok(()),
            Op::Set { field, value, supersedes } => {
                check_name(field)?;
                if supersedes.len() > MAX_SUPERSEDES || supersedes.contains(&self.dot) {
                    return Err(InvalidChange::BadSupersedes);
                }
                if supersedes.iter().any(|d| d.counter == 0 || d.counter > MAX_COUNTER) {
                    return Err(InvalidChange::CounterTooLarge);
                }
                check_value(value)
            }
            Op::Append { entry, body } => {
                check_name(entry)?;
                if body.len() > MAX_ENTRY_ATTRS {
                    return Err(InvalidChange::TooManyAttributes);
                }
                body.iter().try_for_each(|(k, v)| {
                    check_name(k)?;
                    check_value(v)
                })
            }
        }
    }
}

fn check_name(name: &str) -> Result<(), InvalidChange> {
    if name.is_empty() || name.len() > MAX_NAME_LEN { Err(InvalidChange::BadName) } else { Ok(()) }
}

fn check_value(value: &Value) -> Result<(), InvalidChange> {
    if value.depth() > MAX_DEPTH {
        return Err(InvalidChange::TooDeep);
    }
    let mut text = 0usize;
    let mut result = Ok(());
    value.visit(&mut |leaf| match leaf {
        Leaf::Key(k) if k.is_empty() || k.len() > MAX_NAME_LEN => result = Err(InvalidChange::BadName),
        Leaf::Key(k) | Leaf::Text(k) => text = text.saturating_add(k.len()),
        Leaf::Float(x) if !x.is_finite() => result = Err(InvalidChange::NotFinite),
        Leaf::Float(_) => {}
    });
    result?;
    if text > MAX_TEXT_LEN { Err(InvalidChange::TextTooLong) } else { Ok(()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(op: Op) -> Change {
        Change {
            record: RecordId::generate(1),
            kind: RecordKind::Dispute,
            dot: Dot { actor: ActorId::random(), counter: 1 },
            author: "worker".into(),
            time: Hlc::from_millis(1),
            op,
        }
    }

    fn set(field: &str, value: Value) -> Op {
        Op::Set { field: field.into(), value, supersedes: vec![] }
    }

    #[test]
    fn accepts_ordinary_changes() {
        assert_eq!(change(Op::Create).validate(), Ok(()));
        assert_eq!(change(set("status", "found".into())).validate(), Ok(()));
        let body = BTreeMap::from([("text".to_owned(), Value::from("双方同意"))]);
        assert_eq!(change(Op::Append { entry: "note".into(), body }).validate(), Ok(()));
    }

    #[test]
    fn refuses_bad_changes_with_a_reason() {
        let mut c = change(Op::Create);
        c.dot.counter = 0;
        assert_eq!(c.validate(), Err(InvalidChange::ZeroCounter));
        c.dot.counter = MAX_COUNTER + 1;
        assert_eq!(c.validate(), Err(InvalidChange::CounterTooLarge));
        let far = Dot { actor: ActorId::random(), counter: u64::MAX };
        let reach = Op::Set { field: "f".into(), value: Value::Null, supersedes: vec![far] };
        assert_eq!(change(reach).validate(), Err(InvalidChange::CounterTooLarge));
        let key = Value::Map(BTreeMap::from([("k".repeat(MAX_NAME_LEN + 1), Value::Null)]));
        assert_eq!(change(set("m", key)).validate(), Err(InvalidChange::BadName));
        assert_eq!(change(set("", Value::Null)).validate(), Err(InvalidChange::BadName));
        assert_eq!(change(set(&"x".repeat(65), Value::Null)).validate(), Err(InvalidChange::BadName));
        assert_eq!(
            change(set("t", Value::Text("x".repeat(MAX_TEXT_LEN + 1)))).validate(),
            Err(InvalidChange::TextTooLong)
        );
        assert_eq!(change(set("x", Value::Float(f64::NAN))).validate(), Err(InvalidChange::NotFinite));
        let mut selfish = change(Op::Create);
        selfish.op = Op::Set { field: "f".into(), value: Value::Null, supersedes: vec![selfish.dot] };
        assert_eq!(selfish.validate(), Err(InvalidChange::BadSupersedes));
        let mut long_author = change(Op::Create);
        long_author.author = "a".repeat(MAX_AUTHOR_LEN + 1);
        assert_eq!(long_author.validate(), Err(InvalidChange::AuthorTooLong));
    }
}
