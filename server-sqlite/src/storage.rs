//! [`SqliteStorage`]: the [`Storage`] over one database file, with one
//! writer thread ([`writer`]), a checkpointer beside it ([`checkpoint`]) and
//! a pool of readers ([`pool`]).

mod checkpoint;
mod pool;
mod writer;

use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;

use gridsync_server_core::storage::{ReadJob, StorageFuture, WriteJob};
use gridsync_server_core::{Storage, StorageError, StorageErrorKind};
use tokio::sync::{mpsc, oneshot};

use crate::error::OpenError;
use crate::{DB_FILE, SCHEMA, permissions};
use pool::ReadPool;

/// Write jobs waiting for the writer before senders wait.
const CHANNEL: usize = 256;

/// Idle readers kept open.
const MAX_IDLE_READERS: usize = 8;

/// Prepared statements each connection keeps: every statement of the
/// storage family, so that the ingest path never prepares one twice.
const STATEMENT_CACHE: usize = 128;

/// The SQLite storage: cheap to clone (every clone shares the writer and the
/// readers). The writer thread ends once every clone is dropped.
#[derive(Debug, Clone)]
pub struct SqliteStorage {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    writer: mpsc::Sender<writer::Job>,
    readers: ReadPool,
}

/// Owns the writer thread and its checkpointer; [`WriterThread::join`]
/// waits until every queued job is committed, the WAL is copied back into
/// the database, and both threads have ended.
#[derive(Debug)]
pub struct WriterThread {
    writer: JoinHandle<()>,
    checkpointer: JoinHandle<()>,
}

impl WriterThread {
    /// Waits for the writer to finish, then for the checkpointer's last
    /// checkpoint. The writer ends once every [`SqliteStorage`] clone (and
    /// every write still in flight) is dropped.
    pub fn join(self) {
        if self.writer.join().is_err() {
            tracing::error!("the writer thread panicked");
        }
        if self.checkpointer.join().is_err() {
            tracing::error!("the checkpointer thread panicked");
        }
    }
}

impl SqliteStorage {
    /// Opens (creating on first start, upgrading an older schema) the
    /// database in `data_dir` and starts the writer thread.
    pub fn open(data_dir: &Path) -> Result<(SqliteStorage, WriterThread), OpenError> {
        Self::open_with_clock(data_dir, gridsync_server_core::clock::now_ms)
    }

    /// [`SqliteStorage::open`] with the clock each write group is stamped with.
    pub(crate) fn open_with_clock(
        data_dir: &Path,
        clock: fn() -> u64,
    ) -> Result<(SqliteStorage, WriterThread), OpenError> {
        let data_dir_error = |source| OpenError::DataDir { path: data_dir.to_owned(), source };
        permissions::tighten_and_warn(data_dir).map_err(data_dir_error)?;
        permissions::create(data_dir).map_err(data_dir_error)?;
        let path = data_dir.join(DB_FILE);
        let mut conn = gridsync_sql_support::open(&path, &SCHEMA)?;
        // SQLite made the -wal and -shm files with the database's mode.
        permissions::tighten_and_warn(data_dir).map_err(data_dir_error)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let checkpointer = checkpoint::attach(&mut conn, &path)?;
        let (tx, rx) = mpsc::channel(CHANNEL);
        let writer = std::thread::Builder::new()
            .name("gridsync-writer".into())
            .spawn(move || writer::run(conn, rx, clock))
            .map_err(OpenError::Writer)?;
        let inner = Inner { writer: tx, readers: ReadPool::new(path, MAX_IDLE_READERS) };
        Ok((SqliteStorage { inner: Arc::new(inner) }, WriterThread { writer, checkpointer }))
    }
}

impl SqliteStorage {
    /// Queues `job` for the writer, in a savepoint of its own or not.
    fn send(&self, job: WriteJob, savepoint: bool) -> StorageFuture {
        let writer = self.inner.writer.clone();
        Box::pin(async move {
            let (reply, answer) = oneshot::channel();
            writer.send(writer::Job { work: job, savepoint, reply }).await.map_err(|_| shutting_down())?;
            drop(writer);
            answer.await.map_err(|_| shutting_down())?
        })
    }
}

fn shutting_down() -> StorageError {
    StorageError::unavailable("the server is shutting down; retry later")
}

impl Storage for SqliteStorage {
    fn write_job(&self, job: WriteJob) -> StorageFuture {
        self.send(job, true)
    }

    /// Without a savepoint of its own (see [`writer`]).
    fn write_job_validated(&self, job: WriteJob) -> StorageFuture {
        self.send(job, false)
    }

    fn read_job(&self, job: ReadJob) -> StorageFuture {
        let inner = self.inner.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || inner.readers.run(job)).await.map_err(|e| {
                tracing::error!(error = %e, "a read job did not finish");
                StorageError::new(StorageErrorKind::Other, "a read job panicked or was cancelled")
            })?
        })
    }

    fn healthy(&self) -> bool {
        self.inner.readers.healthy()
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }
}

#[cfg(test)]
mod tests;
