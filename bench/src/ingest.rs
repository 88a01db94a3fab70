//! (b) Server ingest over HTTP: the real server, real pushes, durable acks.
//!
//! The server ([`gridsync_server::Running`]) runs in this process on a
//! loopback port with a fresh data directory, exactly as `gridsync-server`
//! runs it (actix HTTP workers, one SQLite writer thread with group commit).
//! Every simulated device has its own HTTP client (its own keep-alive
//! connection) and sends its pushes one after the other, each only after the
//! previous one was acknowledged, the way `client-core` syncs. A push is
//! acknowledged only after the server's durable commit, so the clock, from
//! the first request to the last acknowledgement, covers everything a device
//! waits for.
//!
//! The request bodies are encoded before the clock starts, and all devices
//! share one small async runtime, to leave as much CPU as possible to the
//! server (client and server share the machine).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use gridsync_client_core::{Signer, SigningKey};
use gridsync_proto::auth::{self, EnrollRequest};
use gridsync_proto::wire::{self, Limits};
use gridsync_proto::{ActorId, PushRequest, PushResponse, Role};
use gridsync_server::db::{DB_FILE, SCHEMA, now_ms};
use gridsync_server::{Inspector, Running, Settings, identity};

/// How to run the server and the devices.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// Server HTTP worker threads (0: one per core, the server's default).
    pub(crate) server_workers: usize,
    /// Threads of the devices' shared async runtime.
    pub(crate) client_threads: usize,
}

/// What the run measured.
#[derive(Debug)]
pub(crate) struct Report {
    /// Changes sent (and acknowledged as accepted).
    pub(crate) changes: u64,
    /// Push requests sent.
    pub(crate) pushes: u64,
    /// Request body bytes sent.
    pub(crate) body_bytes: u64,
    /// From the first request to the last acknowledgement.
    pub(crate) elapsed: Duration,
    /// Changes in the server's log afterwards, by [`Inspector`].
    pub(crate) server_changes: u64,
    /// Records in the server's state afterwards.
    pub(crate) server_records: u64,
    /// Push round-trip times.
    pub(crate) latencies: Vec<Duration>,
}

impl Report {
    /// Changes per second, end to end.
    pub(crate) fn rate(&self) -> f64 {
        self.changes as f64 / self.elapsed.as_secs_f64()
    }
}

/// One device's pushes as `client-core` sends them: body (gzip-compressed
/// when it is worth it), whether it is compressed, and number of changes.
type Encoded = Vec<(Vec<u8>, bool, u32)>;

/// Encodes a push the way `client-core`'s HTTP transport sends it.
pub(crate) fn as_sent(push: &PushRequest) -> (Vec<u8>, bool) {
    let body = wire::encode(push);
    if body.len() >= wire::COMPRESS_MIN_BYTES { (wire::gzip(&body), true) } else { (body, false) }
}

struct DeviceResult {
    accepted: u64,
    latencies: Vec<Duration>,
    done: Duration,
}

