//! Who may see a record: the keys a record is filed under, read from the
//! record alone.
//!
//! A record is filed under places, units and users:
//!
//! * patrols, visits, daily reports and base information under their grid
//!   (a daily report also under its worker);
//! * a dispute under its **owner** (not where it happened: once escalated,
//!   it leaves the village), the department handling it, the departments
//!   cooperating on it, and its assignee;
//! * a record of an unknown kind under its `grid` or `place`.
//!
//! A user sees a record when one of its keys is a place within their
//! assignment, their unit, or their own name. Because records name places
//! by code and users' subtrees come from the directory, moving a grid to
//! another village changes who sees its records without touching them.

use std::collections::BTreeSet;

use crate::dispute::Lifecycle;
use crate::kind::RecordKind;
use crate::record::RecordState;
use crate::rules::record_place;
use crate::value::Value;

/// A key a record is filed under.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AccessKey {
    /// Seen from this place and every place above it.
    Place(String),
    /// Seen by the users of this unit.
    Unit(String),
    /// Seen by this user.
    User(String),
}

impl AccessKey {
    /// The key as one string (`p:CODE`, `u:CODE`, `n:NAME`), for an index.
    pub fn encode(&self) -> String {
        match self {
            AccessKey::Place(code) => format!("p:{code}"),
            AccessKey::Unit(code) => format!("u:{code}"),
            AccessKey::User(name) => format!("n:{name}"),
        }
    }
}

/// Who may see a record, and whether it is still open (open disputes stay on
/// devices however old they are).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access {
    /// The keys.
    pub keys: BTreeSet<AccessKey>,
    /// A dispute not yet closed.
    pub open: bool,
}

/// The keys `state` is filed under.
pub fn access(state: &RecordState) -> Access {
    let mut out = Access::default();
    let text = |field: &str| match state.value(field) {
        Some(Value::Text(t)) => Some(t.clone()),
        _ => None,
    };
    match state.kind() {
        RecordKind::Dispute => match Lifecycle::of(state) {
            Some(lifecycle) => {
                let s = lifecycle.state;
                out.open = s.stage.is_open();
                out.keys.insert(AccessKey::Place(s.owner));
                out.keys.extend(s.handler.map(AccessKey::Unit));
                out.keys.extend(s.cooperating.into_iter().map(AccessKey::Unit));
                out.keys.extend(text("assignee").map(AccessKey::User));
            }
            None => out.keys.extend(text("place").map(AccessKey::Place)),
        },
        RecordKind::DailyReport => {
            out.keys.extend(text("grid").map(AccessKey::Place));
            out.keys.extend(text("worker").map(AccessKey::User));
        }
        _ => out.keys.extend(record_place(state).map(|p| AccessKey::Place(p.to_owned()))),
    }
    out
}
