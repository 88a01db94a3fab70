//! Fault injection: the real `gridsync-server` binary, serving the embedded
//! database of a temporary data directory on a loopback port, is killed
//! with SIGKILL at random moments while several handsets push and pull
//! concurrently, and started again on the same data directory, round after
//! round. Nothing a device was told is stored may be lost, nothing may be
//! doubled, and every device must converge.
//!
//! A township of two grids: two grid workers in each and the township
//! centre (which sees both grids), each handset a real `client-core` store
//! in its own thread, writing (patrols, disputes, edits and notes of the
//! disputes it holds) and syncing as fast as it can. A sync that fails
//! because the server died (or is starting) is simply tried again later.
//! Meanwhile a killer waits a random time (a seeded generator; the seed is
//! printed and `GRIDSYNC_TEST_SEED=N` makes the same choices again, though
//! the threads interleave as they will), kills the server with SIGKILL and
//! starts it again, `GRIDSYNC_CHAOS_ROUNDS` times (default [`ROUNDS`]).
//!
//! A transport between the handsets and the server keeps an independent log
//! of every change the server acknowledged (decoded from the push and its
//! answer as they travel, not read from the stores). At the end the server
//! is left running, every handset syncs until nothing is left to send and
//! then once more to pull everything; the server is killed one last time,
//! and its data directory opened as the operator would:
//!
//! * the log holds exactly the acknowledged changes (as many as the log
//!   counts: none doubled, none made up) and every record's merged state
//!   covers exactly the acknowledged changes of each device, without gaps;
//! * every handset holds exactly the records of its scope, each in the
//!   state the server holds (so every acknowledged edit reached every
//!   device that may see it), and no handset has anything left to send.
//!
//! The long run, with its figures, is in `docs/OPERATIONS.md` ("Fault
//! injection").

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs::File;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use gridsync_client_core::{
    Error, HttpTransport, NewDispute, RecordFilter, Request, Store, StoreKey, Transport,
};
use gridsync_proto::wire::{self, Limits};
use gridsync_proto::{ActorId, Dot, PushRequest, PushResponse, RecordId, RecordKind, RecordState, Value};
use gridsync_server::Database;
use gridsync_server::operator::Operator;
use gridsync_server_core::service::ServiceSettings;
use gridsync_server_core::storage::StorageExt;
use tempfile::TempDir;

const TOWNSHIP: &str = "620802";
const VILLAGE: &str = "620802001";
const GRIDS: [&str; 2] = ["620802001-01", "620802001-02"];
/// Kills in the short run (`cargo test`), when `GRIDSYNC_CHAOS_ROUNDS` is not set.
const ROUNDS: usize = 20;
/// The longest the server runs between a restart and its next kill.
const MAX_LIFE_MS: u64 = 1_500;
/// How long the server may take to answer `/health` after it starts.
const READY_WITHIN: Duration = Duration::from_secs(60);
/// The longest a handset pauses between two rounds of work, as people do.
const MAX_PAUSE_MS: u64 = 40;
/// Syncs each handset may need to send everything once the server stays up.
const SETTLE_SYNCS: usize = 10;

// ---------------------------------------------------------------------------
// A small seeded generator (SplitMix64).

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
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn fork(&mut self) -> Rng {
        Rng(self.next())
    }
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|text| text.trim().parse().unwrap_or_else(|_| panic!("{name} is a number")))
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

// ---------------------------------------------------------------------------
// The server process.

/// The binary, with none of the operator's environment leaking in.
fn binary(data: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gridsync-server"));
    command.arg("--data").arg(data).current_dir(data.parent().expect("the data directory has a parent"));
    for name in [
        "GRIDSYNC_DATA",
        "GRIDSYNC_DATABASE",
        "GRIDSYNC_CONFIG",
        "GRIDSYNC_LISTEN",
        "GRIDSYNC_WORKERS",
        "GRIDSYNC_LOG_FORMAT",
        "GRIDSYNC_TLS_CERT",
        "GRIDSYNC_TLS_KEY",
        "GRIDSYNC_METRICS_TOKEN",
    ] {
        command.env_remove(name);
    }
    command
}

/// Runs an operator command on the data directory; what it printed.
fn gridsync(data: &Path, args: &[&str]) -> String {
    let out = binary(data).args(args).output().expect("the binary runs");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "gridsync-server {args:?} failed: {stderr}{stdout}");
    stdout.into_owned()
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

