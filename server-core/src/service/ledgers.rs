//! The merged ledgers as service operations: a place's month (the
//! statistics table and the classified dispute register) and a quarter's
//! rankings, computed by [`crate::ledger`] from the records of one read
//! snapshot.
//!
//! A ledger is **as of a log position**: the snapshot's safe high-water
//! mark ([`crate::storage::SyncLogRead::high_water`]), with the receipt
//! time of the change at that position as its time. Both come from the data,
//! never from the clock, so the same log gives the same ledger, and the
//! exported files name the position they were computed at.
//!
//! A **locked** month ([`super::locks`]) is answered from its lock: the
//! same ledgers, as of the lock's position, whatever arrived since.
//!
//! A live month is computed from the ledgers' index ([`index`]): what the
//! ledgers read of the records, kept in memory and brought up to the
//! snapshot before each read, so that a month costs what it holds.
//!
//! Who may: administrators, county and township administrators and
//! auditors, for a place within their scope (and the operator). The
//! parties' names are masked for the roles [`crate::policy::sees_party_names`]
//! refuses. Every ledger read is audited (`ledger.month`, `ledger.ranking`),
//! as any export of the ledgers is.

pub(crate) mod index;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use gridsync_proto::{Date, Directory, ErrorCode, RecordKind, RecordState, Role};

use super::{Caller, Service};
use crate::audit::Event;
use crate::error::{CoreError, CoreResult, Refusal, StorageError};
use crate::home;
use crate::ledger::{
    AsOf, LedgerError, LockedMonth, Month, MonthLedger, MonthParams, MonthTable, Quarter, QuarterParams,
    QuarterRanking, Rankings, RegisterRow, Rows, register, sheet::Book,
};
use crate::service::reports;
use crate::storage::{ReadTx, StorageExt, StorageResult};
use index::LedgerIndex;

/// A month's ledgers for a place: the table and the register's rows, in
/// their canonical order.
#[derive(Debug, Clone)]
pub struct MonthLedgers {
    /// The monthly statistics table.
    pub table: MonthTable,
    /// The classified dispute register, one row per dispute.
    pub rows: Vec<RegisterRow>,
}

/// Which of a register's rows to build, in their canonical order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowWindow {
    /// Rows passed over.
    pub skip: usize,
    /// Most rows built after them.
    pub take: usize,
}

/// A month's table and one window of its register (a page on screen).
#[derive(Debug, Clone)]
pub struct MonthPage {
    /// The monthly statistics table.
    pub table: MonthTable,
    /// The window's rows, in the register's canonical order.
    pub rows: Vec<RegisterRow>,
    /// The first row's number in the register (from 1).
    pub first_number: usize,
    /// How many rows the register has.
    pub total_rows: usize,
}

impl MonthLedgers {
    /// The month's workbook: the table, then the register.
    pub fn book(&self) -> Book<'_> {
        self.table.book(self.rows.iter().cloned())
    }
}

/// The record kinds the ledgers read.
pub(crate) const LEDGER_KINDS: [RecordKind; 3] = [RecordKind::Dispute, RecordKind::Patrol, RecordKind::Visit];

impl Service {
    /// `place`'s ledgers of `month`, as of the log's current safe position.
    /// Refused with `unknown_place` for a place the directory does not
    /// know, `forbidden` outside the caller's scope.
    pub async fn month_ledgers(
        &self,
        caller: &Caller,
        place: &str,
        month: Month,
    ) -> CoreResult<MonthLedgers> {
        self.month_ledgers_counted(caller, place, month, Arc::default()).await
    }

    /// [`Self::month_ledgers`], counting the records read into `read` as it
    /// goes (for a progress display).
    pub async fn month_ledgers_counted(
        &self,
        caller: &Caller,
        place: &str,
        month: Month,
        read: Arc<AtomicU64>,
    ) -> CoreResult<MonthLedgers> {
        let offset = self.settings.utc_offset_minutes;
        self.read_month(
            caller,
            place,
            month,
            |(table, rows)| MonthLedgers { table, rows },
            move |tx, dir, index, place, reader| {
                let index = index.at(tx, &read)?;
                live_month(tx, dir, index, place, month, offset, reader)
            },
            |ledgers| (ledgers.table.as_of, ledgers.table.locked.is_some(), String::new()),
        )
        .await
    }

