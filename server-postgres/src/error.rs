//! Errors: why the store cannot open ([`OpenError`]), and how a PostgreSQL
//! failure becomes the core's [`StorageError`], in one place
//! ([`storage_error`], [`pool_error`]).
//!
//! Messages carry PostgreSQL's primary message and its SQLSTATE, never a
//! bound parameter value: the `DETAIL` field (which quotes key values, e.g.
//! `Key (name)=(wang) already exists`) is never read, and stored values
//! that do not convert are described by what they are, not by their
//! content. Personal data never reaches an error or a log line.

use deadpool_postgres::PoolError;
use gridsync_server_core::{StorageError, StorageErrorKind};
use tokio_postgres::error::SqlState;

/// Why [`PostgresStorage::connect`](crate::PostgresStorage::connect) failed.
/// URLs in the messages are [`redacted`](crate::redacted): a password
/// never appears.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The `--database` value is not a PostgreSQL connection URL.
    #[error("{url} is not a valid PostgreSQL URL: {reason}")]
    Url {
        /// The value, redacted.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The storage's own runtime (or the thread that connects) cannot start.
    #[error("cannot start the PostgreSQL client runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// The server cannot be reached, or refuses the connection.
    #[error("cannot connect to PostgreSQL at {url}: {message}")]
    Connect {
        /// The URL, redacted.
        url: String,
        /// Why (the driver's or the server's message).
        message: String,
    },
    /// The schema cannot be read, created or upgraded.
    #[error("cannot create or upgrade the gridsync schema at {url}: {message}")]
    Schema {
        /// The URL, redacted.
        url: String,
        /// PostgreSQL's message and SQLSTATE.
        message: String,
    },
    /// The database was set up by a newer gridsync server.
    #[error(
        "the database at {url} has gridsync schema version {found}, newer than this server's ({supported}): \
         upgrade the gridsync server to run on it"
    )]
    TooNew {
        /// The URL, redacted.
        url: String,
        /// The database's schema version.
        found: u32,
        /// The newest version this build knows.
        supported: u32,
    },
    /// The database holds tables but no gridsync schema.
    #[error(
        "the database at {url} is not empty but holds no gridsync schema (no schema_version table): \
         give gridsync an empty database of its own"
    )]
    NotOurs {
        /// The URL, redacted.
        url: String,
    },
}

/// A failure inside the backend, before it crosses the seam: PostgreSQL's,
/// the pool's, or stored data that does not decode. Converted once, by
/// `From`, into a [`StorageError`].
#[derive(Debug)]
pub(crate) enum Failure {
    /// PostgreSQL (or the driver) failed.
    Pg(tokio_postgres::Error),
    /// No connection could be had from the pool.
    Pool(PoolError),
    /// A stored row does not decode (what, never its value).
    Corrupt(String),
}

impl From<tokio_postgres::Error> for Failure {
    fn from(e: tokio_postgres::Error) -> Self {
        Failure::Pg(e)
    }
}

impl From<PoolError> for Failure {
    fn from(e: PoolError) -> Self {
        Failure::Pool(e)
    }
}

impl From<Failure> for StorageError {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Pg(e) => storage_error(&e),
            Failure::Pool(e) => pool_error(&e),
            Failure::Corrupt(what) => StorageError::corrupt(what),
        }
    }
}

impl From<Failure> for gridsync_server_core::CoreError {
    fn from(f: Failure) -> Self {
        StorageError::from(f).into()
    }
}

/// Stored data that does not decode: `what` names it, never its value.
pub(crate) fn corrupt(what: impl Into<String>) -> Failure {
    Failure::Corrupt(what.into())
}

