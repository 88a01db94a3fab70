//! One place's month, fed one record at a time: the statistics table's
//! figures accumulate, and each dispute on the books comes back as its
//! register row at once, so nothing per dispute is kept.

use std::collections::{BTreeMap, BTreeSet};

use gridsync_proto::{Date, Directory, RecordKind, RecordState, Value};

use super::dispute::Dispute;
use super::lines::{Lines, place_name};
use super::mask::Disclosure;
use super::period::Period;
use super::register::{RegisterHead, RegisterRow};
use super::sheet::{Book, Sheet};
use super::table::{DisputeFigures, MonthTable, TableLine, WorkFigures};
use super::{AsOf, LedgerError, MonthParams, register};
use crate::service::reports::{Completeness, Filing, WorkerLine};

/// Whether counting a dispute builds its register row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rows {
    /// Build it: the register is wanted.
    Built,
    /// Count the figures only (a trend).
    Skipped,
}

/// The patrols and visits of one grid in one month.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct WorkTally {
    /// Patrols started in the month.
    pub(crate) patrols: u32,
    /// Visits made in the month.
    pub(crate) visits: u32,
}

/// A place's month in the making.
#[derive(Debug)]
pub struct MonthLedger<'d> {
    dir: &'d Directory,
    params: MonthParams,
    period: Period,
    lines: Lines,
    disclosure: Disclosure,
    categories: Vec<BTreeMap<String, DisputeFigures>>,
    work: Vec<WorkFigures>,
    days: BTreeSet<Date>,
}

impl<'d> MonthLedger<'d> {
    /// The month of `params.place` (any level: its lines are its child
    /// places and its own). Refuses a place the directory does not know.
    pub fn new(dir: &'d Directory, params: MonthParams) -> Result<Self, LedgerError> {
        let lines =
            Lines::new(dir, &params.place).ok_or_else(|| LedgerError::UnknownPlace(params.place.clone()))?;
        let n = lines.heads.len();
        Ok(Self {
            dir,
            period: params.month.period(params.utc_offset_minutes),
            disclosure: Disclosure::for_role(params.reader),
            params,
            lines,
            categories: vec![BTreeMap::new(); n],
            work: vec![WorkFigures::default(); n],
            days: BTreeSet::new(),
        })
    }

    /// The position (and time) the month is computed as of.
    pub fn as_of(&self) -> AsOf {
        self.params.as_of
    }

    /// The month's span, from local midnight of its first day to the next
    /// month's.
    pub fn period(&self) -> Period {
        self.period
    }

    /// Counts one record of any kind: a dispute registered within the place
    /// (by its `registered_at`) counts in its line and category and, if it
    /// was open at some point of the month, comes back as its register row;
    /// a patrol or visit counts in its grid's line when its `started_ms` or
    /// `visited_ms` lies in the month. Anything else is passed over.
    pub fn add(&mut self, record: &RecordState) -> Option<RegisterRow> {
        match record.kind() {
            RecordKind::Dispute => self.add_dispute(record),
            RecordKind::Patrol => {
                if let Some(line) = self.work_line(record, "started_ms") {
                    self.work[line].patrols += 1;
                }
                None
            }
            RecordKind::Visit => {
                if let Some(line) = self.work_line(record, "visited_ms") {
                    self.work[line].visits += 1;
                }
                None
            }
            _ => None,
        }
    }

    fn work_line(&self, record: &RecordState, time_field: &str) -> Option<usize> {
        let Some(Value::Text(grid)) = record.value("grid") else { return None };
        let Some(Value::Int(at)) = record.value(time_field) else { return None };
        self.period.contains(*at).then(|| self.lines.line_of(grid)).flatten()
    }

    fn add_dispute(&mut self, record: &RecordState) -> Option<RegisterRow> {
        self.add_read_dispute(&Dispute::of(record)?, Rows::Built)
    }

    /// Counts a dispute already read ([`Dispute::of`]) as [`Self::add`]
    /// counts its record; answers its register row if `rows` asks for it.
    pub(crate) fn add_read_dispute(&mut self, d: &Dispute, rows: Rows) -> Option<RegisterRow> {
        let line = self.count_read_dispute(d)?;
        if rows == Rows::Skipped {
            return None;
        }
        self.row_of(d, line)
    }

    /// Counts a dispute already read; answers its line when it is on the
    /// month's books (and so has a register row, [`Self::row_of`]).
    pub(crate) fn count_read_dispute(&mut self, d: &Dispute) -> Option<usize> {
        let line = self.lines.line_of(&d.registered_at)?;
        let f = d.within(self.period)?;
        if !f.on_books() {
            // Closed before the month: nothing of it counts.
            return None;
        }
        let categories = &mut self.categories[line];
        match categories.get_mut(&d.category) {
            Some(figures) => figures.count(&f, self.dir),
            None => categories.entry(d.category.clone()).or_default().count(&f, self.dir),
        }
        Some(line)
    }

