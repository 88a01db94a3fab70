//! Read-only inspection of a server database, for operators and tests.

use std::path::Path;

use gridsync_proto::{RecordId, RecordKind, RecordState};
use rusqlite::{Connection, OptionalExtension};

use crate::{DB_FILE, SCHEMA};

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
        self.0
            .query_row("SELECT count(*) FROM records WHERE state IS NOT NULL", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
    }

    /// Every record of a kind, by id (a record that does not decode is left out).
    pub fn records_of(&self, kind: RecordKind) -> rusqlite::Result<Vec<RecordState>> {
        let mut stmt =
            self.0.prepare("SELECT state FROM records WHERE kind = ?1 AND state IS NOT NULL ORDER BY id")?;
        let rows = stmt.query_map([kind.code()], |r| r.get::<_, Vec<u8>>(0))?;
        Ok(rows.filter_map(|b| b.ok().and_then(|b| RecordState::from_bytes(&b).ok())).collect())
    }

    /// The merged state of a record.
    pub fn record(&self, id: RecordId) -> rusqlite::Result<Option<RecordState>> {
        let bytes: Option<Vec<u8>> = self
            .0
            .query_row(
                "SELECT state FROM records WHERE id = ?1 AND state IS NOT NULL",
                [id.as_bytes()],
                |r| r.get(0),
            )
            .optional()?;
        Ok(bytes.and_then(|b| RecordState::from_bytes(&b).ok()))
    }
}
