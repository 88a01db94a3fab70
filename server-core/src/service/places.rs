//! Places and units as administrators change them: add, move, import from
//! CSV, list; and the per-device record budget that guards every change of
//! who sees what.
//!
//! Administrators (and the operator) act anywhere; county and township
//! admins only within their subtree: the place changed, its new parent, and
//! every imported row. Every change is audited (`place.add`, `place.move`,
//! `place.import`, `unit.add`, `unit.move`, `unit.import`) and bumps the
//! directory version in the same transaction; a refusal leaves nothing.
//!
//! Moving a place changes only its parent: records name places by code, so
//! no record, change or access row is touched, and who sees the records
//! follows from the directory.
//!
//! # CSV formats
//!
//! UTF-8 (a leading byte-order mark is allowed), comma-separated, one header
//! line, rows in any order (children before their parents is fine):
//!
//! ```text
//! code,name,level,parent
//! 530102,城关镇,township,5301
//! 530102001,东门村,village,530102
//! 530102001-01,东门村第一网格,grid,530102001
//! ```
//!
//! `level` is `city`, `county`, `township`, `village` or `grid` (or 市, 县,
//! 区, 乡, 镇, 街道, 村, 社区, 网格); an empty `parent` is the top of the
//! deployment. An existing code is updated (name, level, parent: a move).
//!
//! ```text
//! code,name,kind,place
//! U-530102-POLICE,城关派出所,police,530102
//! ```
//!
//! An import is all or nothing: the first problem refuses the whole file,
//! naming its line and code.

mod import;

use std::collections::BTreeSet;

use gridsync_proto::access::AccessKey;
use gridsync_proto::place::{check_code, check_name};
use gridsync_proto::{Actor, Directory, ErrorCode, Hierarchy, Level, Place, Unit};

pub use import::{ImportSummary, MAX_IMPORT_ROWS, PLACES_HEADER, UNITS_HEADER};

use super::{Caller, Service};
use crate::audit::Event;
use crate::directory;
use crate::error::{CoreError, CoreResult, Refusal};
use crate::home;
use crate::policy::{self, scope::ScopeSettings, shown};
use crate::storage::{IdentityRead, StorageExt, SyncLogRead, User, WriteTx};

/// Longest unit kind, in bytes.
pub const MAX_KIND_LEN: usize = 32;

fn refuse(code: ErrorCode, message: impl Into<String>) -> CoreError {
    CoreError::refused(code, message)
}

fn invalid(message: impl Into<String>) -> CoreError {
    CoreError::invalid(message)
}

/// Checks a unit kind: 1–32 bytes, no control characters.
pub fn check_kind(kind: &str) -> Result<(), String> {
    if kind.trim().is_empty() || kind.len() > MAX_KIND_LEN || kind.chars().any(char::is_control) {
        Err(format!("a unit kind is 1 to {MAX_KIND_LEN} bytes without control characters, e.g. police"))
    } else {
        Ok(())
    }
}

impl Service {
    /// The places `caller` may read: every place for the operator and for
    /// staff of the whole deployment; else their chain and subtree.
    pub async fn list_places(&self, caller: &Caller) -> CoreResult<Vec<Place>> {
        Ok(self.directory_view(caller, "place.list").await?.0)
    }

    /// The units `caller` may read, as [`Service::list_places`].
    pub async fn list_units(&self, caller: &Caller) -> CoreResult<Vec<Unit>> {
        Ok(self.directory_view(caller, "unit.list").await?.1)
    }

    /// The places and units `caller` may read; a refusal is audited as `action`.
    async fn directory_view(
        &self,
        caller: &Caller,
        action: &'static str,
    ) -> CoreResult<(Vec<Place>, Vec<Unit>)> {
        self.listing(caller, action, |tx, caller, cache| {
            let (_, dir) = cache.get(tx)?;
            Ok(match caller.user() {
                Some(who) => dir.view_for((!who.scope.is_empty()).then_some(who.scope.as_str())),
                None => (dir.places().cloned().collect(), dir.units().cloned().collect()),
            })
        })
        .await
    }

    /// Adds a place under an existing parent of a higher level (or at the top:
    /// no parent, or an empty one, as in the places CSV).
    pub async fn add_place(&self, caller: &Caller, mut place: Place) -> CoreResult<Place> {
        if place.parent.as_deref().is_some_and(|p| p.trim().is_empty()) {
            place.parent = None;
        }
        let (caller2, target) = (caller.clone(), place.code.clone());
        let result = self
            .storage
            .write(move |tx, now| {
                let dir = directory::load(tx)?;
                caller2.require(|who| policy::may_place_under(who, place.parent.as_deref(), &dir))?;
                add_place(tx, now, &caller2, &dir, &place)?;
                Ok(place)
            })
            .await;
        self.audited(caller, "place.add", target, result).await
    }

