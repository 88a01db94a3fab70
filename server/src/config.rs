//! Server settings: command-line flags over environment variables over an
//! optional TOML file over defaults.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use gridsync_proto::date::CHINA_UTC_OFFSET_MINUTES;
use gridsync_proto::wire::Limits;
use serde::Deserialize;

use crate::backend::Database;
use crate::blobs::{AttachmentSettings, StoreKind};
use crate::files;

use gridsync_server_core::policy::scope::ScopeSettings;
use gridsync_server_core::service::ServiceSettings;
use gridsync_server_postgres::PgOptions;

/// Default data directory, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "./gridsync-data";
/// Default listen address: loopback only until an operator opens it up.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// Everything the server needs to run.
#[derive(Clone)]
pub struct Settings {
    /// Directory holding the embedded database (created on first start)
    /// and the TLS files `tls self-signed` writes. Not used for the data
    /// when [`database`](Self::database) names PostgreSQL.
    pub data_dir: PathBuf,
    /// `--database` / `GRIDSYNC_DATABASE` / `database = "…"`: a PostgreSQL
    /// URL, or `None` for the embedded SQLite database in
    /// [`data_dir`](Self::data_dir). May hold a password: read it through
    /// [`Settings::database`] and show it with [`Database::describe`].
    pub database: Option<String>,
    /// Most connections this process keeps to PostgreSQL (every instance
    /// keeps its own pool: instances × this must stay under the server's
    /// `max_connections`).
    pub database_pool_size: usize,
    /// Address to listen on.
    pub listen: SocketAddr,
    /// HTTP worker threads (0: one per core).
    pub workers: usize,
    /// Wire limits for incoming pushes.
    pub limits: Limits,
    /// Limits on slow or hostile clients: concurrent body reads, read
    /// timeouts, connections.
    pub edge: EdgeLimits,
    /// Most changes in one pull page.
    pub max_page: u32,
    /// Log as JSON lines instead of text.
    pub json_logs: bool,
    /// PEM file with the server certificate chain (leaf first). HTTPS is
    /// served when both this and [`tls_key`](Self::tls_key) are set.
    pub tls_cert: Option<PathBuf>,
    /// PEM file with the private key of the server certificate.
    pub tls_key: Option<PathBuf>,
    /// Enrollment attempts allowed per minute from one address. A training
    /// session enrolls a township's phones from one Wi-Fi; codes carry 100
    /// random bits, so the limit guards the audit log, not the codes.
    pub enrollments_per_minute: u32,
    /// Admin login attempts allowed per minute from one address.
    pub logins_per_minute: u32,
    /// Reverse proxies (load balancers) in front of the server: for a
    /// request from one of them, the rate limits count the client address
    /// it names in `X-Forwarded-For` instead of the proxy's.
    pub trusted_proxies: Vec<IpAddr>,
    /// What each device holds: its record budget and the replication window.
    pub scope: ScopeSettings,
    /// The deployment's time zone, minutes east of UTC (China: 480): when a
    /// day starts, for daily reports.
    pub utc_offset_minutes: i32,
    /// `metrics_token` / `GRIDSYNC_METRICS_TOKEN`: the bearer token that
    /// reads `/metrics` from any address (at least
    /// [`crate::metrics::MIN_TOKEN_LEN`] characters); `None`: only this
    /// machine may, directly ([`crate::metrics::Access`]).
    pub metrics_token: Option<String>,
    /// `[attachments]`: where attachment bytes live and how much devices
    /// may upload ([`crate::blobs`]).
    pub attachments: AttachmentSettings,
}

impl Settings {
    /// What the service layer needs of these settings. Attachment limits
    /// out of bounds count as the defaults here; `serve` refuses them first
    /// ([`AttachmentSettings::limits`]).
    pub fn service(&self) -> ServiceSettings {
        ServiceSettings {
            scope: self.scope,
            utc_offset_minutes: self.utc_offset_minutes,
            attachments: self.attachments.limits().unwrap_or_default(),
        }
    }

    /// Defaults with the given data directory and listen address.
    pub fn new(data_dir: impl Into<PathBuf>, listen: SocketAddr) -> Self {
        Self {
            data_dir: data_dir.into(),
            database: None,
            database_pool_size: PgOptions::default().pool_size,
            listen,
            workers: 0,
            limits: Limits::DEFAULT,
            edge: EdgeLimits::default(),
            max_page: 1_000,
            json_logs: false,
            tls_cert: None,
            tls_key: None,
            enrollments_per_minute: 60,
            logins_per_minute: 5,
            trusted_proxies: Vec::new(),
            scope: ScopeSettings::default(),
            utc_offset_minutes: CHINA_UTC_OFFSET_MINUTES,
            metrics_token: None,
            attachments: AttachmentSettings::default(),
        }
    }

