//! The read side for reports: one row per worker and day, kept by the sync
//! log as daily reports arrive.

use super::StorageResult;

/// A daily report's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyReportRow {
    /// The worker's user name.
    pub worker: String,
    /// The day, `YYYY-MM-DD`.
    pub date: String,
    /// The report record.
    pub record: gridsync_proto::RecordId,
    /// The worker's grid, as the report says.
    pub grid: String,
    /// What it says: `all_safe` or `has_items`.
    pub status: String,
    /// When it was first filed (trusted time, Unix ms).
    pub filed_ms: u64,
    /// When the server first received it (Unix ms).
    pub received_ms: u64,
}

/// Reads for reports.
pub trait ReportRead {
    /// The daily reports of the days from `from` to `to` (inclusive,
    /// `YYYY-MM-DD`), in any order.
    fn daily_reports(&mut self, from: &str, to: &str) -> StorageResult<Vec<DailyReportRow>>;
}
