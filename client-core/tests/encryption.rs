//! Encryption at rest: nothing that identifies a person can be read from the
//! store's files without the key, a wrong key is refused, and a store written
//! before encryption is sealed when first opened with a key.

mod support;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use gridsync_client_core::{Error, NewDispute, Party, Request, SCHEMA, Store, StoreKey, Transport};
use gridsync_proto::wire::{self, Limits};
use gridsync_proto::{
    ActorId, Change, Dot, Hlc, LoggedChange, Op, PullResponse, PushRequest, PushResponse, RecordId,
    RecordKind, RecordState, Value,
};
use support::enroll;

const NAME: &str = "张三丰";
const ID_NUMBER: &str = "530102199001011234";

/// The store file and, if present, its WAL, concatenated.
fn file_bytes(path: &Path) -> Vec<u8> {
    let mut bytes = std::fs::read(path).expect("read the store file");
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    if let Ok(more) = std::fs::read(PathBuf::from(wal)) {
        bytes.extend(more);
    }
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Asserts that neither the name nor the ID number is anywhere in the files.
fn assert_nothing_readable(path: &Path, when: &str) {
    let bytes = file_bytes(path);
    assert!(bytes.len() > 4096, "{when}: the store files are unexpectedly small");
    assert!(!contains(&bytes, NAME), "{when}: the name is readable in the store files");
    assert!(!contains(&bytes, ID_NUMBER), "{when}: the ID number is readable in the store files");
    // The check itself works: a plain UTF-8 search finds what is there.
    assert!(contains(&bytes, "SQLite format 3"), "{when}");
}

fn page_of(changes: Vec<LoggedChange>, cursor: u64) -> PullResponse {
    PullResponse {
        reset: false,
        removed: vec![],
        rebuild: vec![],
        snapshots: vec![],
        changes,
        withheld: 0,
        profile: None,
        cursor,
        more: false,
        epoch: 1,
    }
}

/// A server in memory: acknowledges every push and answers the first pull
/// with the changes it was given.
struct FakeServer {
    pushed: Mutex<Vec<Change>>,
    page: Mutex<Option<PullResponse>>,
}

impl FakeServer {
    fn new(page: Vec<Change>) -> Self {
        let changes = page
            .into_iter()
            .enumerate()
            .map(|(i, change)| LoggedChange {
                seq: i as u64 + 1,
                received_ms: 0,
                clock_suspect: false,
                change,
            })
            .collect::<Vec<_>>();
        let cursor = changes.len() as u64;
        Self { pushed: Mutex::new(Vec::new()), page: Mutex::new(Some(page_of(changes, cursor))) }
    }
}

impl Transport for FakeServer {
    fn send(&self, request: Request) -> Result<Vec<u8>, Error> {
        let gzip = request.headers.iter().any(|(name, value)| *name == "content-encoding" && value == "gzip");
        let body = if gzip {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&request.body[..]).read_to_end(&mut out).expect("gzip body");
            out
        } else {
            request.body
        };
        match request.path {
            "/v1/sync/push" => {
                let push: PushRequest = wire::decode(&body, &Limits::DEFAULT)?;
                let accepted = push.changes().count() as u32;
                self.pushed.lock().expect("lock").extend(push.changes().cloned());
                let ack = PushResponse {
                    accepted,
                    duplicates: 0,
                    high_seq: 0,
                    received_ms: 1_800_000_000_000,
                    refused: vec![],
                    epoch: 1,
                };
                Ok(wire::encode(&ack))
            }
            _ => {
                let page = self.page.lock().expect("lock").take();
                Ok(wire::encode(&page.unwrap_or_else(|| page_of(vec![], 2))))
            }
        }
    }
}

