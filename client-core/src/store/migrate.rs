//! Stores written before encryption at rest (schema version 1) are sealed
//! the first time they are opened with a key.

use gridsync_proto::{Change, RecordId, RecordState};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::DeviceSecret;
use super::sealed::{KEY_CHECK, KEY_CHECK_AAD, outbox_aad, record_aad, seal_secret};
use crate::crypto::Cipher;
use crate::error::{Error, Result};

/// Whether the device row still holds v1 plaintext: `None` without a row.
fn is_plaintext(conn: &Connection) -> Result<Option<bool>> {
    Ok(conn
        .query_row("SELECT key_check IS NULL AND secret IS NULL FROM device WHERE id = 1", [], |r| r.get(0))
        .optional()?)
}

/// Seals the plaintext of a store written before encryption at rest (schema
/// version 1): every record state, every outbox change and the author, in
/// one transaction. Each value is decoded first, so that data which is not
/// v1 plaintext is refused as corrupt rather than sealed. Does nothing to an
/// encrypted store.
pub(super) fn encrypt_plaintext_store(conn: &mut Connection, cipher: &Cipher) -> Result<()> {
    if is_plaintext(conn)? != Some(true) {
        return Ok(());
    }
    // Overwrite what is deleted or moved, rather than only unlinking it.
    let secure_delete: i64 = conn.query_row("PRAGMA secure_delete", [], |r| r.get(0))?;
    conn.pragma_update(None, "secure_delete", 1)?;
    let sealed = seal_plaintext(conn, cipher)?;
    if let Some((records, outbox)) = sealed {
        tracing::info!(records, outbox, "encrypted a plaintext handset store");
        // The plaintext is gone from the tables, not yet from the file:
        // rebuild it and empty the WAL. Best effort: the data is sealed.
        let compacted = conn
            .execute_batch("VACUUM")
            .and_then(|()| conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get::<_, i64>(0)));
        match compacted {
            Ok(0) => {}
            Ok(_) => tracing::warn!("the store was encrypted but its WAL could not be emptied yet"),
            Err(e) => tracing::warn!(error = %e, "the store was encrypted but could not be compacted"),
        }
    }
    conn.pragma_update(None, "secure_delete", secure_delete)?;
    Ok(())
}

/// The transaction of [`encrypt_plaintext_store`]; returns how many record
/// states and outbox changes it sealed, or `None` if another process sealed
/// the store first.
fn seal_plaintext(conn: &mut Connection, cipher: &Cipher) -> Result<Option<(usize, usize)>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if is_plaintext(&tx)? != Some(true) {
        return Ok(None);
    }
    let ids: Vec<Vec<u8>> =
        tx.prepare("SELECT id FROM records")?.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    for raw in &ids {
        let id = RecordId::from_slice(raw).ok_or(Error::Corrupt("record id"))?;
        let plain: Vec<u8> = tx.query_row("SELECT state FROM records WHERE id = ?1", [raw], |r| r.get(0))?;
        match RecordState::from_bytes(&plain) {
            Ok(state) if state.id() == id => {}
            _ => return Err(Error::Corrupt("record state")),
        }
        tx.execute(
            "UPDATE records SET state = ?1 WHERE id = ?2",
            params![cipher.seal(&record_aad(id), &plain)?, raw],
        )?;
    }
    let seqs: Vec<i64> =
        tx.prepare("SELECT seq FROM outbox")?.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    for &seq in &seqs {
        let plain: Vec<u8> = tx.query_row("SELECT change FROM outbox WHERE seq = ?1", [seq], |r| r.get(0))?;
        postcard::from_bytes::<Change>(&plain).map_err(|_| Error::Corrupt("outbox entry"))?;
        tx.execute(
            "UPDATE outbox SET change = ?1 WHERE seq = ?2",
            params![cipher.seal(&outbox_aad(seq), &plain)?, seq],
        )?;
    }
    let author: String = tx.query_row("SELECT author FROM device WHERE id = 1", [], |r| r.get(0))?;
    let secret = DeviceSecret { author, signing_key: None };
    tx.execute(
        "UPDATE device SET author = '', key_check = ?1, secret = ?2 WHERE id = 1",
        params![cipher.seal(KEY_CHECK_AAD, KEY_CHECK)?, seal_secret(cipher, &secret)?],
    )?;
    tx.commit()?;
    Ok(Some((ids.len(), seqs.len())))
}