/// The kind of a SQLSTATE: serialization failures, deadlocks, lock waits
/// that gave up and cancelled statements are `Busy` (retry); integrity
/// violations (unique, foreign key, the audit log's append-only trigger)
/// `Conflict`; data corruption `Corrupt`; a lost or refused connection, a
/// server shutting down or out of resources `Unavailable`; anything else
/// `Other`.
pub(crate) fn kind_of(code: &SqlState) -> StorageErrorKind {
    use StorageErrorKind::{Busy, Conflict, Corrupt, Other, Unavailable};
    let code = code.code();
    match code {
        "40001" | "40P01" | "55P03" | "57014" => Busy,
        "XX001" | "XX002" => Corrupt,
        _ if code.starts_with("23") => Conflict,
        _ if code.starts_with("08") || code.starts_with("57P0") || code.starts_with("53") => Unavailable,
        _ => Other,
    }
}

/// The one mapping of a driver or PostgreSQL failure to a [`StorageError`]
/// (see [`kind_of`]). A server error is described by its SQLSTATE and
/// primary message; a driver error (lost connection, time-out, …) by the
/// driver's own words and their cause, which never hold a parameter.
pub(crate) fn storage_error(e: &tokio_postgres::Error) -> StorageError {
    if let Some(db) = e.as_db_error() {
        let kind = kind_of(db.code());
        return StorageError::new(kind, format!("postgres {}: {}", db.code().code(), db.message()));
    }
    let text = e.to_string();
    let lost = e.is_closed()
        || [
            "error communicating with the server",
            "error connecting to server",
            "timeout waiting for server",
            "error performing TLS handshake",
            "authentication error",
        ]
        .iter()
        .any(|prefix| text.starts_with(prefix));
    let kind = if lost { StorageErrorKind::Unavailable } else { StorageErrorKind::Other };
    let message = match std::error::Error::source(e) {
        Some(cause) => format!("postgres: {text}: {cause}"),
        None => format!("postgres: {text}"),
    };
    StorageError::new(kind, message)
}

/// A pool failure: waiting for a connection timed out, the pool is closed,
/// or a new connection failed (mapped as [`storage_error`]).
pub(crate) fn pool_error(e: &PoolError) -> StorageError {
    match e {
        PoolError::Backend(e) => storage_error(e),
        PoolError::Timeout(what) => StorageError::unavailable(format!(
            "no PostgreSQL connection within the pool's time limit ({what:?}); the database is slow, \
             unreachable or every pooled connection is busy"
        )),
        PoolError::Closed => StorageError::unavailable("the PostgreSQL pool is closed (shutting down)"),
        other => StorageError::new(StorageErrorKind::Other, format!("postgres pool: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_map_by_kind() {
        use StorageErrorKind::{Busy, Conflict, Corrupt, Other, Unavailable};
        let cases = [
            (SqlState::T_R_SERIALIZATION_FAILURE, Busy),
            (SqlState::T_R_DEADLOCK_DETECTED, Busy),
            (SqlState::LOCK_NOT_AVAILABLE, Busy),
            (SqlState::QUERY_CANCELED, Busy),
            (SqlState::UNIQUE_VIOLATION, Conflict),
            (SqlState::FOREIGN_KEY_VIOLATION, Conflict),
            (SqlState::INTEGRITY_CONSTRAINT_VIOLATION, Conflict),
            (SqlState::DATA_CORRUPTED, Corrupt),
            (SqlState::INDEX_CORRUPTED, Corrupt),
            (SqlState::CONNECTION_FAILURE, Unavailable),
            (SqlState::ADMIN_SHUTDOWN, Unavailable),
            (SqlState::CANNOT_CONNECT_NOW, Unavailable),
            (SqlState::TOO_MANY_CONNECTIONS, Unavailable),
            (SqlState::DISK_FULL, Unavailable),
            (SqlState::UNDEFINED_TABLE, Other),
            (SqlState::READ_ONLY_SQL_TRANSACTION, Other),
        ];
        for (code, kind) in cases {
            assert_eq!(kind_of(&code), kind, "{}", code.code());
        }
        assert_eq!(StorageError::from(corrupt("a role")).kind, Corrupt);
    }
}
