//! Scale-out: several `gridsync-server` processes (the real binary) serve one
//! PostgreSQL database, and handsets sync through whichever instance a load
//! balancer would hand them, request by request.
//!
//! A fresh database gets a township with three grids (set up with the
//! binary's own operator commands on `--database`); six grid workers (two a
//! grid) and the township centre enroll. Then, first with two instances and
//! then with four on the same database, every handset writes records (patrols,
//! disputes, edits of the disputes it holds, notes) and syncs, concurrently
//! from its own thread, for several rounds. Every request goes to a randomly
//! chosen instance (a seeded generator; the seed is printed, and
//! `GRIDSYNC_TEST_SEED=N` makes the same choices again, though the threads
//! interleave as they will), and some push answers are thrown away after the
//! server stored the push, so the handset sends it again, through another
//! instance.
//!
//! A transport between the handsets and the servers keeps an independent log
//! from what travels on the wire: every change a push acknowledged, what each
//! push answered, and every change each pull delivered. Afterwards:
//!
//! * the database holds each acknowledged change once: a push sent again
//!   through another instance after its answer was lost is acknowledged as
//!   duplicates, never applied twice;
//! * every handset holds exactly the records of its scope, and in each of them
//!   exactly the acknowledged changes (none missing: no pull cursor skipped a
//!   change that committed late on another instance; none extra);
//! * no pull delivered a change twice, and no cursor was issued twice;
//! * every handset of a grid, the township centre and the server hold
//!   identical record states;
//! * a signed request replayed byte for byte to another instance is refused
//!   as `replayed_request` (the nonces live in the database);
//! * the audit chain, appended to by every instance, verifies.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs::File;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use gridsync_client_core::{
    Error, HttpTransport, NewDispute, RecordFilter, Request, Store, StoreKey, Transport,
};
use gridsync_proto::wire::{self, Limits};
use gridsync_proto::{
    ActorId, Dot, ErrorCode, PullRequest, PullResponse, PushRequest, PushResponse, RecordId, RecordKind,
    RecordState, Value,
};
use gridsync_server::Database;
use gridsync_server::operator::Operator;
use gridsync_server_core::service::ServiceSettings;
use gridsync_server_core::storage::StorageExt;
use gridsync_server_postgres::testing::TestDatabase;
use tempfile::TempDir;

const TOWNSHIP: &str = "530102";
const VILLAGE: &str = "530102001";
const GRIDS: [&str; 3] = ["530102001-01", "530102001-02", "530102001-03"];
/// Rounds of work in each phase.
const ROUNDS: usize = 12;
/// How likely a push's answer is lost (after the server stored the push).
const LOSE_ANSWER: f64 = 0.2;
/// How long an instance may take to answer `/health` after it starts.
const READY_WITHIN: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------
// A small seeded generator (SplitMix64): the test needs no more.

#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    /// A generator of its own for a handset.
    fn fork(&mut self) -> Rng {
        Rng(self.next())
    }
}

