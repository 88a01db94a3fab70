//! The server's edge under hostile clients (`docs/SECURITY.md`, "Memory
//! under hostile clients"): the real `gridsync-server serve` binary, a
//! hundred connections that claim large bodies with forged signature
//! headers, and an honest handset that keeps syncing meanwhile.
//!
//! * requests of a device the server does not know are answered before
//!   their bodies are sent at all;
//! * requests of known devices with a forged signature hold at most the
//!   gate's permits; the rest are refused at once with `Retry-After`;
//! * a body that stalls is cut off by the body timeout;
//! * the server's peak resident memory (`VmHWM`) stays under the bound the
//!   security notes state for these settings.

mod handsets;

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use gridsync_client_core::NewDispute;
use gridsync_proto::{ActorId, Level, Place, Role};
use gridsync_server::operator::Operator;
use handsets::Handset;

/// The settings under test (`max_body_bytes` is the default 4 MiB).
const MAX_BODY_READS: u64 = 8;
const PER_DEVICE: u64 = 2;
const MAX_BODY_BYTES: u64 = 4 * 1024 * 1024;
const IDLE_TIMEOUT_S: u64 = 2;
const WORKERS: u64 = 2;
/// What one connection may hold in actix's buffers before its body is
/// read: the head and read buffer (128 KiB) and the payload buffer
/// (32 KiB), as `docs/SECURITY.md` counts it.
const PER_CONNECTION: u64 = 160 * 1024;
/// The allocator's and the threads' slack over the sum, as stated there.
const SLACK: u64 = 32 * 1024 * 1024;

/// Hostile connections of devices the server does not know, and of the
/// known devices with forged signatures.
const UNKNOWN: usize = 50;
const FORGED: usize = 50;
/// How often a forged full body refused at the gate is sent again.
const RETRIES: usize = 5;

/// A server process, killed if the test fails before it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Server {
    /// A line of `/proc/PID/status` in bytes (`VmRSS`, `VmHWM`).
    fn memory(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.0.id())).expect("proc status");
        let line = status.lines().find(|l| l.starts_with(field)).expect("the field");
        let kib: u64 = line.split_whitespace().nth(1).expect("a number").parse().expect("kB");
        kib * 1024
    }
}

fn start(config: &std::path::Path) -> (Server, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gridsync-server"))
        .args(["--config", config.to_str().expect("utf-8"), "serve"])
        .env("RUST_LOG", "warn,gridsync_server=info")
        .env_remove("GRIDSYNC_DATA")
        .env_remove("GRIDSYNC_DATABASE")
        .env_remove("GRIDSYNC_LISTEN")
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut log = BufReader::new(child.stderr.take().expect("stderr is piped"));
    let server = Server(child);
    let mut line = String::new();
    loop {
        line.clear();
        assert!(log.read_line(&mut line).expect("log readable") > 0, "server exited before ready");
        if line.contains("gridsync-server ready") {
            break;
        }
    }
    // Keep draining the log so the server never blocks on a full pipe.
    thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = log.read_to_end(&mut sink);
    });
    let at = line.find("127.0.0.1:").expect("the ready line names the address");
    let port: String = line[at + "127.0.0.1:".len()..].chars().take_while(char::is_ascii_digit).collect();
    (server, format!("127.0.0.1:{port}"))
}

/// What a hostile connection saw.
#[derive(Debug)]
struct Outcome {
    /// The HTTP status, or `None` when the server closed without one.
    status: Option<u16>,
    /// The answer's head (status line and headers).
    head: String,
    /// The answer's body.
    body: String,
    /// Body bytes written before the answer came.
    sent: u64,
}

