//! Bad requests get a 4xx with a stable code, nothing of them is applied,
//! and no input brings the server down.

use gridsync_client_core::Error;
use gridsync_proto::wire::{self, CONTENT_TYPE, PROTOCOL_VERSION};
use gridsync_proto::{
    ActorId, Change, Dot, ErrorBody, ErrorCode, Hlc, Op, PullRequest, PushRequest, RecordId, RecordKind,
    Value,
};
use gridsync_tests::people::{self, RawDevice};
use gridsync_tests::{Handset, TestServer};
use reqwest::blocking::{Body, Client, Response};

fn client() -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::new()
}

fn change(record: RecordId, kind: RecordKind, actor: ActorId, counter: u64, op: Op) -> Change {
    Change {
        record,
        kind,
        dot: Dot { actor, counter },
        author: "w".into(),
        time: Hlc::from_millis(counter),
        op,
    }
}

fn set(field: &str, value: &str) -> Op {
    Op::Set { field: field.into(), value: Value::from(value), supersedes: vec![] }
}

/// A valid push of `n` changes to one new record.
fn valid_push(actor: ActorId, n: u64) -> PushRequest {
    let record = RecordId::generate(1);
    let changes =
        (1..=n).map(|c| change(record, RecordKind::Dispute, actor, c, set("status", "found"))).collect();
    PushRequest { device: actor, changes }
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
    fn start() -> Self {
        Self::start_with(|_| {})
    }

    fn start_with(adjust: impl FnOnce(&mut gridsync_server::Settings)) -> Self {
        let server = TestServer::start_with(adjust).expect("server");
        people::ensure_worker(&server.data_dir(), "li", "5301").expect("user");
        let code = people::code_for(&server.data_dir(), "li").expect("code");
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

#[test]
fn malformed_truncated_and_wrong_version_bodies() {
    let server = Endpoint::start();
    let good = wire::encode(&valid_push(server.id(), 2));

    let (status, body) = server.push_bytes(br#"{"changes": []}"#.to_vec());
    assert_eq!((status, body.code), (400, ErrorCode::Malformed));

    let (status, body) = server.push_bytes(good[..good.len() - 3].to_vec());
    assert_eq!((status, body.code), (400, ErrorCode::Malformed));

    let mut newer = good.clone();
    newer[2] = PROTOCOL_VERSION + 1;
    let (status, body) = server.push_bytes(newer);
    assert_eq!((status, body.code), (400, ErrorCode::UnsupportedVersion));
    assert!(body.message.contains("version"));

    let pull = wire::encode(&PullRequest { device: ActorId::random(), after: 0, limit: 10 });
    let (status, body) = server.push_bytes(pull);
    assert_eq!((status, body.code), (400, ErrorCode::WrongMessageType));

    let (status, body) = server.post("/v1/sync/push", "application/json", good.clone());
    assert_eq!((status, body.code), (415, ErrorCode::UnsupportedMediaType));

    let (status, body) = server.post("/v1/sync/pull", CONTENT_TYPE, good);
    assert_eq!((status, body.code), (400, ErrorCode::WrongMessageType));
    assert_nothing_stored(&server);
}

#[test]
fn oversized_bodies_are_refused_with_or_without_a_length() {
    let server = Endpoint::start_with(|s| s.limits.max_bytes = 16 * 1024);
    let big = vec![7u8; 64 * 1024];
    let (status, body) = server.push_bytes(big.clone());
    assert_eq!((status, body.code), (413, ErrorCode::PayloadTooLarge));
    // Chunked, so the server only finds out while reading.
    let (status, body) = error_of(server.send("/v1/sync/push", CONTENT_TYPE, big, false, true));
    assert_eq!((status, body.code), (413, ErrorCode::PayloadTooLarge));
    assert_nothing_stored(&server);
}

#[test]
fn too_many_changes_in_one_push() {
    let server = Endpoint::start_with(|s| s.limits.max_changes = 2);
    let (status, body) = server.push_bytes(wire::encode(&valid_push(server.id(), 3)));
    assert_eq!((status, body.code), (400, ErrorCode::TooManyChanges));
    assert_nothing_stored(&server);
}

#[test]
fn a_bad_change_refuses_the_whole_push() {
    let server = Endpoint::start();
    let actor = server.id();

    let mut push = valid_push(actor, 2);
    push.changes[1].op = set("", "x");
    let (status, body) = server.push_bytes(wire::encode(&push));
    assert_eq!((status, body.code, body.change_index), (400, ErrorCode::InvalidChange, Some(1)));

    let mut push = valid_push(actor, 2);
    push.changes[0].dot.actor = ActorId::random();
    let (status, body) = server.push_bytes(wire::encode(&push));
    assert_eq!((status, body.code, body.change_index), (403, ErrorCode::ActorMismatch, Some(0)));

    let mut push = valid_push(actor, 1);
    push.changes[0].op = Op::Set { field: "gps".into(), value: Value::Float(f64::NAN), supersedes: vec![] };
    let (status, body) = server.push_bytes(wire::encode(&push));
    assert_eq!((status, body.code), (400, ErrorCode::InvalidChange));
    assert_nothing_stored(&server);
}

#[test]
fn reused_dots_and_kind_mismatches_conflict() {
    let server = Endpoint::start();
    let actor = server.id();
    let first = valid_push(actor, 2);
    let record = first.changes[0].record;
    let status = server.send("/v1/sync/push", CONTENT_TYPE, wire::encode(&first), false, false).status();
    assert_eq!(status.as_u16(), 200);

    // Same dot, other content, after a valid new change: all refused.
    let reused = PushRequest {
        device: actor,
        changes: vec![
            change(record, RecordKind::Dispute, actor, 3, set("risk", "high")),
            change(record, RecordKind::Dispute, actor, 2, set("status", "closed")),
        ],
    };
    let (status, body) = server.push_bytes(wire::encode(&reused));
    assert_eq!((status, body.code, body.change_index), (409, ErrorCode::DotReused, Some(1)));

    let wrong_kind = PushRequest {
        device: actor,
        changes: vec![change(record, RecordKind::Visit, actor, 3, set("purpose", "x"))],
    };
    let (status, body) = server.push_bytes(wire::encode(&wrong_kind));
    assert_eq!((status, body.code), (409, ErrorCode::KindMismatch));

    let inspector = server.inspect().expect("inspect");
    assert_eq!(inspector.change_count().expect("count"), 2, "only the first push is stored");
    let state = inspector.record(record).expect("read").expect("record");
    assert_eq!(state.value("risk"), None);
    assert_eq!(state.value("status"), Some(&Value::from("found")));
}

#[test]
fn unknown_routes_and_methods_answer_with_codes() {
    let server = Endpoint::start();
    let r = client().get(format!("{}/v1/nothing", server.url())).send().expect("answer");
    assert_eq!(r.status().as_u16(), 404);
    assert_eq!(r.json::<ErrorBody>().expect("json").code, ErrorCode::NotFound);
    let r = client().get(format!("{}/v1/sync/push", server.url())).send().expect("answer");
    assert_eq!(r.status().as_u16(), 405);
    assert_eq!(r.json::<ErrorBody>().expect("json").code, ErrorCode::MethodNotAllowed);
    let health: serde_json::Value =
        client().get(format!("{}/health", server.url())).send().expect("answer").json().expect("json");
    assert_eq!(health["status"], "ok");
}

#[test]
fn garbage_never_brings_the_server_down() {
    let server = Endpoint::start();
    let good = wire::encode(&valid_push(server.id(), 3));
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

#[test]
fn a_refused_push_keeps_the_outbox_and_says_why() -> anyhow::Result<()> {
    // A server configured for smaller pushes than one of the changes.
    let server = TestServer::start_with(|s| s.limits.max_bytes = 16 * 1024)?;
    let mut worker = Handset::new(&server, "w")?;
    let small = worker.store.create(RecordKind::Visit, [("household".into(), Value::from("3-2-101"))])?;
    let id = worker.store.create(RecordKind::Dispute, [])?;
    worker.store.note(id, &"调解记录".repeat(2_000))?; // 24 KB
    let before = worker.store.pending()?;

    let err = worker.sync(&server).expect_err("refused");
    let err = err.downcast::<Error>()?;
    assert_eq!(err.server_code(), Some(ErrorCode::PayloadTooLarge));
    assert!(err.to_string().contains("payload_too_large"));
    assert!(!err.to_string().contains("调解记录"), "no record content in errors");
    // The changes before the oversized one went through in a smaller push.
    assert_eq!(worker.store.pending()?, before - 3);
    assert!(server.inspect()?.record(small)?.is_some());
    assert_eq!(server.inspect()?.record(id)?.map(|r| r.entries().len()), Some(0));
    Ok(())
}

#[test]
fn too_many_changes_are_split_by_the_client() -> anyhow::Result<()> {
    let server = TestServer::start_with(|s| s.limits.max_changes = 3)?;
    let mut worker = Handset::new(&server, "w")?;
    for i in 0..5 {
        worker.store.create(RecordKind::Visit, [("n".into(), Value::Int(i)), ("m".into(), Value::Int(i))])?;
    }
    let report = worker.sync(&server)?;
    assert_eq!(report.pushed, 15);
    assert_eq!(worker.store.pending()?, 0);
    assert_eq!(server.inspect()?.change_count()?, 15);
    Ok(())
}

#[test]
fn compressed_pushes_inflate_within_the_limit() {
    let server = Endpoint::start_with(|s| s.limits.max_bytes = 64 * 1024);
    let good = wire::encode(&valid_push(server.id(), 3));
    assert_eq!(server.post_gzip(wire::gzip(&good)).status().as_u16(), 200);
    assert_eq!(server.inspect().expect("inspect").change_count().expect("count"), 3);

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
    assert_eq!(server.inspect().expect("inspect").change_count().expect("count"), 3);
}
