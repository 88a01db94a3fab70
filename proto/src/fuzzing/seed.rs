//! The `wire` target's seed corpus: one valid example of every input, made
//! the way peers make them (`make_group`, `encode_as`, `log_body::encode`).

use std::collections::BTreeMap;

use crate::change::log_body;
use crate::edit::Author;
use crate::wire::{self, Refusal, v2, v3};
use crate::{
    Actor, ActorId, Directory, Edit, ErrorBody, ErrorCode, HlcClock, Level, LoggedChange, Place, Profile,
    PullRequest, PullResponse, PushRequest, PushResponse, RecordId, RecordKind, RecordState, Role, Snapshot,
    Value, make_group, receipt_runs,
};

const DEVICE: ActorId = ActorId::from_bytes([0x20; 16]);
const RECORD: RecordId = RecordId::from_bytes([0x10; 16]);
const NOW: u64 = 1_796_000_000_000;

/// A dispute made the way a handset makes it, and its changes.
fn dispute() -> (RecordState, Vec<crate::Change>) {
    let mut state = RecordState::new(RECORD, RecordKind::Dispute);
    let mut clock = HlcClock::default();
    let mut author = Author { device: DEVICE, name: "wang.fang", clock: &mut clock, now_ms: NOW };
    let party = BTreeMap::from([
        ("name".to_owned(), Value::from("张三")),
        ("role".to_owned(), Value::from("applicant")),
    ]);
    let edits = [
        Edit::Set("place".into(), "620802100201-01".into()),
        Edit::Set("summary".into(), "邻里因漏水纠纷".into()),
        Edit::Set("parties".into(), Value::List(vec![Value::Map(party)])),
        Edit::Set("risk".into(), Value::Int(2)),
        Edit::Set("gps".into(), Value::Float(35.5)),
        Edit::Append("note".into(), BTreeMap::from([("text".to_owned(), Value::from("已调解"))])),
    ];
    let changes = make_group(&mut state, &mut author, true, edits).expect("a valid group");
    (state, changes)
}

fn profile() -> Profile {
    let places = [
        ("620802", Level::County, None),
        ("620802100", Level::Township, Some("620802")),
        ("620802100201", Level::Village, Some("620802100")),
        ("620802100201-01", Level::Grid, Some("620802100201")),
    ]
    .map(|(code, level, parent)| Place {
        code: code.into(),
        name: format!("{code} 名"),
        level,
        parent: parent.map(Into::into),
    });
    let actor = Actor {
        user: "wang.fang".into(),
        role: Role::Worker,
        place: Some("620802100201-01".into()),
        unit: None,
    };
    Profile::for_actor(actor, &Directory::new(places, []), 9)
}

pub(super) fn all() -> Vec<(String, Vec<u8>)> {
    let (state, changes) = dispute();
    let push = PushRequest {
        device: DEVICE,
        sent_ms: NOW,
        groups: vec![changes[..3].to_vec(), changes[3..].to_vec()],
    };
    let pull = PullRequest { device: DEVICE, cursor: 42, limit: 500, profile_version: 3 };
    let answer = PushResponse {
        accepted: 3,
        duplicates: 1,
        high_seq: 99,
        received_ms: NOW,
        refused: vec![Refusal {
            group: 1,
            code: ErrorCode::InvalidField,
            field: Some("risk".into()),
            message: "risk is 0 to 3".into(),
        }],
        epoch: 0x5eed_e90c,
    };
    let logged: Vec<LoggedChange> = changes
        .iter()
        .enumerate()
        .map(|(i, c)| LoggedChange {
            seq: i as u64 + 1,
            received_ms: NOW,
            clock_suspect: i == 2,
            change: c.clone(),
        })
        .collect();
    let receipts = receipt_runs(changes.iter().map(|c| (c.dot, NOW, false)));
    let snapshot = Snapshot { state: state.clone(), receipts };
    let page = PullResponse {
        reset: true,
        removed: vec![RecordId::from_bytes([3; 16])],
        rebuild: vec![RECORD],
        snapshots: vec![snapshot.clone()],
        changes: logged.clone(),
        withheld: 2,
        profile: Some(profile()),
        cursor: 7,
        more: true,
        epoch: 0x5eed_e90c,
    };
    let old_page = v2::PullResponse {
        reset: false,
        removed: vec![],
        rebuild: vec![RECORD],
        changes: logged,
        withheld: 0,
        profile: None,
        cursor: 8,
        more: false,
    };
    let error = ErrorBody {
        code: ErrorCode::StaleTimestamp,
        message: "the request's time is too far from the server's".into(),
        field: None,
        change_index: Some(2),
        server_time_ms: Some(NOW),
    };
    let body = log_body::encode(&changes[1]);
    let (_, bare) = log_body::split_author(&body).expect("a format 2 body splits");
    let mut seeds = vec![
        ("push-v4".to_owned(), wire::encode(&push)),
        ("push-v3".to_owned(), wire::encode_as(3, &push)),
        ("push-v2".to_owned(), wire::encode_as(2, &push)),
        ("pull-v4".to_owned(), wire::encode(&pull)),
        ("pull-v3".to_owned(), wire::encode_as(3, &pull)),
        ("pull-v2".to_owned(), wire::encode_as(2, &pull)),
        ("push-answer-v4".to_owned(), wire::encode(&answer)),
        ("push-answer-v3".to_owned(), wire::encode(&v3::PushResponse::from(answer.clone()))),
        ("pull-page-v4".to_owned(), wire::encode(&page)),
        ("pull-page-v3".to_owned(), wire::encode(&v3::PullResponse::from(page.clone()))),
        ("pull-page-v2".to_owned(), wire::encode(&old_page)),
        ("error-body.json".to_owned(), serde_json::to_vec(&error).expect("json")),
        ("error-body-newer.json".to_owned(), br#"{"code":"quota_exceeded","message":"x"}"#.to_vec()),
        ("log-body-1".to_owned(), postcard::to_allocvec(&changes[2]).expect("postcard")),
        ("log-body-2".to_owned(), body),
        ("log-body-3".to_owned(), bare),
        ("record-state".to_owned(), state.to_bytes()),
        ("snapshot".to_owned(), postcard::to_allocvec(&snapshot).expect("postcard")),
    ];
    seeds.sort();
    seeds
}
