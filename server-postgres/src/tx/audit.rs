//! The audit log's SQL: the `audit` table, whose triggers refuse `UPDATE`,
//! `DELETE` and `TRUNCATE`. The chain itself is computed by the core
//! ([`gridsync_server_core::audit::link`]); this module stores and reads
//! rows, and appends under the write lock so that the chain links in commit
//! order across every server process (guarantee 6).

use gridsync_server_core::audit::Event;
use gridsync_server_core::storage::{AuditRead, AuditRow, AuditWrite, StorageResult};

use super::{PgTx, get, int, run, uint};
use crate::error::Failure;

impl AuditRead for PgTx<'_> {
    fn audit_head(&mut self) -> StorageResult<Option<(u64, Vec<u8>)>> {
        run(|| {
            let row = self.row("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", &[])?;
            row.map(|r| Ok((uint(&r, 0, "an audit row's position")?, get(&r, 1, "an audit row's hash")?)))
                .transpose()
        })
    }

    fn audit_rows(&mut self, each: &mut dyn FnMut(AuditRow) -> bool) -> StorageResult<()> {
        run(|| {
            self.each_row(
                "SELECT seq, time_ms, actor, action, target, outcome, detail, prev_hash, hash
                 FROM audit ORDER BY seq",
                &[],
                |row| Ok(each(audit_row(row)?)),
            )
        })
    }

    fn audit_rows_before(
        &mut self,
        before: u64,
        each: &mut dyn FnMut(AuditRow) -> bool,
    ) -> StorageResult<()> {
        let before = int(before);
        run(|| {
            self.each_row(
                "SELECT seq, time_ms, actor, action, target, outcome, detail, prev_hash, hash
                 FROM audit WHERE seq < $1 ORDER BY seq DESC",
                &[&before],
                |row| Ok(each(audit_row(row)?)),
            )
        })
    }

    fn audit_rows_between(
        &mut self,
        first: u64,
        last: u64,
        each: &mut dyn FnMut(AuditRow) -> bool,
    ) -> StorageResult<()> {
        let (first, last) = (int(first), int(last));
        run(|| {
            self.each_row(
                "SELECT seq, time_ms, actor, action, target, outcome, detail, prev_hash, hash
                 FROM audit WHERE seq >= $1 AND seq <= $2 ORDER BY seq",
                &[&first, &last],
                |row| Ok(each(audit_row(row)?)),
            )
        })
    }
}

/// One row of the `audit` table, selected in its column order.
fn audit_row(row: &tokio_postgres::Row) -> Result<AuditRow, Failure> {
    Ok(AuditRow {
        seq: uint(row, 0, "an audit row's position")?,
        time_ms: uint(row, 1, "an audit row's time")?,
        event: Event {
            actor: get(row, 2, "an audit row's actor")?,
            action: get(row, 3, "an audit row's action")?,
            target: get(row, 4, "an audit row's target")?,
            outcome: get(row, 5, "an audit row's outcome")?,
            detail: get(row, 6, "an audit row's detail")?,
        },
        prev_hash: get(row, 7, "an audit row's previous hash")?,
        hash: get(row, 8, "an audit row's hash")?,
    })
}

impl AuditWrite for PgTx<'_> {
    fn insert_audit_row(&mut self, row: &AuditRow) -> StorageResult<()> {
        run(|| {
            let e = &row.event;
            self.execute(
                "INSERT INTO audit (seq, time_ms, actor, action, target, outcome, detail, prev_hash, hash)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                &[
                    &int(row.seq),
                    &int(row.time_ms),
                    &e.actor,
                    &e.action,
                    &e.target,
                    &e.outcome,
                    &e.detail,
                    &row.prev_hash,
                    &row.hash,
                ],
            )?;
            Ok(())
        })
    }

    /// Takes the write lock, then links `event` to the head it reads: under
    /// the lock the head is the last row committed by any process (or
    /// appended earlier in this transaction), so no two transactions link
    /// to the same row.
    fn append_audit(&mut self, time_ms: u64, event: &Event) -> StorageResult<()> {
        run(|| self.write_lock())?;
        let (seq, prev) = match self.audit_head()? {
            Some((seq, hash)) => (seq + 1, hash),
            None => (1, gridsync_server_core::audit::GENESIS.to_vec()),
        };
        let hash = gridsync_server_core::audit::link(&prev, seq, time_ms, event);
        self.insert_audit_row(&AuditRow { seq, time_ms, event: event.clone(), prev_hash: prev, hash })
    }
}
