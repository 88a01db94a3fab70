//! [`SqliteTx`]: the storage trait family over one SQLite transaction. Each
//! trait's SQL lives in its own module; every statement is prepared through
//! the connection's statement cache.

mod audit;
mod directory;
mod identity;
mod ledgers;
mod reports;
mod sync_log;

use std::fmt;

use gridsync_proto::{ActorId, RecordId};
use gridsync_server_core::storage::StorageResult;
use rusqlite::Connection;

use crate::error::{Failure, corrupt};

/// The storage traits ([`gridsync_server_core::storage::WriteTx`] and
/// [`gridsync_server_core::storage::ReadTx`]) over a connection that is
/// inside a transaction (or a savepoint): the writer's for write jobs, a
/// pooled reader's for read jobs.
///
/// It does not begin, commit or roll back anything itself: whoever holds
/// the transaction decides its fate. Over a read-only connection every write
/// fails with a storage error.
pub struct SqliteTx<'c> {
    conn: &'c Connection,
}

impl<'c> SqliteTx<'c> {
    /// Wraps a connection that is inside a transaction.
    pub fn new(conn: &'c Connection) -> Self {
        Self { conn }
    }
}

impl fmt::Debug for SqliteTx<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteTx").finish_non_exhaustive()
    }
}

/// Runs backend code whose failures (SQLite's, or corrupt rows) cross the
/// seam as a [`gridsync_server_core::StorageError`].
fn run<T>(work: impl FnOnce() -> Result<T, Failure>) -> StorageResult<T> {
    work().map_err(Into::into)
}

/// A blob column, borrowed from its row.
fn blob<'r>(row: &'r rusqlite::Row<'_>, column: usize, what: &str) -> Result<&'r [u8], Failure> {
    row.get_ref(column)?.as_blob().map_err(|_| corrupt(format!("{what} is not a blob")))
}

/// A record id stored in a blob column, read in place.
fn record_id(row: &rusqlite::Row<'_>, column: usize, what: &str) -> Result<RecordId, Failure> {
    RecordId::from_slice(blob(row, column, what)?)
        .ok_or_else(|| corrupt(format!("{what} is not a record id")))
}

/// An actor id stored in a blob column, read in place.
fn actor_id(row: &rusqlite::Row<'_>, column: usize, what: &str) -> Result<ActorId, Failure> {
    ActorId::from_slice(blob(row, column, what)?).ok_or_else(|| corrupt(format!("{what} is not a device id")))
}
