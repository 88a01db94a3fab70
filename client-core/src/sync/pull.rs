//! Pulling pages of what changed in the device's scope.

use std::collections::{BTreeSet, HashMap};

use gridsync_proto::wire::{self, Limits};
use gridsync_proto::{
    Applied, Change, Dot, Hlc, LoggedChange, PullRequest, PullResponse, RecordId, RecordState, Snapshot,
};
use rusqlite::{Connection, TransactionBehavior, params};

use super::{StoreAccess, SyncObserver, SyncOptions, SyncPhase, SyncProgress, SyncReport, call, restored};
use crate::crypto::Cipher;
use crate::error::{Error, Result};
use crate::store::sealed::{load_state, open_change, save_clock, save_profile, save_state};
use crate::store::{Store, now_ms};
use crate::transport::Transport;

/// Largest pull answer accepted.
const MAX_PULL_BYTES: usize = 64 * 1024 * 1024;
/// Most changes and record snapshots in one answer (a page may exceed its
/// size to deliver one record's whole history; a page of snapshots holds up
/// to 10,000 records).
const MAX_PULL_CHANGES: usize = 200_000;
/// Remote times further ahead than this do not move the local clock.
const MAX_CLOCK_LEAD_MS: u64 = 24 * 60 * 60 * 1000;

/// The cursor a repaired store presents on its first pull: one no server
/// issues, so the server answers as to any cursor it does not know (a
/// `reset`): it forgets what it thought the device held (the records the
/// device wrote itself, among them) and sends everything in scope whole.
/// Cursor 0 would not do: the server counts a device's own records as
/// held from their push on.
pub(crate) const RESTORE_CURSOR: u64 = u64::MAX;

/// Pulls every page; `Ok(true)` when an answer came from a restored server
/// ([`restored`]): the store was started afresh, and the run pushes and
/// pulls again.
pub(super) fn pull<A: StoreAccess + ?Sized>(
    access: &A,
    transport: &dyn Transport,
    options: &SyncOptions,
    observer: &dyn SyncObserver,
    report: &mut SyncReport,
    restarts: &mut u32,
) -> Result<bool> {
    let limits = Limits { max_bytes: MAX_PULL_BYTES, max_changes: MAX_PULL_CHANGES };
    loop {
        let (from, request) = access.with_store(|store| {
            let from = store.device.cursor;
            let restoring = store.device.restoring && from == 0;
            Ok((
                from,
                PullRequest {
                    device: store.device.actor,
                    cursor: if restoring { RESTORE_CURSOR } else { from },
                    limit: options.pull_page,
                    profile_version: store.profile().map_or(0, |p| p.version),
                },
            ))
        })?;
        let answer = call(access, transport, observer, "/v1/sync/pull", &request)?;
        let page: PullResponse = wire::decode(&answer, &limits)?;
        drop(answer);
        let more = page.more;
        let forgets = page.reset || !page.removed.is_empty();
        let applied = access.with_store(|store| {
            // The cursor moved only if another run overlapped this one (a
            // caller's bug): the page was planned for an older cursor, so it
            // is dropped and the next one asked from the new cursor.
            if store.device.cursor != from {
                tracing::warn!("the cursor moved during a pull; the page is asked again");
                return Ok(PageFate::Again);
            }
            if restored::changed(store.device.epoch, page.epoch) {
                report.requeued += restored::begin_again(store, page.epoch, restarts)?;
                return Ok(PageFate::ServerRestored);
            }
            apply_page(store, page, report)?;
            if forgets {
                crate::attachments::prune(&store.conn, &store.cipher, &store.attachments_dir())?;
            }
            store.pending().map(PageFate::Page)
        })?;
        let to_push = match applied {
            PageFate::Page(to_push) => to_push,
            PageFate::Again => continue,
            PageFate::ServerRestored => return Ok(true),
        };
        report.pull_pages += 1;
        observer.progress(&SyncProgress {
            phase: SyncPhase::Pulling,
            pushed: report.pushed,
            to_push,
            pulled: report.pulled,
            pages: report.pull_pages,
            uploaded_bytes: 0,
            to_upload_bytes: 0,
        });
        if !more {
            return Ok(false);
        }
    }
}

/// What became of one page.
enum PageFate {
    /// Applied; this many changes wait in the outbox.
    Page(u64),
    /// Not applied: the cursor moved meanwhile; ask again.
    Again,
    /// Not applied: it came from a restored server, and the store started afresh.
    ServerRestored,
}

/// This device's unsent changes, by record.
pub(super) fn pending_by_record(
    conn: &Connection,
    cipher: &Cipher,
) -> Result<HashMap<RecordId, Vec<Change>>> {
    let mut out: HashMap<RecordId, Vec<Change>> = HashMap::new();
    let mut stmt =
        conn.prepare_cached("SELECT seq, change FROM outbox WHERE acked_ms IS NULL ORDER BY seq")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let body = open_change(cipher, row.get(0)?, &row.get::<_, Vec<u8>>(1)?)?;
        let change: Change = postcard::from_bytes(&body).map_err(|_| Error::Corrupt("outbox entry"))?;
        out.entry(change.record).or_default().push(change);
    }
    Ok(out)
}

