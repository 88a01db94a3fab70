//! Golden byte vectors of the wire format and of the stored state format.
//!
//! Fixed sample messages (constant ids and clocks) are encoded and compared
//! with the lowercase hex in `tests/golden/<name>.hex`, and each file is
//! decoded back to its sample. A failure here means old peers or old
//! databases could no longer read what this build writes, or the reverse:
//! change the format only with a new protocol version (or state format byte).
//!
//! Version 2 vectors (`*_v2.hex`, written by the build before protocol 3)
//! and version 3 vectors (`*_v3.hex`, written by the build before protocol
//! 4) are kept and still decoded: a server answers an older handset in the
//! version it asked in (ADR 0019, ADR 0026).
//!
//! After an intended format change, regenerate the files with
//! `GRIDSYNC_BLESS=1 cargo test -p gridsync-proto --test golden`
//! and review the diff before committing it.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use gridsync_proto::dispute::StepBy;
use gridsync_proto::wire::{self, Limits, Message};
use gridsync_proto::{
    Action, Actor, ActorId, Change, Dot, ErrorCode, Hlc, Level, LoggedChange, Op, Place, Profile,
    PullRequest, PullResponse, PushRequest, PushResponse, RecordId, RecordKind, RecordState, Refusal, Role,
    Snapshot, Step, Unit, Value, receipt_runs,
};

const HANDSET: ActorId = ActorId::from_bytes([0x11; 16]);
const OTHER_HANDSET: ActorId = ActorId::from_bytes([0x22; 16]);
const RECORD: RecordId = RecordId::from_bytes([
    0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00, 0x70, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
]);
const T0: u64 = 1_700_000_000_000;

fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(format!("{name}.hex"))
}

/// Compares `bytes` with the golden file `name` (or rewrites it when
/// blessing) and returns the file's bytes.
fn golden(name: &str, bytes: &[u8]) -> Vec<u8> {
    let path = golden_path(name);
    if std::env::var_os("GRIDSYNC_BLESS").is_some_and(|v| v == "1") {
        fs::write(&path, format!("{}\n", hex::encode(bytes))).expect("write golden file");
    }
    let text = fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with GRIDSYNC_BLESS=1 to create it)", path.display()));
    assert_eq!(text.lines().count(), 1, "{name}.hex must be one line");
    let stored = text.trim_end();
    assert_eq!(stored, stored.to_lowercase(), "{name}.hex must be lowercase");
    assert_eq!(hex::encode(bytes), stored, "encoding of {name} differs from {}", path.display());
    hex::decode(stored).expect("golden file is hex")
}

/// Checks the encoding of a message against its golden file and decodes the file.
fn check_message<M>(name: &str, sample: &M)
where
    M: Message + wire::ChangeCount + PartialEq + std::fmt::Debug,
{
    let stored = golden(name, &wire::encode(sample));
    assert_eq!(&stored[..4], &[b'G', b'S', M::LAST_VERSION, M::TYPE as u8]);
    assert_eq!(wire::decode::<M>(&stored, &Limits::DEFAULT).as_ref(), Ok(sample));
}

/// Checks that the frozen version 2 vector `name_v2` decodes to `sample`
/// and is what this build sends in answer to a version 2 request.
fn check_v2<M>(name: &str, sample: &M)
where
    M: Message + wire::ChangeCount + PartialEq + std::fmt::Debug,
{
    check_old(2, name, sample);
}

/// Checks that the frozen vector `name_vVERSION` of an older protocol
/// version decodes to `sample` and is what this build sends in answer to a
/// request in that version.
fn check_old<M>(version: u8, name: &str, sample: &M)
where
    M: Message + wire::ChangeCount + PartialEq + std::fmt::Debug,
{
    let path = golden_path(&format!("{name}_v{version}"));
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let stored = hex::decode(text.trim_end()).expect("golden file is hex");
    assert_eq!(&stored[..4], &[b'G', b'S', version, M::TYPE as u8]);
    assert_eq!(wire::decode_versioned::<M>(&stored, &Limits::DEFAULT), Ok((version, sample_clone(sample))));
    assert_eq!(
        wire::encode_as(version, sample),
        stored,
        "{name} in version {version} differs from {}",
        path.display()
    );
}

fn sample_clone<M: Message>(m: &M) -> M {
    postcard::from_bytes(&postcard::to_allocvec(m).expect("encodes")).expect("decodes")
}

fn change(actor: ActorId, counter: u64, millis: u64, op: Op) -> Change {
    Change {
        record: RECORD,
        kind: RecordKind::Dispute,
        dot: Dot { actor, counter },
        author: "网格员 李四".into(),
        time: Hlc { millis: T0 + millis, logical: u32::try_from(counter).expect("small") },
        op,
    }
}

