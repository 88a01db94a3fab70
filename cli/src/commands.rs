//! The subcommands: each opens the store, calls client-core and prints.

use std::ffi::OsString;
use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use gridsync_client_core::{Edit, Error as StoreError, RecordFilter, Store, StoreKey};
use gridsync_proto::{ErrorCode, RecordKind, RecordView};

use crate::args::{Cli, Command};
use crate::render::{self, ConflictJson, StatusJson};
use crate::values;

/// Exit code for usage and validation errors (and everything not below).
pub(crate) const EXIT_FAILURE: u8 = 1;
/// Exit code for a sync the server refused.
pub(crate) const EXIT_REFUSED: u8 = 2;
/// Exit code for a sync that could not reach the server.
pub(crate) const EXIT_UNREACHABLE: u8 = 3;
/// Exit code for a device the server has revoked (its store may be erased).
pub(crate) const EXIT_REVOKED: u8 = 4;

/// A sync that did not complete. The unsent changes stay in the outbox.
#[derive(Debug)]
pub(crate) enum SyncFailed {
    /// The server answered with a gridsync error.
    Refused {
        /// HTTP status.
        status: u16,
        /// The server's stable error code.
        code: ErrorCode,
        /// The server's message (never personal data).
        message: String,
        /// Changes still waiting to be sent.
        pending: u64,
    },
    /// The server revoked this device; with a wipe order the store is gone.
    Revoked {
        /// Whether the store was erased.
        wiped: bool,
    },
    /// The server could not be reached, or did not answer like a gridsync server.
    Unreachable {
        /// What went wrong.
        reason: String,
        /// Changes still waiting to be sent.
        pending: u64,
    },
}

impl fmt::Display for SyncFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyncFailed::Refused { status, code, message, pending } => {
                write!(
                    f,
                    "the server refused the sync (HTTP {status}): {code}: {message}; {}",
                    unsent(*pending)
                )?;
                if code.is_retryable() {
                    f.write_str(", sync again later")?;
                }
                Ok(())
            }
            SyncFailed::Revoked { wiped: true } => f.write_str(
                "this device was revoked and its local data has been erased on the server's order",
            ),
            SyncFailed::Revoked { wiped: false } => {
                f.write_str("this device was revoked by the township; it can no longer sync")
            }
            SyncFailed::Unreachable { reason, pending } => {
                write!(f, "cannot sync with the server: {reason}; {}, sync again later", unsent(*pending))
            }
        }
    }
}

impl std::error::Error for SyncFailed {}

/// What became of the unsent changes, e.g. `the 3 unsent changes are kept on this device`.
fn unsent(pending: u64) -> String {
    match pending {
        0 => "no changes were waiting to be sent".to_owned(),
        1 => "the 1 unsent change is kept on this device".to_owned(),
        n => format!("the {n} unsent changes are kept on this device"),
    }
}

/// The process exit code for an error.
pub(crate) fn exit_code(err: &anyhow::Error) -> u8 {
    match err.chain().find_map(|e| e.downcast_ref::<SyncFailed>()) {
        Some(SyncFailed::Refused { .. }) => EXIT_REFUSED,
        Some(SyncFailed::Revoked { .. }) => EXIT_REVOKED,
        Some(SyncFailed::Unreachable { .. }) => EXIT_UNREACHABLE,
        None => EXIT_FAILURE,
    }
}

/// The environment variable that may hold the store key, as 64 hexadecimal digits.
const KEY_ENV: &str = "GRIDSYNC_STORE_KEY";

/// Where the store key comes from. (No `Debug`: it may hold the key.)
enum KeySource {
    /// `--key-file FILE`.
    File(PathBuf),
    /// The environment variable [`KEY_ENV`].
    Env(OsString),
    /// `STORE.key` next to the store (may not exist yet).
    Default(PathBuf),
}

impl KeySource {
    /// `--key-file`, else the environment, else the default file.
    fn find(key_file: Option<PathBuf>, store: &Path) -> Self {
        match (key_file, std::env::var_os(KEY_ENV)) {
            (Some(file), _) => KeySource::File(file),
            (None, Some(hex)) if !hex.is_empty() => KeySource::Env(hex),
            _ => KeySource::Default(default_key_file(store)),
        }
    }

