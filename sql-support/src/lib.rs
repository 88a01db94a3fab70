//! Opening gridsync's SQLite databases the same way everywhere.
//!
//! * **Durability**: WAL journal with `synchronous = FULL`, so a committed
//!   transaction survives power loss. gridsync acknowledges a write only after
//!   its commit returns.
//! * **Identity**: `PRAGMA application_id` marks which program a file belongs
//!   to, so a handset store is never opened as a server database or vice versa.
//! * **Schema**: `PRAGMA user_version` holds the schema version. A [`Schema`]
//!   lists one SQL step per version; opening runs the missing steps in one
//!   transaction. A file from a newer build is refused, never downgraded.
//!
//! Writers take a [`rusqlite::Transaction`]; readers take a `&Connection`.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

/// A versioned schema: `steps[i]` upgrades version `i` to `i + 1`.
#[derive(Debug, Clone, Copy)]
pub struct Schema {
    /// What the database is, for error messages (e.g. "handset store").
    pub name: &'static str,
    /// Value of `PRAGMA application_id` that marks the file as ours.
    pub application_id: i32,
    /// One SQL batch per version, oldest first.
    pub steps: &'static [&'static str],
}

impl Schema {
    /// The version a fully upgraded database has.
    pub fn version(&self) -> u32 {
        self.steps.len() as u32
    }
}

/// Why a database cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// SQLite failed (missing directory, permissions, corruption, ...).
    /// The message names the SQLite error, which is therefore not also
    /// the `source()`: a chain printer shows it once.
    #[error("cannot open the {name}: {cause}")]
    Sqlite {
        /// Which database.
        name: &'static str,
        /// The SQLite error.
        cause: rusqlite::Error,
    },
    /// The file was written by a newer gridsync.
    #[error("the {name} has schema version {found}; this build supports up to {supported}")]
    TooNew {
        /// Which database.
        name: &'static str,
        /// Its version.
        found: u32,
        /// Ours.
        supported: u32,
    },
    /// The file is some other program's SQLite database.
    #[error("the file is not a gridsync {name}")]
    NotOurs {
        /// Which database.
        name: &'static str,
    },
}

/// Opens (creating if needed) a read-write connection and brings the schema
/// up to date.
pub fn open(path: &Path, schema: &Schema) -> Result<Connection, OpenError> {
    let err = |cause| OpenError::Sqlite { name: schema.name, cause };
    let mut conn = Connection::open(path).map_err(err)?;
    configure(&conn).map_err(err)?;
    conn.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
    upgrade(&mut conn, schema)?;
    Ok(conn)
}

/// Opens a read-only connection to a database that [`open`] has prepared.
pub fn open_reader(path: &Path, schema: &Schema) -> Result<Connection, OpenError> {
    let err = |cause| OpenError::Sqlite { name: schema.name, cause };
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(err)?;
    configure(&conn).map_err(err)?;
    Ok(conn)
}

/// Opens a read-write connection to a database that [`open`] has prepared,
/// leaving its schema alone: for a connection that only copies the WAL back
/// into the database (a checkpointer beside the writer).
pub fn open_checkpointer(path: &Path, schema: &Schema) -> Result<Connection, OpenError> {
    let err = |cause| OpenError::Sqlite { name: schema.name, cause };
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(err)?;
    configure(&conn).map_err(err)?;
    Ok(conn)
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

fn upgrade(conn: &mut Connection, schema: &Schema) -> Result<(), OpenError> {
    let err = |cause| OpenError::Sqlite { name: schema.name, cause };
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
    let version: u32 = tx.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(err)?;
    let app_id: i32 = tx.query_row("PRAGMA application_id", [], |r| r.get(0)).map_err(err)?;
    let empty: bool =
        tx.query_row("SELECT count(*) = 0 FROM sqlite_master", [], |r| r.get(0)).map_err(err)?;
    if !empty && app_id != schema.application_id {
        return Err(OpenError::NotOurs { name: schema.name });
    }
    if version > schema.version() {
        return Err(OpenError::TooNew { name: schema.name, found: version, supported: schema.version() });
    }
    if version == schema.version() {
        return Ok(());
    }
    for step in &schema.steps[version as usize..] {
        tx.execute_batch(step).map_err(err)?;
    }
    tx.pragma_update(None, "application_id", schema.application_id).map_err(err)?;
    tx.pragma_update(None, "user_version", schema.version()).map_err(err)?;
    tx.commit().map_err(err)
}

/// The schema as SQLite reports it (`sqlite_master`, sorted), for tests that
/// compare an upgraded database with a fresh one.
pub fn schema_dump(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT type || ' ' || name || ': ' || coalesce(sql, '') FROM sqlite_master ORDER BY type, name",
    )?;
    stmt.query_map([], |r| r.get(0))?.collect()
}

