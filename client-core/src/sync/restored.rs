//! A server restored from a backup (ADR 0026).
//!
//! The server's answers carry its epoch, made anew whenever its database
//! is restored. The store keeps the epoch of its last sync, and keeps the
//! changes the server acknowledged (in the outbox, marked with when; for
//! [`ACKED_RETENTION_MS`]), because a restored server may have lost them.
//! When an answer names another epoch than the store's, the device does
//! not apply it: in one transaction it queues every acknowledged change
//! again, in its order and write group, drops the records that hold no
//! unsent change, sets its cursor back to 0 and keeps the new epoch
//! ([`begin_again`]). The run then pushes (the server recognises what it
//! still has as duplicates, and takes back what it lost) and pulls from the
//! start. So nothing the server acknowledged is lost, and nothing doubles.
//!
//! The device's own attachment files are marked not uploaded, so the
//! upload phase asks the server about each again, and the files of the
//! records dropped are deleted ([`crate::attachments::prune`]).
//!
//! A store that knows no epoch yet (enrolled, or upgraded, before its
//! first answer of protocol 4) adopts the first one it is told.

use rusqlite::{TransactionBehavior, params};

use super::pull::{forget, pending_by_record};
use crate::error::{Error, Result};
use crate::store::{Store, now_ms};

/// Acknowledged changes are kept this long, for a restore from a backup
/// up to this old: 90 days.
pub(crate) const ACKED_RETENTION_MS: u64 = 90 * 24 * 60 * 60 * 1000;

/// Most restores one run follows: an epoch that changes again and again
/// within one run is a misconfigured deployment (several servers with
/// different databases behind one address), not a restore.
const MAX_RESTARTS: u32 = 2;

/// Whether an answer in epoch `answered` comes from a restored server, for
/// a store whose last sync was in epoch `known` (0: not known).
pub(super) fn changed(known: u64, answered: u64) -> bool {
    known != 0 && answered != 0 && known != answered
}

/// Starts the store afresh against a server restored into `epoch`: every
/// acknowledged change queued again, the records without unsent changes
/// dropped, the cursor back to 0, the new epoch kept; in one transaction.
/// Returns how many changes were queued again. `restarts` counts the
/// restores followed in this run; too many end it with an error.
pub(super) fn begin_again(store: &mut Store, epoch: u64, restarts: &mut u32) -> Result<u64> {
    *restarts += 1;
    if *restarts > MAX_RESTARTS {
        return Err(Error::Network(
            "the server's epoch changed again during this sync (several servers with different \
             databases behind one address?); nothing is lost, sync again later"
                .into(),
        ));
    }
    let cipher = &store.cipher;
    let tx = store.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let requeued = tx.execute("UPDATE outbox SET acked_ms = NULL WHERE acked_ms IS NOT NULL", [])? as u64;
    let pending = pending_by_record(&tx, cipher)?;
    let ids: Vec<Vec<u8>> =
        tx.prepare("SELECT id FROM records")?.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    for raw in ids {
        let id = gridsync_proto::RecordId::from_slice(&raw).ok_or(Error::Corrupt("record id"))?;
        if !pending.contains_key(&id) {
            forget(&tx, id)?;
        }
    }
    tx.execute("UPDATE device SET cursor = 0, epoch = ?1 WHERE id = 1", params![epoch as i64])?;
    // The restored server may have lost this device's files too: each is
    // asked about again (one it has whole is not sent again).
    tx.execute("UPDATE attachments SET uploaded = 0 WHERE own = 1", [])?;
    tx.commit()?;
    crate::attachments::prune(&store.conn, &store.cipher, &store.attachments_dir())?;
    store.device.cursor = 0;
    store.device.epoch = epoch;
    tracing::warn!(
        requeued,
        "the server was restored from a backup: sending again what it acknowledged, and pulling from the start"
    );
    Ok(requeued)
}

/// Deletes the acknowledged changes older than [`ACKED_RETENTION_MS`].
pub(super) fn prune(tx: &rusqlite::Connection, now: u64) -> Result<()> {
    let before = now.saturating_sub(ACKED_RETENTION_MS) as i64;
    tx.prepare_cached("DELETE FROM outbox WHERE acked_ms IS NOT NULL AND acked_ms < ?1")?
        .execute([before])?;
    Ok(())
}

/// Now, for the acknowledgement time.
pub(super) fn acked_now() -> u64 {
    now_ms()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_known_epoch_that_differs_is_a_restore() {
        assert!(changed(7, 9));
        assert!(!changed(7, 7));
        assert!(!changed(0, 9), "a store that knows no epoch adopts the first");
        assert!(!changed(7, 0), "an older server tells no epoch");
    }
}
