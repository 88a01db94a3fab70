//! The PostgreSQL backend beyond the conformance suite: the statements'
//! semantics as the SQLite backend's unit tests pin them (access rows
//! rewritten only when keys change, pull pages settling replicas, scans,
//! the directory, deactivation), the write lock across two processes,
//! errors without personal data, and opening.

use gridsync_proto::{ActorId, Level, Place, RecordId, RecordKind, Role, Unit};
use gridsync_server_core::storage::{
    NewChange, NewDevice, NewEnrollment, NewSession, NewUser, PullPage, ReadTx, ReplicaRow, SavedRecord,
    WriteTx,
};
use gridsync_server_core::{CoreError, Storage, StorageErrorKind, StorageExt};
use gridsync_server_postgres::testing::TestDatabase;
use gridsync_server_postgres::{OpenError, PgOptions, PostgresStorage};
use tokio_postgres::NoTls;

/// The township the rows these tests write are filed in.
const TOWNSHIP: &str = "620802100";
/// Another township.
const OTHER: &str = "620802101";

fn open(db: &TestDatabase) -> PostgresStorage {
    PostgresStorage::connect(db.url(), PgOptions::default()).expect("the test database opens")
}

/// A client of the test database beside the storage.
async fn client(db: &TestDatabase) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(db.url(), NoTls).await.expect("a side connection");
    tokio::spawn(connection);
    client
}

fn keys(keys: &[&str]) -> Vec<String> {
    keys.iter().map(|k| (*k).to_owned()).collect()
}

async fn filed(side: &tokio_postgres::Client, record: RecordId) -> Vec<(String, i64, bool)> {
    side.query(
        "SELECT key, active_ms, open FROM record_access WHERE record = $1 ORDER BY key COLLATE \"C\"",
        &[&record.as_bytes().as_slice()],
    )
    .await
    .expect("access rows")
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect()
}

async fn deleted(side: &tokio_postgres::Client) -> i64 {
    side.query_one("SELECT count(*) FROM deleted", &[]).await.expect("count").get(0)
}

async fn file(storage: &PostgresStorage, record: RecordId, keys: Vec<String>, active: u64, open: bool) {
    storage
        .write(move |tx, _| Ok(tx.file_access(record, TOWNSHIP, &keys, active, open, 0)?))
        .await
        .expect("filed");
}

#[tokio::test]
async fn access_rows_are_rewritten_only_when_the_keys_change() {
    let db = TestDatabase::create();
    let storage = open(&db);
    let side = client(&db).await;
    // Count the index rows deleted, to see whether a call rewrote them.
    side.batch_execute(
        "CREATE TABLE deleted (n integer);
         CREATE FUNCTION count_delete() RETURNS trigger LANGUAGE plpgsql AS
             $$ BEGIN INSERT INTO deleted VALUES (1); RETURN OLD; END $$;
         CREATE TRIGGER count_deletes AFTER DELETE ON record_access
             FOR EACH ROW EXECUTE FUNCTION count_delete();",
    )
    .await
    .expect("trigger");
    let record = RecordId::generate(1);
    file(&storage, record, keys(&["p:B", "p:A"]), 100, false).await;
    assert_eq!(filed(&side, record).await, [("p:A".into(), 100, false), ("p:B".into(), 100, false)]);

    // The same keys, in another order, earlier: activity keeps the later
    // time, the open flag moves, no row is rewritten.
    file(&storage, record, keys(&["p:A", "p:B"]), 50, true).await;
    assert_eq!(filed(&side, record).await, [("p:A".into(), 100, true), ("p:B".into(), 100, true)]);
    assert_eq!(deleted(&side).await, 0);
    file(&storage, record, keys(&["p:B", "p:A"]), 300, false).await;
    assert_eq!(filed(&side, record).await, [("p:A".into(), 300, false), ("p:B".into(), 300, false)]);
    assert_eq!(deleted(&side).await, 0, "still nothing rewritten");

    // New keys: the rows are replaced, keeping the latest activity.
    file(&storage, record, keys(&["p:A", "u:POLICE"]), 200, true).await;
    assert_eq!(filed(&side, record).await, [("p:A".into(), 300, true), ("u:POLICE".into(), 300, true)]);
    assert_eq!(deleted(&side).await, 2);

    // Another record is untouched by all of this.
    let other = RecordId::generate(2);
    file(&storage, other, keys(&["p:A"]), 10, false).await;
    assert_eq!(filed(&side, record).await.len(), 2);
    assert_eq!(filed(&side, other).await, [("p:A".into(), 10, false)]);

    // Recent and open records are found; an open one that is also recent
    // may come twice.
    let (recent, old, open) = (RecordId::generate(3), RecordId::generate(4), RecordId::generate(5));
    file(&storage, recent, keys(&["p:Z"]), 1_000, false).await;
    file(&storage, old, keys(&["p:Z"]), 10, false).await;
    file(&storage, open, keys(&["p:Z", "n:li"]), 10, true).await;
    let accessed = |key: &'static str, since: i64| {
        storage.read(move |tx| {
            let mut seen = Vec::new();
            tx.access(key, Some(TOWNSHIP), since, &mut |row| {
                seen.push((row.record, row.active_ms, row.open))
            })?;
            seen.sort();
            Ok(seen)
        })
    };
    assert_eq!(accessed("p:Z", 500).await.expect("access"), [(recent, 1_000, false), (open, 10, true)]);
    assert_eq!(accessed("n:li", 0).await.expect("access"), [(open, 10, true), (open, 10, true)]);
    assert!(accessed("p:Y", 0).await.expect("access").is_empty());
}

