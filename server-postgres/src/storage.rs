//! [`PostgresStorage`]: the [`Storage`] over a pool of PostgreSQL
//! connections, driven by a small Tokio runtime of the storage's own.
//!
//! ```text
//! write_job ─▶ spawn_blocking (own runtime) ─▶ pooled client: BEGIN · job · COMMIT ─▶ JoinHandle
//! read_job  ─▶ spawn_blocking (own runtime) ─▶ pooled client: BEGIN REPEATABLE READ READ ONLY · job
//! ```
//!
//! The job runs on the runtime's blocking pool; each statement it makes is
//! driven with `Handle::block_on`. The returned future is the job's
//! `JoinHandle`, which any executor can await (actix's included).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use std::{fmt, thread};

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use gridsync_server_core::storage::{Erased, ReadJob, StorageFuture, WriteJob};
use gridsync_server_core::{CoreError, Storage, StorageError, StorageErrorKind};
use tokio::runtime::{Handle, Runtime};
use tokio_postgres::{IsolationLevel, NoTls};

use crate::error::{OpenError, pool_error, storage_error};
use crate::tx::PgTx;
use crate::{MIGRATIONS, redacted};

/// Worker threads of the storage's runtime: they only drive sockets.
const WORKERS: usize = 2;

/// How long opening a connection may take, unless the URL says
/// (`connect_timeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a job waits for a pooled connection before it fails as
/// unavailable.
const WAIT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long [`Storage::healthy`] waits for an answer.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(5);

/// The key of the migration lock (`pg_advisory_xact_lock`): "GSMIG", 1.
const MIGRATION_LOCK: i64 = 0x4753_4d49_4700_0001;

/// How a [`PostgresStorage`] connects.
#[derive(Debug, Clone, Copy)]
pub struct PgOptions {
    /// Most connections the pool opens (default 16; at least 1). Each
    /// running job (and each guard query) holds one; connections open on
    /// demand and stay open. Every server process has its own pool, so
    /// PostgreSQL's `max_connections` must cover the sum.
    pub pool_size: usize,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self { pool_size: 16 }
    }
}

/// The PostgreSQL storage: cheap to clone (every clone shares the pool and
/// the runtime). Any number of server processes may use one database at
/// once (see the [crate doc](crate) for how the seam's guarantees hold).
///
/// Dropping the last clone stops the runtime without waiting (it may be
/// dropped anywhere, inside an async context too) and closes the pool's
/// connections.
#[derive(Clone)]
pub struct PostgresStorage {
    shared: Arc<Shared>,
}

impl fmt::Debug for PostgresStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.shared.pool.status();
        f.debug_struct("PostgresStorage")
            .field("pool_size", &status.max_size)
            .field("connections", &status.size)
            .field("idle", &status.available)
            .finish_non_exhaustive()
    }
}

/// What every clone of a storage (and its guards) shares. The pool is
/// declared before the runtime, so it is dropped first.
pub(crate) struct Shared {
    pool: Pool,
    runtime: RuntimeOwner,
}

/// Owns the runtime; stops it without blocking when dropped.
struct RuntimeOwner(Option<Runtime>);

impl Drop for RuntimeOwner {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            // Never blocks, so it cannot panic inside an async context; the
            // connections' tasks end with the runtime.
            runtime.shutdown_background();
        }
    }
}

impl Shared {
    /// The storage's runtime.
    pub(crate) fn handle(&self) -> &Handle {
        match &self.runtime.0 {
            Some(runtime) => runtime.handle(),
            None => unreachable!("the runtime lives as long as the storage"),
        }
    }

