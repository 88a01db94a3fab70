//! Upgrades from every older server schema, the way mozilla
//! application-services tests them (`MigratedDatabaseFile`): a frozen SQL
//! snapshot of a database as each older build left it
//! (`sql/snapshots/vN.sql`) is opened with today's code; the upgraded
//! schema must equal a fresh database's, and the old rows must survive and
//! stay usable through the storage traits, writes included.

use std::path::Path;

use gridsync_proto::{ActorId, Level, Place, RecordId, RecordKind, RecordState, Role, Unit, Value};
use gridsync_server_core::audit::{Event, Verdict};
use gridsync_server_core::storage::{MonthLockHead, MonthLockRow, NewChange, NewUser, PullPage, ReadTx};
use gridsync_server_core::{CoreError, StorageExt, passwords};
use gridsync_server_sqlite::{DB_FILE, Inspector, SCHEMA, SqliteStorage};
use gridsync_sql_support::{create_at_version, schema_dump};
use rusqlite::Connection;

/// The frozen snapshots, by the schema version they stand at.
const SNAPSHOTS: &[(u32, &str)] = &[
    (1, include_str!("../sql/snapshots/v1.sql")),
    (2, include_str!("../sql/snapshots/v2.sql")),
    (3, include_str!("../sql/snapshots/v3.sql")),
    (4, include_str!("../sql/snapshots/v4.sql")),
    (5, include_str!("../sql/snapshots/v5.sql")),
    (6, include_str!("../sql/snapshots/v6.sql")),
    (7, include_str!("../sql/snapshots/v7.sql")),
    (8, include_str!("../sql/snapshots/v8.sql")),
    (9, include_str!("../sql/snapshots/v9.sql")),
    (10, include_str!("../sql/snapshots/v10.sql")),
];

const PATROL: RecordId = RecordId::from_bytes(hex16("019aa0c4f3e07a1b8c2d3e4f5a6b7c8d"));
const VISIT: RecordId = RecordId::from_bytes(hex16("019aa0d1a2b37c4d9e0f1a2b3c4d5e6f"));
const LI_PHONE: ActorId = ActorId::from_bytes(hex16("3f8a2c1e9b4d4e7fa1c2d3e4f5a6b7c8"));
const ZHAO_PHONE: ActorId = ActorId::from_bytes(hex16("7c1b9e2d4a3f4b8c9d0e1f2a3b4c5d6e"));
const OLD_PHONE: ActorId = ActorId::from_bytes(hex16("a0b1c2d3e4f54a6b8c7d9e0f1a2b3c4d"));

const fn hex16(text: &str) -> [u8; 16] {
    let (text, mut out, mut i) = (text.as_bytes(), [0u8; 16], 0);
    while i < 16 {
        out[i] = nibble(text[2 * i]) << 4 | nibble(text[2 * i + 1]);
        i += 1;
    }
    out
}

const fn nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        _ => c - b'a' + 10,
    }
}

/// Builds the database of `snapshot` at `version` in `dir`, as the older
/// build left it.
fn restore(dir: &Path, version: u32, snapshot: &str) {
    let conn = Connection::open(dir.join(DB_FILE)).expect("create");
    conn.execute_batch(snapshot).expect("snapshot");
    conn.pragma_update(None, "user_version", version).expect("version");
    conn.pragma_update(None, "application_id", SCHEMA.application_id).expect("application id");
}

/// Where the log's `AUTOINCREMENT` counter stands.
fn log_counter(conn: &Connection) -> i64 {
    conn.query_row("SELECT seq FROM sqlite_sequence WHERE name = 'changes'", [], |r| r.get(0))
        .expect("counter")
}

fn fresh_schema() -> Vec<String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let conn = gridsync_sql_support::open(&dir.path().join(DB_FILE), &SCHEMA).expect("fresh");
    schema_dump(&conn).expect("dump")
}

