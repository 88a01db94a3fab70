//! Online copies of the embedded database, what a copy holds, and putting
//! a copy in place of the database (ADR 0026).
//!
//! * [`copy_online`] writes a consistent copy with `VACUUM INTO` from one
//!   read transaction: a server on the same database goes on committing
//!   (WAL readers never block the writer), and the copy is the database as
//!   of one commit, whole, with its position counter.
//! * [`inspect`] opens a copy read-only, runs `PRAGMA integrity_check`,
//!   walks its audit chain and reads the facts a backup's manifest records
//!   ([`Facts`]): schema version, server epoch, the log's last position and
//!   the audit chain's head.
//! * [`stage_restore`] makes a verified copy the next database: upgrades
//!   its schema if an older build wrote it, gives it a new server epoch and
//!   audits the restore, all in one transaction, then folds its WAL in.
//!
//! The caller owns the files: where the copy is written, its mode, the
//! fsyncs and the renames (the `gridsync-server` crate's `backup` module).

use std::path::Path;

use gridsync_server_core::StorageError;
use gridsync_server_core::audit::{ChainCheck, Event, GENESIS, Verdict};
use gridsync_server_core::storage::{AuditRead, AuditWrite, SyncLogRead, SyncLogWrite};
use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use crate::{SCHEMA, SqliteTx};

/// What a database (or a copy of it) holds, as a backup's manifest records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// Its schema version (`PRAGMA user_version`).
    pub schema_version: u32,
    /// Its server epoch.
    pub server_epoch: u64,
    /// The log's last position (0 for an empty log).
    pub log_position: u64,
    /// Rows in the audit chain.
    pub audit_rows: u64,
    /// The last audit row's hash ([`GENESIS`] for an empty chain).
    pub audit_head: Vec<u8>,
}

/// Why a copy could not be made, read or put in place.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The file is not a gridsync server database.
    #[error("it is not a gridsync server database")]
    NotADatabase,
    /// The file was written by a newer build.
    #[error(
        "its schema version {found} is newer than this build's {known}: use the gridsync-server that wrote it"
    )]
    Newer {
        /// The file's schema version.
        found: u32,
        /// This build's.
        known: u32,
    },
    /// The file was written by an older build (only a restore upgrades it).
    #[error(
        "its schema version {found} is older than this build's {known}: run this gridsync-server once on \
         the data directory to upgrade it"
    )]
    Older {
        /// The file's schema version.
        found: u32,
        /// This build's.
        known: u32,
    },
    /// `PRAGMA integrity_check` found damage (its first finding).
    #[error("it is damaged: integrity_check says {0}")]
    Damaged(String),
    /// Its audit chain is broken.
    #[error("its audit chain is broken at row {seq}: {reason}")]
    BrokenChain {
        /// The first row that does not hold.
        seq: i64,
        /// What is wrong.
        reason: &'static str,
    },
    /// SQLite failed.
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Reading through the storage traits failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The schema upgrade of an older copy failed.
    #[error(transparent)]
    Upgrade(#[from] gridsync_sql_support::OpenError),
    /// Another connection reads or writes the database.
    #[error("the database is in use")]
    InUse,
}

/// Copies the database `source` (a server database, possibly being served)
/// into `to`, which must not exist or be an empty file (the caller creates
/// it with the mode it wants). The copy is one read transaction's snapshot.
pub fn copy_online(source: &Path, to: &Path) -> Result<(), BackupError> {
    let conn = gridsync_sql_support::open_reader(source, &SCHEMA)?;
    check_header(&conn, false)?;
    let target =
        to.to_str().ok_or_else(|| BackupError::Sqlite(rusqlite::Error::InvalidPath(to.to_owned())))?;
    conn.execute("VACUUM INTO ?1", [target])?;
    Ok(())
}

/// Checks that the file at `path` is a whole gridsync server database of
/// this build's schema or an older one: its header, and `PRAGMA
/// integrity_check`. Returns its schema version. Read-only.
pub fn check_file(path: &Path) -> Result<u32, BackupError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    let version = check_header(&conn, true)?;
    let first: String = conn.query_row("PRAGMA integrity_check(1)", [], |r| r.get(0))?;
    if first != "ok" {
        return Err(BackupError::Damaged(first));
    }
    Ok(version)
}