fn read_log(path: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut file) = File::open(path) {
        let _ = file.read_to_string(&mut text);
    }
    text
}

/// Where the handsets find the server: its URL changes only when a
/// restart cannot have its port back.
#[derive(Debug, Default)]
struct Address {
    url: Mutex<String>,
}

/// `gridsync-server serve` on the data directory, killed with SIGKILL and
/// started again on demand.
struct Server {
    data: PathBuf,
    logs: PathBuf,
    port: u16,
    child: Option<Child>,
    address: Arc<Address>,
    starts: usize,
}

impl Server {
    fn new(data: &Path, logs: &Path) -> Server {
        let address = Arc::new(Address::default());
        Server {
            data: data.to_owned(),
            logs: logs.to_owned(),
            port: free_port(),
            child: None,
            address,
            starts: 0,
        }
    }

    /// Starts the server and waits (with a deadline) until `/health` answers
    /// 200. Keeps the port of the last run unless it cannot be had.
    fn start(&mut self) {
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .expect("an HTTP client");
        for _attempt in 0..10 {
            self.starts += 1;
            let log = self.logs.join(format!("serve-{}.log", self.starts));
            let stderr = File::create(&log).expect("a log file");
            let mut child = binary(&self.data)
                .args(["serve", "--listen", &format!("127.0.0.1:{}", self.port), "--workers", "2"])
                .env("RUST_LOG", "warn")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(stderr)
                .spawn()
                .expect("the server binary starts");
            let url = format!("http://127.0.0.1:{}", self.port);
            let deadline = Instant::now() + READY_WITHIN;
            loop {
                if let Some(status) = child.try_wait().expect("the child can be waited for") {
                    let text = read_log(&log);
                    assert!(text.contains("cannot listen"), "the server exited on start ({status}): {text}");
                    self.port = free_port(); // the port was taken meanwhile
                    break;
                }
                if http.get(format!("{url}/health")).send().is_ok_and(|a| a.status().as_u16() == 200) {
                    *lock(&self.address.url) = url;
                    self.child = Some(child);
                    return;
                }
                assert!(Instant::now() < deadline, "no /health within {READY_WITHIN:?}: {}", read_log(&log));
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("the server could not start on a free port ten times over");
    }

    /// SIGKILL, then waits for the process to be gone.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL reaches the server");
            child.wait().expect("the killed server is reaped");
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

// ---------------------------------------------------------------------------
// The independent log.

/// Everything the test knows, from the wire, of what the server acknowledged.
#[derive(Debug, Default)]
struct Journal {
    /// Every change a push answer acknowledged (accepted or duplicate).
    acked: HashSet<(RecordId, Dot)>,
    /// Every record made, with its grid.
    records: HashMap<RecordId, &'static str>,
    /// Push answers received.
    answers: u64,
    /// Changes those answers called duplicates: sent again after the server
    /// stored them but died before it answered.
    duplicates: u64,
    /// Requests that failed because the server was down or died.
    failed: u64,
}

/// A transport to wherever the server is now, logging every acknowledged change.
struct Tapped {
    address: Arc<Address>,
    journal: Arc<Mutex<Journal>>,
    client: Mutex<Option<(String, Arc<HttpTransport>)>>,
}

const BIG: Limits = Limits { max_bytes: 64 << 20, max_changes: 1_000_000 };

fn body_of(request: &Request) -> Vec<u8> {
    let gzip = request.headers.iter().any(|(name, value)| *name == "content-encoding" && value == "gzip");
    if !gzip {
        return request.body.clone();
    }
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(request.body.as_slice()).read_to_end(&mut plain).expect("a gzip body");
    plain
}

impl Tapped {
    fn transport(&self) -> Arc<HttpTransport> {
        let url = lock(&self.address.url).clone();
        let mut client = lock(&self.client);
        match &*client {
            Some((at, transport)) if *at == url => transport.clone(),
            _ => {
                let transport = Arc::new(HttpTransport::new(&url).expect("an HTTP client"));
                *client = Some((url, transport.clone()));
                transport
            }
        }
    }
}

impl Transport for Tapped {
    fn send(&self, request: Request) -> Result<Vec<u8>, Error> {
        let push = (request.path == "/v1/sync/push").then(|| body_of(&request));
        let answer = self.transport().send(request);
        let mut journal = lock(&self.journal);
        match (&answer, push) {
            (Ok(bytes), Some(body)) => {
                let push: PushRequest = wire::decode(&body, &BIG).expect("the handset's push decodes");
                let response: PushResponse = wire::decode(bytes, &BIG).expect("the push answer decodes");
                journal.answers += 1;
                journal.duplicates += u64::from(response.duplicates);
                for (group, changes) in push.groups.iter().enumerate() {
                    if response.refused.iter().any(|r| r.group as usize == group) {
                        continue;
                    }
                    journal.acked.extend(changes.iter().map(|c| (c.record, c.dot)));
                }
            }
            (Err(_), _) => journal.failed += 1,
            (Ok(_), None) => {}
        }
        answer
    }
}

// ---------------------------------------------------------------------------
// Handsets.

struct Phone {
    name: String,
    /// The worker's grid; `None` for the township centre.
    grid: Option<&'static str>,
    store: Store,
    rng: Rng,
    transport: Tapped,
    _dir: TempDir,
}

impl Phone {
    fn enroll(
        name: &str,
        grid: Option<&'static str>,
        code: &str,
        address: &Arc<Address>,
        journal: &Arc<Mutex<Journal>>,
        rng: Rng,
    ) -> Phone {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = StoreKey::generate().expect("a store key");
        let url = lock(&address.url).clone();
        let mut store = Store::init(&dir.path().join("handset.db"), &url, name, &key).expect("init");
        let transport =
            Tapped { address: address.clone(), journal: journal.clone(), client: Mutex::new(None) };
        store.enroll(&transport, code).expect("enrolled");
        Phone { name: name.to_owned(), grid, store, rng, transport, _dir: dir }
    }

    fn sees(&self, grid: &str) -> bool {
        self.grid.is_none_or(|own| own == grid)
    }

    /// Some field work, each write durable in the store before it returns.
    fn work(&mut self, round: u64, journal: &Mutex<Journal>) {
        let now = gridsync_server_core::clock::now_ms();
        let tag = format!("{} {round} {}", self.name, self.rng.below(10_000));
        if let Some(grid) = self.grid {
            if round == 0 || self.rng.chance(25) {
                let patrol = self.store.start_patrol(now).expect("a patrol");
                lock(journal).records.insert(patrol, grid);
                self.store.end_patrol(patrol, now + 1, Some(&tag)).expect("the patrol ends");
            }
            if round == 0 || self.rng.chance(10) {
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
                let id = self.store.register_dispute(&dispute).expect("a dispute");
                lock(journal).records.insert(id, grid);
            }
        }
        let filter = RecordFilter { kind: Some(RecordKind::Dispute), ..RecordFilter::default() };
        let held: Vec<RecordId> =
            self.store.list(&filter).expect("list").iter().map(RecordState::id).collect();
        if !held.is_empty() {
            let id = held[self.rng.below(held.len() as u64) as usize];
            if self.grid.is_some() {
                self.store
                    .set(id, [("summary".into(), Value::from(format!("调解中 {tag}")))])
                    .expect("an edit");
            } else {
                let risk = Value::Int(1 + self.rng.below(4) as i64);
                self.store.set(id, [("risk".into(), risk)]).expect("an edit");
            }
            self.store.note(id, &format!("走访 {tag}")).expect("a note");
        }
    }

    /// One sync; a failure because the server is down is no failure.
    fn sync(&mut self) -> Result<bool, String> {
        match self.store.sync(&self.transport) {
            Ok(report) if report.refused > 0 => Err(format!("{} write groups refused", report.refused)),
            Ok(report) if report.skipped > 0 => Err(format!("{} pulled changes skipped", report.skipped)),
            Ok(_) => Ok(true),
            Err(Error::Network(_)) => Ok(false),
            Err(Error::Rejected { status: 503, .. }) => Ok(false),
            Err(e) => Err(format!("sync: {e}")),
        }
    }

    /// Syncs until nothing is left to send, then once more (the server stays up now).
    fn settle(&mut self) {
        for _ in 0..SETTLE_SYNCS {
            let synced = self.sync().unwrap_or_else(|e| panic!("{} while settling: {e}", self.name));
            if synced && self.store.pending().expect("pending") == 0 {
                return;
            }
        }
        panic!("{}: changes still unsent after {SETTLE_SYNCS} syncs", self.name);
    }
}

// ---------------------------------------------------------------------------
// Checks.

fn server_state(op: &Operator, id: RecordId) -> Option<RecordState> {
    let bytes = op.run(op.service().storage().read(move |tx| Ok(tx.record_state(id)?))).expect("read");
    bytes.map(|b| RecordState::from_bytes(&b).expect("a stored record state decodes"))
}

fn verify(phones: &[Phone], journal: &Journal, op: &Operator) {
    // The log holds each acknowledged change once, and nothing else.
    let stored = op.run(op.service().storage().read(|tx| Ok(tx.change_count()?))).expect("count");
    assert_eq!(stored, journal.acked.len() as u64, "changes in the log vs changes acknowledged");

    let mut by_record: HashMap<RecordId, BTreeMap<ActorId, BTreeSet<u64>>> = HashMap::new();
    for (record, dot) in &journal.acked {
        by_record.entry(*record).or_default().entry(dot.actor).or_default().insert(dot.counter);
    }
    let devices: Vec<ActorId> = phones.iter().map(|p| p.store.device_id()).collect();
    for (id, grid) in &journal.records {
        let acked =
            by_record.get(id).unwrap_or_else(|| panic!("record {id} ({grid}) was never acknowledged"));
        let server = server_state(op, *id).unwrap_or_else(|| panic!("the server lost record {id}"));
        let context = server.context();
        for device in &devices {
            let counters = acked.get(device).cloned().unwrap_or_default();
            let n = counters.len() as u64;
            assert_eq!(
                counters.last().copied().unwrap_or(0),
                n,
                "acknowledged counters of {device} on {id}: {counters:?}"
            );
            assert!(
                context.contiguous(device) == n && context.max_counter(device) == n,
                "the server holds changes 1..={} (max {}) of {device} on {id}; acknowledged: 1..={n}",
                context.contiguous(device),
                context.max_counter(device)
            );
        }
    }
    for (record, _) in &journal.acked {
        assert!(
            journal.records.contains_key(record),
            "a change of an unknown record {record} was acknowledged"
        );
    }

    for phone in phones {
        assert_eq!(phone.store.pending().expect("pending"), 0, "{} has unsent changes", phone.name);
        let held: BTreeSet<RecordId> =
            phone.store.list(&RecordFilter::default()).expect("list").iter().map(RecordState::id).collect();
        let expected: BTreeSet<RecordId> =
            journal.records.iter().filter(|(_, grid)| phone.sees(grid)).map(|(id, _)| *id).collect();
        let missing: Vec<_> = expected.difference(&held).take(5).collect();
        let extra: Vec<_> = held.difference(&expected).take(5).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{} misses {missing:?}, has extra {extra:?}",
            phone.name
        );
        for id in &held {
            let state = phone.store.get(*id).expect("get").expect("held");
            assert_eq!(Some(state), server_state(op, *id), "{} and the server differ on {id}", phone.name);
        }
    }
}

// ---------------------------------------------------------------------------

#[test]
fn acknowledged_edits_survive_a_server_killed_at_random() {
    let started = Instant::now();
    let seed = env_number("GRIDSYNC_TEST_SEED")
        .unwrap_or_else(|| SystemTime::now().duration_since(UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64));
    let rounds = env_number("GRIDSYNC_CHAOS_ROUNDS").map_or(ROUNDS, |n| n as usize);
    println!("chaos seed: {seed} (replay with GRIDSYNC_TEST_SEED={seed}); {rounds} kills");
    let mut rng = Rng(seed);

    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).expect("a log directory");

    // The township, with the operator's commands on the data directory.
    let places = format!(
        "code,name,level,parent\n62,平凉市,city,\n6208,崆峒区,county,62\n{TOWNSHIP},崆峒镇,township,6208\n\
         {VILLAGE},东关村,village,{TOWNSHIP}\n{},第一网格,grid,{VILLAGE}\n{},第二网格,grid,{VILLAGE}\n",
        GRIDS[0], GRIDS[1]
    );
    let csv = dir.path().join("places.csv");
    std::fs::write(&csv, places).expect("write the CSV");
    let imported = gridsync(&data, &["place", "import", csv.to_str().expect("a UTF-8 path")]);
    assert!(imported.contains("6 added"), "{imported}");
    let mut people: Vec<(String, Option<&'static str>)> = Vec::new();
    for (g, grid) in GRIDS.iter().enumerate() {
        for w in 0..2 {
            let name = format!("网格员 {}{}", g + 1, w + 1);
            gridsync(&data, &["user", "add", &name, "--role", "worker", "--scope", grid]);
            people.push((name, Some(grid)));
        }
    }
    gridsync(&data, &["user", "add", "崆峒镇综治中心", "--role", "township_admin", "--scope", TOWNSHIP]);
    people.push(("崆峒镇综治中心".to_owned(), None));
    let codes: Vec<String> = people
        .iter()
        .enumerate()
        .map(|(n, (name, _))| {
            let qr = dir.path().join(format!("enroll-{n}.svg"));
            gridsync(&data, &["enroll", "--user", name, "--qr", qr.to_str().expect("a UTF-8 path")])
                .trim()
                .to_owned()
        })
        .collect();

    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut server = Server::new(&data, &logs);
    server.start();
    let journal = Arc::new(Mutex::new(Journal::default()));
    let mut phones: Vec<Phone> = people
        .iter()
        .zip(&codes)
        .map(|((name, grid), code)| Phone::enroll(name, *grid, code, &server.address, &journal, rng.fork()))
        .collect();

    // The handsets work and sync in their threads; the killer kills.
    let stop = AtomicBool::new(false);
    let syncs = AtomicU64::new(0);
    let mut killer = rng.fork();
    let failures: Vec<String> = std::thread::scope(|s| {
        let threads: Vec<_> = phones
            .iter_mut()
            .map(|phone| {
                let (journal, stop, syncs) = (&journal, &stop, &syncs);
                s.spawn(move || {
                    let mut round = 0;
                    while !stop.load(Ordering::SeqCst) {
                        phone.work(round, journal);
                        round += 1;
                        match phone.sync() {
                            Ok(true) => {
                                syncs.fetch_add(1, Ordering::Relaxed);
                            }
                            // The server is down: the next round tries again.
                            Ok(false) => {}
                            Err(e) => return Some(format!("{} round {round}: {e}", phone.name)),
                        }
                        let pause = phone.rng.below(MAX_PAUSE_MS);
                        std::thread::sleep(Duration::from_millis(pause));
                    }
                    None
                })
            })
            .collect();
        for kill in 0..rounds {
            std::thread::sleep(Duration::from_millis(killer.below(MAX_LIFE_MS) + 1));
            server.kill();
            if kill % 10 == 9 || kill + 1 == rounds {
                let journal = lock(&journal);
                println!(
                    "{} kills, {} changes acknowledged, {} syncs, {:?}",
                    kill + 1,
                    journal.acked.len(),
                    syncs.load(Ordering::Relaxed),
                    started.elapsed()
                );
            }
            server.start();
        }
        stop.store(true, Ordering::SeqCst);
        threads.into_iter().filter_map(|t| t.join().expect("a handset thread")).collect()
    });
    assert!(failures.is_empty(), "{failures:#?}");

    // The server stays up now: send everything, then let everyone pull everything.
    for phone in &mut phones {
        phone.settle();
    }
    for phone in &mut phones {
        phone.settle();
    }
    // One last kill; then the data directory as the operator opens it.
    server.kill();
    let op = Operator::open(&Database::Embedded { data_dir: data.clone() }, ServiceSettings::default())
        .expect("the data directory opens after the last kill");
    let journal = lock(&journal);
    verify(&phones, &journal, &op);
    let verdict = gridsync(&data, &["audit", "verify"]);
    assert!(verdict.contains("audit log intact"), "{verdict}");
    println!(
        "chaos: {rounds} kills, {} server starts, {} records, {} changes acknowledged, {} push answers \
         ({} changes in them stored before a kill and sent again), {} syncs completed, {} requests failed on a dead server, \
         in {:?} (seed {seed})",
        server.starts,
        journal.records.len(),
        journal.acked.len(),
        journal.answers,
        journal.duplicates,
        syncs.load(Ordering::Relaxed),
        journal.failed,
        started.elapsed()
    );
}
