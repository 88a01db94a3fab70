//! Which database the server keeps its data in, and opening it.
//!
//! * Nothing configured: the embedded SQLite database in the data directory
//!   ([`gridsync_server_sqlite`]), with replay protection and rate limits in
//!   this process's memory: one process serves the deployment.
//! * `--database postgres://…` (`GRIDSYNC_DATABASE`, `database = "…"` in
//!   the settings file): PostgreSQL ([`gridsync_server_postgres`]), with
//!   replay protection and rate limits in the database, so any number of
//!   `gridsync-server` processes can serve one deployment behind a load
//!   balancer (ADR 0013).
//!
//! A PostgreSQL URL may carry a password: it is never logged or printed
//! ([`Database::describe`] and the `Debug` form show it as `***`).

use std::fmt;
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use gridsync_server_core::guard::{MemoryRateLimiter, MemoryReplayGuard, RateLimiter, ReplayGuard};
use gridsync_server_core::{Service, Storage};
use gridsync_server_postgres::{PgOptions, PostgresStorage};
use gridsync_server_sqlite::{SqliteStorage, WriterThread};

use crate::refusals::RefusalCloser;

/// What `--database` accepts, for error messages.
const ACCEPTED: &str = "a PostgreSQL URL, postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE \
                        (or postgresql://…); leave it out to keep the embedded SQLite database \
                        in the data directory (--data)";

/// Where the server keeps its data.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// The embedded SQLite database in a data directory (the default).
    Embedded {
        /// The data directory, created on first use.
        data_dir: PathBuf,
    },
    /// A PostgreSQL database that several server processes may share.
    Postgres {
        /// The connection URL (`postgres://…`), possibly with a password.
        url: String,
    },
}

impl Database {
    /// The database the settings name: PostgreSQL when `database` is a
    /// `postgres://` or `postgresql://` URL, the embedded SQLite in
    /// `data_dir` when it is `None` (or blank, as an empty
    /// `GRIDSYNC_DATABASE=` is). Anything else is refused with an error that
    /// names `--database` and says what it accepts (without repeating the
    /// value, which may hold a password).
    pub fn resolve(data_dir: &Path, database: Option<&str>) -> anyhow::Result<Database> {
        let Some(value) = database.map(str::trim).filter(|v| !v.is_empty()) else {
            return Ok(Database::Embedded { data_dir: data_dir.to_owned() });
        };
        if gridsync_server_postgres::is_postgres_url(value) {
            return Ok(Database::Postgres { url: value.to_owned() });
        }
        // The scheme cannot hold a password: naming it helps the operator.
        let what = match value.split_once("://") {
            Some((scheme, _))
                if !scheme.is_empty()
                    && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
            {
                format!("a {scheme}:// URL")
            }
            _ => "not a URL".to_owned(),
        };
        anyhow::bail!(
            "--database (GRIDSYNC_DATABASE, `database` in the settings file) was given {what}: \
             it takes {ACCEPTED}"
        )
    }

    /// What to show in logs and messages: the data directory, or the URL
    /// with its password replaced by `***`.
    pub fn describe(&self) -> String {
        match self {
            Database::Embedded { data_dir } => data_dir.display().to_string(),
            Database::Postgres { url } => gridsync_server_postgres::redacted(url),
        }
    }

    /// Whether this is the embedded SQLite database.
    pub fn is_embedded(&self) -> bool {
        matches!(self, Database::Embedded { .. })
    }
}

/// Never shows a password.
impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Embedded { data_dir } => {
                f.debug_struct("Embedded").field("data_dir", data_dir).finish()
            }
            Database::Postgres { url } => {
                f.debug_struct("Postgres").field("url", &gridsync_server_postgres::redacted(url)).finish()
            }
        }
    }
}

/// An opened backend with the guards that go with it (memory guards for the
/// embedded database: one process; database-backed guards for PostgreSQL:
/// shared by every process).
pub struct Backend {
    /// The storage the service runs on.
    pub storage: Arc<dyn Storage>,
    /// Replay protection for signed device requests.
    pub replay: Arc<dyn ReplayGuard>,
    kind: Kind,
    /// The thread closing refusal minutes while serving, stopped first by
    /// [`Backend::join`].
    closer: Option<RefusalCloser>,
}

/// What only one backend has.
enum Kind {
    /// SQLite's writer thread, joined by [`Backend::join`], and the serve
    /// lock once taken ([`Backend::lock_for_serving`]).
    Embedded { writer: WriterThread, data_dir: PathBuf, serve_lock: Option<File> },
    /// The PostgreSQL storage, for its database-backed rate limiter.
    Postgres(PostgresStorage),
}

/// The file `serve` holds locked in an embedded data directory.
pub const SERVE_LOCK_FILE: &str = "serve.lock";

/// Takes the exclusive lock on [`SERVE_LOCK_FILE`] (mode 0600) in the
/// embedded data directory `data_dir`, held until the file is dropped:
/// `serve` holds it while it serves, `restore` while it replaces the
/// database. Refused, naming the directory, while another process holds it.
pub fn lock_data_dir(data_dir: &Path) -> anyhow::Result<File> {
    let path = data_dir.join(SERVE_LOCK_FILE);
    let mut options = OpenOptions::new();
    options.create(true).truncate(false).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(&path).with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => anyhow::bail!(
            "another gridsync-server is already serving the data directory {}: stop it first, \
             or give this one its own --data (several servers on one deployment need \
             --database postgres://…, see docs/OPERATIONS.md)",
            data_dir.display()
        ),
        Err(TryLockError::Error(e)) => Err(e).with_context(|| format!("cannot lock {}", path.display())),
    }
}

impl fmt::Debug for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Backend").field("storage", &self.storage.backend()).finish_non_exhaustive()
    }
}

