//! The ledgers' index: what a month's ledgers read of the records, kept in
//! the service's memory and brought up to date from the log before each
//! read, so that a month on screen costs what the month holds, not what the
//! deployment ever recorded.
//!
//! A month's ledgers need, of every record, only this: each dispute as the
//! ledgers read it ([`Dispute`]: its registration, its applied moves, the
//! few fields the register shows), and each patrol's or visit's grid and
//! month. The index keeps exactly that — the disputes by id, and the patrols
//! and visits tallied by month and grid — and reads again only the records
//! saved after the log position it last read
//! ([`crate::storage::SyncLogRead::records_updated`]), each replacing what
//! the index held of it. A month is then computed from the index with the
//! same [`MonthLedger`] the full read uses, so both give the same ledgers
//! (tested: `an_indexed_month_is_the_month_read_whole`).
//!
//! The index is held (an async read-write lock) *before* the snapshot is
//! taken, so a snapshot is never older than what the index holds. Reads
//! share it while the log has not moved; one that finds the log moved on
//! holds it alone to bring it up to date ([`super::Service::read_indexed`]).
//! A log that went backwards (a restore) starts it afresh, as a restart
//! does.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use gridsync_proto::{Date, RecordId, RecordKind, RecordState, Value};

use super::{LEDGER_KINDS, RowWindow};
use crate::error::{CoreResult, StorageError};
use crate::ledger::{Dispute, Month, MonthLedger, RegisterRow, Rows, WorkTally};
use crate::storage::ReadTx;

/// What the index holds of one patrol or visit: where and when it counts.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Work {
    kind: RecordKind,
    grid: Arc<str>,
    month: Month,
}

/// The records as the ledgers read them, as of a log position.
#[derive(Debug)]
pub(crate) struct LedgerIndex {
    /// The deployment's time zone (the months' bounds).
    utc_offset_minutes: i32,
    /// The log position read up to.
    high: u64,
    /// Each dispute, read.
    disputes: BTreeMap<RecordId, Dispute>,
    /// Each patrol and visit that counts in some month.
    work: HashMap<RecordId, Work>,
    /// The patrols and visits by month, then grid.
    tally: BTreeMap<Month, HashMap<Arc<str>, WorkTally>>,
    /// The grids' codes, each held once.
    grids: HashSet<Arc<str>>,
}

impl LedgerIndex {
    /// An empty index for a deployment `utc_offset_minutes` east of UTC.
    pub(crate) fn new(utc_offset_minutes: i32) -> Self {
        Self {
            utc_offset_minutes,
            high: 0,
            disputes: BTreeMap::new(),
            work: HashMap::new(),
            tally: BTreeMap::new(),
            grids: HashSet::new(),
        }
    }

    /// The log position the index stands at.
    pub(crate) fn high(&self) -> u64 {
        self.high
    }

    /// Reads the records saved after the last position read, up to the
    /// snapshot's safe high-water mark, counting them into `read`.
    pub(crate) fn catch_up(&mut self, tx: &mut dyn ReadTx, read: &AtomicU64) -> CoreResult<()> {
        let high = tx.high_water()?;
        if high < self.high {
            // The log went backwards (restored from a backup): start afresh.
            *self = Self::new(self.utc_offset_minutes);
        }
        if high == self.high {
            return Ok(());
        }
        for kind in LEDGER_KINDS {
            let mut corrupt = false;
            tx.records_updated(kind, self.high, high, usize::MAX, &mut |_, bytes| {
                read.fetch_add(1, Ordering::Relaxed);
                match RecordState::from_bytes(bytes) {
                    Ok(record) => self.put(&record),
                    Err(_) => corrupt = true,
                }
            })?;
            if corrupt {
                // What was read is kept (each record replaces its own
                // entry); the position stays, so the next read tries again.
                return Err(StorageError::corrupt("a record's state").into());
            }
        }
        self.high = high;
        Ok(())
    }

