//! CSV imports of places and units (formats in [`super`]'s module doc):
//! parsed, checked against the whole directory as it will be, then written
//! in one go, or refused at the first problem with its line and code.

use std::collections::{BTreeMap, HashMap};

use gridsync_proto::{Directory, ErrorCode, Hierarchy, Place, Unit};
use rusqlite::{Connection, params};
use serde::Serialize;

use super::{
    check_budget, check_parent, check_place_fields, check_unit_fields, gaining_users, insert_place,
    insert_unit, invalid, parse_level, refuse, shown,
};
use crate::audit::{self, Event};
use crate::db::WriteError;
use crate::directory;
use crate::scope::ScopeSettings;

/// Most rows in one CSV import.
pub const MAX_IMPORT_ROWS: usize = 200_000;
/// The header of a places CSV.
pub const PLACES_HEADER: [&str; 4] = ["code", "name", "level", "parent"];
/// The header of a units CSV.
pub const UNITS_HEADER: [&str; 4] = ["code", "name", "kind", "place"];
/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    /// Rows whose code was new.
    pub added: u64,
    /// Rows that changed an existing place or unit.
    pub updated: u64,
    /// Rows equal to what was stored.
    pub unchanged: u64,
}

/// Imports a places CSV (see the module doc): adds new codes, updates
/// existing ones. All or nothing.
pub fn import_places_csv(
    conn: &Connection,
    now: u64,
    actor: &str,
    csv_text: &str,
    settings: &ScopeSettings,
) -> Result<ImportSummary, WriteError> {
    import_places_csv_within(conn, now, actor, csv_text, settings, None)
}

/// [`import_places_csv`] for an importer who may change only the subtree of
/// `limit` (`None`: anywhere): every added or changed row must sit below a
/// place of that subtree, every changed place must lie in it already, and
/// every unchanged row must lie in it; otherwise [`ErrorCode::Forbidden`].
pub fn import_places_csv_within(
    conn: &Connection,
    now: u64,
    actor: &str,
    csv_text: &str,
    settings: &ScopeSettings,
    limit: Option<&str>,
) -> Result<ImportSummary, WriteError> {
    let rows = read_rows(csv_text, PLACES_HEADER)?;
    let before = directory::load(conn)?;
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut incoming: Vec<(u64, Place)> = Vec::with_capacity(rows.len());
    for (line, [code, name, level, parent]) in rows {
        let at = |e: String| invalid(format!("line {line}: {e}"));
        let level = parse_level(&level).map_err(|e| at(format!("place {}: {e}", shown(&code))))?;
        let place = Place { code, name, level, parent: (!parent.is_empty()).then_some(parent) };
        check_place_fields(&place).map_err(|e| at(e.into_api().message))?;
        if let Some(first) = seen.insert(place.code.clone(), line) {
            return Err(at(format!("place {} appears twice (also on line {first})", place.code)));
        }
        if before.unit(&place.code).is_some() {
            return Err(at(format!("{} is already a unit's code", place.code)));
        }
        incoming.push((line, place));
    }
    let mut places: BTreeMap<String, Place> = before.places().map(|p| (p.code.clone(), p.clone())).collect();
    let mut changed: Vec<(u64, Place, Option<Place>)> = Vec::new();
    let mut summary = ImportSummary::default();
    for (line, place) in &incoming {
        match before.place(&place.code) {
            Some(old) if old == place => summary.unchanged += 1,
            old => changed.push((*line, place.clone(), old.cloned())),
        }
        places.insert(place.code.clone(), place.clone());
    }
    let after = Directory::new(places.into_values(), before.units().cloned());
    for (line, place) in &incoming {
        let at = |e: WriteError| {
            let api = e.into_api();
            refuse(api.code, format!("line {line}: {}", api.message))
        };
        check_parent(&after, &place.code, place.level, place.parent.as_deref()).map_err(at)?;
    }
    if let Some(limit) = limit {
        for (line, place) in &incoming {
            let old = before.place(&place.code);
            let allowed = match old {
                Some(old) if old == place => before.is_within(&place.code, Some(limit)),
                old => {
                    old.is_none_or(|_| before.is_within(&place.code, Some(limit)))
                        && place.parent.as_deref().is_some_and(|p| after.is_within(p, Some(limit)))
                }
            };
            if !allowed {
                return Err(refuse(
                    ErrorCode::Forbidden,
                    format!(
                        "line {line}: place {} lies outside the part of the hierarchy you manage",
                        place.code
                    ),
                ));
            }
        }
    }
    after.check().map_err(|e| invalid(format!("after this import, {e}")))?;
    // Parents before children: a parent is of a higher level.
    changed.sort_by(|a, b| b.1.level.rank().cmp(&a.1.level.rank()).then_with(|| a.1.code.cmp(&b.1.code)));
    let mut placed = Vec::new();
    for (_, place, old) in &changed {
        match old {
            None => {
                insert_place(conn, now, place)?;
                summary.added += 1;
                placed.push(place.code.as_str());
            }
            Some(old) => {
                let is_move = old.parent != place.parent;
                conn.prepare_cached(
                    "UPDATE places SET name = ?2, level = ?3, parent = ?4,
                     moved_ms = CASE WHEN ?5 THEN ?6 ELSE moved_ms END WHERE code = ?1",
                )?
                .execute(params![
                    place.code,
                    place.name,
                    place.level.name(),
                    place.parent,
                    is_move,
                    now as i64
                ])?;
                summary.updated += 1;
                if is_move {
                    placed.push(place.code.as_str());
                }
            }
        }
    }
    let stored = directory::load(conn)?;
    check_budget(conn, now, &stored, &gaining_users(conn, &before, &stored, placed)?, settings)?;
    let detail =
        format!("added={} updated={} unchanged={}", summary.added, summary.updated, summary.unchanged);
    audit::append(conn, now, &Event::new(actor, "place.import", "places", "ok").detail(detail))?;
    if summary.added + summary.updated > 0 {
        directory::bump(conn)?;
    }
    Ok(summary)
}

