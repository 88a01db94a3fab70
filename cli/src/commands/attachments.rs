//! Attachments: `attach`, `attachments`, `open-attachment`,
//! `fetch-attachment` (ADR 0033). Uploads happen in `sync`.

use std::io::Write;
use std::path::Path;

use anyhow::Result;
use gridsync_proto::{ContentHash, Dot, RecordId};

use super::{Ctx, print};
use crate::render::{self, AttachmentJson};

/// `attach RECORD FILE [--name NAME] [--entry DOT]`: prints the hash.
pub(super) fn attach(
    ctx: &Ctx,
    record: RecordId,
    file: &Path,
    name: Option<&str>,
    entry: Option<Dot>,
    json: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let mut store = ctx.open()?;
    let reference = store.attach_file(record, entry, name, file)?;
    let info = store
        .attachments(record)?
        .into_iter()
        .find(|a| a.reference.hash == reference.hash)
        .map(|a| AttachmentJson::from(&a));
    match info {
        Some(info) => print(out, json, &info, |a| format!("{}\n", a.hash)),
        None => Ok(writeln!(out, "{}", reference.hash)?),
    }
}

/// `attachments RECORD`.
pub(super) fn list(ctx: &Ctx, record: RecordId, json: bool, out: &mut dyn Write) -> Result<()> {
    let list: Vec<AttachmentJson> =
        ctx.open()?.attachments(record)?.iter().map(AttachmentJson::from).collect();
    print(out, json, &list, |l| render::attachments_text(l))
}

/// `open-attachment HASH --out DIR`: prints the copy's path.
pub(super) fn open(ctx: &Ctx, hash: &ContentHash, dir: &Path, out: &mut dyn Write) -> Result<()> {
    let path = ctx.open()?.export_attachment(hash, dir)?;
    writeln!(out, "{}", path.display())?;
    Ok(())
}

/// `fetch-attachment RECORD HASH`.
pub(super) fn fetch(ctx: &Ctx, record: RecordId, hash: &ContentHash, out: &mut dyn Write) -> Result<()> {
    let mut store = ctx.open()?;
    let transport = store.http_transport()?;
    // Failures of the exchange exit as a sync's do (unreachable 3, refused 2, …).
    let info = store
        .fetch_attachment(&transport, record, hash)
        .map_err(|e| super::failure::sync_failure(&store, e, &ctx.keys))?;
    writeln!(out, "fetched {} ({} bytes)", info.reference.hash, info.reference.size)?;
    Ok(())
}