/// Builds a database at an older `version` of `schema` (as a build of that
/// version would have left it), for upgrade tests.
pub fn create_at_version(path: &Path, schema: &Schema, version: u32) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    for step in &schema.steps[..version as usize] {
        conn.execute_batch(step)?;
    }
    conn.pragma_update(None, "application_id", schema.application_id)?;
    conn.pragma_update(None, "user_version", version)?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEST: Schema = Schema {
        name: "test database",
        application_id: 0x7e57,
        steps: &[
            "CREATE TABLE a (id INTEGER PRIMARY KEY, x TEXT);",
            "ALTER TABLE a ADD COLUMN y INTEGER; CREATE INDEX a_y ON a (y);",
        ],
    };

    #[test]
    fn fresh_and_upgraded_databases_are_identical() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fresh = open(&dir.path().join("fresh.db"), &TEST).expect("fresh");
        let expected = schema_dump(&fresh).expect("dump");
        for version in 0..TEST.version() {
            let path = dir.path().join(format!("v{version}.db"));
            drop(create_at_version(&path, &TEST, version).expect("old"));
            let upgraded = open(&path, &TEST).expect("upgrade");
            assert_eq!(schema_dump(&upgraded).expect("dump"), expected, "from version {version}");
            let v: u32 = upgraded.query_row("PRAGMA user_version", [], |r| r.get(0)).expect("version");
            assert_eq!(v, TEST.version());
        }
    }

    #[test]
    fn refuses_newer_and_foreign_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let newer = dir.path().join("newer.db");
        let conn = create_at_version(&newer, &TEST, 2).expect("create");
        conn.pragma_update(None, "user_version", 9).expect("bump");
        drop(conn);
        assert!(matches!(open(&newer, &TEST), Err(OpenError::TooNew { found: 9, supported: 2, .. })));

        let foreign = dir.path().join("foreign.db");
        Connection::open(&foreign).expect("open").execute_batch("CREATE TABLE t (x);").expect("create");
        assert!(matches!(open(&foreign, &TEST), Err(OpenError::NotOurs { .. })));
    }

    #[test]
    fn an_sqlite_failure_names_its_cause_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("missing").join("d.db");
        let err = open(&missing, &TEST).expect_err("no directory");
        assert!(matches!(err, OpenError::Sqlite { .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.starts_with("cannot open the test database: unable to open database file"), "{text}");
        assert_eq!(text.matches("unable to open database file").count(), 1, "{text}");
        assert!(std::error::Error::source(&err).is_none(), "the cause is in the message, not also a source");
    }

    #[test]
    fn commits_are_durable_and_wal() {
        let dir = tempfile::tempdir().expect("tempdir");
        let conn = open(&dir.path().join("d.db"), &TEST).expect("open");
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).expect("mode");
        let sync: i64 = conn.query_row("PRAGMA synchronous", [], |r| r.get(0)).expect("sync");
        assert_eq!((mode.as_str(), sync), ("wal", 2));
    }
}