fn page<'a>(device: ActorId, presented: u64, adds: &'a [RecordId], removes: &'a [RecordId]) -> PullPage<'a> {
    PullPage {
        township: TOWNSHIP,
        device,
        presented,
        reset: false,
        dirty: false,
        log_high: 40,
        sent_through: 42,
        adds,
        removes,
        now: 7,
    }
}

fn row(record: RecordId, added: u64, removed: Option<u64>, sent_through: u64) -> ReplicaRow {
    ReplicaRow { record, added_token: added, removed_token: removed, rebuild: false, sent_through }
}

fn tokens(tx: &mut dyn WriteTx, device: ActorId, tokens: &[u64]) -> Vec<Option<u64>> {
    tokens.iter().map(|t| tx.pull_token(device, TOWNSHIP, *t).expect("token")).collect()
}

fn held(tx: &mut dyn WriteTx, device: ActorId) -> Vec<ReplicaRow> {
    let mut rows = tx.replicas(device, TOWNSHIP).expect("replicas");
    rows.sort_by_key(|r| r.record);
    rows
}

#[tokio::test]
async fn pull_pages_issue_rising_cursors_and_settle_replicas() {
    let db = TestDatabase::create();
    let storage = open(&db);
    storage
        .write(|tx, _| {
            let (device, other) = (ActorId::random(), ActorId::random());
            let [r1, r2, r3, r4, mine] = [1, 2, 3, 4, 5].map(RecordId::generate);
            tx.hold(device, TOWNSHIP, mine)?;
            tx.hold(device, TOWNSHIP, mine)?;
            tx.hold(other, TOWNSHIP, r1)?;

            // First page: two records sent whole (one named twice).
            let t1 = tx.record_pull_page(&page(device, 0, &[r1, r2, r1], &[]))?;
            assert!(t1 > 0);
            assert_eq!(tokens(tx, device, &[t1]), [Some(40)]);
            assert_eq!(
                held(tx, device),
                [row(r1, t1, None, 42), row(r2, t1, None, 42), row(mine, 0, None, 0)]
            );
            assert_eq!(tokens(tx, other, &[t1]), [None], "a cursor is its device's");

            // Second page from t1: r1 leaves the scope, r3 enters.
            let t2 = tx.record_pull_page(&page(device, t1, &[r3], &[r1]))?;
            assert!(t2 > t1);
            assert_eq!(tokens(tx, device, &[t1, t2]), [Some(40), Some(40)], "the presented cursor is kept");
            assert_eq!(
                held(tx, device),
                [
                    row(r1, t1, Some(t2), 42),
                    row(r2, t1, None, 42),
                    row(r3, t2, None, 42),
                    row(mine, 0, None, 0)
                ]
            );

            // Page 2 was lost: the device presents t1 again. Rows added
            // after t1 go, removals after t1 are undone; t2 is dropped.
            let t3 = tx.record_pull_page(&PullPage { dirty: true, ..page(device, t1, &[r4], &[]) })?;
            assert!(t3 > t2);
            assert_eq!(tokens(tx, device, &[t1, t2, t3]), [Some(40), None, Some(40)]);
            assert_eq!(
                held(tx, device),
                [row(r1, t1, None, 42), row(r2, t1, None, 42), row(r4, t3, None, 42), row(mine, 0, None, 0)]
            );

            // A removal confirmed by the next cursor is final; a rebuild
            // sends the record whole again and clears the flag.
            let t4 = tx.record_pull_page(&page(device, t3, &[], &[r2]))?;
            tx.mark_rebuild(device, TOWNSHIP, r4)?;
            assert!(tx.replicas(device, TOWNSHIP)?.iter().any(|r| r.record == r4 && r.rebuild));
            let t5 = tx.record_pull_page(&PullPage {
                dirty: true,
                sent_through: 50,
                ..page(device, t4, &[r4], &[])
            })?;
            assert_eq!(tokens(tx, device, &[t3, t4, t5]), [None, Some(40), Some(40)], "older cursors go");
            assert_eq!(
                held(tx, device),
                [row(r1, t1, None, 42), row(r4, t5, None, 50), row(mine, 0, None, 0)]
            );

            // An unknown cursor starts afresh: everything of this device
            // is forgotten, nothing of the other's.
            let t6 = tx.record_pull_page(&PullPage {
                reset: true,
                log_high: 60,
                ..page(device, 999, &[r2], &[])
            })?;
            assert!(t6 > t5);
            assert_eq!(tokens(tx, device, &[t4, t5, t6]), [None, None, Some(60)]);
            assert_eq!(held(tx, device), [row(r2, t6, None, 42)]);
            assert_eq!(held(tx, other), [row(r1, 0, None, 0)]);
            Ok(())
        })
        .await
        .expect("the pages are recorded");
}