fn seed() -> u64 {
    match std::env::var("GRIDSYNC_TEST_SEED") {
        Ok(text) => text.trim().parse().expect("GRIDSYNC_TEST_SEED is a number"),
        Err(_) => SystemTime::now().duration_since(UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

// ---------------------------------------------------------------------------
// Server processes.

/// The binary, with none of the operator's environment leaking in.
fn binary(cwd: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gridsync-server"));
    command.current_dir(cwd);
    for name in [
        "GRIDSYNC_DATA",
        "GRIDSYNC_DATABASE",
        "GRIDSYNC_CONFIG",
        "GRIDSYNC_LISTEN",
        "GRIDSYNC_WORKERS",
        "GRIDSYNC_LOG_FORMAT",
        "GRIDSYNC_TLS_CERT",
        "GRIDSYNC_TLS_KEY",
    ] {
        command.env_remove(name);
    }
    command
}

/// Runs an operator command on `database` and returns what it printed.
fn gridsync(cwd: &Path, database: &str, args: &[&str]) -> String {
    let out = binary(cwd).arg("--database").arg(database).args(args).output().expect("the binary runs");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "gridsync-server {args:?} failed: {stderr}{stdout}");
    stdout.into_owned()
}

/// A free loopback port (free when asked: the server may still lose it to
/// another process, and is then started again on another).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

/// A `gridsync-server serve` process, killed when dropped.
struct Instance {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_log(path: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut file) = File::open(path) {
        let _ = file.read_to_string(&mut text);
    }
    text
}

impl Instance {
    /// Starts `serve --database URL --listen 127.0.0.1:PORT` in `cwd` and
    /// waits until `/health` answers 200 (polling, with a deadline).
    fn start(cwd: &Path, database: &str, n: usize) -> Instance {
        // One crypto provider for every client: ring. Installing twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .expect("an HTTP client");
        for _attempt in 0..5 {
            let port = free_port();
            let log = cwd.join(format!("instance-{n}-{port}.log"));
            let stderr = File::create(&log).expect("a log file");
            let child = binary(cwd)
                .args(["--database", database, "serve", "--listen", &format!("127.0.0.1:{port}")])
                .args(["--workers", "2"])
                .env("RUST_LOG", "info")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(stderr)
                .spawn()
                .expect("the server binary starts");
            let mut instance = Instance { child, url: format!("http://127.0.0.1:{port}"), log };
            let deadline = Instant::now() + READY_WITHIN;
            loop {
                if let Some(status) = instance.child.try_wait().expect("the child can be waited for") {
                    let log = read_log(&instance.log);
                    if log.contains("cannot listen") {
                        break; // the port was taken meanwhile: another one
                    }
                    panic!("instance {n} exited before it was ready ({status}): {log}");
                }
                if let Ok(answer) = http.get(format!("{}/health", instance.url)).send()
                    && answer.status().as_u16() == 200
                {
                    let body = answer.text().unwrap_or_default();
                    assert!(body.contains("\"storage\":\"postgres\""), "instance {n} health: {body}");
                    return instance;
                }
                assert!(
                    Instant::now() < deadline,
                    "instance {n} did not answer /health within {READY_WITHIN:?}: {}",
                    read_log(&instance.log)
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        panic!("no free port for instance {n} after five attempts");
    }
}

// ---------------------------------------------------------------------------
// The independent log, kept from what travels on the wire.

/// Everything the test knows independently of the handsets and the servers.
#[derive(Debug, Default)]
struct Journal {
    /// Every change a push acknowledged (a dot counts per record).
    acked: HashSet<(RecordId, Dot)>,
    /// Every record created, with the grid it belongs to.
    records: HashMap<RecordId, String>,
    /// `accepted` summed over every push answer the servers sent (lost or not).
    accepted: u64,
    /// Pushes sent again after a lost answer, through another instance, and
    /// answered with exactly the lost changes as duplicates.
    resent: u64,
    /// Everything that went wrong, reported at the end of a phase.
    violations: Vec<String>,
}

/// A signed request as sent, and the instance it went to.
type Sent = (usize, Request);

/// What one handset's transport remembers.
#[derive(Debug, Default)]
struct Trace {
    /// Changes this device pushed that the server stored but whose
    /// acknowledgement never arrived.
    unacked: HashSet<(RecordId, Dot)>,
    /// The instance that stored a push whose answer was lost.
    lost_at: Option<usize>,
    /// Every change pulled, and every cursor issued to this device.
    delivered: HashSet<(RecordId, Dot)>,
    cursors: HashSet<u64>,
    /// The last signed push and pull that reached an instance, as sent.
    last_push: Option<Sent>,
    last_pull: Option<Sent>,
    /// Requests per instance.
    per_instance: BTreeMap<usize, u32>,
}

/// A load balancer and a wire tap in one: sends each request to a randomly
/// chosen instance and logs what was acknowledged and delivered.
struct Routed {
    device: ActorId,
    name: String,
    instances: Vec<HttpTransport>,
    journal: Arc<Mutex<Journal>>,
    state: Mutex<(Rng, Trace, bool)>,
}

fn body_of(request: &Request) -> Vec<u8> {
    let gzip = request.headers.iter().any(|(name, value)| *name == "content-encoding" && value == "gzip");
    if !gzip {
        return request.body.clone();
    }
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(request.body.as_slice())
        .read_to_end(&mut plain)
        .expect("a gzip body the handset made");
    plain
}

const BIG: Limits = Limits { max_bytes: 64 << 20, max_changes: 1_000_000 };

impl Routed {
    /// Routes over `urls`, going on from what `trace` saw before (the
    /// changes delivered and the cursors issued so far).
    fn new(
        device: ActorId,
        name: &str,
        urls: &[String],
        journal: Arc<Mutex<Journal>>,
        rng: Rng,
        trace: Trace,
    ) -> Self {
        let instances = urls.iter().map(|u| HttpTransport::new(u).expect("an HTTP client")).collect();
        let trace = Trace { delivered: trace.delivered, cursors: trace.cursors, ..Trace::default() };
        Routed { device, name: name.to_owned(), instances, journal, state: Mutex::new((rng, trace, false)) }
    }

    /// From now on, whether push answers may be lost.
    fn set_lossy(&self, lossy: bool) {
        lock(&self.state).2 = lossy;
    }

    fn violation(&self, what: String) {
        lock(&self.journal).violations.push(format!("{}: {what}", self.name));
    }

    /// Logs a push and its answer; returns whether to lose the answer.
    fn pushed(&self, at: usize, request: &Request, answer: &[u8]) -> bool {
        let push: PushRequest = wire::decode(&body_of(request), &BIG).expect("the handset's push decodes");
        let response: PushResponse = wire::decode(answer, &BIG).expect("the server's push answer decodes");
        let mut state = lock(&self.state);
        let (rng, trace, lossy) = &mut *state;
        let dots: Vec<(RecordId, Dot)> = push.changes().map(|c| (c.record, c.dot)).collect();
        let expected_duplicates = dots.iter().filter(|d| trace.unacked.contains(d)).count() as u32;
        if !response.refused.is_empty() {
            self.violation(format!("refused groups: {:?}", response.refused));
        }
        if response.duplicates != expected_duplicates
            || response.accepted as usize != dots.len() - expected_duplicates as usize
        {
            self.violation(format!(
                "push of {} changes ({expected_duplicates} already stored) at instance {at} answered \
                 {} accepted, {} duplicates",
                dots.len(),
                response.accepted,
                response.duplicates
            ));
        }
        let resend = expected_duplicates > 0;
        if resend && trace.lost_at == Some(at) {
            self.violation(format!("a resend went to instance {at}, which stored the lost push"));
        }
        let lose = *lossy && rng.chance(LOSE_ANSWER);
        let mut journal = lock(&self.journal);
        journal.accepted += u64::from(response.accepted);
        if lose {
            trace.unacked.extend(dots.iter().copied());
            trace.lost_at = Some(at);
            return true;
        }
        if resend && response.duplicates == expected_duplicates {
            journal.resent += 1;
        }
        for (group, changes) in push.groups.iter().enumerate() {
            if response.refused.iter().any(|r| r.group as usize == group) {
                continue;
            }
            for change in changes {
                if !journal.acked.insert((change.record, change.dot)) {
                    journal.violations.push(format!(
                        "{}: change {} of {} acknowledged twice",
                        self.name, change.dot, change.record
                    ));
                }
            }
        }
        trace.unacked.clear();
        trace.lost_at = None;
        trace.last_push = Some((at, request.clone()));
        false
    }

    /// Checks and logs a pull page.
    fn pulled(&self, at: usize, request: &Request, answer: &[u8]) {
        let asked: PullRequest = wire::decode(&body_of(request), &BIG).expect("the handset's pull decodes");
        let page: PullResponse = wire::decode(answer, &BIG).expect("the server's pull page decodes");
        let mut state = lock(&self.state);
        let trace = &mut state.1;
        let mut problems = Vec::new();
        if page.reset {
            problems.push(format!("instance {at} reset the cursor {}", asked.cursor));
        }
        if page.cursor != asked.cursor && !trace.cursors.insert(page.cursor) {
            problems.push(format!("instance {at} issued cursor {} a second time", page.cursor));
        }
        if !page.removed.is_empty() {
            problems.push(format!("instance {at} removed {} records: no scope changed", page.removed.len()));
        }
        let rebuilt: HashSet<RecordId> = page.rebuild.iter().copied().collect();
        for logged in &page.changes {
            let dot = logged.change.dot;
            if !rebuilt.contains(&logged.change.record) && dot.actor == self.device {
                problems.push(format!("instance {at} sent the device its own change {dot}"));
            }
            if !trace.delivered.insert((logged.change.record, dot)) {
                problems.push(format!(
                    "instance {at} delivered change {dot} of {} (seq {}) again",
                    logged.change.record, logged.seq
                ));
            }
        }
        // A snapshot delivers every change its receipts cover (ADR 0019).
        for snapshot in &page.snapshots {
            for run in &snapshot.receipts {
                for counter in run.first..=run.last {
                    let dot = Dot { actor: run.actor, counter };
                    trace.delivered.insert((snapshot.state.id(), dot));
                }
            }
        }
        trace.last_pull = Some((at, request.clone()));
        drop(state);
        for problem in problems {
            self.violation(problem);
        }
    }

    fn take_trace(&self) -> Trace {
        std::mem::take(&mut lock(&self.state).1)
    }

    /// Every change pulled so far.
    fn delivered(&self) -> HashSet<(RecordId, Dot)> {
        lock(&self.state).1.delivered.clone()
    }

    /// The instances that served this handset.
    fn instances_used(&self) -> BTreeSet<usize> {
        lock(&self.state).1.per_instance.keys().copied().collect()
    }

    /// The last push that was acknowledged, and where it went.
    fn last_push(&self) -> Option<Sent> {
        lock(&self.state).1.last_push.clone()
    }

    /// The last pull, and where it went.
    fn last_pull(&self) -> Option<Sent> {
        lock(&self.state).1.last_pull.clone()
    }
}

impl Transport for Routed {
    fn send(&self, request: Request) -> Result<Vec<u8>, Error> {
        let at = {
            let mut state = lock(&self.state);
            let (rng, trace, _) = &mut *state;
            let mut at = rng.below(self.instances.len());
            // A push sent again after a lost answer goes to another instance.
            if request.path == "/v1/sync/push"
                && let Some(lost) = trace.lost_at
                && at == lost
            {
                at = (lost + 1 + rng.below(self.instances.len() - 1)) % self.instances.len();
            }
            *trace.per_instance.entry(at).or_default() += 1;
            at
        };
        let answer = self.instances[at].send(request.clone())?;
        match request.path {
            "/v1/sync/push" if self.pushed(at, &request, &answer) => {
                return Err(Error::Network("simulated: the push answer was lost".into()));
            }
            "/v1/sync/pull" => self.pulled(at, &request, &answer),
            _ => {}
        }
        Ok(answer)
    }
}

// ---------------------------------------------------------------------------
// Handsets.

struct Phone {
    name: String,
    /// The worker's grid; `None` for the township centre (it sees all three).
    grid: Option<&'static str>,
    store: Store,
    rng: Rng,
    transport: Arc<Routed>,
    _dir: TempDir,
}

fn text(s: &str) -> Value {
    Value::from(s)
}

impl Phone {
    fn enroll(
        name: &str,
        grid: Option<&'static str>,
        code: &str,
        urls: &[String],
        journal: &Arc<Mutex<Journal>>,
        mut rng: Rng,
    ) -> Phone {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = StoreKey::generate().expect("a store key");
        let mut store = Store::init(&dir.path().join("handset.db"), &urls[0], name, &key).expect("init");
        let transport = Arc::new(Routed::new(
            store.device_id(),
            name,
            urls,
            journal.clone(),
            rng.fork(),
            Trace::default(),
        ));
        store.enroll(transport.as_ref(), code).expect("enrolled through some instance");
        Phone { name: name.to_owned(), grid, store, rng, transport, _dir: dir }
    }

    /// The same handset behind a load balancer over `urls`.
    fn route(&mut self, urls: &[String], journal: &Arc<Mutex<Journal>>) {
        let (rng, trace) = (self.rng.fork(), self.transport.take_trace());
        let device = self.store.device_id();
        self.transport = Arc::new(Routed::new(device, &self.name, urls, journal.clone(), rng, trace));
    }

    fn disputes(&self) -> Vec<RecordId> {
        let filter = RecordFilter { kind: Some(RecordKind::Dispute), ..RecordFilter::default() };
        self.store.list(&filter).expect("list").iter().map(RecordState::id).collect()
    }

    /// One round of field work, then a sync (whose push answer may be lost).
    fn work(&mut self, round: usize, journal: &Mutex<Journal>) -> Result<(), String> {
        let now = gridsync_server_core::clock::now_ms();
        let tag = format!("{} r{round} {}", self.name, self.rng.next() % 10_000);
        if let Some(grid) = self.grid {
            let patrol = self.store.start_patrol(now).map_err(|e| format!("patrol: {e}"))?;
            lock(journal).records.insert(patrol, grid.to_owned());
            self.store.end_patrol(patrol, now + 1, Some(&tag)).map_err(|e| format!("end patrol: {e}"))?;
            if round == 0 || self.rng.chance(0.5) {
                let dispute = NewDispute {
                    place: None,
                    source: "patrol".into(),
                    source_record: None,
                    category: "邻里纠纷".into(),
                    summary: Some(format!("两户争执 {tag}")),
                    risk: None,
                    parties: Vec::new(),
                    address: None,
                    due: None,
                };
                let id = self.store.register_dispute(&dispute).map_err(|e| format!("dispute: {e}"))?;
                lock(journal).records.insert(id, grid.to_owned());
            }
        }
        let held = self.disputes();
        for _ in 0..2 {
            if held.is_empty() {
                break;
            }
            let id = held[self.rng.below(held.len())];
            let edit = if self.grid.is_some() {
                self.store.set(id, [("summary".into(), text(&format!("调解中 {tag}")))])
            } else {
                self.store.set(id, [("risk".into(), Value::Int(1 + self.rng.below(4) as i64))])
            };
            edit.map_err(|e| format!("edit: {e}"))?;
            self.store.note(id, &format!("走访 {tag}")).map_err(|e| format!("note: {e}"))?;
        }
        self.sync()?;
        // Now and then a second sync: pulls while the others push.
        if self.rng.chance(0.5) { self.sync() } else { Ok(()) }
    }

    /// One sync; a lost push answer is no failure (the next sync sends the
    /// push again).
    fn sync(&mut self) -> Result<(), String> {
        match self.store.sync(self.transport.as_ref()) {
            Ok(report) if report.refused > 0 => Err(format!("{} write groups refused", report.refused)),
            Ok(_) => Ok(()),
            Err(Error::Network(reason)) if reason.starts_with("simulated") => Ok(()),
            Err(e) => Err(format!("sync: {e}")),
        }
    }

    /// Syncs until nothing is left to push (no answer is lost now).
    fn settle(&mut self) {
        self.transport.set_lossy(false);
        for _ in 0..5 {
            let report = self.store.sync(self.transport.as_ref());
            let report = report.unwrap_or_else(|e| panic!("{}: sync while settling: {e}", self.name));
            assert_eq!(report.refused, 0, "{}", self.name);
            if self.store.pending().expect("pending") == 0 {
                return;
            }
        }
        panic!("{}: changes still unsent after five syncs", self.name);
    }

    fn sees(&self, grid: &str) -> bool {
        self.grid.is_none_or(|own| own == grid)
    }
}

// ---------------------------------------------------------------------------
// Checks.

/// The server's state of a record.
fn server_state(op: &Operator, id: RecordId) -> Option<RecordState> {
    let bytes = op.run(op.service().storage().read(move |tx| Ok(tx.record_state(id)?))).expect("read");
    bytes.map(|b| RecordState::from_bytes(&b).expect("a stored record state decodes"))
}

/// Everything the end of a phase must show.
fn verify(phase: &str, phones: &[Phone], journal: &Mutex<Journal>, op: &Operator) {
    let journal = lock(journal);
    assert!(journal.violations.is_empty(), "{phase}: {:#?}", journal.violations);

    // The database holds each acknowledged change once.
    let stored = op.run(op.service().storage().read(|tx| Ok(tx.change_count()?))).expect("count");
    assert_eq!(stored, journal.acked.len() as u64, "{phase}: changes in the database vs acknowledged");
    assert_eq!(journal.accepted, stored, "{phase}: each change accepted exactly once");

    // Acknowledged dots by record and device: counters 1..=n each.
    let mut by_record: HashMap<RecordId, BTreeMap<ActorId, BTreeSet<u64>>> = HashMap::new();
    for (record, dot) in &journal.acked {
        by_record.entry(*record).or_default().entry(dot.actor).or_default().insert(dot.counter);
    }
    let devices: Vec<ActorId> = phones.iter().map(|p| p.store.device_id()).collect();
    for (record, grid) in &journal.records {
        assert!(by_record.contains_key(record), "{phase}: record {record} ({grid}) was never acknowledged");
    }

    for phone in phones {
        assert_eq!(phone.store.pending().expect("pending"), 0, "{phase}: {} has unsent changes", phone.name);

        // The pulls delivered exactly the acknowledged changes of others in
        // its scope: none skipped (a change that committed late on another
        // instance, below a cursor already issued), none made up.
        let device = phone.store.device_id();
        let expected: HashSet<(RecordId, Dot)> = journal
            .acked
            .iter()
            .filter(|(record, dot)| {
                dot.actor != device && journal.records.get(record).is_some_and(|g| phone.sees(g))
            })
            .copied()
            .collect();
        let delivered: HashSet<(RecordId, Dot)> =
            phone.transport.delivered().into_iter().filter(|(_, dot)| dot.actor != device).collect();
        let skipped: Vec<_> = expected.difference(&delivered).take(5).collect();
        let unknown: Vec<_> = delivered.difference(&expected).take(5).collect();
        assert!(
            skipped.is_empty() && unknown.is_empty(),
            "{phase}: pulls to {} skipped {} acknowledged changes (e.g. {skipped:?}) and delivered {} unknown ones \
             (e.g. {unknown:?})",
            phone.name,
            expected.difference(&delivered).count(),
            delivered.difference(&expected).count()
        );

        let held: BTreeSet<RecordId> =
            phone.store.list(&RecordFilter::default()).expect("list").iter().map(RecordState::id).collect();
        let expected: BTreeSet<RecordId> =
            journal.records.iter().filter(|(_, grid)| phone.sees(grid)).map(|(id, _)| *id).collect();
        let missing: Vec<_> = expected.difference(&held).collect();
        let extra: Vec<_> = held.difference(&expected).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{phase}: {} misses {missing:?}, has extra {extra:?}",
            phone.name
        );

        for id in &held {
            let state = phone.store.get(*id).expect("get").expect("held");
            let context = state.context();
            let acked = &by_record[id];
            for device in &devices {
                let counters = acked.get(device).cloned().unwrap_or_default();
                let n = counters.len() as u64;
                assert_eq!(
                    counters.iter().copied().max().unwrap_or(0),
                    n,
                    "{phase}: acknowledged counters of {device} on {id} have gaps: {counters:?}"
                );
                assert!(
                    context.contiguous(device) == n && context.max_counter(device) == n,
                    "{phase}: {} holds changes 1..={} (max {}) of {device} on {id}; acknowledged: 1..={n}",
                    phone.name,
                    context.contiguous(device),
                    context.max_counter(device)
                );
            }
            let server = server_state(op, *id).expect("the server holds every acknowledged record");
            assert_eq!(state, server, "{phase}: {} and the server differ on {id}", phone.name);
        }
    }

    // Handsets of one grid (and the township centre) hold identical states.
    for grid in GRIDS {
        let holders: Vec<&Phone> = phones.iter().filter(|p| p.sees(grid)).collect();
        for (id, _) in journal.records.iter().filter(|(_, g)| *g == grid) {
            let first = holders[0].store.get(*id).expect("get");
            for other in &holders[1..] {
                assert_eq!(
                    other.store.get(*id).expect("get"),
                    first,
                    "{phase}: grid {grid} diverges on {id}"
                );
            }
        }
    }
}

/// A signed request replayed byte for byte to another instance is refused.
fn replayed_elsewhere(phase: &str, urls: &[String], captured: Option<Sent>) {
    let (at, request) = captured.unwrap_or_else(|| panic!("{phase}: no request captured"));
    let elsewhere = (at + 1) % urls.len();
    let transport = HttpTransport::new(&urls[elsewhere]).expect("an HTTP client");
    match transport.send(request.clone()) {
        Err(Error::Rejected { body, status }) => {
            assert_eq!(body.code, ErrorCode::ReplayedRequest, "{phase}: {} replayed: {status}", request.path);
        }
        answer => panic!(
            "{phase}: {} sent to instance {at} and replayed to {elsewhere} was not refused: {answer:?}",
            request.path
        ),
    }
}

// ---------------------------------------------------------------------------

#[test]
fn instances_on_one_postgres_database_serve_the_same_handsets() {
    let started = Instant::now();
    let seed = seed();
    println!("scale_out seed: {seed} (replay with GRIDSYNC_TEST_SEED={seed})");
    let mut rng = Rng(seed);

    let database = TestDatabase::create();
    let url = database.url().to_owned();
    let cwd = tempfile::tempdir().expect("tempdir");
    let cwd = cwd.path();

    // The township, with the operator's commands on the database.
    let places = format!(
        "code,name,level,parent\n53,平凉市,city,\n5301,崆峒区,county,53\n{TOWNSHIP},城关镇,township,5301\n\
         {VILLAGE},东关村,village,{TOWNSHIP}\n{},第一网格,grid,{VILLAGE}\n{},第二网格,grid,{VILLAGE}\n\
         {},第三网格,grid,{VILLAGE}\n",
        GRIDS[0], GRIDS[1], GRIDS[2]
    );
    std::fs::write(cwd.join("places.csv"), places).expect("write the CSV");
    let imported = gridsync(cwd, &url, &["place", "import", "places.csv"]);
    assert!(imported.contains("7 added"), "{imported}");
    let mut people: Vec<(String, Option<&'static str>)> = Vec::new();
    for (g, grid) in GRIDS.iter().enumerate() {
        for w in 0..2 {
            let name = format!("网格员 {}{}", g + 1, w + 1);
            gridsync(cwd, &url, &["user", "add", &name, "--role", "worker", "--scope", grid]);
            people.push((name, Some(grid)));
        }
    }
    gridsync(cwd, &url, &["user", "add", "城关镇综治中心", "--role", "township_admin", "--scope", TOWNSHIP]);
    people.push(("城关镇综治中心".to_owned(), None));
    let codes: Vec<String> = people
        .iter()
        .map(|(name, _)| {
            let qr = cwd.join(format!("enroll-{}.svg", name.replace(' ', "-")));
            let qr = qr.to_str().expect("a UTF-8 path");
            gridsync(cwd, &url, &["enroll", "--user", name, "--qr", qr]).trim().to_owned()
        })
        .collect();

    let journal = Arc::new(Mutex::new(Journal::default()));
    let op = Operator::open(&Database::Postgres { url: url.clone() }, ServiceSettings::default())
        .expect("the test reads the database");
    let mut instances: Vec<Instance> = Vec::new();
    let mut phones: Vec<Phone> = Vec::new();

    for count in [2, 4] {
        let phase = format!("{count} instances");
        while instances.len() < count {
            instances.push(Instance::start(cwd, &url, instances.len()));
        }
        let urls: Vec<String> = instances.iter().map(|i| i.url.clone()).collect();
        if phones.is_empty() {
            for ((name, grid), code) in people.iter().zip(&codes) {
                phones.push(Phone::enroll(name, *grid, code, &urls, &journal, rng.fork()));
            }
        } else {
            for phone in &mut phones {
                phone.route(&urls, &journal);
            }
        }

        // Concurrent rounds: every handset in its own thread.
        let failures: Vec<String> = std::thread::scope(|s| {
            let threads: Vec<_> = phones
                .iter_mut()
                .map(|phone| {
                    let journal = &journal;
                    s.spawn(move || {
                        phone.transport.set_lossy(true);
                        let mut failures = Vec::new();
                        for round in 0..ROUNDS {
                            if let Err(e) = phone.work(round, journal) {
                                failures.push(format!("{} round {round}: {e}", phone.name));
                            }
                        }
                        failures
                    })
                })
                .collect();
            threads.into_iter().flat_map(|t| t.join().expect("a handset thread")).collect()
        });
        assert!(failures.is_empty(), "{phase}: {failures:#?}");

        // Settle: push what is left, then let everyone pull everything.
        for phone in &mut phones {
            phone.settle();
        }
        for phone in &mut phones {
            phone.settle();
        }
        verify(&phase, &phones, &journal, &op);

        let resent = lock(&journal).resent;
        assert!(resent > 0, "{phase}: no push was sent again after a lost answer");
        let used: BTreeSet<usize> = phones.iter().flat_map(|p| p.transport.instances_used()).collect();
        assert_eq!(used.len(), count, "{phase}: every instance served requests");

        // Replays of this phase's signed requests, each to another instance.
        replayed_elsewhere(&phase, &urls, phones[0].transport.last_push());
        replayed_elsewhere(&phase, &urls, phones[phones.len() - 1].transport.last_pull());

        let journal = lock(&journal);
        println!(
            "{phase}: {} records, {} changes, {} pushes sent again through another instance, {:?} so far",
            journal.records.len(),
            journal.acked.len(),
            journal.resent,
            started.elapsed()
        );
    }

    // With PostgreSQL, `serve` never made a data directory.
    assert!(!cwd.join("gridsync-data").exists(), "serve created ./gridsync-data");
    // One audit chain, appended to by every instance and the operator.
    let verdict = gridsync(cwd, &url, &["audit", "verify"]);
    assert!(verdict.contains("audit log intact"), "{verdict}");
    // No instance logged an error (a storage failure the handsets retried
    // past would show here).
    for (n, instance) in instances.iter().enumerate() {
        let log = read_log(&instance.log);
        let errors: Vec<&str> = log.lines().filter(|l| l.contains(" ERROR ")).take(5).collect();
        assert!(errors.is_empty(), "instance {n} logged errors: {errors:#?}");
    }
    drop(op);
    drop(instances);
    println!("done in {:?}", started.elapsed());
}
