//! Bad requests get a 4xx with a stable code, nothing of them is applied,
//! and no input brings the server down.

use gridsync_client_core::{NewDispute, Visit};
use gridsync_proto::wire::{self, CONTENT_TYPE, Limits, PROTOCOL_VERSION};
use gridsync_proto::{
    ActorId, Change, Dot, ErrorBody, ErrorCode, Hlc, Op, PullRequest, PushRequest, PushResponse, RecordId,
    RecordKind, Refusal, Value,
};
use gridsync_server_core::clock::now_ms;
use gridsync_tests::people::{self, RawDevice};
use gridsync_tests::{Handset, Kind, TestServer};
use reqwest::blocking::{Body, Client, Response};

gridsync_tests::matrix![
    malformed_truncated_and_wrong_version_bodies,
    oversized_bodies_are_refused_with_or_without_a_length,
    too_many_changes_in_one_push,
    a_bad_change_refuses_the_whole_push,
    malformed_write_groups_refuse_the_whole_push,
    reused_dots_and_kind_mismatches_conflict,
    a_group_that_breaks_a_rule_is_refused_alone,
    unknown_routes_and_methods_answer_with_codes,
    garbage_never_brings_the_server_down,
    a_write_too_large_for_the_server_is_set_aside_and_the_rest_flows,
    too_many_changes_are_split_by_the_client,
    compressed_pushes_inflate_within_the_limit
];

/// The enrolled user of every [`Endpoint`]'s device: a worker of [`people::GRID_A`].
const USER: &str = "li";

fn client() -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::new()
}

fn change(record: RecordId, kind: RecordKind, actor: ActorId, counter: u64, op: Op) -> Change {
    Change {
        record,
        kind,
        dot: Dot { actor, counter },
        author: USER.into(),
        time: Hlc::from_millis(now_ms() + counter),
        op,
    }
}

fn set(field: &str, value: impl Into<Value>) -> Op {
    Op::Set { field: field.into(), value: value.into(), supersedes: vec![] }
}

/// The write group that creates a valid visit to `record` in `grid`: the
/// create and the five fields a visit needs (6 changes, counters 1 to 6;
/// counter 2 sets `purpose` to `routine`).
fn visit_group(record: RecordId, actor: ActorId, grid: &str) -> Vec<Change> {
    let visit = |counter, op| change(record, RecordKind::Visit, actor, counter, op);
    vec![
        visit(1, Op::Create),
        visit(2, set("purpose", "routine")),
        visit(3, set("grid", grid)),
        visit(4, set("visited_ms", Value::Int(now_ms() as i64))),
        visit(5, set("person_category", "general")),
        visit(6, set("address", "东关村 3 组 12 号")),
    ]
}

/// The number of changes in [`visit_group`].
const VISIT_CHANGES: u64 = 6;

/// A push of `groups`, sent now.
fn push_of(actor: ActorId, groups: Vec<Vec<Change>>) -> PushRequest {
    PushRequest { device: actor, sent_ms: now_ms(), groups }
}

/// A valid push: one group creating a new visit in the device user's grid.
fn valid_push(actor: ActorId) -> PushRequest {
    push_of(actor, vec![visit_group(RecordId::generate(now_ms()), actor, people::GRID_A)])
}

/// A running server and an enrolled device that signs every request, so
/// that what these tests probe is what lies behind authentication.
struct Endpoint {
    server: TestServer,
    device: RawDevice,
}

impl std::ops::Deref for Endpoint {
    type Target = TestServer;
    fn deref(&self) -> &TestServer {
        &self.server
    }
}

impl Endpoint {
    fn start(kind: Kind) -> Self {
        Self::start_with(kind, |_| {})
    }

    fn start_with(kind: Kind, adjust: impl FnOnce(&mut gridsync_server::Settings)) -> Self {
        let server = TestServer::start_on(kind, adjust).expect("server");
        people::ensure_worker(&server, USER, people::GRID_A).expect("user");
        let code = people::code_for(&server, USER).expect("code");
        let (device, _) = RawDevice::enroll(&server.url(), &code).expect("enroll");
        Self { server, device }
    }

    fn id(&self) -> ActorId {
        self.device.id
    }