fn party() -> Value {
    Value::Map(BTreeMap::from([
        ("name".to_owned(), Value::from("张三")),
        ("age".to_owned(), Value::Int(-42)),
        ("gps".to_owned(), Value::List(vec![Value::Float(25.0453), Value::Float(102.7097)])),
        ("verified".to_owned(), Value::Bool(true)),
        ("phone".to_owned(), Value::Null),
        ("tags".to_owned(), Value::List(vec![Value::from("邻里"), Value::List(vec![])])),
    ]))
}

fn note(text: &str) -> Op {
    Op::Append {
        entry: "note".into(),
        body: BTreeMap::from([
            ("text".to_owned(), Value::from(text)),
            ("minutes".to_owned(), Value::Int(30)),
        ]),
    }
}

/// Another handset's edit of `status`, which the sample push replaces.
fn other_status() -> Change {
    let op = Op::Set { field: "status".into(), value: "found".into(), supersedes: vec![] };
    change(OTHER_HANDSET, 1, 500, op)
}

/// A lifecycle step, whose entry body layout is frozen here too.
fn accept_step() -> Op {
    let by = StepBy { role: Role::Worker, place: Some("530102001".into()), unit: None, rank: 2 };
    let mut step = Step::new(Action::Accept, None, by);
    step.note = Some("村调委会受理".into());
    Op::Append { entry: gridsync_proto::dispute::STEP_ENTRY.into(), body: step.to_body() }
}

fn push_request() -> PushRequest {
    let set = |field: &str, value: Value, supersedes| Op::Set { field: field.into(), value, supersedes };
    let groups = vec![
        vec![change(HANDSET, 1, 0, Op::Create), change(HANDSET, 2, 1_000, set("party", party(), vec![]))],
        vec![change(HANDSET, 3, 2_000, set("status", "调解中".into(), vec![other_status().dot]))],
        vec![change(HANDSET, 4, 3_000, note("双方同意调解")), change(HANDSET, 5, 3_500, accept_step())],
    ];
    PushRequest { device: HANDSET, sent_ms: T0 + 10_000, groups }
}

fn profile() -> Profile {
    let place = |code: &str, level, parent: Option<&str>| Place {
        code: code.into(),
        name: format!("{code}村"),
        level,
        parent: parent.map(Into::into),
    };
    Profile {
        actor: Actor {
            user: "网格员 李四".into(),
            role: Role::Worker,
            place: Some("530102001-1".into()),
            unit: None,
        },
        version: 42,
        places: vec![
            place("530102001", Level::Village, None),
            place("530102001-1", Level::Grid, Some("530102001")),
        ],
        units: vec![Unit {
            code: "U-POLICE".into(),
            name: "城关派出所".into(),
            kind: "police".into(),
            place: "530102001".into(),
        }],
    }
}

fn pull_response() -> PullResponse {
    let logged = |seq, suspect, change| LoggedChange {
        seq,
        received_ms: T0 + 60_000 + seq,
        clock_suspect: suspect,
        change,
    };
    PullResponse {
        reset: false,
        removed: vec![RecordId::from_bytes([0x33; 16])],
        rebuild: vec![RECORD],
        snapshots: vec![snapshot()],
        changes: vec![
            logged(1_234_567, false, other_status()),
            logged(1_234_570, true, change(OTHER_HANDSET, 2, 4_000, note("已回访"))),
        ],
        withheld: 7,
        profile: Some(profile()),
        cursor: 1_234_570,
        more: true,
        epoch: 0x0123_4567_89ab_cdef,
    }
}

/// A snapshot of the sample record: its state after the sample push, and
/// its receipts in runs.
fn snapshot() -> Snapshot {
    let changes: Vec<Change> = push_request().changes().cloned().collect();
    let state = RecordState::from_changes(RECORD, RecordKind::Dispute, &changes).expect("applies");
    let receipts = receipt_runs(changes.iter().map(|c| (c.dot, T0 + 11_000, c.dot.counter > 4)));
    Snapshot { state, receipts }
}

#[test]
fn push_request_is_stable() {
    let sample = push_request();
    for change in sample.changes() {
        assert_eq!(change.validate(), Ok(()));
    }
    check_message("push_request", &sample);
    check_v2("push_request", &sample);
    check_old(3, "push_request", &sample);
}

#[test]
fn push_response_is_stable() {
    let refused = Refusal {
        group: 1,
        code: ErrorCode::OutOfScope,
        field: Some("grid".into()),
        message: "names a place outside the user's assignment".into(),
    };
    let response = PushResponse {
        accepted: 3,
        duplicates: 1,
        high_seq: 1_234_569,
        received_ms: T0 + 11_000,
        refused: vec![refused],
        epoch: 0x0123_4567_89ab_cdef,
    };
    check_message("push_response", &response);
    // Versions 2 and 3 have no epoch: the same answer without it.
    let old = wire::v3::PushResponse::from(response.clone());
    check_v2("push_response", &old);
    check_old(3, "push_response", &old);
}

