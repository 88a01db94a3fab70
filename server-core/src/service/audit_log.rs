//! The audit log for its readers: checking the chain, and reading its rows
//! a page at a time from the newest, with filters.
//!
//! The chain is checked whole ([`Service::verify_audit`], for the operator's
//! `audit verify` and the admin API), or since the last check
//! ([`Service::audit_chain`], for the console's audit page): the service
//! remembers the verified prefix and reads only the rows appended since, up
//! to the head of its read snapshot; a break, once found, is remembered and
//! shown until a check from the first row is asked for or the server
//! restarts (see [`crate::audit::ChainMemory`]).
//!
//! Who may: administrators and auditors ([`policy::may_audit`]) and the
//! operator, as for checking the chain. The rows name staff accounts,
//! devices and places, never record content (see [`crate::audit`]), so a
//! reader of the log sees all of it; a refused read is audited.

use super::{Caller, Service};
use crate::audit::{Anchor, AnchorCheck, AuditRow, ChainReport, Verdict};
use crate::error::CoreResult;
use crate::policy;
use crate::storage::StorageExt;

/// Most rows in one page of [`Service::audit_log`].
pub const MAX_AUDIT_PAGE: usize = 200;
/// Most rows one page request looks at while filtering, so that a filter
/// that matches nothing still answers quickly; the page then ends early
/// and [`AuditPage::next_before`] says where to go on.
pub const MAX_AUDIT_SCAN: usize = 50_000;

/// Which rows of the audit log to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only rows before this position (`None`: from the newest).
    pub before: Option<u64>,
    /// Only rows whose actor contains this text (e.g. a user's name).
    pub actor: Option<String>,
    /// Only rows whose action starts with this text (`device.` for every
    /// device action).
    pub action: Option<String>,
    /// Only refusals (rows whose outcome is not `ok`).
    pub refusals_only: bool,
    /// Rows wanted (1 to [`MAX_AUDIT_PAGE`]; 0 means the most).
    pub limit: usize,
}

impl AuditQuery {
    /// Whether `row` passes the filters.
    pub fn matches(&self, row: &AuditRow) -> bool {
        let e = &row.event;
        self.actor.as_deref().is_none_or(|a| e.actor.contains(a))
            && self.action.as_deref().is_none_or(|a| e.action.starts_with(a))
            && (!self.refusals_only || e.outcome != "ok")
    }
}

/// One page of the audit log, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditPage {
    /// The rows that passed the filters.
    pub rows: Vec<AuditRow>,
    /// Where the next (older) page starts, if the log goes on.
    pub next_before: Option<u64>,
}

impl Service {
    /// Walks the whole audit chain (administrators, auditors and the
    /// operator), on a read snapshot.
    pub async fn verify_audit(&self, caller: &Caller) -> CoreResult<Verdict> {
        let allowed = caller.require(policy::may_audit);
        if allowed.is_err() {
            return self.audited(caller, "audit.verify", "", allowed.map(|_| unreachable_verdict())).await;
        }
        self.storage.read(|tx| Ok(tx.verify_chain()?)).await
    }

    /// Walks the whole audit chain as [`Service::verify_audit`] does, and
    /// judges it against `anchor`, a head written down outside the chain
    /// (a backup's manifest): `None` when the chain is broken (the verdict
    /// says where), else whether it holds the anchor, or is shorter
    /// (truncated) or another (diverges). On one read snapshot.
    pub async fn verify_audit_anchored(
        &self,
        caller: &Caller,
        anchor: Anchor,
    ) -> CoreResult<(Verdict, Option<AnchorCheck>)> {
        let allowed = caller.require(policy::may_audit);
        if let Err(refusal) = allowed {
            return self.audited(caller, "audit.verify", "", Err(refusal)).await;
        }
        self.storage
            .read(move |tx| {
                let verdict = tx.verify_chain()?;
                let mut at_anchor = None;
                if anchor.rows > 0 {
                    tx.audit_rows_between(anchor.rows, anchor.rows, &mut |row| {
                        at_anchor = Some(gridsync_proto::auth::hex(&row.hash));
                        false
                    })?;
                }
                let check = anchor.judge(&verdict, at_anchor.as_deref());
                Ok((verdict, check))
            })
            .await
    }

    /// The chain checked since the last check ([`crate::audit::ChainMemory`]):
    /// the rows appended since are read and linked to the verified prefix,
    /// up to the head of this read snapshot; the verdict covers the prefix
    /// verified so far, or names the first break (remembered from then on).
    /// `from_first` forgets the memory and checks from the first row. For
    /// those who may check the chain ([`Service::verify_audit`]).
    pub async fn audit_chain(&self, caller: &Caller, from_first: bool) -> CoreResult<ChainReport> {
        let allowed = caller.require(policy::may_audit);
        if let Err(refusal) = allowed {
            return self.audited(caller, "audit.verify", "", Err(refusal)).await;
        }
        // Held across the read: one check at a time, each on a newer snapshot.
        let mut memory = self.chain.lock().await;
        if from_first {
            memory.forget();
        }
        let from = match memory.start() {
            Ok(from) => from,
            Err(remembered) => return Ok(remembered),
        };
        let progress = self.storage.read(move |tx| Ok(tx.verify_chain_since(&from)?)).await?;
        Ok(memory.record(progress))
    }

    /// One page of the audit log, newest first, for those who may check it
    /// ([`Service::verify_audit`]), on a read snapshot. Looks at
    /// [`MAX_AUDIT_SCAN`] rows at most.
    pub async fn audit_log(&self, caller: &Caller, query: AuditQuery) -> CoreResult<AuditPage> {
        let allowed = caller.require(policy::may_audit);
        if let Err(refusal) = allowed {
            return self.audited(caller, "audit.read", "", Err(refusal)).await;
        }
        let limit = if query.limit == 0 { MAX_AUDIT_PAGE } else { query.limit.min(MAX_AUDIT_PAGE) };
        self.storage
            .read(move |tx| {
                let mut page = AuditPage { rows: Vec::new(), next_before: None };
                let (mut scanned, mut last_seq) = (0usize, None);
                tx.audit_rows_before(query.before.unwrap_or(u64::MAX), &mut |row| {
                    scanned += 1;
                    last_seq = Some(row.seq);
                    if query.matches(&row) {
                        page.rows.push(row);
                    }
                    page.rows.len() < limit && scanned < MAX_AUDIT_SCAN
                })?;
                // Stopped early (full page or scan limit) and older rows remain.
                if (page.rows.len() >= limit || scanned >= MAX_AUDIT_SCAN)
                    && let Some(seq) = last_seq.filter(|s| *s > 1)
                {
                    page.next_before = Some(seq);
                }
                Ok(page)
            })
            .await
    }
}

/// Never returned: stands in for the verdict of a refused request.
fn unreachable_verdict() -> Verdict {
    Verdict::Intact { rows: 0, head: String::new() }
}
