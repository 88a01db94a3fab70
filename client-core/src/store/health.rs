//! The store's self-check, and how a damaged store is opened.
//!
//! On open the file is checked with `PRAGMA quick_check`: every page of
//! every b-tree is read and its structure checked (cells, free space,
//! page links), without the index-to-table cross-check of
//! `integrity_check`. On a store of 10,000 records (about 20 MB) it reads
//! the whole file once; the figure measured is in `docs/SECURITY.md`.
//!
//! A store that fails it is opened by [`open_read_only`]: no schema
//! upgrade, `query_only` so that SQLite itself refuses any write, and the
//! store answers [`crate::Error::Damaged`] to every write and sync.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::SCHEMA;
use crate::error::{Error, Result, is_corruption};

/// Opens an existing store file without creating, upgrading or writing it.
pub(crate) fn open_existing(path: &Path) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    Ok(conn)
}

/// Checks the store file: `true` if SQLite finds it sound. A file SQLite
/// cannot read as a database at all is damaged too; other failures (a
/// missing directory, permissions, a lock held too long) are errors.
pub(crate) fn quick_check(path: &Path) -> Result<bool> {
    let checked = open_existing(path).and_then(|conn| check(&conn));
    match checked {
        Ok(sound) => Ok(sound),
        Err(e) if is_corruption(&e) => Ok(false),
        Err(e) => Err(Error::Storage(e)),
    }
}

/// `PRAGMA quick_check` on an open connection: `true` if sound.
pub(crate) fn check(conn: &Connection) -> rusqlite::Result<bool> {
    // The first problem is enough to know; the text (page numbers) is not shown.
    let first: String = conn.query_row("PRAGMA quick_check(1)", [], |r| r.get(0))?;
    Ok(first == "ok")
}

/// Opens a store that failed its check, for reading only. A file of
/// another schema version than this build's is not read (it would need an
/// upgrade, which writes): [`Error::Damaged`].
pub(super) fn open_read_only(path: &Path) -> Result<Connection> {
    let conn = open_existing(path)?;
    conn.pragma_update(None, "query_only", 1)?;
    let version: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let app_id: i32 = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    if version != SCHEMA.version() || app_id != SCHEMA.application_id {
        return Err(Error::Damaged);
    }
    Ok(conn)
}
