//! # gridsync-server-postgres
//!
//! The PostgreSQL storage backend of the gridsync server: one database
//! (schema [`MIGRATIONS`]) behind the [`gridsync_server_core::Storage`]
//! seam, shared by any number of `gridsync-server` processes
//! (`docs/adr/0013-postgresql-backend.md`).
//!
//! ```text
//! service op ──write_job──▶ spawn_blocking ──▶ pooled connection: BEGIN · job · COMMIT
//!            ──read_job───▶ spawn_blocking ──▶ pooled connection: BEGIN REPEATABLE READ READ ONLY · job
//!                           (the storage's own Tokio runtime, 2 workers, threads `gridsync-pg`)
//! ```
//!
//! The seam's transactions are synchronous closures, so [`PostgresStorage`]
//! owns a small Tokio runtime: a job runs on its blocking pool with a
//! connection from a `deadpool-postgres` pool, and each statement is driven
//! with `Handle::block_on` through the connection's statement cache
//! (`prepare_cached`: a statement is prepared once per connection, and a
//! call costs one round trip). The future a job returns awaits the job's
//! task, so it can be awaited from any executor, actix's included.
//!
//! # How the seam's guarantees are met
//!
//! 1. **Durable before acknowledged.** A write job runs in its own
//!    transaction (`BEGIN`, read committed), and its future answers `Ok`
//!    only after `COMMIT` returned; `synchronous_commit` is left on, so the
//!    commit is durable (flushed to the WAL) by then. A job that returns
//!    `Err` (or panics) is rolled back: nothing it wrote is kept.
//! 2. **Isolated write groups.** Every job is its own transaction (there is
//!    no group commit to share): a failed job is rolled back alone, and a
//!    failed commit fails only its job. Several jobs run at once, each on
//!    its own connection.
//! 3. **Snapshots.** A read job runs in one `REPEATABLE READ READ ONLY`
//!    transaction: one snapshot, taken at its first statement, which holds
//!    every write acknowledged before the job started. Reads never wait for
//!    writes, nor writes for reads.
//! 4. **A safe high-water mark.** Every write transaction takes *the write
//!    lock* — `pg_advisory_xact_lock` on one fixed key — on its first call
//!    of any [`SyncLogRead`](gridsync_server_core::storage::SyncLogRead) or
//!    [`SyncLogWrite`](gridsync_server_core::storage::SyncLogWrite) method,
//!    or of [`AuditWrite::append_audit`](gridsync_server_core::storage::AuditWrite::append_audit),
//!    and holds it until it commits or rolls back. Log positions
//!    (`changes.seq`, an identity column) are drawn only while holding it,
//!    so they are drawn in commit order, across every process on the
//!    database. PostgreSQL makes a transaction visible before it releases
//!    its locks, so once a position is visible every transaction that drew
//!    a lower one has ended, and every later one draws a higher one:
//!    `coalesce(max(seq), 0)` of a snapshot is safe — nothing can later
//!    commit at or below it. The duplicate-dot check of a push
//!    (`change_body`) runs under the lock too, so the same change pushed
//!    through two processes at once is recognised as a duplicate by the
//!    second, never answered with a unique violation. Read-only
//!    transactions never take the lock.
//! 5. **Positions rise.** Positions come from the identity's sequence,
//!    which never hands a value out twice (rolled-back ones leave gaps) and
//!    draws them under the write lock; pull tokens likewise.
//! 6. **One audit chain.** `append_audit` takes the write lock before it
//!    reads the chain's head, so each row links to the last row committed
//!    by any process, in commit order, with
//!    [`gridsync_server_core::audit::link`]; triggers refuse updates and
//!    deletes of rows.
//!
//! The cost, stated plainly: writes that touch the sync log or the audit
//! chain (pushes, recorded pull pages, every audited admin action) are
//! serialized across all processes, as on SQLite's single writer. Pull
//! plans, reads, reports and admin writes that touch neither run in
//! parallel on every process.
//!
//! Shared state beyond the seam: [`PostgresStorage::replay_guard`] (table
//! `nonces`) and [`PostgresStorage::rate_limiter`] (table `rate_limits`)
//! answer for every process at once; the directory cache follows
//! `meta.directory_version`, which every change to the directory bumps in
//! its own transaction.
//!
//! The SQL lives in one module per trait of the storage family. PostgreSQL
//! errors become a [`StorageError`](gridsync_server_core::StorageError) in
//! one place, by SQLSTATE (busy, conflict, corrupt, unavailable, other),
//! with PostgreSQL's primary message and SQLSTATE and never a parameter
//! value.
//!
//! # Schema
//!
//! [`MIGRATIONS`] holds one step per schema version (`sql/v1.sql`, …),
//! never edited once released. [`PostgresStorage::connect`] applies the
//! missing steps in one transaction under another advisory lock, so
//! several processes starting at once do not race, and records each in the
//! `schema_version` table. It refuses a database of a newer version (the
//! server must be upgraded) and a database that holds tables but no
//! `schema_version` (not a gridsync database). `sql/snapshots/` keeps each
//! released version as it was, for the upgrade tests.

mod error;
mod guard;
mod homes;
mod storage;
#[cfg(feature = "testing")]
pub mod testing;
mod tx;
mod url;

pub use error::OpenError;
pub use homes::{BackfillError, backfill as fill_townships};
pub use storage::{PgOptions, PostgresStorage};
pub use url::{is_postgres_url, redacted};

/// The schema, one step per version (the schema as deployed: a step is
/// never edited once released; a change is a new step).
pub static MIGRATIONS: &[&str] = &[
    include_str!("../sql/v1.sql"),
    include_str!("../sql/v2.sql"),
    include_str!("../sql/v3.sql"),
    include_str!("../sql/v4.sql"),
    include_str!("../sql/v5.sql"),
    include_str!("../sql/v6.sql"),
    include_str!("../sql/v7.sql"),
    include_str!("../sql/v8.sql"),
];

/// The version that gave the growing tables their township: right after
/// its step, the migration fills the townships in from the records' states
/// (`homes`).
const TOWNSHIPS_VERSION: i32 = 2;