    /// Who may read `/metrics`; fails when the token is too short to guess
    /// at.
    pub fn metrics_access(&self) -> anyhow::Result<crate::metrics::Access> {
        if let Some(token) = &self.metrics_token
            && token.trim().chars().count() < crate::metrics::MIN_TOKEN_LEN
        {
            anyhow::bail!(
                "metrics_token is too short: use at least {} characters (e.g. `openssl rand -hex 24`)",
                crate::metrics::MIN_TOKEN_LEN
            );
        }
        Ok(crate::metrics::Access::new(self.metrics_token.as_deref().map(str::trim)))
    }

    /// Where the data lives: the PostgreSQL database of
    /// [`database`](Self::database), or else the embedded one in
    /// [`data_dir`](Self::data_dir). Fails when `database` is set to
    /// something other than a PostgreSQL URL.
    pub fn database(&self) -> anyhow::Result<Database> {
        Database::resolve(&self.data_dir, self.database.as_deref())
    }

    /// Layers `--tls-cert` / `GRIDSYNC_TLS_CERT` and `--tls-key` /
    /// `GRIDSYNC_TLS_KEY` over what [`resolve`] took from the file. Each path
    /// wins on its own; a missing half is reported by [`tls_files`](Self::tls_files).
    pub fn override_tls(&mut self, cert: Option<PathBuf>, key: Option<PathBuf>) {
        if cert.is_some() {
            self.tls_cert = cert;
        }
        if key.is_some() {
            self.tls_key = key;
        }
    }

    /// The certificate and key files when HTTPS is configured, `None` for
    /// plain HTTP, and an error when only one of the two is set.
    pub fn tls_files(&self) -> anyhow::Result<Option<(&Path, &Path)>> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Ok(Some((cert, key))),
            (None, None) => Ok(None),
            (Some(cert), None) => anyhow::bail!(
                "TLS certificate {} is set but no TLS key: set both tls_cert and tls_key \
                 (--tls-cert and --tls-key) to serve HTTPS, or neither for plain HTTP",
                cert.display()
            ),
            (None, Some(key)) => anyhow::bail!(
                "TLS key {} is set but no TLS certificate: set both tls_cert and tls_key \
                 (--tls-cert and --tls-key) to serve HTTPS, or neither for plain HTTP",
                key.display()
            ),
        }
    }
}

/// Every setting, with a password in [`Settings::database`] shown as `***`.
impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let database = self.database.as_deref().map(gridsync_server_postgres::redacted);
        f.debug_struct("Settings")
            .field("data_dir", &self.data_dir)
            .field("database", &database)
            .field("database_pool_size", &self.database_pool_size)
            .field("listen", &self.listen)
            .field("workers", &self.workers)
            .field("limits", &self.limits)
            .field("edge", &self.edge)
            .field("max_page", &self.max_page)
            .field("json_logs", &self.json_logs)
            .field("tls_cert", &self.tls_cert)
            .field("tls_key", &self.tls_key)
            .field("enrollments_per_minute", &self.enrollments_per_minute)
            .field("logins_per_minute", &self.logins_per_minute)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("scope", &self.scope)
            .field("utc_offset_minutes", &self.utc_offset_minutes)
            .field("metrics_token", &self.metrics_token.as_ref().map(|_| "***"))
            .field("attachments", &self.attachments)
            .finish()
    }
}

/// What the server allows slow or hostile clients (see `docs/SECURITY.md`,
/// "Memory under hostile clients"). A sync request's body is read only
/// after its headers passed authentication, and only while a permit is
/// free: at most [`max_body_reads`](Self::max_body_reads) bodies at once
/// in the process, [`max_body_reads_per_device`](Self::max_body_reads_per_device)
/// per device, each within [`body_read_timeout`](Self::body_read_timeout).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeLimits {
    /// Most sync bodies read (and processed) at once in this process; a
    /// request over it is refused with `unavailable` (503) and `Retry-After`.
    pub max_body_reads: usize,
    /// Most sync bodies read at once for one device; a request over it is
    /// refused with `rate_limited` (429) and `Retry-After`.
    pub max_body_reads_per_device: usize,
    /// Longest a sync body may take to arrive, whole.
    pub body_read_timeout: Duration,
    /// Longest a sync body may pause between two pieces.
    pub body_idle_timeout: Duration,
    /// Longest a client may take to send a request's head (actix
    /// `client_request_timeout`).
    pub client_request_timeout: Duration,
    /// Longest a client may take to acknowledge the end of a connection
    /// (actix `client_disconnect_timeout`).
    pub client_disconnect_timeout: Duration,
    /// How long an idle connection is kept open for its next request.
    pub keep_alive: Duration,
    /// Most connections open at once per worker thread (actix
    /// `max_connections`); others wait in the listen backlog.
    pub max_connections_per_worker: usize,
}

impl Default for EdgeLimits {
    fn default() -> Self {
        Self {
            max_body_reads: 16,
            max_body_reads_per_device: 2,
            body_read_timeout: Duration::from_secs(60),
            body_idle_timeout: Duration::from_secs(15),
            client_request_timeout: Duration::from_secs(5),
            client_disconnect_timeout: Duration::from_secs(2),
            keep_alive: Duration::from_secs(10),
            max_connections_per_worker: 256,
        }
    }
}