fn append(tx: &mut dyn WriteTx, record: RecordId, device: ActorId, i: usize) -> u64 {
    append_in(tx, TOWNSHIP, record, device, i)
}

fn append_in(tx: &mut dyn WriteTx, township: &str, record: RecordId, device: ActorId, i: usize) -> u64 {
    let body = (i as u32).to_le_bytes();
    let change = NewChange {
        record,
        township,
        actor: device,
        counter: i as u64 + 1,
        received_ms: 100 + i as u64,
        body: &body,
        clock_suspect: i == 2,
        clock_offset_ms: -5,
    };
    tx.append_change(&change).expect("append")
}

#[tokio::test]
async fn the_log_is_scanned_in_order_in_batches_and_stops_when_asked() {
    let db = TestDatabase::create();
    let storage = open(&db);
    let (a, b) = (RecordId::generate(1), RecordId::generate(2));
    let device = ActorId::random();
    let seqs = storage
        .write(move |tx, _| {
            Ok([a, b, a, b, a]
                .into_iter()
                .enumerate()
                .map(|(i, r)| append_in(tx, if r == a { TOWNSHIP } else { OTHER }, r, device, i))
                .collect::<Vec<_>>())
        })
        .await
        .expect("appended");
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    let s = seqs.clone();
    storage
        .read(move |tx| {
            assert_eq!(tx.high_water()?, s[4]);
            assert_eq!(tx.change_body(a, TOWNSHIP, device, 3)?, Some(2u32.to_le_bytes().to_vec()));
            assert_eq!(tx.change_body(a, TOWNSHIP, device, 2)?, None);
            let mut seen = Vec::new();
            tx.scan(s[0], s[4], 10, None, &mut |row| {
                seen.push((row.seq, row.record, row.actor, row.body.to_vec(), row.clock_suspect));
                seen.len() < 2
            })?;
            let body = |i: u32| i.to_le_bytes().to_vec();
            assert_eq!(seen, [(s[1], b, device, body(1), false), (s[2], a, device, body(2), true)]);
            let mut count = 0;
            tx.scan(0, s[3], 2, None, &mut |_| {
                count += 1;
                true
            })?;
            assert_eq!(count, 2, "at most max_rows");
            let mut history = Vec::new();
            tx.history(a, TOWNSHIP, s[3], &mut |row| history.push((row.seq, row.record, row.received_ms)))?;
            assert_eq!(history, [(s[0], a, 100), (s[2], a, 102)]);
            assert_eq!(tx.change_count()?, 5);
            let mut routed = Vec::new();
            tx.scan(0, s[4], 10, Some(&[TOWNSHIP.to_owned()]), &mut |row| {
                routed.push(row.seq);
                true
            })?;
            assert_eq!(routed, [s[0], s[2], s[4]], "a scan of one township passes its rows only");
            assert_eq!(tx.change_body(b, TOWNSHIP, device, 2)?, None, "another township's change");
            assert_eq!(tx.change_body(b, OTHER, device, 2)?, Some(1u32.to_le_bytes().to_vec()));
            Ok(())
        })
        .await
        .expect("the log reads");

    // Longer than a portal batch: scans walk every batch, in order, and
    // stop in the middle of one when asked.
    let long = RecordId::generate(3);
    storage
        .write(move |tx, _| {
            for i in 0..700 {
                append(tx, long, device, i);
            }
            Ok(())
        })
        .await
        .expect("appended");
    storage
        .read(move |tx| {
            let high = tx.high_water()?;
            let mut all = Vec::new();
            tx.scan(0, high, 1_000_000, None, &mut |row| {
                all.push(row.seq);
                true
            })?;
            assert_eq!(all.len(), 705);
            assert!(all.windows(2).all(|w| w[0] < w[1]), "in log order");
            let mut limited = 0;
            tx.scan(0, high, 600, None, &mut |_| {
                limited += 1;
                true
            })?;
            assert_eq!(limited, 600);
            let mut stopped = 0;
            tx.scan(0, high, 1_000_000, None, &mut |_| {
                stopped += 1;
                stopped < 300
            })?;
            assert_eq!(stopped, 300);
            let mut history = 0;
            tx.history(long, TOWNSHIP, high, &mut |_| history += 1)?;
            assert_eq!(history, 700);
            Ok(())
        })
        .await
        .expect("the long log reads");
}

