//! Scoped pulls: what changed in a device's scope since its cursor.
//!
//! A page is planned in a read snapshot (`plan`) and then recorded in a
//! write transaction ([`crate::storage::SyncLogWrite::record_pull_page`]):
//! the server remembers which records it sent each device (replicas) and
//! issues a new cursor for every page. A page counts as applied only when
//! the device presents its cursor, so a page lost on the way (or not
//! committed on the device) is simply planned again:
//!
//! * records the device holds that left its scope are **removed**;
//! * records that entered its scope, or whose change the server refused
//!   (rebuild), are sent whole and **rebuilt** on the device: as
//!   **snapshots** (their merged state, with the receipts of their changes;
//!   protocol 3, ADR 0019) in pages of up to [`SNAPSHOT_PAGE_RECORDS`]
//!   records or [`SNAPSHOT_PAGE_BYTES`] bytes, or as their history to a
//!   version 2 handset ([`Whole::History`]);
//! * for the rest, the log after the cursor, less the device's own changes.
//!
//! An unknown cursor (a server restored from an older backup) starts the
//! device afresh: `reset`, then everything in scope is sent whole.
//!
//! No page reaches past the storage's safe high-water mark
//! ([`crate::storage::SyncLogRead::high_water`]), so a change that commits
//! later can never land below a cursor a device holds.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use gridsync_proto::{
    Actor, ActorId, Directory, Dot, LoggedChange, Profile, PullRequest, PullResponse, RecordId, RecordState,
    Snapshot, receipt_runs,
};

use crate::directory::DirectoryCache;
use crate::error::{CoreResult, StorageError};
use crate::home;
use crate::policy::scope::{self, ScopeSettings, Visible};
use crate::service::Service;
use crate::storage::{LogRow, PullPage, ReadTx, ReceiptRow, StorageExt};

/// Most log rows one page reads past before it answers with what it has.
const MAX_SCAN: usize = 50_000;

/// A held record's changes are read from the log this many at a time.
const LOG_BATCH: usize = 16;

/// Most records sent as snapshots in one page.
pub const SNAPSHOT_PAGE_RECORDS: usize = 10_000;

/// A page stops taking snapshots once their states reach this many bytes
/// (before compression): well under a handset's 64 MiB page limit and the
/// default 4 MiB message limit, and a few hundred milliseconds on a slow
/// link.
pub const SNAPSHOT_PAGE_BYTES: usize = 3 * 1024 * 1024;

/// States are read from storage this many records at a time.
const SNAPSHOT_BATCH: usize = 1_000;

/// How a page sends the records a device must receive whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Whole {
    /// As their merged state, in [`PullResponse::snapshots`] (protocol 3).
    Snapshots,
    /// As their whole history, in [`PullResponse::changes`] (protocol 2).
    History,
}

/// How long a device's scope is reused between pages: a sync that pauses
/// longer computes it again.
const PAGING_REUSE_MS: u64 = 60_000;

/// The scope computed for a device's earlier page of the same sync, under
/// a directory version: reused while the device pages on.
type Reuse = Option<(u64, Arc<Visible>)>;

/// A device's scope, kept between the pages of one pull.
#[derive(Debug)]
pub(crate) struct Paging {
    /// The cursor the next page will present.
    cursor: u64,
    /// When the scope was computed.
    made_ms: u64,
    /// The directory version and the scope.
    scope: (u64, Arc<Visible>),
}

impl Service {
    /// The next page of what changed in the scope of `user`'s device, with
    /// records sent whole as snapshots: see [`Service::pull_as`].
    pub async fn pull(&self, request: PullRequest, user: String) -> CoreResult<PullResponse> {
        self.pull_as(request, user, Whole::Snapshots).await
    }

