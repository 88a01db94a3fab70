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

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use gridsync_proto::{
    ActorId, ErrorCode, PullRequest, PullResponse, PushRequest, PushResponse, RecordId, RecordState,
};
use gridsync_sql_support::Schema;
use rusqlite::{Connection, OptionalExtension};
use tokio::sync::mpsc;

use crate::directory::{self, DirectoryCache};
use crate::error::ApiError;
use crate::scope::ScopeSettings;
pub use ingest::CLOCK_SUSPECT_MS;
pub(crate) use ingest::precheck;
use pool::ReadPool;
pub use writer::WriteError;

/// The server database schema, one step per version.
pub static SCHEMA: Schema = Schema {
    name: "server database",
    application_id: 0x4753_5256, // "GSRV"
    steps: &[include_str!("../sql/v1.sql"), include_str!("../sql/v2.sql"), include_str!("../sql/v3.sql")],
};

/// The database file inside the data directory.
pub const DB_FILE: &str = "gridsync.db";

/// Handle to the store, cheap to clone into every HTTP worker.
#[derive(Debug, Clone)]
pub struct Store {
    writer: mpsc::Sender<writer::Job>,
    readers: Arc<ReadPool>,
    directory: Arc<DirectoryCache>,
    scope: ScopeSettings,
    /// The scope of each device in the middle of a paged pull.
    paging: Arc<std::sync::Mutex<HashMap<ActorId, Paging>>>,
}

/// A device's scope, kept between the pages of one pull.
#[derive(Debug)]
struct Paging {
    /// The cursor the next page will present.
    cursor: u64,
    /// When the scope was computed.
    made_ms: u64,
    /// The directory version and the scope.
    scope: (u64, Arc<crate::scope::Visible>),
}

/// How long a device's scope is reused between pages: a sync that pauses
/// longer computes it again.
const PAGING_REUSE_MS: u64 = 60_000;

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
    /// Opens (creating on first start) the database in `data_dir` with the
    /// default scope settings and starts the writer.
    pub fn open(data_dir: &Path) -> Result<(Store, WriterThread), StoreError> {
        Self::open_with(data_dir, ScopeSettings::default())
    }

    /// Opens the database in `data_dir`, with devices scoped by `scope`.
    pub fn open_with(data_dir: &Path, scope: ScopeSettings) -> Result<(Store, WriterThread), StoreError> {
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
        let directory = Arc::new(DirectoryCache::default());
        Ok((Store { writer: tx, readers, directory, scope, paging: Arc::default() }, WriterThread(thread)))
    }

    /// The directory cache, shared by every connection of this store.
    pub fn directory(&self) -> &DirectoryCache {
        &self.directory
    }

    /// How much each device holds.
    pub fn scope(&self) -> ScopeSettings {
        self.scope
    }

    /// Validates a push by `user`'s device, applies every group the rules
    /// accept and logs them durably. Returns only after commit.
    pub async fn push(&self, push: PushRequest, user: String) -> Result<PushResponse, ApiError> {
        precheck(&push)?;
        let directory = self.directory.clone();
        self.write(move |conn, now| {
            let actor = directory::actor(conn, &user)?.ok_or_else(unknown_user)?;
            let (_, dir) = directory.get(conn)?;
            let pusher = ingest::Pusher { actor: &actor, dir: &dir, now };
            let outcome = ingest::ingest(conn, &push, &pusher)?;
            let high =
                conn.query_row("SELECT coalesce(max(seq), 0) FROM changes", [], |r| r.get::<_, i64>(0))?;
            Ok(PushResponse {
                accepted: outcome.accepted,
                duplicates: outcome.duplicates,
                high_seq: high as u64,
                received_ms: now,
                refused: outcome.refused,
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

    /// The next page of what changed in the scope of `user`'s device:
    /// planned on a reader, then recorded by the writer (which issues the
    /// page's cursor) unless the page changes nothing.
    pub async fn pull(&self, request: PullRequest, user: String) -> Result<PullResponse, ApiError> {
        let (directory, scope) = (self.directory.clone(), self.scope);
        let device = request.device;
        let now = now_ms();
        let (reuse, made_ms) = {
            let mut paging = self.paging.lock().unwrap_or_else(|p| p.into_inner());
            paging.retain(|_, p| now.saturating_sub(p.made_ms) < PAGING_REUSE_MS);
            match paging.remove(&device) {
                Some(p) if p.cursor == request.cursor => (Some(p.scope), p.made_ms),
                _ => (None, now),
            }
        };
        let plan =
            self.read(move |conn| pull::plan(conn, &directory, &scope, &request, &user, now, reuse)).await?;
        let more = plan.response.more;
        let (response, scope) = if plan.is_idle() {
            let scope = plan.scope.clone();
            (plan.response, scope)
        } else {
            let scope = plan.scope.clone();
            let response = self
                .write(move |conn, now| {
                    let cursor = pull::record(conn, device, &plan, now)?;
                    let mut response = plan.response;
                    response.cursor = cursor;
                    Ok(response)
                })
                .await?;
            (response, scope)
        };
        if more {
            let next = Paging { cursor: response.cursor, made_ms, scope };
            self.paging.lock().unwrap_or_else(|p| p.into_inner()).insert(device, next);
        }
        Ok(response)
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

fn unknown_user() -> WriteError {
    WriteError::Refused(ApiError::new(ErrorCode::UnknownDevice, "this device's user is not known"))
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

    /// Every record of a kind, by id (a record that does not decode is left out).
    pub fn records_of(&self, kind: gridsync_proto::RecordKind) -> rusqlite::Result<Vec<RecordState>> {
        let mut stmt = self.0.prepare("SELECT state FROM records WHERE kind = ?1 ORDER BY id")?;
        let rows = stmt.query_map([kind.code()], |r| r.get::<_, Vec<u8>>(0))?;
        Ok(rows.filter_map(|b| b.ok().and_then(|b| RecordState::from_bytes(&b).ok())).collect())
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
