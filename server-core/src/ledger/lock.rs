//! Locked months: a place's ledgers frozen as they stood when the month was
//! locked, so that exporting a locked month again gives the same bytes.
//!
//! Locking a place's month locks it for that place and every place below
//! it, from one read of the records ([`SubtreeMonths`]), so that a
//! township's locked ledger adds up to its line in the county's. What is
//! kept for each place is a [`LockedMonth`]: the statistics table and the
//! register rows as an administrator reads them, with each row's parties
//! also masked for the readers who may not see names
//! ([`LockedMonth::for_reader`]). A change that arrives later is not
//! merged into them: it shows as a correction beside them
//! ([`super::correction`]).

mod format1;

use std::collections::HashMap;

use gridsync_proto::{Directory, Hierarchy, RecordKind, RecordState, Role, Value};
use serde::{Deserialize, Serialize};

use super::dispute;
use super::mask::{self, Disclosure};
use super::sheet::DateTime;
use super::{LedgerError, MonthLedger, MonthParams, MonthTable, RegisterRow};
use crate::service::reports::Completeness;

/// Who locked a month, and when. Printed under a locked month's sheets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockStamp {
    /// When it was locked (Unix ms, the server's time).
    pub locked_ms: i64,
    /// The user who locked it (`operator` for the command line).
    pub locked_by: String,
    /// The place whose lock locked this one (the place itself, or one above it).
    pub root: String,
}

impl LockStamp {
    /// `本月已于 2026-12-05 10:00 锁定（锁定人 wang，随 620802 锁定）…`.
    pub(crate) fn line(&self, offset: i32) -> String {
        format!(
            "本月已于 {} 锁定（锁定人 {}，锁定单位代码 {}）；锁定后到达或修改的数据列入更正表，不并入本表。",
            DateTime::new(self.locked_ms, offset).local_text(),
            self.locked_by,
            self.root
        )
    }
}

/// One register row as locked: with the parties' names, and with them masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockedRow {
    /// The row as a reader who sees names reads it.
    pub row: RegisterRow,
    /// Its parties masked ([`mask::parties`] with [`Disclosure::Masked`]).
    pub masked_parties: String,
}

/// A place's month as locked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockedMonth {
    /// The statistics table (with its [`LockStamp`]).
    pub table: MonthTable,
    /// The register rows, in their canonical order.
    pub rows: Vec<LockedRow>,
}

/// The first byte of an encoded [`LockedMonth`]: the encoding's version.
/// A change to the ledger types it holds needs a new version and a decoder
/// for the old one, or locked months stop opening. Format 2 counts each
/// register row's attachments; format 1 ([`format1`]) is read too.
const FORMAT: u8 = 2;

/// A locked month's stored bytes do not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a locked month's stored ledgers do not decode (format {0})")]
pub struct LockDecodeError(pub u8);

impl LockedMonth {
    /// Its stored form: [`FORMAT`], then postcard.
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_extend(self, vec![FORMAT]).expect("postcard writes the ledger types to a Vec")
    }

    /// Reads a stored form back.
    pub fn decode(bytes: &[u8]) -> Result<Self, LockDecodeError> {
        match bytes.split_first() {
            Some((&FORMAT, rest)) => postcard::from_bytes(rest).map_err(|_| LockDecodeError(FORMAT)),
            Some((&1, rest)) => postcard::from_bytes::<format1::LockedMonthV1>(rest)
                .map(LockedMonth::from)
                .map_err(|_| LockDecodeError(1)),
            Some((&other, _)) => Err(LockDecodeError(other)),
            None => Err(LockDecodeError(0)),
        }
    }

    /// The table and the rows as a reader with `role` reads them: the
    /// parties masked and the summaries left out for the roles
    /// [`Disclosure::for_role`] masks.
    pub fn for_reader(self, role: Role) -> (MonthTable, Vec<RegisterRow>) {
        let mut table = self.table;
        let names = Disclosure::for_role(role) == Disclosure::Names;
        table.names_shown = names;
        let rows = self
            .rows
            .into_iter()
            .map(|locked| {
                let mut row = locked.row;
                if !names {
                    row.parties = locked.masked_parties;
                    row.summary = None;
                }
                row
            })
            .collect();
        (table, rows)
    }
}

/// The months of a place and of every place below it, fed in one pass over
/// the records: each record goes to the months of the places on its way up
/// that lie within the place.
#[derive(Debug)]
pub struct SubtreeMonths<'d> {
    dir: &'d Directory,
    root: String,
    months: Vec<MonthLedger<'d>>,
    rows: Vec<Vec<LockedRow>>,
    index: HashMap<String, usize>,
}

impl<'d> SubtreeMonths<'d> {
    /// The months of `params.place` and every place below it, as an
    /// administrator reads them (`params.reader` is not used).
    pub fn new(dir: &'d Directory, params: MonthParams) -> Result<Self, LedgerError> {
        if dir.place(&params.place).is_none() {
            return Err(LedgerError::UnknownPlace(params.place));
        }
        let mut months = Vec::new();
        let mut index = HashMap::new();
        for code in dir.subtree(Some(&params.place)) {
            let month = MonthParams { place: code.clone(), reader: Role::Administrator, ..params.clone() };
            index.insert(code, months.len());
            months.push(MonthLedger::new(dir, month)?);
        }
        let rows = vec![Vec::new(); months.len()];
        Ok(Self { dir, root: params.place, months, rows, index })
    }

    /// The months a record of `place` counts in.
    fn route(&self, place: &str) -> Vec<usize> {
        self.dir.chain(place).iter().filter_map(|p| self.index.get(&p.code).copied()).collect()
    }

    /// Counts one record of any kind in every month it belongs to
    /// ([`MonthLedger::add`]).
    pub fn add(&mut self, record: &RecordState) {
        let place = match record.kind() {
            RecordKind::Dispute => dispute::registered_at(record),
            RecordKind::Patrol | RecordKind::Visit => match record.value("grid") {
                Some(Value::Text(grid)) => Some(grid.as_str()),
                _ => None,
            },
            _ => None,
        };
        let Some(place) = place else { return };
        let mut masked = None;
        for i in self.route(place) {
            if let Some(row) = self.months[i].add(record) {
                let masked_parties = masked
                    .get_or_insert_with(|| mask::parties(record.value("parties"), Disclosure::Masked))
                    .clone();
                self.rows[i].push(LockedRow { row, masked_parties });
            }
        }
    }

    /// Counts one day's completeness of the root place's workers in every
    /// month ([`MonthLedger::add_completeness`]).
    pub fn add_completeness(&mut self, day: &Completeness) -> Result<(), LedgerError> {
        if day.place != self.root {
            return Err(LedgerError::OtherPlace { expected: self.root.clone(), got: day.place.clone() });
        }
        let mut by_month = vec![Vec::new(); self.months.len()];
        for worker in &day.workers {
            for i in self.route(&worker.place) {
                by_month[i].push(worker);
            }
        }
        for (month, workers) in self.months.iter_mut().zip(by_month) {
            month.count_day(day.date, workers.into_iter())?;
        }
        Ok(())
    }

    /// Every place's locked month, stamped, by place code.
    pub fn finish(self, stamp: &LockStamp) -> Vec<(String, LockedMonth)> {
        self.months
            .into_iter()
            .zip(self.rows)
            .map(|(month, mut rows)| {
                let mut table = month.finish();
                table.locked = Some(stamp.clone());
                rows.sort_by(|a, b| a.row.key().cmp(&b.row.key()));
                (table.place.clone(), LockedMonth { table, rows })
            })
            .collect()
    }
}
