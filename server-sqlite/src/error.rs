//! Errors: why the store cannot open ([`OpenError`]), and how a SQLite
//! failure becomes the core's [`StorageError`], in one place
//! ([`storage_error`]).

use std::path::PathBuf;

use gridsync_server_core::{StorageError, StorageErrorKind};
use rusqlite::ErrorCode;

/// Why the store could not start.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The data directory cannot be created, or its permissions cannot be
    /// made private.
    #[error("cannot create data directory {path} (or make it private): {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The database cannot be opened (or is not ours, or is too new).
    #[error(transparent)]
    Open(#[from] gridsync_sql_support::OpenError),
    /// The writer thread cannot be started.
    #[error("cannot start the writer thread: {0}")]
    Writer(#[source] std::io::Error),
}

/// A failure inside the backend, before it crosses the seam: SQLite's, or
/// stored data that does not decode. Converted once, by `From`, into a
/// [`StorageError`].
#[derive(Debug)]
pub(crate) enum Failure {
    /// SQLite failed.
    Sql(rusqlite::Error),
    /// A stored row does not decode (what, never its value).
    Corrupt(String),
}

impl From<rusqlite::Error> for Failure {
    fn from(e: rusqlite::Error) -> Self {
        Failure::Sql(e)
    }
}

impl From<Failure> for StorageError {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Sql(e) => storage_error(&e),
            Failure::Corrupt(what) => StorageError::corrupt(what),
        }
    }
}

/// Stored data that does not decode: `what` names it, never its value.
pub(crate) fn corrupt(what: impl Into<String>) -> Failure {
    Failure::Corrupt(what.into())
}

/// The one mapping of a SQLite failure to a [`StorageError`]: busy or locked
/// is `Busy`; a malformed file `Corrupt`; a file that cannot be opened,
/// written or grown `Unavailable`; a constraint violation `Conflict`;
/// anything else `Other`. A stored value that does not convert is `Corrupt`.
/// The message is SQLite's text (which names tables and columns, never the
/// bound values); the conversions that would quote a value are described
/// without it.
pub(crate) fn storage_error(e: &rusqlite::Error) -> StorageError {
    use StorageErrorKind::{Busy, Conflict, Corrupt, Other, Unavailable};
    match e {
        rusqlite::Error::SqliteFailure(code, message) => {
            let kind = match code.code {
                ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => Busy,
                ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => Corrupt,
                ErrorCode::CannotOpen
                | ErrorCode::ReadOnly
                | ErrorCode::SystemIoFailure
                | ErrorCode::DiskFull
                | ErrorCode::PermissionDenied
                | ErrorCode::FileLockingProtocolFailed
                | ErrorCode::NoLargeFileSupport => Unavailable,
                ErrorCode::ConstraintViolation => Conflict,
                _ => Other,
            };
            let text = message.clone().unwrap_or_else(|| code.to_string());
            StorageError::new(kind, format!("sqlite: {text}"))
        }
        rusqlite::Error::FromSqlConversionFailure(column, ty, _) => {
            StorageError::new(Corrupt, format!("a stored {ty} in column {column} does not convert"))
        }
        rusqlite::Error::IntegralValueOutOfRange(column, _) => {
            StorageError::new(Corrupt, format!("a stored integer in column {column} is out of range"))
        }
        rusqlite::Error::Utf8Error(column, _) => {
            StorageError::new(Corrupt, format!("stored text in column {column} is not UTF-8"))
        }
        rusqlite::Error::InvalidColumnType(column, name, ty) => {
            StorageError::new(Corrupt, format!("column {column} ({name}) holds an unexpected {ty}"))
        }
        rusqlite::Error::ToSqlConversionFailure(_) => {
            StorageError::new(Other, "a parameter cannot be converted for SQLite")
        }
        other => StorageError::new(Other, format!("sqlite: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::*;

    #[test]
    fn failures_map_by_kind_without_values() {
        let conn = Connection::open_in_memory().expect("open");
        conn.execute_batch("CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER NOT NULL)").expect("create");
        conn.execute("INSERT INTO t VALUES (?1, 1)", ["secret-name"]).expect("insert");
        let e = conn.execute("INSERT INTO t VALUES (?1, 2)", ["secret-name"]).expect_err("duplicate");
        let mapped = storage_error(&e);
        assert_eq!(mapped.kind, StorageErrorKind::Conflict);
        assert!(mapped.message.contains("t.k") && !mapped.message.contains("secret"), "{mapped}");

        let e = conn.query_row("SELECT k FROM t", [], |r| r.get::<_, i64>(0)).expect_err("type");
        assert_eq!(storage_error(&e).kind, StorageErrorKind::Corrupt);
        assert!(!storage_error(&e).message.contains("secret"));

        let e = conn.execute("INSERT INTO nowhere VALUES (1)", []).expect_err("no table");
        assert_eq!(storage_error(&e).kind, StorageErrorKind::Other);

        let code = |code| rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None);
        assert_eq!(storage_error(&code(rusqlite::ffi::SQLITE_BUSY)).kind, StorageErrorKind::Busy);
        assert_eq!(storage_error(&code(rusqlite::ffi::SQLITE_FULL)).kind, StorageErrorKind::Unavailable);
        assert_eq!(storage_error(&code(rusqlite::ffi::SQLITE_NOTADB)).kind, StorageErrorKind::Corrupt);
        assert_eq!(StorageError::from(corrupt("a role")).kind, StorageErrorKind::Corrupt);
    }
}