    /// Reads the key. `None` only for a default file that does not exist.
    fn read(&self) -> Result<Option<StoreKey>> {
        match self {
            KeySource::File(file) => read_key_file(file).map(Some),
            KeySource::Env(hex) => {
                let key = hex.to_str().ok_or(StoreError::KeyFormat).and_then(StoreKey::from_hex);
                Ok(Some(key.with_context(|| format!("{KEY_ENV} does not hold a store key"))?))
            }
            KeySource::Default(file) if file.exists() => read_key_file(file).map(Some),
            KeySource::Default(_) => Ok(None),
        }
    }
}

/// `STORE.key`: the store's path with `.key` appended.
fn default_key_file(store: &Path) -> PathBuf {
    let mut name = store.as_os_str().to_owned();
    name.push(".key");
    PathBuf::from(name)
}

fn read_key_file(file: &Path) -> Result<StoreKey> {
    let text =
        fs::read_to_string(file).with_context(|| format!("cannot read the key file {}", file.display()))?;
    // The error names the file, never its content.
    StoreKey::from_hex(&text)
        .with_context(|| format!("the key file {} does not hold a store key", file.display()))
}

/// Writes a new random key to `file`, readable by its owner only; fails if
/// the file exists (a key is never overwritten).
fn create_key_file(file: &Path) -> Result<StoreKey> {
    let key = StoreKey::generate()?;
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let write = || -> std::io::Result<()> {
        let mut f = options.open(file)?;
        f.write_all(format!("{}\n", key.to_hex()).as_bytes())?;
        // On disk before the store that needs it.
        f.sync_all()?;
        #[cfg(unix)]
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    };
    write().with_context(|| format!("cannot create the key file {}", file.display()))?;
    Ok(key)
}

/// Runs one command, printing its output to `out`.
pub(crate) fn run(cli: Cli, out: &mut dyn Write) -> Result<()> {
    let path = cli.store.ok_or_else(|| anyhow!("no store given: pass --store FILE or set GRIDSYNC_STORE"))?;
    let keys = KeySource::find(cli.key_file, &path);
    let open = |path: &Path| open(path, &keys);
    match cli.command {
        Command::Init { server, author, code, ca } => {
            init(&path, &keys, &server, &author, code.as_deref(), ca.as_deref(), out)
        }
        Command::Enroll { code } => {
            let mut store = open(&path)?;
            let result = store.http_transport().and_then(|t| store.enroll(&t, &ticket_code(&code)));
            enrolled(&store, result, &keys)
        }
        Command::New { kind, set } => {
            let fields = values::parse_assignments(&set)?;
            let id = open(&path)?.create(kind.into(), fields)?;
            writeln!(out, "{id}")?;
            Ok(())
        }
        Command::Set { id, fields } => {
            let edits = values::parse_assignments(&fields)?.into_iter().map(|(k, v)| Edit::Set(k, v));
            open(&path)?.edit(id, edits)?;
            Ok(())
        }
        Command::Note { id, text } => {
            if text.trim().is_empty() {
                bail!("the note is empty");
            }
            open(&path)?.note(id, &text)?;
            Ok(())
        }
        Command::Show { id, json } => {
            let store = open(&path)?;
            let state = store.get(id)?.ok_or(StoreError::NotFound(id))?;
            let view = RecordView::from(&state);
            if json {
                writeln!(out, "{}", render::json(&view)?)?;
            } else {
                write!(out, "{}", render::record_text(&view))?;
            }
            Ok(())
        }
        Command::List { kind, conflicted, json } => list(open(&path)?, kind, conflicted, json, out),
        Command::Conflicts { json } => {
            let conflicts: Vec<ConflictJson> =
                open(&path)?.conflicts()?.iter().map(ConflictJson::from).collect();
            if json {
                writeln!(out, "{}", render::json(&conflicts)?)?;
            } else {
                write!(out, "{}", render::conflicts_text(&conflicts))?;
            }
            Ok(())
        }
        Command::Resolve { id, field, value, json } => {
            let value = values::parse_value(&value, json, &field)?;
            match open(&path)?.resolve(id, &field, value) {
                Err(e @ StoreError::NoConflict { .. }) => {
                    bail!("{e}; to change a field without a conflict use `gridsync set {id} FIELD=VALUE`")
                }
                other => Ok(other?),
            }
        }
        Command::Sync { json } => sync(open(&path)?, &keys, json, out),
        Command::Status { json } => status(&open(&path)?, json, out),
    }
}

