//! `migrate-data`: a demo township with enrolled handsets that synced
//! against the embedded server moves to PostgreSQL, and the handsets carry
//! on against a server on PostgreSQL without downloading anything again;
//! the migration refuses a data directory in use and a database that holds
//! data, and never prints the URL's password.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use gridsync_client_core::{HttpTransport, Store, StoreKey, Visit};
use gridsync_proto::{Level, Role};
use gridsync_server::demo::{self, DemoOptions};
use gridsync_server::migrate::migrate_data;
use gridsync_server::operator::Operator;
use gridsync_server::{Running, Settings};
use gridsync_server_core::Service;
use gridsync_server_core::audit::Verdict;
use gridsync_server_core::clock::now_ms;
use gridsync_server_core::service::{Caller, ServiceSettings};
use gridsync_server_postgres::testing::TestDatabase;
use gridsync_server_postgres::{PgOptions, PostgresStorage};
use tempfile::TempDir;

/// A handset enrolled for a worker, with its store in its own directory.
struct Handset {
    store: Store,
    _dir: TempDir,
}

impl Handset {
    fn enroll(server: &Running, user: &str, code: &str) -> anyhow::Result<Handset> {
        let dir = tempfile::tempdir()?;
        let key = StoreKey::generate()?;
        let mut store = Store::init(&dir.path().join("handset.db"), &server.url(), user, &key)?;
        store.enroll(&transport(server), code)?;
        Ok(Handset { store, _dir: dir })
    }

    fn visit(&mut self, address: &str) -> anyhow::Result<()> {
        self.store.record_visit(&Visit {
            grid: None,
            household: None,
            address: Some(address.to_owned()),
            visited_ms: now_ms(),
            person_category: "general".into(),
            purpose: "routine".into(),
            result: None,
            follow_up_due: None,
            gps: None,
        })?;
        Ok(())
    }
}

fn transport(server: &Running) -> HttpTransport {
    HttpTransport::new(&server.url()).expect("an HTTP client can be built")
}

fn loopback() -> std::net::SocketAddr {
    "127.0.0.1:0".parse().expect("a loopback address")
}

/// Rows of every table of the embedded database that PostgreSQL also has,
/// read-only.
fn sqlite_counts(data: &Path) -> anyhow::Result<BTreeMap<String, u64>> {
    let conn = rusqlite::Connection::open_with_flags(
        data.join(gridsync_server_sqlite::DB_FILE),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )?;
    let names: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    gridsync_server_sqlite::add_log_body_function(&conn)?;
    let mut counts = BTreeMap::new();
    for name in names.into_iter().filter(|n| n != "origins") {
        let n: i64 =
            conn.query_row(&format!("SELECT count(*) FROM ({})", as_on_postgres(&name)), [], |r| r.get(0))?;
        counts.insert(name, n as u64);
    }
    Ok(counts)
}

/// The query that reads `table` of the embedded database in PostgreSQL's
/// columns: the log there names records and devices by their ids, not by
/// the embedded schema's keys, and keeps authors in the bodies (ADR 0024);
/// a record is a row with a state.
fn as_on_postgres(table: &str) -> String {
    match table {
        "records" => {
            "SELECT id, kind, state, conflicted, updated_seq FROM records WHERE state IS NOT NULL".into()
        }
        "changes" => {
            "SELECT c.seq, r.id, o.actor, c.counter, c.received_ms, gridsync_log_body(c.body, o.author),
                             c.clock_suspect, c.clock_offset_ms
                      FROM changes c JOIN records r ON r.key = c.record JOIN origins o ON o.key = c.origin"
                .into()
        }
        _ => format!("SELECT * FROM \"{table}\""),
    }
}

/// A stored value, the same on both sides (SQLite's 0/1 flags are
/// PostgreSQL's booleans).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum V {
    Null,
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
}

