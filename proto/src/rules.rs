//! The record rules: what each kind of record holds and who may change it.
//! The device checks every edit with them before writing it, and the
//! server checks every group of changes with them before accepting it, so
//! what one accepts the other accepts.
//!
//! The unit checked is a **group**: the changes one local write made to one
//! record, in one transaction on the device. A group is accepted or refused
//! whole, so a record is never created without the fields it needs.
//!
//! | kind | needs | who may write |
//! |---|---|---|
//! | patrol | grid, started_ms | field roles covering the grid |
//! | visit | grid, visited_ms, person_category, purpose, household or address | field roles covering the grid |
//! | daily_report | grid, worker, date, status (items when it has some) | the worker, for their own day; id fixed by worker and date |
//! | dispute | registered_at, place, source, category | registered by a field role at its own place; fields by the owner side; steps by [`crate::dispute::permit`]; notes and mediation sessions also by the handling or cooperating department |
//! | household | grid, category | field roles covering the grid |
//! | unknown kinds | a `grid` or `place` the writer covers | field roles |
//!
//! Refusals carry a stable [`ErrorCode`], the field and a reason. They name
//! rules and fields, never the values.

mod fields;
mod input;
mod kinds;

use std::fmt;

pub use input::{FieldInput, field_input};
pub use kinds::{
    DISPUTE_SOURCES, HOUSEHOLD_CATEGORIES, MEDIATION_OUTCOMES, PERSON_CATEGORIES, REPORT_STATUSES,
    VISIT_PURPOSES,
};

use crate::change::{Change, Op};
use crate::date::Date;
use crate::dispute::{self, LifeState, Lifecycle, REGISTERED_AT, STEP_ENTRY, Step, StepStatus};
use crate::error::ErrorCode;
use crate::ids::RecordId;
use crate::kind::RecordKind;
use crate::place::Hierarchy;
use crate::profile::Actor;
use crate::record::RecordState;
use crate::value::Value;
use kinds::{DERIVED_DISPUTE_FIELDS, KindSpec};

/// Why a group of changes is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    /// The stable code.
    pub code: ErrorCode,
    /// The field (or entry kind, or entry attribute) concerned.
    pub field: Option<String>,
    /// The rule broken, for people.
    pub message: String,
}

impl RuleError {
    /// A refusal.
    pub fn new(code: ErrorCode, field: Option<&str>, message: impl Into<String>) -> Self {
        Self { code, field: field.map(str::to_owned), message: message.into() }
    }
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{field}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for RuleError {}

/// The id of `worker`'s daily report for `date`: the same on every device,
/// so a worker has one report a day however many phones they file it from.
pub fn daily_report_id(worker: &str, date: Date) -> RecordId {
    RecordId::derived(&["gridsync daily report", worker, &date.to_string()])
}

/// The place a record belongs to for visibility: its `grid`, or a
/// dispute's (or unknown kind's) `place`.
pub fn record_place(state: &RecordState) -> Option<&str> {
    ["grid", "place"].into_iter().find_map(|f| match state.value(f) {
        Some(Value::Text(code)) => Some(code.as_str()),
        _ => None,
    })
}

/// Checks one group: `changes` turned `before` (none for a new record)
/// into `after`, written by `actor`.
pub fn check_group(
    before: Option<&RecordState>,
    after: &RecordState,
    changes: &[Change],
    actor: &Actor,
    dir: &dyn Hierarchy,
) -> Result<(), RuleError> {
    let is_new = before.is_none();
    if is_new && !changes.iter().any(|c| matches!(c.op, Op::Create)) {
        return Err(RuleError::new(
            ErrorCode::InvalidRecord,
            None,
            "the first changes to a record must create it",
        ));
    }
    let Some(spec) = kinds::spec(after.kind()) else { return check_unknown_kind(before, after, actor, dir) };
    if !actor.is_field_role() && !matches!(after.kind(), RecordKind::Dispute) {
        return Err(RuleError::new(ErrorCode::Forbidden, None, "this role cannot record field work"));
    }
    for change in changes {
        check_change(after.kind(), spec, before, change, dir)?;
    }
    for name in spec.required {
        if matches!(after.value(name), None | Some(Value::Null)) {
            return Err(RuleError::new(ErrorCode::MissingField, Some(name), "is required"));
        }
    }
    match after.kind() {
        RecordKind::Patrol | RecordKind::Visit | RecordKind::Household => {
            check_grid_records(before, after, actor, dir)
        }
        RecordKind::DailyReport => check_daily_report(after, actor, dir),
        RecordKind::Dispute => check_dispute(before, after, changes, actor, dir),
        RecordKind::Other(_) => Ok(()),
    }
}

/// Types, known names and fixed fields of one change.
fn check_change(
    kind: RecordKind,
    spec: &KindSpec,
    before: Option<&RecordState>,
    change: &Change,
    dir: &dyn Hierarchy,
) -> Result<(), RuleError> {
    match &change.op {
        Op::Create => Ok(()),
        Op::Set { field, value, .. } => {
            let Some(f) = spec.field(field) else {
                let hint = if kind == RecordKind::Dispute && DERIVED_DISPUTE_FIELDS.contains(&field.as_str())
                {
                    "is derived from the dispute's steps; append a step instead"
                } else {
                    "is not a field of this kind of record"
                };
                return Err(RuleError::new(ErrorCode::UnknownField, Some(field), hint));
            };
            if f.fixed
                && let Some(before) = before
            {
                let had = before.values(field);
                if had.is_empty() || had.iter().any(|fv| fv.value != *value) {
                    return Err(RuleError::new(
                        ErrorCode::InvalidField,
                        Some(field),
                        "is set when the record is created and cannot change",
                    ));
                }
            }
            if *value == Value::Null {
                return Ok(()); // clearing; required fields are checked on the result
            }
            fields::check(&f.ty, value, dir)
                .map_err(|why| RuleError::new(ErrorCode::InvalidField, Some(field), why))
        }
        Op::Append { entry, body } if entry == STEP_ENTRY && kind == RecordKind::Dispute => {
            Step::from_body(body).map(|_| ()).map_err(|e| {
                RuleError::new(ErrorCode::InvalidField, Some(&format!("{STEP_ENTRY}.{}", e.attr)), e.reason)
            })
        }
        Op::Append { entry, body } => {
            let Some(e) = spec.entry(entry) else {
                return Err(RuleError::new(
                    ErrorCode::UnknownField,
                    Some(entry),
                    "is not an entry of this kind of record",
                ));
            };
            fields::check_attrs(e.attrs, body, dir).map_err(|(attr, why)| {
                RuleError::new(
                    ErrorCode::InvalidField,
                    Some(&format!("{entry}.{}", attr.unwrap_or_default())),
                    why,
                )
            })
        }
    }
}

fn text<'a>(state: &'a RecordState, field: &str) -> Option<&'a str> {
    match state.value(field) {
        Some(Value::Text(t)) => Some(t),
        _ => None,
    }
}