    /// Moves a place (with everything below it) under `parent` (`None`: the
    /// top of the deployment). Only the place's parent changes. Refused with
    /// `over_budget` when it would put more than the budget on the devices
    /// of a user who now sees the place. A move to the current parent
    /// changes nothing. Returns the place as it now is.
    pub async fn move_place(&self, caller: &Caller, code: &str, parent: Option<String>) -> CoreResult<Place> {
        let parent = parent.filter(|p| !p.trim().is_empty());
        let (caller2, code2, settings) = (caller.clone(), code.to_owned(), self.settings.scope);
        let result = self
            .storage
            .write(move |tx, now| {
                let dir = directory::load(tx)?;
                caller2.require(|who| {
                    let place_ok =
                        dir.place(&code2).is_none() || policy::may_edit_place(who, Some(&code2), &dir);
                    policy::may_administer(who)
                        && place_ok
                        && policy::may_place_under(who, parent.as_deref(), &dir)
                })?;
                move_place(tx, now, &caller2, &dir, &code2, parent.as_deref(), &settings)
            })
            .await;
        self.audited(caller, "place.move", code, result).await
    }

    /// Adds a unit at an existing place.
    pub async fn add_unit(&self, caller: &Caller, unit: Unit) -> CoreResult<Unit> {
        let (caller2, target) = (caller.clone(), unit.code.clone());
        let result = self
            .storage
            .write(move |tx, now| {
                let dir = directory::load(tx)?;
                caller2.require(|who| {
                    if dir.place(&unit.place).is_some() {
                        policy::may_edit_place(who, Some(&unit.place), &dir)
                    } else {
                        policy::may_administer(who)
                    }
                })?;
                add_unit(tx, now, &caller2, &dir, &unit)?;
                Ok(unit)
            })
            .await;
        self.audited(caller, "unit.add", target, result).await
    }

    /// Moves a unit to another place; its users' scope follows it (a
    /// department user's scope is their unit's place). Department users see
    /// by unit, not by place, so no device's budget changes.
    pub async fn move_unit(&self, caller: &Caller, code: &str, place: &str) -> CoreResult<Unit> {
        let (caller2, code2, place2) = (caller.clone(), code.to_owned(), place.to_owned());
        let result = self
            .storage
            .write(move |tx, now| {
                let dir = directory::load(tx)?;
                caller2.require(|who| {
                    let from_ok =
                        dir.unit(&code2).is_none_or(|u| policy::may_edit_place(who, Some(&u.place), &dir));
                    policy::may_administer(who)
                        && from_ok
                        && policy::may_place_under(who, Some(&place2), &dir)
                })?;
                move_unit(tx, now, &caller2, &dir, &code2, &place2)
            })
            .await;
        self.audited(caller, "unit.move", code, result).await
    }

    /// Imports a places CSV (see the module doc): adds new codes, updates
    /// existing ones. All or nothing. Staff may change only their subtree:
    /// every added or changed row must sit below a place of it, every
    /// changed place must lie in it already, and every unchanged row must
    /// lie in it.
    pub async fn import_places(&self, caller: &Caller, csv_text: String) -> CoreResult<ImportSummary> {
        let (caller2, settings) = (caller.clone(), self.settings.scope);
        let result = self
            .storage
            .write(move |tx, now| {
                caller2.require(policy::may_administer)?;
                let limit = caller2.user().and_then(policy::place_limit).map(str::to_owned);
                import::places(tx, now, &caller2, &csv_text, &settings, limit.as_deref())
            })
            .await;
        self.audited(caller, "place.import", "places", result).await
    }

    /// Imports a units CSV (see the module doc): adds new codes, updates
    /// existing ones; a unit's users follow it to its new place. All or
    /// nothing. Staff may change only their subtree: every row's place (and
    /// a changed unit's old place) must lie in it.
    pub async fn import_units(&self, caller: &Caller, csv_text: String) -> CoreResult<ImportSummary> {
        let caller2 = caller.clone();
        let result = self
            .storage
            .write(move |tx, now| {
                caller2.require(policy::may_administer)?;
                let limit = caller2.user().and_then(policy::place_limit).map(str::to_owned);
                import::units(tx, now, &caller2, &csv_text, limit.as_deref())
            })
            .await;
        self.audited(caller, "unit.import", "units", result).await
    }
}