/// Every row of every table of the embedded database, sorted.
fn sqlite_rows(data: &Path) -> anyhow::Result<BTreeMap<String, Vec<Vec<V>>>> {
    use rusqlite::types::ValueRef;
    let conn = rusqlite::Connection::open_with_flags(
        data.join(gridsync_server_sqlite::DB_FILE),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )?;
    gridsync_server_sqlite::add_log_body_function(&conn)?;
    let mut all = BTreeMap::new();
    for table in sqlite_counts(data)?.into_keys() {
        let mut stmt = conn.prepare(&as_on_postgres(&table))?;
        let width = stmt.column_count();
        let mut rows: Vec<Vec<V>> = stmt
            .query_map([], |row| {
                (0..width)
                    .map(|i| {
                        Ok(match row.get_ref(i)? {
                            ValueRef::Null => V::Null,
                            ValueRef::Integer(n) => V::Int(n),
                            ValueRef::Text(t) => V::Text(String::from_utf8_lossy(t).into_owned()),
                            ValueRef::Blob(b) => V::Bytes(b.to_vec()),
                            ValueRef::Real(_) => panic!("no real columns in the schema"),
                        })
                    })
                    .collect()
            })?
            .collect::<Result<_, _>>()?;
        rows.sort();
        all.insert(table, rows);
    }
    Ok(all)
}

/// Every row of `tables` on PostgreSQL, in SQLite's column order, sorted;
/// the townships PostgreSQL adds (`township`, the last column) are left out.
fn postgres_rows(url: &str, tables: &[&String]) -> anyhow::Result<BTreeMap<String, Vec<Vec<V>>>> {
    use tokio_postgres::types::Type;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
        tokio::spawn(connection);
        let mut all = BTreeMap::new();
        for table in tables {
            let mut rows = Vec::new();
            for row in client.query(&format!("SELECT * FROM \"{table}\""), &[]).await? {
                let values = (0..row.len())
                    .filter(|i| row.columns()[*i].name() != "township")
                    .map(|i| {
                        let ty = row.columns()[i].type_();
                        let value = if *ty == Type::INT8 {
                            row.get::<_, Option<i64>>(i).map(V::Int)
                        } else if *ty == Type::INT4 {
                            row.get::<_, Option<i32>>(i).map(|n| V::Int(n.into()))
                        } else if *ty == Type::BOOL {
                            row.get::<_, Option<bool>>(i).map(|b| V::Int(b.into()))
                        } else if *ty == Type::TEXT {
                            row.get::<_, Option<String>>(i).map(V::Text)
                        } else if *ty == Type::BYTEA {
                            row.get::<_, Option<Vec<u8>>>(i).map(V::Bytes)
                        } else {
                            panic!("{table}: a column of type {ty}")
                        };
                        value.unwrap_or(V::Null)
                    })
                    .collect();
                rows.push(values);
            }
            rows.sort();
            all.insert((*table).clone(), rows);
        }
        Ok(all)
    })
}

/// Each growing table with the townships its rows lie in, one line per
/// table and township.
fn postgres_townships(url: &str) -> anyhow::Result<Vec<String>> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
        tokio::spawn(connection);
        let mut lines = Vec::new();
        for table in
            ["changes", "daily_reports", "month_locks", "pull_tokens", "record_access", "records", "replicas"]
        {
            for row in client.query(&format!("SELECT DISTINCT township FROM {table} ORDER BY 1"), &[]).await?
            {
                lines.push(format!("{table} {}", row.get::<_, String>(0)));
            }
        }
        Ok(lines)
    })
}

/// Rows of `tables` on PostgreSQL.
fn postgres_counts(url: &str, tables: &[&String]) -> anyhow::Result<BTreeMap<String, u64>> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
        tokio::spawn(connection);
        let mut counts = BTreeMap::new();
        for table in tables {
            let n: i64 = client.query_one(&format!("SELECT count(*) FROM \"{table}\""), &[]).await?.get(0);
            counts.insert((*table).clone(), n as u64);
        }
        Ok(counts)
    })
}

/// The audit chain of the PostgreSQL database, through the service.
fn verify_on_postgres(url: &str) -> anyhow::Result<Verdict> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let storage = PostgresStorage::connect(url, PgOptions::default())?;
    let service = Service::new(Arc::new(storage), ServiceSettings::default());
    Ok(runtime.block_on(service.verify_audit(&Caller::Operator))?)
}