    /// The next page of what changed in the scope of `user`'s device:
    /// planned on a read snapshot, then recorded in a write transaction
    /// (which issues the page's cursor) unless the page changes nothing.
    /// `whole` says how records sent whole travel (a version 2 handset
    /// takes only their history).
    pub async fn pull_as(
        &self,
        request: PullRequest,
        user: String,
        whole: Whole,
    ) -> CoreResult<PullResponse> {
        let (directory, settings) = (self.directory.clone(), self.settings.scope);
        let device = request.device;
        let now = crate::clock::now_ms();
        let (reuse, made_ms) = {
            let mut paging = self.paging.lock().unwrap_or_else(|p| p.into_inner());
            paging.retain(|_, p| now.saturating_sub(p.made_ms) < PAGING_REUSE_MS);
            match paging.remove(&device) {
                Some(p) if p.cursor == request.cursor => (Some(p.scope), p.made_ms),
                _ => (None, now),
            }
        };
        let plan = self
            .storage
            .read(move |tx| plan(tx, &directory, &settings, &request, &user, now, reuse, whole))
            .await?;
        let more = plan.response.more;
        let scope = plan.scope.clone();
        let response = if plan.is_idle() {
            plan.response
        } else {
            self.storage
                .write(move |tx, now| {
                    let cursor = tx.record_pull_page(&PullPage {
                        device,
                        township: &plan.home,
                        presented: plan.presented,
                        reset: plan.response.reset,
                        dirty: plan.dirty,
                        log_high: plan.log_high,
                        sent_through: plan.high,
                        adds: &plan.adds,
                        removes: &plan.removes,
                        now,
                    })?;
                    let mut response = plan.response;
                    response.cursor = cursor;
                    Ok(response)
                })
                .await?
        };
        metrics::counter!(crate::metrics::PULL_PAGES).increment(1);
        metrics::counter!(crate::metrics::PULL_CHANGES).increment(response.changes.len() as u64);
        metrics::counter!(crate::metrics::PULL_SNAPSHOTS).increment(response.snapshots.len() as u64);
        if more {
            let next = Paging { cursor: response.cursor, made_ms, scope };
            self.paging.lock().unwrap_or_else(|p| p.into_inner()).insert(device, next);
        }
        Ok(response)
    }
}

/// A page, planned, and what recording it must change.
#[derive(Debug)]
struct Plan {
    /// The device's home township.
    home: String,
    /// The directory version and the scope this page was planned with.
    scope: (u64, Arc<Visible>),
    /// The answer; its cursor is set when the page is recorded.
    response: PullResponse,
    presented: u64,
    since: u64,
    log_high: u64,
    /// The log position the records sent whole were sent up to.
    high: u64,
    adds: Vec<RecordId>,
    removes: Vec<RecordId>,
    dirty: bool,
}

impl Plan {
    /// Whether the page changes nothing the server must remember: the
    /// device keeps its cursor.
    fn is_idle(&self) -> bool {
        !self.response.reset
            && !self.dirty
            && self.adds.is_empty()
            && self.removes.is_empty()
            && self.response.changes.is_empty()
            && self.log_high == self.since
    }
}

/// The townships whose log can hold changes to send: those of the records
/// in scope, and wherever one of them can have moved since the scope was
/// computed (pages of one sync reuse it): up the hierarchy (a dispute
/// escalated), or to another township of the device's own scope (a grid
/// corrected). A record that moved anywhere else has left the scope.
fn log_townships(dir: &Directory, actor: &Actor, visible: &Visible) -> Vec<String> {
    let mut townships: BTreeSet<String> = BTreeSet::new();
    for township in visible.homes.values() {
        if townships.insert(township.clone()) {
            townships.extend(dir.chain(township).into_iter().map(|p| p.code.clone()));
        }
    }
    if actor.unit.is_none() {
        let subtree = dir.subtree(actor.place.as_deref());
        townships.extend(subtree.iter().map(|p| home::bucket(dir, p)));
    }
    townships.into_iter().collect()
}

/// Appends `record`'s changes up to `high`, as filed in `township`, to
/// `changes`; returns how many there were.
fn history(
    tx: &mut dyn ReadTx,
    record: RecordId,
    township: &str,
    high: u64,
    changes: &mut Vec<LoggedChange>,
) -> Result<usize, StorageError> {
    let (mut found, mut failed) = (0, None);
    tx.history(record, township, high, &mut |row| {
        found += 1;
        match decode(&row) {
            Ok(change) => changes.push(change),
            Err(e) => failed = Some(e),
        }
    })?;
    failed.map_or(Ok(found), Err)
}