    /// The connection pool.
    pub(crate) fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Runs a write job: `BEGIN` (read committed), the job, `COMMIT` (or
    /// `ROLLBACK` when the job fails or panics). Blocking: runs on the
    /// runtime's blocking pool.
    fn run_write(&self, job: WriteJob) -> Result<Erased, CoreError> {
        let handle = self.handle();
        let now = gridsync_server_core::clock::now_ms();
        let mut client = handle.block_on(self.pool.get()).map_err(|e| pool_error(&e))?;
        let outcome = match handle.block_on(client.transaction()) {
            Err(e) => Outcome::Broken(storage_error(&e).into()),
            Ok(tx) => {
                let mut pg = PgTx::write(tx, handle.clone());
                let answer = catch_unwind(AssertUnwindSafe(|| job(&mut pg, now))).unwrap_or_else(|_| {
                    tracing::error!("a write job panicked; its transaction was rolled back");
                    Err(StorageError::new(StorageErrorKind::Other, "a write job panicked").into())
                });
                let tx = pg.finish();
                match answer {
                    Ok(value) => match handle.block_on(tx.commit()) {
                        Ok(()) => Outcome::Done(Ok(value)),
                        Err(e) => Outcome::Broken(storage_error(&e).into()),
                    },
                    Err(e) => match handle.block_on(tx.rollback()) {
                        Ok(()) => Outcome::Done(Err(e)),
                        Err(_) => Outcome::Broken(e),
                    },
                }
            }
        };
        outcome.settle(client)
    }

    /// Runs a read job in one snapshot: `BEGIN ISOLATION LEVEL REPEATABLE
    /// READ READ ONLY`, the job, `COMMIT`. Blocking.
    fn run_read(&self, job: ReadJob) -> Result<Erased, CoreError> {
        let handle = self.handle();
        let mut client = handle.block_on(self.pool.get()).map_err(|e| pool_error(&e))?;
        let begin = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start();
        let outcome = match handle.block_on(begin) {
            Err(e) => Outcome::Broken(storage_error(&e).into()),
            Ok(tx) => {
                let mut pg = PgTx::read(tx, handle.clone());
                let answer = catch_unwind(AssertUnwindSafe(|| job(&mut pg))).unwrap_or_else(|_| {
                    tracing::error!("a read job panicked");
                    Err(StorageError::new(StorageErrorKind::Other, "a read job panicked").into())
                });
                let tx = pg.finish();
                let end = if answer.is_ok() {
                    handle.block_on(tx.commit())
                } else {
                    handle.block_on(tx.rollback())
                };
                match end {
                    Ok(()) => Outcome::Done(answer),
                    Err(e) => Outcome::Broken(answer.err().unwrap_or_else(|| storage_error(&e).into())),
                }
            }
        };
        outcome.settle(client)
    }
}

/// How a job's transaction ended.
enum Outcome {
    /// Committed or rolled back: the connection goes back to the pool.
    Done(Result<Erased, CoreError>),
    /// Beginning or ending the transaction failed: the connection's state
    /// is unknown, so it is closed rather than pooled.
    Broken(CoreError),
}

impl Outcome {
    fn settle(self, client: Object) -> Result<Erased, CoreError> {
        match self {
            Outcome::Done(answer) => answer,
            Outcome::Broken(e) => {
                drop(Object::take(client));
                Err(e)
            }
        }
    }
}

/// A job's task did not finish (it cannot panic; the runtime stopped).
fn lost(e: &tokio::task::JoinError) -> CoreError {
    tracing::error!(error = %e, "a storage job did not finish");
    StorageError::unavailable("a storage job did not finish: the storage is shutting down").into()
}

impl PostgresStorage {
    /// Connects, creates/upgrades the schema. Blocking; MUST be callable
    /// from inside an async context (it is called from an actix system's
    /// `block_on`): the work runs on a plain thread that this call joins,
    /// never on the caller's runtime.
    ///
    /// `url` is a PostgreSQL URL (`postgres://user:password@host:port/db`,
    /// or a key/value connection string). The storage starts its runtime
    /// (2 worker threads named `gridsync-pg`), opens one connection to
    /// apply [`MIGRATIONS`] (see [`OpenError`] for what is refused), and
    /// keeps it in the pool. Connections are plain TCP or Unix sockets
    /// (no TLS).
    pub fn connect(url: &str, options: PgOptions) -> Result<PostgresStorage, OpenError> {
        let shown = redacted(url);
        let mut config = tokio_postgres::Config::from_str(url).map_err(|e| {
            let reason = match std::error::Error::source(&e) {
                Some(cause) => format!("{e}: {cause}"),
                None => e.to_string(),
            };
            OpenError::Url { url: shown.clone(), reason }
        })?;
        if config.get_application_name().is_none() {
            config.application_name("gridsync-server");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let size = options.pool_size.max(1);
        let opening = thread::Builder::new()
            .name("gridsync-pg-connect".into())
            .spawn(move || open(config, size, &shown))
            .map_err(OpenError::Runtime)?;
        match opening.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    /// What the guards share with the storage.
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }
}

/// Starts the runtime and the pool, and brings the schema up to date. Runs
/// on a plain thread (it blocks on the new runtime).
fn open(config: tokio_postgres::Config, size: usize, shown: &str) -> Result<PostgresStorage, OpenError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .thread_name("gridsync-pg")
        .enable_all()
        .build()
        .map_err(OpenError::Runtime)?;
    let manager =
        Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
    let pool = Pool::builder(manager)
        .max_size(size)
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .wait_timeout(Some(WAIT_TIMEOUT))
        .create_timeout(Some(CONNECT_TIMEOUT))
        .recycle_timeout(Some(CONNECT_TIMEOUT))
        .build()
        .map_err(|e| OpenError::Connect { url: shown.to_owned(), message: e.to_string() })?;
    runtime.block_on(migrate(&pool, shown))?;
    let shared = Shared { pool, runtime: RuntimeOwner(Some(runtime)) };
    Ok(PostgresStorage { shared: Arc::new(shared) })
}

/// Applies the steps of [`MIGRATIONS`] the database lacks, in one
/// transaction under the migration lock, so that several processes
/// starting at once apply each step once (the others wait, then find the
/// schema current). Refuses a database of a newer version, and one that
/// holds tables but no `schema_version`.
async fn migrate(pool: &Pool, shown: &str) -> Result<(), OpenError> {
    let schema = |e: tokio_postgres::Error| OpenError::Schema {
        url: shown.to_owned(),
        message: storage_error(&e).message,
    };
    let mut client = pool
        .get()
        .await
        .map_err(|e| OpenError::Connect { url: shown.to_owned(), message: pool_error(&e).message })?;
    let tx = client.transaction().await.map_err(schema)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await.map_err(schema)?;
    let versioned: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_tables
                            WHERE schemaname = current_schema() AND tablename = 'schema_version')",
            &[],
        )
        .await
        .and_then(|row| row.try_get(0))
        .map_err(schema)?;
    let supported = MIGRATIONS.len();
    let current = if versioned {
        let row = tx.query_one("SELECT coalesce(max(version), 0) FROM schema_version", &[]).await;
        let version: i32 = row.and_then(|row| row.try_get(0)).map_err(schema)?;
        usize::try_from(version).unwrap_or(0)
    } else {
        let row = tx
            .query_one(
                "SELECT count(*) FROM pg_catalog.pg_class c
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')",
                &[],
            )
            .await;
        let relations: i64 = row.and_then(|row| row.try_get(0)).map_err(schema)?;
        if relations > 0 {
            return Err(OpenError::NotOurs { url: shown.to_owned() });
        }
        0
    };
    if versioned && current == 0 {
        return Err(OpenError::Schema {
            url: shown.to_owned(),
            message: "the schema_version table is empty: the database is not a gridsync database".into(),
        });
    }
    if current > supported {
        return Err(OpenError::TooNew {
            url: shown.to_owned(),
            found: u32::try_from(current).unwrap_or(u32::MAX),
            supported: u32::try_from(supported).unwrap_or(u32::MAX),
        });
    }
    let now = i64::try_from(gridsync_server_core::clock::now_ms()).unwrap_or(i64::MAX);
    for (i, step) in MIGRATIONS.iter().enumerate().skip(current) {
        let version = i32::try_from(i + 1).unwrap_or(i32::MAX);
        tx.batch_execute(step).await.map_err(schema)?;
        if version == crate::TOWNSHIPS_VERSION {
            crate::homes::backfill(&tx).await.map_err(|e| match e {
                crate::homes::BackfillError::Sql(e) => schema(e),
                crate::homes::BackfillError::Corrupt(message) => {
                    OpenError::Schema { url: shown.to_owned(), message }
                }
            })?;
        }
        tx.execute("INSERT INTO schema_version (version, applied_ms) VALUES ($1, $2)", &[&version, &now])
            .await
            .map_err(schema)?;
        tracing::info!(version, "applied a step of the gridsync schema");
    }
    tx.commit().await.map_err(schema)?;
    Ok(())
}

