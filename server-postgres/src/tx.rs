//! [`PgTx`]: the storage trait family over one PostgreSQL transaction. Each
//! trait's SQL lives in its own module; every statement goes through the
//! pooled connection's statement cache (`prepare_cached`), so a connection
//! prepares each statement once and a call costs one round trip.
//!
//! The seam's transactions are synchronous: each call drives its statement
//! to completion with [`Handle::block_on`] on the storage's own runtime,
//! from the blocking thread the job runs on.

mod attachments;
mod audit;
mod directory;
mod identity;
mod ledgers;
mod reports;
mod stats;
mod sync_log;

use std::fmt;
use std::future::Future;

use deadpool_postgres::Transaction;
use gridsync_proto::{ActorId, RecordId};
use gridsync_server_core::storage::StorageResult;
use tokio::runtime::Handle;
use tokio_postgres::Row;
use tokio_postgres::types::{FromSql, ToSql};

use crate::error::{Failure, corrupt};

/// The key of the write lock (`pg_advisory_xact_lock`): "GSLOG", 1. A write
/// transaction takes it on its first touch of the sync log or of the audit
/// chain and holds it until it commits or rolls back (see the crate doc).
pub(crate) const WRITE_LOCK: i64 = 0x4753_4c4f_4700_0001;

/// Rows fetched per round trip when a scan walks a portal.
const BATCH: i32 = 256;

/// Parameters of a statement.
type Params<'p> = [&'p (dyn ToSql + Sync)];

/// Whether a transaction writes, and whether it holds the write lock yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lock {
    /// A read-only snapshot: never locks.
    ReadOnly,
    /// A write transaction that has not touched the log or the chain yet.
    Wanted,
    /// A write transaction holding the write lock.
    Held,
}

/// The storage traits ([`gridsync_server_core::storage::WriteTx`] and
/// [`gridsync_server_core::storage::ReadTx`]) over one open PostgreSQL
/// transaction: `READ COMMITTED` for write jobs, `REPEATABLE READ READ
/// ONLY` for read jobs.
///
/// It does not commit or roll back anything itself: whoever opened the
/// transaction decides its fate ([`PgTx::finish`] hands it back).
pub(crate) struct PgTx<'c> {
    tx: Transaction<'c>,
    handle: Handle,
    lock: Lock,
}

impl fmt::Debug for PgTx<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgTx").field("lock", &self.lock).finish_non_exhaustive()
    }
}

impl<'c> PgTx<'c> {
    /// Wraps a write transaction; it takes the write lock when it first
    /// needs it.
    pub(crate) fn write(tx: Transaction<'c>, handle: Handle) -> Self {
        Self { tx, handle, lock: Lock::Wanted }
    }

    /// Wraps a read-only snapshot.
    pub(crate) fn read(tx: Transaction<'c>, handle: Handle) -> Self {
        Self { tx, handle, lock: Lock::ReadOnly }
    }

    /// The transaction, to commit or roll back.
    pub(crate) fn finish(self) -> Transaction<'c> {
        self.tx
    }

    /// Whether this is a write transaction (which may lock rows it reads).
    fn writes(&self) -> bool {
        self.lock != Lock::ReadOnly
    }

    /// Drives `future` on the storage's runtime from this (blocking) thread.
    fn wait<F: Future>(&self, future: F) -> F::Output {
        self.handle.block_on(future)
    }

    /// Takes the write lock, once per write transaction, before the first
    /// read or write of the sync log and the first append to the audit
    /// chain. Statements after it see every transaction that committed
    /// before it was granted (`READ COMMITTED` takes a snapshot per
    /// statement).
    fn write_lock(&mut self) -> Result<(), Failure> {
        if self.lock == Lock::Wanted {
            self.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])?;
            self.lock = Lock::Held;
        }
        Ok(())
    }

    /// Every row of `sql`.
    fn rows(&self, sql: &str, params: &Params<'_>) -> Result<Vec<Row>, Failure> {
        self.wait(async {
            let statement = self.tx.prepare_cached(sql).await?;
            Ok(self.tx.query(&statement, params).await?)
        })
    }

    /// The one row of `sql`, if any.
    fn row(&self, sql: &str, params: &Params<'_>) -> Result<Option<Row>, Failure> {
        self.wait(async {
            let statement = self.tx.prepare_cached(sql).await?;
            Ok(self.tx.query_opt(&statement, params).await?)
        })
    }

    /// The one row of `sql`, which must be there.
    fn one(&self, sql: &str, params: &Params<'_>) -> Result<Row, Failure> {
        self.wait(async {
            let statement = self.tx.prepare_cached(sql).await?;
            Ok(self.tx.query_one(&statement, params).await?)
        })
    }

    /// Runs `sql`; returns how many rows it touched.
    fn execute(&self, sql: &str, params: &Params<'_>) -> Result<u64, Failure> {
        self.wait(async {
            let statement = self.tx.prepare_cached(sql).await?;
            Ok(self.tx.execute(&statement, params).await?)
        })
    }

    /// Walks the rows of `sql` through a portal, [`BATCH`] rows per round
    /// trip, until they end or `each` answers `false`: a scan that stops
    /// early fetches no more than it reads.
    fn each_row(
        &self,
        sql: &str,
        params: &Params<'_>,
        mut each: impl FnMut(&Row) -> Result<bool, Failure>,
    ) -> Result<(), Failure> {
        let portal = self.wait(async {
            let statement = self.tx.prepare_cached(sql).await?;
            self.tx.bind(&statement, params).await
        })?;
        loop {
            let rows = self.wait(self.tx.query_portal(&portal, BATCH))?;
            let last = rows.len() < BATCH as usize;
            for row in &rows {
                if !each(row)? {
                    return Ok(());
                }
            }
            if last {
                return Ok(());
            }
        }
    }
}

/// Runs backend code whose failures (PostgreSQL's, or corrupt rows) cross
/// the seam as a [`gridsync_server_core::StorageError`].
fn run<T>(work: impl FnOnce() -> Result<T, Failure>) -> StorageResult<T> {
    work().map_err(Into::into)
}

/// Column `column` of `row` as a `T`; `what` names it when it does not
/// convert (never its value).
fn get<'r, T: FromSql<'r>>(row: &'r Row, column: usize, what: &str) -> Result<T, Failure> {
    row.try_get(column).map_err(|_| corrupt(format!("{what} does not convert")))
}

/// A non-negative stored integer as a `u64`.
fn uint(row: &Row, column: usize, what: &str) -> Result<u64, Failure> {
    let value: i64 = get(row, column, what)?;
    u64::try_from(value).map_err(|_| corrupt(format!("{what} is negative")))
}

/// A nullable non-negative stored integer as a `u64`.
fn opt_uint(row: &Row, column: usize, what: &str) -> Result<Option<u64>, Failure> {
    let value: Option<i64> = get(row, column, what)?;
    value.map(|v| u64::try_from(v).map_err(|_| corrupt(format!("{what} is negative")))).transpose()
}

/// A `u64` for a `bigint` column (saturating: the seam's values fit).
fn int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A record id stored in a `bytea` column, read in place.
fn record_id(row: &Row, column: usize, what: &str) -> Result<RecordId, Failure> {
    RecordId::from_slice(get(row, column, what)?).ok_or_else(|| corrupt(format!("{what} is not a record id")))
}

/// An actor id stored in a `bytea` column, read in place.
fn actor_id(row: &Row, column: usize, what: &str) -> Result<ActorId, Failure> {
    ActorId::from_slice(get(row, column, what)?).ok_or_else(|| corrupt(format!("{what} is not a device id")))
}
