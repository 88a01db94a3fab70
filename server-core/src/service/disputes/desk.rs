//! The desk's two writes, as edits of a dispute: settling a field's
//! conflict, and taking a lifecycle step. Pure: they read the dispute as
//! the server holds it and the caller's view of it, and answer the edits
//! to author (or why there are none); the record rules judge the result.

use std::collections::BTreeSet;

use gridsync_proto::dispute::{STEP_ENTRY, StepBy};
use gridsync_proto::{
    Action, Actor, Directory, Dot, Edit, ErrorCode, Hierarchy, Lifecycle, RecordState, Step, Value,
};

use crate::error::{CoreError, CoreResult, Refusal};

/// How a field's conflict is settled.
#[derive(Debug, Clone, PartialEq)]
pub enum Choice {
    /// Keep one of the competing values, named by its id (`DEVICE:COUNTER`).
    Pick(Dot),
    /// Enter a new value instead.
    Value(Value),
}

/// Settle the conflict of one field.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolveConflict {
    /// The field in conflict.
    pub field: String,
    /// The ids of the competing values the caller was shown. They must be
    /// exactly the field's live values now: a value that arrived since (or a
    /// conflict someone settled since) is refused with `invalid_transition`,
    /// so that nothing is replaced unseen.
    pub seen: Vec<Dot>,
    /// What the field becomes.
    pub choice: Choice,
}

/// A lifecycle step from the desk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeskStep {
    /// The step: `accept`, `escalate`, `transfer`, `close` are the desk's
    /// own; any other step is taken if the rules let the caller take it.
    pub action: Action,
    /// The last step the caller was shown (the detail's `head`); when
    /// given, a dispute that has moved on since is refused with
    /// `invalid_transition`.
    pub after: Option<Dot>,
    /// Transfer and assistance: the department's unit code.
    pub unit: Option<String>,
    /// Transfer, assistance: the letter's number (文号). A transfer needs one.
    pub letter_number: Option<String>,
    /// Reason, outcome or remark.
    pub note: Option<String>,
}

fn stale(field: &str, what: &str) -> CoreError {
    Refusal::new(ErrorCode::InvalidTransition, format!("{field}: {what}: read the dispute again"))
        .field(field)
        .into()
}

/// The edit that settles `request.field`: its value, replacing exactly the
/// values the caller saw.
pub(crate) fn resolve_edits(record: &RecordState, request: &ResolveConflict) -> CoreResult<Vec<Edit>> {
    let field = request.field.as_str();
    if !record.in_conflict(field) {
        return Err(stale(field, "the field is not in conflict (any more)"));
    }
    let live: BTreeSet<Dot> = record.live_dots(field).into_iter().collect();
    let seen: BTreeSet<Dot> = request.seen.iter().copied().collect();
    if live != seen {
        return Err(stale(field, "the field's competing values changed since they were read"));
    }
    let value = match &request.choice {
        Choice::Value(value) => value.clone(),
        Choice::Pick(dot) => record
            .values(field)
            .iter()
            .find(|fv| fv.stamp.dot == *dot)
            .map(|fv| fv.value.clone())
            .ok_or_else(|| {
                Refusal::new(ErrorCode::InvalidRequest, "pick: names none of the field's competing values")
                    .field("pick")
            })?,
    };
    Ok(vec![Edit::Set(field.to_owned(), value)])
}

/// The `step` entry for `request`, taken by `actor` after the dispute's
/// current head. An escalation goes to the place above the current owner;
/// an acknowledgement names every overridden step not yet acknowledged.
pub(crate) fn step_edits(
    lifecycle: &Lifecycle,
    request: &DeskStep,
    actor: &Actor,
    dir: &Directory,
) -> CoreResult<Vec<Edit>> {
    let action = request.action;
    if request.after.is_some() && request.after != lifecycle.head {
        return Err(stale(STEP_ENTRY, "the dispute has moved on since it was read"));
    }
    if action == Action::Transfer && request.letter_number.as_deref().is_none_or(|n| n.trim().is_empty()) {
        return Err(Refusal::new(
            ErrorCode::MissingField,
            "letter_number: a transfer goes with a letter number (文号)",
        )
        .field("letter_number")
        .into());
    }
    let mut step = Step::new(action, lifecycle.head, StepBy::of(actor, dir));
    step.unit = request.unit.clone();
    step.letter_number = request.letter_number.clone();
    step.note = request.note.clone();
    match action {
        Action::Escalate => step.to = dir.parent(&lifecycle.state.owner).map(str::to_owned),
        Action::Remind => step.unit = step.unit.or_else(|| actor.unit.clone()),
        Action::Acknowledge => step.acknowledges = lifecycle.unacknowledged.clone(),
        _ => {}
    }
    Ok(vec![Edit::Append(STEP_ENTRY.to_owned(), step.to_body())])
}

#[cfg(test)]
mod tests {
    use gridsync_proto::{ActorId, Change, Hlc, Op, RecordId, RecordKind};

    use super::*;

    fn conflicted() -> (RecordState, Vec<Dot>) {
        let mut record = RecordState::new(RecordId::generate(1), RecordKind::Dispute);
        let mut dots = Vec::new();
        for (i, value) in [(1, 2), (2, 3)] {
            let actor = ActorId::random();
            let change = Change {
                record: record.id(),
                kind: RecordKind::Dispute,
                dot: Dot { actor, counter: 1 },
                author: "w".into(),
                time: Hlc::from_millis(i),
                op: Op::Set { field: "risk".into(), value: Value::Int(value), supersedes: vec![] },
            };
            record.apply(&change).expect("applies");
            dots.push(change.dot);
        }
        (record, dots)
    }

    #[test]
    fn a_resolution_replaces_exactly_what_was_seen() {
        let (record, dots) = conflicted();
        let pick =
            ResolveConflict { field: "risk".into(), seen: dots.clone(), choice: Choice::Pick(dots[0]) };
        assert_eq!(
            resolve_edits(&record, &pick).expect("edits"),
            vec![Edit::Set("risk".into(), Value::Int(2))]
        );
        let new = ResolveConflict { choice: Choice::Value(Value::Int(4)), ..pick.clone() };
        assert_eq!(
            resolve_edits(&record, &new).expect("edits"),
            vec![Edit::Set("risk".into(), Value::Int(4))]
        );
        let code = |r: &ResolveConflict| resolve_edits(&record, r).err().and_then(|e| e.code());
        let partial = ResolveConflict { seen: dots[..1].to_vec(), ..pick.clone() };
        assert_eq!(code(&partial), Some(ErrorCode::InvalidTransition), "a value the caller never saw");
        let other = ResolveConflict { field: "category".into(), ..pick.clone() };
        assert_eq!(code(&other), Some(ErrorCode::InvalidTransition));
        let stranger = Dot { actor: ActorId::random(), counter: 1 };
        let bad_pick = ResolveConflict { choice: Choice::Pick(stranger), ..pick };
        assert_eq!(code(&bad_pick), Some(ErrorCode::InvalidRequest));
    }
}
