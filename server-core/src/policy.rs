//! Who may do what: the rules every operation checks before it touches
//! storage, shared by the HTTP API and the operator's command line.
//!
//! A user's scope is a place code ('' for the whole deployment), and
//! "within" follows the place hierarchy ([`Directory`]), never the shape of
//! codes: a grid moved to another village keeps its code and from then on
//! lies within the new village only.
//!
//! | role | manages users of roles | manages places and units |
//! |---|---|---|
//! | administrator | every role, everywhere | everywhere |
//! | county admin | township admin, department, auditor, worker, within its subtree | within its subtree |
//! | township admin | department, worker, within its subtree | within its subtree |
//! | department, auditor, worker | none | none |
//!
//! Administrators, county and township admins and auditors read users,
//! devices, places and units within their subtree; only auditors and
//! administrators check the audit log. The dispute desk lists disputes for
//! every reader; a dispute's details (parties, names) and the desk's writes
//! are for the roles that own disputes ([`sees_party_names`],
//! [`may_handle_disputes`]).

pub mod scope;

use gridsync_proto::{Directory, ErrorCode, Hierarchy, Level, Role};

use crate::error::{CoreError, Refusal};
use crate::storage::User;

/// Whether `scope` lies within `ancestor` in `dir` (equal or below it). The
/// empty ancestor is the whole deployment and contains every scope, the
/// empty one too; the empty scope lies within nothing else; a code that is
/// not a known place lies within the whole deployment only.
pub fn within(dir: &Directory, scope: &str, ancestor: &str) -> bool {
    ancestor.is_empty() || (!scope.is_empty() && dir.is_within(scope, Some(ancestor)))
}

/// Whether `actor` may create, assign, deactivate or enroll for a user with
/// `role` in `scope`, or revoke such a user's devices.
pub fn may_manage(actor: &User, role: Role, scope: &str, dir: &Directory) -> bool {
    let allowed_roles: &[Role] = match actor.role {
        Role::Administrator => return true,
        Role::CountyAdmin => &[Role::TownshipAdmin, Role::Department, Role::Auditor, Role::Worker],
        Role::TownshipAdmin => &[Role::Department, Role::Worker],
        Role::Department | Role::Auditor | Role::Worker => &[],
    };
    allowed_roles.contains(&role) && within(dir, scope, &actor.scope)
}

/// Whether `actor`'s role administers at all: users, devices, places and
/// units (each within its subtree, see [`may_manage`] and [`may_edit_place`]).
pub fn may_administer(actor: &User) -> bool {
    matches!(actor.role, Role::Administrator | Role::CountyAdmin | Role::TownshipAdmin)
}

/// The subtree within which `actor` may change places and units: `None` for
/// anywhere (administrators, and admins of the whole deployment). Only
/// meaningful when [`may_administer`].
pub fn place_limit(actor: &User) -> Option<&str> {
    (actor.role != Role::Administrator && !actor.scope.is_empty()).then_some(actor.scope.as_str())
}

/// Whether `actor` may change the place `code`, or add or move places (and
/// units) directly below it. `None` is the top of the deployment, which
/// only those who may act anywhere may change.
pub fn may_edit_place(actor: &User, code: Option<&str>, dir: &Directory) -> bool {
    may_administer(actor)
        && match (place_limit(actor), code) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(limit), Some(code)) => within(dir, code, limit),
        }
}

/// Whether `actor` may list users and devices (within its subtree).
pub fn may_read(actor: &User) -> bool {
    matches!(actor.role, Role::Administrator | Role::CountyAdmin | Role::TownshipAdmin | Role::Auditor)
}

/// Whether a reader with `role` sees the names of the parties to disputes
/// (and the free-text summaries that name them) in the ledgers and their
/// exports: the roles that own and handle disputes at a centre
/// (administrators, county and township admins). Auditors, departments and
/// workers see names masked (张*). No role sees identity-card or phone
/// numbers in a ledger ([`crate::ledger::mask`]).
pub fn sees_party_names(role: Role) -> bool {
    matches!(role, Role::Administrator | Role::CountyAdmin | Role::TownshipAdmin)
}

/// Whether `actor` may lock a month's ledgers (within its subtree): the
/// county centres and administrators, whose monthly dispatch (月调度) the
/// locked figures are. Township admins read locked months but do not lock.
pub fn may_lock_months(actor: &User) -> bool {
    matches!(actor.role, Role::Administrator | Role::CountyAdmin)
}

