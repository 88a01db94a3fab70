//! Reporting completeness (有事报信息、无事报平安): for a day and a place,
//! which grid workers filed their daily report on time, which filed late,
//! and which filed nothing.
//!
//! A report is on time when it was first filed before the end of its day in
//! the deployment's time zone. "Filed" is the trusted time of its first
//! change: the device's clock, unless the server flagged that clock as far
//! off, in which case the server's receipt (ingest keeps it in
//! `daily_reports`). A worker who files in the evening and syncs the next
//! morning filed on time.

use gridsync_proto::date::DAY_MS;
use gridsync_proto::{Date, Directory, Hierarchy, Level, Role};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::audit::{self, Event};
use crate::db::WriteError;
use crate::error::ApiError;
use crate::{directory, identity};

/// How a worker stands for the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
    conn: &Connection,
    dir: &Directory,
    place: &str,
    date: Date,
    utc_offset_minutes: i32,
) -> Result<Completeness, WriteError> {
    let deadline_ms = (date.start_ms(utc_offset_minutes) + DAY_MS).max(0) as u64;
    let mut workers: Vec<(String, String)> = identity::list_users(conn)?
        .into_iter()
        .filter(|u| u.active && u.role == Role::Worker && dir.level(&u.scope) == Some(Level::Grid))
        .filter(|u| dir.is_within(&u.scope, Some(place)))
        .map(|u| (u.scope, u.name))
        .collect();
    workers.sort();
    let mut find = conn.prepare_cached(
        "SELECT status, filed_ms, received_ms FROM daily_reports WHERE worker = ?1 AND date = ?2",
    )?;
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
        let filed: Option<(String, i64, i64)> = find
            .query_row(params![worker, date.to_string()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        let line = match filed {
            Some((status, filed_ms, received_ms)) => {
                let filing = if (filed_ms as u64) < deadline_ms { Filing::OnTime } else { Filing::Late };
                WorkerLine {
                    worker,
                    place: grid,
                    filing,
                    status: Some(status),
                    filed_ms: Some(filed_ms as u64),
                    received_ms: Some(received_ms as u64),
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
    Ok(out)
}

/// [`daily`] for `actor` (an audit actor: `cli`, `user:NAME`), reading the
/// directory as it stands and auditing the read (`report.daily`): a
/// completeness list names workers, so reading it is recorded like any
/// export of the ledgers. An unknown place is refused.
pub fn daily_audited(
    conn: &Connection,
    now: u64,
    actor: &str,
    place: &str,
    date: Date,
    utc_offset_minutes: i32,
) -> Result<Completeness, WriteError> {
    let dir = directory::load(conn)?;
    if dir.place(place).is_none() {
        return Err(WriteError::Refused(ApiError::new(
            gridsync_proto::ErrorCode::UnknownPlace,
            "no such place",
        )));
    }
    let report = daily(conn, &dir, place, date, utc_offset_minutes)?;
    audit::append(conn, now, &Event::new(actor, "report.daily", place, "ok").detail(format!("date={date}")))?;
    Ok(report)
}
