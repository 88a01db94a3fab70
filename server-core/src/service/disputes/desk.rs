//! The desk's two writes, as edits of a dispute: settling a field's
//! conflict, and taking a lifecycle step; and what the desk offers a staff
//! member on a dispute ([`DeskOffer`]), judged as those writes will be.
//! Pure: they read the dispute as the server holds it and the caller's view
//! of it, and answer the edits to author (or why there are none); the
//! record rules judge the result.

use std::collections::BTreeSet;

use gridsync_proto::dispute::{self, LifeState, STEP_ENTRY, StepBy};
use gridsync_proto::{
    Action, Actor, Directory, Dot, Edit, ErrorCode, Hierarchy, Lifecycle, RecordState, Step, Value,
};
use serde::Serialize;

use crate::error::{CoreError, CoreResult, Refusal};
use crate::policy;
use crate::storage::User;

/// The lifecycle steps the desk offers, in the order a page shows them.
pub const DESK_ACTIONS: [Action; 4] = [Action::Accept, Action::Escalate, Action::Transfer, Action::Close];

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
    /// Escalation: the place it goes to, one of [`DeskOffer::escalate_to`]
    /// (the place directly above the owner: the rules allow no other).
    /// When absent, that place. Any other step refuses it
    /// (`invalid_request`, field `to`); an unknown place is `unknown_place`.
    pub to: Option<String>,
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

/// What the desk offers a staff member on a dispute now: the forms a page
/// shows. Judged as the writes are ([`policy::may_handle_disputes`], then
/// the lifecycle and record rules for this user, at this stage), so that a
/// page shows no form whose write the service would refuse for who the
/// user is; the service still judges every write.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeskOffer {
    /// The desk's steps ([`DESK_ACTIONS`]) the user may take now.
    pub steps: Vec<Action>,
    /// Where an escalation may go (codes): the place directly above the
    /// owner. Empty when escalation is not offered.
    pub escalate_to: Vec<String>,
    /// Whether the user may settle the fields in conflict (the owner side,
    /// with a role that handles disputes).
    pub resolve: bool,
}

impl DeskOffer {
    /// What `user` may do from the desk on a dispute in `state`.
    pub fn of(user: &User, state: &LifeState, dir: &Directory) -> DeskOffer {
        if !user.active || !policy::may_handle_disputes(user) {
            return DeskOffer::default();
        }
        let actor = user.actor();
        let escalate_to = dispute::escalation_targets(&state.owner, dir);
        let steps: Vec<Action> = DESK_ACTIONS
            .into_iter()
            .filter(|a| dispute::may_take(state, *a, &actor, dir).is_ok())
            .filter(|a| *a != Action::Escalate || !escalate_to.is_empty())
            .collect();
        let escalate_to = if steps.contains(&Action::Escalate) { escalate_to } else { Vec::new() };
        DeskOffer { steps, escalate_to, resolve: dispute::owner_side(state, &actor, dir) }
    }

    /// Whether the offer holds `action`.
    pub fn offers(&self, action: Action) -> bool {
        self.steps.contains(&action)
    }
}

/// The `step` entry for `request`, taken by `actor` after the dispute's
/// current head. An escalation goes where the request says (by default the
/// place above the current owner; the rules judge it); an acknowledgement
/// names every overridden step not yet acknowledged.
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
    if let Some(to) = &request.to {
        if action != Action::Escalate {
            return Err(Refusal::invalid("to: only an escalation names a place to go to").field("to").into());
        }
        if dir.place(to).is_none() {
            return Err(Refusal::new(
                ErrorCode::UnknownPlace,
                format!("to: {} is not a known place", policy::shown(to)),
            )
            .field("to")
            .into());
        }
    }
    let mut step = Step::new(action, lifecycle.head, StepBy::of(actor, dir));
    step.unit = request.unit.clone();
    step.letter_number = request.letter_number.clone();
    step.note = request.note.clone();
    match action {
        Action::Escalate => {
            step.to = request
                .to
                .clone()
                .or_else(|| dispute::escalation_targets(&lifecycle.state.owner, dir).into_iter().next());
        }
        Action::Remind => step.unit = step.unit.or_else(|| actor.unit.clone()),
        Action::Acknowledge => step.acknowledges = lifecycle.unacknowledged.clone(),
        _ => {}
    }
    Ok(vec![Edit::Append(STEP_ENTRY.to_owned(), step.to_body())])
}

