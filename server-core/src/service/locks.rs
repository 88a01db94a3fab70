//! Locked months as service operations: lock a place's month, list the
//! locks, and the corrections that arrived after one.
//!
//! A county admin (or an administrator, or the operator) locks a month of a
//! place within their scope once it has ended: the ledgers of the place and
//! of every place below it are computed from one snapshot and stored
//! ([`crate::ledger::lock`]). From then on [`Service::month_ledgers`]
//! answers those places' month from the lock, byte for byte the same
//! whatever arrives later, and [`Service::month_corrections`] shows what
//! the ledgers computed now say differently, and why. A lock is never
//! replaced or lifted: locking an already locked month answers the lock
//! there is. Every lock and every read of corrections is audited
//! (`ledger.lock`, `ledger.corrections`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use gridsync_proto::{Directory, ErrorCode, Hierarchy, RecordKind, RecordState, Role};

use super::ledgers::{
    IndexAccess, as_of, authorize, decode, each_state, ended_days, live_month, locked_month, refused,
};
use super::{Caller, Service};
use crate::audit::Event;
use crate::clock::now_ms;
use crate::error::{CoreError, CoreResult, StorageError};
use crate::home;
use crate::ledger::correction::LateChange;
use crate::ledger::{Corrections, LateRecords, LockStamp, LockedMonth, Month, MonthParams, SubtreeMonths};
use crate::policy;
use crate::service::reports;
use crate::storage::{MonthLockHead, MonthLockRow, ReadTx, StorageExt};

/// The record kinds whose changes after a lock may correct it.
const CORRECTING_KINDS: [RecordKind; 4] =
    [RecordKind::Dispute, RecordKind::Patrol, RecordKind::Visit, RecordKind::DailyReport];

/// What locking a month did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthLock {
    /// The lock of the place asked for (the one there already was, if any).
    pub head: MonthLockHead,
    /// How many places' months this call locked (the place and those below
    /// it that were not locked yet); 0 when the place was locked already.
    pub places_locked: u64,
}

impl Service {
    /// Locks `place`'s `month` and that of every place below it. Refused
    /// with `unknown_place`, `forbidden` (a caller who may not lock, see
    /// [`policy::may_lock_months`], or outside their scope) and
    /// `invalid_request` for a month that has not ended. A place locked
    /// already answers its lock, unchanged.
    pub async fn lock_month(&self, caller: &Caller, place: &str, month: Month) -> CoreResult<MonthLock> {
        self.lock_month_counted(caller, place, month, Arc::default()).await
    }

    /// [`Self::lock_month`], counting the records read into `read` as it
    /// goes (for a progress display).
    pub async fn lock_month_counted(
        &self,
        caller: &Caller,
        place: &str,
        month: Month,
        read: Arc<AtomicU64>,
    ) -> CoreResult<MonthLock> {
        let (caller2, place2, cache) = (caller.clone(), place.to_owned(), self.directory.clone());
        let offset = self.settings.utc_offset_minutes;
        let locked_ms = i64::try_from(now_ms()).unwrap_or(i64::MAX);
        let locked_by = caller.user().map_or_else(|| "operator".to_owned(), |u| u.name.clone());
        let planned = self
            .storage
            .read(move |tx| {
                let (_, dir) = cache.get(tx)?;
                caller2.require_reader_of(&dir, &place2, policy::may_lock_months)?;
                let end = month.period(offset).end_ms;
                if end > locked_ms {
                    return Err(CoreError::refused(
                        ErrorCode::InvalidRequest,
                        format!("month: {month} has not ended yet; lock it from {} on", month_after(month)),
                    ));
                }
                let township = home::bucket(&dir, &place2);
                if let Some(row) = tx.month_lock(&place2, &township, &month.to_string())? {
                    return Ok(Plan::Locked(row.head));
                }
                let stamp = LockStamp { locked_ms, locked_by, root: place2.clone() };
                Ok(Plan::Store(lock_rows(tx, &dir, &place2, month, offset, &stamp, &read)?))
            })
            .await;
        let plan = self.audited(caller, "ledger.lock", place, planned).await?;
        let rows = match plan {
            Plan::Locked(head) => {
                let detail = format!("month={month} as_of={} locked already", head.as_of_position);
                self.audit(Event::new(caller.audit_name(), "ledger.lock", place, "ok").detail(detail))
                    .await?;
                return Ok(MonthLock { head, places_locked: 0 });
            }
            Plan::Store(rows) => rows,
        };
        let (actor, target) = (caller.audit_name(), place.to_owned());
        let stored = self
            .storage
            .write(move |tx, now| {
                let mut places_locked = 0u64;
                for row in &rows {
                    places_locked += u64::from(tx.put_month_lock(row)?);
                }
                // The place's own row: ours, or the one a concurrent lock stored first.
                let Some(ours) = rows.iter().find(|r| r.head.place == r.head.root) else {
                    return Err(StorageError::corrupt("a lock without its place's month").into());
                };
                let head = match tx.month_lock(&ours.head.place, &ours.township, &ours.head.month)? {
                    Some(row) => row.head,
                    None => ours.head.clone(),
                };
                let detail =
                    format!("month={} as_of={} places={places_locked}", head.month, head.as_of_position);
                tx.append_audit(now, &Event::new(actor, "ledger.lock", target, "ok").detail(detail))?;
                Ok(MonthLock { head, places_locked })
            })
            .await;
        self.audited(caller, "ledger.lock", place, stored).await
    }

