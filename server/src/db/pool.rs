//! A small pool of read-only connections. SQLite in WAL mode lets readers
//! run beside the single writer; each reader sees a consistent snapshot.

use std::path::PathBuf;
use std::sync::Mutex;

use gridsync_sql_support::{OpenError, Schema};
use rusqlite::Connection;

/// Idle read-only connections, opened on demand and kept up to `max_idle`.
#[derive(Debug)]
pub(crate) struct ReadPool {
    path: PathBuf,
    schema: &'static Schema,
    idle: Mutex<Vec<Connection>>,
    max_idle: usize,
}

impl ReadPool {
    pub(crate) fn new(path: PathBuf, schema: &'static Schema, max_idle: usize) -> Self {
        Self { path, schema, idle: Mutex::new(Vec::new()), max_idle }
    }

    /// Runs `f` on a pooled connection. Blocking: call from `web::block`.
    pub(crate) fn with<T>(&self, f: impl FnOnce(&Connection) -> T) -> Result<T, OpenError> {
        let conn = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match conn {
            Some(c) => c,
            None => gridsync_sql_support::open_reader(&self.path, self.schema)?,
        };
        let out = f(&conn);
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < self.max_idle {
            idle.push(conn);
        }
        Ok(out)
    }
}
