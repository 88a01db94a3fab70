//! Places and units as administrators change them: add, move, import from
//! CSV, list; and the per-device record budget that guards every change of
//! who sees what.
//!
//! Like [`crate::identity`], every function takes the connection of a
//! transaction, the current time and the audit actor, so the admin API and
//! the operator's command line share one implementation. Every change is
//! audited (`place.add`, `place.move`, `place.import`, `unit.add`,
//! `unit.move`, `unit.import`) and bumps the directory version ([`directory::bump`]) in
//! the same transaction; a refusal returns an error and the caller rolls
//! the whole transaction back.
//!
//! Moving a place changes only its `parent` (and `moved_ms`): records name
//! places by code, so nothing in `records`, `changes` or `record_access` is
//! touched, and who sees the records follows from the directory.
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

use std::collections::BTreeSet;
use std::str::FromStr;

use gridsync_proto::place::{check_code, check_name};
use gridsync_proto::{Actor, Directory, ErrorCode, Hierarchy, Level, Place, Role, Unit};
use rusqlite::{Connection, params};

use crate::audit::{self, Event};
use crate::db::WriteError;
use crate::directory;
use crate::error::ApiError;
use crate::scope::{self, ScopeSettings};

mod import;

pub use import::{
    ImportSummary, MAX_IMPORT_ROWS, PLACES_HEADER, UNITS_HEADER, import_places_csv, import_places_csv_within,
    import_units_csv, import_units_csv_within,
};

/// Longest unit kind, in bytes.
pub const MAX_KIND_LEN: usize = 32;

pub(crate) fn refuse(code: ErrorCode, message: impl Into<String>) -> WriteError {
    WriteError::Refused(ApiError::new(code, message))
}

fn invalid(message: impl Into<String>) -> WriteError {
    refuse(ErrorCode::InvalidRequest, message)
}

/// A code as it may appear in a message: itself when valid, else escaped
/// and cut short.
pub(crate) fn shown(code: &str) -> String {
    if check_code(code).is_ok() {
        code.to_owned()
    } else {
        let cut: String = code.chars().take(40).collect();
        format!("{cut:?}")
    }
}

/// Reads a level: its English name (any case) or a Chinese one.
pub fn parse_level(text: &str) -> Result<Level, String> {
    match text.trim() {
        "市" => Ok(Level::City),
        "县" | "区" | "县区" => Ok(Level::County),
        "乡" | "镇" | "乡镇" | "街道" => Ok(Level::Township),
        "村" | "社区" => Ok(Level::Village),
        "网格" => Ok(Level::Grid),
        other => Level::from_str(&other.to_ascii_lowercase()),
    }
}

/// Checks a unit kind: 1–32 bytes, no control characters.
pub fn check_kind(kind: &str) -> Result<(), String> {
    if kind.trim().is_empty() || kind.len() > MAX_KIND_LEN || kind.chars().any(char::is_control) {
        Err(format!("a unit kind is 1 to {MAX_KIND_LEN} bytes without control characters, e.g. police"))
    } else {
        Ok(())
    }
}

/// Every place, by code.
pub fn list_places(conn: &Connection) -> Result<Vec<Place>, WriteError> {
    Ok(directory::load(conn)?.places().cloned().collect())
}

/// Every unit, by code.
pub fn list_units(conn: &Connection) -> Result<Vec<Unit>, WriteError> {
    Ok(directory::load(conn)?.units().cloned().collect())
}

/// Refuses a parent that is unknown or not of a higher level.
fn check_parent(dir: &Directory, code: &str, level: Level, parent: Option<&str>) -> Result<(), WriteError> {
    let Some(parent) = parent else { return Ok(()) };
    let Some(above) = dir.place(parent) else {
        return Err(refuse(
            ErrorCode::UnknownPlace,
            format!("place {code}: its parent {} is not a known place", shown(parent)),
        ));
    };
    if !level.may_sit_under(above.level) {
        return Err(invalid(format!(
            "place {code}: a {level} cannot sit under a {} ({parent})",
            above.level
        )));
    }
    Ok(())
}

