//! Figures for monitoring (the scrape-time gauges of [`crate::metrics`]):
//! each read must cost little however large the deployment grows, since a
//! scraper asks for them every few seconds.

use super::StorageResult;

/// Reads for monitoring, each of bounded cost.
pub trait StatsRead {
    /// Records with a field holding competing values (through an index of
    /// the conflicted records only, not a scan of every record).
    fn open_conflicts(&mut self) -> StorageResult<u64>;

    /// When each enrolled device that is not revoked last synced (its last
    /// accepted push or issued pull cursor, Unix ms), `None` for never; one
    /// entry per device, in no particular order.
    fn device_last_syncs(&mut self) -> StorageResult<Vec<Option<u64>>>;

    /// The database's size in bytes as its server counts it (SQLite: its
    /// pages and its write-ahead log; PostgreSQL: `pg_database_size`).
    fn database_bytes(&mut self) -> StorageResult<u64>;
}