fn out_of_scope(field: &str) -> RuleError {
    RuleError::new(ErrorCode::OutOfScope, Some(field), "names a place outside the user's assignment")
}

/// Patrols, visits and base information: the writer covers the grid, before and after.
fn check_grid_records(
    before: Option<&RecordState>,
    after: &RecordState,
    actor: &Actor,
    dir: &dyn Hierarchy,
) -> Result<(), RuleError> {
    for state in before.into_iter().chain([after]) {
        let grid = text(state, "grid").ok_or_else(|| out_of_scope("grid"))?;
        if !actor.covers(dir, grid) {
            return Err(out_of_scope("grid"));
        }
    }
    if after.kind() == RecordKind::Visit
        && text(after, "household").is_none()
        && text(after, "address").is_none()
    {
        return Err(RuleError::new(
            ErrorCode::MissingField,
            Some("household"),
            "name the household or the address",
        ));
    }
    if after.kind() == RecordKind::Patrol
        && let (Some(Value::Int(start)), Some(Value::Int(end))) =
            (after.value("started_ms"), after.value("ended_ms"))
        && end < start
    {
        return Err(RuleError::new(
            ErrorCode::InvalidField,
            Some("ended_ms"),
            "a patrol ends after it starts",
        ));
    }
    Ok(())
}

/// A daily report: the worker's own, for their grid, under its fixed id.
fn check_daily_report(after: &RecordState, actor: &Actor, dir: &dyn Hierarchy) -> Result<(), RuleError> {
    let worker = text(after, "worker").unwrap_or_default();
    if worker != actor.user {
        return Err(RuleError::new(
            ErrorCode::Forbidden,
            Some("worker"),
            "a worker files only their own daily report",
        ));
    }
    let grid = text(after, "grid").unwrap_or_default();
    if !actor.covers(dir, grid) {
        return Err(out_of_scope("grid"));
    }
    let date: Date = text(after, "date")
        .and_then(|d| d.parse().ok())
        .ok_or_else(|| RuleError::new(ErrorCode::InvalidField, Some("date"), "must be a date, YYYY-MM-DD"))?;
    if after.id() != daily_report_id(worker, date) {
        return Err(RuleError::new(
            ErrorCode::InvalidRecord,
            None,
            "a daily report's id is fixed by its worker and date (one report a day)",
        ));
    }
    let has_items = text(after, "status") == Some("has_items");
    let items = matches!(after.value("items"), Some(Value::List(l)) if !l.is_empty());
    if has_items && !items {
        return Err(RuleError::new(ErrorCode::MissingField, Some("items"), "a report with items names them"));
    }
    Ok(())
}

