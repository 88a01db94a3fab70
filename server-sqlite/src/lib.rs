//! # gridsync-server-sqlite
//!
//! The embedded storage backend of the gridsync server: one SQLite database
//! in the data directory ([`DB_FILE`], schema [`SCHEMA`]) behind the
//! [`gridsync_server_core::Storage`] seam.
//!
//! ```text
//! service op ──write_job──▶ channel (256) ──▶ writer thread: one connection, group commit
//!            ──read_job───▶ spawn_blocking ──▶ pooled read-only connection, one snapshot
//! ```
//!
//! # How the seam's guarantees are met
//!
//! 1. **Durable before acknowledged.** Every write job travels to the one
//!    writer thread ([`WriterThread`]). The writer takes every job waiting
//!    (up to 64), runs each inside its own savepoint of one `IMMEDIATE`
//!    transaction, commits once (WAL, `synchronous = FULL`), and only then
//!    answers every job.
//! 2. **Isolated write groups.** A job that returns `Err` (or panics) has its
//!    savepoint rolled back before the next job runs; its neighbours commit.
//!    If the commit fails, every job of the group is answered with the
//!    commit's [`StorageError`](gridsync_server_core::StorageError).
//! 3. **Snapshots.** A read job runs on a pooled read-only connection inside
//!    one transaction, off the async executor (`spawn_blocking`).
//! 4. **A safe high-water mark.** SQLite has a single writer, so the largest
//!    committed `changes.seq` is safe: nothing can later commit below it.
//! 5. **Positions rise.** `changes.seq` is `AUTOINCREMENT`: never reused,
//!    always above every position handed out before.
//! 6. **One audit chain.** Audit rows are appended by the single writer, in
//!    commit order, linked with [`gridsync_server_core::audit::link`].
//!
//! The SQL lives in [`SqliteTx`], one module per trait of the storage family.
//! SQLite errors become a [`StorageError`](gridsync_server_core::StorageError)
//! in one place, by kind (busy, corrupt, unavailable, conflict, other), with
//! SQLite's own message and never a parameter value.

pub mod backup;
mod error;
mod inspector;
pub mod permissions;
mod storage;
mod tx;

use gridsync_sql_support::Schema;

pub use error::OpenError;
pub use inspector::Inspector;
pub use storage::{SqliteStorage, WriterThread};
pub use tx::SqliteTx;

/// The server database schema, one step per version (the schema as
/// deployed: a step is never edited once released).
pub static SCHEMA: Schema = Schema {
    name: "server database",
    application_id: 0x4753_5256, // "GSRV"
    steps: &[
        include_str!("../sql/v1.sql"),
        include_str!("../sql/v2.sql"),
        include_str!("../sql/v3.sql"),
        include_str!("../sql/v4.sql"),
        include_str!("../sql/v5.sql"),
        include_str!("../sql/v6.sql"),
        include_str!("../sql/v7.sql"),
        include_str!("../sql/v8.sql"),
        include_str!("../sql/v9.sql"),
        include_str!("../sql/v10.sql"),
        include_str!("../sql/v11.sql"),
    ],
};

/// Registers the SQL function `gridsync_log_body(body, author)` on `conn`:
/// a logged change's body as the other backends store it (format 2, with
/// its author), whatever this one stored (ADR 0024). Whoever reads the log
/// with SQL of its own, as the data migration does, reads bodies through it.
pub fn add_log_body_function(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    conn.create_scalar_function(
        "gridsync_log_body",
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let body = ctx.get_raw(0).as_blob().map_err(|e| rusqlite::Error::UserFunctionError(e.into()))?;
            let author = ctx.get_raw(1).as_str().map_err(|e| rusqlite::Error::UserFunctionError(e.into()))?;
            let mut out = Vec::with_capacity(body.len() + author.len() + 1);
            gridsync_proto::change::log_body::join_author(body, author, &mut out)
                .map_err(|e| rusqlite::Error::UserFunctionError(e.into()))?;
            Ok(out)
        },
    )
}

/// The database file inside the data directory.
pub const DB_FILE: &str = "gridsync.db";