/// Changes from another device: a visit naming the person in a field and a note.
fn remote_changes(id: RecordId) -> Vec<Change> {
    let actor = ActorId::random();
    let change = |counter, op| Change {
        record: id,
        kind: RecordKind::Visit,
        dot: Dot { actor, counter },
        author: "乡镇 王".into(),
        time: Hlc::from_millis(1_700_000_000_000 + counter),
        op,
    };
    vec![
        change(1, Op::Create),
        change(2, Op::Set { field: "visited".into(), value: Value::from(NAME), supersedes: vec![] }),
        change(
            3,
            Op::Append {
                entry: "note".into(),
                body: BTreeMap::from([("text".to_owned(), Value::from(format!("身份证 {ID_NUMBER}")))]),
            },
        ),
    ]
}

#[test]
fn no_name_or_id_number_is_readable_in_the_store_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("worker.db");
    let key = StoreKey::generate().expect("key");
    let author = format!("网格员 {NAME} {ID_NUMBER}");
    let mut store = Store::init(&path, "http://127.0.0.1:1", &author, &key).expect("init");
    enroll(&mut store);

    // Written here, then pushed: afterwards only in `records`.
    let resident = Value::Map(BTreeMap::from([
        ("name".to_owned(), Value::from(NAME)),
        ("id_number".to_owned(), Value::from(ID_NUMBER)),
        ("category".to_owned(), Value::from("severe_mental_illness")),
    ]));
    let person = [("residents".to_owned(), Value::List(vec![resident.clone()]))];
    let synced = store.record_household("household", person.clone()).expect("create");
    store.note(synced, &format!("{NAME} 身份证 {ID_NUMBER} 需随访")).expect("note");
    // Pulled from another device: written only by the pull, only in `records`.
    let pulled = RecordId::generate(1_700_000_000_000);
    let server = FakeServer::new(remote_changes(pulled));
    let report = store.sync(&server).expect("sync");
    assert_eq!((report.pushed, report.pulled, report.skipped), (5, 3, 0));
    assert_eq!(store.pending().expect("pending"), 0);
    // The wire carries the content (TLS protects it there, not the store key).
    let pushed = server.pushed.lock().expect("lock").clone();
    assert!(pushed.iter().all(|c| c.author == author));
    // Written after the sync: in `records` and waiting in the outbox.
    let party = Party {
        name: NAME.into(),
        role: Some("applicant".into()),
        id_number: Some(ID_NUMBER.into()),
        phone: None,
        address: None,
    };
    let dispute = NewDispute {
        place: None,
        source: "walk_in".into(),
        source_record: None,
        category: "邻里纠纷".into(),
        summary: None,
        risk: None,
        parties: vec![party],
        address: None,
        due: None,
    };
    let waiting = store.register_dispute(&dispute).expect("create");
    store.note(waiting, &format!("{NAME}（{ID_NUMBER}）与邻居争执")).expect("note");
    assert_eq!(store.pending().expect("pending"), 7);

    // While the store is open, recent pages sit in the WAL.
    assert_nothing_readable(&path, "store open");
    drop(store);
    assert_nothing_readable(&path, "store closed");

    // A wrong key is refused before anything is read, and changes nothing.
    let wrong = StoreKey::generate().expect("key");
    assert!(matches!(Store::open(&path, &wrong), Err(Error::WrongKey)));
    let err = Store::open(&path, &StoreKey::from_bytes([0; 32])).expect_err("wrong key");
    assert_eq!(err.to_string(), "the store key does not match this store");

    // The right key reads everything back.
    let store = Store::open(&path, &key).expect("open");
    assert_eq!(store.author(), author);
    assert_eq!(store.pending().expect("pending"), 7);
    let synced = store.get(synced).expect("get").expect("record");
    assert_eq!(synced.value("residents"), Some(&Value::List(vec![resident])));
    assert_eq!(synced.entries()[0].body["text"], Value::from(format!("{NAME} 身份证 {ID_NUMBER} 需随访")));
    assert_eq!(synced.created().map(|s| s.author.as_str()), Some(author.as_str()));
    let pulled = store.get(pulled).expect("get").expect("pulled record");
    assert_eq!(pulled.value("visited"), Some(&Value::from(NAME)));
    let waiting = store.get(waiting).expect("get").expect("record");
    assert!(matches!(waiting.value("parties"), Some(Value::List(p)) if p.len() == 1));
    assert_eq!(store.list(&Default::default()).expect("list").len(), 3);

    // The outbox opens too: the next push sends the waiting changes as made.
    let mut store = store;
    let server = FakeServer::new(vec![]);
    assert_eq!(store.sync(&server).expect("sync").pushed, 7);
    let pushed = server.pushed.lock().expect("lock").clone();
    assert!(pushed.iter().all(|c| c.record == waiting.id() && c.author == author));
}

