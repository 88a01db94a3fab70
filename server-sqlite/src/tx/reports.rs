//! The reports' SQL: `daily_reports` as the sync log keeps it.

use gridsync_server_core::storage::{DailyReportRow, ReportRead, StorageResult};
use rusqlite::params;

use super::{SqliteTx, record_id, run};

impl ReportRead for SqliteTx<'_> {
    fn daily_reports(&mut self, from: &str, to: &str) -> StorageResult<Vec<DailyReportRow>> {
        run(|| {
            let mut stmt = self.conn.prepare_cached(
                "SELECT worker, date, record, grid, status, filed_ms, received_ms FROM daily_reports
                 WHERE date BETWEEN ?1 AND ?2",
            )?;
            let mut rows = stmt.query(params![from, to])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(DailyReportRow {
                    worker: row.get(0)?,
                    date: row.get(1)?,
                    record: record_id(row, 2, "a daily report's record")?,
                    grid: row.get(3)?,
                    status: row.get(4)?,
                    filed_ms: row.get::<_, i64>(5)? as u64,
                    received_ms: row.get::<_, i64>(6)? as u64,
                });
            }
            Ok(out)
        })
    }
}