/// Deletes a record that left the device (its state and receipts). Its
/// attachment files go after the transaction ([`crate::attachments::prune`]).
pub(super) fn forget(conn: &Connection, id: RecordId) -> Result<()> {
    conn.prepare_cached("DELETE FROM records WHERE id = ?1")?.execute([id.as_bytes()])?;
    conn.prepare_cached("DELETE FROM receipts WHERE record = ?1")?.execute([id.as_bytes()])?;
    Ok(())
}

/// Applies one page in one transaction: removals, rebuilds (snapshots and
/// histories), merges, receipts, the profile and the new cursor. Either
/// all of it is committed with the cursor, or none of it.
fn apply_page(store: &mut Store, mut page: PullResponse, report: &mut SyncReport) -> Result<()> {
    let cipher = &store.cipher;
    let tx = store.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let reset = page.reset;
    if store.device.restoring && store.device.cursor == 0 && !reset {
        // The first page of a repaired store must start it afresh.
        return Err(Error::Network("the server did not restart this repaired store's pull".into()));
    }
    let needs_pending =
        reset || !page.removed.is_empty() || !page.rebuild.is_empty() || !page.snapshots.is_empty();
    let pending = if needs_pending { pending_by_record(&tx, cipher)? } else { HashMap::new() };
    if reset {
        let ids: Vec<Vec<u8>> =
            tx.prepare("SELECT id FROM records")?.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
        for raw in ids {
            let id = RecordId::from_slice(&raw).ok_or(Error::Corrupt("record id"))?;
            if !pending.contains_key(&id) {
                forget(&tx, id)?;
            }
        }
        tracing::warn!("the server did not know this device's cursor; starting afresh");
    }
    for id in &page.removed {
        // A record with unsent changes stays until the server has judged them.
        if !pending.contains_key(id) {
            forget(&tx, *id)?;
            report.removed += 1;
        }
    }
    let rebuild: BTreeSet<RecordId> = page.rebuild.iter().copied().collect();
    let snapshots = std::mem::take(&mut page.snapshots);
    let snapshot_count = snapshots.len() as u64;
    let mut states: HashMap<RecordId, RecordState> = HashMap::with_capacity(snapshots.len());
    let mut latest: Option<Hlc> = None;
    let mut receipts: Vec<Receipt> = Vec::with_capacity(snapshots.len() * 10 + page.changes.len());
    for snapshot in snapshots {
        let id = snapshot.state.id();
        latest = latest.max(snapshot.latest_time());
        shown_receipts(&snapshot, &mut receipts);
        states.insert(id, rebuilt(snapshot.state, pending.get(&id)));
    }
    for logged in &page.changes {
        let id = logged.change.record;
        if let std::collections::hash_map::Entry::Vacant(slot) = states.entry(id) {
            let existing = if rebuild.contains(&id) { None } else { load_state(&tx, cipher, id)? };
            slot.insert(existing.unwrap_or_else(|| RecordState::new(id, logged.change.kind)));
        }
    }
    let merged = merge_page(&mut states, &page.changes);
    for id in &rebuild {
        // The server's history, then what this device has not sent yet.
        if let Some(state) = states.remove(id) {
            states.insert(*id, rebuilt(state, pending.get(id)));
        }
    }
    for state in states.values() {
        save_state(&tx, cipher, state)?;
    }
    receipts.extend(page.changes.iter().map(|l| Receipt {
        record: l.change.record,
        dot: l.change.dot,
        received_ms: l.received_ms,
        clock_suspect: l.clock_suspect,
    }));
    save_receipts(&tx, &receipts)?;
    let mut clock = store.device.clock.clone();
    let latest = latest.max(merged.latest);
    if let Some(latest) = latest.filter(|t| t.millis <= now_ms().saturating_add(MAX_CLOCK_LEAD_MS)) {
        clock.observe(latest);
    }
    save_clock(&tx, clock.last())?;
    if let Some(profile) = &page.profile {
        save_profile(&tx, cipher, profile)?;
    }
    // The last page of a repaired store's first pull: it holds its scope again.
    let restored = store.device.restoring && !page.more;
    // The first epoch a store is told is adopted (an older server tells none).
    let epoch = if page.epoch != 0 { page.epoch } else { store.device.epoch };
    tx.execute(
        "UPDATE device SET cursor = ?1, withheld = ?2, restoring = restoring AND NOT ?3, epoch = ?4 WHERE id = 1",
        params![page.cursor as i64, page.withheld, restored, epoch as i64],
    )?;
    tx.commit()?;
    store.device.clock = clock;
    store.device.cursor = page.cursor;
    store.device.restoring &= !restored;
    store.device.epoch = epoch;
    if let Some(profile) = page.profile {
        store.adopt_profile(profile);
    }
    report.pulled += merged.applied;
    report.skipped += merged.skipped;
    report.rebuilt += rebuild.len() as u64 + snapshot_count;
    report.snapshots += snapshot_count;
    report.withheld = page.withheld;
    Ok(())
}

