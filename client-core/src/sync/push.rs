//! Pushing the outbox in whole write groups.

use std::collections::BTreeMap;

use gridsync_proto::wire::{self, Limits};
use gridsync_proto::{Change, ErrorCode, PushRequest, PushResponse, Refusal};
use rusqlite::{TransactionBehavior, params};

use super::{StoreAccess, SyncObserver, SyncOptions, SyncPhase, SyncProgress, SyncReport, call, restored};
use crate::error::{Error, Result};
use crate::store::sealed::{open_change, save_rejected};
use crate::store::{Store, now_ms};
use crate::transport::Transport;

/// A device clock further than this from the server's receipt time is
/// recorded as suspect for its own changes, as the server does.
const CLOCK_SUSPECT_MS: u64 = 10 * 60 * 1000;

/// One group read from the outbox.
struct Queued {
    /// Outbox positions of its changes.
    seqs: Vec<i64>,
    changes: Vec<Change>,
}

pub(super) fn push<A: StoreAccess + ?Sized>(
    access: &A,
    transport: &dyn Transport,
    options: &SyncOptions,
    observer: &dyn SyncObserver,
    report: &mut SyncReport,
    restarts: &mut u32,
) -> Result<()> {
    let mut batch = options.push_batch.max(1);
    loop {
        let (device, groups) = access.with_store(|store| {
            Ok((store.device.actor, read_outbox(store, batch, options.push_max_bytes)?))
        })?;
        if groups.is_empty() {
            return Ok(());
        }
        let sent: usize = groups.iter().map(|g| g.changes.len()).sum();
        let request = PushRequest {
            device,
            sent_ms: now_ms(),
            groups: groups.iter().map(|g| g.changes.clone()).collect(),
        };
        let answer = match call(access, transport, observer, "/v1/sync/push", &request) {
            Err(Error::Rejected { body, .. })
                if matches!(body.code, ErrorCode::PayloadTooLarge | ErrorCode::TooManyChanges) =>
            {
                if groups.len() > 1 {
                    // The server takes smaller pushes than we sent: halve and retry.
                    batch = (sent / 2).max(1);
                } else {
                    // One write is larger than the server takes at all: set it
                    // aside, visible, rather than let it block every write after it.
                    let refusal = Refusal { group: 0, code: body.code, field: None, message: body.message };
                    access.with_store(|store| set_aside(store, &groups[0], &refusal))?;
                    report.refused += 1;
                    batch = options.push_batch.max(1);
                }
                continue;
            }
            other => other?,
        };
        let ack: PushResponse = wire::decode(&answer, &Limits::DEFAULT)?;
        let to_push = access.with_store(|store| {
            if restored::changed(store.device.epoch, ack.epoch) {
                // The server may lack what this push's refusals build on:
                // everything acknowledged goes out again first, then these.
                report.requeued += restored::begin_again(store, ack.epoch, restarts)?;
                return Ok(None);
            }
            acknowledge(store, &groups, &ack)?;
            store.pending().map(Some)
        })?;
        let Some(to_push) = to_push else {
            batch = options.push_batch.max(1);
            continue;
        };
        report.pushed += u64::from(ack.accepted);
        report.duplicates += u64::from(ack.duplicates);
        report.refused += ack.refused.len() as u64;
        report.push_batches += 1;
        observer.progress(&SyncProgress {
            phase: SyncPhase::Pushing,
            pushed: report.pushed,
            to_push,
            pulled: 0,
            pages: 0,
            uploaded_bytes: 0,
            to_upload_bytes: 0,
        });
    }
}