/// `init`: creates the store (and, if no key is given, a new key file next
/// to it), pins the township CA and enrolls with the code when given, prints
/// the device id. If enrollment fails, nothing is left behind.
fn init(
    path: &Path,
    keys: &KeySource,
    server: &str,
    author: &str,
    code: Option<&str>,
    ca: Option<&Path>,
    out: &mut dyn Write,
) -> Result<()> {
    if !(server.starts_with("http://") || server.starts_with("https://")) {
        bail!("the server URL must start with http:// or https://");
    }
    if author.trim().is_empty() {
        bail!("the author is empty");
    }
    let (key, created) = match (keys.read()?, keys) {
        (Some(key), _) => (key, None),
        // No key given and none next to the store yet: make one.
        (None, KeySource::Default(file)) => (create_key_file(file)?, Some(file)),
        (None, _) => bail!("no store key"),
    };
    let store = match Store::init(path, server, author, &key) {
        Ok(store) => store,
        Err(e) => {
            if let Some(file) = created {
                // Never leave a key that belongs to no store.
                let _ = fs::remove_file(file);
            }
            return Err(
                anyhow::Error::from(e).context(format!("cannot create the store at {}", path.display()))
            );
        }
    };
    let mut store = store;
    let prepared = (|| -> Result<()> {
        if let Some(ca) = ca {
            let pem = fs::read(ca).with_context(|| format!("cannot read the CA file {}", ca.display()))?;
            store.pin_ca(&pem).context("the CA file is not a usable PEM certificate")?;
        }
        if let Some(code) = code {
            let result = store.http_transport().and_then(|t| store.enroll(&t, &ticket_code(code)));
            enrolled(&store, result, keys)?;
        }
        Ok(())
    })();
    if let Err(e) = prepared {
        // A store that could not enroll is of no use: leave nothing behind.
        let device_files = ["", "-wal", "-shm"].map(|suffix| {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            PathBuf::from(name)
        });
        drop(store);
        for file in device_files.iter().chain(created) {
            let _ = fs::remove_file(file);
        }
        return Err(e);
    }
    if let Some(file) = created {
        eprintln!(
            "gridsync: created a new store key in {}; without it the store cannot be read",
            file.display()
        );
    }
    writeln!(out, "{}", store.device_id())?;
    Ok(())
}

/// The code itself, whether typed or scanned (a QR code holds the
/// `EnrollmentTicket` JSON).
fn ticket_code(text: &str) -> String {
    serde_json::from_str::<gridsync_proto::EnrollmentTicket>(text)
        .map_or_else(|_| text.trim().to_owned(), |t| t.code)
}

/// Reports an enrollment on stderr, or turns its failure into a sync-style error.
fn enrolled(
    store: &Store,
    result: std::result::Result<gridsync_proto::EnrollResponse, StoreError>,
    keys: &KeySource,
) -> Result<()> {
    match result {
        Ok(answer) => {
            eprintln!(
                "gridsync: enrolled as {} ({}, scope {})",
                answer.user,
                answer.role,
                if answer.scope.is_empty() { "all" } else { &answer.scope }
            );
            Ok(())
        }
        Err(e) => Err(sync_failure(store, e, keys).context("enrollment failed")),
    }
}

