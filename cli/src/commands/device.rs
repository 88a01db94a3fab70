//! The device itself: `init`, `enroll`, `set-server`, `sync`, `status`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use gridsync_client_core::{Error as StoreError, Store};

use super::failure::{enroll_failure, sync_failure};
use super::keys::{KeySource, create_key_file};
use super::{Ctx, print};
use crate::render::{self, StatusJson};

/// `init`: creates the store (and, if no key is given, a new key file next
/// to it), pins the township CA and enrolls with the code when given, prints
/// the device id. If enrollment fails, nothing is left behind.
pub(super) fn init(
    ctx: &Ctx,
    server: &str,
    author: &str,
    code: Option<&str>,
    ca: Option<&Path>,
    out: &mut dyn Write,
) -> Result<()> {
    let (path, keys) = (ctx.path(), &ctx.keys);
    let https = gridsync_client_core::check_server_url(server).context("--server")?;
    if ca.is_some() && !https {
        bail!("{}", CA_NEEDS_HTTPS);
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
    let mut store = match Store::init(path, server, author, &key) {
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
    let prepared = (|| -> Result<()> {
        if let Some(ca) = ca {
            store.pin_ca(&read_ca(ca)?).context("--ca: the CA file is not a usable PEM certificate")?;
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

/// `--ca` given with an `http://` server URL.
const CA_NEEDS_HTTPS: &str = "--ca FILE is for an https:// server: plain http:// would not use the CA; \
     give the server's https:// URL, or leave out --ca";

/// The most a CA file may hold: a few certificates in PEM.
const MAX_CA_BYTES: u64 = 256 * 1024;

/// Reads a `--ca` file, bounded.
fn read_ca(ca: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let file =
        fs::File::open(ca).with_context(|| format!("--ca: cannot read the CA file {}", ca.display()))?;
    let mut pem = Vec::new();
    file.take(MAX_CA_BYTES + 1)
        .read_to_end(&mut pem)
        .with_context(|| format!("--ca: cannot read the CA file {}", ca.display()))?;
    if pem.len() as u64 > MAX_CA_BYTES {
        bail!(
            "--ca: the CA file {} is larger than {} KiB: give the township's ca.pem",
            ca.display(),
            MAX_CA_BYTES / 1024
        );
    }
    Ok(pem)
}

/// `set-server URL [--ca FILE]`: the next sync goes to `URL`; the device
/// keeps its identity, keys, unsent changes and records.
pub(super) fn set_server(ctx: &Ctx, server: &str, ca: Option<&Path>) -> Result<()> {
    let https = gridsync_client_core::check_server_url(server).context("URL")?;
    if ca.is_some() && !https {
        bail!("{}", CA_NEEDS_HTTPS);
    }
    let pem = ca.map(read_ca).transpose()?;
    let mut store = ctx.open()?;
    if !https && store.has_pinned_ca()? {
        bail!(
            "this device trusts a pinned township CA, which is for an https:// server only: give the \
             server's https:// URL (nothing was changed)"
        );
    }
    store.set_server(server, pem.as_deref()).map_err(|e| match e {
        // The CA is the only thing left for the store to refuse here.
        StoreError::Network(reason) => anyhow::anyhow!("--ca: {reason}; nothing was changed"),
        other => anyhow::Error::from(other),
    })?;
    eprintln!("gridsync: the next sync goes to {}", store.server_url());
    Ok(())
}

/// `enroll CODE`.
pub(super) fn enroll(ctx: &Ctx, code: &str) -> Result<()> {
    let mut store = ctx.open()?;
    let result = store.http_transport().and_then(|t| store.enroll(&t, &ticket_code(code)));
    enrolled(&store, result, &ctx.keys)
}

/// The code itself, whether typed or scanned (a QR code holds the
/// `EnrollmentTicket` JSON).
fn ticket_code(text: &str) -> String {
    serde_json::from_str::<gridsync_proto::EnrollmentTicket>(text)
        .map_or_else(|_| text.trim().to_owned(), |t| t.code)
}

/// Reports an enrollment on stderr, or explains its failure.
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
        Err(e @ StoreError::Wiped) => Err(sync_failure(store, e, keys)),
        Err(e) => Err(enroll_failure(e)),
    }
}

/// `sync`: one push-then-pull run; failures keep the outbox. Writes the
/// server refused are kept for `rejected` and announced on stderr.
pub(super) fn sync(ctx: &Ctx, json: bool, out: &mut dyn Write) -> Result<()> {
    let mut store = ctx.open()?;
    let result = store.http_transport().and_then(|transport| store.sync(&transport));
    let report = match result {
        Ok(report) => report,
        Err(e) => return Err(sync_failure(&store, e, &ctx.keys)),
    };
    print(out, json, &report, |r| format!("{}\n", render::sync_text(r)))?;
    if report.refused > 0 {
        let writes = if report.refused == 1 { "write" } else { "writes" };
        eprintln!(
            "gridsync: the server refused {} {writes}; see `gridsync rejected` for why",
            report.refused
        );
    }
    Ok(())
}

/// `status`.
pub(super) fn status(ctx: &Ctx, json: bool, out: &mut dyn Write) -> Result<()> {
    let store = ctx.open()?;
    let actor = store.profile().map(|p| &p.actor);
    let status = StatusJson {
        device: store.device_id().to_string(),
        server_url: store.server_url().to_owned(),
        enrolled: store.is_enrolled(),
        user: actor.map(|a| a.user.clone()),
        role: actor.map(|a| a.role.name().to_owned()),
        place: actor.and_then(|a| a.place.clone()),
        unit: actor.and_then(|a| a.unit.clone()),
        pending: store.pending()?,
        refused: store.rejections()?.len() as u64,
        withheld: store.withheld()?,
        cursor: store.cursor(),
        conflicts: store.conflicts()?.len() as u64,
    };
    print(out, json, &status, render::status_text)
}