    /// The locks asked for, each once (not once per place it covers), of
    /// places within the caller's scope and above it (a county's lock
    /// covers its townships), by month then place.
    pub async fn month_locks(&self, caller: &Caller) -> CoreResult<Vec<MonthLockHead>> {
        self.listing(caller, "ledger.locks", move |tx, caller, cache| {
            let (_, dir) = cache.get(tx)?;
            let scope = caller.user().map(|u| u.scope.clone());
            let visible = |place: &str| match scope.as_deref() {
                None | Some("") => true,
                Some(scope) => dir.is_within(place, Some(scope)) || dir.is_within(scope, Some(place)),
            };
            Ok(tx.month_locks()?.into_iter().filter(|h| visible(&h.place)).collect())
        })
        .await
    }

    /// What the ledgers of `place`'s locked `month` computed now say
    /// differently from the locked ones, and why. Refused as
    /// [`Service::month_ledgers`], and with `invalid_request` for a month
    /// that is not locked.
    pub async fn month_corrections(
        &self,
        caller: &Caller,
        place: &str,
        month: Month,
    ) -> CoreResult<Corrections> {
        self.month_corrections_counted(caller, place, month, Arc::default()).await
    }

    /// [`Self::month_corrections`], counting the records read into `read`
    /// as it goes (for a progress display).
    pub async fn month_corrections_counted(
        &self,
        caller: &Caller,
        place: &str,
        month: Month,
        read: Arc<AtomicU64>,
    ) -> CoreResult<Corrections> {
        let (caller2, place2) = (caller.clone(), place.to_owned());
        let offset = self.settings.utc_offset_minutes;
        let result = self
            .read_indexed(move |tx, dir, index| {
                let reader = authorize(&caller2, dir, &place2)?;
                corrections(tx, dir, index, &place2, month, offset, reader, &read)
            })
            .await;
        let corrections = self.audited(caller, "ledger.corrections", place, result).await?;
        let detail = format!(
            "month={month} as_of={} figures={} disputes={} late={}",
            corrections.now.log_position,
            corrections.figures.len(),
            corrections.disputes.len(),
            corrections.late.len()
        );
        self.audit(Event::new(caller.audit_name(), "ledger.corrections", place, "ok").detail(detail)).await?;
        Ok(corrections)
    }
}

/// What a lock found on its snapshot.
enum Plan {
    /// The place's month was locked already.
    Locked(MonthLockHead),
    /// The rows to store.
    Store(Vec<MonthLockRow>),
}

/// `2027-01-01` for 2026-12: the first day a month may be locked.
fn month_after(month: Month) -> String {
    month.days().last().and_then(|d| d.next()).map_or_else(|| month.to_string(), |d| d.to_string())
}

