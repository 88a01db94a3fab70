//! The data directory's side of a migration: the SQLite database opened
//! under its exclusive lock, in one read transaction, and what it holds.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use gridsync_server_core::audit::{AuditRow, ChainCheck, Event, Verdict};
use gridsync_server_sqlite::{DB_FILE, SCHEMA};
use rusqlite::{Connection, ErrorCode, OpenFlags, Statement};

use super::quoted;

/// How long to wait for a command that has the database open for a moment
/// (an operator command) before calling the data directory in use.
const BUSY_WAIT: Duration = Duration::from_secs(2);

/// The embedded database, locked against every other connection, inside one
/// read transaction. Dropping it ends the transaction and releases the lock.
#[derive(Debug)]
pub(super) struct Source {
    conn: Connection,
}

/// A table of the embedded database, as it will be copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Table {
    /// Its name (the same in PostgreSQL's schema).
    pub(super) name: String,
    /// Its columns, in SQLite's order.
    pub(super) columns: Vec<String>,
    /// Its primary key columns: rows are read in this order.
    pub(super) key: Vec<String>,
    /// Rows it holds.
    pub(super) rows: u64,
    /// SQLite's `AUTOINCREMENT` counter for it (the largest key ever
    /// handed out, even if that row is gone), if it has one.
    pub(super) autoincrement: Option<i64>,
}

/// Everything the migration moves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Plan {
    /// Every table, by name.
    pub(super) tables: Vec<Table>,
    /// The largest `changes.seq`, 0 for an empty log.
    pub(super) log_high_water: u64,
}

impl Plan {
    /// Rows in `table` (0 for a table it does not have).
    pub(super) fn count(&self, table: &str) -> u64 {
        self.tables.iter().find(|t| t.name == table).map_or(0, |t| t.rows)
    }
}