#[test]
fn snapshots_hold_the_schema_of_their_version() {
    for &(version, snapshot) in SNAPSHOTS {
        let dir = tempfile::tempdir().expect("tempdir");
        restore(dir.path(), version, snapshot);
        let restored = Connection::open(dir.path().join(DB_FILE)).expect("open");
        let built = create_at_version(&dir.path().join("built.db"), &SCHEMA, version).expect("build");
        assert_eq!(
            schema_dump(&restored).expect("dump"),
            schema_dump(&built).expect("dump"),
            "snapshot v{version} is not the schema of version {version}"
        );
    }
}

#[tokio::test]
async fn every_older_database_upgrades_to_the_fresh_schema_with_its_data_usable() {
    let fresh = fresh_schema();
    for &(version, snapshot) in SNAPSHOTS {
        let dir = tempfile::tempdir().expect("tempdir");
        restore(dir.path(), version, snapshot);
        let counter_before = log_counter(&Connection::open(dir.path().join(DB_FILE)).expect("open"));
        let (storage, writer) = SqliteStorage::open(dir.path()).expect("upgrade");

        let reader = gridsync_sql_support::open_reader(&dir.path().join(DB_FILE), &SCHEMA).expect("reader");
        assert_eq!(schema_dump(&reader).expect("dump"), fresh, "schema upgraded from v{version}");
        assert_eq!(
            log_counter(&reader),
            counter_before,
            "the log's position counter survived v{version}'s upgrade"
        );
        let at: u32 = reader.query_row("PRAGMA user_version", [], |r| r.get(0)).expect("version");
        assert_eq!(at, SCHEMA.version());
        drop(reader);

        storage.read(check_log).await.expect("the log survived");
        storage.read(|tx| Ok(tx.directory_version()?)).await.map(|v| assert_eq!(v, 1)).expect("version");
        if version >= 2 {
            storage.read(check_identity).await.expect("identity survived");
        } else {
            storage.read(check_v1_devices).await.expect("devices survived");
        }
        if version >= 3 {
            storage.read(check_v3_rows).await.expect("places, access, reports and replicas survived");
        }
        let audit_rows = if version >= 2 { 12 } else { 0 };
        write_after_upgrade(&storage, audit_rows).await;

        let inspector = Inspector::open(dir.path()).expect("inspect");
        assert_eq!(inspector.change_count().expect("count"), 9);
        assert!(inspector.record(PATROL).expect("read").is_some());
        drop(inspector);
        drop(storage);
        writer.join();

        // Opening again upgrades nothing and keeps everything.
        let (storage, writer) = SqliteStorage::open(dir.path()).expect("reopen");
        assert_eq!(storage.read(|tx| Ok(tx.change_count()?)).await.expect("count"), 9);
        drop(storage);
        writer.join();
    }
}

/// The log: every change scanned in order, each body a real change of its
/// row's record and device; the merged states decode.
fn check_log(tx: &mut dyn ReadTx) -> Result<(), CoreError> {
    assert_eq!((tx.change_count()?, tx.record_count()?, tx.high_water()?), (8, 2, 8));
    let mut scanned = Vec::new();
    tx.scan(0, 8, 100, None, &mut |row| {
        let change = row.change().expect("a stored body decodes");
        assert_eq!((change.record, change.dot.actor), (row.record, row.actor));
        assert!(!row.clock_suspect, "old changes are not suspect");
        scanned.push((row.seq, change.dot.counter));
        true
    })?;
    assert_eq!(scanned, [(1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 1), (7, 2), (8, 3)]);
    let mut history = 0;
    tx.history(VISIT, "", 8, &mut |row| {
        assert_eq!(row.actor, ZHAO_PHONE);
        history += 1;
    })?;
    assert_eq!(history, 3);
    assert!(tx.change_body(PATROL, "", LI_PHONE, 5)?.is_some());

    let patrols = tx.records_of_kind(RecordKind::Patrol)?;
    assert_eq!(patrols.len(), 1);
    let patrol = RecordState::from_bytes(&patrols[0]).expect("a stored state decodes");
    assert_eq!(patrol.id(), PATROL);
    assert_eq!(patrol.value("grid"), Some(&Value::Text("530102001-01".into())));
    assert_eq!(patrol.entries().len(), 1);
    let visit = RecordState::from_bytes(&tx.record_state(VISIT)?.expect("visit")).expect("decodes");
    assert_eq!(visit.value("address"), Some(&Value::Text("东门村12号".into())));
    Ok(())
}

