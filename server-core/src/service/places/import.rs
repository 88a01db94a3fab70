//! CSV imports of places and units (formats in [`super`]'s module doc):
//! parsed, checked against the whole directory as it will be, then written
//! in one go, or refused at the first problem with its line and code.

use std::collections::{BTreeMap, HashMap};

use gridsync_proto::{Directory, ErrorCode, Hierarchy, Level, Place, Unit};
use serde::Serialize;

use super::{
    check_budget, check_parent, check_place_fields, check_unit_fields, gaining_users, invalid, refuse,
    rehome, shown,
};
use crate::audit::Event;
use crate::directory;
use crate::error::{CoreError, CoreResult};
use crate::policy::scope::ScopeSettings;
use crate::service::Caller;
use crate::storage::WriteTx;

/// Most rows in one CSV import.
pub const MAX_IMPORT_ROWS: usize = 200_000;
/// The header of a places CSV.
pub const PLACES_HEADER: [&str; 4] = ["code", "name", "level", "parent"];
/// The header of a units CSV.
pub const UNITS_HEADER: [&str; 4] = ["code", "name", "kind", "place"];
/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImportSummary {
    /// Rows whose code was new.
    pub added: u64,
    /// Rows that changed an existing place or unit.
    pub updated: u64,
    /// Rows equal to what was stored.
    pub unchanged: u64,
}

/// Imports a places CSV for an importer who may change only the subtree of
/// `limit` (`None`: anywhere): every added or changed row must sit below a
/// place of that subtree, every changed place must lie in it already, and
/// every unchanged row must lie in it; otherwise [`ErrorCode::Forbidden`].
pub(super) fn places(
    tx: &mut dyn WriteTx,
    now: u64,
    caller: &Caller,
    csv_text: &str,
    settings: &ScopeSettings,
    limit: Option<&str>,
) -> CoreResult<ImportSummary> {
    let rows = read_rows(csv_text, PLACES_HEADER)?;
    let before = directory::load(tx)?;
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut incoming: Vec<(u64, Place)> = Vec::with_capacity(rows.len());
    for (line, [code, name, level, parent]) in rows {
        let at = |e: String| invalid(format!("line {line}: {e}"));
        let level = level.parse::<Level>().map_err(|e| at(format!("place {}: {e}", shown(&code))))?;
        let place = Place { code, name, level, parent: (!parent.is_empty()).then_some(parent) };
        check_place_fields(&place).map_err(|e| at(refusal_message(e)))?;
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
        let at = |e: CoreError| match e {
            CoreError::Refused(r) => refuse(r.code, format!("line {line}: {}", r.message)),
            other => other,
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
                tx.insert_place(place, now)?;
                summary.added += 1;
                placed.push(place.code.as_str());
            }
            Some(old) => {
                let is_move = old.parent != place.parent;
                tx.update_place(place, is_move, now)?;
                summary.updated += 1;
                if is_move {
                    placed.push(place.code.as_str());
                }
            }
        }
    }
    let stored = directory::load(tx)?;
    let gaining = gaining_users(tx, &before, &stored, placed)?;
    check_budget(tx, now, &stored, &gaining, settings)?;
    let rehomed = rehome(tx, &before, &stored)?;
    let mut detail =
        format!("added={} updated={} unchanged={}", summary.added, summary.updated, summary.unchanged);
    if rehomed > 0 {
        detail.push_str(&format!(" records_rehomed={rehomed}"));
    }
    tx.append_audit(now, &Event::new(caller.audit_name(), "place.import", "places", "ok").detail(detail))?;
    if summary.added + summary.updated > 0 {
        tx.bump_directory(crate::clock::now_micros())?;
    }
    Ok(summary)
}

/// Imports a units CSV for an importer who may change only the subtree of
/// `limit`: every row's place (and a changed unit's old place) must lie in it.
pub(super) fn units(
    tx: &mut dyn WriteTx,
    now: u64,
    caller: &Caller,
    csv_text: &str,
    limit: Option<&str>,
) -> CoreResult<ImportSummary> {
    let rows = read_rows(csv_text, UNITS_HEADER)?;
    let dir = directory::load(tx)?;
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut units: BTreeMap<String, Unit> = dir.units().map(|u| (u.code.clone(), u.clone())).collect();
    let mut changed: Vec<(Unit, Option<Unit>)> = Vec::new();
    let mut summary = ImportSummary::default();
    for (line, [code, name, kind, place]) in rows {
        let at = |code: ErrorCode, e: String| refuse(code, format!("line {line}: {e}"));
        let unit = Unit { code, name, kind, place };
        check_unit_fields(&unit).map_err(|e| at(ErrorCode::InvalidRequest, refusal_message(e)))?;
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
                tx.insert_unit(unit, now)?;
                summary.added += 1;
            }
            Some(old) => {
                tx.update_unit(unit)?;
                if old.place != unit.place {
                    // A department user's scope is their unit's place.
                    followed += tx.move_unit_users(&unit.code, &unit.place)?;
                }
                summary.updated += 1;
            }
        }
    }
    let detail = format!(
        "added={} updated={} unchanged={} users_moved={followed}",
        summary.added, summary.updated, summary.unchanged
    );
    tx.append_audit(now, &Event::new(caller.audit_name(), "unit.import", "units", "ok").detail(detail))?;
    if summary.added + summary.updated > 0 {
        tx.bump_directory(crate::clock::now_micros())?;
    }
    Ok(summary)
}

/// The rows of a CSV with the given header, with the line each starts on.
fn read_rows(text: &str, header: [&str; 4]) -> CoreResult<Vec<(u64, [String; 4])>> {
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

fn csv_error(e: &csv::Error, wanted: &str) -> CoreError {
    let line = e.position().map_or(0, |p| p.line());
    match e.kind() {
        csv::ErrorKind::UnequalLengths { len, .. } => {
            invalid(format!("line {line}: {len} fields, where every row has 4 ({wanted})"))
        }
        _ => invalid(format!("line {line}: the CSV cannot be read")),
    }
}

/// The message of a refusal (a storage error passes through unchanged).
fn refusal_message(e: CoreError) -> String {
    match e {
        CoreError::Refused(r) => r.message,
        CoreError::Storage(s) => s.message,
    }
}
