//! Read-only inspection of a server database, for operators and tests, on
//! any backend: every question is one read snapshot through the storage
//! seam's read traits ([`ReadTx`]), so the answers are the same for the
//! embedded SQLite database and for PostgreSQL.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use gridsync_proto::{ActorId, RecordId, RecordKind, RecordState};
use gridsync_server_core::CoreError;
use gridsync_server_core::audit::AuditRow;
use gridsync_server_core::storage::{ReadTx, Storage, StorageExt};

use crate::backend::{Backend, Database};

/// Rows of the log read at a time by [`Inspector::changes`].
const PAGE: usize = 1_000;

/// A change as the log holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedChange {
    /// Its log position.
    pub seq: u64,
    /// Its record.
    pub record: RecordId,
    /// The device that made it.
    pub actor: ActorId,
    /// When the server received it (Unix ms).
    pub received_ms: u64,
    /// Whether the device's clock was far off.
    pub clock_suspect: bool,
    /// The change as the log stores it (`gridsync_proto::change::log_body`).
    pub body: Vec<u8>,
}

/// Read-only inspection of a server database, for operators and tests.
///
/// Open it on a [`Database`] ([`Inspector::open`]) or on a storage already
/// open ([`Inspector::new`]). It never writes: every method is one read job.
#[derive(Debug)]
pub struct Inspector {
    storage: Arc<dyn Storage>,
    /// The storage's owner when the inspector opened it itself (kept alive
    /// for as long as the inspector; dropped after `storage`).
    _backend: Option<Backend>,
    runtime: tokio::runtime::Runtime,
}

impl Inspector {
    /// Inspects `storage`.
    pub fn new(storage: Arc<dyn Storage>) -> anyhow::Result<Self> {
        Ok(Self { storage, _backend: None, runtime: runtime()? })
    }

    /// Opens the database of an existing deployment as the operator's
    /// commands do ([`Backend::open`], which brings an older schema up to
    /// date); an embedded data directory without a database is refused
    /// rather than created.
    pub fn open(database: &Database) -> anyhow::Result<Self> {
        if let Database::Embedded { data_dir } = database {
            let file = data_dir.join(gridsync_server_sqlite::DB_FILE);
            anyhow::ensure!(file.exists(), "no server database in {}", data_dir.display());
        }
        let runtime = runtime()?;
        let backend = Backend::open(database).context("cannot open the server database to inspect it")?;
        Ok(Self { storage: backend.storage.clone(), _backend: Some(backend), runtime })
    }

    /// The storage inspected.
    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    /// Runs `work` in one read snapshot, for questions the methods below do
    /// not answer.
    pub fn read<T, F>(&self, work: F) -> anyhow::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn ReadTx) -> Result<T, CoreError> + Send + 'static,
    {
        self.block_on(self.storage.read(work))
    }

    /// Number of changes in the log.
    pub fn change_count(&self) -> anyhow::Result<u64> {
        self.read(|tx| Ok(tx.change_count()?))
    }

    /// Number of merged records.
    pub fn record_count(&self) -> anyhow::Result<u64> {
        self.read(|tx| Ok(tx.record_count()?))
    }

    /// Every record of a kind, by id (a record that does not decode is left out).
    pub fn records_of(&self, kind: RecordKind) -> anyhow::Result<Vec<RecordState>> {
        let states = self.read(move |tx| Ok(tx.records_of_kind(kind)?))?;
        Ok(states.iter().filter_map(|bytes| RecordState::from_bytes(bytes).ok()).collect())
    }

    /// The merged state of a record (None when it is unknown or does not decode).
    pub fn record(&self, id: RecordId) -> anyhow::Result<Option<RecordState>> {
        let bytes = self.read(move |tx| Ok(tx.record_state(id)?))?;
        Ok(bytes.and_then(|bytes| RecordState::from_bytes(&bytes).ok()))
    }

    /// Every change of the log, in log order, as stored.
    pub fn changes(&self) -> anyhow::Result<Vec<LoggedChange>> {
        self.read(|tx| {
            let upto = tx.high_water()?;
            let mut changes: Vec<LoggedChange> = Vec::new();
            let mut after = 0;
            loop {
                let before = changes.len();
                tx.scan(after, upto, PAGE, None, &mut |row| {
                    changes.push(LoggedChange {
                        seq: row.seq,
                        record: row.record,
                        actor: row.actor,
                        received_ms: row.received_ms,
                        clock_suspect: row.clock_suspect,
                        body: row.body.to_vec(),
                    });
                    true
                })?;
                match changes.last() {
                    Some(last) if changes.len() - before == PAGE => after = last.seq,
                    _ => return Ok(changes),
                }
            }
        })
    }

    /// Every row of the audit log, in order.
    pub fn audit(&self) -> anyhow::Result<Vec<AuditRow>> {
        self.read(|tx| {
            let mut rows = Vec::new();
            tx.audit_rows(&mut |row| {
                rows.push(row);
                true
            })?;
            Ok(rows)
        })
    }

    fn block_on<T>(&self, future: impl Future<Output = Result<T, CoreError>>) -> anyhow::Result<T> {
        self.runtime.block_on(future).context("cannot inspect the server database")
    }
}

/// A runtime for the storage's futures (a read job may run on its blocking pool).
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().context("cannot start a runtime")
}