    /// [`Self::month_ledgers`] with only `window` of the register built:
    /// what a page on screen shows. The table and the row count are the
    /// whole month's; audited as `ledger.month`.
    pub async fn month_page(
        &self,
        caller: &Caller,
        place: &str,
        month: Month,
        window: RowWindow,
    ) -> CoreResult<MonthPage> {
        let offset = self.settings.utc_offset_minutes;
        let page = move |table, rows, total_rows| MonthPage {
            table,
            rows,
            first_number: window.skip + 1,
            total_rows,
        };
        self.read_month(
            caller,
            place,
            month,
            move |(table, rows): (MonthTable, Vec<RegisterRow>)| {
                let total_rows = rows.len();
                page(table, rows.into_iter().skip(window.skip).take(window.take).collect(), total_rows)
            },
            move |tx, dir, index, place, reader| {
                let index = index.at(tx, &AtomicU64::default())?;
                let params = month_params(tx, place, month, offset, reader)?;
                let mut ledger = MonthLedger::new(dir, params).map_err(refused)?;
                let (rows, total_rows) = index.feed_window(&mut ledger, month, window);
                add_reports(tx, dir, &mut ledger, place, month, offset)?;
                Ok(page(ledger.finish(), rows, total_rows))
            },
            |page| {
                let rows = format!(" rows={}+{}", window.skip, page.rows.len());
                (page.table.as_of, page.table.locked.is_some(), rows)
            },
        )
        .await
    }

    /// The townships and departments of `place` ranked for `quarter`, as of
    /// the log's current safe position, from the ledgers' index. Refused as
    /// [`Self::month_ledgers`].
    pub async fn quarter_rankings(
        &self,
        caller: &Caller,
        place: &str,
        quarter: Quarter,
    ) -> CoreResult<Rankings> {
        let (caller2, place2) = (caller.clone(), place.to_owned());
        let offset = self.settings.utc_offset_minutes;
        let read = self
            .read_indexed(move |tx, dir, index| {
                authorize(&caller2, dir, &place2)?;
                let index = index.at(tx, &AtomicU64::default())?;
                let params = QuarterParams {
                    place: place2.clone(),
                    quarter,
                    utc_offset_minutes: offset,
                    as_of: as_of(tx)?,
                };
                let mut ranking = QuarterRanking::new(dir, params).map_err(refused)?;
                index.disputes().for_each(|d| ranking.add_read(d));
                Ok(ranking.finish())
            })
            .await;
        let rankings = self.audited(caller, "ledger.ranking", place, read).await?;
        let detail = format!("quarter={quarter} as_of={}", rankings.as_of.log_position);
        self.audit(Event::new(caller.audit_name(), "ledger.ranking", place, "ok").detail(detail)).await?;
        Ok(rankings)
    }
}