/// What a page sent whole so far, and whether it is full.
#[derive(Default)]
struct Sent {
    changes: Vec<LoggedChange>,
    snapshots: Vec<Snapshot>,
    /// Bytes of the snapshots' states.
    bytes: usize,
}

impl Sent {
    /// Whether the page takes no more records whole.
    fn full(&self, limit: usize) -> bool {
        self.changes.len() >= limit
            || self.snapshots.len() >= SNAPSHOT_PAGE_RECORDS
            || self.bytes >= SNAPSHOT_PAGE_BYTES
    }
}

/// Sends `records` whole as snapshots, until the page is full; returns
/// those sent. A record whose state is missing, or was last updated past
/// `high` (a backend's snapshot may see a change the high-water mark does
/// not cover yet), is sent as its history up to `high` instead, so that
/// nothing above the page's cursor is sent twice.
fn snapshots(
    tx: &mut dyn ReadTx,
    dir: &Directory,
    visible: &Visible,
    records: &[RecordId],
    high: u64,
    limit: usize,
    sent: &mut Sent,
) -> CoreResult<Vec<RecordId>> {
    let mut states: HashMap<RecordId, Vec<u8>> = HashMap::with_capacity(records.len());
    tx.record_states(records, &mut |id, updated, bytes| {
        if updated <= high {
            states.insert(id, bytes.to_vec());
        }
    })?;
    let mut receipts: HashMap<RecordId, Vec<(Dot, u64, bool)>> = HashMap::with_capacity(records.len());
    tx.receipts(records, high, &mut |row: ReceiptRow| {
        let dot = Dot { actor: row.actor, counter: row.counter };
        receipts.entry(row.record).or_default().push((dot, row.received_ms, row.clock_suspect));
    })?;
    let mut done = Vec::with_capacity(records.len());
    for record in records {
        if sent.full(limit) {
            break;
        }
        match states.remove(record) {
            Some(bytes) => {
                let state = RecordState::from_bytes(&bytes)
                    .map_err(|_| StorageError::corrupt(format!("record {record}")))?;
                sent.bytes += bytes.len();
                let mut receipts = receipts.remove(record).unwrap_or_default();
                receipts.sort_unstable_by_key(|&(dot, ..)| dot);
                let receipts = receipt_runs(receipts);
                sent.snapshots.push(Snapshot { state, receipts });
            }
            None => whole_history(tx, dir, visible, *record, high, &mut sent.changes)?,
        }
        done.push(*record);
    }
    Ok(done)
}

/// Appends `record`'s whole history up to `high` to `changes`.
fn whole_history(
    tx: &mut dyn ReadTx,
    dir: &Directory,
    visible: &Visible,
    record: RecordId,
    high: u64,
    changes: &mut Vec<LoggedChange>,
) -> CoreResult<()> {
    let township = visible.homes.get(&record).map_or("", String::as_str);
    if history(tx, record, township, high, changes)? == 0 {
        // Every record has at least its creation: none means its home
        // moved since the scope was computed (a page of the same sync
        // reuses it). Look it up where it lives now.
        if let Some(state) = crate::service::sync::load_state(tx, record)? {
            history(tx, record, &home::of_record(dir, &state), high, changes)?;
        }
    }
    Ok(())
}

fn decode(row: &LogRow<'_>) -> Result<LoggedChange, StorageError> {
    let change = row.change().map_err(|_| StorageError::corrupt(format!("change {} in the log", row.seq)))?;
    Ok(LoggedChange { seq: row.seq, received_ms: row.received_ms, clock_suspect: row.clock_suspect, change })
}

/// A change read from the log, owned.
struct OwnedRow {
    seq: u64,
    received_ms: u64,
    clock_suspect: bool,
    body: Vec<u8>,
    record: RecordId,
    actor: ActorId,
}

