//! Schema creation and upgrades, the way the SQLite backend tests them: a
//! frozen SQL snapshot of a database as each older build left it
//! (`sql/snapshots/vN.sql`, never edited once written) is opened with
//! today's code; the upgraded schema must equal a fresh database's, and the
//! old rows must stay usable through the storage traits. Also: migrating
//! twice changes nothing, a newer or foreign database is refused, and
//! several processes starting on one empty database at once all succeed.

use gridsync_proto::{ActorId, RecordId};
use gridsync_server_core::StorageExt;
use gridsync_server_core::audit::{Event, Verdict};
use gridsync_server_core::storage::NewChange;
use gridsync_server_postgres::testing::TestDatabase;
use gridsync_server_postgres::{MIGRATIONS, OpenError, PgOptions, PostgresStorage};
use tokio_postgres::NoTls;

/// The frozen snapshots, by the schema version they stand at.
const SNAPSHOTS: &[(i32, &str)] = &[(1, include_str!("../sql/snapshots/v1.sql"))];

const PATROL: RecordId = RecordId::from_bytes([
    0x01, 0x9a, 0xa0, 0xc4, 0xf3, 0xe0, 0x7a, 0x1b, 0x8c, 0x2d, 0x3e, 0x4f, 0x5a, 0x6b, 0x7c, 0x8d,
]);
const LI_PHONE: ActorId = ActorId::from_bytes([
    0x3f, 0x8a, 0x2c, 0x1e, 0x9b, 0x4d, 0x4e, 0x7f, 0xa1, 0xc2, 0xd3, 0xe4, 0xf5, 0xa6, 0xb7, 0xc8,
]);

/// Runs `work` with a client of `url`, on a runtime of its own (the tests
/// are plain, so `connect` runs outside any runtime as the CLI does).
fn with_client<T>(url: &str, work: impl AsyncFnOnce(&tokio_postgres::Client) -> T) -> T {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(url, NoTls).await.expect("a side connection");
        let driver = tokio::spawn(connection);
        let out = work(&client).await;
        drop(client);
        let _ = driver.await;
        out
    })
}

fn batch(url: &str, sql: &str) {
    with_client(url, async |c| c.batch_execute(sql).await.expect("the SQL runs"));
}

/// The schema as PostgreSQL describes it: every column (type, nullability,
/// default, identity, collation), index, constraint and trigger of the
/// current schema, one line each, in a stable order.
fn schema_dump(url: &str) -> Vec<String> {
    const QUERIES: &[&str] = &[
        "SELECT format('column %s.%s %s null=%s default=%s identity=%s%s collation=%s',
                       table_name, column_name, data_type, is_nullable, coalesce(column_default, ''),
                       is_identity, coalesce(identity_generation, ''), coalesce(collation_name, ''))
         FROM information_schema.columns WHERE table_schema = current_schema()
         ORDER BY table_name, ordinal_position",
        "SELECT format('index %s %s', tablename, indexdef) FROM pg_indexes
         WHERE schemaname = current_schema() ORDER BY tablename, indexname",
        "SELECT format('constraint %s %s %s', conrelid::regclass, conname, pg_get_constraintdef(oid))
         FROM pg_constraint WHERE connamespace = current_schema()::regnamespace
         ORDER BY conrelid::regclass::text, conname",
        "SELECT format('trigger %s %s %s %s %s', event_object_table, trigger_name, action_timing,
                       event_manipulation, action_statement)
         FROM information_schema.triggers WHERE trigger_schema = current_schema()
         ORDER BY event_object_table, trigger_name, event_manipulation",
    ];
    with_client(url, async |c| {
        let mut lines = Vec::new();
        for query in QUERIES {
            for row in c.query(*query, &[]).await.expect("the catalog reads") {
                lines.push(row.get::<_, String>(0));
            }
        }
        lines
    })
}

fn versions(url: &str) -> Vec<i32> {
    with_client(url, async |c| {
        c.query("SELECT version FROM schema_version ORDER BY version", &[])
            .await
            .expect("schema_version reads")
            .iter()
            .map(|r| r.get(0))
            .collect()
    })
}

fn connect(url: &str) -> Result<PostgresStorage, OpenError> {
    PostgresStorage::connect(url, PgOptions { pool_size: 2 })
}

fn fresh_schema() -> Vec<String> {
    let db = TestDatabase::create();
    drop(connect(db.url()).expect("a fresh database opens"));
    schema_dump(db.url())
}

fn latest() -> i32 {
    i32::try_from(MIGRATIONS.len()).expect("a few versions")
}