/// The locked months of `place` and every place below it, computed on one
/// snapshot in one pass over the records.
fn lock_rows(
    tx: &mut dyn ReadTx,
    dir: &Directory,
    place: &str,
    month: Month,
    offset: i32,
    stamp: &LockStamp,
    read: &AtomicU64,
) -> CoreResult<Vec<MonthLockRow>> {
    let as_of = as_of(tx)?;
    let params = MonthParams {
        place: place.to_owned(),
        month,
        utc_offset_minutes: offset,
        reader: Role::Administrator,
        as_of,
    };
    let mut months = SubtreeMonths::new(dir, params).map_err(refused)?;
    each_state(tx, &mut |state| {
        read.fetch_add(1, Ordering::Relaxed);
        months.add(state);
    })?;
    for day in ended_days(month, offset, as_of) {
        months.add_completeness(&reports::daily(tx, dir, place, day, offset)?).map_err(refused)?;
    }
    Ok(months
        .finish(stamp)
        .into_iter()
        .map(|(code, locked)| MonthLockRow {
            township: home::bucket(dir, &code),
            head: MonthLockHead {
                place: code,
                month: month.to_string(),
                root: stamp.root.clone(),
                as_of_position: as_of.log_position,
                as_of_ms: as_of.time_ms,
                locked_ms: stamp.locked_ms,
                locked_by: stamp.locked_by.clone(),
            },
            body: locked.encode(),
        })
        .collect())
}

/// The corrections of `place`'s locked `month`, read on one snapshot.
#[allow(clippy::too_many_arguments)]
fn corrections(
    tx: &mut dyn ReadTx,
    dir: &Directory,
    index: &mut IndexAccess<'_>,
    place: &str,
    month: Month,
    offset: i32,
    reader: Role,
    read: &AtomicU64,
) -> CoreResult<Corrections> {
    let Some(locked) = locked_month(tx, dir, place, month)? else {
        return Err(CoreError::refused(
            ErrorCode::InvalidRequest,
            format!(
                "month: {month} is not locked for {place}: its ledgers are computed live, with nothing to correct"
            ),
        ));
    };
    let LockedMonth { table, rows } = locked;
    let locked_position = table.as_of.log_position;
    let locked_ms = table.locked.as_ref().map_or(table.as_of.time_ms, |s| s.locked_ms);
    let (locked_table, locked_rows) = LockedMonth { table, rows }.for_reader(reader);
    let index = index.at(tx, read)?;
    let now = live_month(tx, dir, index, place, month, offset, reader)?;
    let ids = locked_rows.iter().chain(&now.rows).map(|r| r.id);
    let mut late = LateRecords::new(dir, place, month, offset, locked_ms, ids).map_err(refused)?;
    let high = now.table.as_of.log_position;
    for kind in CORRECTING_KINDS {
        let mut changed: Vec<(RecordState, usize)> = Vec::new();
        let mut failed = None;
        tx.records_updated(kind, locked_position, high, usize::MAX, &mut |_, bytes| match decode(bytes) {
            Ok(state) => {
                if let Some(line) = late.line_of(&state) {
                    changed.push((state, line));
                }
            }
            Err(e) => failed = Some(e),
        })?;
        if let Some(e) = failed {
            return Err(e.into());
        }
        for (state, line) in changed {
            let (changes, existed) = changes_after(tx, dir, &state, locked_position, high)?;
            late.add(&state, line, &changes, existed);
        }
    }
    Ok(Corrections::compare((&locked_table, &locked_rows), (&now.table, &now.rows), late.finish()))
}

/// A record's changes after log position `after`, up to `high`, and
/// whether it had changes at or before `after` (it existed at the lock).
fn changes_after(
    tx: &mut dyn ReadTx,
    dir: &Directory,
    state: &RecordState,
    after: u64,
    high: u64,
) -> CoreResult<(Vec<LateChange>, bool)> {
    let (mut out, mut failed, mut existed) = (Vec::new(), None, false);
    tx.history(state.id(), &home::of_record(dir, state), high, &mut |row| {
        if row.seq <= after {
            existed = true;
            return;
        }
        match row.change() {
            Ok(change) => out.push(LateChange {
                recorded_ms: i64::try_from(change.time.millis).unwrap_or(i64::MAX),
                received_ms: i64::try_from(row.received_ms).unwrap_or(i64::MAX),
                author: change.author,
            }),
            Err(_) => failed = Some(StorageError::corrupt(format!("change {} in the log", row.seq))),
        }
    })?;
    failed.map_or(Ok((out, existed)), |e| Err(e.into()))
}