impl Backend {
    /// Opens `database`: creates (or upgrades) the embedded database in its
    /// data directory and starts its writer thread, or connects to
    /// PostgreSQL and creates (or upgrades) its schema. Blocking; may be
    /// called inside an async context.
    pub fn open(database: &Database) -> anyhow::Result<Backend> {
        Self::open_with(database, PgOptions::default())
    }

    /// [`Backend::open`] with the PostgreSQL connection pool's `options`
    /// (ignored for the embedded database).
    pub fn open_with(database: &Database, options: PgOptions) -> anyhow::Result<Backend> {
        match database {
            Database::Embedded { data_dir } => {
                let (storage, writer) = SqliteStorage::open(data_dir)
                    .with_context(|| format!("cannot open the data directory {}", data_dir.display()))?;
                Ok(Backend {
                    storage: Arc::new(storage),
                    replay: Arc::new(MemoryReplayGuard::default()),
                    kind: Kind::Embedded { writer, data_dir: data_dir.clone(), serve_lock: None },
                    closer: None,
                })
            }
            Database::Postgres { url } => {
                // The error names the URL redacted; should the driver ever
                // echo it whole, its password is masked here all the same.
                let storage = PostgresStorage::connect(url, options).map_err(|e| {
                    anyhow::anyhow!(
                        "{}",
                        e.to_string().replace(url.as_str(), &gridsync_server_postgres::redacted(url))
                    )
                })?;
                Ok(Backend {
                    storage: Arc::new(storage.clone()),
                    replay: storage.replay_guard(),
                    kind: Kind::Postgres(storage),
                    closer: None,
                })
            }
        }
    }

    /// Makes this the only server of an embedded data directory until the
    /// backend is dropped: replay protection and rate limits live in the
    /// serving process's memory, so a second `serve` on the same directory
    /// would let a replayed request through. Takes an exclusive lock on
    /// [`SERVE_LOCK_FILE`] (mode 0600); operator commands do not take it
    /// (they share the database through SQLite's own locking). Nothing to do
    /// on PostgreSQL, where every process shares those guards.
    pub fn lock_for_serving(&mut self) -> anyhow::Result<()> {
        let Kind::Embedded { data_dir, serve_lock, .. } = &mut self.kind else { return Ok(()) };
        *serve_lock = Some(lock_data_dir(data_dir)?);
        Ok(())
    }

    /// Closes the refusal minutes of `service` (on this backend) while
    /// serving, and the open one when [`Backend::join`] is called.
    pub fn close_refusals_of(&mut self, service: Service) -> anyhow::Result<()> {
        self.closer = Some(RefusalCloser::start(service)?);
        Ok(())
    }

    /// Per-address limits of enrollment and admin login attempts: in this
    /// process's memory for the embedded database, counted in PostgreSQL
    /// (so every process shares them) otherwise.
    pub fn rate_limiter(&self, enrollments_per_minute: u32, logins_per_minute: u32) -> Arc<dyn RateLimiter> {
        match &self.kind {
            Kind::Embedded { .. } => {
                Arc::new(MemoryRateLimiter::new(enrollments_per_minute, logins_per_minute))
            }
            Kind::Postgres(storage) => storage.rate_limiter(enrollments_per_minute, logins_per_minute),
        }
    }

    /// Waits for queued writes (SQLite's writer thread) to finish. The
    /// writer ends once every other handle on the storage (the service's,
    /// the HTTP workers') is dropped: call this after them, outside async
    /// code (it blocks). Dropping a backend instead leaves the writer to
    /// finish on its own.
    pub fn join(self) {
        let Backend { storage, replay, kind, closer } = self;
        if let Some(closer) = closer {
            closer.stop();
        }
        drop(storage);
        drop(replay);
        match kind {
            Kind::Embedded { writer, .. } => writer.join(),
            Kind::Postgres(storage) => drop(storage),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_configured_is_the_embedded_database() {
        let data = Path::new("/srv/gridsync");
        let embedded = Database::Embedded { data_dir: data.to_owned() };
        assert_eq!(Database::resolve(data, None).expect("default"), embedded);
        assert_eq!(Database::resolve(data, Some("  ")).expect("blank"), embedded);
        assert_eq!(embedded.describe(), "/srv/gridsync");
        assert!(embedded.is_embedded());
    }

    #[test]
    fn a_postgres_url_is_postgres_and_its_password_is_never_shown() {
        let data = Path::new("/srv/gridsync");
        for url in ["postgres://grid:s3cret@db.lan:5432/gridsync", "postgresql://grid:s3cret@db.lan/gridsync"]
        {
            let database = Database::resolve(data, Some(url)).expect("a postgres URL");
            assert_eq!(database, Database::Postgres { url: url.to_owned() });
            assert!(!database.is_embedded());
            let shown = [database.describe(), format!("{database:?}")];
            for text in shown {
                assert!(!text.contains("s3cret") && text.contains("db.lan"), "{text}");
            }
        }
    }

    #[test]
    fn anything_else_is_refused_naming_the_flag() {
        let data = Path::new("/srv/gridsync");
        for value in
            ["mysql://root:hunter2@db/gridsync", "/var/lib/gridsync/gridsync.db", "sqlite://x.db", "postgres"]
        {
            let err = Database::resolve(data, Some(value)).expect_err(value).to_string();
            assert!(err.contains("--database") && err.contains("postgres://"), "{err}");
            assert!(!err.contains("hunter2"), "the value is not repeated: {err}");
        }
        let err = Database::resolve(data, Some("mysql://root:hunter2@db/gridsync")).expect_err("mysql");
        assert!(err.to_string().contains("a mysql:// URL"), "{err}");
    }
}