/// Refuses a parent that is unknown or not of a higher level.
fn check_parent(dir: &Directory, code: &str, level: Level, parent: Option<&str>) -> CoreResult<()> {
    let Some(parent) = parent else { return Ok(()) };
    let Some(above) = dir.place(parent) else {
        return Err(Refusal::new(
            ErrorCode::UnknownPlace,
            format!("place {code}: its parent {} is not a known place", shown(parent)),
        )
        .field("parent")
        .into());
    };
    if !level.may_sit_under(above.level) {
        return Err(Refusal::invalid(format!(
            "place {code}: a {level} cannot sit under a {} ({parent})",
            above.level
        ))
        .field("parent")
        .into());
    }
    Ok(())
}

fn check_place_fields(place: &Place) -> CoreResult<()> {
    check_code(&place.code)
        .map_err(|e| Refusal::invalid(format!("place {}: {e}", shown(&place.code))).field("code"))?;
    check_name(&place.name)
        .map_err(|e| Refusal::invalid(format!("place {}: {e}", place.code)).field("name"))?;
    if let Some(parent) = &place.parent {
        check_code(parent).map_err(|e| {
            Refusal::invalid(format!("place {}: parent {}: {e}", place.code, shown(parent))).field("parent")
        })?;
    }
    Ok(())
}

fn check_unit_fields(unit: &Unit) -> CoreResult<()> {
    check_code(&unit.code)
        .map_err(|e| Refusal::invalid(format!("unit {}: {e}", shown(&unit.code))).field("code"))?;
    check_name(&unit.name).map_err(|e| Refusal::invalid(format!("unit {}: {e}", unit.code)).field("name"))?;
    check_kind(&unit.kind).map_err(|e| Refusal::invalid(format!("unit {}: {e}", unit.code)).field("kind"))?;
    check_code(&unit.place).map_err(|e| {
        Refusal::invalid(format!("unit {}: place {}: {e}", unit.code, shown(&unit.place))).field("place")
    })?;
    Ok(())
}

fn bump(tx: &mut dyn WriteTx) -> CoreResult<u64> {
    Ok(tx.bump_directory(crate::clock::now_micros())?)
}

fn add_place(
    tx: &mut dyn WriteTx,
    now: u64,
    caller: &Caller,
    dir: &Directory,
    place: &Place,
) -> CoreResult<()> {
    check_place_fields(place)?;
    let code = &place.code;
    if dir.place(code).is_some() {
        return Err(Refusal::invalid(format!("place {code} already exists; move it to change its parent"))
            .field("code")
            .into());
    }
    if dir.unit(code).is_some() {
        return Err(Refusal::invalid(format!("{code} is already a unit's code")).field("code").into());
    }
    check_parent(dir, code, place.level, place.parent.as_deref())?;
    tx.insert_place(place, now)?;
    let parent = place.parent.as_deref().unwrap_or("");
    let detail = format!("level={} parent={parent}", place.level);
    tx.append_audit(now, &Event::new(caller.audit_name(), "place.add", code, "ok").detail(detail))?;
    bump(tx)?;
    Ok(())
}

fn move_place(
    tx: &mut dyn WriteTx,
    now: u64,
    caller: &Caller,
    before: &Directory,
    code: &str,
    new_parent: Option<&str>,
    settings: &ScopeSettings,
) -> CoreResult<Place> {
    let Some(place) = before.place(code).cloned() else {
        return Err(refuse(ErrorCode::UnknownPlace, format!("place {} is not a known place", shown(code))));
    };
    if place.parent.as_deref() == new_parent {
        return Ok(place);
    }
    // Levels strictly rise towards the top, so no move can make a cycle.
    check_parent(before, code, place.level, new_parent)?;
    let moved = Place { parent: new_parent.map(str::to_owned), ..place.clone() };
    tx.update_place(&moved, true, now)?;
    let after = directory::load(tx)?;
    let gaining = gaining_users(tx, before, &after, [code])?;
    check_budget(tx, now, &after, &gaining, settings)?;
    let rehomed = rehome(tx, before, &after)?;
    let mut detail =
        format!("from={} to={}", place.parent.as_deref().unwrap_or(""), new_parent.unwrap_or(""));
    if rehomed > 0 {
        detail.push_str(&format!(" records_rehomed={rehomed}"));
    }
    tx.append_audit(now, &Event::new(caller.audit_name(), "place.move", code, "ok").detail(detail))?;
    bump(tx)?;
    Ok(moved)
}

