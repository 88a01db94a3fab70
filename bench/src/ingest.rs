//! (b) Server ingest over HTTP: the real server, real pushes, durable acks.
//!
//! The server ([`gridsync_server::Running`]) runs in this process on a
//! loopback port with a fresh data directory, exactly as `gridsync-server`
//! runs it (actix HTTP workers, one SQLite writer thread with group commit);
//! or, for the PostgreSQL figures, as N instances on N ports sharing one
//! fresh PostgreSQL database and nothing else (each with its own service,
//! connection pool, runtime and HTTP workers), device `i` talking to
//! instance `i mod N`.
//! The hierarchy and the users are installed before it starts
//! ([`crate::deployment`]). Every simulated device enrolls with a one-time
//! code as its grid's worker, has its own HTTP client (its own keep-alive
//! connection) and sends its pushes one after the other, each only after the
//! previous one was acknowledged, the way `client-core` syncs. A push is
//! acknowledged only after the server's durable commit, so the clock, from
//! the first request to the last acknowledgement, covers everything a device
//! waits for. Every group must be accepted: a refusal fails the run.
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
use gridsync_proto::{ActorId, PushRequest, PushResponse, RecordState};
use gridsync_server::{Database, Inspector, Running, Settings};
use gridsync_server_core::clock::now_ms;
use gridsync_server_core::policy::scope::ScopeSettings;
use gridsync_server_postgres::testing::TestDatabase;
use gridsync_server_sqlite::{DB_FILE, SCHEMA};

use crate::deployment::{self, Deployment};

/// How to run the server and the devices.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// Server HTTP worker threads (0: one per core, the server's default).
    pub(crate) server_workers: usize,
    /// Threads of the devices' shared async runtime.
    pub(crate) client_threads: usize,
}

/// A running benchmark server: one instance on an embedded database, or
/// several on one PostgreSQL database.
#[derive(Debug)]
pub(crate) struct Server {
    instances: Vec<Running>,
    database: Database,
    /// The PostgreSQL database, dropped after the instances stop.
    scratch: Option<TestDatabase>,
    /// The replication budget and window in effect (the defaults).
    pub(crate) scope: ScopeSettings,
}

impl Server {
    /// Installs `deployment` in a fresh data directory under `dir` and
    /// starts the server on a free loopback port.
    pub(crate) fn start(dir: &Path, deployment: &Deployment, options: &Options) -> anyhow::Result<Self> {
        let database = Database::Embedded { data_dir: dir.join("server-data") };
        Self::start_on(database, None, 1, deployment, options, true)
    }

    /// Starts a server on the existing data directory `data_dir`, whose
    /// deployment is installed already.
    pub(crate) fn open(
        data_dir: std::path::PathBuf,
        deployment: &Deployment,
        options: &Options,
    ) -> anyhow::Result<Self> {
        Self::start_on(Database::Embedded { data_dir }, None, 1, deployment, options, false)
    }

    /// Creates a fresh database on the PostgreSQL server `admin_url`,
    /// installs `deployment` in it and starts `instances` servers on it.
    pub(crate) fn start_postgres(
        admin_url: &str,
        instances: usize,
        deployment: &Deployment,
        options: &Options,
    ) -> anyhow::Result<Self> {
        let scratch = TestDatabase::create_on(admin_url).map_err(anyhow::Error::msg)?;
        let database = Database::Postgres { url: scratch.url().to_owned() };
        Self::start_on(database, Some(scratch), instances, deployment, options, true)
    }

    fn start_on(
        database: Database,
        scratch: Option<TestDatabase>,
        instances: usize,
        deployment: &Deployment,
        options: &Options,
        install: bool,
    ) -> anyhow::Result<Self> {
        if install {
            deployment.install(&database)?;
        }
        let (data_dir, url) = match &database {
            Database::Embedded { data_dir } => (data_dir.clone(), None),
            Database::Postgres { url } => (std::env::temp_dir(), Some(url.clone())),
        };
        let mut settings = Settings::new(data_dir, "127.0.0.1:0".parse()?);
        settings.workers = options.server_workers;
        // Every simulated device enrolls from the one loopback address.
        settings.enrollments_per_minute =
            settings.enrollments_per_minute.max(10 * deployment.seats.len() as u32);
        settings.database = url;
        let scope = settings.scope;
        let instances = (0..instances.max(1))
            .map(|_| Running::start(settings.clone()).context("cannot start the server"))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Self { instances, database, scratch, scope })
    }

    /// The base URL of the first instance.
    pub(crate) fn url(&self) -> String {
        self.instances[0].url()
    }

    /// The base URL of every instance.
    pub(crate) fn urls(&self) -> Vec<String> {
        self.instances.iter().map(Running::url).collect()
    }

    /// Where the server keeps its data.
    pub(crate) fn database(&self) -> &Database {
        &self.database
    }

    /// Stops every instance, then drops a PostgreSQL database.
    pub(crate) fn stop(self) {
        for instance in self.instances {
            instance.stop();
        }
        drop(self.scratch);
    }
}

