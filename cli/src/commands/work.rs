//! Field work: `patrol`, `visit`, `report`, `household`.

use std::io::Write;

use anyhow::{Result, anyhow, bail};
use gridsync_client_core::{DailyReport, Gps, Store, Visit};
use gridsync_proto::Date;
use gridsync_proto::date::CHINA_UTC_OFFSET_MINUTES;

use super::long_text::resolve;
use super::{Ctx, now_ms};
use crate::args::{GpsArgs, HouseholdCommand, PatrolCommand, ReportCommand, VisitArgs};
use crate::values;

/// `patrol ...`.
pub(super) fn patrol(ctx: &Ctx, command: PatrolCommand, out: &mut dyn Write) -> Result<()> {
    let mut store = ctx.open()?;
    match command {
        PatrolCommand::Start { at } => {
            let id = store.start_patrol(at.unwrap_or_else(now_ms))?;
            writeln!(out, "{id}")?;
        }
        PatrolCommand::Checkpoint { id, place, lat, lon, accuracy, mock, note, note_file, at } => {
            let note = resolve("note", note, note_file)?;
            let gps = Gps { lat, lon, accuracy_m: accuracy, mock, time_ms: None };
            store.add_checkpoint(id, &place, at.unwrap_or_else(now_ms), &gps, note.as_deref())?;
        }
        PatrolCommand::Finding { id, record, note, note_file } => {
            let note = resolve("note", note, note_file)?;
            store.add_finding(id, record, note.as_deref())?;
        }
        PatrolCommand::End { id, summary, summary_file, at } => {
            let summary = resolve("summary", summary, summary_file)?;
            store.end_patrol(id, at.unwrap_or_else(now_ms), summary.as_deref())?;
        }
    }
    Ok(())
}

/// The position given, if any (clap makes sure it is whole).
fn position(gps: &GpsArgs) -> Option<Gps> {
    match (gps.lat, gps.lon, gps.accuracy) {
        (Some(lat), Some(lon), Some(accuracy_m)) => {
            Some(Gps { lat, lon, accuracy_m, mock: gps.mock, time_ms: None })
        }
        _ => None,
    }
}

/// `visit ...`.
pub(super) fn visit(ctx: &Ctx, args: VisitArgs, out: &mut dyn Write) -> Result<()> {
    let result = resolve("result", args.result, args.result_file)?;
    let visit = Visit {
        grid: args.grid,
        household: args.household,
        address: args.address,
        visited_ms: args.at.unwrap_or_else(now_ms),
        person_category: args.category,
        purpose: args.purpose,
        result,
        follow_up_due: args.follow_up,
        gps: position(&args.gps),
    };
    let id = ctx.open()?.record_visit(&visit)?;
    writeln!(out, "{id}")?;
    Ok(())
}

/// Today where the grid workers are: China Standard Time (UTC+8).
fn today() -> Result<Date> {
    Store::today(CHINA_UTC_OFFSET_MINUTES).ok_or_else(|| anyhow!("the device clock gives no date"))
}

/// `report ...`: prints the report's id (fixed by worker and day).
pub(super) fn report(ctx: &Ctx, command: ReportCommand, out: &mut dyn Write) -> Result<()> {
    let (date, report) = match command {
        ReportCommand::AllSafe { date, note, note_file } => {
            (date, DailyReport::AllSafe { note: resolve("note", note, note_file)? })
        }
        ReportCommand::Items { items, note, note_file, date } => {
            (date, DailyReport::HasItems { items, note: resolve("note", note, note_file)? })
        }
    };
    let date = match date {
        Some(date) => date,
        None => today()?,
    };
    let id = ctx.open()?.file_daily_report(date, &report)?;
    writeln!(out, "{id}")?;
    Ok(())
}

/// `household ...`.
pub(super) fn household(ctx: &Ctx, command: HouseholdCommand, out: &mut dyn Write) -> Result<()> {
    match command {
        HouseholdCommand::New { category, set } => {
            let fields = values::parse_assignments(&set)?;
            if fields.iter().any(|(k, _)| k == "category") {
                bail!("give the category with --category, not --set");
            }
            let id = ctx.open()?.record_household(&category, fields)?;
            writeln!(out, "{id}")?;
        }
    }
    Ok(())
}