/// Whether `actor` may act on disputes from the admin desk (resolve a
/// field's conflict, take a lifecycle step): the roles that own disputes at
/// a centre (administrators, county and township admins). The record rules
/// ([`gridsync_proto::check_group`]) then decide, as for a handset, whether
/// this user may make this change to this dispute (owner side, centre).
pub fn may_handle_disputes(actor: &User) -> bool {
    matches!(actor.role, Role::Administrator | Role::CountyAdmin | Role::TownshipAdmin)
}

/// Whether `actor` may check the audit log.
pub fn may_audit(actor: &User) -> bool {
    matches!(actor.role, Role::Administrator | Role::Auditor)
}

/// Whether `who` may add or move a place (or unit) under `parent`. An
/// unknown parent passes here for an administering role, so the operation
/// answers `unknown_place`.
pub fn may_place_under(who: &User, parent: Option<&str>, dir: &Directory) -> bool {
    match parent {
        Some(p) if dir.place(p).is_none() => may_administer(who),
        parent => may_edit_place(who, parent, dir),
    }
}

/// The scope a user with `role` gets when assigned to `scope` and `unit`:
/// a department user must have a known unit and gets its place (a `scope`
/// given too must be that place); other roles must have no unit and a
/// `scope` that is '' or a known place.
pub fn resolve_assignment(
    dir: &Directory,
    role: Role,
    scope: &str,
    unit: Option<&str>,
) -> Result<String, CoreError> {
    match (role, unit) {
        (Role::Department, None) => Err(Refusal::new(
            ErrorCode::MissingField,
            "a department user belongs to a unit: give the unit's code",
        )
        .field("unit")
        .into()),
        (Role::Department, Some(unit)) => {
            let place = dir.unit(unit).map(|u| u.place.clone()).ok_or_else(|| {
                Refusal::new(
                    ErrorCode::UnknownPlace,
                    format!("unit {} is not a known unit; add it first", shown(unit)),
                )
                .field("unit")
            })?;
            if !scope.is_empty() && scope != place {
                return Err(Refusal::invalid(format!(
                    "a department user's scope is their unit's place ({place}); leave the scope out"
                ))
                .field("scope")
                .into());
            }
            Ok(place)
        }
        (_, Some(_)) => Err(Refusal::invalid("only department users belong to a unit").field("unit").into()),
        (_, None) if scope.is_empty() => Ok(String::new()),
        (_, None) if dir.place(scope).is_some() => Ok(scope.to_owned()),
        (_, None) => Err(Refusal::new(
            ErrorCode::UnknownPlace,
            format!("scope {} is not a known place; add the place first", shown(scope)),
        )
        .field("scope")
        .into()),
    }
}

/// Whether a user with `role` may work at `scope` (a place [`resolve_assignment`]
/// accepted): a worker works in the field, at a grid (网格员) or, for a
/// village committee's cadres, at a village, whose grids' disputes they take
/// over; never at a township or above, nor over the whole deployment, where
/// no daily report or patrol could name their grid. Other roles may work
/// anywhere. Refused with `invalid_request` on the field `scope`.
pub fn check_field_place(dir: &Directory, role: Role, scope: &str) -> Result<(), CoreError> {
    if role != Role::Worker {
        return Ok(());
    }
    let level = dir.level(scope);
    if matches!(level, Some(Level::Grid | Level::Village)) {
        return Ok(());
    }
    let what = match level {
        Some(level) => format!("{} is a {level}", shown(scope)),
        None => "an empty scope is the whole deployment".to_owned(),
    };
    Err(Refusal::invalid(format!(
        "a worker's scope is a grid (or a village, for a village committee): {what}; \
         give a grid's code, or a staff role (township_admin, county_admin) for a centre"
    ))
    .field("scope")
    .into())
}

