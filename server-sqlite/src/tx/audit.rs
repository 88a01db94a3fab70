//! The audit log's SQL: the `audit` table, whose triggers refuse `UPDATE`
//! and `DELETE`. The chain itself is computed by the core
//! ([`gridsync_server_core::audit::link`]); this module stores and reads rows.

use gridsync_server_core::audit::Event;
use gridsync_server_core::storage::{AuditRead, AuditRow, AuditWrite, StorageResult};
use rusqlite::{OptionalExtension, params};

use super::{SqliteTx, run};

impl AuditRead for SqliteTx<'_> {
    fn audit_head(&mut self) -> StorageResult<Option<(u64, Vec<u8>)>> {
        run(|| {
            let head: Option<(i64, Vec<u8>)> = self
                .conn
                .prepare_cached("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")?
                .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            Ok(head.map(|(seq, hash)| (seq as u64, hash)))
        })
    }

    fn audit_rows(&mut self, each: &mut dyn FnMut(AuditRow) -> bool) -> StorageResult<()> {
        run(|| {
            let mut stmt = self.conn.prepare_cached(
                "SELECT seq, time_ms, actor, action, target, outcome, detail, prev_hash, hash
                 FROM audit ORDER BY seq",
            )?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                if !each(audit_row(row)?) {
                    break;
                }
            }
            Ok(())
        })
    }

    fn audit_rows_before(
        &mut self,
        before: u64,
        each: &mut dyn FnMut(AuditRow) -> bool,
    ) -> StorageResult<()> {
        run(|| {
            let mut stmt = self.conn.prepare_cached(
                "SELECT seq, time_ms, actor, action, target, outcome, detail, prev_hash, hash
                 FROM audit WHERE seq < ?1 ORDER BY seq DESC",
            )?;
            let mut rows = stmt.query([i64::try_from(before).unwrap_or(i64::MAX)])?;
            while let Some(row) = rows.next()? {
                if !each(audit_row(row)?) {
                    break;
                }
            }
            Ok(())
        })
    }

    fn audit_rows_between(
        &mut self,
        first: u64,
        last: u64,
        each: &mut dyn FnMut(AuditRow) -> bool,
    ) -> StorageResult<()> {
        let bound = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        run(|| {
            let mut stmt = self.conn.prepare_cached(
                "SELECT seq, time_ms, actor, action, target, outcome, detail, prev_hash, hash
                 FROM audit WHERE seq >= ?1 AND seq <= ?2 ORDER BY seq",
            )?;
            let mut rows = stmt.query([bound(first), bound(last)])?;
            while let Some(row) = rows.next()? {
                if !each(audit_row(row)?) {
                    break;
                }
            }
            Ok(())
        })
    }
}

/// One row of the `audit` table, selected in its column order.
fn audit_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRow> {
    Ok(AuditRow {
        seq: row.get::<_, i64>(0)? as u64,
        time_ms: row.get::<_, i64>(1)? as u64,
        event: Event {
            actor: row.get(2)?,
            action: row.get(3)?,
            target: row.get(4)?,
            outcome: row.get(5)?,
            detail: row.get(6)?,
        },
        prev_hash: row.get(7)?,
        hash: row.get(8)?,
    })
}

impl AuditWrite for SqliteTx<'_> {
    fn insert_audit_row(&mut self, row: &AuditRow) -> StorageResult<()> {
        run(|| {
            let e = &row.event;
            self.conn
                .prepare_cached(
                    "INSERT INTO audit (seq, time_ms, actor, action, target, outcome, detail, prev_hash, hash)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )?
                .execute(params![
                    row.seq as i64,
                    row.time_ms as i64,
                    e.actor,
                    e.action,
                    e.target,
                    e.outcome,
                    e.detail,
                    row.prev_hash,
                    row.hash
                ])?;
            Ok(())
        })
    }
}
