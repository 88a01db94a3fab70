//! Figures for monitoring: open conflicts through the partial index of
//! conflicted records (schema v5), the devices' last syncs, and
//! `pg_database_size`.

use gridsync_server_core::storage::{DeviceLastSync, StatsRead, StorageResult};

use super::{PgTx, actor_id, get, run, uint};

impl StatsRead for PgTx<'_> {
    fn open_conflicts(&mut self) -> StorageResult<u64> {
        run(|| {
            // The term matches `records_conflicted`'s WHERE: only its entries are read.
            let row = self.one("SELECT count(*) FROM records WHERE conflicted", &[])?;
            uint(&row, 0, "the count of conflicted records")
        })
    }

    fn device_last_syncs(&mut self) -> StorageResult<Vec<DeviceLastSync>> {
        run(|| {
            // A device's newest cursor is its highest token (`pull_tokens_device`).
            let rows = self.rows(
                "SELECT d.id, d.enrolled_ms IS NOT NULL AND d.revoked_ms IS NULL,
                     greatest(d.last_push_ms, coalesce(
                     (SELECT p.issued_ms FROM pull_tokens p WHERE p.device = d.id ORDER BY p.token DESC LIMIT 1),
                     0))
                 FROM devices d",
                &[],
            )?;
            rows.iter()
                .map(|row| {
                    let last: i64 = get(row, 2, "a device's last sync")?;
                    Ok(DeviceLastSync {
                        device: actor_id(row, 0, "a device id")?,
                        active: get(row, 1, "whether a device is active")?,
                        last_ms: (last > 0).then_some(last as u64),
                    })
                })
                .collect()
        })
    }

    fn database_bytes(&mut self) -> StorageResult<u64> {
        run(|| {
            let row = self.one("SELECT pg_database_size(current_database())", &[])?;
            uint(&row, 0, "the database's size")
        })
    }
}