    /// Replaces what the index holds of `record` with what it says now.
    fn put(&mut self, record: &RecordState) {
        let id = record.id();
        match record.kind() {
            RecordKind::Dispute => match Dispute::of(record) {
                Some(d) => {
                    self.disputes.insert(id, d);
                }
                None => {
                    self.disputes.remove(&id);
                }
            },
            kind @ (RecordKind::Patrol | RecordKind::Visit) => {
                let now = self.work_of(record);
                if self.work.get(&id) == now.as_ref() {
                    return;
                }
                if let Some(before) = self.work.remove(&id) {
                    self.count(&before, false);
                }
                if let Some(now) = now {
                    debug_assert_eq!(now.kind, kind);
                    self.count(&now, true);
                    self.work.insert(id, now);
                }
            }
            _ => {}
        }
    }

    /// Where and when a patrol or visit counts, as [`MonthLedger::add`]
    /// reads it: its grid, and the month of its start or visit.
    fn work_of(&mut self, record: &RecordState) -> Option<Work> {
        let field = match record.kind() {
            RecordKind::Patrol => "started_ms",
            RecordKind::Visit => "visited_ms",
            _ => return None,
        };
        let (Some(Value::Text(grid)), Some(Value::Int(at))) = (record.value("grid"), record.value(field))
        else {
            return None;
        };
        let (year, month, _) = Date::of_millis(*at, self.utc_offset_minutes)?.ymd();
        let month = Month::new(year, month)?;
        let grid = match self.grids.get(grid.as_str()) {
            Some(held) => held.clone(),
            None => {
                let new: Arc<str> = Arc::from(grid.as_str());
                self.grids.insert(new.clone());
                new
            }
        };
        Some(Work { kind: record.kind(), grid, month })
    }

    /// Adds (or takes back) one patrol or visit in its month's tally.
    fn count(&mut self, work: &Work, add: bool) {
        let grids = self.tally.entry(work.month).or_default();
        let tally = grids.entry(work.grid.clone()).or_default();
        let n = if work.kind == RecordKind::Patrol { &mut tally.patrols } else { &mut tally.visits };
        *n = if add { n.saturating_add(1) } else { n.saturating_sub(1) };
        if *tally == WorkTally::default() {
            grids.remove(&work.grid);
            if grids.is_empty() {
                self.tally.remove(&work.month);
            }
        }
    }

    /// Every dispute held, by id.
    pub(crate) fn disputes(&self) -> impl Iterator<Item = &Dispute> {
        self.disputes.values()
    }

    /// Feeds `ledger` (of `month`) every record it counts, as a full read
    /// would; answers the register's rows if `rows` asks for them (in no
    /// particular order: sort them).
    pub(crate) fn feed(&self, ledger: &mut MonthLedger<'_>, month: Month, rows: Rows) -> Vec<RegisterRow> {
        let mut out = Vec::new();
        for dispute in self.disputes.values() {
            out.extend(ledger.add_read_dispute(dispute, rows));
        }
        self.feed_work(ledger, month);
        out
    }

    /// [`Self::feed`], building only the register rows of `window` (in
    /// their canonical order); answers them and how many rows the register
    /// has. The rest are counted, ordered by their keys, and not built.
    pub(crate) fn feed_window(
        &self,
        ledger: &mut MonthLedger<'_>,
        month: Month,
        window: RowWindow,
    ) -> (Vec<RegisterRow>, usize) {
        let mut on_books: Vec<(u32, &str, RecordId, usize, &Dispute)> = Vec::new();
        for d in self.disputes.values() {
            if let Some(line) = ledger.count_read_dispute(d) {
                let position = u32::try_from(line).unwrap_or(u32::MAX);
                on_books.push((position, d.registered_at.as_str(), d.id, line, d));
            }
        }
        self.feed_work(ledger, month);
        // The key of `RegisterRow::key`, unique by id.
        on_books.sort_unstable_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
        let rows = on_books
            .iter()
            .skip(window.skip)
            .take(window.take)
            .filter_map(|(_, _, _, line, d)| ledger.row_of(d, *line))
            .collect();
        (rows, on_books.len())
    }

    fn feed_work(&self, ledger: &mut MonthLedger<'_>, month: Month) {
        for (grid, tally) in self.tally.get(&month).into_iter().flatten() {
            ledger.add_work(grid, *tally);
        }
    }
}