/// The optional TOML file. Every key is optional.
///
/// ```toml
/// data = "/var/lib/gridsync"
/// database = "postgres://gridsync@db.lan/gridsync"   # leave out for the embedded SQLite in `data`
/// database_pool_size = 16                            # connections to PostgreSQL per process
/// listen = "0.0.0.0:8080"
/// workers = 2
/// max_body_bytes = 4194304
/// max_body_reads = 16
/// max_body_reads_per_device = 2
/// body_read_timeout_secs = 60
/// body_idle_timeout_secs = 15
/// client_request_timeout_secs = 5
/// client_disconnect_timeout_secs = 2
/// keep_alive_secs = 10
/// max_connections_per_worker = 256
/// max_changes_per_push = 1000
/// max_page = 1000
/// log_format = "json"
/// tls_cert = "/var/lib/gridsync/tls/cert.pem"
/// tls_key = "/var/lib/gridsync/tls/key.pem"
/// enrollments_per_minute = 60
/// logins_per_minute = 5
/// trusted_proxies = ["10.0.0.2"]   # load balancers whose X-Forwarded-For names the client
/// device_record_budget = 10000
/// replication_days = 90
/// utc_offset_minutes = 480
/// metrics_token = "…"              # bearer token for /metrics; leave out to serve it to this machine only
///
/// [attachments]
/// store = "s3"                     # or "fs" (the default): <data>/blobs
/// max_file_mb = 20                 # largest attachment, 1 to 20
/// max_device_mb_per_day = 200      # new uploads per device per day
///
/// [attachments.s3]                 # credentials only from the environment
/// endpoint = "https://oss-cn-hangzhou.aliyuncs.com"
/// bucket = "gridsync-attachments"
/// region = "oss-cn-hangzhou"
/// prefix = "county-1"
/// allow_http = false
/// virtual_hosted_style = true
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSettings {
    /// Data directory.
    pub data: Option<PathBuf>,
    /// A PostgreSQL URL (`postgres://…`) instead of the embedded database.
    pub database: Option<String>,
    /// Most connections to PostgreSQL per server process (1 to 1000).
    pub database_pool_size: Option<usize>,
    /// Listen address.
    pub listen: Option<SocketAddr>,
    /// HTTP worker threads.
    pub workers: Option<usize>,
    /// Largest push body in bytes.
    pub max_body_bytes: Option<usize>,
    /// Most sync bodies read at once in the process.
    pub max_body_reads: Option<usize>,
    /// Most sync bodies read at once for one device.
    pub max_body_reads_per_device: Option<usize>,
    /// Seconds a sync body may take to arrive.
    pub body_read_timeout_secs: Option<u64>,
    /// Seconds a sync body may pause between two pieces.
    pub body_idle_timeout_secs: Option<u64>,
    /// Seconds a client may take to send a request's head.
    pub client_request_timeout_secs: Option<u64>,
    /// Seconds a client may take to acknowledge a connection's end.
    pub client_disconnect_timeout_secs: Option<u64>,
    /// Seconds an idle connection is kept open.
    pub keep_alive_secs: Option<u64>,
    /// Most open connections per worker thread.
    pub max_connections_per_worker: Option<usize>,
    /// Most changes in one push.
    pub max_changes_per_push: Option<usize>,
    /// Most changes in one pull page.
    pub max_page: Option<u32>,
    /// `text` or `json`.
    pub log_format: Option<LogFormat>,
    /// PEM certificate chain for HTTPS.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for HTTPS.
    pub tls_key: Option<PathBuf>,
    /// Enrollment attempts per minute from one address.
    pub enrollments_per_minute: Option<u32>,
    /// Admin login attempts per minute from one address.
    pub logins_per_minute: Option<u32>,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Option<Vec<IpAddr>>,
    /// Most records on one device.
    pub device_record_budget: Option<u32>,
    /// Days records other than open disputes stay on devices after their last change.
    pub replication_days: Option<u32>,
    /// The deployment's time zone, minutes east of UTC.
    pub utc_offset_minutes: Option<i32>,
    /// Bearer token that reads `/metrics` from any address.
    pub metrics_token: Option<String>,
    /// `[attachments]`: the blob store and upload limits.
    pub attachments: Option<FileAttachments>,
}

/// The `[attachments]` table of the settings file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileAttachments {
    /// `fs` or `s3`.
    pub store: Option<StoreKind>,
    /// Largest attachment, in MiB.
    pub max_file_mb: Option<u64>,
    /// Most MiB of new uploads per device per day.
    pub max_device_mb_per_day: Option<u64>,
    /// `[attachments.s3]`: the bucket (credentials come from the environment).
    pub s3: Option<FileS3>,
}