/// A record whose home moves takes all its rows along; so do the records
/// filed under a place that moves into another township.
#[tokio::test]
async fn rehoming_moves_every_row_of_a_record_and_nothing_else() {
    let db = TestDatabase::create();
    let storage = open(&db);
    let (a, b) = (RecordId::generate(1), RecordId::generate(2));
    let device = ActorId::random();
    storage
        .write(move |tx, now| {
            for (i, record) in [a, b].into_iter().enumerate() {
                let seq = append(tx, record, device, i);
                tx.save_record(&SavedRecord {
                    id: record,
                    township: TOWNSHIP,
                    kind: RecordKind::Patrol,
                    state: &[i as u8],
                    conflicted: false,
                    updated_seq: seq,
                })?;
                tx.file_access(record, TOWNSHIP, &[format!("p:G{i}")], now, false, seq)?;
            }
            Ok(())
        })
        .await
        .expect("two records");
    let moved = storage
        .write(move |tx, _| {
            tx.rehome_record(a, OTHER)?;
            Ok(tx.rehome_place("p:G1", OTHER)?)
        })
        .await
        .expect("re-homed");
    assert_eq!(moved, 1, "one record was filed under the moved place");
    let side = client(&db).await;
    for table in ["changes", "records", "record_access"] {
        let sql = format!("SELECT township, count(*) FROM {table} GROUP BY 1 ORDER BY 1");
        let rows: Vec<(String, i64)> =
            side.query(&sql, &[]).await.expect("reads").iter().map(|r| (r.get(0), r.get(1))).collect();
        assert_eq!(rows, [(OTHER.to_owned(), 2)], "{table}: every row moved, none doubled");
    }
    let (history, filed, state) = storage
        .read(move |tx| {
            let mut history = 0;
            tx.history(a, OTHER, u64::MAX >> 1, &mut |_| history += 1)?;
            let mut filed = Vec::new();
            tx.access("p:G1", Some(OTHER), 0, &mut |row| filed.push((row.record, row.township)))?;
            Ok((history, filed, tx.record_state(b)?))
        })
        .await
        .expect("reads");
    assert_eq!(history, 1);
    assert_eq!(filed, [(b, OTHER.to_owned())]);
    assert_eq!(state, Some(vec![1]), "found by id wherever it lives");
}

