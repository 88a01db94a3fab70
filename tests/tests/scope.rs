//! Scoped replication against the real server: each device holds only what
//! its user may see, and may write only there. A worker in grid A can
//! neither pull nor push grid B; a township admin sees only its township; a
//! department sees only what was transferred to it; a device's budget caps
//! what it holds.

use gridsync_proto::wire::{self, Limits};
use gridsync_proto::{
    ActorId, Change, Dot, ErrorCode, Hlc, Op, PullRequest, PullResponse, PushRequest, PushResponse, RecordId,
    RecordKind, Role, Value,
};
use gridsync_server_core::clock::now_ms;
use gridsync_tests::people::{self, GRID_A, GRID_B, GRID_C, OTHER_TOWNSHIP, RawDevice, TOWNSHIP};
use gridsync_tests::{Handset, Kind, TestServer};

gridsync_tests::matrix![
    each_device_holds_only_what_its_user_may_see,
    a_worker_in_grid_a_can_neither_pull_nor_push_grid_b,
    a_device_holds_at_most_its_budget_and_is_told_what_it_left_out
];

fn held(handset: &Handset) -> Vec<RecordId> {
    let mut ids: Vec<RecordId> =
        handset.store.list(&Default::default()).expect("list").into_iter().map(|r| r.id()).collect();
    ids.sort();
    ids
}

fn sorted(mut ids: Vec<RecordId>) -> Vec<RecordId> {
    ids.sort();
    ids
}

/// A valid patrol group for `grid`, made by hand for `device`.
fn patrol_group(device: ActorId, author: &str, grid: &str) -> Vec<Change> {
    let record = RecordId::generate(now_ms());
    let change = |counter, op| Change {
        record,
        kind: RecordKind::Patrol,
        dot: Dot { actor: device, counter },
        author: author.into(),
        time: Hlc::from_millis(now_ms()),
        op,
    };
    let set = |field: &str, value: Value| Op::Set { field: field.into(), value, supersedes: vec![] };
    vec![
        change(1, Op::Create),
        change(2, set("grid", grid.into())),
        change(3, set("started_ms", Value::Int(now_ms() as i64))),
    ]
}

fn push(device: &RawDevice, server: &TestServer, groups: Vec<Vec<Change>>) -> PushResponse {
    let request = PushRequest { device: device.id, sent_ms: now_ms(), groups };
    let response = device.post(&server.url(), "/v1/sync/push", wire::encode(&request)).expect("push");
    assert_eq!(response.status().as_u16(), 200);
    wire::decode(&response.bytes().expect("body"), &Limits::DEFAULT).expect("a push response")
}

fn pull(device: &RawDevice, server: &TestServer) -> PullResponse {
    let request = PullRequest { device: device.id, cursor: 0, limit: 1000, profile_version: 0 };
    let response = device.post(&server.url(), "/v1/sync/pull", wire::encode(&request)).expect("pull");
    assert_eq!(response.status().as_u16(), 200);
    let limits = Limits { max_bytes: 64 << 20, max_changes: 100_000 };
    wire::decode(&response.bytes().expect("body"), &limits).expect("a pull response")
}

fn each_device_holds_only_what_its_user_may_see(kind: Kind) -> anyhow::Result<()> {
    let server = TestServer::start(kind)?;
    let mut li = Handset::worker(&server, "li", GRID_A)?;
    let mut zhao = Handset::worker(&server, "zhao", GRID_B)?;
    let mut chen = Handset::worker(&server, "chen", GRID_C)?;
    let mut wang = Handset::enrolled(&server, "wang", Role::TownshipAdmin, TOWNSHIP, None)?;
    let mut liu = Handset::enrolled(&server, "liu", Role::TownshipAdmin, OTHER_TOWNSHIP, None)?;
    let mut police = Handset::enrolled(&server, "police", Role::Department, "", Some(people::POLICE))?;

    let a = li.store.start_patrol(now_ms())?;
    let b = zhao.store.start_patrol(now_ms())?;
    let c = chen.store.start_patrol(now_ms())?;
    for _ in 0..2 {
        for h in [&mut li, &mut zhao, &mut chen, &mut wang, &mut liu, &mut police] {
            h.sync(&server)?;
        }
    }
    assert_eq!(held(&li), vec![a], "a worker holds their grid only");
    assert_eq!(held(&zhao), vec![b]);
    assert_eq!(held(&chen), vec![c]);
    assert_eq!(held(&wang), sorted(vec![a, b]), "a township admin holds its township");
    assert_eq!(held(&liu), vec![c], "and not another township");
    assert!(held(&police).is_empty(), "a department holds only what was transferred to it");
    assert_eq!(server.inspect()?.record_count()?, 3, "the server holds everything");
    Ok(())
}

