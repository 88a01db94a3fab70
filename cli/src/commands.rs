//! The subcommands: each opens the store, calls client-core and prints.
//!
//! * [`device`]: `init`, `enroll`, `set-server`, `sync`, `status`;
//! * [`doctor`]: `doctor`, which checks and repairs the store;
//! * [`records`]: `new`, `set`, `note`, `show`, `list`, `conflicts`, `resolve`;
//! * [`work`]: `patrol`, `visit`, `report`, `household`;
//! * [`disputes`]: `dispute`, `rejected`;
//! * [`attachments`]: `attach`, `attachments`, `open-attachment`,
//!   `fetch-attachment`;
//! * [`long_text`]: notes and other long texts, inline, from standard input
//!   or from a file.

mod attachments;
mod device;
mod disputes;
mod doctor;
mod failure;
mod keys;
mod long_text;
mod records;
mod work;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Result, anyhow};
use gridsync_client_core::Store;

use crate::args::{Cli, Command};
pub(crate) use failure::{EXIT_FAILURE, exit_code};
use keys::KeySource;

/// Where the store is and where its key comes from.
pub(crate) struct Ctx {
    /// The store file.
    path: PathBuf,
    /// The store key's source.
    keys: KeySource,
}

impl std::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("Ctx").field("path", &self.path).finish_non_exhaustive()
    }
}

impl Ctx {
    /// Opens the existing store.
    fn open(&self) -> Result<Store> {
        keys::open(&self.path, &self.keys)
    }

    /// The store file.
    fn path(&self) -> &Path {
        &self.path
    }
}

/// Runs one command, printing its output to `out`.
pub(crate) fn run(cli: Cli, out: &mut dyn Write) -> Result<()> {
    let path = cli.store.ok_or_else(|| anyhow!("no store given: pass --store FILE or set GRIDSYNC_STORE"))?;
    let keys = KeySource::find(cli.key_file, &path);
    let ctx = Ctx { path, keys };
    dispatch(&ctx, cli.command, out).map_err(failure::explain)
}

/// Hands the command to its module.
fn dispatch(ctx: &Ctx, command: Command, out: &mut dyn Write) -> Result<()> {
    match command {
        Command::Init { server, author, code, ca } => {
            device::init(ctx, &server, &author, code.as_deref(), ca.as_deref(), out)
        }
        Command::Enroll { code } => device::enroll(ctx, &code),
        Command::SetServer { server, ca } => device::set_server(ctx, &server, ca.as_deref()),
        Command::Attach { record, file, name, entry, json } => {
            attachments::attach(ctx, record, &file, name.as_deref(), entry, json, out)
        }
        Command::Attachments { record, json } => attachments::list(ctx, record, json, out),
        Command::OpenAttachment { hash, out: dir } => attachments::open(ctx, &hash, &dir, out),
        Command::FetchAttachment { record, hash } => attachments::fetch(ctx, record, &hash, out),
        Command::Sync { json } => device::sync(ctx, json, out),
        Command::Status { json } => device::status(ctx, json, out),
        Command::Doctor { json } => doctor::doctor(ctx, json, out),
        Command::New { kind, set } => records::new(ctx, kind.into(), &set, out),
        Command::Set { id, fields } => records::set(ctx, id, &fields),
        Command::Note { id, text, text_file } => records::note(ctx, id, text, text_file),
        Command::Show { id, json } => records::show(ctx, id, json, out),
        Command::List { kind, conflicted, json } => records::list(ctx, kind, conflicted, json, out),
        Command::Conflicts { json } => records::conflicts(ctx, json, out),
        Command::Resolve { id, field, value, json } => records::resolve(ctx, id, &field, &value, json),
        Command::Patrol(command) => work::patrol(ctx, command, out),
        Command::Visit(visit) => work::visit(ctx, visit, out),
        Command::Report(command) => work::report(ctx, command, out),
        Command::Household(command) => work::household(ctx, command, out),
        Command::Dispute(command) => disputes::dispute(ctx, command, out),
        Command::Rejected { json, command } => disputes::rejected(ctx, json, command, out),
    }
}

/// The device clock, Unix milliseconds.
fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Prints `value` as pretty JSON, or its `text` rendering for people.
fn print<T: serde::Serialize + ?Sized>(
    out: &mut dyn Write,
    json: bool,
    value: &T,
    text: impl FnOnce(&T) -> String,
) -> Result<()> {
    if json {
        writeln!(out, "{}", crate::render::json(value)?)?;
    } else {
        write!(out, "{}", text(value))?;
    }
    Ok(())
}