/// A dispute: registration at the writer's own place, fields by the owner
/// side, steps by the lifecycle rules, notes and sessions also by the
/// departments working on it.
fn check_dispute(
    before: Option<&RecordState>,
    after: &RecordState,
    changes: &[Change],
    actor: &Actor,
    dir: &dyn Hierarchy,
) -> Result<(), RuleError> {
    let registered = text(after, REGISTERED_AT).unwrap_or_default().to_owned();
    if before.is_none() && (!actor.is_field_role() || actor.place.as_deref() != Some(registered.as_str())) {
        return Err(RuleError::new(
            ErrorCode::Forbidden,
            Some(REGISTERED_AT),
            "a dispute is registered by a field role at their own place",
        ));
    }
    let now = before.and_then(Lifecycle::of).map_or_else(|| LifeState::registered(&registered), |l| l.state);
    let owner_side = dispute::owner_side(&now, actor, dir);
    let department = actor.role == crate::auth::Role::Department
        && actor
            .unit
            .as_ref()
            .is_some_and(|u| now.handler.as_ref() == Some(u) || now.cooperating.contains(u));
    let lifecycle = Lifecycle::of(after);
    for change in changes {
        match &change.op {
            Op::Create => {}
            Op::Set { field, value, .. } => {
                if !owner_side {
                    return Err(RuleError::new(
                        ErrorCode::Forbidden,
                        Some(field),
                        "only the dispute's owner or a level above it may change its fields",
                    ));
                }
                if field == "place"
                    && let Value::Text(place) = value
                    && !actor.covers(dir, place)
                {
                    return Err(out_of_scope("place"));
                }
            }
            Op::Append { entry, .. } if entry == STEP_ENTRY => {
                let lifecycle = lifecycle.as_ref().ok_or_else(|| {
                    RuleError::new(ErrorCode::InvalidRecord, None, "a dispute's steps need its registration")
                })?;
                check_new_step(lifecycle, &registered, change, actor, dir)?;
            }
            Op::Append { entry, .. } => {
                if !owner_side && !department {
                    return Err(RuleError::new(
                        ErrorCode::Forbidden,
                        Some(entry),
                        "only the dispute's owner side or its departments may add to it",
                    ));
                }
            }
        }
    }
    Ok(())
}

/// A new step: judged against the state its author saw.
///
/// An applied step is judged against the state it applied to, and if that
/// refuses it, against the state along its parent chain: an annotation made
/// without seeing a concurrent stage change (the township took the dispute
/// over while the village sent an assistance letter) applies all the same,
/// and is accepted whichever of the two reaches the server first.
fn check_new_step(
    lifecycle: &Lifecycle,
    registered: &str,
    change: &Change,
    actor: &Actor,
    dir: &dyn Hierarchy,
) -> Result<(), RuleError> {
    let record = lifecycle
        .step(change.dot)
        .ok_or_else(|| RuleError::new(ErrorCode::InvalidField, Some(STEP_ENTRY), "the step does not read"))?;
    let author_saw = || {
        lifecycle.seen_by(&LifeState::registered(registered), change.dot).ok_or_else(|| {
            RuleError::new(ErrorCode::InvalidTransition, Some(STEP_ENTRY), "follows an unknown step")
        })
    };
    let seen = match (record.status, &record.before) {
        (StepStatus::Applied, Some(before)) => match dispute::permit(before, &record.step, actor, dir) {
            Ok(()) => return Ok(()),
            Err(_) => author_saw()?,
        },
        (StepStatus::Overridden, _) => author_saw()?,
        _ => {
            return Err(RuleError::new(
                ErrorCode::InvalidTransition,
                Some(STEP_ENTRY),
                "follows a step that has not been received",
            ));
        }
    };
    dispute::permit(&seen, &record.step, actor, dir)
}

/// A kind this build does not know: kept as it is, written only by field
/// roles covering its place, before and after (like grid records).
fn check_unknown_kind(
    before: Option<&RecordState>,
    after: &RecordState,
    actor: &Actor,
    dir: &dyn Hierarchy,
) -> Result<(), RuleError> {
    if !actor.is_field_role() {
        return Err(RuleError::new(ErrorCode::Forbidden, None, "this role cannot record field work"));
    }
    if let Some(place) = before.and_then(record_place)
        && !actor.covers(dir, place)
    {
        return Err(out_of_scope("place"));
    }
    match record_place(after) {
        Some(place) if actor.covers(dir, place) => Ok(()),
        Some(_) => Err(out_of_scope("place")),
        None if actor.place.is_none() => Ok(()),
        None => Err(RuleError::new(
            ErrorCode::MissingField,
            Some("grid"),
            "a record of a kind this server does not know needs a grid or place",
        )),
    }
}