#[cfg(test)]
mod tests {
    use gridsync_proto::{ActorId, Change, Hlc, Level, Op, Place, RecordId, RecordKind, Role, Stage};

    use super::*;

    /// County C, township T, village V.
    fn dir() -> Directory {
        let place = |code: &str, level, parent: Option<&str>| Place {
            code: code.into(),
            name: code.into(),
            level,
            parent: parent.map(Into::into),
        };
        Directory::new(
            [
                place("C", Level::County, None),
                place("T", Level::Township, Some("C")),
                place("V", Level::Village, Some("T")),
            ],
            [],
        )
    }

    fn user(role: Role, scope: &str) -> User {
        User {
            name: "x".into(),
            role,
            scope: scope.into(),
            unit: None,
            active: true,
            has_password: true,
            must_change_password: false,
        }
    }

    fn at(stage: Stage) -> LifeState {
        LifeState { stage, ..LifeState::registered("V") }
    }

    #[test]
    fn the_desk_offers_what_the_user_may_do_and_nothing_else() {
        let dir = dir();
        let centre = DeskOffer::of(&user(Role::TownshipAdmin, "T"), &at(Stage::Found), &dir);
        assert_eq!(centre.steps, vec![Action::Accept, Action::Escalate]);
        assert_eq!((centre.escalate_to.as_slice(), centre.resolve), (&["T".to_owned()][..], true));
        let accepted = DeskOffer::of(&user(Role::TownshipAdmin, "T"), &at(Stage::Accepted), &dir);
        assert_eq!(accepted.steps, vec![Action::Escalate, Action::Transfer]);
        let resolved = DeskOffer::of(&user(Role::CountyAdmin, "C"), &at(Stage::Resolved), &dir);
        assert_eq!(
            (resolved.steps.as_slice(), resolved.escalate_to.is_empty()),
            (&[Action::Close][..], true)
        );
        // An admin assigned to the village is no centre: no transfer, no close.
        let village = DeskOffer::of(&user(Role::TownshipAdmin, "V"), &at(Stage::Accepted), &dir);
        assert_eq!((village.steps.as_slice(), village.resolve), (&[Action::Escalate][..], true));
        // Read-only roles, departments, inactive users, another place: nothing.
        for nobody in [
            user(Role::Auditor, "T"),
            user(Role::Auditor, ""),
            user(Role::Department, "T"),
            user(Role::Worker, "V"),
            User { active: false, ..user(Role::TownshipAdmin, "T") },
        ] {
            assert_eq!(DeskOffer::of(&nobody, &at(Stage::Found), &dir), DeskOffer::default(), "{nobody:?}");
        }
        // At the top, nowhere to escalate to.
        let top = LifeState { owner: "C".into(), ..at(Stage::Found) };
        assert_eq!(DeskOffer::of(&user(Role::CountyAdmin, "C"), &top, &dir).steps, vec![Action::Accept]);
    }

    #[test]
    fn an_escalation_names_its_target_and_other_steps_none() {
        let dir = dir();
        let lifecycle = Lifecycle::fold(LifeState::registered("V"), Vec::new());
        let actor = user(Role::TownshipAdmin, "T").actor();
        let step = |action, to: Option<&str>| DeskStep {
            action,
            after: None,
            to: to.map(Into::into),
            unit: None,
            letter_number: None,
            note: None,
        };
        let to_of = |edits: Vec<Edit>| match edits.as_slice() {
            [Edit::Append(_, body)] => body.get("to").cloned(),
            other => panic!("one step: {other:?}"),
        };
        let chosen = step_edits(&lifecycle, &step(Action::Escalate, Some("T")), &actor, &dir).expect("edits");
        assert_eq!(to_of(chosen), Some(Value::Text("T".into())));
        let default = step_edits(&lifecycle, &step(Action::Escalate, None), &actor, &dir).expect("edits");
        assert_eq!(to_of(default), Some(Value::Text("T".into())), "by default the place above");
        let code = |s: DeskStep| step_edits(&lifecycle, &s, &actor, &dir).err().and_then(|e| e.code());
        assert_eq!(code(step(Action::Escalate, Some("nowhere"))), Some(ErrorCode::UnknownPlace));
        assert_eq!(code(step(Action::Accept, Some("T"))), Some(ErrorCode::InvalidRequest));
        // A known place that is not the one above is the rules' to refuse.
        let skip = step_edits(&lifecycle, &step(Action::Escalate, Some("C")), &actor, &dir).expect("edits");
        assert_eq!(to_of(skip), Some(Value::Text("C".into())));
    }

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
