//! Behaviour tests of the record rules (`check_group`) for every record kind:
//! required fields, types, unknown and derived fields, fixed fields, the
//! writer's scope in the hierarchy, the roles that may record field work,
//! daily-report identity, record creation, dispute registration, field edits
//! and notes on disputes, and records of kinds this build does not know.
//!
//! Every test runs against one realistic directory: a city, a county with its
//! justice bureau, two townships (one with a police station), villages and
//! grids.

use std::collections::BTreeMap;

use gridsync_proto::Actor;
use gridsync_proto::dispute::{Action, Step, StepBy};
use gridsync_proto::{
    ActorId, Change, Date, Directory, Dot, ErrorCode, Hlc, Level, Lifecycle, Op, Place, RecordId, RecordKind,
    RecordState, Role, RuleError, Unit, Value, check_group, daily_report_id,
};

const T0: u64 = 1_780_000_000_000;

const CITY: &str = "620800";
const COUNTY: &str = "620802";
const TOWNSHIP: &str = "620802100";
const OTHER_TOWNSHIP: &str = "620802101";
const VILLAGE: &str = "620802100201";
const OTHER_VILLAGE: &str = "620802100202";
const FAR_VILLAGE: &str = "620802101201";
/// The grid most tests write in.
const GRID_A: &str = "620802100201-01";
/// Another grid of the same village.
const GRID_A2: &str = "620802100201-02";
/// A grid of another village of the same township.
const GRID_C: &str = "620802100202-01";
/// A grid in the other township.
const GRID_B: &str = "620802101201-01";
const POLICE: &str = "PS-620802100";
const JUSTICE: &str = "SFJ-620802";

fn place(code: &str, name: &str, level: Level, parent: Option<&str>) -> Place {
    Place { code: code.into(), name: name.into(), level, parent: parent.map(Into::into) }
}

/// City → county → two townships → villages → grids, a police station at
/// the first township and a justice bureau at the county.
fn directory() -> Directory {
    let dir = Directory::new(
        [
            place(CITY, "平凉市", Level::City, None),
            place(COUNTY, "崆峒区", Level::County, Some(CITY)),
            place(TOWNSHIP, "崆峒镇", Level::Township, Some(COUNTY)),
            place(OTHER_TOWNSHIP, "白水镇", Level::Township, Some(COUNTY)),
            place(VILLAGE, "崆峒村", Level::Village, Some(TOWNSHIP)),
            place(OTHER_VILLAGE, "太统村", Level::Village, Some(TOWNSHIP)),
            place(FAR_VILLAGE, "白水村", Level::Village, Some(OTHER_TOWNSHIP)),
            place(GRID_A, "崆峒村第一网格", Level::Grid, Some(VILLAGE)),
            place(GRID_A2, "崆峒村第二网格", Level::Grid, Some(VILLAGE)),
            place(GRID_C, "太统村第一网格", Level::Grid, Some(OTHER_VILLAGE)),
            place(GRID_B, "白水村第一网格", Level::Grid, Some(FAR_VILLAGE)),
        ],
        [
            Unit {
                code: POLICE.into(),
                name: "崆峒派出所".into(),
                kind: "police".into(),
                place: TOWNSHIP.into(),
            },
            Unit {
                code: JUSTICE.into(),
                name: "崆峒区司法局".into(),
                kind: "justice".into(),
                place: COUNTY.into(),
            },
        ],
    );
    assert_eq!(dir.check(), Ok(()), "the test directory is consistent");
    dir
}

fn actor(user: &str, role: Role, place: Option<&str>, unit: Option<&str>) -> Actor {
    Actor { user: user.into(), role, place: place.map(Into::into), unit: unit.map(Into::into) }
}

fn worker(user: &str, grid: &str) -> Actor {
    actor(user, Role::Worker, Some(grid), None)
}

fn township_admin() -> Actor {
    actor("zhen-zhuren", Role::TownshipAdmin, Some(TOWNSHIP), None)
}

fn other_township_admin() -> Actor {
    actor("baishui-zhuren", Role::TownshipAdmin, Some(OTHER_TOWNSHIP), None)
}

fn county_admin() -> Actor {
    actor("qu-zhongxin", Role::CountyAdmin, Some(COUNTY), None)
}

fn administrator() -> Actor {
    actor("root", Role::Administrator, None, None)
}

fn auditor() -> Actor {
    actor("shenji", Role::Auditor, Some(COUNTY), None)
}

fn police() -> Actor {
    actor("paichusuo", Role::Department, Some(TOWNSHIP), Some(POLICE))
}

fn justice() -> Actor {
    actor("sifaju", Role::Department, Some(COUNTY), Some(JUSTICE))
}

/// A village cadre: a field worker assigned to the whole village.
fn village_cadre() -> Actor {
    worker("cun-ganbu", VILLAGE)
}

