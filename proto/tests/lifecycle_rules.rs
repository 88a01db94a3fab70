//! The dispute lifecycle's rules: the stage machine (`LifeState::after`)
//! against the table in the `dispute` module doc, and who may take which
//! step (`permit`).

mod support;

use gridsync_proto::dispute::{LifeState, StepBy, permit};
use gridsync_proto::{Action, Actor, Dot, ErrorCode, Role, RuleError, Stage, Step};
use support::*;

// ---------------------------------------------------------------------------
// (a) The stage machine.

const OPEN: &[&str] = &[
    "found",
    "accepted",
    "mediating",
    "resolved",
    "followed_up",
    "transferred",
    "handling",
    "closure_requested",
];
const ANY: &[&str] = &[
    "found",
    "accepted",
    "mediating",
    "resolved",
    "followed_up",
    "transferred",
    "handling",
    "closure_requested",
    "closed",
];

/// The table of the `dispute` module doc: step, from, to ("" = unchanged).
const TABLE: &[(&str, &[&str], &str)] = &[
    ("accept", &["found"], "accepted"),
    ("mediate", &["found", "accepted"], "mediating"),
    ("resolve", &["found", "accepted", "mediating"], "resolved"),
    ("follow_up", &["resolved", "followed_up"], "followed_up"),
    ("close", &["resolved", "followed_up"], "closed"),
    ("escalate", &["found", "accepted", "mediating"], "accepted"),
    ("transfer", &["accepted", "mediating"], "transferred"),
    ("accept_transfer", &["transferred"], "handling"),
    ("return", &["transferred"], "accepted"),
    ("return", &["closure_requested"], "handling"),
    ("request_closure", &["handling"], "closure_requested"),
    ("confirm_closure", &["closure_requested"], "closed"),
    ("assist", OPEN, ""),
    ("remind", OPEN, ""),
    ("acknowledge", ANY, ""),
];

fn expected(stage: Stage, action: Action) -> Option<Stage> {
    let (_, _, to) = TABLE.iter().find(|(a, from, _)| *a == action.name() && from.contains(&stage.name()))?;
    if to.is_empty() {
        return Some(stage);
    }
    Some(*Stage::ALL.iter().find(|s| s.name() == *to).expect("the table names real stages"))
}

/// A dispute at `stage`, owned by the village; handled by the police
/// station in the department stages.
fn at(stage: Stage) -> LifeState {
    let mut state = LifeState::registered(VILLAGE);
    state.stage = stage;
    if matches!(stage, Stage::Transferred | Stage::Handling | Stage::ClosureRequested) {
        state.handler = Some(POLICE.into());
    }
    state.cooperating.insert(HOUSING.into());
    state
}

/// A well-formed step: the details each action needs are filled in.
fn full_step(action: Action, parent: Option<Dot>, by: StepBy) -> Step {
    let mut step = Step::new(action, parent, by);
    match action {
        Action::Escalate => step.to = Some(TOWNSHIP.into()),
        Action::Transfer | Action::Assist => step.unit = Some(JUSTICE.into()),
        Action::Remind => step.unit = Some(POLICE.into()),
        Action::Acknowledge => step.acknowledges = vec![some_dot()],
        Action::Resolve | Action::RequestClosure => step.note = Some("双方签订调解协议".into()),
        _ => {}
    }
    step
}

#[test]
fn the_stage_machine_allows_exactly_the_documented_transitions() {
    let dir = directory();
    let by = StepBy::of(&cadre(), &dir);
    let mut allowed = 0;
    for stage in Stage::ALL {
        for action in Action::ALL {
            let before = at(stage);
            let step = full_step(action, None, by.clone());
            let result = before.after(&step);
            assert_eq!(
                result.as_ref().ok().map(|s| s.stage),
                expected(stage, action),
                "{action} from {stage}"
            );
            let Ok(next) = result else { continue };
            allowed += 1;
            assert_eq!(next.stage_head, before.stage_head, "after() leaves the stage head to the fold");
            // What else each step changes, and that nothing else changes.
            let mut want = before.clone();
            want.stage = next.stage;
            match action {
                Action::Escalate => {
                    want.owner = TOWNSHIP.into();
                    want.handler = None;
                }
                Action::Transfer => want.handler = Some(JUSTICE.into()),
                Action::Return if stage == Stage::Transferred => want.handler = None,
                Action::Assist => {
                    want.cooperating.insert(JUSTICE.into());
                }
                _ => {}
            }
            assert_eq!(next, want, "{action} from {stage}");
        }
    }
    let documented: usize = TABLE.iter().map(|(_, from, _)| from.len()).sum();
    assert_eq!(allowed, documented, "every documented transition is allowed, and no other");

    // Steps missing what they need are refused whatever the stage.
    let accepted = at(Stage::Accepted);
    let bare = |action| Step::new(action, None, by.clone());
    assert!(accepted.after(&bare(Action::Escalate)).is_err(), "an escalation names the place");
    assert!(accepted.after(&bare(Action::Transfer)).is_err(), "a transfer names the department");
    assert!(accepted.after(&bare(Action::Assist)).is_err(), "an assistance letter names the department");
    let mut to_self = bare(Action::Escalate);
    to_self.to = Some(VILLAGE.into());
    assert!(accepted.after(&to_self).is_err(), "an escalation moves the owner");
    // Only closing ends a dispute; only the resolving stages count as resolved.
    for stage in Stage::ALL {
        assert_eq!(stage.is_open(), stage != Stage::Closed, "{stage}");
        let resolved = matches!(stage, Stage::Resolved | Stage::FollowedUp | Stage::Closed);
        assert_eq!(stage.is_resolved(), resolved, "{stage}");
    }
}

