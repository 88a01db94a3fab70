//! The tamper-evident audit log: what an event is, how rows are chained and
//! how a chain is checked. Backends store the rows
//! (`crate::storage::AuditWrite`, which also walks them with
//! [`ChainCheck`]); the chain is computed here, once, so every backend links
//! rows the same way. This module knows no storage.
//!
//! Enrollments, revocations, logins, admin actions, report reads and refused
//! requests are appended in the same transaction as the action itself (a
//! read's row right after the read). Each row stores the SHA-256 of the
//! previous row's hash and its own content, so editing, inserting or
//! deleting a row in the middle breaks the chain at that row, and
//! [`ChainCheck`] names it.
//!
//! Rows never hold personal data beyond staff account names and device ids:
//! no record content, no passwords, codes or tokens.

use ring::digest;

/// One audited event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Who: `user:NAME`, `device:ID`, `cli`, or `anonymous`.
    pub actor: String,
    /// What, e.g. `device.enroll`, `user.add`, `login`.
    pub action: String,
    /// On what, e.g. a user name or device id.
    pub target: String,
    /// `ok`, or the refusal's error code.
    pub outcome: String,
    /// Extra facts (never record content, secrets or codes).
    pub detail: String,
}

impl Event {
    /// An event with an empty detail.
    pub fn new(
        actor: impl Into<String>,
        action: impl Into<String>,
        target: impl Into<String>,
        outcome: impl Into<String>,
    ) -> Self {
        Self {
            actor: actor.into(),
            action: action.into(),
            target: target.into(),
            outcome: outcome.into(),
            detail: String::new(),
        }
    }

    /// Adds a detail.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }
}

/// The `prev_hash` of the first row.
pub const GENESIS: [u8; 32] = [0; 32];

/// The hash of row `seq` at `time_ms` holding `event`, after the row whose
/// hash is `prev`.
pub fn link(prev: &[u8], seq: u64, time_ms: u64, event: &Event) -> Vec<u8> {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(prev);
    ctx.update(&(seq as i64).to_be_bytes());
    ctx.update(&(time_ms as i64).to_be_bytes());
    for part in [&event.actor, &event.action, &event.target, &event.outcome, &event.detail] {
        ctx.update(&(part.len() as u64).to_be_bytes());
        ctx.update(part.as_bytes());
    }
    ctx.finish().as_ref().to_vec()
}

/// The result of checking the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every link holds.
    Intact {
        /// Rows checked.
        rows: u64,
        /// Hash of the last row (hex); keep it elsewhere to detect truncation.
        head: String,
    },
    /// The first row whose link does not hold.
    Broken {
        /// Its sequence number.
        seq: i64,
        /// What is wrong.
        reason: &'static str,
    },
}

/// A row of the audit log as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    /// Its position: 1, 2, 3… with no gaps.
    pub seq: u64,
    /// When (Unix ms).
    pub time_ms: u64,
    /// The event.
    pub event: Event,
    /// The hash of the row before ([`GENESIS`] for the first).
    pub prev_hash: Vec<u8>,
    /// This row's hash ([`link`]).
    pub hash: Vec<u8>,
}

/// Checks a chain row by row, from the first.
#[derive(Debug)]
pub struct ChainCheck {
    prev: Vec<u8>,
    expected: u64,
    broken: Option<Verdict>,
}

impl Default for ChainCheck {
    fn default() -> Self {
        Self { prev: GENESIS.to_vec(), expected: 1, broken: None }
    }
}

impl ChainCheck {
    /// Checks the next row; `false` once the chain is broken (stop feeding).
    pub fn push(&mut self, row: AuditRow) -> bool {
        if self.broken.is_some() {
            return false;
        }
        let reason = if row.seq != self.expected {
            Some("a row is missing before this one")
        } else if row.prev_hash != self.prev {
            Some("its link to the previous row does not match")
        } else if link(&self.prev, row.seq, row.time_ms, &row.event) != row.hash {
            Some("its content was changed")
        } else {
            None
        };
        if let Some(reason) = reason {
            self.broken = Some(Verdict::Broken { seq: row.seq as i64, reason });
            return false;
        }
        self.prev = row.hash;
        self.expected += 1;
        true
    }

    /// The verdict on the rows pushed.
    pub fn finish(self) -> Verdict {
        self.broken.unwrap_or_else(|| Verdict::Intact {
            rows: self.expected - 1,
            head: gridsync_proto::auth::hex(&self.prev),
        })
    }
}
