//! Figures for monitoring: open conflicts through the partial index of
//! conflicted records (schema v8), the devices' last syncs, and
//! the database's size (its pages and its write-ahead log).

use gridsync_server_core::storage::{DeviceLastSync, StatsRead, StorageResult};

use super::{SqliteTx, actor_id, run};

impl StatsRead for SqliteTx<'_> {
    fn open_conflicts(&mut self) -> StorageResult<u64> {
        run(|| {
            // The term matches `records_conflicted`'s WHERE: only its entries are read.
            let count: i64 = self
                .conn
                .prepare_cached("SELECT count(*) FROM records WHERE conflicted = 1")?
                .query_row([], |r| r.get(0))?;
            Ok(count as u64)
        })
    }

    fn device_last_syncs(&mut self) -> StorageResult<Vec<DeviceLastSync>> {
        run(|| {
            // A device's newest cursor is its highest token (`pull_tokens_device`).
            let mut stmt = self.conn.prepare_cached(
                "SELECT d.id, d.enrolled_ms IS NOT NULL AND d.revoked_ms IS NULL,
                     max(d.last_push_ms, coalesce(
                     (SELECT p.issued_ms FROM pull_tokens p WHERE p.device = d.id ORDER BY p.token DESC LIMIT 1),
                     0))
                 FROM devices d",
            )?;
            let mut rows = stmt.query([])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                let last: i64 = row.get(2)?;
                out.push(DeviceLastSync {
                    device: actor_id(row, 0, "a device id")?,
                    active: row.get(1)?,
                    last_ms: (last > 0).then_some(last as u64),
                });
            }
            Ok(out)
        })
    }

    fn database_bytes(&mut self) -> StorageResult<u64> {
        run(|| {
            let pages: i64 = self.conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
            let page_size: i64 = self.conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
            let wal = self
                .conn
                .path()
                .filter(|path| !path.is_empty())
                .and_then(|path| std::fs::metadata(format!("{path}-wal")).ok())
                .map_or(0, |meta| meta.len());
            Ok((pages.max(0) as u64) * (page_size.max(0) as u64) + wal)
        })
    }
}