    /// A signed POST; `gzip` adds `content-encoding: gzip`, `chunked` streams the body.
    fn send(&self, path: &str, content_type: &str, body: Vec<u8>, gzip: bool, chunked: bool) -> Response {
        let headers = self.device.signer.headers("POST", path, &body).expect("sign");
        let mut request = client().post(format!("{}{path}", self.url())).header("content-type", content_type);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        if gzip {
            request = request.header("content-encoding", "gzip");
        }
        let body = if chunked { Body::new(std::io::Cursor::new(body)) } else { Body::from(body) };
        request.body(body).send().expect("the server answers")
    }

    /// POSTs signed raw bytes and returns the status and the decoded error body.
    fn post(&self, path: &str, content_type: &str, body: Vec<u8>) -> (u16, ErrorBody) {
        error_of(self.send(path, content_type, body, false, false))
    }

    fn push_bytes(&self, bytes: Vec<u8>) -> (u16, ErrorBody) {
        self.post("/v1/sync/push", CONTENT_TYPE, bytes)
    }

    fn post_gzip(&self, bytes: Vec<u8>) -> Response {
        self.send("/v1/sync/push", CONTENT_TYPE, bytes, true, false)
    }

    /// Pushes `push`, expects 200 and returns the decoded answer.
    fn push_ok(&self, push: &PushRequest) -> PushResponse {
        let response = self.send("/v1/sync/push", CONTENT_TYPE, wire::encode(push), false, false);
        assert_eq!(response.status().as_u16(), 200);
        let bytes = response.bytes().expect("a body");
        wire::decode(&bytes, &Limits::DEFAULT).expect("a push response")
    }
}

fn error_of(response: Response) -> (u16, ErrorBody) {
    let status = response.status().as_u16();
    let text = response.text().expect("a body");
    let body: ErrorBody =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON error body, got {text:?}"));
    assert!(!body.message.is_empty());
    (status, body)
}

fn assert_nothing_stored(server: &TestServer) {
    let inspector = server.inspect().expect("inspect");
    assert_eq!(inspector.change_count().expect("count"), 0);
    assert_eq!(inspector.record_count().expect("count"), 0);
}