impl OwnedRow {
    fn of(row: &LogRow<'_>) -> Self {
        Self {
            seq: row.seq,
            received_ms: row.received_ms,
            clock_suspect: row.clock_suspect,
            body: row.body.to_vec(),
            record: row.record,
            actor: row.actor,
        }
    }

    fn decode(&self) -> Result<LoggedChange, StorageError> {
        decode(&LogRow {
            seq: self.seq,
            received_ms: self.received_ms,
            clock_suspect: self.clock_suspect,
            body: &self.body,
            record: self.record,
            actor: self.actor,
        })
    }
}

/// One record's changes read so far and not yet merged.
struct Pending {
    record: RecordId,
    rows: VecDeque<OwnedRow>,
    /// Whether the log may hold more of its changes than were read.
    more: bool,
}

/// The changes of `wanted` records (each after its own position) up to
/// `high`, merged in log order, less `device`'s own, as far as the first
/// `limit` of them or [`MAX_SCAN`] rows read; and the log position the
/// page covers: every change of the records up to it was read, none above
/// it is returned, so a page cut there neither misses nor doubles a change.
///
/// Each record's changes are read [`LOG_BATCH`] at a time, so a page reads
/// about `limit` rows plus a batch per record, whatever the log holds
/// besides.
fn merged_log(
    tx: &mut dyn ReadTx,
    wanted: &[(RecordId, u64)],
    townships: &[String],
    high: u64,
    device: ActorId,
    limit: usize,
) -> CoreResult<(Vec<OwnedRow>, u64)> {
    let mut pending: Vec<Pending> = Vec::with_capacity(wanted.len());
    let mut slot: HashMap<RecordId, usize> = HashMap::with_capacity(wanted.len());
    for (record, _) in wanted {
        slot.insert(*record, pending.len());
        pending.push(Pending { record: *record, rows: VecDeque::new(), more: false });
    }
    tx.changes_of(wanted, Some(townships), high, LOG_BATCH, &mut |row| {
        if let Some(&i) = slot.get(&row.record) {
            pending[i].rows.push_back(OwnedRow::of(&row));
        }
    })?;
    let mut heap: BinaryHeap<Reverse<(u64, usize)>> = BinaryHeap::with_capacity(pending.len());
    for (i, p) in pending.iter_mut().enumerate() {
        p.more = p.rows.len() >= LOG_BATCH;
        if let Some(first) = p.rows.front() {
            heap.push(Reverse((first.seq, i)));
        }
    }
    let (mut out, mut read) = (Vec::new(), 0usize);
    while let Some(Reverse((seq, i))) = heap.pop() {
        let row = pending[i].rows.pop_front().expect("a pending record's next row");
        read += 1;
        if row.actor != device {
            out.push(row);
        }
        if out.len() >= limit || read >= MAX_SCAN {
            return Ok((out, seq));
        }
        let p = &mut pending[i];
        if p.rows.is_empty() && p.more {
            let (record, rows) = (p.record, &mut p.rows);
            tx.changes_of(&[(record, seq)], Some(townships), high, LOG_BATCH, &mut |row| {
                if row.record == record {
                    rows.push_back(OwnedRow::of(&row));
                }
            })?;
            p.more = p.rows.len() >= LOG_BATCH;
        }
        if let Some(next) = p.rows.front() {
            heap.push(Reverse((next.seq, i)));
        }
    }
    Ok((out, high))
}

