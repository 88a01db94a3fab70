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

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use gridsync_proto::{
    Actor, Change, Directory, Dot, LoggedChange, Profile, PullRequest, PullResponse, RecordId, RecordState,
    Snapshot, receipt_runs,
};

use crate::directory::DirectoryCache;
use crate::error::{CoreError, CoreResult, StorageError};
use crate::home;
use crate::policy::scope::{self, ScopeSettings, Visible};
use crate::service::Service;
use crate::storage::{LogRow, PullPage, ReadTx, ReceiptRow, StorageExt};

/// Most log rows one page reads past before it answers with what it has.
const MAX_SCAN: usize = 50_000;

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
                let receipts = receipt_runs(receipts.remove(record).unwrap_or_default());
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
    let change: Change = postcard::from_bytes(row.body)
        .map_err(|_| StorageError::corrupt(format!("change {} in the log", row.seq)))?;
    Ok(LoggedChange { seq: row.seq, received_ms: row.received_ms, clock_suspect: row.clock_suspect, change })
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
    let high = tx.high_water()?;

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
    let mut failed: Option<StorageError> = None;
    if !more {
        let sent: HashSet<RecordId> = adds.iter().copied().collect();
        log_high = high;
        let mut scanned = 0usize;
        let townships = log_townships(&dir, &actor, &visible);
        // Only changes above a held record's `sent_through` are sent: a
        // device that holds nothing but records sent whole (a bootstrap)
        // need not scan the log below the oldest of them.
        let from = held.values().copied().min().unwrap_or(high).max(since);
        tx.scan(from, high, MAX_SCAN, Some(&townships), &mut |row| {
            scanned += 1;
            // Most of the log is other scopes': look at ids in place, and
            // decode a body only when it is sent.
            let wanted = held.get(&row.record).is_some_and(|through| row.seq > *through)
                && in_scope.contains(&row.record)
                && !sent.contains(&row.record)
                && row.actor != device;
            if wanted {
                match decode(&row) {
                    Ok(change) => changes.push(change),
                    Err(e) => {
                        failed = Some(e);
                        return false;
                    }
                }
            }
            if (wanted && changes.len() >= limit) || scanned == MAX_SCAN {
                log_high = row.seq;
                return false;
            }
            true
        })?;
        if let Some(e) = failed {
            return Err(CoreError::Storage(e));
        }
        more = log_high < high;
    }

    let profile = (request.profile_version != version).then(|| Profile::for_actor(actor, &dir, version));
    let withheld = visible.withheld;
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