/// Version 3's places, access index, daily report, replicas and cursor.
fn check_v3_rows(tx: &mut dyn ReadTx) -> Result<(), CoreError> {
    let places: Vec<(String, Level, Option<String>)> =
        tx.places()?.into_iter().map(|p| (p.code, p.level, p.parent)).collect();
    assert_eq!(
        places,
        [
            ("530102".to_owned(), Level::Township, None),
            ("530102001".to_owned(), Level::Village, Some("530102".to_owned())),
            ("530102001-01".to_owned(), Level::Grid, Some("530102001".to_owned())),
        ]
    );
    let mut filed = Vec::new();
    tx.access("p:530102001-01", None, 0, &mut |row| filed.push((row.record, row.updated_seq)))?;
    filed.sort();
    // Version 5 filed each record's last change from the log.
    assert_eq!(filed, [(PATROL, 5), (VISIT, 8)]);
    let reports = tx.daily_reports("2026-11-20", "2026-11-20")?;
    assert_eq!(
        reports.iter().map(|r| (r.worker.as_str(), r.status.as_str())).collect::<Vec<_>>(),
        [("li", "all_safe")]
    );
    let replicas = tx.replicas(LI_PHONE, "")?;
    assert_eq!(
        replicas.iter().map(|r| (r.record, r.sent_through)).collect::<Vec<_>>(),
        [(PATROL, 8), (VISIT, 8)]
    );
    assert_eq!(tx.pull_token(LI_PHONE, "", 1)?, Some(8));
    assert!(tx.month_locks()?.is_empty(), "no month was locked in the snapshots");
    Ok(())
}

/// Version 1 knew devices only as pushers.
fn check_v1_devices(tx: &mut dyn ReadTx) -> Result<(), CoreError> {
    let devices = tx.devices()?;
    assert_eq!(devices.len(), 2);
    assert!(devices.iter().all(|d| d.user.is_none() && d.enrolled_ms.is_none() && !d.wipe));
    let li = devices.iter().find(|d| d.id == LI_PHONE).expect("li's phone");
    assert_eq!((li.changes, li.last_push_ms), (5, Some(1_795_130_005_004)));
    assert_eq!(tx.device_key(LI_PHONE)?, None, "not enrolled");
    assert!(tx.users()?.is_empty() && tx.audit_head()?.is_none());
    Ok(())
}

/// Version 2's users, devices, codes, sessions and audit chain.
fn check_identity(tx: &mut dyn ReadTx) -> Result<(), CoreError> {
    let users: Vec<(String, Role, String, bool, bool)> =
        tx.users()?.into_iter().map(|u| (u.name, u.role, u.scope, u.active, u.has_password)).collect();
    let expected = [
        ("admin", Role::Administrator, "", true, true),
        ("li", Role::Worker, "530102001", true, false),
        ("shen", Role::Auditor, "", true, false),
        ("wang", Role::TownshipAdmin, "530102", true, true),
        ("zhao", Role::Worker, "530102001", false, false),
    ]
    .map(|(n, r, s, a, p)| (n.to_owned(), r, s.to_owned(), a, p));
    assert_eq!(users, expected);
    assert_eq!(tx.user("li")?.expect("li").unit, None);
    let hash = tx.password_hash("admin")?.expect("a password");
    assert!(passwords::verify(&hash, "东门村 admin 2026!"), "a stored password still verifies");
    assert!(tx.password_hash("zhao")?.is_none());

    let li = tx.device_key(LI_PHONE)?.expect("li's phone");
    assert_eq!((li.user.as_str(), li.revoked, li.wipe, li.public_key.len()), ("li", false, false, 32));
    let zhao = tx.device_key(ZHAO_PHONE)?.expect("zhao's phone");
    assert!(zhao.revoked && zhao.wipe);
    assert_eq!(tx.device_key(OLD_PHONE)?, None);
    assert!(tx.device_exists(OLD_PHONE)?);
    assert_eq!(tx.device_user(ZHAO_PHONE)?.as_deref(), Some("zhao"));
    let devices = tx.devices()?;
    assert_eq!(devices.iter().map(|d| d.id).collect::<Vec<_>>(), [ZHAO_PHONE, LI_PHONE, OLD_PHONE]);
    let users = tx.device_users(None)?;
    assert_eq!(
        users.iter().map(|u| (u.name.as_str(), u.scope.as_str())).collect::<Vec<_>>(),
        [("li", "530102001")]
    );

    let open_code =
        [0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a, 0x69, 0x78, 0x87, 0x96, 0xa5, 0xb4, 0xc3, 0xd2, 0xe1, 0xf0]
            .repeat(2);
    let code = tx.enrollment(&open_code)?.expect("li's outstanding code");
    assert_eq!((code.user.as_str(), code.used_ms), ("li", None));
    let now = 1_795_200_000_000;
    assert_eq!(tx.session_user(&[0x11; 32], now)?.as_deref(), Some("admin"));
    assert_eq!(tx.session_user(&[0x22; 32], now)?, None, "expired");

    match tx.verify_chain()? {
        Verdict::Intact { rows, .. } => assert_eq!(rows, 12),
        broken => panic!("the upgraded chain is broken: {broken:?}"),
    }
    Ok(())
}

