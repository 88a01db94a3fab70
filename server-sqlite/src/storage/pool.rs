//! A small pool of read-only connections. SQLite in WAL mode lets readers
//! run beside the single writer; each read job sees one snapshot.

use std::path::PathBuf;
use std::sync::Mutex;

use gridsync_server_core::CoreError;
use gridsync_server_core::StorageError;
use gridsync_server_core::storage::{Erased, ReadJob};
use rusqlite::Connection;

use super::STATEMENT_CACHE;
use crate::SCHEMA;
use crate::error::storage_error;
use crate::tx::SqliteTx;

/// Idle read-only connections, opened on demand and kept up to `max_idle`.
#[derive(Debug)]
pub(super) struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    max_idle: usize,
}

impl ReadPool {
    pub(super) fn new(path: PathBuf, max_idle: usize) -> Self {
        Self { path, idle: Mutex::new(Vec::new()), max_idle }
    }

    /// Runs `f` on a pooled connection, returning the connection to the
    /// pool when `f` says it is clean. Blocking: call off the executor.
    fn with<T>(&self, f: impl FnOnce(&Connection) -> (T, bool)) -> Result<T, StorageError> {
        let conn = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match conn {
            Some(c) => c,
            None => {
                let conn = gridsync_sql_support::open_reader(&self.path, &SCHEMA).map_err(|e| {
                    tracing::error!(error = %e, "cannot open a reader");
                    StorageError::unavailable(format!("cannot open a reader: {e}"))
                })?;
                conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
                conn
            }
        };
        let (out, clean) = f(&conn);
        if clean {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < self.max_idle {
                idle.push(conn);
            }
        }
        Ok(out)
    }

    /// Runs `job` in one read transaction (one snapshot). Blocking.
    pub(super) fn run(&self, job: ReadJob) -> Result<Erased, CoreError> {
        self.with(|conn| {
            let tx = match conn.unchecked_transaction() {
                Ok(tx) => tx,
                Err(e) => return (Err(storage_error(&e).into()), false),
            };
            let answer = job(&mut SqliteTx::new(&tx));
            // A connection whose snapshot does not end cleanly is not reused.
            let clean = tx.rollback().is_ok();
            (answer, clean)
        })?
    }

    /// Whether `SELECT 1` answers on a reader. Blocking.
    pub(super) fn healthy(&self) -> bool {
        matches!(self.with(|c| (c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0)), true)), Ok(Ok(1)))
    }
}