/// The `[attachments.s3]` table of the settings file. No credentials: they
/// come from the environment ([`S3Credentials::from_env`]).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileS3 {
    /// The service's URL; leave out for Amazon S3.
    pub endpoint: Option<String>,
    /// The bucket.
    pub bucket: Option<String>,
    /// The region.
    pub region: Option<String>,
    /// Key prefix.
    pub prefix: Option<String>,
    /// Whether a plain `http://` endpoint is allowed.
    pub allow_http: Option<bool>,
    /// Whether buckets are addressed as `BUCKET.endpoint`.
    pub virtual_hosted_style: Option<bool>,
}

/// The environment variables that hold the S3 access key id and secret
/// ([`S3Credentials::from_env`]); `AWS_ACCESS_KEY_ID` and
/// `AWS_SECRET_ACCESS_KEY` are read when neither is set.
pub const S3_CREDENTIAL_ENV: [&str; 2] = ["GRIDSYNC_S3_ACCESS_KEY_ID", "GRIDSYNC_S3_SECRET_ACCESS_KEY"];

/// The S3 access key id and secret, from the environment only (never a
/// flag, which `ps` shows, nor the settings file). `Debug` hides both.
#[derive(Default, Clone, PartialEq, Eq)]
pub struct S3Credentials {
    /// The access key id.
    pub access_key_id: Option<String>,
    /// The secret access key.
    pub secret_access_key: Option<String>,
}

impl S3Credentials {
    /// [`S3_CREDENTIAL_ENV`] when either is set, else `AWS_ACCESS_KEY_ID`
    /// and `AWS_SECRET_ACCESS_KEY`.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let [id, secret] = S3_CREDENTIAL_ENV;
        let ours = Self { access_key_id: var(id), secret_access_key: var(secret) };
        if ours.access_key_id.is_some() || ours.secret_access_key.is_some() {
            return ours;
        }
        Self { access_key_id: var("AWS_ACCESS_KEY_ID"), secret_access_key: var("AWS_SECRET_ACCESS_KEY") }
    }
}

impl fmt::Debug for S3Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Credentials")
            .field("access_key_id", &self.access_key_id.as_ref().map(|_| "***"))
            .field("secret_access_key", &self.secret_access_key.as_ref().map(|_| "***"))
            .finish()
    }
}

/// `serve`'s attachment flags, each also read from its environment variable.
#[derive(Debug, Default, Clone, clap::Args)]
pub struct AttachmentFlags {
    /// Where attachment bytes live: fs (the data directory's blobs/) or s3
    /// (the bucket of [attachments.s3] in the settings file) [default: fs].
    #[arg(long = "attachments-store", env = "GRIDSYNC_ATTACHMENTS_STORE", value_enum, value_name = "STORE")]
    pub store: Option<StoreKind>,
    /// The S3-compatible service's URL (with --attachments-store s3); the
    /// credentials come from GRIDSYNC_S3_ACCESS_KEY_ID and
    /// GRIDSYNC_S3_SECRET_ACCESS_KEY.
    #[arg(long = "s3-endpoint", env = "GRIDSYNC_S3_ENDPOINT", value_name = "URL")]
    pub s3_endpoint: Option<String>,
    /// The bucket that keeps the attachments (with --attachments-store s3).
    #[arg(long = "s3-bucket", env = "GRIDSYNC_S3_BUCKET", value_name = "BUCKET")]
    pub s3_bucket: Option<String>,
}

/// The environment variable that sets [`Settings::metrics_token`] (over
/// the file's), kept off the command line where `ps` would show it.
pub const METRICS_TOKEN_ENV: &str = "GRIDSYNC_METRICS_TOKEN";

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl FileSettings {
    /// Reads a settings file: a regular file of at most
    /// [`files::MAX_CONFIG_BYTES`]. An error names the file, the line and
    /// column and what was expected, never the file's content (`--config`
    /// may name any file, such as `/etc/shadow`).
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = files::read_text(path, files::MAX_CONFIG_BYTES, "settings file")?;
        Self::parse(&text).map_err(|e| anyhow::anyhow!("invalid settings file {}: {e}", path.display()))
    }

    /// Parses the text of a settings file. The error holds the line and
    /// column and TOML's explanation with every quoted piece of the file
    /// left out (a key this file does not know is told as such, without
    /// its name).
    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| {
            let at = e.span().map_or_else(String::new, |span| {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                format!("line {line}, column {column}: ")
            });
            format!("{at}{}", without_quotes(e.message()))
        })
    }
}

/// Every key of the settings file, as [`FileSettings`] names them (a test
/// checks the two agree).
const KEYS: [&str; 27] = [
    "data",
    "database",
    "database_pool_size",
    "listen",
    "workers",
    "max_body_bytes",
    "max_body_reads",
    "max_body_reads_per_device",
    "body_read_timeout_secs",
    "body_idle_timeout_secs",
    "client_request_timeout_secs",
    "client_disconnect_timeout_secs",
    "keep_alive_secs",
    "max_connections_per_worker",
    "max_changes_per_push",
    "max_page",
    "log_format",
    "tls_cert",
    "tls_key",
    "enrollments_per_minute",
    "logins_per_minute",
    "trusted_proxies",
    "device_record_budget",
    "replication_days",
    "utc_offset_minutes",
    "metrics_token",
    "attachments",
];