/// Imports a units CSV (see the module doc): adds new codes, updates
/// existing ones; a unit's users follow it to its new place. All or nothing.
pub fn import_units_csv(
    conn: &Connection,
    now: u64,
    actor: &str,
    csv_text: &str,
) -> Result<ImportSummary, WriteError> {
    import_units_csv_within(conn, now, actor, csv_text, None)
}

/// [`import_units_csv`] for an importer who may change only the subtree of
/// `limit`: every row's place (and a changed unit's old place) must lie in it.
pub fn import_units_csv_within(
    conn: &Connection,
    now: u64,
    actor: &str,
    csv_text: &str,
    limit: Option<&str>,
) -> Result<ImportSummary, WriteError> {
    let rows = read_rows(csv_text, UNITS_HEADER)?;
    let dir = directory::load(conn)?;
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut units: BTreeMap<String, Unit> = dir.units().map(|u| (u.code.clone(), u.clone())).collect();
    let mut changed: Vec<(Unit, Option<Unit>)> = Vec::new();
    let mut summary = ImportSummary::default();
    for (line, [code, name, kind, place]) in rows {
        let at = |code: ErrorCode, e: String| refuse(code, format!("line {line}: {e}"));
        let unit = Unit { code, name, kind, place };
        check_unit_fields(&unit).map_err(|e| at(ErrorCode::InvalidRequest, e.into_api().message))?;
        if let Some(first) = seen.insert(unit.code.clone(), line) {
            return Err(at(
                ErrorCode::InvalidRequest,
                format!("unit {} appears twice (also on line {first})", unit.code),
            ));
        }
        if dir.place(&unit.code).is_some() {
            return Err(at(ErrorCode::InvalidRequest, format!("{} is already a place's code", unit.code)));
        }
        if dir.place(&unit.place).is_none() {
            let e = format!("unit {}: its place {} is not a known place", unit.code, unit.place);
            return Err(at(ErrorCode::UnknownPlace, e));
        }
        let old = dir.unit(&unit.code);
        if let Some(limit) = limit {
            let old_ok = old.is_none_or(|o| dir.is_within(&o.place, Some(limit)));
            if !old_ok || !dir.is_within(&unit.place, Some(limit)) {
                let e = format!("unit {} lies outside the part of the hierarchy you manage", unit.code);
                return Err(at(ErrorCode::Forbidden, e));
            }
        }
        match old {
            Some(old) if *old == unit => summary.unchanged += 1,
            old => changed.push((unit.clone(), old.cloned())),
        }
        units.insert(unit.code.clone(), unit);
    }
    Directory::new(dir.places().cloned(), units.into_values())
        .check()
        .map_err(|e| invalid(format!("after this import, {e}")))?;
    let mut followed = 0;
    for (unit, old) in &changed {
        match old {
            None => {
                insert_unit(conn, now, unit)?;
                summary.added += 1;
            }
            Some(old) => {
                conn.prepare_cached("UPDATE units SET name = ?2, kind = ?3, place = ?4 WHERE code = ?1")?
                    .execute(params![unit.code, unit.name, unit.kind, unit.place])?;
                if old.place != unit.place {
                    // A department user's scope is their unit's place.
                    followed += conn
                        .prepare_cached("UPDATE users SET scope = ?2 WHERE unit = ?1")?
                        .execute(params![unit.code, unit.place])?;
                }
                summary.updated += 1;
            }
        }
    }
    let detail = format!(
        "added={} updated={} unchanged={} users_moved={followed}",
        summary.added, summary.updated, summary.unchanged
    );
    audit::append(conn, now, &Event::new(actor, "unit.import", "units", "ok").detail(detail))?;
    if summary.added + summary.updated > 0 {
        directory::bump(conn)?;
    }
    Ok(summary)
}

