//! Reading pages of the change log for a device.

use gridsync_proto::{ActorId, Change, LoggedChange, PullResponse};
use rusqlite::{Connection, params};

/// Why a page could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PullError {
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("change {0} in the log does not decode")]
    Corrupt(u64),
}

/// Other devices' changes after `after`, at most `limit`, in sequence order.
///
/// The cursor moves past the device's own changes too, so a device that
/// mostly talks to itself does not scan them again next time.
pub(crate) fn page(
    conn: &Connection,
    device: ActorId,
    after: u64,
    limit: u32,
) -> Result<PullResponse, PullError> {
    let tx = conn.unchecked_transaction()?; // one snapshot for both queries
    let high: i64 = tx.query_row("SELECT coalesce(max(seq), 0) FROM changes", [], |r| r.get(0))?;
    let high = high as u64;
    let mut stmt = tx.prepare_cached(
        "SELECT seq, received_ms, body FROM changes WHERE seq > ?1 AND actor != ?2 ORDER BY seq LIMIT ?3",
    )?;
    let mut rows = stmt.query(params![after as i64, device.as_bytes(), i64::from(limit) + 1])?;
    let mut changes = Vec::with_capacity(limit.min(1_000) as usize);
    let mut more = false;
    while let Some(row) = rows.next()? {
        if changes.len() == limit as usize {
            more = true;
            break;
        }
        let seq = row.get::<_, i64>(0)? as u64;
        let received_ms = row.get::<_, i64>(1)? as u64;
        let body: Vec<u8> = row.get(2)?;
        let change: Change = postcard::from_bytes(&body).map_err(|_| PullError::Corrupt(seq))?;
        changes.push(LoggedChange { seq, received_ms, change });
    }
    let cursor = if more { changes.last().map_or(after, |c| c.seq) } else { high.max(after) };
    Ok(PullResponse { changes, cursor, more })
}
