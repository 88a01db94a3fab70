//! The reports' SQL: `daily_reports` as the sync log keeps it.

use gridsync_server_core::storage::{DailyReportRow, ReportRead, StorageResult};

use super::{PgTx, get, record_id, run, uint};

impl ReportRead for PgTx<'_> {
    fn daily_reports(&mut self, from: &str, to: &str) -> StorageResult<Vec<DailyReportRow>> {
        run(|| {
            let rows = self.rows(
                "SELECT worker, date, record, grid, status, filed_ms, received_ms FROM daily_reports
                 WHERE date BETWEEN $1 AND $2",
                &[&from, &to],
            )?;
            rows.iter()
                .map(|row| {
                    Ok(DailyReportRow {
                        worker: get(row, 0, "a daily report's worker")?,
                        date: get(row, 1, "a daily report's date")?,
                        record: record_id(row, 2, "a daily report's record")?,
                        grid: get(row, 3, "a daily report's grid")?,
                        status: get(row, 4, "a daily report's status")?,
                        filed_ms: uint(row, 5, "a daily report's filing time")?,
                        received_ms: uint(row, 6, "a daily report's receipt time")?,
                    })
                })
                .collect()
        })
    }
}