// ---------------------------------------------------------------------------
// (b) Who may take which step.

fn try_step(
    seen: &LifeState,
    who: &Actor,
    action: Action,
    edit: impl FnOnce(&mut Step),
) -> Result<(), RuleError> {
    let dir = directory();
    let mut step = full_step(action, None, StepBy::of(who, &dir));
    edit(&mut step);
    permit(seen, &step, who, &dir)
}

#[test]
fn owner_side_steps_are_taken_at_the_owner_or_above() {
    let cases = [
        (Action::Accept, Stage::Found),
        (Action::Mediate, Stage::Accepted),
        (Action::Resolve, Stage::Mediating),
        (Action::FollowUp, Stage::Resolved),
        (Action::Escalate, Stage::Accepted),
        (Action::Assist, Stage::Mediating),
        (Action::Acknowledge, Stage::Accepted),
    ];
    for (action, stage) in cases {
        let seen = at(stage);
        for who in [cadre(), township(), township_worker(), county(), administrator()] {
            assert_eq!(try_step(&seen, &who, action, |_| {}), Ok(()), "{action} by {}", who.user);
        }
        for who in [grid_worker(), other_township(), police(), justice(), housing(), auditor()] {
            let result = try_step(&seen, &who, action, |_| {});
            assert_eq!(code(result), Some(ErrorCode::Forbidden), "{action} by {}", who.user);
        }
    }
}

#[test]
fn centre_steps_need_a_township_or_higher_centre() {
    let cases = [
        (Action::Close, Stage::Resolved),
        (Action::Close, Stage::FollowedUp),
        (Action::Transfer, Stage::Accepted),
        (Action::Transfer, Stage::Mediating),
        (Action::ConfirmClosure, Stage::ClosureRequested),
        (Action::Return, Stage::ClosureRequested),
    ];
    for (action, stage) in cases {
        let seen = at(stage);
        for who in [township(), township_worker(), county(), administrator()] {
            assert_eq!(
                try_step(&seen, &who, action, |_| {}),
                Ok(()),
                "{action} from {stage} by {}",
                who.user
            );
        }
        // The village owns it but runs no centre; the handler is no centre.
        for who in [cadre(), grid_worker(), other_township(), police(), justice(), auditor()] {
            let result = try_step(&seen, &who, action, |_| {});
            assert_eq!(code(result), Some(ErrorCode::Forbidden), "{action} from {stage} by {}", who.user);
        }
        // Once the county owns it, the township is below the owner.
        let mut county_owned = seen.clone();
        county_owned.owner = COUNTY.into();
        let result = try_step(&county_owned, &township(), action, |_| {});
        assert_eq!(code(result), Some(ErrorCode::Forbidden), "{action} on the county's by the township");
        assert_eq!(try_step(&county_owned, &county(), action, |_| {}), Ok(()));
    }
}

#[test]
fn department_steps_are_the_handling_departments_alone() {
    let cases = [
        (Action::AcceptTransfer, Stage::Transferred),
        (Action::Return, Stage::Transferred),
        (Action::RequestClosure, Stage::Handling),
    ];
    for (action, stage) in cases {
        let seen = at(stage);
        assert_eq!(seen.handler.as_deref(), Some(POLICE));
        assert_eq!(try_step(&seen, &police(), action, |_| {}), Ok(()), "{action} by the handler");
        // A cooperating department, the centres and a worker who claims the
        // handler's unit are not the handler.
        let impostor = actor("wang", Role::Worker, Some(TOWNSHIP), Some(POLICE));
        for who in [housing(), justice(), township(), county(), administrator(), cadre(), auditor(), impostor]
        {
            let result = try_step(&seen, &who, action, |_| {});
            assert_eq!(code(result), Some(ErrorCode::Forbidden), "{action} by {}", who.user);
        }
    }
}

