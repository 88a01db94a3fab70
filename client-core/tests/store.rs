//! The handset store on its own: durable writes checked by the record rules,
//! queries, conflicts, the daily report and disputes on the device, and the
//! schema, without a server.

mod support;

use std::collections::BTreeMap;

use gridsync_client_core::{
    DailyReport, Edit, Error, Gps, NewDispute, RecordFilter, SCHEMA, StepDetails, Store, StoreKey, Visit,
};
use gridsync_proto::{Action, Date, ErrorCode, RecordKind, Role, Stage, Value, daily_report_id};
use support::{GRID, OTHER_GRID, VILLAGE};

/// The key of every store in these tests.
fn key() -> StoreKey {
    StoreKey::from_bytes([7; 32])
}

fn temp_store() -> (tempfile::TempDir, std::path::PathBuf, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("h.db");
    let store = support::enrolled_store(&path, "网格员", &key());
    (dir, path, store)
}

fn rule_code(err: Error) -> ErrorCode {
    match err {
        Error::Rule(rule) => rule.code,
        other => panic!("expected a rule refusal, got {other}"),
    }
}

const T: u64 = 1_800_000_000_000;

fn visit(category: &str) -> Visit {
    Visit {
        grid: None,
        household: None,
        address: Some("东关村3组12号".into()),
        visited_ms: T,
        person_category: category.into(),
        purpose: "routine".into(),
        result: Some("家中无异常".into()),
        follow_up_due: None,
        gps: Some(Gps { lat: 35.54, lon: 106.66, accuracy_m: 8.0, mock: false, time_ms: Some(T) }),
    }
}

#[test]
fn writes_survive_reopening() {
    let (_dir, path, mut store) = temp_store();
    let device = store.device_id();
    let id = store.start_patrol(T).expect("create");
    store.note(id, "路灯损坏").expect("note");
    let before = store.get(id).expect("get");
    drop(store);

    let store = Store::open(&path, &key()).expect("reopen");
    assert_eq!(store.device_id(), device);
    assert_eq!(store.get(id).expect("get"), before);
    assert_eq!(store.pending().expect("pending"), 4, "create, grid, start, note");
    assert_eq!(store.profile().expect("the profile survives").actor.place.as_deref(), Some(GRID));
}

#[test]
fn writes_need_an_enrolled_user() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::init(&dir.path().join("h.db"), "http://127.0.0.1:1", "w", &key()).expect("init");
    assert!(matches!(store.start_patrol_in(GRID, T), Err(Error::NotEnrolled)));
    assert_eq!(store.pending().expect("pending"), 0);
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
fn edits_are_atomic_and_checked_by_the_rules() {
    let (_dir, _path, mut store) = temp_store();
    let id = store.record_visit(&visit("elderly_alone")).expect("visit");
    let pending = store.pending().expect("pending");
    // The second edit is invalid: nothing of the call is written.
    let err = store
        .edit(id, [Edit::Set("result".into(), "已回访".into()), Edit::Set(String::new(), Value::Null)])
        .expect_err("invalid");
    assert!(matches!(err, Error::Invalid(_)));
    // A type the rules refuse, and a field the kind does not have.
    let bad = store.set(id, [("visited_ms".into(), Value::from("yesterday"))]).expect_err("type");
    assert_eq!(rule_code(bad), ErrorCode::InvalidField);
    let unknown = store.set(id, [("colour".into(), Value::from("red"))]).expect_err("field");
    assert_eq!(rule_code(unknown), ErrorCode::UnknownField);
    let cleared = store.set(id, [("purpose".into(), Value::Null)]).expect_err("required");
    assert_eq!(rule_code(cleared), ErrorCode::MissingField);
    assert_eq!(store.pending().expect("pending"), pending);
    assert_eq!(store.get(id).expect("get").expect("record").value("result"), Some(&"家中无异常".into()));

    // A worker's device knows only the grid's chain of places: another grid
    // is no place it knows (the server would answer out_of_scope).
    let elsewhere = store.start_patrol_in(OTHER_GRID, T).expect_err("scope");
    assert_eq!(rule_code(elsewhere), ErrorCode::InvalidField);
    let village = store.start_patrol_in(VILLAGE, T).expect_err("a village is no grid");
    assert_eq!(rule_code(village), ErrorCode::InvalidField);
    let missing = gridsync_proto::RecordId::generate(5);
    assert!(matches!(store.set(missing, [("a".into(), Value::Null)]), Err(Error::NotFound(_))));
}