/// Classifies a failed exchange with the server (changes are kept).
fn sync_failure(store: &Store, e: StoreError, keys: &KeySource) -> anyhow::Error {
    let pending = store.pending().unwrap_or(0);
    match e {
        StoreError::Wiped => {
            // The key belongs to the erased store: remove the one we made.
            if let KeySource::Default(file) = keys {
                let _ = fs::remove_file(file);
            }
            SyncFailed::Revoked { wiped: true }.into()
        }
        StoreError::Rejected { body, .. } if body.code == ErrorCode::DeviceRevoked => {
            SyncFailed::Revoked { wiped: false }.into()
        }
        StoreError::Rejected { status, body } => {
            SyncFailed::Refused { status, code: body.code, message: body.message, pending }.into()
        }
        StoreError::Network(_) | StoreError::Protocol(_) => {
            SyncFailed::Unreachable { reason: e.to_string(), pending }.into()
        }
        other => anyhow::Error::from(other).context("sync failed"),
    }
}

/// Opens an existing store with its key; never creates a file.
fn open(path: &Path, keys: &KeySource) -> Result<Store> {
    if !path.exists() {
        bail!(
            "no store at {}; create one with `gridsync --store {} init --server URL`",
            path.display(),
            path.display()
        );
    }
    let Some(key) = keys.read()? else {
        let default = default_key_file(path);
        bail!(
            "no store key: pass --key-file FILE, set {KEY_ENV} to the key's 64 hexadecimal digits, \
             or keep the key in {}",
            default.display()
        );
    };
    Store::open(path, &key).with_context(|| format!("cannot open the store at {}", path.display()))
}

/// `list`.
fn list(
    store: Store,
    kind: Option<RecordKind>,
    conflicted: bool,
    json: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let filter = RecordFilter { kind, conflicted, ..RecordFilter::default() };
    let views: Vec<RecordView> = store.list(&filter)?.iter().map(RecordView::from).collect();
    if json {
        writeln!(out, "{}", render::json(&views)?)?;
    } else if views.is_empty() {
        writeln!(out, "no records")?;
    } else {
        for view in &views {
            writeln!(out, "{}", render::list_line(view))?;
        }
    }
    Ok(())
}

/// `sync`: one push-then-pull run; failures keep the outbox.
fn sync(mut store: Store, keys: &KeySource, json: bool, out: &mut dyn Write) -> Result<()> {
    let result = store.http_transport().and_then(|transport| store.sync(&transport));
    let report = match result {
        Ok(report) => report,
        Err(e) => return Err(sync_failure(&store, e, keys)),
    };
    if json {
        writeln!(out, "{}", render::json(&report)?)?;
    } else {
        writeln!(out, "{}", render::sync_text(&report))?;
    }
    Ok(())
}

/// `status`.
fn status(store: &Store, json: bool, out: &mut dyn Write) -> Result<()> {
    let status = StatusJson {
        device: store.device_id().to_string(),
        server_url: store.server_url().to_owned(),
        pending: store.pending()?,
        cursor: store.cursor(),
        conflicts: store.conflicts()?.len() as u64,
    };
    if json {
        writeln!(out, "{}", render::json(&status)?)?;
    } else {
        write!(out, "{}", render::status_text(&status))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_failures_map_to_their_exit_codes_and_keep_the_changes() {
        let refused = anyhow::Error::from(SyncFailed::Refused {
            status: 400,
            code: ErrorCode::InvalidChange,
            message: "a change fails validation".to_owned(),
            pending: 3,
        });
        assert_eq!(exit_code(&refused), EXIT_REFUSED);
        assert_eq!(
            refused.to_string(),
            "the server refused the sync (HTTP 400): invalid_change: a change fails validation; \
             the 3 unsent changes are kept on this device"
        );
        let busy = SyncFailed::Refused {
            status: 503,
            code: ErrorCode::Unavailable,
            message: "shutting down".to_owned(),
            pending: 1,
        };
        assert!(busy.to_string().ends_with("the 1 unsent change is kept on this device, sync again later"));
        let down = anyhow::Error::from(SyncFailed::Unreachable {
            reason: "network: refused".to_owned(),
            pending: 2,
        });
        assert_eq!(exit_code(&down), EXIT_UNREACHABLE);
        assert!(down.to_string().contains("the 2 unsent changes are kept on this device, sync again later"));
        assert_eq!(exit_code(&anyhow!("bad usage")), EXIT_FAILURE);
        assert_eq!(exit_code(&down.context("outer")), EXIT_UNREACHABLE);
    }
}