fn place(code: &str, level: Level, parent: Option<&str>) -> Place {
    Place { code: code.into(), name: format!("{code} 名"), level, parent: parent.map(Into::into) }
}

#[tokio::test]
async fn places_move_units_carry_their_users_and_the_version_rises() {
    let db = TestDatabase::create();
    let storage = open(&db);
    storage
        .write(|tx, _| {
            assert_eq!(tx.directory_version()?, 1);
            for p in [place("T1", Level::Township, None), place("T2", Level::Township, None)] {
                tx.insert_place(&p, 10)?;
            }
            tx.insert_place(&place("V1", Level::Village, Some("T1")), 10)?;
            tx.update_place(&place("V1", Level::Village, Some("T2")), true, 20)?;
            tx.update_place(
                &Place { name: "东门村".into(), ..place("V1", Level::Village, Some("T2")) },
                false,
                30,
            )?;
            let v1 = tx.places()?.into_iter().find(|p| p.code == "V1").expect("V1");
            assert_eq!((v1.name.as_str(), v1.parent.as_deref()), ("东门村", Some("T2")));

            let unit =
                Unit {
                    code: "U1".into(), name: "派出所".into(), kind: "police".into(), place: "T1".into()
                };
            tx.insert_unit(&unit, 10)?;
            let cop = NewUser {
                name: "cop",
                role: Role::Department,
                scope: "T1",
                unit: Some("U1"),
                password_hash: None,
                now: 10,
            };
            tx.insert_user(&cop)?;
            tx.update_unit(&Unit { place: "T2".into(), ..unit })?;
            assert_eq!(tx.move_unit_users("U1", "T2")?, 1);
            assert_eq!(tx.user("cop")?.expect("cop").scope, "T2");
            assert_eq!(tx.units()?[0].place, "T2");

            assert_eq!(tx.bump_directory(0)?, 2, "one more than before");
            assert_eq!(tx.bump_directory(1_000_000)?, 1_000_000, "at least the clock");
            assert_eq!(tx.bump_directory(5)?, 1_000_001);
            Ok(())
        })
        .await
        .expect("the directory is written");
    let side = client(&db).await;
    let moved: Option<i64> =
        side.query_one("SELECT moved_ms FROM places WHERE code = 'V1'", &[]).await.expect("row").get(0);
    assert_eq!(moved, Some(20), "a rename is no move");
}

#[tokio::test]
async fn deactivation_revokes_devices_and_ends_sessions_and_revocation_keeps_the_first_time() {
    let db = TestDatabase::create();
    let storage = open(&db);
    storage
        .write(|tx, _| {
            let user = NewUser {
                name: "wang",
                role: Role::Worker,
                scope: "",
                unit: None,
                password_hash: None,
                now: 1,
            };
            tx.insert_user(&user)?;
            let (phone, tablet) = (ActorId::random(), ActorId::random());
            for id in [phone, tablet] {
                tx.insert_device(&NewDevice { id, user: "wang", public_key: &[7; 32], now: 2 })?;
            }
            assert!(tx.revoke_device(tablet, 3, false)?);
            let session = NewSession { token_hash: &[1; 32], user: "wang", created_ms: 2, expires_ms: 100 };
            tx.insert_session(&session)?;
            assert_eq!(tx.session_user(&[1; 32], 50)?.as_deref(), Some("wang"));
            assert_eq!(tx.device_users(Some("wang"))?.len(), 1);

            assert_eq!(tx.deactivate_user("wang", 5)?, Some(1), "the tablet was revoked already");
            assert_eq!(tx.deactivate_user("nobody", 5)?, None);
            assert_eq!(tx.session_user(&[1; 32], 50)?, None);
            assert!(tx.device_users(None)?.is_empty());
            let key = tx.device_key(phone)?.expect("enrolled");
            assert!(key.revoked && !key.wipe);

            assert!(tx.revoke_device(tablet, 9, true)?);
            assert!(tx.revoke_device(tablet, 10, false)?);
            let tablet_row = tx.devices()?.into_iter().find(|d| d.id == tablet).expect("tablet");
            assert_eq!(
                (tablet_row.revoked_ms, tablet_row.wipe),
                (Some(3), true),
                "first time kept, wipe sticks"
            );
            assert!(!tx.revoke_device(ActorId::random(), 9, true)?);
            assert!(!tx.set_password("nobody", "x", true)?);

            // A device seen only pushing (never enrolled) is listed last.
            tx.note_push(ActorId::random(), 4, 3)?;
            let devices = tx.devices()?;
            assert_eq!(devices.len(), 3);
            assert_eq!(
                (devices[2].enrolled_ms, devices[2].changes, devices[2].last_push_ms),
                (None, 3, Some(4))
            );
            Ok(())
        })
        .await
        .expect("identity is written");
}

