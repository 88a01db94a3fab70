//! The handset store on its own: durable writes, queries, conflicts and the
//! schema, without a server.

use gridsync_client_core::{Edit, Error, RecordFilter, SCHEMA, Store, StoreKey};
use gridsync_proto::{RecordKind, Value};
use std::collections::BTreeMap;

/// The key of every store in these tests.
fn key() -> StoreKey {
    StoreKey::from_bytes([7; 32])
}

fn temp_store() -> (tempfile::TempDir, std::path::PathBuf, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("h.db");
    let store = Store::init(&path, "http://127.0.0.1:1", "网格员", &key()).expect("init");
    (dir, path, store)
}

#[test]
fn writes_survive_reopening() {
    let (_dir, path, mut store) = temp_store();
    let device = store.device_id();
    let id = store.create(RecordKind::Patrol, [("grid".into(), Value::from("G-01"))]).expect("create");
    store.note(id, "路灯损坏").expect("note");
    let before = store.get(id).expect("get");
    drop(store);

    let store = Store::open(&path, &key()).expect("reopen");
    assert_eq!(store.device_id(), device);
    assert_eq!(store.get(id).expect("get"), before);
    assert_eq!(store.pending().expect("pending"), 3);
}

#[test]
fn init_and_open_guard_the_identity() {
    let (_dir, path, store) = temp_store();
    drop(store);
    assert!(matches!(Store::init(&path, "http://x", "a", &key()), Err(Error::AlreadyInitialized)));
    let other = StoreKey::from_bytes([8; 32]);
    assert!(matches!(Store::init(&path, "http://x", "a", &other), Err(Error::AlreadyInitialized)));
    let empty = tempfile::tempdir().expect("tempdir");
    assert!(matches!(Store::open(&empty.path().join("new.db"), &key()), Err(Error::NotInitialized)));
}

#[test]
fn edits_are_atomic_and_validated() {
    let (_dir, _path, mut store) = temp_store();
    let id = store.create(RecordKind::Dispute, []).expect("create");
    let pending = store.pending().expect("pending");
    // The second edit is invalid: nothing of the call is written.
    let err = store
        .edit(id, [Edit::Set("status".into(), "found".into()), Edit::Set(String::new(), Value::Null)])
        .expect_err("invalid");
    assert!(matches!(err, Error::Invalid(_)));
    assert_eq!(store.pending().expect("pending"), pending);
    assert_eq!(store.get(id).expect("get").expect("record").value("status"), None);

    let missing = gridsync_proto::RecordId::generate(5);
    assert!(matches!(store.set(missing, [("a".into(), Value::Null)]), Err(Error::NotFound(_))));
}

#[test]
fn list_filters_by_kind_and_field() {
    let (_dir, _path, mut store) = temp_store();
    let a = store.create(RecordKind::Visit, [("purpose".into(), Value::from("回访"))]).expect("a");
    store.create(RecordKind::Visit, [("purpose".into(), Value::from("走访"))]).expect("b");
    store.create(RecordKind::Patrol, []).expect("c");
    let visits = RecordFilter { kind: Some(RecordKind::Visit), ..RecordFilter::default() };
    assert_eq!(store.list(&visits).expect("list").len(), 2);
    let revisits = RecordFilter { field_equals: Some(("purpose".into(), Value::from("回访"))), ..visits };
    let found = store.list(&revisits).expect("list");
    assert_eq!(found.iter().map(|r| r.id()).collect::<Vec<_>>(), vec![a]);
    assert_eq!(store.list(&RecordFilter::default()).expect("all").len(), 3);
    assert!(store.conflicts().expect("conflicts").is_empty());
}

#[test]
fn resolve_needs_a_conflict() {
    let (_dir, _path, mut store) = temp_store();
    let id = store.create(RecordKind::Dispute, [("status".into(), Value::from("found"))]).expect("create");
    let err = store.resolve(id, "status", Value::from("closed")).expect_err("no conflict");
    assert!(matches!(err, Error::NoConflict { .. }));
    assert!(err.to_string().contains("no conflict"));
}

#[test]
fn entries_keep_their_attributes() {
    let (_dir, _path, mut store) = temp_store();
    let id = store.create(RecordKind::Dispute, []).expect("create");
    let body = BTreeMap::from([
        ("kind".to_owned(), Value::from("mediation")),
        ("attendees".to_owned(), Value::List(vec![Value::from("甲"), Value::from("乙")])),
    ]);
    store.edit(id, [Edit::Append("session".into(), body.clone())]).expect("append");
    let state = store.get(id).expect("get").expect("record");
    let entries = state.entries();
    assert_eq!(entries.len(), 1);
    assert_eq!((entries[0].entry.as_str(), &entries[0].body), ("session", &body));
    assert_eq!(entries[0].stamp.author, "网格员");
}

#[test]
fn every_older_schema_upgrades_to_the_current_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fresh = gridsync_sql_support::open(&dir.path().join("fresh.db"), &SCHEMA).expect("fresh");
    let expected = gridsync_sql_support::schema_dump(&fresh).expect("dump");
    for version in 0..SCHEMA.version() {
        let path = dir.path().join(format!("v{version}.db"));
        drop(gridsync_sql_support::create_at_version(&path, &SCHEMA, version).expect("old schema"));
        let upgraded = gridsync_sql_support::open(&path, &SCHEMA).expect("upgrade");
        assert_eq!(gridsync_sql_support::schema_dump(&upgraded).expect("dump"), expected, "from v{version}");
    }
}

#[test]
fn a_store_from_a_newer_build_is_refused() {
    let (_dir, path, store) = temp_store();
    drop(store);
    let conn = rusqlite::Connection::open(&path).expect("open");
    conn.pragma_update(None, "user_version", SCHEMA.version() + 1).expect("bump");
    drop(conn);
    let err = Store::open(&path, &key()).expect_err("newer");
    assert!(err.to_string().contains("schema version"), "{err}");
}