/// After the upgrade, writes of every kind work, including the tables the
/// upgrade added and their foreign keys, and the audit chain goes on.
async fn write_after_upgrade(storage: &SqliteStorage, audit_rows: u64) {
    let seq = storage
        .write(|tx, now| {
            let place =
                Place {
                    code: "530102".into(), name: "城关镇".into(), level: Level::Township, parent: None
                };
            // Version 3 and later have the pilot's township already.
            if !tx.places()?.iter().any(|p| p.code == place.code) {
                tx.insert_place(&place, now)?;
            }
            let lock = MonthLockRow {
                head: MonthLockHead {
                    place: "530102".into(),
                    month: "2026-11".into(),
                    root: "530102".into(),
                    as_of_position: 8,
                    as_of_ms: 1_795_310_004_000,
                    locked_ms: now as i64,
                    locked_by: "admin".into(),
                },
                township: String::new(),
                body: vec![1, 0],
            };
            assert!(tx.put_month_lock(&lock)?, "locked months can be stored");
            let unit = Unit {
                code: "U-POLICE".into(),
                name: "城关派出所".into(),
                kind: "police".into(),
                place: "530102".into(),
            };
            tx.insert_unit(&unit, now)?;
            let chen = NewUser {
                name: "chen",
                role: Role::Department,
                scope: "530102",
                unit: Some("U-POLICE"),
                password_hash: None,
                now,
            };
            tx.insert_user(&chen)?;
            tx.bump_directory(2)?;
            tx.append_audit(now, &Event::new("cli", "user.add", "chen", "ok").detail("role=department"))?;
            let body = [1, 2, 3];
            let seq = tx.append_change(&NewChange {
                record: VISIT,
                township: "",
                actor: LI_PHONE,
                counter: 9,
                received_ms: now,
                body: &body,
                clock_suspect: true,
                clock_offset_ms: 700_000,
            })?;
            tx.file_access(VISIT, "", &["p:530102".to_owned()], now, false, seq)?;
            tx.note_push(LI_PHONE, now, 1)?;
            let page = PullPage {
                device: LI_PHONE,
                township: "",
                presented: 0,
                reset: false,
                dirty: false,
                log_high: seq,
                sent_through: seq,
                adds: &[VISIT],
                removes: &[],
                now,
            };
            tx.record_pull_page(&page)?;
            Ok(seq)
        })
        .await
        .expect("writes after the upgrade");
    assert_eq!(seq, 9, "log positions go on above the old ones");
    let (user, version, verdict) = storage
        .read(|tx| Ok((tx.user("chen")?, tx.directory_version()?, tx.verify_chain()?)))
        .await
        .expect("read back");
    let user = user.expect("chen");
    assert_eq!((user.role, user.unit.as_deref()), (Role::Department, Some("U-POLICE")));
    assert_eq!(version, 2);
    assert!(matches!(verdict, Verdict::Intact { rows, .. } if rows == audit_rows + 1), "{verdict:?}");
}