/// Starts a server in `dir`, sends every device's pushes concurrently and
/// checks that the server logged every change.
pub(crate) fn run(dir: &Path, pushes: &[Vec<PushRequest>], options: &Options) -> anyhow::Result<Report> {
    let data = dir.join("server-data");
    let mut settings = Settings::new(&data, "127.0.0.1:0".parse()?);
    settings.workers = options.server_workers;
    let server = Running::start(settings).context("cannot start the server")?;
    let url = format!("{}/v1/sync/push", server.url());

    let encoded: Vec<Encoded> = pushes
        .iter()
        .map(|device| {
            device
                .iter()
                .map(|p| {
                    let (body, gzipped) = as_sent(p);
                    (body, gzipped, p.changes.len() as u32)
                })
                .collect()
        })
        .collect();
    let sent: u64 = pushes.iter().flatten().map(|p| p.changes.len() as u64).sum();
    let push_count = pushes.iter().map(|d| d.len() as u64).sum();
    let body_bytes = encoded.iter().flatten().map(|(b, _, _)| b.len() as u64).sum();

    // reqwest is built with `rustls-no-provider`: pick ring, as client-core does.
    let _ = rustls::crypto::ring::default_provider().install_default();
    // Every device enrolls as its own worker, as in the field; pushes are signed.
    let signers = pushes
        .iter()
        .enumerate()
        .map(|(i, device)| {
            let id = device.first().map(|p| p.device).context("a device without pushes")?;
            enroll(&data, &server.url(), &format!("bench-worker-{i}"), id)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let clients = encoded
        .iter()
        .map(|_| reqwest::Client::builder().no_proxy().build())
        .collect::<Result<Vec<_>, _>>()
        .context("cannot build an HTTP client")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(options.client_threads.max(1))
        .enable_all()
        .build()?;
    let results = runtime.block_on(async move {
        let start = Instant::now();
        let tasks: Vec<_> = encoded
            .into_iter()
            .zip(clients)
            .zip(signers)
            .enumerate()
            .map(|(i, ((bodies, client), signer))| {
                tokio::spawn(device(i, client, signer, url.clone(), bodies, start))
            })
            .collect();
        let mut results = Vec::with_capacity(tasks.len());
        for task in tasks {
            results.push(task.await.context("a device task panicked")??);
        }
        anyhow::Ok(results)
    })?;

    let accepted: u64 = results.iter().map(|r| r.accepted).sum();
    let elapsed = results.iter().map(|r| r.done).max().unwrap_or_default();
    let latencies: Vec<Duration> = results.into_iter().flat_map(|r| r.latencies).collect();
    ensure!(accepted == sent, "server accepted {accepted} changes of {sent} sent");

    let inspector = Inspector::open(&data).context("cannot inspect the server database")?;
    let server_changes = inspector.change_count()?;
    let server_records = inspector.record_count()?;
    drop(inspector);
    server.stop();
    Ok(Report {
        changes: sent,
        pushes: push_count,
        body_bytes,
        elapsed,
        server_changes,
        server_records,
        latencies,
    })
}

/// Creates a worker in the server's database (as the admin CLI does),
/// issues a code and enrolls `device` with a fresh key over HTTP.
fn enroll(data: &Path, base_url: &str, user: &str, device: ActorId) -> anyhow::Result<Signer> {
    let mut conn = gridsync_sql_support::open(&data.join(DB_FILE), &SCHEMA)?;
    let tx = conn.transaction()?;
    let code = (|| {
        identity::add_user(&tx, now_ms(), "bench", user, Role::Worker, "bench", None)?;
        identity::issue_enrollment(&tx, now_ms(), "bench", user, 3_600_000)
    })()
    .map_err(|e| anyhow::anyhow!("{}", e.into_api()))?;
    tx.commit()?;
    let key = SigningKey::generate()?;
    let request = EnrollRequest { code, device, public_key: auth::b64(key.public_key()) };
    let response = reqwest::blocking::Client::builder()
        .no_proxy()
        .build()?
        .post(format!("{base_url}/v1/enroll"))
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(serde_json::to_vec(&request)?)
        .send()?;
    ensure!(response.status().is_success(), "enrollment refused: {}", response.text()?);
    Ok(Signer::new(device, key))
}

/// One device: its pushes in order, each signed and sent after the previous
/// acknowledgement.
async fn device(
    index: usize,
    client: reqwest::Client,
    signer: Signer,
    url: String,
    bodies: Encoded,
    start: Instant,
) -> anyhow::Result<DeviceResult> {
    let mut accepted = 0u64;
    let mut latencies = Vec::with_capacity(bodies.len());
    for (n, (body, gzipped, count)) in bodies.into_iter().enumerate() {
        let sent = Instant::now();
        let mut request = client.post(&url).header(reqwest::header::CONTENT_TYPE, wire::CONTENT_TYPE);
        for (name, value) in signer.headers("POST", "/v1/sync/push", &body)? {
            request = request.header(name, value);
        }
        if gzipped {
            request = request.header(reqwest::header::CONTENT_ENCODING, "gzip");
        }
        let response = request.body(body).send().await.with_context(|| format!("device {index} push {n}"))?;
        let status = response.status();
        let bytes = response.bytes().await.with_context(|| format!("device {index} push {n}"))?;
        if !status.is_success() {
            bail!("device {index} push {n} refused: HTTP {status}: {}", String::from_utf8_lossy(&bytes));
        }
        let ack: PushResponse = wire::decode(&bytes, &Limits::DEFAULT)
            .with_context(|| format!("device {index} push {n}: bad acknowledgement"))?;
        latencies.push(sent.elapsed());
        ensure!(
            ack.accepted == count && ack.duplicates == 0,
            "device {index} push {n}: {count} changes sent, {} accepted, {} duplicates",
            ack.accepted,
            ack.duplicates
        );
        accepted += u64::from(ack.accepted);
    }
    Ok(DeviceResult { accepted, latencies, done: start.elapsed() })
}
