//! The server's metrics: their names, labels and help texts, in one place.
//!
//! The layers record through the [`metrics`] facade (a no-op until a
//! recorder is installed, as in the operator's command line and most
//! tests); `gridsync-server` installs the Prometheus recorder and renders
//! it at `GET /metrics` (ADR 0031). Labels carry only codes, routes,
//! operations and outcomes, never a device id, a user or a place.
//!
//! | metric | type | labels | recorded by |
//! |---|---|---|---|
//! | [`SYNC_SECONDS`] | histogram | `op` (push, pull, attachment_status, attachment_upload, attachment_fetch), `outcome` (ok, refused, failed) | the web layer |
//! | [`REFUSALS`] | counter | `route`, `code` | the web layer, for every error answer |
//! | [`PUSHES`] | counter | | [`crate::Service::push`] |
//! | [`PUSH_CHANGES`] | counter | `outcome` (accepted, duplicate, refused) | [`crate::Service::push`] |
//! | [`PUSH_GROUPS_REFUSED`] | counter | `code` | [`crate::Service::push`] |
//! | [`PULL_PAGES`], [`PULL_CHANGES`], [`PULL_SNAPSHOTS`] | counter | | [`crate::Service::pull_as`] |
//! | [`ATTACHMENT_BYTES_IN`] | counter | | [`crate::Service::upload_chunk`] |
//! | [`ATTACHMENT_BYTES_OUT`] | counter | `to` (device, staff) | [`crate::Service::fetch_piece`], [`crate::Service::attachment_download`] |
//! | [`ATTACHMENT_UPLOADS`] | counter | `outcome` (stored, deduplicated, mismatch) | [`crate::Service::upload_chunk`] |
//! | [`WRITER_QUEUE`] | gauge | | the SQLite writer |
//! | [`WRITER_COMMIT_SECONDS`] | histogram | | the SQLite writer |
//! | [`WRITER_GROUP_JOBS`] | histogram | | the SQLite writer |
//! | [`CONFLICTS_OPEN`] | gauge | | [`crate::Service::vitals`], at scrape time |
//! | [`DEVICES`] | gauge | `last_sync` (1h, 24h, 7d, older, never) | [`crate::Service::vitals`], at scrape time |
//! | [`DATABASE_BYTES`] | gauge | | [`crate::Service::vitals`], at scrape time |

use ::metrics::{Unit, describe_counter, describe_gauge, describe_histogram};

/// Seconds the server took over a sync request, from its first byte read
/// to its answer; labels `op` and `outcome`.
pub const SYNC_SECONDS: &str = "gridsync_sync_request_duration_seconds";
/// Error answers, by route pattern and stable error code.
pub const REFUSALS: &str = "gridsync_refusals_total";
/// Pushes the service handled (refused whole or not).
pub const PUSHES: &str = "gridsync_pushes_total";
/// Changes pushed, by `outcome`: accepted (new), duplicate (already held)
/// or refused (in a write group the rules refused).
pub const PUSH_CHANGES: &str = "gridsync_push_changes_total";
/// Write groups of pushes the record rules refused, by code.
pub const PUSH_GROUPS_REFUSED: &str = "gridsync_push_groups_refused_total";
/// Pull pages served.
pub const PULL_PAGES: &str = "gridsync_pull_pages_total";
/// Logged changes sent in pull pages.
pub const PULL_CHANGES: &str = "gridsync_pull_changes_total";
/// Records sent whole (snapshots) in pull pages.
pub const PULL_SNAPSHOTS: &str = "gridsync_pull_snapshots_total";
/// Attachment bytes devices uploaded (chunks acknowledged).
pub const ATTACHMENT_BYTES_IN: &str = "gridsync_attachment_bytes_received_total";
/// Attachment bytes served, by `to`: `device` or `staff`.
pub const ATTACHMENT_BYTES_OUT: &str = "gridsync_attachment_bytes_served_total";
/// Attachment uploads finished, by `outcome`: `stored`, `deduplicated` or
/// `mismatch` (the whole did not match its reference).
pub const ATTACHMENT_UPLOADS: &str = "gridsync_attachment_uploads_total";
/// Write jobs waiting for the embedded backend's writer thread.
pub const WRITER_QUEUE: &str = "gridsync_writer_queue_depth";
/// Seconds the writer spent on one group commit (running its jobs and the commit).
pub const WRITER_COMMIT_SECONDS: &str = "gridsync_writer_commit_duration_seconds";
/// Jobs committed together in one group.
pub const WRITER_GROUP_JOBS: &str = "gridsync_writer_group_jobs";
/// Records with a field holding competing values.
pub const CONFLICTS_OPEN: &str = "gridsync_conflicts_open";
/// Enrolled devices not revoked, by the age of their last sync.
pub const DEVICES: &str = "gridsync_devices";
/// The database's size on disk.
pub const DATABASE_BYTES: &str = "gridsync_database_size_bytes";

