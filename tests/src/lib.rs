//! Support for gridsync's end-to-end tests: a real server on a loopback port
//! in a temporary data directory, real handset stores in temporary files, and
//! transports that fail at chosen moments to simulate a process killed
//! mid-sync. Every handset is enrolled with a one-time code, as in the field.

pub mod people;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use gridsync_client_core::{Error, HttpTransport, Request, Store, StoreKey, Transport};
use gridsync_proto::Role;
use gridsync_server::{Inspector, Running, Settings};
use tempfile::TempDir;

/// A running server with its own data directory.
#[derive(Debug)]
pub struct TestServer {
    /// The running server (stopped on drop).
    pub server: Running,
    dir: TempDir,
}

impl TestServer {
    /// Starts a server on a free loopback port.
    pub fn start() -> anyhow::Result<Self> {
        Self::start_with(|_| {})
    }

    /// Starts a server after adjusting its settings.
    pub fn start_with(adjust: impl FnOnce(&mut Settings)) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let mut settings = Settings::new(dir.path().join("data"), "127.0.0.1:0".parse()?);
        settings.workers = 2;
        adjust(&mut settings);
        let server = Running::start(settings)?;
        Ok(Self { server, dir })
    }

    /// The base URL.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Read-only view of the server database.
    pub fn inspect(&self) -> anyhow::Result<Inspector> {
        Ok(Inspector::open(&self.data_dir())?)
    }

    /// The server's data directory.
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
        people::ensure_user(&server.data_dir(), user, role, place, unit)?;
        let code = people::code_for(&server.data_dir(), user)?;
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