/// Plans the next page for `user`'s device. Read-only.
#[allow(clippy::too_many_arguments)]
fn plan(
    tx: &mut dyn ReadTx,
    cache: &DirectoryCache,
    settings: &ScopeSettings,
    request: &PullRequest,
    user: &str,
    now: u64,
    reuse: Reuse,
    whole: Whole,
) -> CoreResult<Plan> {
    let device = request.device;
    let (version, dir) = cache.get(tx)?;
    let actor = tx.user(user)?.ok_or_else(|| StorageError::corrupt("a device's user"))?.actor();
    let home = crate::home::of_actor(&dir, &actor);

    let presented = request.cursor;
    let known = if presented == 0 { Some(0) } else { tx.pull_token(device, &home, presented)? };
    let reset = known.is_none();
    let since = known.unwrap_or(0);
    let high_water = tx.high_water()?;

    // What the device holds, and up to where each record was sent whole.
    let mut held: HashMap<RecordId, u64> = HashMap::new();
    let mut stale = HashSet::new();
    let mut dirty = false;
    if !reset {
        for row in tx.replicas(device, &home)? {
            dirty |= row.added_token > presented || row.removed_token.is_some();
            if row.added_token <= presented && row.removed_token.is_none_or(|r| r > presented) {
                held.insert(row.record, row.sent_through);
                if row.rebuild {
                    stale.insert(row.record);
                }
            }
        }
    }

    // What the device may hold: computed on a sync's first page, reused on
    // the pages that follow (a page's plan must not cost a scan of the whole
    // scope), and recomputed whenever the directory changed.
    let visible = match reuse {
        Some((v, visible)) if v == version => visible,
        _ => Arc::new(scope::visible(tx, &actor, &dir, settings, now)?),
    };
    // A scope reused from an earlier page knows the records' last changes
    // only up to where it was computed: the page reaches no further (the
    // next sync computes the scope afresh).
    let high = high_water.min(visible.as_of);
    let in_scope: HashSet<RecordId> = visible.records.iter().copied().collect();
    let mut removes: Vec<RecordId> = held.keys().filter(|r| !in_scope.contains(r)).copied().collect();
    removes.sort();

    let limit = request.limit.max(1) as usize;
    let mut sent = Sent::default();
    let mut adds = Vec::new();
    let mut more = false;
    let mut wanted = visible.records.iter().filter(|r| !held.contains_key(r) || stale.contains(r)).copied();
    loop {
        if sent.full(limit) {
            more = wanted.next().is_some();
            break;
        }
        match whole {
            Whole::History => {
                let Some(record) = wanted.next() else { break };
                whole_history(tx, &dir, &visible, record, high, &mut sent.changes)?;
                adds.push(record);
            }
            Whole::Snapshots => {
                let batch: Vec<RecordId> = wanted.by_ref().take(SNAPSHOT_BATCH).collect();
                if batch.is_empty() {
                    break;
                }
                let done = snapshots(tx, &dir, &visible, &batch, high, limit, &mut sent)?;
                if done.len() < batch.len() {
                    more = true;
                    adds.extend(done);
                    break;
                }
                adds.extend(done);
            }
        }
    }
    let Sent { mut changes, snapshots, .. } = sent;
    let snapped: HashSet<RecordId> = snapshots.iter().map(|s| s.state.id()).collect();

    let mut log_high = since;
    if !more {
        // The log of the held records changed since the device had them,
        // never the rest of the log (ADR 0020).
        let sent: HashSet<RecordId> = adds.iter().copied().collect();
        let wanted: Vec<(RecordId, u64)> = visible
            .records
            .iter()
            .filter(|r| !sent.contains(r))
            .filter_map(|r| {
                let after = held.get(r)?.max(&since);
                (visible.updated.get(r).is_none_or(|u| u > after)).then_some((*r, *after))
            })
            .collect();
        let townships = log_townships(&dir, &actor, &visible);
        let wanted_changes = limit.saturating_sub(changes.len()).max(1);
        let (read, through) = merged_log(tx, &wanted, &townships, high, device, wanted_changes)?;
        for row in read {
            changes.push(row.decode()?);
        }
        log_high = through;
        more = log_high < high;
    }
    let profile = (request.profile_version != version).then(|| Profile::for_actor(actor, &dir, version));
    let withheld = visible.withheld;
    let epoch = tx.server_epoch()?;
    Ok(Plan {
        home,
        scope: (version, visible),
        response: PullResponse {
            reset,
            removed: removes.clone(),
            rebuild: adds.iter().filter(|r| !snapped.contains(r)).copied().collect(),
            snapshots,
            changes,
            withheld,
            profile,
            cursor: presented,
            more,
            epoch,
        },
        presented,
        since,
        log_high,
        high,
        adds,
        removes,
        dirty,
    })
}