/// One edit of a local write, before it has a dot.
#[derive(Debug, Clone)]
enum Edit {
    Create,
    Set(&'static str, Value),
    Append(&'static str, BTreeMap<String, Value>),
}

fn set(field: &'static str, value: impl Into<Value>) -> Edit {
    Edit::Set(field, value.into())
}

fn body(attrs: &[(&str, Value)]) -> BTreeMap<String, Value> {
    attrs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
}

fn note(text: &str) -> Edit {
    Edit::Append("note", body(&[("text", text.into())]))
}

/// A stable device id per user.
fn device(user: &str) -> ActorId {
    let mut bytes = [0x5au8; 16];
    for (i, b) in user.bytes().enumerate() {
        bytes[i % 16] = bytes[i % 16].wrapping_mul(31).wrapping_add(b);
    }
    ActorId::from_bytes(bytes)
}

/// The changes one local write by `author` makes to `before` (a new record
/// when `None`), and the state they produce.
fn write(
    before: Option<&RecordState>,
    id: RecordId,
    kind: RecordKind,
    author: &str,
    edits: &[Edit],
) -> (RecordState, Vec<Change>) {
    write_on(before, id, kind, author, device(author), edits)
}

/// [`write`] on a given device.
fn write_on(
    before: Option<&RecordState>,
    id: RecordId,
    kind: RecordKind,
    author: &str,
    device: ActorId,
    edits: &[Edit],
) -> (RecordState, Vec<Change>) {
    let mut state = before.cloned().unwrap_or_else(|| RecordState::new(id, kind));
    let mut changes = Vec::new();
    for edit in edits {
        let counter = state.next_counter(&device);
        let op = match edit {
            Edit::Create => Op::Create,
            Edit::Set(field, value) => {
                Op::Set { field: (*field).into(), value: value.clone(), supersedes: state.live_dots(field) }
            }
            Edit::Append(entry, body) => Op::Append { entry: (*entry).into(), body: body.clone() },
        };
        let change = Change {
            record: id,
            kind,
            dot: Dot { actor: device, counter },
            author: author.into(),
            time: Hlc::from_millis(T0 + counter * 1000),
            op,
        };
        state.apply(&change).expect("a well-formed change applies");
        changes.push(change);
    }
    (state, changes)
}

/// Checks the write `edits` by `who` on `before` (a new record when `None`).
fn check(
    before: Option<&RecordState>,
    id: RecordId,
    kind: RecordKind,
    who: &Actor,
    edits: &[Edit],
) -> Result<RecordState, RuleError> {
    let dir = directory();
    let (after, changes) = write(before, id, kind, &who.user, edits);
    check_group(before, &after, &changes, who, &dir).map(|()| after)
}

/// The code and field of a refusal.
fn refused(result: Result<RecordState, RuleError>) -> (ErrorCode, Option<String>) {
    match result {
        Ok(_) => panic!("the group was accepted but should have been refused"),
        Err(e) => (e.code, e.field),
    }
}

fn code_field(code: ErrorCode, field: &str) -> (ErrorCode, Option<String>) {
    (code, Some(field.to_owned()))
}

fn id(name: &str) -> RecordId {
    RecordId::derived(&["gridsync rules test", name])
}

fn gps(lat: f64) -> Value {
    Value::Map(body(&[
        ("lat", Value::Float(lat)),
        ("lon", Value::Float(106.68)),
        ("accuracy_m", Value::Int(8)),
        ("mock", Value::Bool(false)),
    ]))
}

fn ms(offset: u64) -> Value {
    Value::Int(i64::try_from(T0 + offset).expect("a test time fits an i64"))
}

const DAY: (i32, u8, u8) = (2026, 5, 28);

fn day() -> Date {
    Date::from_ymd(DAY.0, DAY.1, DAY.2).expect("a real date")
}

/// The fields of a valid new record of `kind` in `grid` (a dispute is
/// registered at `grid`; a daily report belongs to `user`).
fn fields(kind: RecordKind, grid: &str, user: &str) -> Vec<(&'static str, Value)> {
    match kind {
        RecordKind::Patrol => vec![
            ("grid", grid.into()),
            ("started_ms", ms(0)),
            ("ended_ms", ms(90 * 60_000)),
            ("route", "村委会—三组—河堤".into()),
            ("summary", "河堤护栏缺损一处".into()),
        ],
        RecordKind::Visit => vec![
            ("grid", grid.into()),
            ("visited_ms", ms(0)),
            ("person_category", "elderly_alone".into()),
            ("purpose", "routine".into()),
            ("address", "崆峒村三组12号".into()),
            ("result", "身体尚好，需代购药品".into()),
            ("gps", gps(35.54)),
        ],
        RecordKind::DailyReport => vec![
            ("grid", grid.into()),
            ("worker", user.into()),
            ("date", day().to_string().into()),
            ("status", "all_safe".into()),
        ],
        RecordKind::Dispute => vec![
            ("registered_at", grid.into()),
            ("place", grid.into()),
            ("source", "visit".into()),
            ("category", "邻里纠纷".into()),
            ("summary", "宅基地边界争议".into()),
            ("risk", Value::Int(2)),
            (
                "parties",
                Value::List(vec![Value::Map(body(&[("name", "张某".into()), ("role", "applicant".into())]))]),
            ),
        ],
        RecordKind::Household => vec![
            ("grid", grid.into()),
            ("category", "household".into()),
            ("door_plate", "崆峒村三组12号".into()),
            ("population", Value::Int(4)),
            (
                "residents",
                Value::List(vec![Value::Map(body(&[
                    ("name", "李某".into()),
                    ("category", "elderly_alone".into()),
                    ("birth_year", Value::Int(1948)),
                ]))]),
            ),
        ],
        RecordKind::Other(_) => vec![("grid", grid.into()), ("topic", "会议".into())],
    }
}

/// A create group: `Create`, then every field.
fn create(kind: RecordKind, grid: &str, user: &str) -> Vec<Edit> {
    std::iter::once(Edit::Create)
        .chain(fields(kind, grid, user).into_iter().map(|(f, v)| Edit::Set(f, v)))
        .collect()
}

/// The id a new record of `kind` by `user` gets.
fn new_id(kind: RecordKind, user: &str) -> RecordId {
    match kind {
        RecordKind::DailyReport => daily_report_id(user, day()),
        _ => id(&format!("{kind}-{user}")),
    }
}

const KINDS: [RecordKind; 5] = [
    RecordKind::Patrol,
    RecordKind::Visit,
    RecordKind::DailyReport,
    RecordKind::Dispute,
    RecordKind::Household,
];

/// The kinds whose records a worker covering their grid writes freely.
const GRID_KINDS: [RecordKind; 3] = [RecordKind::Patrol, RecordKind::Visit, RecordKind::Household];

/// A new record of `kind`, created by `who` in `grid`.
fn created(kind: RecordKind, grid: &str, who: &Actor) -> (RecordId, RecordState) {
    let id = new_id(kind, &who.user);
    let state = check(None, id, kind, who, &create(kind, grid, &who.user)).expect("a valid create group");
    (id, state)
}

#[test]
fn a_valid_create_group_is_accepted_for_every_kind() {
    let w = worker("wang", GRID_A);
    for kind in KINDS {
        let id = new_id(kind, &w.user);
        let after = check(None, id, kind, &w, &create(kind, GRID_A, &w.user))
            .unwrap_or_else(|e| panic!("{kind}: a valid create group is refused: {e}"));
        assert!(after.created().is_some(), "{kind}: the record exists");
        assert_eq!(after.value("grid").or(after.value("place")), Some(&Value::from(GRID_A)), "{kind}");
    }
    // A visit may name the household record instead of an address.
    let household = new_id(RecordKind::Household, "wang");
    let mut edits: Vec<Edit> = create(RecordKind::Visit, GRID_A, "wang");
    edits.retain(|e| !matches!(e, Edit::Set("address", _)));
    edits.push(set("household", household.to_string().as_str()));
    check(None, id("visit by household"), RecordKind::Visit, &w, &edits)
        .expect("a visit naming its household");
}

#[test]
fn each_required_field_missing_is_named() {
    let w = worker("wang", GRID_A);
    let required: [(RecordKind, &[&str]); 5] = [
        (RecordKind::Patrol, &["grid", "started_ms"]),
        (RecordKind::Visit, &["grid", "visited_ms", "person_category", "purpose"]),
        (RecordKind::DailyReport, &["grid", "worker", "date", "status"]),
        (RecordKind::Dispute, &["registered_at", "place", "source", "category"]),
        (RecordKind::Household, &["grid", "category"]),
    ];
    for (kind, names) in required {
        for name in names {
            let mut edits = create(kind, GRID_A, &w.user);
            edits.retain(|e| !matches!(e, Edit::Set(f, _) if f == name));
            let result = check(None, new_id(kind, &w.user), kind, &w, &edits);
            assert_eq!(refused(result), code_field(ErrorCode::MissingField, name), "{kind} without {name}");
            // Clearing it is the same as leaving it out.
            edits.push(Edit::Set(name, Value::Null));
            let result = check(None, new_id(kind, &w.user), kind, &w, &edits);
            assert_eq!(
                refused(result),
                code_field(ErrorCode::MissingField, name),
                "{kind} with {name} cleared"
            );
        }
    }
    // A visit names its household or at least the address.
    let mut edits = create(RecordKind::Visit, GRID_A, &w.user);
    edits.retain(|e| !matches!(e, Edit::Set("address", _)));
    let result = check(None, id("visit nowhere"), RecordKind::Visit, &w, &edits);
    assert_eq!(refused(result), code_field(ErrorCode::MissingField, "household"));
    // Clearing a required field later is refused too.
    let (id, patrol) = created(RecordKind::Patrol, GRID_A, &w);
    let result = check(Some(&patrol), id, RecordKind::Patrol, &w, &[Edit::Set("started_ms", Value::Null)]);
    assert_eq!(refused(result), code_field(ErrorCode::MissingField, "started_ms"));
    // An optional field may be cleared.
    check(Some(&patrol), id, RecordKind::Patrol, &w, &[Edit::Set("summary", Value::Null)])
        .expect("clearing an optional field");
}

#[test]
fn wrong_types_are_invalid_fields_naming_the_field() {
    let w = worker("wang", GRID_A);
    let party_without_name = Value::List(vec![Value::Map(body(&[("role", "applicant".into())]))]);
    let resident_with_extra =
        Value::List(vec![Value::Map(body(&[("name", "李某".into()), ("income", 3.into())]))]);
    let cases: Vec<(RecordKind, &'static str, Value)> = vec![
        (RecordKind::Patrol, "grid", VILLAGE.into()),
        (RecordKind::Patrol, "grid", "nowhere-1".into()),
        (RecordKind::Patrol, "grid", Value::Int(620802)),
        (RecordKind::Patrol, "started_ms", "今天上午".into()),
        (RecordKind::Patrol, "started_ms", Value::Int(5)),
        (RecordKind::Patrol, "summary", "".into()),
        (RecordKind::Patrol, "summary", "第一行\u{7}响铃".into()),
        (RecordKind::Patrol, "summary", "长".repeat(4001).into()),
        (RecordKind::Visit, "person_category", "vip".into()),
        (RecordKind::Visit, "purpose", Value::Int(1)),
        (RecordKind::Visit, "household", "not-a-record-id".into()),
        (RecordKind::Visit, "follow_up_due", "2026-13-01".into()),
        (RecordKind::Visit, "gps", gps(95.0)),
        (RecordKind::Visit, "gps", "35.5,106.7".into()),
        (RecordKind::DailyReport, "status", "fine".into()),
        (RecordKind::DailyReport, "items", Value::List(vec!["x".into()])),
        (RecordKind::DailyReport, "worker", "".into()),
        (RecordKind::Dispute, "risk", Value::Int(5)),
        (RecordKind::Dispute, "registered_at", "999999".into()),
        (RecordKind::Dispute, "source", "rumour".into()),
        (RecordKind::Dispute, "parties", party_without_name),
        (RecordKind::Dispute, "due", Value::Int(20261201)),
        (RecordKind::Household, "category", "castle".into()),
        (RecordKind::Household, "population", Value::Int(-1)),
        (RecordKind::Household, "residents", resident_with_extra),
        (RecordKind::Household, "residents", Value::Map(BTreeMap::new())),
    ];
    for (kind, field, value) in cases {
        let mut edits = create(kind, GRID_A, &w.user);
        edits.push(Edit::Set(field, value.clone()));
        let result = check(None, new_id(kind, &w.user), kind, &w, &edits);
        assert_eq!(refused(result), code_field(ErrorCode::InvalidField, field), "{kind}.{field} = {value:?}");
    }
    // A daily report's date is checked as a date.
    let mut edits = create(RecordKind::DailyReport, GRID_A, &w.user);
    edits.push(set("date", "2026-02-30"));
    let result = check(None, new_id(RecordKind::DailyReport, "wang"), RecordKind::DailyReport, &w, &edits);
    assert_eq!(refused(result), code_field(ErrorCode::InvalidField, "date"));
    // A patrol ends after it starts.
    let mut edits = create(RecordKind::Patrol, GRID_A, &w.user);
    edits.push(Edit::Set("ended_ms", ms(0)));
    edits.push(Edit::Set("started_ms", ms(60_000)));
    let result = check(None, id("backwards patrol"), RecordKind::Patrol, &w, &edits);
    assert_eq!(refused(result), code_field(ErrorCode::InvalidField, "ended_ms"));
}

#[test]
fn entries_are_checked_against_their_attributes() {
    let w = worker("wang", GRID_A);
    let (id, patrol) = created(RecordKind::Patrol, GRID_A, &w);
    let checkpoint = |attrs: &[(&str, Value)]| Edit::Append("checkpoint", body(attrs));
    let good = checkpoint(&[("place", "河堤".into()), ("time_ms", ms(600_000)), ("gps", gps(35.5))]);
    check(Some(&patrol), id, RecordKind::Patrol, &w, &[good, note("护栏缺损")])
        .expect("a checkpoint and a note");
    let cases = [
        (checkpoint(&[("place", "河堤".into()), ("time_ms", ms(600_000))]), "checkpoint.gps"),
        (
            checkpoint(&[("place", "河堤".into()), ("time_ms", ms(1)), ("gps", gps(35.5)), ("x", 1.into())]),
            "checkpoint.x",
        ),
        (note(""), "note.text"),
        (Edit::Append("note", BTreeMap::new()), "note.text"),
    ];
    for (edit, field) in cases {
        let result = check(Some(&patrol), id, RecordKind::Patrol, &w, std::slice::from_ref(&edit));
        assert_eq!(refused(result), code_field(ErrorCode::InvalidField, field), "{edit:?}");
    }
    let result = check(Some(&patrol), id, RecordKind::Patrol, &w, &[Edit::Append("photo", BTreeMap::new())]);
    assert_eq!(refused(result), code_field(ErrorCode::UnknownField, "photo"));
    // Steps belong to disputes only.
    let step = Step::new(Action::Accept, None, StepBy::of(&w, &directory()));
    let result = check(Some(&patrol), id, RecordKind::Patrol, &w, &[Edit::Append("step", step.to_body())]);
    assert_eq!(refused(result), code_field(ErrorCode::UnknownField, "step"));
}

#[test]
fn unknown_fields_are_refused_and_derived_dispute_fields_say_why() {
    let w = worker("wang", GRID_A);
    for kind in KINDS {
        let mut edits = create(kind, GRID_A, &w.user);
        edits.push(set("colour", "red"));
        let err = check(None, new_id(kind, &w.user), kind, &w, &edits).expect_err("an unknown field");
        assert_eq!((err.code, err.field.as_deref()), (ErrorCode::UnknownField, Some("colour")), "{kind}");
        assert!(!err.message.contains("derived"), "{kind}: {}", err.message);
    }
    for derived in ["status", "stage", "owner", "handler", "cooperating"] {
        let mut edits = create(RecordKind::Dispute, GRID_A, &w.user);
        edits.push(set(derived, "resolved"));
        let err = check(None, id("dispute"), RecordKind::Dispute, &w, &edits).expect_err("a derived field");
        assert_eq!((err.code, err.field.as_deref()), (ErrorCode::UnknownField, Some(derived)));
        assert!(err.message.contains("derived from the dispute's steps"), "{derived}: {}", err.message);
    }
    // `status` is no dispute step on other kinds: it is just not a field there.
    for kind in [RecordKind::Patrol, RecordKind::Visit, RecordKind::Household] {
        let mut edits = create(kind, GRID_A, &w.user);
        edits.push(set("status", "done"));
        let err = check(None, new_id(kind, &w.user), kind, &w, &edits).expect_err("an unknown field");
        assert_eq!((err.code, err.field.as_deref()), (ErrorCode::UnknownField, Some("status")), "{kind}");
        assert!(!err.message.contains("dispute"), "{kind}: {}", err.message);
    }
}

#[test]
fn fixed_fields_cannot_change_but_may_be_restated() {
    let w = worker("wang", GRID_A);
    let (rid, report) = created(RecordKind::DailyReport, GRID_A, &w);
    let today = day().to_string();
    let tomorrow = day().next().expect("a next day").to_string();
    for (field, other) in [
        ("grid", Value::from(GRID_A2)),
        ("worker", "li".into()),
        ("date", tomorrow.as_str().into()),
        ("grid", Value::Null),
    ] {
        let result = check(Some(&report), rid, RecordKind::DailyReport, &w, &[Edit::Set(field, other)]);
        assert_eq!(refused(result), code_field(ErrorCode::InvalidField, field), "daily report {field}");
    }
    let restated =
        [set("grid", GRID_A), set("worker", "wang"), set("date", today.as_str()), set("note", "无事")];
    let after =
        check(Some(&report), rid, RecordKind::DailyReport, &w, &restated).expect("restating fixed fields");
    assert_eq!(after.value("note"), Some(&Value::from("无事")));
    // A second phone of the same worker files the same day without having
    // seen the first: it restates the fixed fields, and is accepted.
    let second_phone = ActorId::from_bytes([0x77; 16]);
    let edits = create(RecordKind::DailyReport, GRID_A, "wang");
    let (_, changes) = write_on(None, rid, RecordKind::DailyReport, "wang", second_phone, &edits);
    let mut server = report.clone();
    for c in &changes {
        server.apply(c).expect("the second phone's change merges");
    }
    assert_eq!(
        check_group(Some(&report), &server, &changes, &w, &directory()),
        Ok(()),
        "two phones, one day"
    );
    assert_eq!(server.values("status").len(), 2, "both phones' values are kept");
    assert!(!server.has_conflicts(), "and agree");

    let cadre = village_cadre();
    let (did, dispute) = created(RecordKind::Dispute, VILLAGE, &cadre);
    for (field, other) in [("registered_at", Value::from(GRID_A)), ("source", "hotline".into())] {
        let result = check(Some(&dispute), did, RecordKind::Dispute, &cadre, &[Edit::Set(field, other)]);
        assert_eq!(refused(result), code_field(ErrorCode::InvalidField, field), "dispute {field}");
    }
    let restated = [set("registered_at", VILLAGE), set("source", "visit"), set("summary", "已现场查看")];
    check(Some(&dispute), did, RecordKind::Dispute, &cadre, &restated)
        .expect("restating a dispute's fixed fields");
    // Fields that are not fixed change freely.
    check(
        Some(&dispute),
        did,
        RecordKind::Dispute,
        &cadre,
        &[set("place", GRID_A2), set("risk", Value::Int(3))],
    )
    .expect("editing the place and risk");
}

#[test]
fn a_grid_worker_writes_only_in_their_own_grid() {
    let w = worker("wang", GRID_A);
    let b = worker("zhao", GRID_B);
    for kind in GRID_KINDS {
        for elsewhere in [GRID_B, GRID_A2, GRID_C] {
            let result = check(None, new_id(kind, "wang"), kind, &w, &create(kind, elsewhere, "wang"));
            assert_eq!(refused(result), code_field(ErrorCode::OutOfScope, "grid"), "{kind} in {elsewhere}");
        }
        // Editing grid B's record, moving one's own record out, or moving
        // another grid's record in are all out of scope.
        let (bid, theirs) = created(kind, GRID_B, &b);
        let result = check(Some(&theirs), bid, kind, &w, &[note("补充")]);
        assert_eq!(refused(result), code_field(ErrorCode::OutOfScope, "grid"), "{kind}: editing grid B's");
        let result = check(Some(&theirs), bid, kind, &w, &[set("grid", GRID_A)]);
        assert_eq!(refused(result), code_field(ErrorCode::OutOfScope, "grid"), "{kind}: taking grid B's");
        let (wid, mine) = created(kind, GRID_A, &w);
        let result = check(Some(&mine), wid, kind, &w, &[set("grid", GRID_B)]);
        assert_eq!(refused(result), code_field(ErrorCode::OutOfScope, "grid"), "{kind}: moving out");
        check(Some(&mine), wid, kind, &w, &[note("补充情况")]).expect("editing one's own");
    }
    // The daily report too is filed for one's own grid.
    let result = check(
        None,
        new_id(RecordKind::DailyReport, "wang"),
        RecordKind::DailyReport,
        &w,
        &create(RecordKind::DailyReport, GRID_B, "wang"),
    );
    assert_eq!(refused(result), code_field(ErrorCode::OutOfScope, "grid"));
}

#[test]
fn a_township_admin_writes_within_its_township_only() {
    let t = township_admin();
    let other = other_township_admin();
    for kind in GRID_KINDS {
        for grid in [GRID_A, GRID_A2, GRID_C] {
            check(None, id(&format!("{kind} {grid}")), kind, &t, &create(kind, grid, &t.user))
                .unwrap_or_else(|e| panic!("{kind} in {grid} by the township: {e}"));
        }
        let result = check(None, id(&format!("{kind} b")), kind, &t, &create(kind, GRID_B, &t.user));
        assert_eq!(refused(result), code_field(ErrorCode::OutOfScope, "grid"), "{kind} in another township");
        check(None, id(&format!("{kind} b")), kind, &other, &create(kind, GRID_B, &other.user))
            .expect("the other township in its own grid");
        let result = check(None, id(&format!("{kind} a")), kind, &other, &create(kind, GRID_A, &other.user));
        assert_eq!(refused(result), code_field(ErrorCode::OutOfScope, "grid"), "{kind}: the other township");
        // A worker's record may be edited from the township above it.
        let (wid, mine) = created(kind, GRID_A, &worker("wang", GRID_A));
        check(Some(&mine), wid, kind, &t, &[note("镇综治中心核实")]).expect("the township edits below it");
        let result = check(Some(&mine), wid, kind, &other, &[note("越界")]);
        assert_eq!(refused(result), code_field(ErrorCode::OutOfScope, "grid"));
        // The county and the whole deployment cover both townships.
        for above in [county_admin(), administrator()] {
            for grid in [GRID_A, GRID_B] {
                check(
                    None,
                    id(&format!("{kind} {grid} above")),
                    kind,
                    &above,
                    &create(kind, grid, &above.user),
                )
                .unwrap_or_else(|e| panic!("{kind} in {grid} by {}: {e}", above.user));
            }
        }
    }
}

#[test]
fn auditors_and_departments_cannot_record_field_work() {
    let w = worker("wang", GRID_A);
    for who in [auditor(), police(), justice()] {
        for kind in [RecordKind::Patrol, RecordKind::Visit, RecordKind::Household, RecordKind::DailyReport] {
            let result = check(None, new_id(kind, &who.user), kind, &who, &create(kind, GRID_A, &who.user));
            assert_eq!(refused(result).0, ErrorCode::Forbidden, "{kind} by {}", who.user);
            let (wid, theirs) = created(kind, GRID_A, &w);
            let result = check(Some(&theirs), wid, kind, &who, &[note("看过")]);
            assert_eq!(refused(result).0, ErrorCode::Forbidden, "{kind} edited by {}", who.user);
        }
        let result = check(
            None,
            id("meeting"),
            RecordKind::Other(77),
            &who,
            &create(RecordKind::Other(77), GRID_A, ""),
        );
        assert_eq!(refused(result).0, ErrorCode::Forbidden, "an unknown kind by {}", who.user);
        let result =
            check(None, id("d"), RecordKind::Dispute, &who, &create(RecordKind::Dispute, TOWNSHIP, ""));
        assert_eq!(
            refused(result),
            code_field(ErrorCode::Forbidden, "registered_at"),
            "a dispute by {}",
            who.user
        );
    }
}

#[test]
fn a_daily_report_is_the_workers_own_under_its_fixed_id() {
    let w = worker("wang", GRID_A);
    // Filing another worker's report, even in one's own grid.
    let li = daily_report_id("li", day());
    let result = check(None, li, RecordKind::DailyReport, &w, &create(RecordKind::DailyReport, GRID_A, "li"));
    assert_eq!(refused(result), code_field(ErrorCode::Forbidden, "worker"));
    // The id must be the one named by worker and date.
    let tomorrow = day().next().expect("a next day");
    for wrong in [id("report"), daily_report_id("wang", tomorrow), daily_report_id("li", day())] {
        let edits = create(RecordKind::DailyReport, GRID_A, "wang");
        let result = check(None, wrong, RecordKind::DailyReport, &w, &edits);
        assert_eq!(refused(result), (ErrorCode::InvalidRecord, None), "{wrong}");
    }
    // A report with items names them.
    let rid = daily_report_id("wang", day());
    let mut edits = create(RecordKind::DailyReport, GRID_A, "wang");
    edits.push(set("status", "has_items"));
    let result = check(None, rid, RecordKind::DailyReport, &w, &edits);
    assert_eq!(refused(result), code_field(ErrorCode::MissingField, "items"));
    edits.push(Edit::Set("items", Value::List(vec![])));
    let result = check(None, rid, RecordKind::DailyReport, &w, &edits);
    assert_eq!(refused(result), code_field(ErrorCode::MissingField, "items"));
    let visit = new_id(RecordKind::Visit, "wang").to_string();
    edits.push(Edit::Set("items", Value::List(vec![visit.as_str().into()])));
    check(None, rid, RecordKind::DailyReport, &w, &edits).expect("a report with its items");
    // All safe, then items found later the same day.
    let (rid, report) = created(RecordKind::DailyReport, GRID_A, &w);
    let result = check(Some(&report), rid, RecordKind::DailyReport, &w, &[set("status", "has_items")]);
    assert_eq!(refused(result), code_field(ErrorCode::MissingField, "items"));
    let later = [set("status", "has_items"), Edit::Set("items", Value::List(vec![visit.as_str().into()]))];
    check(Some(&report), rid, RecordKind::DailyReport, &w, &later).expect("items added later");
    // Nobody else edits it, not even the township above.
    let result = check(Some(&report), rid, RecordKind::DailyReport, &township_admin(), &[note("已阅")]);
    assert_eq!(refused(result), code_field(ErrorCode::Forbidden, "worker"));
}

#[test]
fn the_first_group_must_create_the_record() {
    let w = worker("wang", GRID_A);
    for kind in KINDS.into_iter().chain([RecordKind::Other(77)]) {
        let mut edits = create(kind, GRID_A, &w.user);
        edits.remove(0);
        let result = check(None, new_id(kind, &w.user), kind, &w, &edits);
        assert_eq!(refused(result), (ErrorCode::InvalidRecord, None), "{kind}");
        // Create may come anywhere in the group.
        edits.push(Edit::Create);
        check(None, new_id(kind, &w.user), kind, &w, &edits).unwrap_or_else(|e| panic!("{kind}: {e}"));
    }
}

#[test]
fn a_dispute_is_registered_at_the_writers_own_place() {
    let cadre = village_cadre();
    let w = worker("wang", GRID_A);
    let t = township_admin();
    let did = id("dispute");
    let d = RecordKind::Dispute;
    check(None, did, d, &cadre, &create(d, VILLAGE, &cadre.user))
        .expect("the village registers at the village");
    check(None, did, d, &w, &create(d, GRID_A, &w.user)).expect("a grid worker registers at the grid");
    check(None, did, d, &t, &create(d, TOWNSHIP, &t.user)).expect("the township at the township");
    for (who, at) in [(&w, VILLAGE), (&w, GRID_A2), (&cadre, GRID_A), (&t, VILLAGE), (&t, OTHER_TOWNSHIP)] {
        let result = check(None, did, d, who, &create(d, at, &who.user));
        assert_eq!(
            refused(result),
            code_field(ErrorCode::Forbidden, "registered_at"),
            "{} at {at}",
            who.user
        );
    }
    let result = check(None, did, d, &administrator(), &create(d, COUNTY, "root"));
    assert_eq!(refused(result), code_field(ErrorCode::Forbidden, "registered_at"), "the whole deployment");
    // Where it happened may be any place the writer covers.
    let mut edits = create(d, VILLAGE, &cadre.user);
    edits.push(set("place", GRID_A2));
    check(None, did, d, &cadre, &edits).expect("happened in a grid of the village");
    edits.push(set("place", GRID_C));
    assert_eq!(refused(check(None, did, d, &cadre, &edits)), code_field(ErrorCode::OutOfScope, "place"));
}

/// A step by `who` following the dispute's current head.
fn step(state: &RecordState, who: &Actor, action: Action, edit: impl FnOnce(&mut Step)) -> Edit {
    let head = Lifecycle::of(state).expect("a registered dispute").head;
    let mut step = Step::new(action, head, StepBy::of(who, &directory()));
    edit(&mut step);
    Edit::Append("step", step.to_body())
}

/// Applies a step that must be accepted.
fn take(state: &RecordState, who: &Actor, action: Action, edit: impl FnOnce(&mut Step)) -> RecordState {
    let e = step(state, who, action, edit);
    check(Some(state), state.id(), RecordKind::Dispute, who, &[e]).unwrap_or_else(|e| panic!("{action}: {e}"))
}

#[test]
fn dispute_fields_are_edited_by_the_owner_side_only() {
    let cadre = village_cadre();
    let (did, dispute) = created(RecordKind::Dispute, VILLAGE, &cadre);
    let d = RecordKind::Dispute;
    let edit = [set("summary", "双方同意调解")];
    for who in [&cadre, &township_admin(), &county_admin(), &administrator()] {
        check(Some(&dispute), did, d, who, &edit).unwrap_or_else(|e| panic!("{}: {e}", who.user));
    }
    for who in [worker("wang", GRID_A), other_township_admin(), police(), auditor()] {
        let result = check(Some(&dispute), did, d, &who, &edit);
        assert_eq!(refused(result), code_field(ErrorCode::Forbidden, "summary"), "{}", who.user);
    }
    // The township may move the place within its township, not beyond.
    check(Some(&dispute), did, d, &township_admin(), &[set("place", GRID_C)]).expect("within the township");
    let result = check(Some(&dispute), did, d, &township_admin(), &[set("place", GRID_B)]);
    assert_eq!(refused(result), code_field(ErrorCode::OutOfScope, "place"));
    // Once escalated to the township, the village no longer edits it.
    let accepted = take(&dispute, &cadre, Action::Accept, |_| {});
    let escalated = take(&accepted, &cadre, Action::Escalate, |s| s.to = Some(TOWNSHIP.into()));
    let result = check(Some(&escalated), did, d, &cadre, &edit);
    assert_eq!(refused(result), code_field(ErrorCode::Forbidden, "summary"));
    let result = check(Some(&escalated), did, d, &cadre, &[note("村里补充")]);
    assert_eq!(refused(result), code_field(ErrorCode::Forbidden, "note"));
    check(Some(&escalated), did, d, &township_admin(), &edit).expect("the new owner edits");
}

#[test]
fn the_handling_and_cooperating_departments_add_notes_after_a_transfer() {
    let cadre = village_cadre();
    let t = township_admin();
    let (did, dispute) = created(RecordKind::Dispute, VILLAGE, &cadre);
    let d = RecordKind::Dispute;
    let session = Edit::Append(
        "mediation",
        body(&[
            ("time_ms", ms(3_600_000)),
            ("outcome", "partly_agreed".into()),
            ("place", "派出所调解室".into()),
        ]),
    );
    // Before the transfer the police station is a stranger to the dispute.
    let result = check(Some(&dispute), did, d, &police(), &[note("已了解")]);
    assert_eq!(refused(result), code_field(ErrorCode::Forbidden, "note"));
    let accepted = take(&dispute, &cadre, Action::Accept, |_| {});
    let transferred = take(&accepted, &t, Action::Transfer, |s| {
        s.unit = Some(POLICE.into());
        s.letter_number = Some("崆综转〔2026〕7号".into());
    });
    check(Some(&transferred), did, d, &police(), &[note("已签收前了解情况")]).expect("the handler's note");
    check(Some(&transferred), did, d, &police(), std::slice::from_ref(&session))
        .expect("the handler's session");
    let result = check(Some(&transferred), did, d, &police(), &[set("summary", "改写")]);
    assert_eq!(refused(result), code_field(ErrorCode::Forbidden, "summary"), "a department edits no fields");
    let result = check(Some(&transferred), did, d, &justice(), &[note("旁观")]);
    assert_eq!(refused(result), code_field(ErrorCode::Forbidden, "note"), "a department not involved");
    // An assistance letter brings the justice bureau in.
    let assisted = take(&transferred, &t, Action::Assist, |s| s.unit = Some(JUSTICE.into()));
    check(Some(&assisted), did, d, &justice(), &[note("提供法律意见"), session])
        .expect("the cooperating unit");
    // A department user without a unit is nobody's department.
    let unitless = actor("bumen", Role::Department, Some(TOWNSHIP), None);
    let result = check(Some(&assisted), did, d, &unitless, &[note("无单位")]);
    assert_eq!(refused(result).0, ErrorCode::Forbidden);
}

#[test]
fn unknown_kinds_need_a_grid_or_place_the_writer_covers() {
    let w = worker("wang", GRID_A);
    let kind = RecordKind::Other(77);
    let rid = id("meeting");
    // Any fields are kept as they are.
    let after = check(None, rid, kind, &w, &[Edit::Create, set("grid", GRID_A), set("anything", "任意")])
        .expect("an unknown kind in one's own grid");
    check(Some(&after), rid, kind, &w, &[set("more", Value::Int(3))]).expect("editing it");
    check(None, rid, kind, &w, &[Edit::Create, set("place", GRID_A)]).expect("named by place");
    check(None, rid, kind, &township_admin(), &[Edit::Create, set("place", VILLAGE)])
        .expect("a village by the township");
    for elsewhere in [GRID_B, GRID_A2, VILLAGE] {
        let result = check(None, rid, kind, &w, &[Edit::Create, set("grid", elsewhere)]);
        assert_eq!(refused(result), code_field(ErrorCode::OutOfScope, "place"), "{elsewhere}");
    }
    // A record of grid B is neither edited nor taken into grid A.
    let zhao = worker("zhao", GRID_B);
    let theirs = check(None, rid, kind, &zhao, &[Edit::Create, set("grid", GRID_B)]).expect("grid B's own");
    let result = check(Some(&theirs), rid, kind, &w, &[set("anything", "改")]);
    assert_eq!(refused(result), code_field(ErrorCode::OutOfScope, "place"), "editing grid B's");
    let result = check(Some(&theirs), rid, kind, &w, &[set("grid", GRID_A)]);
    assert_eq!(refused(result), code_field(ErrorCode::OutOfScope, "place"), "taking grid B's");
    let result = check(None, rid, kind, &w, &[Edit::Create, set("topic", "例会")]);
    assert_eq!(refused(result), code_field(ErrorCode::MissingField, "grid"));
    check(None, rid, kind, &administrator(), &[Edit::Create, set("topic", "全域例会")])
        .expect("the whole deployment needs no place");
}