impl Storage for PostgresStorage {
    fn write_job(&self, job: WriteJob) -> StorageFuture {
        let shared = self.shared.clone();
        let task = self.shared.handle().spawn_blocking(move || shared.run_write(job));
        Box::pin(async move { task.await.map_err(|e| lost(&e))? })
    }

    fn read_job(&self, job: ReadJob) -> StorageFuture {
        let shared = self.shared.clone();
        let task = self.shared.handle().spawn_blocking(move || shared.run_read(job));
        Box::pin(async move { task.await.map_err(|e| lost(&e))? })
    }

    /// Asks the database `SELECT 1` on a pooled connection, waiting at most
    /// 5 seconds. Blocking (it waits on a channel, never on the
    /// caller's runtime).
    fn healthy(&self) -> bool {
        let shared = self.shared.clone();
        let (answer, answered) = std::sync::mpsc::sync_channel(1);
        self.shared.handle().spawn(async move {
            let probe = async {
                let client = shared.pool.get().await.ok()?;
                client.simple_query("SELECT 1").await.ok()
            };
            let ok = matches!(tokio::time::timeout(HEALTH_TIMEOUT, probe).await, Ok(Some(_)));
            let _ = answer.send(ok);
        });
        answered.recv().unwrap_or(false)
    }

    fn backend(&self) -> &'static str {
        "postgres"
    }
}