#[test]
fn list_filters_by_kind_and_field() {
    let (_dir, _path, mut store) = temp_store();
    let a = store.record_visit(&visit("severe_mental_illness")).expect("a");
    store.record_visit(&visit("general")).expect("b");
    store.start_patrol(T).expect("c");
    let visits = RecordFilter { kind: Some(RecordKind::Visit), ..RecordFilter::default() };
    assert_eq!(store.list(&visits).expect("list").len(), 2);
    let followed = Value::from("severe_mental_illness");
    let special = RecordFilter { field_equals: Some(("person_category".into(), followed)), ..visits };
    let found = store.list(&special).expect("list");
    assert_eq!(found.iter().map(|r| r.id()).collect::<Vec<_>>(), vec![a]);
    assert_eq!(store.list(&RecordFilter::default()).expect("all").len(), 3);
    assert!(store.conflicts().expect("conflicts").is_empty());
}

#[test]
fn resolve_needs_a_conflict() {
    let (_dir, _path, mut store) = temp_store();
    let id = store.record_visit(&visit("general")).expect("create");
    let err = store.resolve(id, "result", Value::from("已解决")).expect_err("no conflict");
    assert!(matches!(err, Error::NoConflict { .. }));
    assert!(err.to_string().contains("no conflict"));
}

#[test]
fn patrols_keep_their_checkpoints_and_findings() {
    let (_dir, _path, mut store) = temp_store();
    let patrol = store.start_patrol(T).expect("start");
    let gps = Gps { lat: 35.541, lon: 106.662, accuracy_m: 15.0, mock: true, time_ms: None };
    store.add_checkpoint(patrol, "村委会", T + 60_000, &gps, Some("一切正常")).expect("checkpoint");
    let dispute = store.register_dispute(&dispute()).expect("dispute");
    store.add_finding(patrol, dispute, Some("排水沟纠纷")).expect("finding");
    store.end_patrol(patrol, T + 3_600_000, Some("巡查两小时")).expect("end");
    let err = store.end_patrol(patrol, T - 1, None).expect_err("before it started");
    assert_eq!(rule_code(err), ErrorCode::InvalidField);
    let state = store.get(patrol).expect("get").expect("patrol");
    let entries = state.entries();
    assert_eq!(entries.iter().map(|e| e.entry.as_str()).collect::<Vec<_>>(), ["checkpoint", "finding"]);
    let recorded = &entries[0].body["gps"];
    assert!(matches!(recorded, Value::Map(m) if m["mock"] == Value::Bool(true)), "the mock flag is kept");
    assert_eq!(entries[0].stamp.author, "网格员");
}

#[test]
fn a_quiet_day_is_one_call_and_one_report() {
    let (_dir, _path, mut store) = temp_store();
    let day: Date = "2026-12-01".parse().expect("date");
    let id = store.file_all_safe(day).expect("all safe");
    assert_eq!(id, daily_report_id("网格员", day));
    // Later that day something happened: the same report now lists it.
    let visit = store.record_visit(&visit("general")).expect("visit");
    let items = DailyReport::HasItems { items: vec![visit], note: Some("走访一户".into()) };
    assert_eq!(store.file_daily_report(day, &items).expect("update"), id);
    let report = store.get(id).expect("get").expect("report");
    assert_eq!(report.value("status"), Some(&"has_items".into()));
    assert_eq!(report.value("grid"), Some(&GRID.into()));
    let empty = DailyReport::HasItems { items: vec![], note: None };
    assert_eq!(
        rule_code(store.file_daily_report(day, &empty).expect_err("no items")),
        ErrorCode::MissingField
    );
    assert_eq!(
        store
            .list(&RecordFilter { kind: Some(RecordKind::DailyReport), ..Default::default() })
            .expect("list")
            .len(),
        1
    );
}

