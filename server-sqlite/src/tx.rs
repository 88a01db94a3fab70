//! [`SqliteTx`]: the storage trait family over one SQLite transaction. Each
//! trait's SQL lives in its own module; every statement is prepared through
//! the connection's statement cache.

mod attachments;
mod audit;
mod directory;
mod identity;
mod ledgers;
mod reports;
mod stats;
mod sync_log;

use std::collections::HashMap;
use std::fmt;

use gridsync_proto::{ActorId, RecordId};
use gridsync_server_core::storage::StorageResult;
use rusqlite::{Connection, OptionalExtension};

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
    /// The log's keys of the records it appended to in this transaction.
    record_keys: HashMap<RecordId, i64>,
    /// The log's key of the device and author it last appended a change of.
    last_origin: Option<(ActorId, String, i64)>,
}

impl<'c> SqliteTx<'c> {
    /// Wraps a connection that is inside a transaction.
    pub fn new(conn: &'c Connection) -> Self {
        Self { conn, record_keys: HashMap::new(), last_origin: None }
    }

    /// The key the log names `record` by (`records.key`), its row made
    /// (with no state yet) if the record is new. Remembered for the rest
    /// of the transaction: a key never changes once its row exists.
    fn record_key(&mut self, record: RecordId) -> rusqlite::Result<i64> {
        if let Some(&key) = self.record_keys.get(&record) {
            return Ok(key);
        }
        let id = record.as_bytes();
        let found: Option<i64> = self
            .conn
            .prepare_cached("SELECT key FROM records WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?;
        let key = match found {
            Some(key) => key,
            None => {
                self.conn
                    .prepare_cached(
                        "INSERT INTO records (id, kind, state, conflicted, updated_seq) VALUES (?1, 0, NULL, 0, 0)",
                    )?
                    .execute([id])?;
                self.conn.last_insert_rowid()
            }
        };
        self.record_keys.insert(record, key);
        Ok(key)
    }

    /// The key the log names the pair of `actor` and `author` by
    /// (`origins.key`), made if the pair is new to the log. A push is one
    /// device's, by its user: the last pair is kept.
    fn origin_key(&mut self, actor: ActorId, author: &str) -> rusqlite::Result<i64> {
        if let Some((last, last_author, key)) = &self.last_origin
            && *last == actor
            && last_author == author
        {
            return Ok(*key);
        }
        let id = actor.as_bytes();
        let found: Option<i64> = self
            .conn
            .prepare_cached("SELECT key FROM origins WHERE actor = ?1 AND author = ?2")?
            .query_row(rusqlite::params![id, author], |r| r.get(0))
            .optional()?;
        let key = match found {
            Some(key) => key,
            None => {
                self.conn
                    .prepare_cached("INSERT INTO origins (actor, author) VALUES (?1, ?2)")?
                    .execute(rusqlite::params![id, author])?;
                self.conn.last_insert_rowid()
            }
        };
        self.last_origin = Some((actor, author.to_owned(), key));
        Ok(key)
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

/// A logged change's body as [`gridsync_proto::change::log_body`] reads it,
/// written into `out`: a body stored without its author (format 3) gets the
/// author of its row's origin back.
fn logged_body<'o>(
    row: &rusqlite::Row<'_>,
    body: usize,
    author: usize,
    out: &'o mut Vec<u8>,
) -> Result<&'o [u8], Failure> {
    let stored = blob(row, body, "a change's body")?;
    let author = row.get_ref(author)?.as_str().map_err(|_| corrupt("a change's author is not text"))?;
    gridsync_proto::change::log_body::join_author(stored, author, out)
        .map_err(|e| corrupt(format!("a change's body: {e}")))?;
    Ok(out)
}

/// An actor id stored in a blob column, read in place.
fn actor_id(row: &rusqlite::Row<'_>, column: usize, what: &str) -> Result<ActorId, Failure> {
    ActorId::from_slice(blob(row, column, what)?).ok_or_else(|| corrupt(format!("{what} is not a device id")))
}
