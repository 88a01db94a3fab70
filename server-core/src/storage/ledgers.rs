//! Locked months: a place's ledgers of a month as they stood when locked
//! (see [`crate::ledger::lock`]), stored as an opaque body.

use serde::Serialize;

use super::StorageResult;

/// A locked month of one place, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthLockRow {
    /// What the lock says of itself.
    pub head: MonthLockHead,
    /// The place's home township ([`crate::home::bucket`]).
    pub township: String,
    /// The ledgers ([`crate::ledger::LockedMonth::encode`]).
    pub body: Vec<u8>,
}

/// A locked month without its ledgers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MonthLockHead {
    /// The place's code.
    pub place: String,
    /// The month, `YYYY-MM`.
    pub month: String,
    /// The place whose lock was asked for (the place itself or one above it).
    pub root: String,
    /// The log position the ledgers were computed at.
    pub as_of_position: u64,
    /// That position's time (Unix ms).
    pub as_of_ms: i64,
    /// When the month was locked (Unix ms).
    pub locked_ms: i64,
    /// Who locked it.
    pub locked_by: String,
}

/// Reads of locked months.
pub trait LedgerRead {
    /// `place`'s locked `month` (`YYYY-MM`), filed in `township`.
    fn month_lock(&mut self, place: &str, township: &str, month: &str)
    -> StorageResult<Option<MonthLockRow>>;

    /// The locks that were asked for (`root` = `place`), by month then
    /// place: one per lock an admin took, not one per place it covers.
    fn month_locks(&mut self) -> StorageResult<Vec<MonthLockHead>>;
}

/// Writes of locked months.
pub trait LedgerWrite {
    /// Stores a locked month unless its place's month is already locked;
    /// answers whether it stored it. A locked month is never replaced.
    fn put_month_lock(&mut self, row: &MonthLockRow) -> StorageResult<bool>;
}