fn check_place_fields(place: &Place) -> Result<(), WriteError> {
    check_code(&place.code).map_err(|e| invalid(format!("place {}: {e}", shown(&place.code))))?;
    check_name(&place.name).map_err(|e| invalid(format!("place {}: {e}", place.code)))?;
    if let Some(parent) = &place.parent {
        check_code(parent)
            .map_err(|e| invalid(format!("place {}: parent {}: {e}", place.code, shown(parent))))?;
    }
    Ok(())
}

/// Adds a place under an existing parent of a higher level (or at the top).
pub fn add_place(conn: &Connection, now: u64, actor: &str, place: &Place) -> Result<(), WriteError> {
    check_place_fields(place)?;
    let dir = directory::load(conn)?;
    let code = &place.code;
    if dir.place(code).is_some() {
        return Err(invalid(format!("place {code} already exists; move it to change its parent")));
    }
    if dir.unit(code).is_some() {
        return Err(invalid(format!("{code} is already a unit's code")));
    }
    check_parent(&dir, code, place.level, place.parent.as_deref())?;
    insert_place(conn, now, place)?;
    let parent = place.parent.as_deref().unwrap_or("");
    let detail = format!("level={} parent={parent}", place.level);
    audit::append(conn, now, &Event::new(actor, "place.add", code, "ok").detail(detail))?;
    directory::bump(conn)?;
    Ok(())
}