#[test]
fn pull_request_is_stable() {
    let request = PullRequest { device: HANDSET, cursor: 1_234_569, limit: 500, profile_version: 41 };
    check_message("pull_request", &request);
    check_v2("pull_request", &request);
    check_old(3, "pull_request", &request);
}

#[test]
fn pull_response_is_stable() {
    let page = pull_response();
    assert_eq!(page.snapshots[0].receipts.len(), 2, "receipts fold into runs");
    check_message("pull_response", &page);
    // Version 3 has no epoch: the same page without it, in its shape.
    check_old(3, "pull_response", &wire::v3::PullResponse::from(page.clone()));
    // Version 2 has no snapshots: the same page without them, in its shape.
    let old = wire::v2::PullResponse::try_from(PullResponse { snapshots: vec![], ..page.clone() })
        .expect("no snapshots left");
    check_v2("pull_response", &old);
    assert!(wire::v2::PullResponse::try_from(page).is_err(), "a page with snapshots has no version 2 form");
}

#[test]
fn stored_state_is_stable() {
    let mut changes: Vec<Change> = push_request().changes().cloned().collect();
    changes.extend(pull_response().changes.into_iter().map(|l| l.change));
    let state = RecordState::from_changes(RECORD, RecordKind::Dispute, &changes).expect("applies");
    assert_eq!(state.value("status"), Some(&Value::from("调解中")));
    assert!(!state.has_conflicts());
    assert_eq!(state.entries().len(), 3);
    let stored = golden("record_state", &state.to_bytes());
    assert_eq!(RecordState::from_bytes(&stored), Ok(state.clone()));
    // What stores written before the compact layout (format 2) hold.
    let format1 = fs::read_to_string(golden_path("record_state_v1")).expect("the format 1 file");
    let format1 = hex::decode(format1.trim_end()).expect("hex");
    assert_eq!(format1[0], 1, "format 1");
    assert!(stored.len() * 10 < format1.len() * 8, "{} bytes against {}", stored.len(), format1.len());
    assert_eq!(RecordState::from_bytes(&format1), Ok(state));
}

/// What a newer handset might write: a record kind, a field and an entry
/// kind this build has never heard of.
fn from_the_future() -> PushRequest {
    let survey = Value::Map(BTreeMap::from([("altitude_m".to_owned(), Value::Float(120.5))]));
    let memo = BTreeMap::from([("seconds".to_owned(), Value::Int(93))]);
    let changes = [
        Op::Set { field: "drone_survey_v2".into(), value: survey, supersedes: vec![] },
        Op::Append { entry: "voice_memo".into(), body: memo },
    ];
    let future = |(n, op)| Change { kind: RecordKind::Other(999), ..change(HANDSET, n, (n - 1) * 1_000, op) };
    PushRequest { device: HANDSET, sent_ms: T0, groups: vec![(1..).zip(changes).map(future).collect()] }
}

#[test]
fn unknown_kinds_fields_and_entries_pass_through_unchanged() {
    let stored = golden("future_push", &wire::encode(&from_the_future()));
    let decoded: PushRequest = wire::decode(&stored, &Limits::DEFAULT).expect("decodes");
    assert!(decoded.changes().all(|c| c.kind == RecordKind::Other(999) && c.validate().is_ok()));
    assert_eq!(wire::encode(&decoded), stored);

    // A server that stores the record and sends it on keeps every byte.
    let state = RecordState::from_changes(RECORD, RecordKind::Other(999), decoded.changes())
        .expect("unknown kinds merge like any other");
    assert_eq!(state.field_names().collect::<Vec<_>>(), ["drone_survey_v2"]);
    assert_eq!(state.entries()[0].entry, "voice_memo");
    let reloaded = RecordState::from_bytes(&state.to_bytes()).expect("state round trip");
    assert_eq!(reloaded.to_bytes(), state.to_bytes());
    let page = PullResponse {
        reset: false,
        removed: vec![],
        rebuild: vec![],
        snapshots: vec![],
        changes: decoded
            .changes()
            .cloned()
            .enumerate()
            .map(|(seq, change)| LoggedChange {
                seq: seq as u64 + 1,
                received_ms: T0,
                clock_suspect: false,
                change,
            })
            .collect(),
        withheld: 0,
        profile: None,
        cursor: 2,
        more: false,
        epoch: 1,
    };
    let relayed: PullResponse = wire::decode(&wire::encode(&page), &Limits::DEFAULT).expect("decodes");
    let relayed_push = PushRequest {
        device: HANDSET,
        sent_ms: T0,
        groups: vec![relayed.changes.into_iter().map(|l| l.change).collect()],
    };
    assert_eq!(wire::encode(&relayed_push), stored);
}
