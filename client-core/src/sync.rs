//! One sync run: push the outbox, then pull everyone else's changes.
//!
//! Shaped like application-services' `sync15`: each pulled page is staged,
//! merged by a pure function ([`merge_page`], tested without a database), and
//! written in one transaction together with the new cursor. The outbox is
//! cleared only for what the server acknowledged.
//!
//! A push the server finds too large is split in halves until it fits. Any
//! other refusal ends the run with [`Error::Rejected`] and the outbox intact.
//!
//! Interrupted anywhere, the next run completes the work: an unacknowledged
//! push is sent again and the server recognises its changes as duplicates; a
//! page not yet committed is fetched again from the unchanged cursor.

use std::collections::HashMap;

use gridsync_proto::wire::{self, Limits, Message};
use gridsync_proto::{Change, Hlc, LoggedChange, PullRequest, PullResponse, PushRequest, PushResponse};
use gridsync_proto::{ErrorCode, RecordId, RecordState};
use rusqlite::{TransactionBehavior, params};

use crate::error::{Error, Result};
use crate::store::{Store, load_state, now_ms, open_change, save_clock, save_state};
use crate::transport::{Request, Transport};

/// Page sizes of a sync run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncOptions {
    /// Most changes per push.
    pub push_batch: usize,
    /// A push batch is closed once it holds this many bytes of changes.
    pub push_max_bytes: usize,
    /// Most changes per pull page.
    pub pull_page: u32,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self { push_batch: 500, push_max_bytes: 1024 * 1024, pull_page: 500 }
    }
}

/// What a sync run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SyncReport {
    /// Changes the server accepted from this device.
    pub pushed: u64,
    /// Changes the server already had (re-sent after an interruption).
    pub duplicates: u64,
    /// Push requests sent.
    pub push_batches: u32,
    /// Changes from other devices applied here.
    pub pulled: u64,
    /// Pull pages fetched.
    pub pull_pages: u32,
    /// Pulled changes that could not merge and were skipped (a server bug;
    /// they stay in the server's log).
    pub skipped: u64,
    /// The cursor after the run.
    pub cursor: u64,
}

/// Largest pull answer accepted: a full page of the largest changes.
const MAX_PULL_BYTES: usize = 64 * 1024 * 1024;
/// Remote times further ahead than this do not move the local clock.
const MAX_CLOCK_LEAD_MS: u64 = 24 * 60 * 60 * 1000;

/// Runs one sync.
pub fn run(store: &mut Store, transport: &dyn Transport, options: &SyncOptions) -> Result<SyncReport> {
    store.signer()?; // enrolled, and not wiped
    let mut report = SyncReport::default();
    push(store, transport, options, &mut report)?;
    pull(store, transport, options, &mut report)?;
    report.cursor = store.device.cursor;
    tracing::info!(
        pushed = report.pushed,
        duplicates = report.duplicates,
        pulled = report.pulled,
        "sync finished"
    );
    Ok(report)
}

fn push(
    store: &mut Store,
    transport: &dyn Transport,
    options: &SyncOptions,
    report: &mut SyncReport,
) -> Result<()> {
    let mut batch = options.push_batch.max(1);
    loop {
        let (last_seq, changes) = read_outbox(store, batch, options.push_max_bytes)?;
        if changes.is_empty() {
            return Ok(());
        }
        let sent = changes.len();
        let request = PushRequest { device: store.device.actor, changes };
        let answer = match call(store, transport, "/v1/sync/push", &request) {
            // The server takes smaller pushes than we sent: halve and retry.
            Err(Error::Rejected { body, .. })
                if sent > 1
                    && matches!(body.code, ErrorCode::PayloadTooLarge | ErrorCode::TooManyChanges) =>
            {
                batch = sent / 2;
                continue;
            }
            other => other?,
        };
        let ack: PushResponse = wire::decode(&answer, &Limits::DEFAULT)?;
        // Acknowledged: durable on the server. Only now leave the outbox.
        store.conn.execute("DELETE FROM outbox WHERE seq <= ?1", [last_seq])?;
        report.pushed += u64::from(ack.accepted);
        report.duplicates += u64::from(ack.duplicates);
        report.push_batches += 1;
    }
}

