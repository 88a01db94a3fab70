//! Records in general: `new`, `set`, `note`, `show`, `list`, `conflicts`,
//! `resolve`. Every write is checked with the record rules.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Result, bail};
use gridsync_client_core::{Edit, Error as StoreError, RecordFilter, Store};
use gridsync_proto::{RecordId, RecordKind, RecordState, RecordView};

use super::{Ctx, print};
use crate::render::{self, ConflictJson};
use crate::values;

/// `new KIND --set ...`: exactly the fields given.
pub(super) fn new(ctx: &Ctx, kind: RecordKind, set: &[String], out: &mut dyn Write) -> Result<()> {
    let fields = values::parse_assignments(set)?;
    let id = ctx.open()?.create(kind, fields)?;
    writeln!(out, "{id}")?;
    Ok(())
}

/// `set ID KEY=VALUE...`: one atomic edit.
pub(super) fn set(ctx: &Ctx, id: RecordId, fields: &[String]) -> Result<()> {
    let edits = values::parse_assignments(fields)?.into_iter().map(|(k, v)| Edit::Set(k, v));
    ctx.open()?.edit(id, edits)?;
    Ok(())
}

/// `note ID (TEXT | --text-file FILE)`.
pub(super) fn note(ctx: &Ctx, id: RecordId, text: Option<String>, file: Option<PathBuf>) -> Result<()> {
    let Some(text) = super::long_text::resolve("text", text, file)? else {
        bail!("give the note as TEXT, or --text-file FILE");
    };
    if text.trim().is_empty() {
        bail!("the note is empty");
    }
    ctx.open()?.note(id, &text)?;
    Ok(())
}

/// `show ID`: the view with the server's receipts and a dispute's lifecycle.
pub(super) fn show(ctx: &Ctx, id: RecordId, json: bool, out: &mut dyn Write) -> Result<()> {
    let view = ctx.open()?.view(id)?.ok_or(StoreError::NotFound(id))?;
    print(out, json, &view, render::record_text)
}

/// A record's view with the server's receipts.
pub(super) fn view_of(store: &Store, state: &RecordState) -> Result<RecordView> {
    let receipts = store.receipts(state.id())?;
    Ok(RecordView::with_receipts(state, &|dot| receipts.get(dot).map(|r| (r.received_ms, r.clock_suspect))))
}

/// `list`.
pub(super) fn list(
    ctx: &Ctx,
    kind: Option<RecordKind>,
    conflicted: bool,
    json: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let store = ctx.open()?;
    let filter = RecordFilter { kind, conflicted, ..RecordFilter::default() };
    let views = store.list(&filter)?.iter().map(|s| view_of(&store, s)).collect::<Result<Vec<_>>>()?;
    print(out, json, &views, |views| {
        if views.is_empty() {
            return "no records\n".to_owned();
        }
        views.iter().map(|v| format!("{}\n", render::list_line(v))).collect()
    })
}

/// `conflicts`.
pub(super) fn conflicts(ctx: &Ctx, json: bool, out: &mut dyn Write) -> Result<()> {
    let store = ctx.open()?;
    let mut conflicts = Vec::new();
    for c in store.conflicts()? {
        let receipts = store.receipts(c.record)?;
        conflicts
            .push(ConflictJson::new(&c, &|dot| receipts.get(dot).map(|r| (r.received_ms, r.clock_suspect))));
    }
    print(out, json, &conflicts, |c: &Vec<ConflictJson>| render::conflicts_text(c))
}

/// `resolve ID FIELD VALUE`.
pub(super) fn resolve(ctx: &Ctx, id: RecordId, field: &str, value: &str, json: bool) -> Result<()> {
    let value = values::parse_value(value, json, field)?;
    match ctx.open()?.resolve(id, field, value) {
        Err(e @ StoreError::NoConflict { .. }) => {
            bail!("{e}; to change a field without a conflict use `gridsync set {id} FIELD=VALUE`")
        }
        other => Ok(other?),
    }
}