fn a_worker_in_grid_a_can_neither_pull_nor_push_grid_b(kind: Kind) -> anyhow::Result<()> {
    let server = TestServer::start(kind)?;
    let mut zhao = Handset::worker(&server, "zhao", GRID_B)?;
    let theirs = zhao.store.start_patrol(now_ms())?;
    zhao.sync(&server)?;

    people::ensure_worker(&server, "li", GRID_A)?;
    let (li, _) = RawDevice::enroll(&server.url(), &people::code_for(&server, "li")?)?;
    // Pull: nothing of grid B comes back, even from the start of the log.
    let page = pull(&li, &server);
    assert!(page.changes.iter().all(|c| c.change.record != theirs), "grid B's patrol stayed on the server");
    assert!(page.changes.is_empty() && page.rebuild.is_empty());

    // Push: a patrol in grid A goes in; one in grid B, and an edit of grid
    // B's patrol, are refused by group, each with its reason.
    let mine = patrol_group(li.id, "li", GRID_A);
    let mine_id = mine[0].record;
    let intruding = patrol_group(li.id, "li", GRID_B);
    let intruding_id = intruding[0].record;
    let edit = vec![Change {
        record: theirs,
        kind: RecordKind::Patrol,
        dot: Dot { actor: li.id, counter: 1 },
        author: "li".into(),
        time: Hlc::from_millis(now_ms()),
        op: Op::Set { field: "summary".into(), value: "看过了".into(), supersedes: vec![] },
    }];
    let answer = push(&li, &server, vec![mine, intruding, edit]);
    assert_eq!(answer.accepted, 3);
    let refused: Vec<(u32, ErrorCode, Option<&str>)> =
        answer.refused.iter().map(|r| (r.group, r.code, r.field.as_deref())).collect();
    assert_eq!(refused, [(1, ErrorCode::OutOfScope, Some("grid")), (2, ErrorCode::OutOfScope, Some("grid"))]);
    assert!(answer.refused.iter().all(|r| !r.message.contains("看过了")), "no content in refusals");
    let inspector = server.inspect()?;
    assert!(inspector.record(mine_id)?.is_some());
    assert!(inspector.record(intruding_id)?.is_none(), "nothing of a refused group is kept");
    assert_eq!(inspector.record(theirs)?.and_then(|r| r.value("summary").cloned()), None);

    // On the handset the same rules refuse before anything is stored: the
    // worker's device does not even know grid B.
    let mut handset = Handset::worker(&server, "li2", GRID_A)?;
    assert!(handset.store.start_patrol_in(GRID_B, now_ms()).is_err());
    assert_eq!(handset.store.pending()?, 0);
    handset.sync(&server)?;
    assert_eq!(held(&handset), vec![mine_id], "the other grid-A worker sees li's patrol only");
    Ok(())
}

fn a_device_holds_at_most_its_budget_and_is_told_what_it_left_out(kind: Kind) -> anyhow::Result<()> {
    let server = TestServer::start_on(kind, |s| s.scope.budget = 5)?;
    let mut writer = Handset::worker(&server, "writer", GRID_A)?;
    let mut reader = Handset::worker(&server, "reader", GRID_A)?;
    for i in 0..8 {
        writer.store.start_patrol(now_ms() - 1_000 * (8 - i))?;
    }
    writer.sync(&server)?;
    let report = reader.sync(&server)?;
    assert_eq!(held(&reader).len(), 5, "the budget caps the device");
    assert_eq!((report.withheld, reader.store.withheld()?), (3, 3));
    Ok(())
}
