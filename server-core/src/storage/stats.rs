//! Figures for monitoring (the scrape-time gauges of [`crate::metrics`]):
//! each read must cost little however large the deployment grows, since a
//! scraper asks for them every few seconds.

use gridsync_proto::ActorId;

use super::StorageResult;

/// When one device last synced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceLastSync {
    /// The device.
    pub device: ActorId,
    /// Whether it is enrolled and not revoked: the devices monitoring counts.
    pub active: bool,
    /// Its last accepted push or issued pull cursor, whichever is later
    /// (Unix ms), `None` for never.
    pub last_ms: Option<u64>,
}

/// Reads for monitoring, each of bounded cost.
pub trait StatsRead {
    /// Records with a field holding competing values (through an index of
    /// the conflicted records only, not a scan of every record).
    fn open_conflicts(&mut self) -> StorageResult<u64>;

    /// When each device last synced (its last accepted push or issued pull
    /// cursor), revoked ones and those never enrolled too (marked not
    /// [`active`](DeviceLastSync::active)); one entry per device, in no
    /// particular order.
    fn device_last_syncs(&mut self) -> StorageResult<Vec<DeviceLastSync>>;

    /// The database's size in bytes as its server counts it (SQLite: its
    /// pages and its write-ahead log; PostgreSQL: `pg_database_size`).
    fn database_bytes(&mut self) -> StorageResult<u64>;
}