/// Every key of `[attachments]`, as [`FileAttachments`] names them.
const ATTACHMENT_KEYS: [&str; 4] = ["store", "max_file_mb", "max_device_mb_per_day", "s3"];

/// Every key of `[attachments.s3]`, as [`FileS3`] names them.
const S3_KEYS: [&str; 6] = ["endpoint", "bucket", "region", "prefix", "allow_http", "virtual_hosted_style"];

/// Whether `name` is a key of the settings file, at any level.
fn is_key(name: &str) -> bool {
    KEYS.contains(&name) || ATTACHMENT_KEYS.contains(&name) || S3_KEYS.contains(&name)
}

/// `message` with every piece in quotes or backquotes replaced by `…`,
/// except the names of known keys and the words TOML uses for types: what
/// remains is what the parser expected, never text of the file.
fn without_quotes(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message.lines().next().unwrap_or_default();
    while let Some(open) = rest.find(['`', '"', '\'']) {
        let quote = rest[open..].chars().next().expect("found");
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find(quote) else {
            out.push('…');
            return out;
        };
        let quoted = &after[..close];
        if is_key(quoted) || ["=", ".", ",", "]", "[", "}", "{"].contains(&quoted) {
            out.push(quote);
            out.push_str(quoted);
            out.push(quote);
        } else {
            out.push('…');
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

/// Values given on the command line or in the environment (clap fills both).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `--data` / `GRIDSYNC_DATA`.
    pub data: Option<PathBuf>,
    /// `--database` / `GRIDSYNC_DATABASE`.
    pub database: Option<String>,
    /// `--listen` / `GRIDSYNC_LISTEN`.
    pub listen: Option<SocketAddr>,
    /// `--workers` / `GRIDSYNC_WORKERS`.
    pub workers: Option<usize>,
    /// `--log-format` / `GRIDSYNC_LOG_FORMAT`.
    pub log_format: Option<LogFormat>,
    /// [`METRICS_TOKEN_ENV`].
    pub metrics_token: Option<String>,
    /// `serve`'s `--attachments-store`, `--s3-endpoint`, `--s3-bucket`.
    pub attachments: AttachmentFlags,
    /// [`S3Credentials::from_env`].
    pub s3_credentials: S3Credentials,
}

/// Layers overrides over the file over the defaults.
pub fn resolve(overrides: Overrides, file: FileSettings) -> Settings {
    let edge = edge_limits(&file);
    let listen = overrides
        .listen
        .or(file.listen)
        .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("the default address is valid"));
    let data = overrides.data.or(file.data).unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
    let mut settings = Settings::new(data, listen);
    settings.edge = edge;
    settings.database = overrides.database.or(file.database);
    if let Some(n) = file.database_pool_size.filter(|n| (1..=1000).contains(n)) {
        settings.database_pool_size = n;
    }
    settings.workers = overrides.workers.or(file.workers).unwrap_or(0);
    if let Some(max) = file.max_body_bytes {
        settings.limits.max_bytes = max;
    }
    if let Some(max) = file.max_changes_per_push {
        settings.limits.max_changes = max;
    }
    if let Some(max) = file.max_page {
        settings.max_page = max;
    }
    settings.json_logs = overrides.log_format.or(file.log_format) == Some(LogFormat::Json);
    settings.tls_cert = file.tls_cert;
    settings.tls_key = file.tls_key;
    if let Some(n) = file.enrollments_per_minute.filter(|n| *n > 0) {
        settings.enrollments_per_minute = n;
    }
    if let Some(n) = file.logins_per_minute.filter(|n| *n > 0) {
        settings.logins_per_minute = n;
    }
    settings.trusted_proxies = file.trusted_proxies.unwrap_or_default();
    if let Some(n) = file.device_record_budget.filter(|n| *n > 0) {
        settings.scope.budget = n;
    }
    if let Some(days) = file.replication_days.filter(|d| *d > 0) {
        settings.scope.window_ms = u64::from(days) * 24 * 60 * 60 * 1000;
    }
    if let Some(offset) = file.utc_offset_minutes.filter(|o| (-14 * 60..=14 * 60).contains(o)) {
        settings.utc_offset_minutes = offset;
    }
    settings.metrics_token = overrides.metrics_token.or(file.metrics_token).filter(|t| !t.trim().is_empty());
    settings.attachments = attachments(overrides.attachments, overrides.s3_credentials, file.attachments);
    settings
}

/// The attachment flags over the file's `[attachments]` over the defaults.
fn attachments(
    flags: AttachmentFlags,
    credentials: S3Credentials,
    file: Option<FileAttachments>,
) -> AttachmentSettings {
    let file = file.unwrap_or_default();
    let s3 = file.s3.unwrap_or_default();
    let d = AttachmentSettings::default();
    AttachmentSettings {
        store: flags.store.or(file.store).unwrap_or(d.store),
        s3: crate::blobs::S3Settings {
            endpoint: flags.s3_endpoint.or(s3.endpoint).filter(|e| !e.trim().is_empty()),
            bucket: flags.s3_bucket.or(s3.bucket).unwrap_or_default(),
            region: s3.region.unwrap_or_default(),
            prefix: s3.prefix.unwrap_or_default(),
            allow_http: s3.allow_http.unwrap_or(false),
            virtual_hosted_style: s3.virtual_hosted_style.unwrap_or(false),
            access_key_id: credentials.access_key_id,
            secret_access_key: credentials.secret_access_key,
        },
        max_file_mb: file.max_file_mb.unwrap_or(d.max_file_mb),
        max_device_mb_per_day: file.max_device_mb_per_day.unwrap_or(d.max_device_mb_per_day),
    }
}

/// The file's edge limits over the defaults. Zero counts and durations
/// keep the default (a limit of zero would refuse everything).
fn edge_limits(file: &FileSettings) -> EdgeLimits {
    let d = EdgeLimits::default();
    let count = |v: Option<usize>, default| v.filter(|n| *n > 0).unwrap_or(default);
    let secs = |v: Option<u64>, default| v.filter(|n| *n > 0).map_or(default, Duration::from_secs);
    EdgeLimits {
        max_body_reads: count(file.max_body_reads, d.max_body_reads),
        max_body_reads_per_device: count(file.max_body_reads_per_device, d.max_body_reads_per_device),
        body_read_timeout: secs(file.body_read_timeout_secs, d.body_read_timeout),
        body_idle_timeout: secs(file.body_idle_timeout_secs, d.body_idle_timeout),
        client_request_timeout: secs(file.client_request_timeout_secs, d.client_request_timeout),
        client_disconnect_timeout: secs(file.client_disconnect_timeout_secs, d.client_disconnect_timeout),
        keep_alive: secs(file.keep_alive_secs, d.keep_alive),
        max_connections_per_worker: count(file.max_connections_per_worker, d.max_connections_per_worker),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pool_size_comes_from_the_file_within_bounds() {
        let size = |text: &str| {
            resolve(Overrides::default(), toml::from_str(text).expect("toml")).database_pool_size
        };
        assert_eq!(size(""), 16);
        assert_eq!(size("database_pool_size = 4\n"), 4);
        assert_eq!(size("database_pool_size = 0\n"), 16, "0 keeps the default");
    }

    #[test]
    fn trusted_proxies_come_from_the_file() {
        let file: FileSettings = toml::from_str("trusted_proxies = [\"10.0.0.2\", \"::1\"]\n").expect("toml");
        let s = resolve(Overrides::default(), file);
        assert_eq!(
            s.trusted_proxies,
            ["10.0.0.2".parse::<IpAddr>().expect("ip"), "::1".parse().expect("ip")]
        );
        assert!(resolve(Overrides::default(), FileSettings::default()).trusted_proxies.is_empty());
        let bad = toml::from_str::<FileSettings>("trusted_proxies = [\"10.0.0.0/8\"]\n");
        assert!(bad.is_err(), "a network is not an address");
    }

    #[test]
    fn flags_win_over_file_over_defaults() {
        let file: FileSettings =
            toml::from_str("data = \"/srv/g\"\nlisten = \"0.0.0.0:9000\"\nmax_page = 50\n").expect("toml");
        let flags =
            Overrides { listen: Some("127.0.0.1:7000".parse().expect("addr")), ..Overrides::default() };
        let s = resolve(flags, file);
        assert_eq!(s.listen.port(), 7000);
        assert_eq!(s.data_dir, PathBuf::from("/srv/g"));
        assert_eq!(s.max_page, 50);
        let d = resolve(Overrides::default(), FileSettings::default());
        assert_eq!(d.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        assert_eq!(d.listen.to_string(), DEFAULT_LISTEN);
    }

    #[test]
    fn tls_paths_layer_and_must_come_in_pairs() {
        let file: FileSettings =
            toml::from_str("tls_cert = \"/srv/g/cert.pem\"\ntls_key = \"/srv/g/key.pem\"\n").expect("toml");
        let mut s = resolve(Overrides::default(), file);
        s.override_tls(None, Some(PathBuf::from("/etc/k.pem")));
        let (cert, key) = s.tls_files().expect("both set").expect("TLS on");
        assert_eq!(cert, Path::new("/srv/g/cert.pem"));
        assert_eq!(key, Path::new("/etc/k.pem"));

        let plain = resolve(Overrides::default(), FileSettings::default());
        assert!(plain.tls_files().expect("neither set").is_none());

        let mut half = resolve(Overrides::default(), FileSettings::default());
        half.override_tls(Some(PathBuf::from("/srv/g/cert.pem")), None);
        let err = half.tls_files().expect_err("cert without key").to_string();
        assert!(err.contains("/srv/g/cert.pem") && err.contains("no TLS key"), "{err}");
    }

    #[test]
    fn database_layers_flags_over_file_over_the_embedded_default() {
        let file: FileSettings =
            toml::from_str("data = \"/srv/g\"\ndatabase = \"postgres://file@db.lan/g\"\n").expect("toml");
        let flag = "postgresql://flag:pw@db.lan/g".to_owned();
        let s = resolve(Overrides { database: Some(flag.clone()), ..Overrides::default() }, file);
        assert_eq!(s.database.as_deref(), Some(flag.as_str()));
        assert_eq!(s.database().expect("a postgres URL"), Database::Postgres { url: flag });
        assert!(!format!("{s:?}").contains(":pw@"), "Debug hides the password: {s:?}");

        let file: FileSettings = toml::from_str("database = \"postgres://file@db.lan/g\"\n").expect("toml");
        let s = resolve(Overrides::default(), file);
        assert_eq!(
            s.database().expect("from the file"),
            Database::Postgres { url: "postgres://file@db.lan/g".into() }
        );

        let s = resolve(
            Overrides { data: Some("/srv/x".into()), ..Overrides::default() },
            FileSettings::default(),
        );
        assert_eq!(s.database, None);
        assert_eq!(s.database().expect("default"), Database::Embedded { data_dir: PathBuf::from("/srv/x") });
        let d = resolve(Overrides::default(), FileSettings::default());
        assert_eq!(
            d.database().expect("default"),
            Database::Embedded { data_dir: PathBuf::from(DEFAULT_DATA_DIR) }
        );
    }

    #[test]
    fn a_database_that_is_not_postgres_is_refused() {
        let file: FileSettings =
            toml::from_str("database = \"/var/lib/gridsync/gridsync.db\"\n").expect("toml");
        let err = resolve(Overrides::default(), file).database().expect_err("a path").to_string();
        assert!(err.contains("--database") && err.contains("postgres://"), "{err}");
        let flags = Overrides { database: Some("mysql://root:pw@db/g".into()), ..Overrides::default() };
        let err = resolve(flags, FileSettings::default()).database().expect_err("mysql").to_string();
        assert!(err.contains("--database") && !err.contains("pw@"), "{err}");
    }

    #[test]
    fn the_metrics_token_layers_is_hidden_and_must_be_long() {
        let file: FileSettings =
            toml::from_str("metrics_token = \"from-the-file-0123456789\"\n").expect("toml");
        let s = resolve(Overrides::default(), file);
        assert_eq!(s.metrics_token.as_deref(), Some("from-the-file-0123456789"));
        assert!(!format!("{s:?}").contains("from-the-file"), "Debug hides the token: {s:?}");
        assert!(matches!(s.metrics_access().expect("long enough"), crate::metrics::Access::Token(_)));
        let env = Overrides { metrics_token: Some("from-the-environment-01".into()), ..Overrides::default() };
        let file: FileSettings =
            toml::from_str("metrics_token = \"from-the-file-0123456789\"\n").expect("toml");
        assert_eq!(resolve(env, file).metrics_token.as_deref(), Some("from-the-environment-01"));
        let none = resolve(Overrides::default(), FileSettings::default());
        assert_eq!(none.metrics_access().expect("loopback"), crate::metrics::Access::Loopback);
        let short = Overrides { metrics_token: Some("short".into()), ..Overrides::default() };
        let err = resolve(short, FileSettings::default()).metrics_access().expect_err("short").to_string();
        assert!(err.contains("too short") && !err.contains("short\""), "{err}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<FileSettings>("lisen = \"x\"").is_err());
    }

    #[test]
    fn the_known_keys_are_the_file_settings_keys() {
        let err = toml::from_str::<FileSettings>("not_a_key = 1").expect_err("unknown").to_string();
        let expected = err.split("expected one of").nth(1).expect("a list of keys");
        let named: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        let mut keys = KEYS.to_vec();
        let mut named_sorted = named.clone();
        keys.sort_unstable();
        named_sorted.sort_unstable();
        assert_eq!(keys, named_sorted, "{err}");
    }

    #[test]
    fn attachments_layer_flags_over_the_file_and_hide_the_credentials() {
        let d = resolve(Overrides::default(), FileSettings::default()).attachments;
        assert_eq!(d, AttachmentSettings::default());
        assert_eq!((d.store, d.max_file_mb, d.max_device_mb_per_day), (StoreKind::Fs, 20, 200));
        let file = FileSettings::parse(
            "[attachments]\nstore = \"s3\"\nmax_file_mb = 10\nmax_device_mb_per_day = 50\n\
             [attachments.s3]\nendpoint = \"http://127.0.0.1:9000\"\nbucket = \"from-file\"\n\
             region = \"cn-north-1\"\nprefix = \"county-1\"\nallow_http = true\n",
        )
        .expect("valid");
        let overrides = Overrides {
            attachments: AttachmentFlags {
                s3_bucket: Some("from-flag".into()),
                ..AttachmentFlags::default()
            },
            s3_credentials: S3Credentials {
                access_key_id: Some("AKIDEXAMPLE".into()),
                secret_access_key: Some("wJalr-secret".into()),
            },
            ..Overrides::default()
        };
        let s = resolve(overrides, file);
        let a = &s.attachments;
        assert_eq!((a.store, a.max_file_mb, a.max_device_mb_per_day), (StoreKind::S3, 10, 50));
        assert_eq!(a.s3.bucket, "from-flag");
        assert_eq!(a.s3.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(
            (a.s3.region.as_str(), a.s3.prefix.as_str(), a.s3.allow_http),
            ("cn-north-1", "county-1", true)
        );
        assert_eq!(a.s3.secret_access_key.as_deref(), Some("wJalr-secret"));
        assert_eq!(s.service().attachments.max_file_bytes, 10 * 1024 * 1024);
        let debug = format!("{s:?}");
        assert!(!debug.contains("wJalr") && !debug.contains("AKIDEXAMPLE"), "{debug}");

        let err = FileSettings::parse("[attachments]\nstore = \"ftp\"\n").expect_err("no such store");
        assert!(err.starts_with("line 2"), "{err}");
        let err = FileSettings::parse("[attachments.s3]\nbukket = \"x\"\n").expect_err("unknown key");
        assert!(err.contains("`bucket`") && err.contains("`allow_http`"), "the known keys are named: {err}");
        let err = FileSettings::parse("[attachments]\nmax_file = 3\n").expect_err("unknown key");
        assert!(err.contains("`max_file_mb`"), "{err}");
        // Credentials are not settings-file keys.
        assert!(FileSettings::parse("[attachments.s3]\nsecret_access_key = \"x\"\n").is_err());
    }

    #[test]
    fn the_known_attachment_keys_are_the_tables_keys() {
        for (text, keys) in [
            ("[attachments]\nnot_a_key = 1\n", &ATTACHMENT_KEYS[..]),
            ("[attachments.s3]\nnot_a_key = 1\n", &S3_KEYS[..]),
        ] {
            let err = toml::from_str::<FileSettings>(text).expect_err("unknown").to_string();
            let expected = err.split("expected one of").nth(1).expect("a list of keys");
            let mut named: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
            let mut keys = keys.to_vec();
            named.sort_unstable();
            keys.sort_unstable();
            assert_eq!(keys, named, "{err}");
        }
    }

    #[test]
    fn a_parse_error_names_the_place_and_never_the_content() {
        let secret = "root:$6$Zq1cQh2t$Jm0aX8:19700:0:99999:7:::\n";
        for text in [
            secret.to_owned(),
            format!("data = \"/srv\"\n{secret}"),
            "workers = \"hunter2\"\n".to_owned(),
            "hunter2 = 1\n".to_owned(),
            "listen = \"hunter2\"\n".to_owned(),
            "[hunter2]\n".to_owned(),
            "data = 'hunter2\n".to_owned(),
        ] {
            let err = FileSettings::parse(&text).expect_err(&text);
            assert!(err.starts_with("line "), "{err}");
            for piece in ["root", "Zq1c", "Jm0a", "19700", "hunter2", "$6$"] {
                assert!(!err.contains(piece), "{text:?} → {err}");
            }
        }
        let err = FileSettings::parse("data = \"/srv\"\nlisen = \"x\"\n").expect_err("unknown key");
        assert!(err.starts_with("line 2, column 1:") && err.contains("`listen`"), "{err}");
    }

    #[test]
    fn settings_files_are_read_bounded() {
        let err = FileSettings::load(Path::new("/dev/zero")).expect_err("a device").to_string();
        assert!(err.contains("not a regular file"), "{err}");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("gridsync.toml");
        std::fs::write(&path, "root:$6$Zq1c:19700:0:99999:7:::\n").expect("write");
        let err = FileSettings::load(&path).expect_err("not TOML").to_string();
        assert!(err.contains(&path.display().to_string()) && err.contains("line 1"), "{err}");
        assert!(!err.contains("Zq1c") && !err.contains("root"), "{err}");
    }

    #[test]
    fn edge_limits_come_from_the_file_and_zero_keeps_the_default() {
        let file: FileSettings = toml::from_str(
            "max_body_reads = 8\nmax_body_reads_per_device = 0\nbody_read_timeout_secs = 3\nkeep_alive_secs = 0\n",
        )
        .expect("toml");
        let edge = resolve(Overrides::default(), file).edge;
        let d = EdgeLimits::default();
        assert_eq!(edge.max_body_reads, 8);
        assert_eq!(edge.max_body_reads_per_device, d.max_body_reads_per_device);
        assert_eq!(edge.body_read_timeout, Duration::from_secs(3));
        assert_eq!(edge.keep_alive, d.keep_alive);
    }
}