/// Label values of [`DEVICES`]: `last_sync` within an hour, a day, a week,
/// longer ago, or never.
pub const DEVICE_AGES: [&str; 5] = ["1h", "24h", "7d", "older", "never"];

/// Upper bounds (ms) of the first three [`DEVICE_AGES`].
const AGE_BOUNDS_MS: [u64; 3] = [3_600_000, 24 * 3_600_000, 7 * 24 * 3_600_000];

/// Buckets of the latency histograms, in seconds.
pub const SECONDS_BUCKETS: &[f64] =
    &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// Buckets of [`WRITER_GROUP_JOBS`].
pub const JOBS_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0];

/// Gives every metric its help text and unit (call once a recorder is installed).
pub fn describe() {
    describe_histogram!(SYNC_SECONDS, Unit::Seconds, "Time to answer a sync request, by op and outcome");
    describe_counter!(REFUSALS, "Error answers, by route pattern and stable error code");
    describe_counter!(PUSHES, "Pushes handled");
    describe_counter!(PUSH_CHANGES, "Changes pushed, by outcome: accepted, duplicate or refused");
    describe_counter!(PUSH_GROUPS_REFUSED, "Write groups refused by the record rules, by code");
    describe_counter!(PULL_PAGES, "Pull pages served");
    describe_counter!(PULL_CHANGES, "Logged changes sent in pull pages");
    describe_counter!(PULL_SNAPSHOTS, "Records sent whole in pull pages");
    describe_counter!(ATTACHMENT_BYTES_IN, Unit::Bytes, "Attachment bytes received from devices");
    describe_counter!(ATTACHMENT_BYTES_OUT, Unit::Bytes, "Attachment bytes served, to devices or staff");
    describe_counter!(ATTACHMENT_UPLOADS, "Attachment uploads finished: stored, deduplicated or mismatch");
    describe_gauge!(WRITER_QUEUE, "Write jobs waiting for the writer thread (embedded backend)");
    describe_histogram!(WRITER_COMMIT_SECONDS, Unit::Seconds, "Time of one group commit (embedded backend)");
    describe_histogram!(WRITER_GROUP_JOBS, "Jobs committed together (embedded backend)");
    describe_gauge!(CONFLICTS_OPEN, "Records with a field holding competing values");
    describe_gauge!(DEVICES, "Enrolled devices, by the age of their last sync");
    describe_gauge!(DATABASE_BYTES, Unit::Bytes, "Size of the database");
}

/// What the scrape-time gauges show, read from the storage in one snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Vitals {
    /// Records with a field in conflict.
    pub conflicts_open: u64,
    /// Devices by [`DEVICE_AGES`].
    pub devices: [u64; 5],
    /// The database's size in bytes.
    pub database_bytes: u64,
}

impl Vitals {
    /// Counts the devices' last syncs (Unix ms; `None`: never) into
    /// [`DEVICE_AGES`] at `now`. A time ahead of `now` counts as within the hour.
    pub fn count_devices(last_syncs: &[Option<u64>], now: u64) -> [u64; 5] {
        let mut out = [0; 5];
        for last in last_syncs {
            let bucket = match last {
                None => 4,
                Some(ms) => {
                    let age = now.saturating_sub(*ms);
                    AGE_BOUNDS_MS.iter().position(|bound| age < *bound).unwrap_or(3)
                }
            };
            out[bucket] += 1;
        }
        out
    }

    /// Sets the gauges.
    pub fn publish(&self) {
        ::metrics::gauge!(CONFLICTS_OPEN).set(self.conflicts_open as f64);
        for (age, count) in DEVICE_AGES.iter().zip(self.devices) {
            ::metrics::gauge!(DEVICES, "last_sync" => *age).set(count as f64);
        }
        ::metrics::gauge!(DATABASE_BYTES).set(self.database_bytes as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_fall_into_their_age_bucket() {
        let now = 100 * 24 * 3_600_000;
        let hour = 3_600_000;
        let syncs = [
            Some(now),            // just now
            Some(now + 5_000),    // a clock ahead
            Some(now - hour + 1), // within the hour
            Some(now - hour),     // an hour ago: the day
            Some(now - 24 * hour + 1),
            Some(now - 24 * hour), // a day ago: the week
            Some(now - 7 * 24 * hour),
            Some(0),
            None,
        ];
        assert_eq!(Vitals::count_devices(&syncs, now), [3, 2, 1, 2, 1]);
        assert_eq!(Vitals::count_devices(&[], now), [0; 5]);
    }
}