/// Two processes on one database push the same change at once: the second
/// waits for the first's write lock, then finds the change (a duplicate),
/// never a unique violation; and its high-water mark covers it.
#[tokio::test]
async fn a_change_pushed_through_two_processes_at_once_is_found_by_the_second() {
    let db = TestDatabase::create();
    let (one, two) = (open(&db), open(&db));
    let (record, device) = (RecordId::generate(1), ActorId::random());
    let (appended_tx, appended) = tokio::sync::oneshot::channel();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let first = tokio::spawn({
        let one = one.clone();
        async move {
            one.write(move |tx, _| {
                assert_eq!(tx.change_body(record, TOWNSHIP, device, 1)?, None);
                let seq = append(tx, record, device, 0);
                let _ = appended_tx.send(seq);
                let _ = released.recv();
                Ok(seq)
            })
            .await
        }
    });
    let seq = appended.await.expect("the first process appends");
    let second = tokio::spawn(async move {
        two.write(move |tx, _| {
            let found = tx.change_body(record, TOWNSHIP, device, 1)?;
            Ok((found, tx.high_water()?))
        })
        .await
    });
    // The second waits on the lock: a read in between does not see the
    // change, and a third party's write that touches no log is not held up.
    let seen = one.read(move |tx| Ok(tx.change_body(record, TOWNSHIP, device, 1)?)).await.expect("a read");
    assert_eq!(seen, None, "not committed yet");
    one.write(|tx, now| {
        let user = NewUser {
            name: "admin",
            role: Role::Administrator,
            scope: "",
            unit: None,
            password_hash: None,
            now,
        };
        Ok(tx.insert_user(&user)?)
    })
    .await
    .expect("a write that touches no log runs beside the lock");
    assert!(!second.is_finished(), "the second push waits for the first's lock");
    release.send(()).expect("the first waits");
    assert_eq!(first.await.expect("join").expect("the first commits"), seq);
    let (found, high) = second.await.expect("join").expect("the second commits");
    assert_eq!(found, Some(0u32.to_le_bytes().to_vec()), "the second finds the change");
    assert!(high >= seq);
}

