//! Readiness: whether the server can do its work, for `/health` and load
//! balancers. A database that answers reads but refuses writes (a
//! read-only data directory or file system, a full disk, a PostgreSQL
//! standby) would acknowledge no push: the server is then not ready.
//!
//! The check reads ([`Storage::healthy`](crate::storage::Storage::healthy))
//! and commits the smallest write there is
//! ([`DirectoryWrite::probe_write`](crate::storage::DirectoryWrite::probe_write),
//! one `meta` row), through the same writer every push goes through. One
//! probe serves every caller for [`PROBE_EVERY_MS`], so polling `/health`
//! costs at most one small commit per interval, however often it is asked.
//! With the database ready, the blob store is asked for a file no one has
//! ([`BlobStore::size`](crate::blobs::BlobStore::size)): a store that does
//! not answer would take no attachment.

use std::time::Duration;

use super::Service;
use crate::error::CoreError;
use crate::storage::StorageExt;

/// How long one probe's answer is reused.
pub const PROBE_EVERY_MS: u64 = 2_000;
/// How long a probe may take before the database counts as not ready.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether the server is ready, and if not, why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    /// Reads and writes go through.
    Ready,
    /// Not ready, for this reason.
    NotReady(NotReady),
}

/// Why the server is not ready. Its [`code`](NotReady::code) is stable and
/// names no path and no data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotReady {
    /// The database does not answer a read.
    DatabaseUnreachable,
    /// The database answers reads but a write does not commit (read-only
    /// file or file system, disk full, standby).
    DatabaseNotWritable,
    /// The write probe did not finish in [`PROBE_TIMEOUT`].
    DatabaseTimeout,
    /// The blob store (attachment bytes) did not answer a lookup, or not
    /// in [`PROBE_TIMEOUT`]. Not asked of a service without one
    /// ([`crate::blobs::NoBlobs`]).
    BlobsUnavailable,
}

impl NotReady {
    /// The reason as `/health` tells it.
    pub fn code(self) -> &'static str {
        match self {
            NotReady::DatabaseUnreachable => "database_unreachable",
            NotReady::DatabaseNotWritable => "database_not_writable",
            NotReady::DatabaseTimeout => "database_timeout",
            NotReady::BlobsUnavailable => "blobs_unavailable",
        }
    }
}

/// The last probe: when (ms) and what it found.
pub(crate) type LastProbe = Option<(u64, Readiness)>;

impl Service {
    /// Whether the database takes reads and writes, probed at most once per
    /// [`PROBE_EVERY_MS`] (concurrent callers wait for one probe). A failed
    /// write is logged (the log may name the cause; the answer does not).
    pub async fn readiness(&self) -> Readiness {
        let mut last = self.readiness.lock().await;
        let now = crate::clock::now_ms();
        if let Some((at, found)) = *last
            && now.saturating_sub(at) < PROBE_EVERY_MS
        {
            return found;
        }
        let found = self.probe().await;
        *last = Some((crate::clock::now_ms(), found));
        found
    }

    async fn probe(&self) -> Readiness {
        let storage = self.storage.clone();
        let reads = tokio::task::spawn_blocking(move || storage.healthy()).await.unwrap_or(false);
        if !reads {
            return Readiness::NotReady(NotReady::DatabaseUnreachable);
        }
        let write = self.storage.write(|tx, now| Ok(tx.probe_write(now)?));
        match tokio::time::timeout(PROBE_TIMEOUT, write).await {
            Ok(Ok(())) => self.probe_blobs().await,
            Ok(Err(CoreError::Storage(e))) => {
                tracing::error!(error = %e, "the database refuses writes: not ready");
                Readiness::NotReady(NotReady::DatabaseNotWritable)
            }
            Ok(Err(CoreError::Refused(r))) => {
                tracing::error!(error = %r, "the write probe was refused: not ready");
                Readiness::NotReady(NotReady::DatabaseNotWritable)
            }
            Err(_) => {
                tracing::error!("the write probe did not finish in time: not ready");
                Readiness::NotReady(NotReady::DatabaseTimeout)
            }
        }
    }

    /// Whether the blob store answers a lookup (of a file no one has).
    async fn probe_blobs(&self) -> Readiness {
        if self.blobs.kind() == "none" {
            return Readiness::Ready;
        }
        let nobody = gridsync_proto::ContentHash([0; 32]);
        match tokio::time::timeout(PROBE_TIMEOUT, self.blobs.size(nobody)).await {
            Ok(Ok(_)) => Readiness::Ready,
            Ok(Err(e)) => {
                tracing::error!(error = %e, store = self.blobs.kind(), "the blob store does not answer: not ready");
                Readiness::NotReady(NotReady::BlobsUnavailable)
            }
            Err(_) => {
                tracing::error!(
                    store = self.blobs.kind(),
                    "the blob store did not answer in time: not ready"
                );
                Readiness::NotReady(NotReady::BlobsUnavailable)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::error::{StorageError, StorageErrorKind};
    use crate::service::ServiceSettings;
    use crate::storage::{ReadJob, Storage, StorageFuture, WriteJob};

    /// A database that answers reads (or not) and refuses every write,
    /// counting the writes asked of it.
    #[derive(Debug)]
    struct ReadOnly {
        reads: bool,
        writes: AtomicUsize,
    }

    impl Storage for ReadOnly {
        fn write_job(&self, _: WriteJob) -> StorageFuture {
            self.writes.fetch_add(1, Ordering::SeqCst);
            Box::pin(std::future::ready(Err(StorageError::new(
                StorageErrorKind::Other,
                "attempt to write a readonly database",
            )
            .into())))
        }

        fn read_job(&self, _: ReadJob) -> StorageFuture {
            Box::pin(std::future::ready(Err(StorageError::unavailable("unused").into())))
        }

        fn healthy(&self) -> bool {
            self.reads
        }

        fn backend(&self) -> &'static str {
            "read-only"
        }
    }

    #[tokio::test]
    async fn a_database_that_refuses_writes_is_not_ready_and_is_probed_once_per_interval() {
        let storage = Arc::new(ReadOnly { reads: true, writes: AtomicUsize::new(0) });
        let service = Service::new(storage.clone(), ServiceSettings::default());
        assert_eq!(service.readiness().await, Readiness::NotReady(NotReady::DatabaseNotWritable));
        assert_eq!(service.readiness().await, Readiness::NotReady(NotReady::DatabaseNotWritable));
        assert_eq!(storage.writes.load(Ordering::SeqCst), 1, "the second answer reused the first probe");
        assert_eq!(NotReady::DatabaseNotWritable.code(), "database_not_writable");

        let unreachable = Arc::new(ReadOnly { reads: false, writes: AtomicUsize::new(0) });
        let service = Service::new(unreachable.clone(), ServiceSettings::default());
        assert_eq!(service.readiness().await, Readiness::NotReady(NotReady::DatabaseUnreachable));
        assert_eq!(unreachable.writes.load(Ordering::SeqCst), 0, "no write without reads");
    }
}