fn insert_place(conn: &Connection, now: u64, place: &Place) -> Result<(), WriteError> {
    conn.prepare_cached(
        "INSERT INTO places (code, name, level, parent, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![place.code, place.name, place.level.name(), place.parent, now as i64])?;
    Ok(())
}

/// Moves a place (with everything below it) under `new_parent` (`None`: the
/// top of the deployment). Only the place's `parent` changes. Refused with
/// [`ErrorCode::OverBudget`] when it would put more than the budget on the
/// devices of a user who now sees the place. A move to the current parent
/// changes nothing. Returns the place as it now is.
pub fn move_place(
    conn: &Connection,
    now: u64,
    actor: &str,
    code: &str,
    new_parent: Option<&str>,
    settings: &ScopeSettings,
) -> Result<Place, WriteError> {
    let before = directory::load(conn)?;
    let Some(place) = before.place(code).cloned() else {
        return Err(refuse(ErrorCode::UnknownPlace, format!("place {} is not a known place", shown(code))));
    };
    if place.parent.as_deref() == new_parent {
        return Ok(place);
    }
    // Levels strictly rise towards the top, so no move can make a cycle.
    check_parent(&before, code, place.level, new_parent)?;
    conn.prepare_cached("UPDATE places SET parent = ?2, moved_ms = ?3 WHERE code = ?1")?
        .execute(params![code, new_parent, now as i64])?;
    let after = directory::load(conn)?;
    check_budget(conn, now, &after, &gaining_users(conn, &before, &after, [code])?, settings)?;
    let detail = format!("from={} to={}", place.parent.as_deref().unwrap_or(""), new_parent.unwrap_or(""));
    audit::append(conn, now, &Event::new(actor, "place.move", code, "ok").detail(detail))?;
    directory::bump(conn)?;
    Ok(Place { parent: new_parent.map(str::to_owned), ..place })
}

/// Adds a unit at an existing place.
pub fn add_unit(conn: &Connection, now: u64, actor: &str, unit: &Unit) -> Result<(), WriteError> {
    check_unit_fields(unit)?;
    let dir = directory::load(conn)?;
    let code = &unit.code;
    if dir.unit(code).is_some() {
        return Err(invalid(format!("unit {code} already exists")));
    }
    if dir.place(code).is_some() {
        return Err(invalid(format!("{code} is already a place's code")));
    }
    if dir.place(&unit.place).is_none() {
        return Err(refuse(
            ErrorCode::UnknownPlace,
            format!("unit {code}: its place {} is not a known place", unit.place),
        ));
    }
    insert_unit(conn, now, unit)?;
    let detail = format!("kind={} place={}", unit.kind, unit.place);
    audit::append(conn, now, &Event::new(actor, "unit.add", code, "ok").detail(detail))?;
    directory::bump(conn)?;
    Ok(())
}

/// Moves a unit to another place; its users' scope follows it (a
/// department user's scope is their unit's place). Department users see by
/// unit, not by place, so no device's budget changes.
pub fn move_unit(
    conn: &Connection,
    now: u64,
    actor: &str,
    code: &str,
    place: &str,
) -> Result<Unit, WriteError> {
    let dir = directory::load(conn)?;
    let Some(unit) = dir.unit(code).cloned() else {
        return Err(refuse(ErrorCode::UnknownPlace, format!("unit {} is not a known unit", shown(code))));
    };
    if dir.place(place).is_none() {
        return Err(refuse(ErrorCode::UnknownPlace, format!("place {} is not a known place", shown(place))));
    }
    if unit.place == place {
        return Ok(unit);
    }
    conn.prepare_cached("UPDATE units SET place = ?2 WHERE code = ?1")?.execute(params![code, place])?;
    let moved =
        conn.prepare_cached("UPDATE users SET scope = ?2 WHERE unit = ?1")?.execute(params![code, place])?;
    let detail = format!("from={} to={place} users_moved={moved}", unit.place);
    audit::append(conn, now, &Event::new(actor, "unit.move", code, "ok").detail(detail))?;
    directory::bump(conn)?;
    Ok(Unit { place: place.to_owned(), ..unit })
}

fn check_unit_fields(unit: &Unit) -> Result<(), WriteError> {
    check_code(&unit.code).map_err(|e| invalid(format!("unit {}: {e}", shown(&unit.code))))?;
    check_name(&unit.name).map_err(|e| invalid(format!("unit {}: {e}", unit.code)))?;
    check_kind(&unit.kind).map_err(|e| invalid(format!("unit {}: {e}", unit.code)))?;
    check_code(&unit.place)
        .map_err(|e| invalid(format!("unit {}: place {}: {e}", unit.code, shown(&unit.place))))
}

fn insert_unit(conn: &Connection, now: u64, unit: &Unit) -> Result<(), WriteError> {
    conn.prepare_cached(
        "INSERT INTO units (code, name, kind, place, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![unit.code, unit.name, unit.kind, unit.place, now as i64])?;
    Ok(())
}

/// The users (active, with an enrolled device that is not revoked) who see
/// `moved` places after a change but not before: those assigned at the
/// places newly above them. Department users see by unit, so never gain.
fn gaining_users<'a>(
    conn: &Connection,
    before: &Directory,
    after: &Directory,
    moved: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<Actor>, WriteError> {
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
    Ok(device_users(conn, None)?
        .into_iter()
        .filter(|a| a.unit.is_none() && a.place.as_ref().is_some_and(|p| gaining.contains(p)))
        .collect())
}

/// Active users with an enrolled device that is not revoked (only `user`, if given).
pub(crate) fn device_users(conn: &Connection, user: Option<&str>) -> Result<Vec<Actor>, WriteError> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT u.name, u.role, u.scope, u.unit FROM users u JOIN devices d ON d.user = u.name
         WHERE u.active = 1 AND d.enrolled_ms IS NOT NULL AND d.revoked_ms IS NULL
           AND (?1 IS NULL OR u.name = ?1)",
    )?;
    let rows = stmt.query_map([user], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, Option<String>>(3)?,
        ))
    })?;
    rows.map(|row| {
        let (user, role, scope, unit) = row?;
        let role =
            Role::from_str(&role).map_err(|_| WriteError::Corrupt(format!("unknown role {role:?}")))?;
        Ok(Actor { user, role, place: (!scope.is_empty()).then_some(scope), unit })
    })
    .collect()
}