/// Sends a push's head claiming `MAX_BODY_BYTES - 1` bytes with forged
/// signature headers for `device`, then `body` bytes of it (in 64 KiB
/// pieces), then waits for the answer.
fn hostile(addr: &str, device: ActorId, body: u64) -> Outcome {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let time = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis();
    let nonce: String =
        ActorId::random().to_string().chars().filter(char::is_ascii_hexdigit).take(32).collect();
    let head = format!(
        "POST /v1/sync/push HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-gridsync\r\n\
         Content-Length: {}\r\nx-gridsync-device: {device}\r\nx-gridsync-time: {time}\r\n\
         x-gridsync-nonce: {nonce}\r\nx-gridsync-signature: {}\r\n\r\n",
        MAX_BODY_BYTES - 1,
        gridsync_proto::auth::b64(&[7; 64]),
    );
    stream.write_all(head.as_bytes()).expect("head");
    // The answer is read as it comes, while the body is still being sent:
    // a server that answers early closes the connection, and a reset
    // would discard an answer not yet read.
    let mut reading = stream.try_clone().expect("clone");
    let reader = thread::spawn(move || {
        let mut answer = Vec::new();
        let mut buf = [0; 4096];
        loop {
            match reading.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
                Err(e) => panic!("no answer: {e}"),
            }
        }
        answer
    });
    let piece = vec![0x5a; 64 * 1024];
    let mut sent = 0;
    while sent < body && !reader.is_finished() {
        let n = piece.len().min((body - sent) as usize);
        // The server may answer (and close) before the body is all sent.
        if stream.write_all(&piece[..n]).is_err() {
            break;
        }
        sent += n as u64;
    }
    let answer = reader.join().expect("the reader");
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text.strip_prefix("HTTP/1.1 ").and_then(|t| t.get(..3)).and_then(|s| s.parse().ok());
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text.as_str(), ""));
    Outcome { status, head: head.to_ascii_lowercase(), body: body.to_owned(), sent }
}