/// A record sent whole, with this device's unsent changes to it merged
/// back in. The device's own copy is not merged: it may hold a change the
/// server refused, which must go (it is kept apart, in `rejected`).
pub(crate) fn rebuilt(mut server: RecordState, unsent: Option<&Vec<Change>>) -> RecordState {
    for change in unsent.into_iter().flatten() {
        if server.apply(change).is_err() {
            tracing::warn!("an unsent change no longer merges with the server's record");
        }
    }
    server
}

/// The server's receipt of one change this device holds.
struct Receipt {
    record: RecordId,
    dot: Dot,
    received_ms: u64,
    clock_suspect: bool,
}

/// The receipts a record view of a snapshot's record asks about: those of
/// its creation, live values and entries.
fn shown_receipts(snapshot: &Snapshot, out: &mut Vec<Receipt>) {
    let record = snapshot.state.id();
    for dot in snapshot.shown_dots() {
        if let Some((received_ms, clock_suspect)) = snapshot.receipt(&dot) {
            out.push(Receipt { record, dot, received_ms, clock_suspect });
        }
    }
}

/// Rows one receipts statement writes: a page's 90,000 receipts take 1,000
/// statements, not 90,000.
const RECEIPT_ROWS: usize = 90;

/// Writes `receipts` (a later one of the same change wins), many rows a
/// statement.
fn save_receipts(tx: &Connection, receipts: &[Receipt]) -> Result<()> {
    let statement = |rows: usize| {
        let values = vec!["(?, ?, ?, ?, ?)"; rows].join(", ");
        format!(
            "INSERT INTO receipts (record, actor, counter, received_ms, clock_suspect) VALUES {values}
             ON CONFLICT DO UPDATE SET received_ms = excluded.received_ms, clock_suspect = excluded.clock_suspect"
        )
    };
    for chunk in receipts.chunks(RECEIPT_ROWS) {
        let mut insert = tx.prepare_cached(&statement(chunk.len()))?;
        let mut n = 0;
        for r in chunk {
            insert.raw_bind_parameter(n + 1, r.record.as_bytes())?;
            insert.raw_bind_parameter(n + 2, r.dot.actor.as_bytes())?;
            insert.raw_bind_parameter(n + 3, r.dot.counter as i64)?;
            insert.raw_bind_parameter(n + 4, r.received_ms as i64)?;
            insert.raw_bind_parameter(n + 5, r.clock_suspect)?;
            n += 5;
        }
        insert.raw_execute()?;
    }
    Ok(())
}

/// What [`merge_page`] did: changes new here, changes that could not merge,
/// and the latest time among the new ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PageMerge {
    applied: u64,
    skipped: u64,
    latest: Option<Hlc>,
}

/// Merges a page of changes into staged states. Pure: no I/O.
pub(crate) fn merge_page(states: &mut HashMap<RecordId, RecordState>, changes: &[LoggedChange]) -> PageMerge {
    let mut out = PageMerge::default();
    for LoggedChange { change, .. } in changes {
        let Some(state) = states.get_mut(&change.record) else {
            out.skipped += 1;
            continue;
        };
        match state.apply(change) {
            Ok(Applied::New) => {
                out.applied += 1;
                out.latest = out.latest.max(Some(change.time));
            }
            Ok(Applied::Duplicate) => {}
            Err(e) => {
                tracing::warn!(error = %e, "skipping a pulled change that cannot merge");
                out.skipped += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use gridsync_proto::{ActorId, Dot, Op, RecordKind};

    fn logged(record: RecordId, kind: RecordKind, actor: ActorId, counter: u64, op: Op) -> LoggedChange {
        LoggedChange {
            seq: counter,
            received_ms: 0,
            clock_suspect: false,
            change: Change {
                record,
                kind,
                dot: Dot { actor, counter },
                author: "a".into(),
                time: Hlc::from_millis(counter * 10),
                op,
            },
        }
    }

    #[test]
    fn merges_a_page_and_skips_what_cannot_merge() {
        let (id, actor) = (RecordId::generate(1), ActorId::random());
        let mut states = HashMap::from([(id, RecordState::new(id, RecordKind::Visit))]);
        let set = Op::Set { field: "purpose".into(), value: "routine".into(), supersedes: vec![] };
        let page = vec![
            logged(id, RecordKind::Visit, actor, 1, Op::Create),
            logged(id, RecordKind::Visit, actor, 2, set),
            logged(id, RecordKind::Dispute, actor, 3, Op::Create),
        ];
        let merged = merge_page(&mut states, &page);
        assert_eq!((merged.applied, merged.skipped), (2, 1));
        assert_eq!(merged.latest, Some(Hlc::from_millis(20)));
        assert_eq!(states[&id].value("purpose"), Some(&"routine".into()));
        // Applying the same page again changes nothing.
        let before = states[&id].clone();
        merge_page(&mut states, &page[..2]);
        assert_eq!(states[&id], before);
    }
}