/// Refuses with [`ErrorCode::OverBudget`] when a device of one of `actors`
/// would hold more records than the budget under `dir` (the directory as it
/// will be after the change). The message gives counts, never names.
pub(crate) fn check_budget(
    conn: &Connection,
    now: u64,
    dir: &Directory,
    actors: &[Actor],
    settings: &ScopeSettings,
) -> Result<(), WriteError> {
    let budget = u64::from(settings.budget);
    let (mut over, mut most) = (0u64, 0u64);
    for actor in actors {
        let n = scope::count(conn, actor, dir, settings, now)?;
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

#[cfg(test)]
pub(super) mod tests {
    use gridsync_proto::auth::{self, EnrollRequest};
    use gridsync_proto::{ActorId, RecordId};

    use super::*;
    use crate::identity;

    pub(super) fn db() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().expect("tempdir");
        let conn = gridsync_sql_support::open(&dir.path().join("h.db"), &crate::db::SCHEMA).expect("open");
        (dir, conn)
    }

    pub(super) fn place(code: &str, level: Level, parent: Option<&str>) -> Place {
        Place { code: code.into(), name: format!("{code} 名"), level, parent: parent.map(Into::into) }
    }

    pub(super) fn code_of(e: WriteError) -> (ErrorCode, String) {
        match e {
            WriteError::Refused(api) => (api.code, api.message),
            other => panic!("not a refusal: {other}"),
        }
    }

    /// County C; townships T1, T2; villages V1 (T1), V2 and V3 (T2); grids
    /// G1 (V1) and G2 (V2).
    pub(super) fn county(conn: &Connection) {
        for p in [
            place("C", Level::County, None),
            place("T1", Level::Township, Some("C")),
            place("T2", Level::Township, Some("C")),
            place("V1", Level::Village, Some("T1")),
            place("V2", Level::Village, Some("T2")),
            place("V3", Level::Village, Some("T2")),
            place("G1", Level::Grid, Some("V1")),
            place("G2", Level::Grid, Some("V2")),
        ] {
            add_place(conn, 0, "test", &p).expect("place");
        }
    }

    pub(super) fn records_at(conn: &Connection, place: &str, n: usize, now: u64) {
        for _ in 0..n {
            conn.execute(
                "INSERT INTO record_access (key, record, active_ms, open) VALUES (?1, ?2, ?3, 0)",
                params![format!("p:{place}"), RecordId::generate(now).as_bytes(), now as i64],
            )
            .expect("indexed");
        }
    }

    pub(super) fn with_device(conn: &Connection, user: &str, role: Role, scope: &str) -> ActorId {
        identity::add_user(conn, 0, "test", user, role, scope, None).expect("user");
        let code = identity::issue_enrollment(conn, 0, "test", user, 60_000).expect("code");
        let device = ActorId::random();
        let request = EnrollRequest { code, device, public_key: auth::b64(&[5; 32]) };
        identity::enroll(conn, 1, &request).expect("enrolled");
        device
    }

    fn audit_detail(conn: &Connection, action: &str) -> Vec<String> {
        let mut stmt =
            conn.prepare("SELECT target || ' ' || detail FROM audit WHERE action = ?1").expect("sql");
        stmt.query_map([action], |r| r.get(0)).expect("query").collect::<Result<_, _>>().expect("rows")
    }

    #[test]
    fn places_need_a_known_parent_of_a_higher_level() {
        let (_dir, conn) = db();
        let v0 = directory::version(&conn).expect("version");
        county(&conn);
        assert!(directory::version(&conn).expect("version") > v0, "every add bumps the version");
        let (code, msg) =
            code_of(add_place(&conn, 0, "t", &place("G9", Level::Grid, Some("V9"))).expect_err("parent"));
        assert_eq!(code, ErrorCode::UnknownPlace);
        assert!(msg.contains("G9") && msg.contains("V9"), "{msg}");
        let (code, msg) =
            code_of(add_place(&conn, 0, "t", &place("G9", Level::Grid, Some("G1"))).expect_err("level"));
        assert_eq!(code, ErrorCode::InvalidRequest);
        assert!(msg.contains("a grid cannot sit under a grid"), "{msg}");
        let (code, _) =
            code_of(add_place(&conn, 0, "t", &place("G1", Level::Grid, Some("V1"))).expect_err("twice"));
        assert_eq!(code, ErrorCode::InvalidRequest);
        let (code, _) =
            code_of(add_place(&conn, 0, "t", &place("G 9", Level::Grid, Some("V1"))).expect_err("code"));
        assert_eq!(code, ErrorCode::InvalidRequest);
        let mut nameless = place("G9", Level::Grid, Some("V1"));
        nameless.name = " ".into();
        assert_eq!(
            code_of(add_place(&conn, 0, "t", &nameless).expect_err("name")).0,
            ErrorCode::InvalidRequest
        );
        assert_eq!(list_places(&conn).expect("list").len(), 8);
        assert_eq!(audit_detail(&conn, "place.add")[6], "G1 level=grid parent=V1");
    }

    #[test]
    fn moving_a_grid_changes_only_its_parent() {
        let (_dir, conn) = db();
        county(&conn);
        let settings = ScopeSettings::default();
        let v0 = directory::version(&conn).expect("version");
        let moved = move_place(&conn, 5_000, "t", "G2", Some("V3"), &settings).expect("move");
        assert_eq!(moved.parent.as_deref(), Some("V3"));
        let dir = directory::load(&conn).expect("load");
        assert!(dir.is_within("G2", Some("V3")) && !dir.is_within("G2", Some("V2")));
        let moved_ms: Option<i64> =
            conn.query_row("SELECT moved_ms FROM places WHERE code = 'G2'", [], |r| r.get(0)).expect("row");
        assert_eq!(moved_ms, Some(5_000));
        let v1 = directory::version(&conn).expect("version");
        assert!(v1 > v0);
        assert_eq!(audit_detail(&conn, "place.move"), ["G2 from=V2 to=V3"]);
        // The same parent again changes nothing; levels must still rise.
        move_place(&conn, 6_000, "t", "G2", Some("V3"), &settings).expect("no-op");
        assert_eq!(directory::version(&conn).expect("version"), v1);
        let refused = |code, parent| {
            code_of(move_place(&conn, 0, "t", code, parent, &settings).expect_err("refused")).0
        };
        assert_eq!(refused("V1", Some("G1")), ErrorCode::InvalidRequest, "a village under its own grid");
        assert_eq!(refused("T1", Some("V2")), ErrorCode::InvalidRequest);
        assert_eq!(refused("G1", Some("nowhere")), ErrorCode::UnknownPlace);
        assert_eq!(refused("nowhere", Some("V1")), ErrorCode::UnknownPlace);
        move_place(&conn, 7_000, "t", "T1", None, &settings).expect("a township may sit at the top");
    }

    #[test]
    fn a_unit_moves_with_its_users() {
        let (_dir, conn) = db();
        for p in [place("T1", Level::Township, None), place("T2", Level::Township, None)] {
            add_place(&conn, 0, "t", &p).expect("place");
        }
        let unit =
            Unit { code: "U1".into(), name: "派出所".into(), kind: "police".into(), place: "T1".into() };
        add_unit(&conn, 0, "t", &unit).expect("unit");
        crate::identity::add_user_in_unit(&conn, 0, "t", "cop", "U1", None).expect("user");
        let moved = move_unit(&conn, 1, "t", "U1", "T2").expect("move");
        assert_eq!(moved.place, "T2");
        let user = crate::identity::get_user(&conn, "cop").expect("read").expect("user");
        assert_eq!(user.scope, "T2", "the user follows the unit");
        assert!(
            move_unit(&conn, 1, "t", "U1", "nowhere").is_err()
                && move_unit(&conn, 1, "t", "U9", "T1").is_err()
        );
        assert_eq!(audit_detail(&conn, "unit.move"), ["U1 from=T1 to=T2 users_moved=1"]);
    }

    #[test]
    fn units_sit_at_known_places() {
        let (_dir, conn) = db();
        county(&conn);
        let unit = |code: &str, kind: &str, place: &str| Unit {
            code: code.into(),
            name: "城关派出所".into(),
            kind: kind.into(),
            place: place.into(),
        };
        add_unit(&conn, 0, "t", &unit("U1", "police", "T1")).expect("unit");
        assert_eq!(
            code_of(add_unit(&conn, 0, "t", &unit("U2", "police", "T9")).expect_err("place")).0,
            ErrorCode::UnknownPlace
        );
        assert_eq!(
            code_of(add_unit(&conn, 0, "t", &unit("U1", "police", "T1")).expect_err("twice")).0,
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            code_of(add_unit(&conn, 0, "t", &unit("T2", "police", "T1")).expect_err("a place")).0,
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            code_of(add_unit(&conn, 0, "t", &unit("U3", "", "T1")).expect_err("kind")).0,
            ErrorCode::InvalidRequest
        );
        assert_eq!(list_units(&conn).expect("list"), [unit("U1", "police", "T1")]);
        assert_eq!(parse_level("镇"), Ok(Level::Township));
        assert_eq!(parse_level("Grid"), Ok(Level::Grid));
        assert!(parse_level("hamlet").is_err());
    }

    #[test]
    fn changes_that_overfill_a_device_are_refused_with_counts_only() {
        let (_dir, mut conn) = db();
        let now = 10_000_000;
        county(&conn);
        records_at(&conn, "G1", 1, now);
        records_at(&conn, "G2", 3, now);
        let settings = ScopeSettings { budget: 2, ..ScopeSettings::default() };
        with_device(&conn, "wang", Role::TownshipAdmin, "T1");
        let li = with_device(&conn, "li", Role::Worker, "G1");
        // The county admin's device is over budget already: changes that
        // give it nothing new are not refused for it.
        with_device(&conn, "zhou", Role::CountyAdmin, "C");

        let tx = conn.transaction().expect("tx");
        let (code, msg) = code_of(move_place(&tx, now, "t", "G2", Some("V1"), &settings).expect_err("over"));
        assert_eq!(code, ErrorCode::OverBudget);
        assert!(
            msg.contains("4 records") && msg.contains("1 user(s)") && msg.contains("budget of 2"),
            "{msg}"
        );
        assert!(msg.contains("device_record_budget") && !msg.contains("wang"), "{msg}");
        drop(tx);
        assert!(directory::load(&conn).expect("load").is_within("G2", Some("V2")), "rolled back");
        move_place(&conn, now, "t", "G2", Some("V3"), &settings).expect("within the same township");

        let tx = conn.transaction().expect("tx");
        let (code, msg) =
            code_of(identity::assign_user(&tx, now, "t", "li", "V3", None, &settings).expect_err("over"));
        assert_eq!(code, ErrorCode::OverBudget);
        assert!(msg.contains("3 records") && !msg.contains("li"), "{msg}");
        drop(tx);
        // A revoked device holds nothing.
        identity::revoke_device(&conn, now, "t", li, false).expect("revoke");
        identity::assign_user(&conn, now, "t", "li", "V3", None, &settings).expect("no live device");
        // Old records fall out of the window.
        let tight = ScopeSettings { budget: 2, window_ms: 1_000 };
        move_place(&conn, now + 10_000, "t", "G2", Some("V1"), &tight).expect("nothing recent");
    }
}
