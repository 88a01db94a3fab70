//! Reporting completeness (有事报信息、无事报平安): for a day and a place,
//! which grid workers filed their daily report on time, which filed late,
//! and which filed nothing.
//!
//! A report is on time when it was first filed before the end of its day in
//! the deployment's time zone. "Filed" is the trusted time of its first
//! change: the device's clock, unless the server flagged that clock as far
//! off, in which case the server's receipt (ingest keeps it with the
//! report's row). A worker who files in the evening and syncs the next
//! morning filed on time.

use std::collections::HashMap;

use gridsync_proto::date::DAY_MS;
use gridsync_proto::{Date, Directory, Hierarchy, Level, Role};
use serde::Serialize;

use super::{Caller, Service};
use crate::audit::Event;
use crate::error::CoreResult;
use crate::storage::{DailyReportRow, IdentityRead, ReportRead, StorageExt, StorageResult};

/// How a worker stands for the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Filing {
    /// Filed before the day ended.
    OnTime,
    /// Filed after the day ended.
    Late,
    /// Not filed (yet).
    Missing,
}

/// One worker's line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkerLine {
    /// The worker's user name.
    pub worker: String,
    /// Their place (grid).
    pub place: String,
    /// How they stand.
    pub filing: Filing,
    /// What the report says (`all_safe`, `has_items`), if filed.
    pub status: Option<String>,
    /// When it was first filed (trusted time, Unix ms), if filed.
    pub filed_ms: Option<u64>,
    /// When the server first received it (Unix ms), if filed.
    pub received_ms: Option<u64>,
}

/// The day's completeness for a place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Completeness {
    /// The day.
    pub date: Date,
    /// The place: every worker at or below it counts.
    pub place: String,
    /// When the day ended (Unix ms).
    pub deadline_ms: u64,
    /// Workers who filed on time.
    pub on_time: u32,
    /// Workers who filed late.
    pub late: u32,
    /// Workers who filed nothing.
    pub missing: u32,
    /// Every worker, by place then name.
    pub workers: Vec<WorkerLine>,
}

/// The completeness of `date`'s reports for the active grid workers
/// (workers assigned to a grid) within `place`, with days starting at
/// `utc_offset_minutes` east of UTC.
pub fn daily(
    tx: &mut (impl IdentityRead + ReportRead + ?Sized),
    dir: &Directory,
    place: &str,
    date: Date,
    utc_offset_minutes: i32,
) -> StorageResult<Completeness> {
    let workers = grid_workers(tx, dir, place)?;
    let day = date.to_string();
    let filed = tx.daily_reports(&day, &day)?;
    Ok(completeness(&workers, filed, place, date, utc_offset_minutes))
}

/// [`daily`] for every day from `first` to `last` (inclusive, oldest first),
/// reading the users and the reports once: what a trend over months needs.
pub fn daily_span(
    tx: &mut (impl IdentityRead + ReportRead + ?Sized),
    dir: &Directory,
    place: &str,
    first: Date,
    last: Date,
    utc_offset_minutes: i32,
) -> StorageResult<Vec<Completeness>> {
    let workers = grid_workers(tx, dir, place)?;
    let mut by_day: HashMap<String, Vec<DailyReportRow>> = HashMap::new();
    for row in tx.daily_reports(&first.to_string(), &last.to_string())? {
        by_day.entry(row.date.clone()).or_default().push(row);
    }
    let mut out = Vec::new();
    let mut day = Some(first);
    while let Some(date) = day.filter(|d| *d <= last) {
        let filed = by_day.remove(&date.to_string()).unwrap_or_default();
        out.push(completeness(&workers, filed, place, date, utc_offset_minutes));
        day = date.next();
    }
    Ok(out)
}

/// The active grid workers within `place`, as `(grid, name)`, sorted.
fn grid_workers(
    tx: &mut (impl IdentityRead + ?Sized),
    dir: &Directory,
    place: &str,
) -> StorageResult<Vec<(String, String)>> {
    let mut workers: Vec<(String, String)> = tx
        .users()?
        .into_iter()
        .filter(|u| u.active && u.role == Role::Worker && dir.level(&u.scope) == Some(Level::Grid))
        .filter(|u| dir.is_within(&u.scope, Some(place)))
        .map(|u| (u.scope, u.name))
        .collect();
    workers.sort();
    Ok(workers)
}

/// One day's completeness of `workers`, given that day's report rows.
fn completeness(
    workers: &[(String, String)],
    filed: Vec<DailyReportRow>,
    place: &str,
    date: Date,
    utc_offset_minutes: i32,
) -> Completeness {
    let deadline_ms = (date.start_ms(utc_offset_minutes) + DAY_MS).max(0) as u64;
    let mut filed: HashMap<String, (String, u64, u64)> =
        filed.into_iter().map(|r| (r.worker, (r.status, r.filed_ms, r.received_ms))).collect();
    let mut out = Completeness {
        date,
        place: place.to_owned(),
        deadline_ms,
        on_time: 0,
        late: 0,
        missing: 0,
        workers: Vec::with_capacity(workers.len()),
    };
    for (grid, worker) in workers {
        let (worker, grid) = (worker.clone(), grid.clone());
        let line = match filed.remove(&worker) {
            Some((status, filed_ms, received_ms)) => {
                let filing = if filed_ms < deadline_ms { Filing::OnTime } else { Filing::Late };
                WorkerLine {
                    worker,
                    place: grid,
                    filing,
                    status: Some(status),
                    filed_ms: Some(filed_ms),
                    received_ms: Some(received_ms),
                }
            }
            None => WorkerLine {
                worker,
                place: grid,
                filing: Filing::Missing,
                status: None,
                filed_ms: None,
                received_ms: None,
            },
        };
        match line.filing {
            Filing::OnTime => out.on_time += 1,
            Filing::Late => out.late += 1,
            Filing::Missing => out.missing += 1,
        }
        out.workers.push(line);
    }
    out
}

impl Service {
    /// The completeness of `date`'s daily reports within `place`, for
    /// admins and auditors within their subtree (and the operator). Read on
    /// a snapshot; the read is then audited (`report.daily`), since a
    /// completeness list names workers, like any export of the ledgers. An
    /// unknown place is refused.
    pub async fn daily_report(&self, caller: &Caller, place: &str, date: Date) -> CoreResult<Completeness> {
        let (caller2, place2, cache) = (caller.clone(), place.to_owned(), self.directory.clone());
        let offset = self.settings.utc_offset_minutes;
        let read = self
            .storage
            .read(move |tx| {
                let (_, dir) = cache.get(tx)?;
                caller2.require_reader_of(&dir, &place2, |_| true)?;
                Ok(daily(tx, &dir, &place2, date, offset)?)
            })
            .await;
        let report = self.audited(caller, "report.daily", place, read).await?;
        let event =
            Event::new(caller.audit_name(), "report.daily", place, "ok").detail(format!("date={date}"));
        self.audit(event).await?;
        Ok(report)
    }
}