/// Sends one message: encoded, compressed when worth it, signed over the
/// bytes as sent. A `stale_timestamp` answer corrects the device's clock
/// offset from the server's time and retries once; a `device_wiped` answer
/// erases the store before the error is reported.
fn call<M: Message>(
    store: &mut Store,
    transport: &dyn Transport,
    path: &'static str,
    message: &M,
) -> Result<Vec<u8>> {
    let encoded = wire::encode(message);
    let gzip = encoded.len() >= wire::COMPRESS_MIN_BYTES;
    let body = if gzip { wire::gzip(&encoded) } else { encoded };
    let mut corrected = false;
    loop {
        let signer = store.signer()?;
        let mut headers = signer.headers("POST", path, &body)?;
        if gzip {
            headers.push(("content-encoding", "gzip".to_owned()));
        }
        let request = Request { path, content_type: wire::CONTENT_TYPE, headers, body: body.clone() };
        match transport.send(request) {
            Err(Error::Rejected { body: refusal, .. }) if refusal.code == ErrorCode::DeviceWiped => {
                store.wipe()?;
                return Err(Error::Wiped);
            }
            Err(Error::Rejected { body: refusal, .. })
                if refusal.code == ErrorCode::StaleTimestamp
                    && !corrected
                    && refusal.server_time_ms.is_some() =>
            {
                signer.correct_clock(refusal.server_time_ms.unwrap_or_default());
                corrected = true;
            }
            other => return other,
        }
    }
}

/// The oldest outbox entries that fit one push, and the last one's sequence.
fn read_outbox(store: &Store, batch: usize, max_bytes: usize) -> Result<(i64, Vec<Change>)> {
    let mut stmt = store.conn.prepare_cached("SELECT seq, change FROM outbox ORDER BY seq LIMIT ?1")?;
    let mut rows = stmt.query([batch as i64])?;
    let (mut last, mut bytes, mut changes) = (0, 0, Vec::new());
    while let Some(row) = rows.next()? {
        let seq: i64 = row.get(0)?;
        let body = open_change(&store.cipher, seq, &row.get::<_, Vec<u8>>(1)?)?;
        if !changes.is_empty() && bytes + body.len() > max_bytes {
            break;
        }
        bytes += body.len();
        last = seq;
        changes.push(postcard::from_bytes(&body).map_err(|_| Error::Corrupt("outbox entry"))?);
    }
    Ok((last, changes))
}

fn pull(
    store: &mut Store,
    transport: &dyn Transport,
    options: &SyncOptions,
    report: &mut SyncReport,
) -> Result<()> {
    let limits = Limits { max_bytes: MAX_PULL_BYTES, max_changes: options.pull_page as usize };
    loop {
        let request =
            PullRequest { device: store.device.actor, after: store.device.cursor, limit: options.pull_page };
        let answer = call(store, transport, "/v1/sync/pull", &request)?;
        let page: PullResponse = wire::decode(&answer, &limits)?;
        apply_page(store, &page, report)?;
        report.pull_pages += 1;
        if !page.more {
            return Ok(());
        }
    }
}

/// Stages a page, merges it and commits the states with the new cursor.
fn apply_page(store: &mut Store, page: &PullResponse, report: &mut SyncReport) -> Result<()> {
    let tx = store.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut states = HashMap::new();
    for logged in &page.changes {
        let id = logged.change.record;
        if let std::collections::hash_map::Entry::Vacant(slot) = states.entry(id) {
            let state = load_state(&tx, &store.cipher, id)?
                .unwrap_or_else(|| RecordState::new(id, logged.change.kind));
            slot.insert(state);
        }
    }
    let merged = merge_page(&mut states, &page.changes);
    for state in states.values() {
        save_state(&tx, &store.cipher, state)?;
    }
    let mut clock = store.device.clock.clone();
    if let Some(latest) = merged.latest.filter(|t| t.millis <= now_ms().saturating_add(MAX_CLOCK_LEAD_MS)) {
        clock.observe(latest);
    }
    save_clock(&tx, clock.last())?;
    tx.execute("UPDATE device SET cursor = ?1 WHERE id = 1", params![page.cursor as i64])?;
    tx.commit()?;
    store.device.clock = clock;
    store.device.cursor = page.cursor;
    report.pulled += merged.applied;
    report.skipped += merged.skipped;
    Ok(())
}

/// What [`merge_page`] did.
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
            Ok(_) => {
                out.applied += 1;
                out.latest = out.latest.max(Some(change.time));
            }
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
        let set = Op::Set { field: "purpose".into(), value: "回访".into(), supersedes: vec![] };
        let page = vec![
            logged(id, RecordKind::Visit, actor, 1, Op::Create),
            logged(id, RecordKind::Visit, actor, 2, set),
            logged(id, RecordKind::Dispute, actor, 3, Op::Create),
        ];
        let merged = merge_page(&mut states, &page);
        assert_eq!((merged.applied, merged.skipped), (2, 1));
        assert_eq!(merged.latest, Some(Hlc::from_millis(20)));
        assert_eq!(states[&id].value("purpose"), Some(&"回访".into()));
        // Applying the same page again changes nothing.
        let before = states[&id].clone();
        merge_page(&mut states, &page[..2]);
        assert_eq!(states[&id], before);
    }
}