    /// The register row of a dispute on the books, in `line`
    /// ([`Self::count_read_dispute`]). Its canonical place among the rows
    /// ([`RegisterRow::key`]) is `(line, registered_at, id)`.
    pub(crate) fn row_of(&self, d: &Dispute, line: usize) -> Option<RegisterRow> {
        let f = d.within(self.period)?;
        Some(RegisterRow::build(
            d,
            &f,
            (&self.lines.heads[line], line),
            self.dir,
            self.disclosure,
            self.period.end_ms,
            self.params.utc_offset_minutes,
        ))
    }

    /// Counts `tally`, the patrols and visits of the month in `grid`, as
    /// [`Self::add`] counts them one record at a time (a grid outside the
    /// place is passed over). Give each grid's tally for the month once.
    pub(crate) fn add_work(&mut self, grid: &str, tally: WorkTally) {
        if let Some(line) = self.lines.line_of(grid) {
            self.work[line].patrols += u64::from(tally.patrols);
            self.work[line].visits += u64::from(tally.visits);
        }
    }

    /// Counts one day's daily-report completeness for the place (from
    /// [`crate::service::reports::daily`]): each worker listed is a
    /// worker-day of their grid's line, filed on time, late or missing.
    /// Give each day of the month that should count once; a day outside
    /// the month, a day given twice or figures for another place are refused.
    pub fn add_completeness(&mut self, day: &Completeness) -> Result<(), LedgerError> {
        if day.place != self.params.place {
            return Err(LedgerError::OtherPlace {
                expected: self.params.place.clone(),
                got: day.place.clone(),
            });
        }
        self.count_day(day.date, day.workers.iter())
    }

    /// Counts one day's filings of the workers given (those outside the
    /// place are passed over); the day must be in the month, once.
    pub(crate) fn count_day<'w>(
        &mut self,
        date: Date,
        workers: impl Iterator<Item = &'w WorkerLine>,
    ) -> Result<(), LedgerError> {
        if !self.period.contains(date.start_ms(self.params.utc_offset_minutes)) {
            return Err(LedgerError::OutsideMonth(date));
        }
        if !self.days.insert(date) {
            return Err(LedgerError::DayTwice(date));
        }
        for worker in workers {
            let Some(line) = self.lines.line_of(&worker.place) else { continue };
            let w = &mut self.work[line];
            w.worker_days += 1;
            match worker.filing {
                Filing::OnTime => w.reports_on_time += 1,
                Filing::Late => w.reports_late += 1,
                Filing::Missing => w.reports_missing += 1,
            }
        }
        Ok(())
    }

    /// The days whose completeness was given.
    pub fn days_given(&self) -> impl Iterator<Item = Date> + '_ {
        self.days.iter().copied()
    }

    /// What the register's sheet needs besides its rows.
    pub fn register_head(&self) -> RegisterHead {
        RegisterHead {
            place: self.params.place.clone(),
            place_name: place_name(self.dir, &self.params.place),
            month: self.params.month,
            utc_offset_minutes: self.params.utc_offset_minutes,
            as_of: self.params.as_of,
            names_shown: self.disclosure == Disclosure::Names,
            locked: None,
        }
    }

    /// The finished table.
    pub fn finish(self) -> MonthTable {
        let lines = self
            .lines
            .heads
            .into_iter()
            .zip(self.categories)
            .zip(self.work)
            .map(|((head, categories), work)| TableLine {
                code: head.code,
                name: head.name,
                kind: head.kind,
                categories,
                work,
            })
            .collect();
        MonthTable {
            place_name: place_name(self.dir, &self.params.place),
            place: self.params.place,
            month: self.params.month,
            utc_offset_minutes: self.params.utc_offset_minutes,
            as_of: self.params.as_of,
            names_shown: self.disclosure == Disclosure::Names,
            locked: None,
            lines,
        }
    }
}

impl MonthTable {
    /// What the register's sheet needs besides its rows.
    pub fn register_head(&self) -> RegisterHead {
        RegisterHead {
            place: self.place.clone(),
            place_name: self.place_name.clone(),
            month: self.month,
            utc_offset_minutes: self.utc_offset_minutes,
            as_of: self.as_of,
            names_shown: self.names_shown,
            locked: self.locked.clone(),
        }
    }

    /// The month's workbook: the table, then the register over `rows`
    /// (give them in their canonical order, [`register::sort`]).
    pub fn book<'a>(&'a self, rows: impl Iterator<Item = RegisterRow> + 'a) -> Book<'a> {
        let sheets: Vec<Sheet<'a>> = vec![self.sheet(), register::sheet(&self.register_head(), rows)];
        Book {
            title: format!("{}{}矛盾纠纷一表一帐", self.place_name, self.month.label()),
            as_of_ms: self.as_of.time_ms,
            sheets,
        }
    }
}
