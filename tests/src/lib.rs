//! Support for gridsync's end-to-end tests: a real server on a loopback port
//! on either backend ([`Kind`]: SQLite in a temporary data directory, or a
//! fresh PostgreSQL database), real handset stores in temporary files, and
//! transports that fail at chosen moments to simulate a process killed
//! mid-sync. Every handset is enrolled with a one-time code, as in the field.
//!
//! Every test runs on both backends from one body: see [`matrix!`].

pub mod people;

use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use gridsync_client_core::{Error, HttpTransport, Request, Store, StoreKey, Transport};
use gridsync_proto::Role;
use gridsync_server::operator::Operator;
use gridsync_server::{Database, Inspector, Running, Settings};
use gridsync_server_postgres::testing::TestDatabase;
use tempfile::TempDir;

/// The storage backend a test server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// The embedded default: SQLite in the server's data directory.
    Sqlite,
    /// PostgreSQL (on 127.0.0.1:5432 as user `postgres`, or the server
    /// `GRIDSYNC_TEST_PG` names): a fresh database for each test server,
    /// dropped with it. A test fails (never skips) when it cannot be reached.
    Postgres,
}

impl Kind {
    /// The backend's name, as its storage gives it (`Storage::backend`,
    /// shown by `GET /health`).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Sqlite => "sqlite",
            Kind::Postgres => "postgres",
        }
    }
}

/// Runs every end-to-end test of a file on every backend, from one body.
///
/// Each test is a plain function taking the [`Kind`] it runs on (and
/// returning `()` or `anyhow::Result<()>`, as a test may); one invocation per
/// test file names them all and generates one test per backend:
///
/// ```text
/// gridsync_tests::matrix![pushes_and_pulls, refuses_garbage];
///
/// fn pushes_and_pulls(kind: Kind) -> anyhow::Result<()> {
///     let server = TestServer::start(kind)?;
///     // ...
///     Ok(())
/// }
/// ```
///
/// expands to
///
/// ```text
/// mod sqlite {
///     #[test]
///     fn pushes_and_pulls() -> impl Termination { super::pushes_and_pulls(Kind::Sqlite) }
///     // refuses_garbage, ...
/// }
/// mod postgres {
///     #[test]
///     fn pushes_and_pulls() -> impl Termination { super::pushes_and_pulls(Kind::Postgres) }
///     // ...
/// }
/// ```
///
/// A test function left out of the list is never called, so the
/// `dead_code` lint (an error under `clippy -D warnings`) catches it. Run
/// one backend with `cargo test -p gridsync-tests -- postgres::` (or
/// `sqlite::`).
#[macro_export]
macro_rules! matrix {
    ($($test:ident),+ $(,)?) => {
        /// The end-to-end tests of this file on the embedded SQLite backend.
        mod sqlite {
            $(
                #[test]
                fn $test() -> impl ::std::process::Termination {
                    super::$test($crate::Kind::Sqlite)
                }
            )+
        }

        /// The end-to-end tests of this file on PostgreSQL.
        mod postgres {
            $(
                #[test]
                fn $test() -> impl ::std::process::Termination {
                    super::$test($crate::Kind::Postgres)
                }
            )+
        }
    };
}

/// A running server with its own data directory and, on PostgreSQL, its
/// own database.
#[derive(Debug)]
pub struct TestServer {
    /// The running server (stopped on drop, first; None only inside
    /// [`TestServer::restart`]).
    server: Option<Running>,
    /// The settings it was started with, to start it again.
    settings: Settings,
    /// The operator's commands, opened on first use and kept.
    operator: OnceLock<Operator>,
    /// The inspector, opened on first use and kept.
    inspector: OnceLock<Inspector>,
    database: Database,
    kind: Kind,
    /// Dropped after everything connected to it.
    _postgres: Option<TestDatabase>,
    dir: TempDir,
}

impl TestServer {
    /// Starts a server on `kind` on a free loopback port.
    pub fn start(kind: Kind) -> anyhow::Result<Self> {
        Self::start_on(kind, |_| {})
    }

