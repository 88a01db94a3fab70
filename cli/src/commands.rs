//! The subcommands: each opens the store, calls client-core and prints.

use std::fmt;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use gridsync_client_core::{Edit, Error as StoreError, HttpTransport, RecordFilter, Store};
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
        Some(SyncFailed::Unreachable { .. }) => EXIT_UNREACHABLE,
        None => EXIT_FAILURE,
    }
}

/// Runs one command, printing its output to `out`.
pub(crate) fn run(cli: Cli, out: &mut dyn Write) -> Result<()> {
    let path = cli.store.ok_or_else(|| anyhow!("no store given: pass --store FILE or set GRIDSYNC_STORE"))?;
    match cli.command {
        Command::Init { server, author } => init(&path, &server, &author, out),
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
        Command::List { kind, conflicted, json } => list(&path, kind, conflicted, json, out),
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
        Command::Sync { json } => sync(&path, json, out),
        Command::Status { json } => status(&path, json, out),
    }
}

/// `init`: creates the store, prints the device id.
fn init(path: &Path, server: &str, author: &str, out: &mut dyn Write) -> Result<()> {
    if !(server.starts_with("http://") || server.starts_with("https://")) {
        bail!("the server URL must start with http:// or https://");
    }
    if author.trim().is_empty() {
        bail!("the author is empty");
    }
    let store = Store::init(path, server, author)
        .with_context(|| format!("cannot create the store at {}", path.display()))?;
    writeln!(out, "{}", store.device_id())?;
    Ok(())
}

/// Opens an existing store; never creates a file.
fn open(path: &Path) -> Result<Store> {
    if !path.exists() {
        bail!(
            "no store at {}; create one with `gridsync --store {} init --server URL`",
            path.display(),
            path.display()
        );
    }
    Store::open(path).with_context(|| format!("cannot open the store at {}", path.display()))
}

/// `list`.
fn list(
    path: &Path,
    kind: Option<RecordKind>,
    conflicted: bool,
    json: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let filter = RecordFilter { kind, conflicted, ..RecordFilter::default() };
    let views: Vec<RecordView> = open(path)?.list(&filter)?.iter().map(RecordView::from).collect();
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
fn sync(path: &Path, json: bool, out: &mut dyn Write) -> Result<()> {
    let mut store = open(path)?;
    let result = HttpTransport::new(store.server_url()).and_then(|transport| store.sync(&transport));
    let report = match result {
        Ok(report) => report,
        Err(e) => {
            // Unknown if the store itself is broken: count 0 rather than fail twice.
            let pending = store.pending().unwrap_or(0);
            return Err(match e {
                StoreError::Rejected { status, body } => {
                    SyncFailed::Refused { status, code: body.code, message: body.message, pending }.into()
                }
                StoreError::Network(_) | StoreError::Protocol(_) => {
                    SyncFailed::Unreachable { reason: e.to_string(), pending }.into()
                }
                other => anyhow::Error::from(other).context("sync failed"),
            });
        }
    };
    if json {
        writeln!(out, "{}", render::json(&report)?)?;
    } else {
        writeln!(out, "{}", render::sync_text(&report))?;
    }
    Ok(())
}

/// `status`.
fn status(path: &Path, json: bool, out: &mut dyn Write) -> Result<()> {
    let store = open(path)?;
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