#[test]
fn a_demo_township_moves_to_postgresql_and_its_handsets_carry_on() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let started = Instant::now();
    let mut made = demo::fill(&data, &DemoOptions::default())?;
    common::demo_staff_choose_their_own(&data, &mut made);
    eprintln!(
        "demo township: {} records, {} changes in {:.1?}",
        made.records,
        made.changes,
        started.elapsed()
    );

    // Two workers of one of the demo's grids, each with a handset.
    let op = Operator::open_default(&data)?;
    let places = op.list_places()?;
    let grid = places.iter().find(|p| p.level == Level::Grid).expect("the demo has grids").code.clone();
    op.add_user("迁移 测试员甲", Role::Worker, Some(&grid), None, None)?;
    op.add_user("迁移 测试员乙", Role::Worker, Some(&grid), None, None)?;
    let code_a = op.issue_code("迁移 测试员甲", 3_600_000, "http://127.0.0.1")?.code;
    let code_b = op.issue_code("迁移 测试员乙", 3_600_000, "http://127.0.0.1")?.code;
    // A revoked device (with a wipe order) and a deactivated user: both
    // values of every flag move.
    let someone_else = op.list_devices()?.into_iter().find(|d| d.user.as_deref() == Some("城关镇综治中心"));
    op.revoke_device(someone_else.expect("the centre's device").id, true)?;
    op.deactivate_user("区住建局 专员")?;
    // An administrator logged in: the session moves too.
    let session = op.run(op.service().login(&made.admin.0, &made.admin.1))?;
    // Last month locked for the township: its locked months move too.
    let today =
        gridsync_proto::Date::of_millis(gridsync_server_core::clock::now_ms() as i64, 480).expect("a date");
    let mut day = today;
    while day.to_string()[..7] == today.to_string()[..7] {
        day = day.previous().expect("a day before");
    }
    let last_month = day.to_string()[..7].parse().expect("a month");
    let caller = gridsync_server_core::service::Caller::Operator;
    let lock = op.run(op.service().lock_month(&caller, &made.township, last_month))?;
    assert!(lock.places_locked > 1);
    drop(op);

    let embedded = Running::start(Settings::new(&data, loopback()))?;
    let mut a = Handset::enroll(&embedded, "迁移 测试员甲", &code_a)?;
    let mut b = Handset::enroll(&embedded, "迁移 测试员乙", &code_b)?;
    a.visit("东关村 1 号")?;
    let first = a.store.sync(&transport(&embedded))?;
    assert_eq!(first.pushed, 6, "a visit is a create and five sets: {first:?}");
    // Records new to a handset arrive as snapshots (ADR 0019), not as changes.
    assert!(first.snapshots > 100, "the grid's month of work reached the handset: {first:?}");
    let first_b = b.store.sync(&transport(&embedded))?;
    assert!(first_b.snapshots > first.snapshots, "b also has a's visit: {first_b:?} {first:?}");
    let settled = a.store.sync(&transport(&embedded))?;
    assert_eq!(settled.pulled, 0, "a is up to date: {settled:?}");
    let held = a.store.list(&Default::default())?.len();

    // While the embedded server runs, the data directory is in use.
    let postgres = TestDatabase::create();
    let busy = migrate_data(&data, postgres.url()).expect_err("the server holds the data directory");
    assert!(busy.to_string().contains("in use"), "{busy:#}");
    embedded.stop();

    let before = sqlite_counts(&data)?;
    let report = migrate_data(&data, postgres.url())?;
    eprintln!("{report}");
    eprintln!("{}", serde_json::to_string(&report)?);
    assert_eq!(report.tables, before, "every table, every row");
    assert_eq!(report.rows, before.values().sum::<u64>());
    assert!(report.audit_verified && report.audit_rows == before["audit"], "{report:?}");
    assert_eq!(report.tables["sessions"], 1);
    assert_eq!(report.log_high_water, before["changes"], "the demo's log has no gaps");
    let tables: Vec<&String> = before.keys().collect();
    assert_eq!(postgres_counts(postgres.url(), &tables)?, before);
    // Every row, value for value: log positions, cursors, keys, flags, hashes.
    let (moved, kept) = (postgres_rows(postgres.url(), &tables)?, sqlite_rows(&data)?);
    for (table, rows) in &kept {
        assert!(moved[table] == *rows, "{table} differs on PostgreSQL");
    }
    // Every record's rows are filed in the demo township; every device's in
    // its user's (a county administrator's device in the county's own).
    let townships = postgres_townships(postgres.url())?;
    for table in ["changes", "daily_reports", "month_locks", "record_access", "records"] {
        let lines: Vec<&String> = townships.iter().filter(|l| l.starts_with(&format!("{table} "))).collect();
        assert_eq!(lines, [&format!("{table} {}", made.township)], "{table}: {townships:?}");
    }
    // (The demo's codes nest, as China's administrative codes do.)
    let filed = |line: &String| {
        line.rsplit_once(' ').is_some_and(|(_, t)| !t.is_empty() && made.township.starts_with(t))
    };
    assert!(townships.iter().all(filed), "no row without a township: {townships:?}");
    let text = format!("{report}\n{}", serde_json::to_string(&report)?);
    for personal in ["迁移", "东关村", &grid, &session.token, &made.admin.0] {
        assert!(!text.contains(personal), "the report names no content: {text}");
    }

    // The same handsets against a server on PostgreSQL.
    let mut settings = Settings::new(dir.path().join("unused"), loopback());
    settings.database = Some(postgres.url().to_owned());
    let server = Running::start(settings)?;
    let cursor = a.store.cursor();
    let again = a.store.sync(&transport(&server))?;
    assert_eq!(
        (again.pulled, again.rebuilt, again.removed),
        (0, 0, 0),
        "nothing downloaded again: {again:?}"
    );
    assert_eq!(again.cursor, cursor, "the cursor is still valid");
    assert_eq!(a.store.list(&Default::default())?.len(), held);
    let users = reqwest::blocking::Client::new()
        .get(format!("{}/v1/admin/users", server.url()))
        .bearer_auth(&session.token)
        .send()?;
    assert!(users.status().is_success(), "the admin session still holds: {}", users.status());

    b.visit("西关村 2 号")?;
    let pushed_b = b.store.sync(&transport(&server))?;
    assert_eq!((pushed_b.pushed, pushed_b.rebuilt), (6, 0), "{pushed_b:?}");
    let news = a.store.sync(&transport(&server))?;
    // A record new to the handset comes whole: one record, its six changes.
    assert_eq!((news.snapshots, news.rebuilt, news.removed), (1, 1, 0), "only b's new visit: {news:?}");
    assert!(news.cursor > cursor);
    a.visit("东关村 3 号")?;
    let pushed_a = a.store.sync(&transport(&server))?;
    assert_eq!((pushed_a.pushed, pushed_a.duplicates, pushed_a.refused), (6, 0, 0), "{pushed_a:?}");
    let caught_up = b.store.sync(&transport(&server))?;
    assert_eq!((caught_up.snapshots, caught_up.rebuilt, caught_up.removed), (1, 1, 0), "{caught_up:?}");
    server.stop();

    // The chain verifies on PostgreSQL (with the rows the new server added),
    // and the log continued right after the migrated positions.
    let Verdict::Intact { rows, .. } = verify_on_postgres(postgres.url())? else {
        panic!("the audit chain is broken on PostgreSQL");
    };
    assert!(rows >= report.audit_rows, "{rows} rows");
    let after = postgres_counts(postgres.url(), &tables)?;
    // New cursors continue past every one SQLite ever issued (pruned ones too).
    let issued: i64 = rusqlite::Connection::open(data.join(gridsync_server_sqlite::DB_FILE))?.query_row(
        "SELECT seq FROM sqlite_sequence WHERE name = 'pull_tokens'",
        [],
        |r| r.get(0),
    )?;
    let tokens = &postgres_rows(postgres.url(), &[&"pull_tokens".to_owned()])?["pull_tokens"];
    let fresh: Vec<&V> = tokens
        .iter()
        .map(|row| &row[0])
        .filter(|t| !kept["pull_tokens"].iter().any(|k| &k[0] == *t))
        .collect();
    assert!(!fresh.is_empty() && fresh.iter().all(|t| **t > V::Int(issued)), "{fresh:?} after {issued}");
    assert_eq!(after["changes"], before["changes"] + 12, "two visits of six changes since the migration");
    assert_eq!(after["users"], before["users"]);

    // A second migration into the filled database is refused and changes nothing.
    let refused = migrate_data(&data, postgres.url()).expect_err("the database holds data");
    let message = format!("{refused:#}");
    assert!(message.contains("already holds gridsync data") && message.contains("empty"), "{message}");
    assert_eq!(postgres_counts(postgres.url(), &tables)?, after);
    Ok(())
}

#[test]
fn errors_never_show_the_password() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    drop(Operator::open_default(&data)?);
    // Nothing listens on port 1.
    let url = "postgres://gridsync:hunter2-very-secret@127.0.0.1:1/gridsync";
    let e = migrate_data(&data, url).expect_err("nothing listens there");
    let text = format!("{e:#} {e:?}");
    assert!(!text.contains("hunter2-very-secret"), "{text}");
    assert!(text.contains("127.0.0.1"), "it says where it tried: {text}");

    let missing = migrate_data(&dir.path().join("nowhere"), url).expect_err("no data directory");
    assert!(missing.to_string().contains("no gridsync server database"), "{missing:#}");
    Ok(())
}
