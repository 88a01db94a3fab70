//! What the service remembers of the audit chain between checks: how far
//! it is verified, or the first break found. A check then reads only the
//! rows appended since ([`crate::storage::AuditRead::verify_chain_since`]),
//! up to the head of its read snapshot, so rows appended meanwhile wait for
//! the next check; a break, once found, is shown until the memory is
//! forgotten (a restart, or a check asked to start from the first row).
//!
//! What an incremental check cannot see: a row inside the verified prefix
//! rewritten together with every hash after it up to the checkpoint is
//! caught (the checkpoint's hash changes), but one edited in place without
//! its hash is only caught by a check from the first row.

use super::{Checkpoint, Verdict};

/// What one check from a [`Checkpoint`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainProgress {
    /// The verified prefix now, or the first break.
    pub reached: Result<Checkpoint, Verdict>,
    /// The rows this check read and checked (the checkpoint's own row,
    /// read again to see that it did not change, not counted).
    pub checked: u64,
}

/// The chain's state as its readers are shown it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// Intact with the position it covers (`rows`) and its head, or
    /// broken at a position.
    pub verdict: Verdict,
    /// The rows this check read (0 when a break is remembered).
    pub checked: u64,
    /// Whether the break was found by an earlier check.
    pub remembered: bool,
}

/// The verified prefix of the chain, or the first break found.
#[derive(Debug, Default)]
pub struct ChainMemory {
    verified: Checkpoint,
    broken: Option<Verdict>,
}

impl ChainMemory {
    /// Where the next check starts: after the verified prefix. Once a break
    /// was found there is nothing to check: its report.
    pub fn start(&self) -> Result<Checkpoint, ChainReport> {
        match &self.broken {
            Some(broken) => Err(ChainReport { verdict: broken.clone(), checked: 0, remembered: true }),
            None => Ok(self.verified.clone()),
        }
    }

    /// Remembers what a check that began at [`ChainMemory::start`] found,
    /// and reports it. The verified prefix only grows.
    pub fn record(&mut self, progress: ChainProgress) -> ChainReport {
        let verdict = match progress.reached {
            Ok(reached) => {
                if reached.seq >= self.verified.seq {
                    self.verified = reached;
                }
                self.verified.verdict()
            }
            Err(broken) => {
                self.broken = Some(broken.clone());
                broken
            }
        };
        ChainReport { verdict, checked: progress.checked, remembered: false }
    }

    /// Forgets the verified prefix and any break: the next check starts
    /// from the first row.
    pub fn forget(&mut self) {
        *self = ChainMemory::default();
    }
}