fn malformed_truncated_and_wrong_version_bodies(kind: Kind) {
    let server = Endpoint::start(kind);
    let good = wire::encode(&valid_push(server.id()));

    let (status, body) = server.push_bytes(br#"{"groups": []}"#.to_vec());
    assert_eq!((status, body.code), (400, ErrorCode::Malformed));

    let (status, body) = server.push_bytes(good[..good.len() - 3].to_vec());
    assert_eq!((status, body.code), (400, ErrorCode::Malformed));

    let mut newer = good.clone();
    newer[2] = PROTOCOL_VERSION + 1;
    let (status, body) = server.push_bytes(newer);
    assert_eq!((status, body.code), (400, ErrorCode::UnsupportedVersion));
    assert!(body.message.contains("version"));

    // A version 1 device (which would pull outside its user's scope) is refused too.
    let mut older = good.clone();
    older[2] = wire::OLDEST_VERSION - 1;
    let (status, body) = server.push_bytes(older);
    assert_eq!((status, body.code), (400, ErrorCode::UnsupportedVersion));

    let pull =
        wire::encode(&PullRequest { device: ActorId::random(), cursor: 0, limit: 10, profile_version: 0 });
    let (status, body) = server.push_bytes(pull);
    assert_eq!((status, body.code), (400, ErrorCode::WrongMessageType));

    let (status, body) = server.post("/v1/sync/push", "application/json", good.clone());
    assert_eq!((status, body.code), (415, ErrorCode::UnsupportedMediaType));

    let (status, body) = server.post("/v1/sync/pull", CONTENT_TYPE, good);
    assert_eq!((status, body.code), (400, ErrorCode::WrongMessageType));
    assert_nothing_stored(&server);
}

fn oversized_bodies_are_refused_with_or_without_a_length(kind: Kind) {
    let server = Endpoint::start_with(kind, |s| s.limits.max_bytes = 16 * 1024);
    let big = vec![7u8; 64 * 1024];
    let (status, body) = server.push_bytes(big.clone());
    assert_eq!((status, body.code), (413, ErrorCode::PayloadTooLarge));
    // Chunked, so the server only finds out while reading.
    let (status, body) = error_of(server.send("/v1/sync/push", CONTENT_TYPE, big, false, true));
    assert_eq!((status, body.code), (413, ErrorCode::PayloadTooLarge));
    assert_nothing_stored(&server);
}

fn too_many_changes_in_one_push(kind: Kind) {
    // One change fewer than the smallest valid visit (was: 2, against a push of 3).
    let server = Endpoint::start_with(kind, |s| s.limits.max_changes = VISIT_CHANGES as usize - 1);
    let (status, body) = server.push_bytes(wire::encode(&valid_push(server.id())));
    assert_eq!((status, body.code), (400, ErrorCode::TooManyChanges));
    assert_nothing_stored(&server);
}

fn a_bad_change_refuses_the_whole_push(kind: Kind) {
    let server = Endpoint::start(kind);
    let actor = server.id();

    let mut push = valid_push(actor);
    push.groups[0][1].op = set("", "x");
    let (status, body) = server.push_bytes(wire::encode(&push));
    assert_eq!((status, body.code, body.change_index), (400, ErrorCode::InvalidChange, Some(1)));

    let mut push = valid_push(actor);
    push.groups[0][0].dot.actor = ActorId::random();
    let (status, body) = server.push_bytes(wire::encode(&push));
    assert_eq!((status, body.code, body.change_index), (403, ErrorCode::ActorMismatch, Some(0)));

    let mut push = valid_push(actor);
    let record = push.groups[0][0].record;
    let nan = Op::Set { field: "gps".into(), value: Value::Float(f64::NAN), supersedes: vec![] };
    push.groups[0].push(change(record, RecordKind::Visit, actor, VISIT_CHANGES + 1, nan));
    let (status, body) = server.push_bytes(wire::encode(&push));
    assert_eq!((status, body.code), (400, ErrorCode::InvalidChange));
    assert_nothing_stored(&server);
}

fn malformed_write_groups_refuse_the_whole_push(kind: Kind) {
    let server = Endpoint::start(kind);
    let actor = server.id();

    // An empty group after a valid one.
    let mut push = valid_push(actor);
    push.groups.push(Vec::new());
    let (status, body) = server.push_bytes(wire::encode(&push));
    assert_eq!((status, body.code), (400, ErrorCode::Malformed));

    // One group changing two records.
    let mut push = valid_push(actor);
    let other = visit_group(RecordId::generate(now_ms()), actor, people::GRID_A);
    push.groups[0].extend(other);
    let (status, body) = server.push_bytes(wire::encode(&push));
    assert_eq!((status, body.code), (400, ErrorCode::Malformed));
    assert_nothing_stored(&server);
}

fn reused_dots_and_kind_mismatches_conflict(kind: Kind) {
    let server = Endpoint::start(kind);
    let actor = server.id();
    let first = valid_push(actor);
    let record = first.groups[0][0].record;
    let status = server.send("/v1/sync/push", CONTENT_TYPE, wire::encode(&first), false, false).status();
    assert_eq!(status.as_u16(), 200);

    // Same dot, other content, after a valid new change (in a group of its
    // own, which the rules accept): all refused.
    let visit = |counter, op| change(record, RecordKind::Visit, actor, counter, op);
    let reused = push_of(
        actor,
        vec![
            vec![visit(VISIT_CHANGES + 1, set("result", "家中一切正常"))],
            vec![visit(2, set("purpose", "dispute_check"))],
        ],
    );
    let (status, body) = server.push_bytes(wire::encode(&reused));
    assert_eq!((status, body.code, body.change_index), (409, ErrorCode::DotReused, Some(1)));

    let wrong_kind = push_of(
        actor,
        vec![vec![change(record, RecordKind::Dispute, actor, VISIT_CHANGES + 1, set("category", "x"))]],
    );
    let (status, body) = server.push_bytes(wire::encode(&wrong_kind));
    assert_eq!((status, body.code), (409, ErrorCode::KindMismatch));

    let inspector = server.inspect().expect("inspect");
    assert_eq!(inspector.change_count().expect("count"), VISIT_CHANGES, "only the first push is stored");
    let state = inspector.record(record).expect("read").expect("record");
    assert_eq!(state.value("result"), None);
    assert_eq!(state.value("purpose"), Some(&Value::from("routine")));
}

fn a_group_that_breaks_a_rule_is_refused_alone(kind: Kind) {
    let server = Endpoint::start(kind);
    let actor = server.id();
    let kept = RecordId::generate(now_ms());
    let outside = RecordId::generate(now_ms());

    // The second group is a visit in a grid the worker of GRID_A does not cover.
    let push = push_of(
        actor,
        vec![visit_group(kept, actor, people::GRID_A), visit_group(outside, actor, people::GRID_B)],
    );
    let answer = server.push_ok(&push);
    assert_eq!((answer.accepted, answer.duplicates), (VISIT_CHANGES as u32, 0));
    assert_eq!(answer.refused.len(), 1, "{:?}", answer.refused);
    let Refusal { group, code, field, message } = &answer.refused[0];
    assert_eq!((*group, *code, field.as_deref()), (1, ErrorCode::OutOfScope, Some("grid")));
    assert!(!message.is_empty());
    assert!(!message.contains(people::GRID_B), "refusals name rules, never values: {message}");

    let inspector = server.inspect().expect("inspect");
    assert!(inspector.record(kept).expect("read").is_some(), "group 0 is stored");
    assert!(inspector.record(outside).expect("read").is_none(), "group 1 is not");
    assert_eq!(inspector.change_count().expect("count"), VISIT_CHANGES);

    // A group missing a required field is refused the same way, naming the field.
    let incomplete = RecordId::generate(now_ms());
    let mut group = visit_group(incomplete, actor, people::GRID_A);
    group.retain(|c| !matches!(&c.op, Op::Set { field, .. } if field == "purpose"));
    let answer = server.push_ok(&push_of(actor, vec![group]));
    assert_eq!(answer.accepted, 0);
    let refused: Vec<_> = answer.refused.iter().map(|r| (r.group, r.code, r.field.as_deref())).collect();
    assert_eq!(refused, vec![(0, ErrorCode::MissingField, Some("purpose"))]);
    let inspector = server.inspect().expect("inspect");
    assert!(inspector.record(incomplete).expect("read").is_none());
    assert_eq!(inspector.change_count().expect("count"), VISIT_CHANGES);
}

fn unknown_routes_and_methods_answer_with_codes(kind: Kind) {
    let server = Endpoint::start(kind);
    let r = client().get(format!("{}/v1/nothing", server.url())).send().expect("answer");
    assert_eq!(r.status().as_u16(), 404);
    assert_eq!(r.json::<ErrorBody>().expect("json").code, ErrorCode::NotFound);
    let r = client().get(format!("{}/v1/sync/push", server.url())).send().expect("answer");
    assert_eq!(r.status().as_u16(), 405);
    assert_eq!(r.json::<ErrorBody>().expect("json").code, ErrorCode::MethodNotAllowed);
    let health: serde_json::Value =
        client().get(format!("{}/health", server.url())).send().expect("answer").json().expect("json");
    assert_eq!(health["status"], "ok");
    assert_eq!(health["storage"], kind.name(), "the server runs on the backend the test is for");
}

fn garbage_never_brings_the_server_down(kind: Kind) {
    let server = Endpoint::start(kind);
    let good = wire::encode(&valid_push(server.id()));
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..300 {
        let mut bytes = good.clone();
        for _ in 0..1 + next() % 4 {
            let i = (next() as usize) % bytes.len();
            match next() % 3 {
                0 => bytes[i] ^= 1 << (next() % 8),
                1 => bytes.truncate(i.max(1)),
                _ => bytes.insert(i, next() as u8),
            }
        }
        // Signed as sent: what the mutation hits is decoding, not the signature.
        let response = server.send("/v1/sync/push", CONTENT_TYPE, bytes, false, false);
        let status = response.status().as_u16();
        assert!(status == 200 || (400..500).contains(&status), "status {status}");
        if status != 200 {
            let body: ErrorBody = response.json().expect("a JSON error");
            assert_ne!(body.code, ErrorCode::Internal);
        }
    }
    let health = client().get(format!("{}/health", server.url())).send().expect("alive");
    assert_eq!(health.status().as_u16(), 200);
}

fn a_write_too_large_for_the_server_is_set_aside_and_the_rest_flows(kind: Kind) -> anyhow::Result<()> {
    // A server configured for smaller pushes than one of the changes.
    let server = TestServer::start_on(kind, |s| s.limits.max_bytes = 16 * 1024)?;
    let mut worker = Handset::new(&server, "w")?;
    let small = worker.store.record_visit(&Visit {
        grid: None,
        household: None,
        address: Some("3-2-101".into()),
        visited_ms: now_ms(),
        person_category: "general".into(),
        purpose: "routine".into(),
        result: None,
        follow_up_due: None,
        gps: None,
    })?;
    let id = worker.store.register_dispute(&NewDispute {
        place: None,
        source: "visit".into(),
        source_record: Some(small),
        category: "邻里纠纷".into(),
        summary: None,
        risk: None,
        parties: Vec::new(),
        address: None,
        due: None,
    })?;
    worker.store.note(id, &"调解记录".repeat(2_000))?; // 24 KB
    worker.store.note(id, "已电话回访")?; // a small write after the big one

    let report = worker.sync(&server)?;
    // The groups around the oversized note went through in smaller pushes:
    // the visit (6 changes), the dispute's registration (create,
    // registered_at, place, source, source_record, category: 6) and the
    // small note after it (1). The oversized note is set aside, visible,
    // instead of blocking everything written after it.
    assert_eq!((report.pushed, report.refused), (13, 1));
    assert_eq!(worker.store.pending()?, 0);
    let rejected = worker.store.rejections()?;
    assert_eq!(rejected.len(), 1);
    assert_eq!((rejected[0].record, rejected[0].code), (id, ErrorCode::PayloadTooLarge));
    assert!(rejected[0].message.contains("limit"), "{}", rejected[0].message);
    assert!(!rejected[0].message.contains("调解记录"), "no record content in refusals");
    assert!(matches!(&rejected[0].changes[..], [c] if c.record == id), "kept as it was made");
    assert!(server.inspect()?.record(small)?.is_some());
    assert_eq!(server.inspect()?.record(id)?.map(|r| r.entries().len()), Some(1));
    Ok(())
}

fn too_many_changes_are_split_by_the_client(kind: Kind) -> anyhow::Result<()> {
    let server = TestServer::start_on(kind, |s| s.limits.max_changes = 3)?;
    let mut worker = Handset::new(&server, "w")?;
    // Patrols: create, grid and started_ms, 3 changes each, so one patrol
    // fits the server's limit and the client must split down to one a push.
    for i in 0..5 {
        worker.store.start_patrol(now_ms() + i)?;
    }
    let report = worker.sync(&server)?;
    assert_eq!(report.pushed, 15);
    assert_eq!(worker.store.pending()?, 0);
    assert_eq!(server.inspect()?.change_count()?, 15);
    Ok(())
}

fn compressed_pushes_inflate_within_the_limit(kind: Kind) {
    let server = Endpoint::start_with(kind, |s| s.limits.max_bytes = 64 * 1024);
    let good = wire::encode(&valid_push(server.id()));
    assert_eq!(server.post_gzip(wire::gzip(&good)).status().as_u16(), 200);
    assert_eq!(server.inspect().expect("inspect").change_count().expect("count"), VISIT_CHANGES);

    // 4 MiB of zeros compress to a few KiB: refused once inflated past the limit.
    let mut bomb = good.clone();
    bomb.resize(4 * 1024 * 1024, 0);
    let squeezed = wire::gzip(&bomb);
    assert!(squeezed.len() < 64 * 1024);
    let response = server.post_gzip(squeezed);
    assert_eq!(response.status().as_u16(), 413);
    assert_eq!(response.json::<ErrorBody>().expect("json").code, ErrorCode::PayloadTooLarge);

    let response = server.post_gzip(b"not gzip at all".to_vec());
    assert_eq!(response.status().as_u16(), 400);
    assert_eq!(response.json::<ErrorBody>().expect("json").code, ErrorCode::Malformed);
    assert_eq!(server.inspect().expect("inspect").change_count().expect("count"), VISIT_CHANGES);
}
