//! The checkpointer: a thread that copies the WAL back into the database
//! beside the writer, instead of in its commits.
//!
//! SQLite's automatic checkpoint runs inside the commit that pushes the WAL
//! past 1,000 pages, on the committing connection: on the server, the
//! single writer, which then copies pages and syncs the database file while
//! every push waits (13% of the writer's time when 16 devices push at once,
//! `docs/PERFORMANCE.md`). Here the writer's WAL hook (which replaces the
//! automatic checkpoint) only wakes this thread once the WAL holds
//! [`WAKE_PAGES`] pages; this thread runs a `PASSIVE` checkpoint on a
//! connection of its own, which never blocks the writer or a reader, and
//! the writer goes on appending meanwhile.
//!
//! A WAL starts again from its beginning only once a checkpoint has copied
//! all of it, and under steady writes a passive one never catches up: the
//! WAL would grow without end, and every page lookup with it. So once the
//! WAL holds [`RESTART_PAGES`], a `RESTART` checkpoint follows the passive
//! one: it holds writes back only while it copies what was written during
//! the passive one, and waits at most [`RESTART_WAIT`] for readers of older
//! snapshots (a long export, say) before giving up until the next wake.
//! When the writer ends, a last `TRUNCATE` checkpoint leaves the database
//! whole in its main file.
//!
//! Durability does not change: a commit is durable once its WAL frames are
//! synced, which the writer still does before it answers.

use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;

use rusqlite::Connection;

use crate::SCHEMA;
use crate::error::OpenError;

/// WAL pages after a commit that wake the checkpointer: SQLite's own
/// automatic checkpoint threshold.
pub(super) const WAKE_PAGES: i32 = 1000;

/// WAL pages after a passive checkpoint that call for a restart.
const RESTART_PAGES: i64 = 4 * WAKE_PAGES as i64;

/// Longest a restart waits for the writer's transaction or old readers.
const RESTART_WAIT: std::time::Duration = std::time::Duration::from_millis(100);

/// Wakes the checkpointer; cheap and never blocking (a wake already pending
/// is enough).
#[derive(Debug, Clone)]
struct Wake(SyncSender<()>);

impl Wake {
    /// Asks for a checkpoint if the WAL holds `pages` pages or more.
    fn after_commit(&self, pages: i32) {
        if pages >= WAKE_PAGES {
            match self.0.try_send(()) {
                Ok(()) | Err(TrySendError::Full(())) => {}
                Err(TrySendError::Disconnected(())) => {
                    tracing::warn!("the checkpointer has stopped; the WAL is not copied back until restart");
                }
            }
        }
    }
}

/// Starts the checkpointer on the database at `path`, which `writer` has
/// opened and upgraded, and hooks it to `writer`'s commits in place of
/// SQLite's automatic checkpoint. It runs until `writer` is dropped.
pub(super) fn attach(writer: &mut Connection, path: &Path) -> Result<JoinHandle<()>, OpenError> {
    let sqlite = |cause| gridsync_sql_support::OpenError::Sqlite { name: SCHEMA.name, cause };
    let conn = gridsync_sql_support::open_checkpointer(path, &SCHEMA)?;
    conn.busy_timeout(RESTART_WAIT).map_err(sqlite)?;
    let (tx, rx) = sync_channel(1);
    let thread = std::thread::Builder::new()
        .name("gridsync-checkpoint".into())
        .spawn(move || run(&conn, &rx))
        .map_err(OpenError::Writer)?;
    let wake = Wake(tx);
    writer
        .wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, pages| {
            wake.after_commit(pages);
            Ok(())
        }))
        .map_err(sqlite)?;
    Ok(thread)
}

fn run(conn: &Connection, wakes: &Receiver<()>) {
    while wakes.recv().is_ok() {
        if checkpoint(conn, "PASSIVE").is_some_and(|wal_pages| wal_pages >= RESTART_PAGES) {
            checkpoint(conn, "RESTART");
        }
    }
    checkpoint(conn, "TRUNCATE");
    tracing::debug!("checkpointer stopped: the writer has ended");
}

/// Runs one checkpoint of `mode` and returns the WAL's pages; a failure is
/// logged (the next one retries: nothing is lost, the WAL only stays
/// longer).
fn checkpoint(conn: &Connection, mode: &str) -> Option<i64> {
    let sql = format!("PRAGMA wal_checkpoint({mode})");
    match conn.query_row(&sql, [], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))) {
        Ok((blocked, wal_pages, copied)) => {
            tracing::trace!(mode, blocked = blocked != 0, wal_pages, copied, "checkpoint");
            Some(wal_pages)
        }
        Err(e) => {
            tracing::warn!(mode, error = %e, "checkpoint failed; the next one retries");
            None
        }
    }
}