/// A code as it may appear in a message: itself when valid, else escaped
/// and cut short.
pub fn shown(code: &str) -> String {
    if gridsync_proto::place::check_code(code).is_ok() {
        code.to_owned()
    } else {
        let cut: String = code.chars().take(40).collect();
        format!("{cut:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use gridsync_proto::{Level, Place};

    use crate::storage::User;

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

    fn place(code: &str, level: Level, parent: Option<&str>) -> Place {
        Place { code: code.into(), name: format!("{code} 名"), level, parent: parent.map(Into::into) }
    }

    /// County 5301; townships 530102 and 5301021 (a sibling whose code
    /// shares a prefix); a grid 530102-9 filed under the second township.
    fn sample() -> Directory {
        Directory::new(
            [
                place("5301", Level::County, None),
                place("530102", Level::Township, Some("5301")),
                place("5301021", Level::Township, Some("5301")),
                place("530102001", Level::Village, Some("530102")),
                place("530102001-1", Level::Grid, Some("530102001")),
                place("530102-9", Level::Grid, Some("5301021")),
            ],
            [],
        )
    }

    #[test]
    fn workers_work_at_a_grid_or_a_village_only() {
        let dir = sample();
        assert!(check_field_place(&dir, Role::Worker, "530102001-1").is_ok());
        assert!(check_field_place(&dir, Role::Worker, "530102001").is_ok(), "a village's cadre");
        for scope in ["530102", "5301", ""] {
            let Err(CoreError::Refused(refusal)) = check_field_place(&dir, Role::Worker, scope) else {
                panic!("a worker at {scope:?} is refused")
            };
            assert_eq!((refusal.code, refusal.field.as_deref()), (ErrorCode::InvalidRequest, Some("scope")));
            assert!(refusal.message.contains("a grid"), "{}", refusal.message);
        }
        assert!(check_field_place(&dir, Role::TownshipAdmin, "530102").is_ok());
        assert!(check_field_place(&dir, Role::Administrator, "").is_ok());
    }

    #[test]
    fn within_follows_the_hierarchy_not_code_prefixes() {
        let dir = sample();
        assert!(within(&dir, "530102001-1", "530102"));
        assert!(within(&dir, "530102", "530102"));
        assert!(within(&dir, "530102", "") && within(&dir, "", ""));
        assert!(!within(&dir, "5301021", "530102"), "a sibling whose code shares a prefix");
        assert!(!within(&dir, "530102-9", "530102"), "a code that looks like a descendant");
        assert!(!within(&dir, "5301", "530102") && !within(&dir, "", "530102"));
        assert!(!within(&dir, "530102001-1.x", "530102"), "an unknown place");
    }

    #[test]
    fn roles_manage_only_below_themselves_and_within_their_subtree() {
        let dir = sample();
        let township = user(Role::TownshipAdmin, "530102");
        assert!(may_manage(&township, Role::Worker, "530102001-1", &dir));
        assert!(!may_manage(&township, Role::Worker, "530102-9", &dir));
        assert!(!may_manage(&township, Role::Administrator, "530102", &dir));
        assert!(!may_manage(&township, Role::TownshipAdmin, "530102", &dir));
        let county = user(Role::CountyAdmin, "5301");
        assert!(may_manage(&county, Role::TownshipAdmin, "5301021", &dir));
        assert!(!may_manage(&county, Role::CountyAdmin, "5301", &dir));
        assert!(!may_manage(&county, Role::Worker, "", &dir), "the whole deployment is above the county");
        assert!(may_manage(&user(Role::Administrator, ""), Role::Administrator, "", &dir));
        let auditor = user(Role::Auditor, "");
        assert!(
            !may_manage(&auditor, Role::Worker, "5301", &dir) && may_read(&auditor) && may_audit(&auditor)
        );
        assert!(!may_read(&user(Role::Worker, "5301")));
    }

    #[test]
    fn places_are_edited_within_the_subtree() {
        let dir = sample();
        let township = user(Role::TownshipAdmin, "530102");
        assert!(may_edit_place(&township, Some("530102001"), &dir));
        assert!(may_edit_place(&township, Some("530102"), &dir));
        assert!(!may_edit_place(&township, Some("5301"), &dir) && !may_edit_place(&township, None, &dir));
        assert!(!may_edit_place(&township, Some("530102-9"), &dir));
        assert_eq!(place_limit(&township), Some("530102"));
        let root = user(Role::Administrator, "");
        assert!(may_edit_place(&root, None, &dir) && place_limit(&root).is_none());
        assert!(!may_edit_place(&user(Role::Auditor, ""), Some("530102"), &dir));
        assert!(!may_edit_place(&user(Role::Worker, "530102"), Some("530102001"), &dir));
    }
}