#[test]
fn migrating_twice_changes_nothing() {
    let db = TestDatabase::create();
    drop(connect(db.url()).expect("first open"));
    let once = schema_dump(db.url());
    assert!(once.iter().any(|l| l.starts_with("column changes.seq")), "the schema was created: {once:?}");
    drop(connect(db.url()).expect("second open"));
    assert_eq!(schema_dump(db.url()), once, "a second open changes no schema");
    assert_eq!(versions(db.url()), (1..=latest()).collect::<Vec<_>>(), "each step is recorded once");
    let counters = with_client(db.url(), async |c| {
        let row = c.query_one("SELECT count(*) FROM meta", &[]).await.expect("meta");
        row.get::<_, i64>(0)
    });
    assert_eq!(counters, 2, "the seed rows (directory version, server epoch) are written once");
}

#[test]
fn snapshots_hold_the_schema_of_their_version() {
    for &(version, snapshot) in SNAPSHOTS {
        let (restored, built) = (TestDatabase::create(), TestDatabase::create());
        batch(restored.url(), snapshot);
        let upto = usize::try_from(version).expect("a version");
        for step in &MIGRATIONS[..upto] {
            batch(built.url(), step);
        }
        assert_eq!(
            schema_dump(restored.url()),
            schema_dump(built.url()),
            "snapshot v{version} is not the schema of version {version}"
        );
    }
}