impl Source {
    /// Opens the server database in the data directory `data`, takes its
    /// exclusive lock and starts the read transaction. Refused while any
    /// other connection (a running server, an operator command) has it open.
    pub(super) fn open(data: &Path) -> anyhow::Result<Source> {
        let path = data.join(DB_FILE);
        if !path.is_file() {
            bail!("{} holds no gridsync server database ({DB_FILE})", data.display());
        }
        // Read-write only to be allowed the exclusive lock; `query_only`
        // refuses every statement that would change the database.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&path, flags)
            .with_context(|| format!("cannot open the server database in {}", data.display()))?;
        conn.busy_timeout(BUSY_WAIT)?;
        gridsync_server_sqlite::add_log_body_function(&conn)?;
        conn.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
        conn.pragma_update(None, "query_only", true)?;
        conn.execute_batch("BEGIN")?;
        // The first read takes the lock: in WAL mode every open connection
        // holds a shared lock on the file, so this fails while one exists.
        let first = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get::<_, i64>(0));
        match first {
            Ok(_) => {}
            Err(e) if is_busy(&e) => bail!(
                "the data directory {} is in use: stop the gridsync server (and any operator command) \
                 running on it, then migrate; nothing was changed",
                data.display()
            ),
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("cannot read the server database in {}", data.display()));
            }
        }
        let app_id: i32 = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
        if app_id != SCHEMA.application_id {
            bail!("{} is not a gridsync server database", path.display());
        }
        let version: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version < SCHEMA.version() {
            bail!(
                "the server database in {} has schema version {version}, this build migrates version {}: \
                 run this gridsync-server once on the data directory (e.g. `gridsync-server --data {} \
                 place list`) to upgrade it, then migrate",
                data.display(),
                SCHEMA.version(),
                data.display()
            );
        }
        if version > SCHEMA.version() {
            bail!(
                "the server database in {} has schema version {version}, newer than this build's {}: \
                 migrate with the gridsync-server that wrote it",
                data.display(),
                SCHEMA.version()
            );
        }
        Ok(Source { conn })
    }

    /// Every table with its columns, key and row count, and the log's
    /// high-water position.
    pub(super) fn plan(&self) -> anyhow::Result<Plan> {
        let names: Vec<String> = self
            .conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let has_sequences: bool = self.conn.query_row(
            "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'",
            [],
            |r| r.get(0),
        )?;
        let mut tables = Vec::with_capacity(names.len());
        for name in names.into_iter().filter(|n| !LOCAL_TABLES.contains(&n.as_str())) {
            let mut columns = Vec::new();
            let mut key = Vec::new();
            let mut info = self.conn.prepare(&format!("PRAGMA table_info({})", quoted(&name)))?;
            let mut rows = info.query([])?;
            while let Some(row) = rows.next()? {
                let mut column: String = row.get("name")?;
                if LOCAL_COLUMNS.contains(&(name.as_str(), column.as_str())) {
                    continue;
                }
                if let Some((_, _, theirs)) = RENAMED.iter().find(|(t, c, _)| *t == name && *c == column) {
                    column = (*theirs).to_owned();
                }
                let pk: i64 = row.get("pk")?;
                if pk > 0 {
                    key.push((pk, column.clone()));
                }
                columns.push(column);
            }
            key.sort();
            let mut key: Vec<String> = key.into_iter().map(|(_, c)| c).collect();
            if let Some((_, by)) = LOCAL_KEYS.iter().find(|(table, _)| *table == name) {
                key = vec![(*by).to_owned()];
            }
            let rows: i64 = self.conn.query_row(
                &format!("SELECT count(*) FROM {}{}", quoted(&name), filter(&name)),
                [],
                |r| r.get(0),
            )?;
            let autoincrement = if has_sequences {
                self.conn
                    .prepare("SELECT seq FROM sqlite_sequence WHERE name = ?1")?
                    .query_map([&name], |r| r.get::<_, i64>(0))?
                    .next()
                    .transpose()?
            } else {
                None
            };
            tables.push(Table {
                name,
                columns,
                key,
                rows: u64::try_from(rows).context("a negative row count")?,
                autoincrement,
            });
        }
        if !tables.iter().any(|t| t.name == "changes") {
            bail!("the server database has no change log");
        }
        let high: i64 = self.conn.query_row("SELECT coalesce(max(seq), 0) FROM changes", [], |r| r.get(0))?;
        Ok(Plan { tables, log_high_water: u64::try_from(high).context("a negative log position")? })
    }

    /// The statement that reads every row of `table`, its columns in
    /// [`Table::columns`] order, by primary key.
    pub(super) fn rows(&self, table: &Table) -> anyhow::Result<Statement<'_>> {
        let columns: Vec<String> = table.columns.iter().map(|c| expression(&table.name, c)).collect();
        let mut sql =
            format!("SELECT {} FROM {}{}", columns.join(", "), quoted(&table.name), filter(&table.name));
        if !table.key.is_empty() {
            let key: Vec<String> = table.key.iter().map(|c| quoted(c)).collect();
            sql.push_str(&format!(" ORDER BY {}", key.join(", ")));
        }
        Ok(self.conn.prepare(&sql)?)
    }

    /// The verdict on the data directory's audit chain, the one the target's
    /// must match.
    pub(super) fn audit_chain(&self) -> anyhow::Result<Verdict> {
        let mut stmt = self.conn.prepare(
            "SELECT seq, time_ms, actor, action, target, outcome, detail, prev_hash, hash FROM audit ORDER BY seq",
        )?;
        let mut rows = stmt.query([])?;
        let mut check = ChainCheck::default();
        while let Some(row) = rows.next()? {
            let seq: i64 = row.get(0)?;
            let time_ms: i64 = row.get(1)?;
            let event = Event {
                actor: row.get(2)?,
                action: row.get(3)?,
                target: row.get(4)?,
                outcome: row.get(5)?,
                detail: row.get(6)?,
            };
            let row = AuditRow {
                seq: u64::try_from(seq).context("an audit row with a negative position")?,
                time_ms: u64::try_from(time_ms).context("an audit row with a negative time")?,
                event,
                prev_hash: row.get(7)?,
                hash: row.get(8)?,
            };
            if !check.push(row) {
                break;
            }
        }
        Ok(check.finish())
    }
}

/// Tables of the embedded schema that PostgreSQL's has no use for: the log
/// there names devices by their ids and keeps authors in the bodies
/// (ADR 0024).
const LOCAL_TABLES: &[&str] = &["origins"];

/// Columns of the embedded schema that PostgreSQL's does not have.
const LOCAL_COLUMNS: &[(&str, &str)] = &[("records", "key")];

/// Columns that PostgreSQL's schema names otherwise: (table, here, there).
const RENAMED: &[(&str, &str, &str)] = &[("changes", "origin", "actor")];

/// Tables whose rows are read in the order of another key than their
/// primary key, which is local.
const LOCAL_KEYS: &[(&str, &str)] = &[("records", "id")];

/// The expression that reads PostgreSQL's `column` of `table`: the log's
/// record and origin keys (ADR 0024) as the ids they stand for, and its
/// bodies with their authors (`gridsync_log_body`).
fn expression(table: &str, column: &str) -> String {
    match (table, column) {
        ("changes", "record") => "(SELECT id FROM records WHERE records.key = changes.record)".to_owned(),
        ("changes", "actor") => "(SELECT actor FROM origins WHERE origins.key = changes.origin)".to_owned(),
        ("changes", "body") => {
            "gridsync_log_body(body, (SELECT author FROM origins WHERE origins.key = changes.origin))"
                .to_owned()
        }
        _ => quoted(column),
    }
}

/// The rows of `table` that are copied: a record's row without a state is
/// one whose changes were logged without a state (only the storage seam's
/// own tests leave such rows), not a record.
fn filter(table: &str) -> &'static str {
    if table == "records" { " WHERE state IS NOT NULL" } else { "" }
}

/// Whether SQLite said another connection holds the database.
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e.sqlite_error_code(), Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked))
}
