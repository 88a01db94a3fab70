use gridsync_proto::{ActorId, RecordId};
use gridsync_server_core::storage::{PullPage, ReplicaRow, SyncLogRead, SyncLogWrite};
use rusqlite::Connection;

use crate::SCHEMA;
use crate::tx::SqliteTx;

fn db() -> (tempfile::TempDir, Connection) {
    let dir = tempfile::tempdir().expect("tempdir");
    let conn = gridsync_sql_support::open(&dir.path().join("s.db"), &SCHEMA).expect("open");
    // Count the index rows deleted, to see whether a call rewrote them.
    conn.execute_batch(
        "CREATE TEMP TABLE deleted (n INTEGER);
         CREATE TEMP TRIGGER count_deletes AFTER DELETE ON main.record_access
         BEGIN INSERT INTO deleted VALUES (1); END;",
    )
    .expect("trigger");
    (dir, conn)
}

fn filed(conn: &Connection, record: RecordId) -> Vec<(String, i64, bool)> {
    let mut stmt = conn
        .prepare("SELECT key, active_ms, open FROM record_access WHERE record = ?1 ORDER BY key")
        .expect("sql");
    stmt.query_map([record.as_bytes()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

fn deleted(conn: &Connection) -> i64 {
    conn.query_row("SELECT count(*) FROM temp.deleted", [], |r| r.get(0)).expect("count")
}

fn keys(keys: &[&str]) -> Vec<String> {
    keys.iter().map(|k| (*k).to_owned()).collect()
}

fn accessed(tx: &mut SqliteTx<'_>, key: &str, since: i64) -> Vec<(RecordId, i64, bool)> {
    let mut seen = Vec::new();
    tx.access(key, None, since, &mut |row| seen.push((row.record, row.active_ms, row.open))).expect("access");
    seen
}

#[test]
fn access_rows_are_rewritten_only_when_the_keys_change() {
    let (_dir, conn) = db();
    let mut tx = SqliteTx::new(&conn);
    let record = RecordId::generate(1);
    tx.file_access(record, "", &keys(&["p:B", "p:A"]), 100, false, 5).expect("file");
    assert_eq!(filed(&conn, record), [("p:A".into(), 100, false), ("p:B".into(), 100, false)]);

    // The same keys, in another order, earlier: activity keeps the later
    // time, the open flag moves, no row is rewritten.
    tx.file_access(record, "", &keys(&["p:A", "p:B"]), 50, true, 3).expect("refile");
    assert_eq!(filed(&conn, record), [("p:A".into(), 100, true), ("p:B".into(), 100, true)]);
    assert_eq!(deleted(&conn), 0);
    tx.file_access(record, "", &keys(&["p:B", "p:A"]), 300, false, 9).expect("later");
    assert_eq!(filed(&conn, record), [("p:A".into(), 300, false), ("p:B".into(), 300, false)]);
    assert_eq!(deleted(&conn), 0, "still nothing rewritten");

    // New keys: the rows are replaced, keeping the latest activity.
    tx.file_access(record, "", &keys(&["p:A", "u:POLICE"]), 200, true, 7).expect("moved");
    assert_eq!(filed(&conn, record), [("p:A".into(), 300, true), ("u:POLICE".into(), 300, true)]);
    assert_eq!(deleted(&conn), 2);
    // The last change's position never goes back either, rewritten or not.
    let mut seqs = Vec::new();
    tx.access("u:POLICE", None, 0, &mut |row| seqs.push(row.updated_seq)).expect("access");
    assert_eq!(seqs, [9, 9]);

    // Another record is untouched by all of this.
    let other = RecordId::generate(2);
    tx.file_access(other, "", &keys(&["p:A"]), 10, false, 1).expect("other");
    assert_eq!(filed(&conn, record).len(), 2);
    assert_eq!(filed(&conn, other), [("p:A".into(), 10, false)]);
}

#[test]
fn access_finds_recent_and_open_records() {
    let (_dir, conn) = db();
    let mut tx = SqliteTx::new(&conn);
    let (recent, old, open) = (RecordId::generate(1), RecordId::generate(2), RecordId::generate(3));
    tx.file_access(recent, "", &keys(&["p:A"]), 1_000, false, 1).expect("file");
    tx.file_access(old, "", &keys(&["p:A"]), 10, false, 2).expect("file");
    tx.file_access(open, "", &keys(&["p:A", "n:li"]), 10, true, 3).expect("file");
    let mut found = accessed(&mut tx, "p:A", 500);
    found.sort();
    assert_eq!(found, [(recent, 1_000, false), (open, 10, true)]);
    // An open record that is also recent may come twice.
    let found = accessed(&mut tx, "n:li", 0);
    assert_eq!(found, [(open, 10, true), (open, 10, true)]);
    assert!(accessed(&mut tx, "p:B", 0).is_empty());
}

fn page<'a>(device: ActorId, presented: u64, adds: &'a [RecordId], removes: &'a [RecordId]) -> PullPage<'a> {
    PullPage {
        township: "",
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

fn tokens(conn: &Connection, device: ActorId) -> Vec<(u64, u64)> {
    let mut stmt = conn
        .prepare("SELECT token, log_high FROM pull_tokens WHERE device = ?1 ORDER BY token")
        .expect("sql");
    stmt.query_map([device.as_bytes()], |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

fn held(tx: &mut SqliteTx<'_>, device: ActorId) -> Vec<ReplicaRow> {
    let mut rows = tx.replicas(device, "").expect("replicas");
    rows.sort_by_key(|r| r.record);
    rows
}

fn row(record: RecordId, added: u64, removed: Option<u64>, sent_through: u64) -> ReplicaRow {
    ReplicaRow { record, added_token: added, removed_token: removed, rebuild: false, sent_through }
}

#[test]
fn pull_pages_issue_rising_cursors_and_settle_replicas() {
    let (_dir, conn) = db();
    let mut tx = SqliteTx::new(&conn);
    let (device, other) = (ActorId::random(), ActorId::random());
    let [r1, r2, r3, r4, mine] = [1, 2, 3, 4, 5].map(RecordId::generate);
    tx.hold(device, "", mine).expect("hold");
    tx.hold(device, "", mine).expect("held once");
    tx.hold(other, "", r1).expect("hold");

    // First page: two records sent whole.
    let t1 = tx.record_pull_page(&page(device, 0, &[r1, r2], &[])).expect("page 1");
    assert_eq!(tokens(&conn, device), [(t1, 40)]);
    assert_eq!(held(&mut tx, device), [row(r1, t1, None, 42), row(r2, t1, None, 42), row(mine, 0, None, 0)]);
    assert_eq!(tx.pull_token(device, "", t1).expect("token"), Some(40));
    assert_eq!(tx.pull_token(other, "", t1).expect("token"), None, "a cursor is its device's");

    // Second page from t1: r1 leaves the scope, r3 enters.
    let t2 = tx.record_pull_page(&page(device, t1, &[r3], &[r1])).expect("page 2");
    assert!(t2 > t1);
    assert_eq!(tokens(&conn, device), [(t1, 40), (t2, 40)], "the presented cursor is kept");
    assert_eq!(
        held(&mut tx, device),
        [row(r1, t1, Some(t2), 42), row(r2, t1, None, 42), row(r3, t2, None, 42), row(mine, 0, None, 0)]
    );

    // Page 2 was lost: the device presents t1 again. Rows added after t1
    // go, removals after t1 are undone; t2 is dropped.
    let t3 = tx.record_pull_page(&PullPage { dirty: true, ..page(device, t1, &[r4], &[]) }).expect("page 3");
    assert!(t3 > t2);
    assert_eq!(tokens(&conn, device), [(t1, 40), (t3, 40)]);
    assert_eq!(
        held(&mut tx, device),
        [row(r1, t1, None, 42), row(r2, t1, None, 42), row(r4, t3, None, 42), row(mine, 0, None, 0)]
    );

    // A removal confirmed by the next cursor is final; a rebuild sends the
    // record whole again and clears the flag.
    let t4 = tx.record_pull_page(&page(device, t3, &[], &[r2])).expect("page 4");
    tx.mark_rebuild(device, "", r4).expect("rebuild");
    assert!(tx.replicas(device, "").expect("replicas").iter().any(|r| r.record == r4 && r.rebuild));
    let t5 = tx
        .record_pull_page(&PullPage { dirty: true, sent_through: 50, ..page(device, t4, &[r4], &[]) })
        .expect("page 5");
    assert_eq!(tokens(&conn, device), [(t4, 40), (t5, 40)], "older cursors go");
    assert_eq!(held(&mut tx, device), [row(r1, t1, None, 42), row(r4, t5, None, 50), row(mine, 0, None, 0)]);

    // An unknown cursor starts afresh: everything of this device is
    // forgotten, nothing of the other's.
    let t6 = tx
        .record_pull_page(&PullPage { reset: true, log_high: 60, ..page(device, 999, &[r2], &[]) })
        .expect("reset");
    assert!(t6 > t5);
    assert_eq!(tokens(&conn, device), [(t6, 60)]);
    assert_eq!(held(&mut tx, device), [row(r2, t6, None, 42)]);
    assert_eq!(held(&mut tx, other), [row(r1, 0, None, 0)]);
}

#[test]
fn the_log_is_scanned_in_order_and_stops_when_asked() {
    let (_dir, conn) = db();
    let mut tx = SqliteTx::new(&conn);
    let (a, b) = (RecordId::generate(1), RecordId::generate(2));
    let device = ActorId::random();
    let mut seqs = Vec::new();
    for (i, record) in [a, b, a, b, a].into_iter().enumerate() {
        let body = [i as u8; 3];
        let change = gridsync_server_core::storage::NewChange {
            township: "",
            record,
            actor: device,
            counter: i as u64 + 1,
            received_ms: 100 + i as u64,
            body: &body,
            clock_suspect: i == 2,
            clock_offset_ms: -5,
        };
        seqs.push(tx.append_change(&change).expect("append"));
    }
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(tx.high_water().expect("high"), seqs[4]);
    assert_eq!(tx.change_body(a, "", device, 3).expect("body"), Some(vec![2; 3]));
    assert_eq!(tx.change_body(a, "", device, 2).expect("body"), None);

    let mut seen = Vec::new();
    tx.scan(seqs[0], seqs[4], 10, None, &mut |row| {
        seen.push((row.seq, row.record, row.actor, row.body.to_vec(), row.clock_suspect));
        seen.len() < 2
    })
    .expect("scan");
    assert_eq!(seen, [(seqs[1], b, device, vec![1; 3], false), (seqs[2], a, device, vec![2; 3], true)]);
    let mut count = 0;
    tx.scan(0, seqs[3], 2, None, &mut |_| {
        count += 1;
        true
    })
    .expect("scan");
    assert_eq!(count, 2, "at most max_rows");

    let mut history = Vec::new();
    tx.history(a, "", seqs[3], &mut |row| history.push((row.seq, row.record, row.received_ms)))
        .expect("history");
    assert_eq!(history, [(seqs[0], a, 100), (seqs[2], a, 102)]);
    assert_eq!(tx.change_count().expect("count"), 5);
}

#[test]
fn the_log_names_records_and_origins_by_key_and_keeps_authors_beside_the_bodies() {
    use gridsync_proto::change::log_body;
    use gridsync_proto::{Change, Dot, Hlc, Op, RecordKind, Value};
    use gridsync_server_core::storage::NewChange;

    let (_dir, conn) = db();
    let tx = &mut SqliteTx::new(&conn);
    let (record, phone) = (RecordId::from_bytes([1; 16]), ActorId::from_bytes([2; 16]));
    let change = |counter: u64, author: &str| Change {
        record,
        kind: RecordKind::Patrol,
        dot: Dot { actor: phone, counter },
        author: author.into(),
        time: Hlc::from_millis(1_795_000_000_000 + counter),
        op: Op::Set {
            field: "summary".into(),
            value: Value::Text(format!("巡查 {counter}")),
            supersedes: vec![],
        },
    };
    let made = [change(1, "li.wei"), change(2, "li.wei"), change(3, "zhao.min")];
    let mut seqs = Vec::new();
    for c in &made {
        let body = log_body::encode(c);
        seqs.push(
            tx.append_change(&NewChange {
                record,
                township: "",
                actor: phone,
                counter: c.dot.counter,
                received_ms: 7,
                body: &body,
                clock_suspect: false,
                clock_offset_ms: 0,
            })
            .expect("append"),
        );
    }
    // One record row (no state yet), two origins, and bodies without authors.
    let stored: Vec<(i64, i64, Vec<u8>)> = conn
        .prepare("SELECT record, origin, body FROM changes ORDER BY seq")
        .expect("sql")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    let key: i64 = conn
        .query_row("SELECT key FROM records WHERE id = ?1", [record.as_bytes()], |r| r.get(0))
        .expect("key");
    assert!(stored.iter().all(|(r, _, _)| *r == key));
    assert_eq!(stored[0].1, stored[1].1, "one origin for one device and author");
    assert_ne!(stored[1].1, stored[2].1, "another author, another origin");
    for ((_, _, body), c) in stored.iter().zip(&made) {
        assert_eq!(
            body.len() + 1 + c.author.len(),
            log_body::encode(c).len(),
            "the author is not in the body"
        );
    }
    let origins: i64 = conn.query_row("SELECT count(*) FROM origins", [], |r| r.get(0)).expect("count");
    assert_eq!(origins, 2);
    assert_eq!(tx.record_state(record).expect("state"), None, "a row without a state is no record");
    assert_eq!(tx.record_count().expect("count"), 0);

    // Every read gives the change back whole.
    let mut history = Vec::new();
    tx.history(record, "", seqs[2], &mut |row| history.push(row.change().expect("decodes")))
        .expect("history");
    assert_eq!(history, made);
    let mut scanned = Vec::new();
    tx.scan(0, seqs[2], 10, None, &mut |row| {
        scanned.push(row.change().expect("decodes"));
        true
    })
    .expect("scan");
    assert_eq!(scanned, made);
    let mut since = Vec::new();
    tx.changes_of(&[(record, seqs[0])], None, seqs[2], 10, &mut |row| {
        since.push(row.change().expect("decodes"))
    })
    .expect("changes_of");
    assert_eq!(since, made[1..]);
    let body = tx.change_body(record, "", phone, 3).expect("body").expect("logged");
    assert_eq!(body, log_body::encode(&made[2]));
}