#[test]
fn sealed_values_cannot_be_swapped_between_records() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("h.db");
    let key = StoreKey::from_bytes([9; 32]);
    let mut store = Store::init(&path, "http://127.0.0.1:1", "w", &key).expect("init");
    enroll(&mut store);
    let plate = |p: &str| [("door_plate".to_owned(), Value::from(p))];
    let a = store.record_household("household", plate(NAME)).expect("a");
    let b = store.record_household("household", plate("李四")).expect("b");
    drop(store);

    // Someone with the file (but not the key) copies b's sealed state over a's.
    let conn = rusqlite::Connection::open(&path).expect("open");
    conn.execute(
        "UPDATE records SET state = (SELECT state FROM records WHERE id = ?1) WHERE id = ?2",
        [&b.as_bytes()[..], &a.as_bytes()[..]],
    )
    .expect("swap");
    // ...and swaps the order of two outbox entries.
    conn.execute_batch(
        "UPDATE outbox SET seq = -seq WHERE seq IN (1, 2);
         UPDATE outbox SET seq = 2 WHERE seq = -1;
         UPDATE outbox SET seq = 1 WHERE seq = -2;",
    )
    .expect("reorder");
    drop(conn);

    let mut store = Store::open(&path, &key).expect("open");
    assert!(matches!(store.get(a), Err(Error::Corrupt(_))));
    // A value that no longer opens is damage: the store refuses writes
    // and syncs from then on, and still answers what it can read.
    assert!(store.is_damaged());
    assert_eq!(store.get(b).expect("get").expect("b").value("door_plate"), Some(&Value::from("李四")));
    assert!(matches!(store.sync(&FakeServer::new(vec![])), Err(Error::Damaged)));
    drop(store);
    let mut store = Store::open(&path, &key).expect("open");
    assert!(matches!(store.sync(&FakeServer::new(vec![])), Err(Error::Corrupt("outbox entry"))));
    assert!(store.is_damaged());
    assert!(!gridsync_client_core::doctor::check(&path, &key).expect("check"), "doctor finds it too");
}