    /// Starts a server on `kind` after adjusting its settings.
    pub fn start_on(kind: Kind, adjust: impl FnOnce(&mut Settings)) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let mut settings = Settings::new(dir.path().join("data"), "127.0.0.1:0".parse()?);
        settings.workers = 2;
        let postgres = match kind {
            Kind::Sqlite => None,
            Kind::Postgres => Some(TestDatabase::create()),
        };
        settings.database = postgres.as_ref().map(|db| db.url().to_owned());
        // One server process: its attachments in its data directory (a
        // PostgreSQL deployment names its store; none is the default).
        settings.attachments.store = Some(gridsync_server::blobs::StoreKind::Fs);
        adjust(&mut settings);
        let database = settings.database()?;
        anyhow::ensure!(
            database.is_embedded() == (kind == Kind::Sqlite),
            "a {} test server must run on {} (the settings were adjusted to {})",
            kind.name(),
            kind.name(),
            database.describe()
        );
        let server = Running::start(settings.clone())?;
        Ok(Self {
            server: Some(server),
            settings,
            operator: OnceLock::new(),
            inspector: OnceLock::new(),
            database,
            kind,
            _postgres: postgres,
            dir,
        })
    }

    /// The backend it runs on.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The base URL.
    pub fn url(&self) -> String {
        self.running().url()
    }

    /// The running server.
    pub fn running(&self) -> &Running {
        self.server.as_ref().expect("a test server runs from its start to its drop")
    }

    /// Restarts the server process: stops it (gracefully: everything it
    /// acknowledged is committed) and starts a new one with the same
    /// settings on the same database, on a new free port (devices reach it
    /// through [`TestServer::transport`], so they follow). What only lived
    /// in the old process's memory is gone.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        if let Some(running) = self.server.take() {
            running.stop();
        }
        self.server = Some(Running::start(self.settings.clone())?);
        Ok(())
    }

    /// Stops the server gracefully, runs `offline` on its database with
    /// nothing of this test server connected to it (the operator's and the
    /// inspector's connections are closed, and opened anew afterwards), then
    /// starts the server again on the same settings. For what an operator
    /// does with the server stopped: `restore`, say.
    pub fn while_stopped<T>(
        &mut self,
        offline: impl FnOnce(&Database) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        if let Some(running) = self.server.take() {
            running.stop();
        }
        self.operator = OnceLock::new();
        self.inspector = OnceLock::new();
        let done = offline(&self.database);
        self.server = Some(Running::start(self.settings.clone())?);
        done
    }

    /// The server's database, as the operator's commands open it.
    pub fn database(&self) -> Database {
        self.database.clone()
    }

    /// Read-only view of the server database, through the storage seam
    /// (opened on first use).
    pub fn inspect(&self) -> anyhow::Result<&Inspector> {
        if let Some(inspector) = self.inspector.get() {
            return Ok(inspector);
        }
        let inspector = Inspector::open(&self.database)?;
        Ok(self.inspector.get_or_init(|| inspector))
    }

    /// The operator's commands on the server's database, beside the running
    /// server (opened on first use, then kept).
    pub fn operator(&self) -> anyhow::Result<&Operator> {
        if let Some(operator) = self.operator.get() {
            return Ok(operator);
        }
        let operator = people::open_operator(&self.database)?;
        Ok(self.operator.get_or_init(|| operator))
    }

    /// The server's data directory (on PostgreSQL it holds no database).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// A transport to this server.
    pub fn transport(&self) -> HttpTransport {
        HttpTransport::new(&self.url()).expect("an HTTP client can be built")
    }
}

/// A handset: a store file in its own temporary directory, encrypted with
/// its own random key (which a real app keeps in the platform keystore).
#[derive(Debug)]
pub struct Handset {
    /// The open store.
    pub store: Store,
    key: StoreKey,
    path: PathBuf,
    _dir: TempDir,
}

impl Handset {
    /// Initialises a new handset for `server` and enrolls it for the grid
    /// worker `user` of [`people::GRID_A`] (created on first use), who
    /// becomes the author of its changes.
    pub fn new(server: &TestServer, user: &str) -> anyhow::Result<Self> {
        Self::worker(server, user, people::GRID_A)
    }

    /// Today in China Standard Time.
    pub fn today() -> gridsync_proto::Date {
        Store::today(gridsync_proto::date::CHINA_UTC_OFFSET_MINUTES).expect("the clock gives a date")
    }

    /// A handset of the worker `user` assigned to `place`.
    pub fn worker(server: &TestServer, user: &str, place: &str) -> anyhow::Result<Self> {
        Self::enrolled(server, user, Role::Worker, place, None)
    }

    /// A handset of `user` with `role` at `place` (department users: in
    /// `unit`), created on first use, enrolled with a one-time code.
    pub fn enrolled(
        server: &TestServer,
        user: &str,
        role: Role,
        place: &str,
        unit: Option<&str>,
    ) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("handset.db");
        let key = StoreKey::generate()?;
        let mut store = Store::init(&path, &server.url(), user, &key)?;
        people::ensure_user(server, user, role, place, unit)?;
        let code = people::code_for(server, user)?;
        store.enroll(&server.transport(), &code)?;
        Ok(Self { store, key, path, _dir: dir })
    }

    /// Where the store file is.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Simulates the app process dying and starting again: the store is
    /// dropped without any shutdown step and opened from its file with the
    /// handset's key.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        let reopened = Store::open(&self.path, &self.key)?;
        self.store = reopened; // the old connection is dropped here
        Ok(())
    }

    /// Syncs with the server.
    pub fn sync(&mut self, server: &TestServer) -> anyhow::Result<gridsync_client_core::SyncReport> {
        Ok(self.store.sync(&server.transport())?)
    }
}

/// A transport that forwards requests to a real one but "dies" at a chosen
/// moment: after the `n`-th request to `path` has reached the server, the
/// answer is thrown away, as if the process was killed before reading it.
#[derive(Debug)]
pub struct DiesAfter<T> {
    inner: T,
    path: &'static str,
    remaining: AtomicUsize,
}

impl<T> DiesAfter<T> {
    /// Loses the answer of the `n`-th (1-based) request to `path`.
    pub fn new(inner: T, path: &'static str, n: usize) -> Self {
        Self { inner, path, remaining: AtomicUsize::new(n) }
    }
}

impl<T: Transport> Transport for DiesAfter<T> {
    fn send(&self, request: Request) -> Result<Vec<u8>, Error> {
        let path = request.path;
        let answer = self.inner.send(request)?;
        if path == self.path && self.remaining.fetch_sub(1, Ordering::SeqCst) == 1 {
            return Err(Error::Network("simulated crash: answer never read".into()));
        }
        Ok(answer)
    }
}
