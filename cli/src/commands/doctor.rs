//! `doctor`: checks the store and repairs it if it is damaged.

use std::fmt::Write as _;
use std::io::Write;

use anyhow::{Context, Result};
use gridsync_client_core::{RepairReport, doctor};

use super::keys::key_for;
use super::{Ctx, print};

/// `doctor`: a thorough check; a damaged store is salvaged into a fresh
/// one that takes its place (the damaged file is kept aside). Prints what
/// was salvaged and lost, in counts.
pub(super) fn doctor(ctx: &Ctx, json: bool, out: &mut dyn Write) -> Result<()> {
    let key = key_for(ctx.path(), &ctx.keys)?;
    let report = doctor::repair(ctx.path(), &key)
        .with_context(|| format!("cannot repair the store at {}", ctx.path().display()))?;
    print(out, json, &report, text)
}

/// The report for people: counts, never record content.
fn text(r: &RepairReport) -> String {
    let mut s = String::new();
    if !r.repaired {
        let _ = writeln!(s, "the store is sound: nothing to repair");
        return s;
    }
    let aside = r.damaged_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
    let _ = writeln!(s, "the store was damaged and has been repaired; the damaged file is kept as {aside}");
    if r.resumed {
        let _ = writeln!(s, "(this finished a repair that had been interrupted)");
    }
    let kept = |yes: bool| if yes { "salvaged" } else { "lost" };
    let _ = writeln!(
        s,
        "device {}: enrollment {}, profile {}",
        r.device_id,
        kept(r.enrollment),
        if r.profile { "salvaged" } else { "lost (the next sync brings it)" }
    );
    let _ = writeln!(
        s,
        "unsent changes: {} salvaged ({} writes), {} lost",
        r.unsent_changes, r.unsent_groups, r.lost_changes
    );
    let _ = writeln!(s, "refused writes: {} salvaged, {} lost", r.rejections, r.lost_rejections);
    let _ = writeln!(
        s,
        "records: {} with unsent changes kept; every record comes back from the server at the next sync \
         ({} were still readable)",
        r.records_kept, r.records_found
    );
    if r.enrollment {
        let _ = writeln!(
            s,
            "next: `gridsync sync` sends the unsent changes first, then pulls every record again"
        );
    } else {
        let _ = writeln!(
            s,
            "next: enroll the device again (`gridsync enroll CODE`), then `gridsync sync` sends the unsent changes"
        );
    }
    s
}