/// What the server must hold afterwards.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Expected<'a> {
    /// Records created.
    pub(crate) records: u64,
    /// Daily reports filed (one per device-day).
    pub(crate) reports: u64,
    /// Final states the server's merged states must equal.
    pub(crate) samples: &'a [RecordState],
}

/// What the run measured and found.
#[derive(Debug)]
pub(crate) struct Report {
    /// Changes sent (and acknowledged as accepted).
    pub(crate) changes: u64,
    /// Write groups sent (none refused).
    pub(crate) groups: u64,
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
    /// Sampled records whose merged state equals the device's.
    pub(crate) states_checked: u64,
    /// Rows in `daily_reports`.
    pub(crate) report_rows: u64,
    /// Rows in the access index (`record_access`).
    pub(crate) access_rows: u64,
    /// Push round-trip times.
    pub(crate) latencies: Vec<Duration>,
}

impl Report {
    /// Changes per second, end to end.
    pub(crate) fn rate(&self) -> f64 {
        self.changes as f64 / self.elapsed.as_secs_f64()
    }

    /// Whether the server holds exactly what was sent.
    pub(crate) fn verified(&self, expected: &Expected<'_>) -> bool {
        self.server_changes == self.changes
            && self.server_records == expected.records
            && self.states_checked == expected.samples.len() as u64
            && self.report_rows == expected.reports
    }
}

/// One device's pushes as `client-core` sends them: body (gzip-compressed
/// when it is worth it), whether it is compressed, changes and groups.
type Encoded = Vec<(Vec<u8>, bool, u32, u32)>;

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

/// Sends every device's pushes to `server` concurrently (device `i` as
/// user `users[i]`) and checks that the server holds what was sent. The
/// pushes are stamped with the sending time (`sent_ms`) first.
pub(crate) fn run(
    server: &Server,
    pushes: &mut [Vec<PushRequest>],
    users: &[String],
    expected: &Expected<'_>,
    options: &Options,
) -> anyhow::Result<Report> {
    let urls = server.urls();
    let sent_ms = now_ms();
    pushes.iter_mut().flatten().for_each(|p| p.sent_ms = sent_ms);
    let encoded: Vec<Encoded> = pushes
        .iter()
        .map(|device| {
            device
                .iter()
                .map(|p| {
                    let (body, gzipped) = as_sent(p);
                    (body, gzipped, p.changes().count() as u32, p.groups.len() as u32)
                })
                .collect()
        })
        .collect();
    let flat = || encoded.iter().flatten();
    let sent: u64 = flat().map(|e| u64::from(e.2)).sum();
    let groups: u64 = flat().map(|e| u64::from(e.3)).sum();
    let push_count = flat().count() as u64;
    let body_bytes = flat().map(|e| e.0.len() as u64).sum();

    // reqwest is built with `rustls-no-provider`: pick ring, as client-core does.
    let _ = rustls::crypto::ring::default_provider().install_default();
    // Every device enrolls as its grid's worker, as in the field; pushes are signed.
    let signers = pushes
        .iter()
        .zip(users)
        .enumerate()
        .map(|(i, (device, user))| {
            let id = device.first().map(|p| p.device).context("a device without pushes")?;
            enroll(server, &urls[i % urls.len()], user, id)
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
                let url = format!("{}{PUSH_PATH}", urls[i % urls.len()]);
                tokio::spawn(device(i, client, signer, url, bodies, start))
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

    let held = inspect(server.database(), expected.samples)?;
    Ok(Report {
        changes: sent,
        groups,
        pushes: push_count,
        body_bytes,
        elapsed,
        server_changes: held.changes,
        server_records: held.records,
        states_checked: held.states_checked,
        report_rows: held.report_rows,
        access_rows: held.access_rows,
        latencies,
    })
}

/// What a server's database holds after a run, read back with [`Inspector`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Held {
    /// Changes in the server's log.
    pub(crate) changes: u64,
    /// Records in the server's state.
    pub(crate) records: u64,
    /// Sampled records whose merged state equals the device's.
    pub(crate) states_checked: u64,
    /// Rows in `daily_reports`.
    pub(crate) report_rows: u64,
    /// Rows in the access index (`record_access`).
    pub(crate) access_rows: u64,
}

/// Reads back what `database` holds, and fails unless the merged state of
/// every one of `samples` equals the device's own.
pub(crate) fn inspect(database: &Database, samples: &[RecordState]) -> anyhow::Result<Held> {
    let inspector = Inspector::open(database).context("cannot inspect the server database")?;
    let changes = inspector.change_count()?;
    let records = inspector.record_count()?;
    let mut states_checked = 0;
    for sample in samples {
        let stored = inspector.record(sample.id())?;
        ensure!(
            stored.as_ref() == Some(sample),
            "the server's state of {} record {} differs from the device's",
            sample.kind(),
            sample.id()
        );
        states_checked += 1;
    }
    drop(inspector);
    let [report_rows, access_rows] = count_rows(database, ["daily_reports", "record_access"])?;
    Ok(Held { changes, records, states_checked, report_rows, access_rows })
}

/// Rows in each of `tables`, read from the database directly (the storage
/// seam counts changes and records, not index rows).
fn count_rows<const N: usize>(database: &Database, tables: [&str; N]) -> anyhow::Result<[u64; N]> {
    let mut counts = [0; N];
    match database {
        Database::Embedded { data_dir } => {
            let reader = gridsync_sql_support::open_reader(&data_dir.join(DB_FILE), &SCHEMA)?;
            for (count, table) in counts.iter_mut().zip(tables) {
                let n: i64 = reader.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
                *count = n as u64;
            }
        }
        Database::Postgres { url } => {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async {
                let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
                let driver = tokio::spawn(connection);
                for (count, table) in counts.iter_mut().zip(tables) {
                    let n: i64 =
                        client.query_one(&format!("SELECT count(*) FROM {table}"), &[]).await?.get(0);
                    *count = n as u64;
                }
                drop(client);
                let _ = driver.await;
                anyhow::Ok(())
            })?;
        }
    }
    Ok(counts)
}