/// Opens the copy at `path` read-only, checks that it is a whole gridsync
/// server database of this build's schema, runs `integrity_check`, walks
/// its audit chain and returns its [`Facts`].
pub fn inspect(path: &Path) -> Result<Facts, BackupError> {
    check_file(path)?;
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    let schema_version = check_header(&conn, false)?;
    conn.execute_batch("BEGIN")?;
    let mut tx = SqliteTx::new(&conn);
    let mut check = ChainCheck::default();
    tx.audit_rows(&mut |row| check.push(row))?;
    let (audit_rows, audit_head) = match check.finish() {
        Verdict::Intact { rows, .. } => {
            let head = tx.audit_head()?.map_or_else(|| GENESIS.to_vec(), |(_, hash)| hash);
            (rows, head)
        }
        Verdict::Broken { seq, reason } => return Err(BackupError::BrokenChain { seq, reason }),
    };
    let (server_epoch, log_position) = (tx.server_epoch()?, tx.high_water()?);
    drop(tx);
    conn.execute_batch("COMMIT")?;
    Ok(Facts { schema_version, server_epoch, log_position, audit_rows, audit_head })
}

/// The hash of audit row `seq` of the database at `path`, if it has one.
pub fn audit_hash_at(path: &Path, seq: u64) -> Result<Option<Vec<u8>>, BackupError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    check_header(&conn, false)?;
    let mut tx = SqliteTx::new(&conn);
    let mut hash = None;
    tx.audit_rows_between(seq, seq, &mut |row| {
        hash = Some(row.hash);
        false
    })?;
    Ok(hash)
}

/// Upgrades the copy at `path` to this build's schema, if an older build
/// wrote it (a copy of this build's schema is left as it is).
pub fn upgrade(path: &Path) -> Result<(), BackupError> {
    let conn = gridsync_sql_support::open(path, &SCHEMA)?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get::<_, i64>(0))?;
    Ok(())
}

/// Makes the verified copy at `path` the next database's: sets its server
/// epoch to `epoch` and appends `event` to its audit chain at `now_ms`, in
/// one transaction; then folds the WAL into the file and leaves WAL mode,
/// so that the file stands alone (the server's next start sets WAL mode
/// again). Returns its facts afterwards.
pub fn renew(path: &Path, epoch: u64, now_ms: u64, event: &Event) -> Result<Facts, BackupError> {
    let mut conn = gridsync_sql_support::open(path, &SCHEMA)?;
    {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut storage = SqliteTx::new(&tx);
        storage.set_server_epoch(epoch)?;
        storage.append_audit(now_ms, event)?;
        drop(storage);
        tx.commit()?;
    }
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get::<_, i64>(0))?;
    conn.pragma_update(None, "journal_mode", "DELETE")?;
    drop(conn);
    inspect(path)
}

/// Folds the WAL of the database at `path` into the file, so that the file
/// alone holds every commit: [`BackupError::InUse`] while another
/// connection reads or writes it.
pub fn fold_wal(path: &Path) -> Result<(), BackupError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    let checkpoint = conn
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)));
    match checkpoint {
        Ok((0, _)) => Ok(()),
        Ok(_) => Err(BackupError::InUse),
        Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) => Err(BackupError::InUse),
        Err(e) => Err(e.into()),
    }
}

/// The file's schema version, once its application id says it is a
/// gridsync server database and its version is one this build reads.
fn check_header(conn: &Connection, older_allowed: bool) -> Result<u32, BackupError> {
    let app_id: i32 =
        conn.query_row("PRAGMA application_id", [], |r| r.get(0)).map_err(|_| BackupError::NotADatabase)?;
    if app_id != SCHEMA.application_id {
        return Err(BackupError::NotADatabase);
    }
    let found: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let known = SCHEMA.version();
    if found > known {
        return Err(BackupError::Newer { found, known });
    }
    if found < known && !older_allowed {
        return Err(BackupError::Older { found, known });
    }
    if found == 0 {
        return Err(BackupError::NotADatabase);
    }
    Ok(found)
}
