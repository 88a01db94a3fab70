//! The hash-chained audit log (see [`crate::audit`]).

use super::StorageResult;
pub use crate::audit::AuditRow;
use crate::audit::{ChainCheck, Event, Verdict, link};

/// Reads of the audit log.
pub trait AuditRead {
    /// The last row's position and hash, if any.
    fn audit_head(&mut self) -> StorageResult<Option<(u64, Vec<u8>)>>;

    /// Every row in order, until `each` answers `false`.
    fn audit_rows(&mut self, each: &mut dyn FnMut(AuditRow) -> bool) -> StorageResult<()>;

    /// The rows whose position is below `before`, newest first, until
    /// `each` answers `false` (for paging through the log from its end).
    fn audit_rows_before(&mut self, before: u64, each: &mut dyn FnMut(AuditRow) -> bool)
    -> StorageResult<()>;

    /// Walks the whole chain from the first row ([`ChainCheck`]).
    fn verify_chain(&mut self) -> StorageResult<Verdict> {
        let mut check = ChainCheck::default();
        self.audit_rows(&mut |row| check.push(row))?;
        Ok(check.finish())
    }
}

/// Writes of the audit log.
pub trait AuditWrite: AuditRead {
    /// Stores a row as given. Backends refuse updates and deletes of rows.
    fn insert_audit_row(&mut self, row: &AuditRow) -> StorageResult<()>;

    /// Appends `event` at `time_ms`, linked to the row before it. Call in
    /// the transaction of the action it records.
    fn append_audit(&mut self, time_ms: u64, event: &Event) -> StorageResult<()> {
        let (seq, prev) = match self.audit_head()? {
            Some((seq, hash)) => (seq + 1, hash),
            None => (1, crate::audit::GENESIS.to_vec()),
        };
        let hash = link(&prev, seq, time_ms, event);
        self.insert_audit_row(&AuditRow { seq, time_ms, event: event.clone(), prev_hash: prev, hash })
    }
}