#[tokio::test]
async fn every_older_database_upgrades_to_the_fresh_schema_with_its_data_usable() {
    let fresh = tokio::task::spawn_blocking(fresh_schema).await.expect("a fresh schema");
    for &(version, snapshot) in SNAPSHOTS {
        let db = TestDatabase::create();
        let url = db.url().to_owned();
        let state = patrol_state();
        let setup = format!(
            "{snapshot}
             INSERT INTO schema_version (version, applied_ms) SELECT v, 1780000000000 FROM generate_series(1, {version}) AS v;
             INSERT INTO places (code, name, level, parent, created_ms) VALUES
                 ('620802', '崆峒区', 'county', NULL, 1), ('{TOWNSHIP}', '崆峒镇', 'township', '620802', 1),
                 ('{GRID}', '第一网格', 'grid', '{TOWNSHIP}', 1);
             INSERT INTO users (name, role, scope, password, active, created_ms) VALUES ('li', 'worker', '{GRID}', NULL, true, 1);
             INSERT INTO records (id, kind, state, conflicted, updated_seq)
                 VALUES ('\\x{patrol}', 1, '\\x{state}', false, 7);
             INSERT INTO record_access (key, record, active_ms, open) VALUES ('p:{GRID}', '\\x{patrol}', 2, false);
             INSERT INTO replicas (device, record, added_token) VALUES ('\\x{phone}', '\\x{patrol}', 0);
             INSERT INTO devices (id, first_seen_ms, last_push_ms, changes, \"user\", public_key, enrolled_ms)
                 VALUES ('\\x{phone}', 1, 2, 1, 'li', '\\x{key}', 1);
             INSERT INTO changes (seq, record, actor, counter, received_ms, body)
                 VALUES (7, '\\x{patrol}', '\\x{phone}', 1, 2, '\\x0102');
             INSERT INTO pull_tokens (token, device, log_high, issued_ms) VALUES (41, '\\x{phone}', 7, 3);
             SELECT setval(pg_get_serial_sequence('changes', 'seq'), 7);
             SELECT setval(pg_get_serial_sequence('pull_tokens', 'token'), 41);",
            phone = hex(LI_PHONE.as_bytes()),
            patrol = hex(PATROL.as_bytes()),
            key = hex(&[7; 32]),
            state = hex(&state),
        );
        let storage = tokio::task::spawn_blocking(move || {
            batch(&url, &setup);
            connect(&url)
        })
        .await
        .expect("join")
        .expect("the old database opens");
        let url = db.url().to_owned();
        let (dump, at) =
            tokio::task::spawn_blocking(move || (schema_dump(&url), versions(&url))).await.expect("join");
        assert_eq!(dump, fresh, "schema upgraded from v{version}");
        assert_eq!(at, (1..=latest()).collect::<Vec<_>>());

        let (count, high, body, token, key) = storage
            .read(|tx| {
                Ok((
                    tx.change_count()?,
                    tx.high_water()?,
                    tx.change_body(PATROL, TOWNSHIP, LI_PHONE, 1)?,
                    tx.pull_token(LI_PHONE, TOWNSHIP, 41)?,
                    tx.device_key(LI_PHONE)?.map(|k| k.user),
                ))
            })
            .await
            .expect("the old rows read");
        assert_eq!((count, high, body, token, key), (1, 7, Some(vec![1, 2]), Some(7), Some("li".into())));
        if version < 2 {
            let url = db.url().to_owned();
            let homes = tokio::task::spawn_blocking(move || townships(&url)).await.expect("join");
            assert_eq!(
                homes,
                ["changes", "pull_tokens", "record_access", "records", "replicas"]
                    .map(|t| format!("{t} {TOWNSHIP}")),
                "the upgrade from v{version} files every row in its township"
            );
        }
        let seq = storage
            .write(|tx, now| {
                tx.append_audit(now, &Event::new("cli", "migration.check", "", "ok"))?;
                Ok(tx.append_change(&NewChange {
                    record: PATROL,
                    township: TOWNSHIP,
                    actor: LI_PHONE,
                    counter: 2,
                    received_ms: now,
                    body: &[3],
                    clock_suspect: false,
                    clock_offset_ms: 0,
                })?)
            })
            .await
            .expect("the old database takes writes");
        assert!(seq > 7, "positions go on above the migrated ones: {seq}");
        let verdict = storage.read(|tx| Ok(tx.verify_chain()?)).await.expect("the chain reads");
        assert!(matches!(verdict, Verdict::Intact { rows: 1, .. }), "{verdict:?}");
    }
}

const TOWNSHIP: &str = "620802100";
const GRID: &str = "620802100201-01";

/// A patrol in [`GRID`], as a state the old build stored.
fn patrol_state() -> Vec<u8> {
    use gridsync_proto::{Change, Dot, Hlc, Op, RecordKind, RecordState, Value};
    let change = |counter, op| Change {
        record: PATROL,
        kind: RecordKind::Patrol,
        dot: Dot { actor: LI_PHONE, counter },
        author: "li".into(),
        time: Hlc::from_millis(1_780_000_000_000),
        op,
    };
    let set = Op::Set { field: "grid".into(), value: Value::Text(GRID.into()), supersedes: Vec::new() };
    let changes = [change(1, Op::Create), change(2, set)];
    RecordState::from_changes(PATROL, RecordKind::Patrol, &changes).expect("a patrol merges").to_bytes()
}

/// Each growing table with the townships its rows lie in, one line per
/// table and township (tables without rows left out).
fn townships(url: &str) -> Vec<String> {
    with_client(url, async |c| {
        let mut lines = Vec::new();
        for table in ["changes", "daily_reports", "pull_tokens", "record_access", "records", "replicas"] {
            let sql = format!("SELECT DISTINCT township FROM {table} ORDER BY 1");
            for row in c.query(&sql, &[]).await.expect("townships read") {
                lines.push(format!("{table} {}", row.get::<_, String>(0)));
            }
        }
        lines
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn a_newer_schema_is_refused_with_a_word_to_upgrade() {
    let db = TestDatabase::create();
    drop(connect(db.url()).expect("a fresh database opens"));
    let newer = latest() + 1;
    batch(db.url(), &format!("INSERT INTO schema_version (version, applied_ms) VALUES ({newer}, 0)"));
    let refused = connect(db.url()).expect_err("a newer schema");
    assert!(
        matches!(refused, OpenError::TooNew { found, supported, .. } if i64::from(found) == i64::from(newer) && i64::from(supported) == i64::from(latest())),
        "{refused:?}"
    );
    assert!(refused.to_string().contains("upgrade the gridsync server"), "{refused}");
}

#[test]
fn a_database_of_something_else_is_refused() {
    let db = TestDatabase::create();
    batch(db.url(), "CREATE TABLE invoices (id integer PRIMARY KEY)");
    let refused = connect(db.url()).expect_err("a foreign database");
    assert!(matches!(refused, OpenError::NotOurs { .. }), "{refused:?}");
    assert!(refused.to_string().contains("not empty"), "{refused}");
}

#[test]
fn processes_starting_at_once_on_an_empty_database_all_open_it() {
    let db = TestDatabase::create();
    let barrier = std::sync::Barrier::new(2);
    std::thread::scope(|s| {
        let opening: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    connect(db.url())
                })
            })
            .collect();
        for open in opening {
            open.join().expect("the thread ends").expect("every process opens the database");
        }
    });
    assert_eq!(versions(db.url()), (1..=latest()).collect::<Vec<_>>(), "each step applied once");
}