#[test]
fn reminders_come_from_a_handling_or_cooperating_department_naming_itself() {
    let seen = at(Stage::Handling);
    assert_eq!(try_step(&seen, &police(), Action::Remind, |s| s.unit = Some(POLICE.into())), Ok(()));
    assert_eq!(try_step(&seen, &housing(), Action::Remind, |s| s.unit = Some(HOUSING.into())), Ok(()));
    for unit in [Some(JUSTICE), Some(HOUSING), None] {
        let result = try_step(&seen, &police(), Action::Remind, |s| s.unit = unit.map(Into::into));
        assert_eq!(
            code_field(result),
            Some((ErrorCode::InvalidField, Some("unit".into()))),
            "naming {unit:?}"
        );
    }
    for who in [justice(), township(), cadre(), administrator()] {
        let result = try_step(&seen, &who, Action::Remind, |s| s.unit = who.unit.clone());
        assert_eq!(code(result), Some(ErrorCode::Forbidden), "a reminder by {}", who.user);
    }
    // Before any transfer only a cooperating department reminds.
    let found = at(Stage::Found);
    assert_eq!(try_step(&found, &housing(), Action::Remind, |s| s.unit = Some(HOUSING.into())), Ok(()));
    let result = try_step(&found, &police(), Action::Remind, |s| s.unit = Some(POLICE.into()));
    assert_eq!(code(result), Some(ErrorCode::Forbidden));
}

#[test]
fn an_escalation_goes_to_the_place_directly_above_the_owner() {
    let seen = at(Stage::Mediating);
    assert_eq!(try_step(&seen, &cadre(), Action::Escalate, |s| s.to = Some(TOWNSHIP.into())), Ok(()));
    for to in [COUNTY, OTHER_TOWNSHIP, GRID, CITY] {
        let result = try_step(&seen, &township(), Action::Escalate, |s| s.to = Some(to.into()));
        assert_eq!(code_field(result), Some((ErrorCode::InvalidField, Some("to".into()))), "to {to}");
    }
    for to in [Some(VILLAGE), None] {
        let result = try_step(&seen, &cadre(), Action::Escalate, |s| s.to = to.map(Into::into));
        assert_eq!(code(result), Some(ErrorCode::InvalidTransition), "to {to:?}");
    }
    // At the top there is nowhere to go.
    let mut top = seen.clone();
    top.owner = CITY.into();
    let result = try_step(&top, &administrator(), Action::Escalate, |s| s.to = Some(COUNTY.into()));
    assert_eq!(code_field(result), Some((ErrorCode::InvalidTransition, Some("to".into()))));
}

#[test]
fn steps_carry_what_they_need() {
    let result = try_step(&at(Stage::Mediating), &cadre(), Action::Resolve, |s| s.note = None);
    assert_eq!(code_field(result), Some((ErrorCode::MissingField, Some("note".into()))));
    let result = try_step(&at(Stage::Handling), &police(), Action::RequestClosure, |s| s.note = None);
    assert_eq!(code_field(result), Some((ErrorCode::MissingField, Some("note".into()))));
    let result = try_step(&at(Stage::Accepted), &cadre(), Action::Acknowledge, |s| s.acknowledges.clear());
    assert_eq!(code_field(result), Some((ErrorCode::MissingField, Some("acknowledges".into()))));
    for action in [Action::Transfer, Action::Assist] {
        let result =
            try_step(&at(Stage::Accepted), &township(), action, |s| s.unit = Some("NO-SUCH-UNIT".into()));
        assert_eq!(code_field(result), Some((ErrorCode::InvalidField, Some("unit".into()))), "{action}");
        let result = try_step(&at(Stage::Accepted), &township(), action, |s| s.unit = Some(TOWNSHIP.into()));
        assert_eq!(
            code_field(result),
            Some((ErrorCode::InvalidField, Some("unit".into()))),
            "{action} to a place"
        );
    }
    // The stage machine refuses what the stage does not allow.
    let result = try_step(&at(Stage::Closed), &township(), Action::Accept, |_| {});
    assert_eq!(code_field(result), Some((ErrorCode::InvalidTransition, Some("step".into()))));
}

/// A change to a step's stated author.
type Tamper = fn(&mut StepBy);

#[test]
fn a_step_must_state_its_author_truly() {
    let dir = directory();
    let seen = at(Stage::Found);
    let tampered: [(&str, Tamper); 4] = [
        ("someone else's place", |by| by.place = Some(TOWNSHIP.into())),
        ("a higher rank", |by| by.rank = 5),
        ("another role", |by| by.role = Role::TownshipAdmin),
        ("a unit", |by| by.unit = Some(POLICE.into())),
    ];
    for (what, tamper) in tampered {
        let mut step = full_step(Action::Accept, None, StepBy::of(&cadre(), &dir));
        tamper(&mut step.by);
        let result = permit(&seen, &step, &cadre(), &dir);
        assert_eq!(code_field(result), Some((ErrorCode::Forbidden, Some("step".into()))), "{what}");
    }
    // The township's step presented by the village cadre.
    let step = full_step(Action::Accept, None, StepBy::of(&township(), &dir));
    assert_eq!(code(permit(&seen, &step, &cadre(), &dir)), Some(ErrorCode::Forbidden));
    // The author check comes before the stage check.
    let mut step = full_step(Action::Accept, None, StepBy::of(&township(), &dir));
    step.by.rank = 1;
    assert_eq!(code(permit(&at(Stage::Closed), &step, &township(), &dir)), Some(ErrorCode::Forbidden));
}