impl Service {
    /// Reads `place`'s `month` for `caller`: a locked month from its lock,
    /// given to `locked` with what the caller's role may see; otherwise
    /// computed by `live` (with the index, the place and the reader's role).
    /// Audited as `ledger.month` with the position, and `detail`'s words.
    async fn read_month<T, L, V, D>(
        &self,
        caller: &Caller,
        place: &str,
        month: Month,
        locked: L,
        live: V,
        detail: D,
    ) -> CoreResult<T>
    where
        T: Send + 'static,
        L: Fn((MonthTable, Vec<RegisterRow>)) -> T + Send + Sync + 'static,
        V: Fn(&mut dyn ReadTx, &Directory, &mut IndexAccess<'_>, &str, Role) -> CoreResult<T>
            + Send
            + Sync
            + 'static,
        D: FnOnce(&T) -> (AsOf, bool, String),
    {
        let (caller2, place2) = (caller.clone(), place.to_owned());
        let result = self
            .read_indexed(move |tx, dir, index| {
                let reader = authorize(&caller2, dir, &place2)?;
                if let Some(lock) = locked_month(tx, dir, &place2, month)? {
                    return Ok(locked(lock.for_reader(reader)));
                }
                live(tx, dir, index, &place2, reader)
            })
            .await;
        let answer = self.audited(caller, "ledger.month", place, result).await?;
        let (as_of, is_locked, more) = detail(&answer);
        let lock = if is_locked { " locked" } else { "" };
        let detail = format!("month={month} as_of={}{lock}{more}", as_of.log_position);
        self.audit(Event::new(caller.audit_name(), "ledger.month", place, "ok").detail(detail)).await?;
        Ok(answer)
    }

    /// Runs `work` on a read snapshot with the ledgers' index
    /// ([`IndexAccess::at`] brings it to the snapshot when `work` reads it).
    ///
    /// First with the index shared, so reads run side by side: the snapshot
    /// is taken while the index is held and cannot move, so it is never
    /// older than the index. If the log moved on since the index was last
    /// brought up to date, `work` runs again on a new snapshot with the index
    /// held alone, and brings it there.
    pub(super) async fn read_indexed<T, F>(&self, work: F) -> CoreResult<T>
    where
        T: Send + 'static,
        F: Fn(&mut dyn ReadTx, &Directory, &mut IndexAccess<'_>) -> CoreResult<T> + Send + Sync + 'static,
    {
        let work = Arc::new(work);
        let shared = self.ledger_index.clone().read_owned().await;
        let (cache, again, behind) = (self.directory.clone(), work.clone(), Arc::new(AtomicBool::new(false)));
        let flag = behind.clone();
        let first = self
            .storage
            .read(move |tx| {
                let (_, dir) = cache.get(tx)?;
                let mut access = IndexAccess { held: Held::Shared(&shared), behind: &flag };
                again(tx, &dir, &mut access)
            })
            .await;
        if !behind.load(Ordering::Acquire) {
            return first;
        }
        let mut alone = self.ledger_index.clone().write_owned().await;
        let cache = self.directory.clone();
        self.storage
            .read(move |tx| {
                let (_, dir) = cache.get(tx)?;
                let unused = AtomicBool::new(false);
                let mut access = IndexAccess { held: Held::Exclusive(&mut alone), behind: &unused };
                work(tx, &dir, &mut access)
            })
            .await
    }
}

/// The ledgers' index as one read holds it.
pub(crate) struct IndexAccess<'a> {
    held: Held<'a>,
    /// Set when the index, held shared, is behind the snapshot.
    behind: &'a AtomicBool,
}

/// How the index is held.
enum Held<'a> {
    /// Beside other reads: it cannot be brought up to date.
    Shared(&'a LedgerIndex),
    /// Alone.
    Exclusive(&'a mut LedgerIndex),
}

impl IndexAccess<'_> {
    /// The index at the snapshot's position, counting the records read to
    /// bring it there into `read`. Held shared and behind the snapshot, it
    /// answers an error, and the read runs again with the index held alone
    /// ([`Service::read_indexed`]).
    pub(crate) fn at(&mut self, tx: &mut dyn ReadTx, read: &AtomicU64) -> CoreResult<&LedgerIndex> {
        match &mut self.held {
            Held::Exclusive(index) => {
                index.catch_up(tx, read)?;
                Ok(index)
            }
            Held::Shared(index) => {
                if index.high() == tx.high_water()? {
                    return Ok(index);
                }
                self.behind.store(true, Ordering::Release);
                Err(StorageError::unavailable("the ledgers' index is behind the snapshot: read again").into())
            }
        }
    }
}

/// `place`'s month computed now from `index`, brought up to the snapshot
/// (as if every record of the snapshot were read), and the daily reports,
/// for a reader with `reader`'s role.
pub(super) fn live_month(
    tx: &mut dyn ReadTx,
    dir: &Directory,
    index: &LedgerIndex,
    place: &str,
    month: Month,
    offset: i32,
    reader: Role,
) -> CoreResult<MonthLedgers> {
    let params = month_params(tx, place, month, offset, reader)?;
    if params.as_of.log_position != index.high() {
        return Err(StorageError::corrupt("the ledgers' index is not at the snapshot's position").into());
    }
    let mut ledger = MonthLedger::new(dir, params).map_err(refused)?;
    let mut rows = index.feed(&mut ledger, month, Rows::Built);
    add_reports(tx, dir, &mut ledger, place, month, offset)?;
    register::sort(&mut rows);
    Ok(MonthLedgers { table: ledger.finish(), rows })
}

/// A live month's parameters, as of the snapshot's position.
fn month_params(
    tx: &mut dyn ReadTx,
    place: &str,
    month: Month,
    offset: i32,
    reader: Role,
) -> CoreResult<MonthParams> {
    Ok(MonthParams { place: place.to_owned(), month, utc_offset_minutes: offset, reader, as_of: as_of(tx)? })
}

/// Counts the daily reports of the month's days that had ended by the
/// ledger's time, read in one go.
fn add_reports(
    tx: &mut dyn ReadTx,
    dir: &Directory,
    ledger: &mut MonthLedger<'_>,
    place: &str,
    month: Month,
    offset: i32,
) -> CoreResult<()> {
    let days = ended_days(month, offset, ledger.as_of());
    if let (Some(first), Some(last)) = (days.first(), days.last()) {
        for day in reports::daily_span(tx, dir, place, *first, *last, offset)? {
            ledger.add_completeness(&day).map_err(refused)?;
        }
    }
    Ok(())
}

/// `place`'s month read whole from the records of the snapshot, record by
/// record, as [`live_month`] computes it from the index: what the index is
/// tested against, counting the records read into `read`.
#[cfg(feature = "conformance")]
pub(crate) fn month_read_whole(
    tx: &mut dyn ReadTx,
    dir: &Directory,
    place: &str,
    month: Month,
    offset: i32,
    reader: Role,
) -> CoreResult<MonthLedgers> {
    let as_of = as_of(tx)?;
    let params = MonthParams { place: place.to_owned(), month, utc_offset_minutes: offset, reader, as_of };
    let mut ledger = MonthLedger::new(dir, params).map_err(refused)?;
    let mut rows = Vec::new();
    each_state(tx, &mut |state| rows.extend(ledger.add(state)))?;
    for day in ended_days(month, offset, as_of) {
        let completeness = reports::daily(tx, dir, place, day, offset)?;
        ledger.add_completeness(&completeness).map_err(refused)?;
    }
    register::sort(&mut rows);
    Ok(MonthLedgers { table: ledger.finish(), rows })
}

/// The days of `month` that had ended by `as_of`'s time: the days whose
/// daily reports count.
pub(super) fn ended_days(month: Month, offset: i32, as_of: AsOf) -> Vec<Date> {
    month.days().filter(|d| d.next().is_some_and(|n| n.start_ms(offset) <= as_of.time_ms)).collect()
}

/// `place`'s locked `month`, if it is locked.
pub(super) fn locked_month(
    tx: &mut dyn ReadTx,
    dir: &Directory,
    place: &str,
    month: Month,
) -> CoreResult<Option<LockedMonth>> {
    let Some(row) = tx.month_lock(place, &home::bucket(dir, place), &month.to_string())? else {
        return Ok(None);
    };
    let locked =
        LockedMonth::decode(&row.body).map_err(|e| StorageError::corrupt(format!("{e}: {place} {month}")))?;
    Ok(Some(locked))
}

/// Refuses an unknown place or a caller who may not read it; answers the
/// role whose masking applies (the operator reads as an administrator).
pub(super) fn authorize(caller: &Caller, dir: &Directory, place: &str) -> CoreResult<Role> {
    caller.require_reader_of(dir, place, |_| true)?;
    Ok(caller.user().map_or(Role::Administrator, |u| u.role))
}

/// The snapshot's safe position and the receipt time of the change there.
pub(super) fn as_of(tx: &mut dyn ReadTx) -> StorageResult<AsOf> {
    let log_position = tx.high_water()?;
    let mut time_ms = 0;
    if log_position > 0 {
        tx.scan(log_position - 1, log_position, 1, None, &mut |row| {
            time_ms = i64::try_from(row.received_ms).unwrap_or(i64::MAX);
            false
        })?;
    }
    Ok(AsOf { log_position, time_ms })
}

/// Passes every dispute, patrol and visit to `each`, one at a time.
pub(super) fn each_state(tx: &mut dyn ReadTx, each: &mut dyn FnMut(&RecordState)) -> CoreResult<()> {
    for kind in LEDGER_KINDS {
        stream(tx, kind, &mut |bytes| decode(bytes).map(|s| each(&s)))?;
    }
    Ok(())
}

/// Streams the states of `kind` through `each`, stopping at its first error.
pub(super) fn stream(
    tx: &mut dyn ReadTx,
    kind: RecordKind,
    each: &mut dyn FnMut(&[u8]) -> Result<(), StorageError>,
) -> CoreResult<()> {
    let mut failed = None;
    tx.each_record(kind, &mut |bytes| match each(bytes) {
        Ok(()) => true,
        Err(e) => {
            failed = Some(e);
            false
        }
    })?;
    failed.map_or(Ok(()), |e| Err(e.into()))
}

pub(super) fn decode(bytes: &[u8]) -> Result<RecordState, StorageError> {
    RecordState::from_bytes(bytes).map_err(|_| StorageError::corrupt("a record's state"))
}

/// A ledger's refusal of its inputs, with a stable code.
pub(super) fn refused(e: LedgerError) -> CoreError {
    match e {
        LedgerError::UnknownPlace(_) => Refusal::new(ErrorCode::UnknownPlace, e.to_string()).field("place"),
        _ => Refusal::new(ErrorCode::InvalidRequest, e.to_string()),
    }
    .into()
}