/// The rows of a CSV with the given header, with the line each starts on.
fn read_rows(text: &str, header: [&str; 4]) -> Result<Vec<(u64, [String; 4])>, WriteError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader =
        csv::ReaderBuilder::new().has_headers(true).trim(csv::Trim::All).from_reader(text.as_bytes());
    let wanted = header.join(",");
    let found: Vec<String> =
        reader.headers().map_err(|e| csv_error(&e, &wanted))?.iter().map(str::to_lowercase).collect();
    if found != header {
        return Err(invalid(format!("line 1: the header must be {wanted}")));
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(&e, &wanted))?;
        let line = record.position().map_or(0, |p| p.line());
        if rows.len() >= MAX_IMPORT_ROWS {
            return Err(invalid(format!(
                "line {line}: an import has at most {MAX_IMPORT_ROWS} rows; split the file"
            )));
        }
        let field = |i: usize| record.get(i).unwrap_or_default().to_owned();
        rows.push((line, [field(0), field(1), field(2), field(3)]));
    }
    Ok(rows)
}

fn csv_error(e: &csv::Error, wanted: &str) -> WriteError {
    let line = e.position().map_or(0, |p| p.line());
    match e.kind() {
        csv::ErrorKind::UnequalLengths { len, .. } => {
            invalid(format!("line {line}: {len} fields, where every row has 4 ({wanted})"))
        }
        _ => invalid(format!("line {line}: the CSV cannot be read")),
    }
}

#[cfg(test)]
mod tests {
    use gridsync_proto::{Level, Role};

    use super::*;
    use crate::hierarchy::tests::{code_of, county, db, records_at, with_device};
    use crate::identity;

    const HEADER: &str = "code,name,level,parent\n";

    fn import(conn: &Connection, text: &str) -> Result<ImportSummary, WriteError> {
        import_places_csv(conn, 1_000, "test", text, &ScopeSettings::default())
    }

    fn refusal(conn: &Connection, text: &str) -> (ErrorCode, String) {
        code_of(import(conn, text).expect_err("refused"))
    }