fn code(outcome: &Outcome) -> String {
    serde_json::from_str::<serde_json::Value>(&outcome.body)
        .ok()
        .and_then(|v| v["code"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[test]
fn hostile_connections_are_refused_before_their_bodies_and_memory_stays_bounded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let (mut codes, township) = (Vec::new(), "620802100");
    {
        let op = Operator::open_default(&data).expect("open");
        for (code, level, parent) in [
            (township, Level::Township, None),
            ("V1", Level::Village, Some(township)),
            ("G1", Level::Grid, Some("V1")),
        ] {
            let place = Place {
                code: code.into(),
                name: format!("{code} 名"),
                level,
                parent: parent.map(Into::into),
            };
            op.add_place(&place).expect("place");
        }
        for name in ["honest", "mallory-1", "mallory-2", "mallory-3"] {
            op.add_user(name, Role::Worker, Some("G1"), None, None).expect("user");
            codes.push((name, op.issue_code(name, 3_600_000, "http://127.0.0.1").expect("code").code));
        }
    }
    let config = dir.path().join("gridsync.toml");
    std::fs::write(
        &config,
        format!(
            "data = {:?}\nlisten = \"127.0.0.1:0\"\nworkers = {WORKERS}\nmax_body_reads = {MAX_BODY_READS}\n\
             max_body_reads_per_device = {PER_DEVICE}\nbody_idle_timeout_secs = {IDLE_TIMEOUT_S}\n\
             body_read_timeout_secs = 10\n",
            data.to_str().expect("utf-8")
        ),
    )
    .expect("settings");
    let (server, addr) = start(&config);
    let url = format!("http://{addr}");

    let mut handsets: Vec<Handset> =
        codes.iter().map(|(name, code)| Handset::enroll(&url, name, code).expect("enrolled")).collect();
    let known: Vec<ActorId> = handsets[1..].iter().map(|h| h.store.device_id()).collect();
    let mut honest = handsets.swap_remove(0);
    let dispute = NewDispute {
        place: None,
        source: "walk_in".into(),
        source_record: None,
        category: "邻里纠纷".into(),
        summary: Some("宅基地界线".into()),
        risk: Some(1),
        parties: vec![],
        address: None,
        due: None,
    };
    honest.store.register_dispute(&dispute).expect("dispute");
    honest.sync(&url).expect("a sync before the attack");
    let before = server.memory("VmRSS:");

    // A slow loris: a known device's request claims 4 MiB and sends 3
    // bytes. The idle timeout cuts it off.
    let stalled = hostile(&addr, known[0], 3);
    assert_eq!((stalled.status, code(&stalled).as_str()), (Some(408), "request_timeout"), "{stalled:?}");

    // The attack: every connection at once, from its own thread.
    let attacking = Arc::new(AtomicBool::new(true));
    let mut attackers = Vec::new();
    for i in 0..UNKNOWN {
        let addr = addr.clone();
        // Only the head and 3 bytes: the answer must come without the rest.
        attackers.push(thread::spawn(move || (false, i, hostile(&addr, ActorId::random(), 3))));
    }
    for i in 0..FORGED {
        let (addr, device) = (addr.clone(), known[i % known.len()]);
        // Every other one stalls after 3 bytes; the others send their all.
        let body = if i % 2 == 0 { 3 } else { MAX_BODY_BYTES - 1 };
        attackers.push(thread::spawn(move || {
            // Refused at the gate, a full body is sent again (a few times),
            // so that the gate stays full of bodies being read.
            let mut outcome = hostile(&addr, device, body);
            for _ in 0..RETRIES {
                if body == 3 || !["rate_limited", "unavailable", ""].contains(&code(&outcome).as_str()) {
                    break;
                }
                outcome = hostile(&addr, device, body);
            }
            (true, i, outcome)
        }));
    }
    // Meanwhile the honest handset records and syncs, several times.
    let honest_syncs = {
        let (url, attacking) = (url.clone(), attacking.clone());
        thread::spawn(move || {
            let mut synced = 0;
            while attacking.load(Ordering::SeqCst) || synced < 3 {
                honest.store.register_dispute(&dispute).expect("dispute");
                honest.sync(&url).expect("the honest handset syncs during the attack");
                synced += 1;
            }
            (honest, synced)
        })
    };

    let deadline = Instant::now() + Duration::from_secs(60);
    let mut outcomes = Vec::new();
    for attacker in attackers {
        outcomes.push(attacker.join().expect("an attacker"));
        assert!(Instant::now() < deadline, "every hostile connection was answered or cut off in time");
    }
    attacking.store(false, Ordering::SeqCst);
    let (honest, synced) = honest_syncs.join().expect("the honest handset");
    assert_eq!(honest.store.pending().expect("outbox"), 0, "all {synced} syncs went through");

    for (forged, i, outcome) in &outcomes {
        let code = code(outcome);
        if !forged {
            assert_eq!(
                (outcome.status, code.as_str()),
                (Some(401), "unknown_device"),
                "unknown device {i}: {outcome:?}"
            );
            assert_eq!(outcome.sent, 3, "answered before the body was sent");
            continue;
        }
        let expected: &[&str] = if outcome.sent == 3 {
            // Stalled: cut off by the idle timeout, or refused at the gate.
            &["request_timeout", "rate_limited", "unavailable"]
        } else {
            // Read whole: the signature is forged; or refused at the gate
            // while still sending ("": the refusal was lost to the reset
            // of a connection closed with its body unread).
            &["bad_signature", "rate_limited", "unavailable", ""]
        };
        assert!(expected.contains(&code.as_str()), "forged request {i}: {outcome:?}");
        if code == "rate_limited" || code == "unavailable" {
            assert!(outcome.status == Some(429) || outcome.status == Some(503), "{outcome:?}");
            assert!(outcome.head.contains("\r\nretry-after: 2"), "told when to retry: {outcome:?}");
        }
    }
    let count = |c: &str| outcomes.iter().filter(|(_, _, o)| code(o) == c).count();
    assert!(count("rate_limited") >= 1, "the per-device bound refused some");

    let peak = server.memory("VmHWM:");
    let connections = (UNKNOWN + FORGED) as u64 + 4;
    let bound = before + MAX_BODY_READS * MAX_BODY_BYTES + connections * PER_CONNECTION + SLACK;
    eprintln!(
        "RSS before the attack {} MiB, peak {} MiB, bound {} MiB ({} refused as unknown, {} bad signatures, \
         {} cut off, {} rate-limited, {} unavailable; {synced} honest syncs)",
        before >> 20,
        peak >> 20,
        bound >> 20,
        count("unknown_device"),
        count("bad_signature"),
        count("request_timeout"),
        count("rate_limited"),
        count("unavailable"),
    );
    assert!(peak < bound, "peak RSS {peak} over the stated bound {bound}");
    drop(server);
}