fn add_unit(tx: &mut dyn WriteTx, now: u64, caller: &Caller, dir: &Directory, unit: &Unit) -> CoreResult<()> {
    check_unit_fields(unit)?;
    let code = &unit.code;
    if dir.unit(code).is_some() {
        return Err(Refusal::invalid(format!("unit {code} already exists")).field("code").into());
    }
    if dir.place(code).is_some() {
        return Err(Refusal::invalid(format!("{code} is already a place's code")).field("code").into());
    }
    if dir.place(&unit.place).is_none() {
        return Err(Refusal::new(
            ErrorCode::UnknownPlace,
            format!("unit {code}: its place {} is not a known place", shown(&unit.place)),
        )
        .field("place")
        .into());
    }
    tx.insert_unit(unit, now)?;
    let detail = format!("kind={} place={}", unit.kind, unit.place);
    tx.append_audit(now, &Event::new(caller.audit_name(), "unit.add", code, "ok").detail(detail))?;
    bump(tx)?;
    Ok(())
}

fn move_unit(
    tx: &mut dyn WriteTx,
    now: u64,
    caller: &Caller,
    dir: &Directory,
    code: &str,
    place: &str,
) -> CoreResult<Unit> {
    let Some(unit) = dir.unit(code).cloned() else {
        return Err(refuse(ErrorCode::UnknownPlace, format!("unit {} is not a known unit", shown(code))));
    };
    if dir.place(place).is_none() {
        return Err(Refusal::new(
            ErrorCode::UnknownPlace,
            format!("place {} is not a known place", shown(place)),
        )
        .field("place")
        .into());
    }
    if unit.place == place {
        return Ok(unit);
    }
    let moved = Unit { place: place.to_owned(), ..unit.clone() };
    tx.update_unit(&moved)?;
    let users = tx.move_unit_users(code, place)?;
    let detail = format!("from={} to={place} users_moved={users}", unit.place);
    tx.append_audit(now, &Event::new(caller.audit_name(), "unit.move", code, "ok").detail(detail))?;
    bump(tx)?;
    Ok(moved)
}

/// Moves the records filed under every place that a directory change moved
/// into another township to that township ([`crate::home`]); returns how
/// many moved.
pub(crate) fn rehome(tx: &mut dyn WriteTx, before: &Directory, after: &Directory) -> CoreResult<u64> {
    let mut rehomed = 0;
    for (place, township) in home::moved(before, after) {
        rehomed += tx.rehome_place(&AccessKey::Place(place).encode(), &township)?;
    }
    Ok(rehomed)
}

/// The users (active, with an enrolled device that is not revoked) who see
/// `moved` places after a change but not before: those assigned at the
/// places newly above them. Department users see by unit, so never gain.
fn gaining_users<'a>(
    tx: &mut (impl IdentityRead + ?Sized),
    before: &Directory,
    after: &Directory,
    moved: impl IntoIterator<Item = &'a str>,
) -> CoreResult<Vec<Actor>> {
    let mut gaining: BTreeSet<String> = BTreeSet::new();
    for code in moved {
        let old: BTreeSet<&str> = before.chain(code).into_iter().map(|p| p.code.as_str()).collect();
        gaining.extend(
            after.chain(code).into_iter().filter(|p| !old.contains(p.code.as_str())).map(|p| p.code.clone()),
        );
    }
    if gaining.is_empty() {
        return Ok(Vec::new());
    }
    Ok(tx
        .device_users(None)?
        .iter()
        .filter(|u| u.unit.is_none() && gaining.contains(&u.scope))
        .map(User::actor)
        .collect())
}

/// Refuses with `over_budget` when a device of one of `actors` would hold
/// more records than the budget under `dir` (the directory as it will be
/// after the change). The message gives counts, never names.
pub(crate) fn check_budget(
    tx: &mut (impl SyncLogRead + ?Sized),
    now: u64,
    dir: &Directory,
    actors: &[Actor],
    settings: &ScopeSettings,
) -> CoreResult<()> {
    let budget = u64::from(settings.budget);
    let (mut over, mut most) = (0u64, 0u64);
    for actor in actors {
        let n = crate::policy::scope::count(tx, actor, dir, settings, now)?;
        if n > budget {
            over += 1;
            most = most.max(n);
        }
    }
    if over == 0 {
        return Ok(());
    }
    Err(refuse(
        ErrorCode::OverBudget,
        format!(
            "this change would put {most} records on the devices of {over} user(s), over the per-device \
             budget of {budget} records; choose a smaller scope, or raise device_record_budget in the \
             server settings"
        ),
    ))
}