    #[test]
    fn rows_come_in_any_order_and_update_what_exists() {
        let (_dir, conn) = db();
        let text = "\u{feff}Code,Name,Level,Parent\n\
                    530102001-01,第一网格,grid,530102001\n\
                    \n\
                    530102001,东门村,村,530102\n\
                    \"530102\",\"城关镇, 老城\",township,5301\n\
                    5301 , 某县 , county ,\n";
        let summary = import(&conn, text).expect("import");
        assert_eq!(summary, ImportSummary { added: 4, updated: 0, unchanged: 0 });
        let dir = directory::load(&conn).expect("load");
        assert!(dir.is_within("530102001-01", Some("5301")));
        assert_eq!(dir.place("530102").map(|p| p.name.as_str()), Some("城关镇, 老城"));
        assert_eq!(dir.place("5301").map(|p| p.parent.clone()), Some(None));

        // Again, with a rename and a new village the grid moves to.
        let v = directory::version(&conn).expect("version");
        let text = format!(
            "{HEADER}5301,某县,county,\n530102,城关镇,township,5301\n530102001,东门村,village,530102\n\
             530102002,西门村,village,530102\n530102001-01,第一网格,grid,530102002\n"
        );
        assert_eq!(
            import(&conn, &text).expect("again"),
            ImportSummary { added: 1, updated: 2, unchanged: 2 }
        );
        let dir = directory::load(&conn).expect("load");
        assert!(dir.is_within("530102001-01", Some("530102002")));
        let moved: Vec<String> = conn
            .prepare("SELECT code FROM places WHERE moved_ms IS NOT NULL")
            .expect("sql")
            .query_map([], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(moved, ["530102001-01"], "a rename is not a move");
        let bumped = directory::version(&conn).expect("version");
        assert!(bumped > v, "an import that changes something bumps the version");
        assert_eq!(import(&conn, &text).expect("same"), ImportSummary { added: 0, updated: 0, unchanged: 5 });
        assert_eq!(directory::version(&conn).expect("version"), bumped, "nothing changed");
        let audited: i64 = conn
            .query_row("SELECT count(*) FROM audit WHERE action = 'place.import'", [], |r| r.get(0))
            .expect("count");
        assert_eq!(audited, 3);
    }

    #[test]
    fn the_first_problem_names_its_line_and_code() {
        let (_dir, conn) = db();
        county(&conn);
        let cases = [
            ("code,name,level\nX,x,grid\n", ErrorCode::InvalidRequest, "line 1: the header must be"),
            ("code,name,parent,level\n", ErrorCode::InvalidRequest, "line 1"),
            (
                "code,name,level,parent\nG5,第五网格,grid,V1\nG6,x,grid\n",
                ErrorCode::InvalidRequest,
                "line 3: 3 fields",
            ),
            (
                "code,name,level,parent\nG5,x,hamlet,V1\n",
                ErrorCode::InvalidRequest,
                "line 2: place G5: unknown level",
            ),
            (
                "code,name,level,parent\nG5,x,grid,V1\nG 6,x,grid,V1\n",
                ErrorCode::InvalidRequest,
                "line 3: place \"G 6\"",
            ),
            ("code,name,level,parent\nG5,,grid,V1\n", ErrorCode::InvalidRequest, "line 2: place G5: a name"),
            (
                "code,name,level,parent\nG5,x,grid,V1\nG5,y,grid,V1\n",
                ErrorCode::InvalidRequest,
                "line 3: place G5 appears twice (also on line 2)",
            ),
            (
                "code,name,level,parent\nG5,x,grid,V1\nG6,x,grid,V9\n",
                ErrorCode::UnknownPlace,
                "line 3: place G6: its parent V9",
            ),
            (
                "code,name,level,parent\nV5,x,village,G1\n",
                ErrorCode::InvalidRequest,
                "line 2: place V5: a village cannot sit under a grid",
            ),
            // A cycle needs a level that does not rise: refused like any other.
            (
                "code,name,level,parent\nT1,x,township,V1\n",
                ErrorCode::InvalidRequest,
                "line 2: place T1: a township cannot sit under a village",
            ),
            // Demoting a village leaves its grid under a grid.
            (
                "code,name,level,parent\nV1,x,grid,T1\n",
                ErrorCode::InvalidRequest,
                "after this import, place G1: a grid cannot sit under a grid (V1)",
            ),
        ];
        for (text, code, message) in cases {
            let (got, said) = refusal(&conn, text);
            assert_eq!(got, code, "{text}: {said}");
            assert!(said.contains(message), "{text}: {said}");
        }
        assert_eq!(crate::hierarchy::list_places(&conn).expect("list").len(), 8, "nothing was imported");
    }

    #[test]
    fn an_import_is_all_or_nothing_and_budgeted() {
        let (_dir, mut conn) = db();
        let now = 1_000;
        county(&conn);
        records_at(&conn, "G2", 3, now);
        with_device(&conn, "wang", Role::TownshipAdmin, "T1");
        let settings = ScopeSettings { budget: 2, ..ScopeSettings::default() };
        let tx = conn.transaction().expect("tx");
        let text = format!("{HEADER}G3,新网格,grid,V1\nG2,x,grid,V1\n");
        let (code, msg) = code_of(import_places_csv(&tx, now, "t", &text, &settings).expect_err("over"));
        assert_eq!(code, ErrorCode::OverBudget, "{msg}");
        drop(tx);
        let dir = directory::load(&conn).expect("load");
        assert!(dir.place("G3").is_none() && dir.is_within("G2", Some("V2")), "rolled back");
    }

    #[test]
    fn a_limited_importer_changes_only_its_subtree() {
        let (_dir, conn) = db();
        county(&conn);
        let settings = ScopeSettings::default();
        let within = |text: &str| import_places_csv_within(&conn, 0, "t", text, &settings, Some("T1"));
        let ok =
            format!("{HEADER}T1,T1 名,township,C\nV4,新村,village,T1\nG4,网格,grid,V4\nG1,改名,grid,V1\n");
        assert_eq!(within(&ok).expect("own subtree"), ImportSummary { added: 2, updated: 1, unchanged: 1 });
        for (text, line) in [
            (format!("{HEADER}G5,x,grid,V1\nG6,x,grid,V2\n"), "line 3"),
            (format!("{HEADER}G1,x,grid,V2\n"), "line 2"),
            (format!("{HEADER}G2,x,grid,V1\n"), "line 2"),
            (format!("{HEADER}T1,x,township,C\n"), "line 2"),
            (format!("{HEADER}T9,x,township,\n"), "line 2"),
            (format!("{HEADER}V2,V2 名,village,T2\n"), "line 2"),
        ] {
            let (code, msg) = code_of(within(&text).expect_err("outside"));
            assert_eq!(code, ErrorCode::Forbidden, "{text}");
            assert!(msg.starts_with(line), "{msg}");
        }
    }

    #[test]
    fn units_import_and_their_users_follow() {
        let (_dir, conn) = db();
        county(&conn);
        let text = "code,name,kind,place\nU1,城关派出所,police,T1\nU2,司法所,justice,T2\n";
        assert_eq!(import_units_csv(&conn, 0, "t", text).expect("units").added, 2);
        identity::add_user_in_unit(&conn, 0, "t", "mca", "U1", None).expect("user");
        let text = "code,name,kind,place\nU1,城关派出所,police,T2\nU2,司法所,justice,T2\n";
        assert_eq!(
            import_units_csv(&conn, 0, "t", text).expect("move"),
            ImportSummary { added: 0, updated: 1, unchanged: 1 }
        );
        assert_eq!(identity::get_user(&conn, "mca").expect("read").expect("user").scope, "T2");
        let bad = [
            ("code,name,kind,place\nU3,x,police,T9\n", ErrorCode::UnknownPlace, "line 2: unit U3"),
            ("code,name,kind,place\nU3,x,,T1\n", ErrorCode::InvalidRequest, "line 2: unit U3: a unit kind"),
            ("code,name,kind,place\nU3,x,police,T1\nU3,x,police,T1\n", ErrorCode::InvalidRequest, "line 3"),
            (
                "code,name,kind,place\nG1,x,police,T1\n",
                ErrorCode::InvalidRequest,
                "line 2: G1 is already a place",
            ),
        ];
        for (text, code, message) in bad {
            let (got, said) = code_of(import_units_csv(&conn, 0, "t", text).expect_err("refused"));
            assert!(got == code && said.contains(message), "{text}: {said}");
        }
        let (code, _) = code_of(
            import_units_csv_within(&conn, 0, "t", "code,name,kind,place\nU1,x,police,T1\n", Some("T1"))
                .expect_err("was in T2"),
        );
        assert_eq!(code, ErrorCode::Forbidden);
        let _ = Level::Grid;
    }
}