#[tokio::test]
async fn failures_map_by_kind_without_values_and_a_failed_job_keeps_nothing() {
    let db = TestDatabase::create();
    let storage = open(&db);
    let user = |name: &'static str| {
        move |tx: &mut dyn WriteTx, now: u64| -> Result<(), CoreError> {
            Ok(tx.insert_user(&NewUser {
                name,
                role: Role::Worker,
                scope: "",
                unit: None,
                password_hash: None,
                now,
            })?)
        }
    };
    storage.write(user("secret-name")).await.expect("a user");
    let duplicate = storage.write(user("secret-name")).await.expect_err("a duplicate");
    let CoreError::Storage(e) = duplicate else { panic!("a storage error: {duplicate:?}") };
    assert_eq!(e.kind, StorageErrorKind::Conflict);
    assert!(e.message.contains("23505") && !e.message.contains("secret"), "{e}");

    let orphan = storage
        .write(|tx, now| {
            let session =
                NewSession { token_hash: &[3; 32], user: "secret-nobody", created_ms: now, expires_ms: now };
            Ok(tx.insert_session(&session)?)
        })
        .await
        .expect_err("a session of nobody");
    let CoreError::Storage(e) = orphan else { panic!("a storage error: {orphan:?}") };
    assert_eq!(e.kind, StorageErrorKind::Conflict, "a foreign key violation");
    assert!(!e.message.contains("secret"), "{e}");

    // A job that panics is rolled back, and the storage carries on.
    let result = storage
        .write(move |tx, now| -> Result<(), CoreError> {
            tx.insert_user(&NewUser {
                name: "ghost",
                role: Role::Worker,
                scope: "",
                unit: None,
                password_hash: None,
                now,
            })?;
            panic!("a job's bug")
        })
        .await;
    assert!(
        matches!(result, Err(CoreError::Storage(ref e)) if e.kind == StorageErrorKind::Other),
        "{result:?}"
    );
    let names = storage.read(|tx| Ok(tx.users()?)).await.expect("users");
    assert_eq!(names.iter().map(|u| u.name.as_str()).collect::<Vec<_>>(), ["secret-name"]);

    // Read jobs cannot write: the snapshot is read only.
    let read_only = storage.read(|tx: &mut dyn ReadTx| Ok(tx.users()?.len())).await.expect("a read");
    assert_eq!(read_only, 1);
    assert!(storage.healthy());
    assert_eq!(storage.backend(), "postgres");
    let shown = format!("{storage:?}");
    assert!(!shown.contains("postgres://") && !shown.contains("127.0.0.1"), "{shown}");
}

#[test]
fn opening_fails_clearly_without_showing_the_password() {
    let bad = PostgresStorage::connect("postgres://gs:s3cret@127.0.0.1:1/gridsync", PgOptions::default())
        .expect_err("nothing listens on port 1");
    assert!(matches!(bad, OpenError::Connect { .. }), "{bad:?}");
    let text = bad.to_string();
    assert!(text.contains("gs:***@127.0.0.1:1") && !text.contains("s3cret"), "{text}");

    let bad =
        PostgresStorage::connect("postgres://gs:s3cret@127.0.0.1:5432/x?port=nope", PgOptions::default())
            .expect_err("a bad URL");
    assert!(matches!(bad, OpenError::Url { .. }), "{bad:?}");
    assert!(!bad.to_string().contains("s3cret"), "{bad}");
}

/// Two processes enrolling with one code at once: the second reads the code
/// only once the first has committed, and so reads it used.
#[tokio::test]
async fn an_enrollment_code_checked_by_two_processes_at_once_is_used_once() {
    let db = TestDatabase::create();
    let (one, two) = (open(&db), open(&db));
    let hash = [5u8; 32];
    one.write(move |tx, now| {
        let user =
            NewUser { name: "wang", role: Role::Worker, scope: "", unit: None, password_hash: None, now };
        tx.insert_user(&user)?;
        let code =
            NewEnrollment { code_hash: &hash, user: "wang", created_ms: now, expires_ms: now + 60_000 };
        Ok(tx.insert_enrollment(&code)?)
    })
    .await
    .expect("a code is issued");
    let (checked_tx, checked) = tokio::sync::oneshot::channel();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let first = tokio::spawn({
        let one = one.clone();
        async move {
            one.write(move |tx, now| {
                let unused = tx.enrollment(&hash)?.is_some_and(|e| e.used_ms.is_none());
                tx.use_enrollment(&hash, ActorId::random(), now)?;
                let _ = checked_tx.send(unused);
                let _ = released.recv();
                Ok(())
            })
            .await
        }
    });
    assert!(checked.await.expect("the first checks"), "the first finds the code unused");
    let second = tokio::spawn(async move {
        two.write(move |tx, _| Ok(tx.enrollment(&hash)?.and_then(|e| e.used_ms))).await
    });
    let snapshot = one.read(move |tx| Ok(tx.enrollment(&hash)?.and_then(|e| e.used_ms))).await;
    assert_eq!(snapshot.expect("a read"), None, "a read neither waits nor sees the uncommitted use");
    release.send(()).expect("the first waits");
    first.await.expect("join").expect("the first commits");
    let used = second.await.expect("join").expect("the second reads");
    assert!(used.is_some(), "the second reads the code as used");
}
