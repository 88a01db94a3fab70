//! The server's store: one SQLite database in the data directory, one
//! writer thread that owns the only write connection, and a pool of readers.
//!
//! Every write travels to the writer thread ([`writer`]) as a job; the
//! writer commits waiting jobs together, each in its own savepoint, so a
//! refused push leaves no trace while its neighbours commit, and answers
//! only after the durable commit.

mod ingest;
mod pool;
mod pull;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use gridsync_proto::{ActorId, PullResponse, PushRequest, PushResponse, RecordId, RecordState};
use gridsync_sql_support::Schema;
use rusqlite::{Connection, OptionalExtension};
use tokio::sync::mpsc;

use crate::error::ApiError;
pub(crate) use ingest::precheck;
use pool::ReadPool;
pub use writer::WriteError;

/// The server database schema, one step per version.
pub static SCHEMA: Schema = Schema {
    name: "server database",
    application_id: 0x4753_5256, // "GSRV"
    steps: &[include_str!("../sql/v1.sql"), include_str!("../sql/v2.sql")],
};

/// The database file inside the data directory.
pub const DB_FILE: &str = "gridsync.db";

/// Handle to the store, cheap to clone into every HTTP worker.
#[derive(Debug, Clone)]
pub struct Store {
    writer: mpsc::Sender<writer::Job>,
    readers: Arc<ReadPool>,
}

/// Owns the writer thread; [`WriterThread::join`] waits until every queued
/// push is committed and the thread has ended.
#[derive(Debug)]
pub struct WriterThread(JoinHandle<()>);

impl WriterThread {
    /// Waits for the writer to finish. It ends once every [`Store`] handle is dropped.
    pub fn join(self) {
        if self.0.join().is_err() {
            tracing::error!("the writer thread panicked");
        }
    }
}

/// Why the store could not start.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The data directory cannot be created.
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The database cannot be opened.
    #[error(transparent)]
    Open(#[from] gridsync_sql_support::OpenError),
}

impl Store {
    /// Opens (creating on first start) the database in `data_dir` and starts the writer.
    pub fn open(data_dir: &Path) -> Result<(Store, WriterThread), StoreError> {
        std::fs::create_dir_all(data_dir)
            .map_err(|source| StoreError::DataDir { path: data_dir.to_owned(), source })?;
        let path = data_dir.join(DB_FILE);
        let conn = gridsync_sql_support::open(&path, &SCHEMA)?;
        let (tx, rx) = mpsc::channel(256);
        let thread = std::thread::Builder::new()
            .name("gridsync-writer".into())
            .spawn(move || writer::run(conn, rx, now_ms))
            .map_err(|source| StoreError::DataDir { path: data_dir.to_owned(), source })?;
        let readers = Arc::new(ReadPool::new(path, &SCHEMA, 8));
        Ok((Store { writer: tx, readers }, WriterThread(thread)))
    }

    /// Validates a push, applies it and logs it durably. Returns only after commit.
    pub async fn push(&self, push: PushRequest) -> Result<PushResponse, ApiError> {
        precheck(&push)?;
        self.write(move |conn, now| {
            let outcome = ingest::ingest(conn, &push, now)?;
            let high =
                conn.query_row("SELECT coalesce(max(seq), 0) FROM changes", [], |r| r.get::<_, i64>(0))?;
            Ok(PushResponse {
                accepted: outcome.accepted,
                duplicates: outcome.duplicates,
                high_seq: high as u64,
            })
        })
        .await
    }

    /// Runs `work` on the writer's connection inside a savepoint of the next
    /// group commit, and answers once it is durable. A refusal keeps nothing.
    pub async fn write<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, u64) -> Result<T, WriteError> + Send + 'static,
    {
        let (job, answer) = writer::job(work);
        self.writer.send(job).await.map_err(|_| shutting_down())?;
        answer.await.map_err(|_| shutting_down())?
    }

    /// One page of other devices' changes after `after`. Blocking: call from `web::block`.
    pub fn pull(&self, device: ActorId, after: u64, limit: u32) -> Result<PullResponse, ApiError> {
        let page = self.readers.with(|conn| pull::page(conn, device, after, limit)).map_err(|e| {
            tracing::error!(error = %e, "cannot open a reader");
            ApiError::internal()
        })?;
        page.map_err(|e| {
            tracing::error!(error = %e, "pull failed");
            ApiError::internal()
        })
    }

    /// Runs read-only `work` on a pooled reader, off the async executor.
    pub async fn read<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, WriteError> + Send + 'static,
    {
        let readers = self.readers.clone();
        let result =
            actix_web::web::block(move || readers.with(work)).await.map_err(|_| ApiError::internal())?;
        match result {
            Ok(inner) => inner.map_err(WriteError::into_api),
            Err(e) => {
                tracing::error!(error = %e, "cannot open a reader");
                Err(ApiError::internal())
            }
        }
    }

    /// Appends an event to the audit log, durably.
    pub async fn audit(&self, event: crate::audit::Event) -> Result<(), ApiError> {
        self.write(move |conn, now| Ok(crate::audit::append(conn, now, &event)?)).await
    }

    /// Whether the database answers. Blocking.
    pub fn healthy(&self) -> bool {
        matches!(self.readers.with(|c| c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))), Ok(Ok(1)))
    }
}

fn shutting_down() -> ApiError {
    ApiError::new(gridsync_proto::ErrorCode::Unavailable, "the server is shutting down; retry later")
}

/// The server's clock, Unix milliseconds.
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Read-only inspection of a server database, for operators and tests.
#[derive(Debug)]
pub struct Inspector(Connection);

impl Inspector {
    /// Opens the database in `data_dir` read-only.
    pub fn open(data_dir: &Path) -> Result<Self, gridsync_sql_support::OpenError> {
        gridsync_sql_support::open_reader(&data_dir.join(DB_FILE), &SCHEMA).map(Self)
    }

    /// Number of changes in the log.
    pub fn change_count(&self) -> rusqlite::Result<u64> {
        self.0.query_row("SELECT count(*) FROM changes", [], |r| r.get::<_, i64>(0)).map(|n| n as u64)
    }

    /// Number of merged records.
    pub fn record_count(&self) -> rusqlite::Result<u64> {
        self.0.query_row("SELECT count(*) FROM records", [], |r| r.get::<_, i64>(0)).map(|n| n as u64)
    }

    /// The merged state of a record.
    pub fn record(&self, id: RecordId) -> rusqlite::Result<Option<RecordState>> {
        let bytes: Option<Vec<u8>> = self
            .0
            .query_row("SELECT state FROM records WHERE id = ?1", [id.as_bytes()], |r| r.get(0))
            .optional()?;
        Ok(bytes.and_then(|b| RecordState::from_bytes(&b).ok()))
    }
}
