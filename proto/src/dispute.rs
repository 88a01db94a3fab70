//! The dispute lifecycle (矛盾纠纷排查调处): found → accepted → mediating →
//! resolved → followed up → closed, with escalation one level up at a
//! time, transfer to a department and back (双向流转), and the letters that
//! go with them.
//!
//! A dispute's stage, owner, handling department and cooperating
//! departments are never fields that anyone sets: they are folded from the
//! append-only `step` entries ([`Lifecycle`]), so history is never edited or
//! deleted and two offline steps that clash merge to one deterministic
//! state, with the overridden step kept and flagged.
//!
//! | step | from | to | who |
//! |---|---|---|---|
//! | accept | found | accepted | owner side |
//! | mediate | found, accepted | mediating | owner side |
//! | resolve | found, accepted, mediating | resolved | owner side |
//! | follow_up | resolved, followed up | followed up | owner side |
//! | close | resolved, followed up | closed | a centre (township or above) on the owner side |
//! | escalate | found, accepted, mediating | accepted, owner := the place above | owner side |
//! | transfer | accepted, mediating | transferred, handler := unit | a centre on the owner side |
//! | accept_transfer | transferred | handling | the handling department |
//! | return | transferred | accepted (handler cleared) | the handling department |
//! | return | closure requested | handling | a centre on the owner side |
//! | request_closure | handling | closure requested | the handling department |
//! | confirm_closure | closure requested | closed | a centre on the owner side |
//! | assist | any open stage | (cooperating += unit) | owner side |
//! | remind | any open stage | — | a handling or cooperating department |
//! | acknowledge | any | (clears flags) | owner side |
//!
//! "Owner side" is a field role (worker or administrator) at the owning
//! place or above it: the township may act on a village's dispute.

mod lifecycle;
mod step;

pub use lifecycle::{LifeState, Lifecycle, REGISTERED_AT, StepRecord, StepStatus};
pub use step::{Action, BadStep, LetterType, MAX_NOTE_CHARS, STEP_ENTRY, Stage, Step, StepBy};

use crate::auth::Role;
use crate::error::ErrorCode;
use crate::place::Hierarchy;
use crate::profile::Actor;
use crate::rules::RuleError;

impl StepBy {
    /// The author details of a step taken by `actor`.
    pub fn of(actor: &Actor, dir: &dyn Hierarchy) -> Self {
        Self { role: actor.role, place: actor.place.clone(), unit: actor.unit.clone(), rank: actor.rank(dir) }
    }
}

/// Whether `actor` is on the owner side of a dispute in state `state`: a
/// field role (worker or administrator) at the owning place or above it.
/// The owner side changes the dispute's fields and takes its own steps.
pub fn owner_side(state: &LifeState, actor: &Actor, dir: &dyn Hierarchy) -> bool {
    actor.is_field_role() && dir.is_within(&state.owner, actor.place.as_deref())
}

/// The places a dispute owned by `owner` may be escalated to: the place
/// directly above the owner, one level at a time (none at the top). Steps
/// naming another place are refused ([`permit`]); forms offer these.
pub fn escalation_targets(owner: &str, dir: &dyn Hierarchy) -> Vec<String> {
    dir.parent(owner).map(str::to_owned).into_iter().collect()
}

/// Checks that the stage of a dispute in state `seen` allows `action` and
/// that `actor` stands where `action` needs (the table above), whatever
/// the step's details: what a form may offer. [`permit`] checks a whole
/// step.
pub fn may_take(
    seen: &LifeState,
    action: Action,
    actor: &Actor,
    dir: &dyn Hierarchy,
) -> Result<(), RuleError> {
    let step_field = Some(STEP_ENTRY);
    if !seen.allows(action) {
        return Err(RuleError::new(
            ErrorCode::InvalidTransition,
            step_field,
            "the dispute's stage does not allow this step",
        ));
    }
    let owner_side = owner_side(seen, actor, dir);
    let centre = owner_side && actor.at_centre(dir);
    let department = |unit: Option<&String>| {
        actor.role == Role::Department && actor.unit.is_some() && actor.unit.as_ref() == unit
    };
    let handler = department(seen.handler.as_ref());
    let cooperating =
        actor.role == Role::Department && actor.unit.as_ref().is_some_and(|u| seen.cooperating.contains(u));
    let (allowed, who) = match action {
        Action::Accept
        | Action::Mediate
        | Action::Resolve
        | Action::FollowUp
        | Action::Escalate
        | Action::Assist
        | Action::Acknowledge => (owner_side, "the dispute's owner or a level above it"),
        Action::Close | Action::Transfer | Action::ConfirmClosure => {
            (centre, "a governance centre (township or above) at or above the owner")
        }
        Action::Return if seen.stage == Stage::ClosureRequested => {
            (centre, "a governance centre (township or above) at or above the owner")
        }
        Action::Return | Action::AcceptTransfer | Action::RequestClosure => {
            (handler, "the department the dispute was transferred to")
        }
        Action::Remind => (handler || cooperating, "a department handling or cooperating on the dispute"),
    };
    if !allowed {
        return Err(RuleError::new(ErrorCode::Forbidden, step_field, format!("only {who} may {action}")));
    }
    Ok(())
}

/// Checks that `actor` may take `step` on a dispute they saw in state
/// `seen`: the step states its author truly, the stage machine allows it,
/// the actor stands where the step needs ([`may_take`]), and its details
/// are right.
pub fn permit(seen: &LifeState, step: &Step, actor: &Actor, dir: &dyn Hierarchy) -> Result<(), RuleError> {
    let step_field = Some(STEP_ENTRY);
    if step.by != StepBy::of(actor, dir) {
        return Err(RuleError::new(
            ErrorCode::Forbidden,
            step_field,
            "the step's author details do not match the user's role and assignment",
        ));
    }
    seen.after(step).map_err(|why| RuleError::new(ErrorCode::InvalidTransition, step_field, why))?;
    may_take(seen, step.action, actor, dir)?;
    match step.action {
        Action::Escalate => {
            let targets = escalation_targets(&seen.owner, dir);
            if targets.is_empty() {
                return Err(RuleError::new(
                    ErrorCode::InvalidTransition,
                    Some("to"),
                    "the owner has no place above it to escalate to",
                ));
            }
            if !step.to.as_ref().is_some_and(|to| targets.contains(to)) {
                return Err(RuleError::new(
                    ErrorCode::InvalidField,
                    Some("to"),
                    "an escalation goes to the place directly above the current owner",
                ));
            }
        }
        Action::Transfer | Action::Assist => {
            let known = step.unit.as_deref().and_then(|u| dir.unit(u)).is_some();
            if !known {
                return Err(RuleError::new(ErrorCode::InvalidField, Some("unit"), "names no known unit"));
            }
        }
        Action::Remind if step.unit != actor.unit => {
            return Err(RuleError::new(
                ErrorCode::InvalidField,
                Some("unit"),
                "a reminder names the sending unit",
            ));
        }
        Action::Resolve | Action::RequestClosure if step.note.is_none() => {
            return Err(RuleError::new(
                ErrorCode::MissingField,
                Some("note"),
                "say how the dispute was settled",
            ));
        }
        Action::Acknowledge if step.acknowledges.is_empty() => {
            return Err(RuleError::new(
                ErrorCode::MissingField,
                Some("acknowledges"),
                "name the overridden steps acknowledged",
            ));
        }
        _ => {}
    }
    Ok(())
}
