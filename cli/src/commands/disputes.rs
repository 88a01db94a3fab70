//! Disputes and refused writes: `dispute ...`, `rejected`.

use std::io::Write;

use anyhow::{Result, bail};
use gridsync_client_core::{Error as StoreError, Mediation, NewDispute, Party, StepDetails};

use super::long_text::resolve;
use super::{Ctx, now_ms, print};
use crate::args::{DisputeCommand, RejectedCommand};
use crate::render::{self, DisputeJson, RejectedJson};

/// `dispute ...`.
pub(super) fn dispute(ctx: &Ctx, command: DisputeCommand, out: &mut dyn Write) -> Result<()> {
    match command {
        DisputeCommand::New {
            category,
            source,
            summary,
            summary_file,
            risk,
            place,
            parties,
            address,
            due,
            source_record,
        } => {
            let summary = resolve("summary", summary, summary_file)?;
            let dispute = NewDispute {
                place,
                source,
                source_record,
                category,
                summary,
                risk,
                parties: parties
                    .into_iter()
                    .map(|name| Party { name, role: None, id_number: None, phone: None, address: None })
                    .collect(),
                address,
                due,
            };
            let id = ctx.open()?.register_dispute(&dispute)?;
            writeln!(out, "{id}")?;
        }
        DisputeCommand::Step { id, action, unit, letter_number, receipt, note, note_file, acknowledges } => {
            let note = resolve("note", note, note_file)?;
            let details = StepDetails { unit, letter_number, receipt, note, acknowledges };
            let step = ctx.open()?.take_step(id, action, details)?;
            writeln!(out, "{step}")?;
        }
        DisputeCommand::Mediation { id, outcome, place, participants, note, note_file, at } => {
            let note = resolve("note", note, note_file)?;
            let session =
                Mediation { time_ms: at.unwrap_or_else(now_ms), outcome, place, participants, note };
            ctx.open()?.add_mediation(id, &session)?;
        }
        DisputeCommand::Show { id, json } => {
            let view = ctx.open()?.view(id)?.ok_or(StoreError::NotFound(id))?;
            let Some(lifecycle) = view.lifecycle else {
                if view.kind == "dispute" {
                    bail!("the registration of dispute {id} has not arrived on this device yet");
                }
                bail!("record {id} is a {}, not a dispute", view.kind);
            };
            let shown = DisputeJson { id: view.id, lifecycle };
            print(out, json, &shown, render::dispute_text)?;
        }
    }
    Ok(())
}

/// `rejected [dismiss ID]`.
pub(super) fn rejected(
    ctx: &Ctx,
    json: bool,
    command: Option<RejectedCommand>,
    out: &mut dyn Write,
) -> Result<()> {
    let mut store = ctx.open()?;
    match command {
        Some(RejectedCommand::Dismiss { id }) => store.dismiss_rejection(id)?,
        None => {
            let refused: Vec<RejectedJson> = store.rejections()?.iter().map(RejectedJson::from).collect();
            print(out, json, &refused, |r| render::rejected_text(r))?;
        }
    }
    Ok(())
}