/// The server has stored the push: refused groups move to `rejected`, the
/// rest are marked acknowledged in the outbox (kept for a restore of the
/// server, [`restored`]), and the receipt time is kept for each change. A
/// store that knows no server epoch yet adopts the server's.
fn acknowledge(store: &mut Store, groups: &[Queued], ack: &PushResponse) -> Result<()> {
    let refused: BTreeMap<usize, &Refusal> = ack.refused.iter().map(|r| (r.group as usize, r)).collect();
    let suspect = now_ms().abs_diff(ack.received_ms) > CLOCK_SUSPECT_MS;
    let now = restored::acked_now();
    let epoch = if store.device.epoch == 0 { ack.epoch } else { store.device.epoch };
    let cipher = &store.cipher;
    let tx = store.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    {
        let mut delete = tx.prepare_cached("DELETE FROM outbox WHERE seq = ?1")?;
        let mut acked = tx.prepare_cached("UPDATE outbox SET acked_ms = ?2 WHERE seq = ?1")?;
        let mut receipt = tx.prepare_cached(
            "INSERT INTO receipts (record, actor, counter, received_ms, clock_suspect) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT DO NOTHING",
        )?;
        for (i, group) in groups.iter().enumerate() {
            match refused.get(&i) {
                Some(refusal) => {
                    save_rejected(&tx, cipher, &group.changes, refusal, now)?;
                    for seq in &group.seqs {
                        delete.execute([seq])?;
                    }
                }
                None => {
                    for c in &group.changes {
                        receipt.execute(params![
                            c.record.as_bytes(),
                            c.dot.actor.as_bytes(),
                            c.dot.counter as i64,
                            ack.received_ms as i64,
                            suspect
                        ])?;
                    }
                    for seq in &group.seqs {
                        acked.execute(params![seq, now as i64])?;
                    }
                }
            }
        }
    }
    if epoch != store.device.epoch {
        tx.execute("UPDATE device SET epoch = ?1 WHERE id = 1", params![epoch as i64])?;
    }
    restored::prune(&tx, now)?;
    tx.commit()?;
    store.device.epoch = epoch;
    if !refused.is_empty() {
        tracing::warn!(groups = refused.len(), "the server refused changes; they are kept as rejected");
    }
    Ok(())
}

/// Moves one group from the outbox to `rejected`.
fn set_aside(store: &mut Store, group: &Queued, refusal: &Refusal) -> Result<()> {
    let cipher = &store.cipher;
    let tx = store.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    save_rejected(&tx, cipher, &group.changes, refusal, now_ms())?;
    for seq in &group.seqs {
        tx.prepare_cached("DELETE FROM outbox WHERE seq = ?1")?.execute([seq])?;
    }
    tx.commit()?;
    tracing::warn!(code = %refusal.code, "a write is larger than the server accepts; it is kept as rejected");
    Ok(())
}

/// The oldest whole groups in the outbox that fit one push.
fn read_outbox(store: &Store, batch: usize, max_bytes: usize) -> Result<Vec<Queued>> {
    let mut stmt = store
        .conn
        .prepare_cached("SELECT seq, grp, change FROM outbox WHERE acked_ms IS NULL ORDER BY seq")?;
    let mut rows = stmt.query([])?;
    let (mut bytes, mut count) = (0usize, 0usize);
    let mut groups: Vec<Queued> = Vec::new();
    let mut current: Option<(i64, Queued)> = None;
    while let Some(row) = rows.next()? {
        let seq: i64 = row.get(0)?;
        let grp: i64 = row.get(1)?;
        let body = open_change(&store.cipher, seq, &row.get::<_, Vec<u8>>(2)?)?;
        let change: Change = postcard::from_bytes(&body).map_err(|_| Error::Corrupt("outbox entry"))?;
        if current.as_ref().is_some_and(|(g, _)| *g != grp) {
            let (_, done) = current.take().expect("checked above");
            groups.push(done);
            if count >= batch || bytes >= max_bytes {
                return Ok(groups);
            }
        }
        let entry = current.get_or_insert_with(|| (grp, Queued { seqs: Vec::new(), changes: Vec::new() }));
        entry.1.seqs.push(seq);
        entry.1.changes.push(change);
        bytes += body.len();
        count += 1;
    }
    groups.extend(current.map(|(_, g)| g));
    Ok(groups)
}