/// Writes a store the way a build before encryption at rest did: schema
/// version 1, plaintext states, outbox changes and author.
fn write_v1_store(path: &Path, author: &str) -> (ActorId, RecordId) {
    let conn = gridsync_sql_support::create_at_version(path, &SCHEMA, 1).expect("v1 schema");
    conn.pragma_update(None, "journal_mode", "WAL").expect("wal");
    let actor = ActorId::random();
    conn.execute(
        "INSERT INTO device (id, actor, server_url, author, hlc_millis, hlc_logical, cursor)
         VALUES (1, ?1, 'http://127.0.0.1:1', ?2, 1700000000003, 0, 0)",
        rusqlite::params![actor.as_bytes(), author],
    )
    .expect("device");
    let id = RecordId::generate(1_700_000_000_000);
    let changes = [
        Op::Create,
        Op::Set { field: "name".into(), value: Value::from(NAME), supersedes: vec![] },
        Op::Set { field: "id_number".into(), value: Value::from(ID_NUMBER), supersedes: vec![] },
        // Large enough to spill into overflow pages, which sealing moves and frees.
        Op::Set {
            field: "history".into(),
            value: Value::from(format!("{NAME} 走访记录。").repeat(800)),
            supersedes: vec![],
        },
    ]
    .into_iter()
    .enumerate()
    .map(|(i, op)| Change {
        record: id,
        kind: RecordKind::Visit,
        dot: Dot { actor, counter: i as u64 + 1 },
        author: author.to_owned(),
        time: Hlc::from_millis(1_700_000_000_001 + i as u64),
        op,
    })
    .collect::<Vec<_>>();
    let state = RecordState::from_changes(id, RecordKind::Visit, &changes).expect("state");
    conn.execute(
        "INSERT INTO records (id, kind, state, conflicted) VALUES (?1, ?2, ?3, 0)",
        rusqlite::params![id.as_bytes(), RecordKind::Visit.code(), state.to_bytes()],
    )
    .expect("record");
    for change in &changes {
        let bytes = postcard::to_allocvec(change).expect("encode");
        conn.execute("INSERT INTO outbox (change) VALUES (?1)", [bytes]).expect("outbox");
    }
    drop(conn);
    // The test's premise: a v1 store shows everything.
    let bytes = file_bytes(path);
    assert!(contains(&bytes, NAME) && contains(&bytes, ID_NUMBER));
    (actor, id)
}

#[test]
fn a_plaintext_v1_store_is_encrypted_when_first_opened_with_a_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("old.db");
    let author = format!("网格员 {NAME}");
    let (actor, id) = write_v1_store(&path, &author);

    let key = StoreKey::generate().expect("key");
    let mut store = Store::open(&path, &key).expect("open and encrypt");
    assert_eq!(store.device_id(), actor);
    assert_eq!(store.author(), author);
    assert_eq!(store.pending().expect("pending"), 4);
    let state = store.get(id).expect("get").expect("record");
    assert_eq!(state.value("name"), Some(&Value::from(NAME)));
    assert_eq!(state.value("id_number"), Some(&Value::from(ID_NUMBER)));
    // Writes wait for enrollment, which gives the device its user's profile.
    assert!(matches!(store.note(id, "回访"), Err(Error::NotEnrolled)));
    drop(store);

    // The plaintext is gone from the files: sealed, compacted, WAL emptied.
    assert_nothing_readable(&path, "after the migration");
    // The store now belongs to that key.
    assert!(matches!(Store::open(&path, &StoreKey::generate().expect("key")), Err(Error::WrongKey)));
    let mut store = Store::open(&path, &key).expect("reopen");
    assert_eq!(store.author(), author);
    enroll(&mut store);
    let server = FakeServer::new(vec![]);
    assert_eq!(store.sync(&server).expect("sync").pushed, 4);
    let pushed = server.pushed.lock().expect("lock").clone();
    assert_eq!(pushed.iter().map(|c| c.dot.counter).collect::<Vec<_>>(), [1, 2, 3, 4]);
    assert!(pushed.iter().all(|c| c.author == author && c.dot.actor == actor));
}

#[test]
fn a_v1_store_that_is_not_plaintext_is_refused_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("odd.db");
    write_v1_store(&path, "w");
    // A garbled outbox entry: nothing may be sealed, the store stays as it was.
    let conn = rusqlite::Connection::open(&path).expect("open");
    conn.execute("UPDATE outbox SET change = x'ff00ff' WHERE seq = 2", []).expect("garble");
    drop(conn);
    let key = StoreKey::from_bytes([1; 32]);
    assert!(matches!(Store::open(&path, &key), Err(Error::Corrupt("outbox entry"))));
    let conn = rusqlite::Connection::open(&path).expect("open");
    let sealed: bool =
        conn.query_row("SELECT key_check IS NOT NULL FROM device", [], |r| r.get(0)).expect("device");
    assert!(!sealed);
    let author: String = conn.query_row("SELECT author FROM device", [], |r| r.get(0)).expect("author");
    assert_eq!(author, "w");
}
