//! The tamper-evident audit log: what an event is, how rows are chained and
//! how a chain is checked. Backends store the rows
//! (`crate::storage::AuditWrite`, which also walks them with
//! [`ChainCheck`]); the chain is computed here, once, so every backend links
//! rows the same way. This module knows no storage.
//!
//! Enrollments, revocations, logins, admin actions and report reads are
//! appended in the same transaction as the action itself (a read's row
//! right after the read). Refused staff requests are appended one row each;
//! refused requests of devices and anonymous clients are counted
//! ([`refusals`]): the first of a minute from one requester is appended at
//! once, its repeats as one summary row when the minute closes. Each row stores the SHA-256 of the
//! previous row's hash and its own content, so editing, inserting or
//! deleting a row in the middle breaks the chain at that row, and
//! [`ChainCheck`] names it.
//!
//! A chain is checked whole ([`ChainCheck`] from the genesis), or from a
//! prefix checked before ([`Checkpoint`], [`ChainCheck::resume`]): the
//! service remembers how far it has verified ([`ChainMemory`]) and checks
//! only the rows appended since.
//!
//! A chain with its tail cut off is still a valid chain: an [`Anchor`]
//! (the row count and the last row's hash, written down outside the chain,
//! as a backup's manifest does) tells it from a shorter one.
//!
//! Rows never hold personal data beyond staff account names and device ids:
//! no record content, no passwords, codes or tokens.

mod anchor;
mod memory;
pub mod refusals;

use ring::digest;

pub use anchor::{Anchor, AnchorCheck, BadAnchor};
pub use memory::{ChainMemory, ChainProgress, ChainReport};

/// One audited event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Who: `user:NAME`, `device:ID`, `cli`, `address:IP` (a request that
    /// names no one, by its client address), `anonymous` (nor that), or
    /// [`refusals::OTHERS`].
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

/// A verified prefix of the chain: its last row's position and hash
/// (position 0 and [`GENESIS`] for the empty prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The last verified row's position.
    pub seq: u64,
    /// Its hash.
    pub hash: Vec<u8>,
}

impl Default for Checkpoint {
    fn default() -> Self {
        Self { seq: 0, hash: GENESIS.to_vec() }
    }
}

impl Checkpoint {
    /// The verdict on the prefix: intact, with its rows and head.
    pub fn verdict(&self) -> Verdict {
        Verdict::Intact { rows: self.seq, head: gridsync_proto::auth::hex(&self.hash) }
    }
}

/// Checks a chain row by row, from the first or from a verified prefix.
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
    /// Checks the rows that follow a verified prefix (the first one pushed
    /// must be the row after `from`).
    pub fn resume(from: &Checkpoint) -> Self {
        Self { prev: from.hash.clone(), expected: from.seq + 1, broken: None }
    }

    /// The verified prefix so far: the last row that held.
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint { seq: self.expected - 1, hash: self.prev.clone() }
    }

    /// The first break found, if any.
    pub fn broken(&self) -> Option<&Verdict> {
        self.broken.as_ref()
    }

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

    /// The verdict on the rows pushed (and the prefix it resumed from).
    pub fn finish(self) -> Verdict {
        let intact = self.checkpoint().verdict();
        self.broken.unwrap_or(intact)
    }
}