/// Issues a code for `user` and enrolls `device` with a fresh key over HTTP
/// at the instance `base_url`.
fn enroll(server: &Server, base_url: &str, user: &str, device: ActorId) -> anyhow::Result<Signer> {
    let code = deployment::enrollment_code(server.database(), user)?;
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
    for (n, (body, gzipped, count, _)) in bodies.into_iter().enumerate() {
        let sent = Instant::now();
        let what = || format!("device {index} push {n}");
        let bytes = post_signed(&client, &signer, &url, PUSH_PATH, body, gzipped).await.with_context(what)?;
        let ack: PushResponse = wire::decode(&bytes, &Limits::DEFAULT)
            .with_context(|| format!("{}: bad acknowledgement", what()))?;
        latencies.push(sent.elapsed());
        check_ack(&ack, count).with_context(what)?;
        accepted += u64::from(ack.accepted);
    }
    Ok(DeviceResult { accepted, latencies, done: start.elapsed() })
}

/// The path of a push.
pub(crate) const PUSH_PATH: &str = "/v1/sync/push";

/// POSTs `body` to `url` (whose path is `path`) as `client-core`'s HTTP
/// transport sends a sync request: `application/x-gridsync`, signed by
/// `signer` over the bytes sent (the device, time, nonce and signature
/// headers of [`Signer::headers`]), `Content-Encoding: gzip` when the body
/// is compressed. Returns the answer's body; an answer other than 2xx is
/// an error that quotes the server's.
pub(crate) async fn post_signed(
    client: &reqwest::Client,
    signer: &Signer,
    url: &str,
    path: &str,
    body: Vec<u8>,
    gzipped: bool,
) -> anyhow::Result<Vec<u8>> {
    let mut request = client.post(url).header(reqwest::header::CONTENT_TYPE, wire::CONTENT_TYPE);
    for (name, value) in signer.headers("POST", path, &body)? {
        request = request.header(name, value);
    }
    if gzipped {
        request = request.header(reqwest::header::CONTENT_ENCODING, "gzip");
    }
    let response = request.body(body).send().await?;
    let status = response.status();
    let bytes = response.bytes().await?;
    if !status.is_success() {
        bail!("refused: HTTP {status}: {}", String::from_utf8_lossy(&bytes));
    }
    Ok(bytes.into())
}

/// Fails unless the server accepted all `count` changes of a push, none of
/// them as duplicates, and refused no group.
pub(crate) fn check_ack(ack: &PushResponse, count: u32) -> anyhow::Result<()> {
    if let Some(r) = ack.refused.first() {
        bail!(
            "the server refused {} group(s); group {}: {:?} {}: {}",
            ack.refused.len(),
            r.group,
            r.code,
            r.field.as_deref().unwrap_or("-"),
            r.message
        );
    }
    ensure!(
        ack.accepted == count && ack.duplicates == 0,
        "{count} changes sent, {} accepted, {} duplicates",
        ack.accepted,
        ack.duplicates
    );
    Ok(())
}