fn dispute() -> NewDispute {
    NewDispute {
        place: None,
        source: "patrol".into(),
        source_record: None,
        category: "邻里纠纷".into(),
        summary: Some("两户因排水沟发生争执".into()),
        risk: Some(2),
        parties: vec![],
        address: None,
        due: None,
    }
}

#[test]
fn disputes_move_by_steps_the_device_checks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("h.db");
    let mut store = Store::init(&path, "http://127.0.0.1:1", "村干部", &key()).expect("init");
    support::enroll_as(&mut store, support::profile("村干部", Role::Worker, VILLAGE));
    let id = store.register_dispute(&dispute()).expect("register");
    let lifecycle = store.lifecycle(id).expect("read").expect("a dispute");
    assert_eq!((lifecycle.state.stage, lifecycle.state.owner.as_str()), (Stage::Found, VILLAGE));
    store.take_step(id, Action::Accept, StepDetails::default()).expect("accept");
    // A worker is no centre: closing and transferring are refused here.
    let close = store.take_step(
        id,
        Action::Transfer,
        StepDetails { unit: Some("U-POLICE".into()), ..Default::default() },
    );
    assert_eq!(rule_code(close.expect_err("not a centre")), ErrorCode::Forbidden);
    let resolve = store.take_step(id, Action::Resolve, StepDetails::default());
    assert_eq!(rule_code(resolve.expect_err("needs a note")), ErrorCode::MissingField);
    let status = store.set(id, [("status".into(), "resolved".into())]).expect_err("derived");
    assert_eq!(rule_code(status), ErrorCode::UnknownField);
    store
        .take_step(
            id,
            Action::Escalate,
            StepDetails { note: Some("村级调解未果".into()), ..Default::default() },
        )
        .expect("escalate");
    let lifecycle = store.lifecycle(id).expect("read").expect("a dispute");
    assert_eq!((lifecycle.state.stage, lifecycle.state.owner.as_str()), (Stage::Accepted, support::TOWNSHIP));
    // Now the township owns it: the village can no longer act on it.
    let after =
        store.take_step(id, Action::Mediate, StepDetails::default()).expect_err("not the owner any more");
    assert_eq!(rule_code(after), ErrorCode::Forbidden);
    let view = store.view(id).expect("view").expect("record");
    let steps = &view.lifecycle.expect("a lifecycle").steps;
    assert_eq!(steps.iter().map(|s| s.action.as_str()).collect::<Vec<_>>(), ["accept", "escalate"]);
    assert_eq!(steps[1].stamp.received_ms, None, "not yet received by the server");
}

#[test]
fn entries_keep_their_attributes() {
    let (_dir, _path, mut store) = temp_store();
    let id = store.record_visit(&visit("general")).expect("create");
    let body = BTreeMap::from([("text".to_owned(), Value::from("已回访，情况稳定"))]);
    store.edit(id, [Edit::Append("note".into(), body.clone())]).expect("append");
    let state = store.get(id).expect("get").expect("record");
    let entries = state.entries();
    assert_eq!(entries.len(), 1);
    assert_eq!((entries[0].entry.as_str(), &entries[0].body), ("note", &body));
    let session = BTreeMap::from([("kind".to_owned(), Value::from("mediation"))]);
    let err = store.edit(id, [Edit::Append("session".into(), session)]).expect_err("unknown entry");
    assert_eq!(rule_code(err), ErrorCode::UnknownField);
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
