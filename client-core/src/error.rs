//! Errors of the handset store. Messages never contain record content.

use gridsync_proto::{ErrorBody, ErrorCode, InvalidChange, MergeError, RecordId, RuleError, WireError};

/// Everything that can go wrong in the handset store.
///
/// A message that names its cause (`invalid change: {cause}`) does not
/// also return it from `source()`: a chain printer (`{:#}` of `anyhow`)
/// shows every cause once, and `to_string()` alone still says everything.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store file cannot be opened or upgraded.
    #[error(transparent)]
    Open(gridsync_sql_support::OpenError),
    /// SQLite failed.
    #[error("storage: {0}")]
    Storage(rusqlite::Error),
    /// The store file is damaged (its self-check on open failed, SQLite
    /// found a corrupt page, or a sealed value no longer opens): it refuses
    /// every write and every sync, so that nothing more is acknowledged
    /// into a file that can no longer hold it. What can still be read may
    /// be read. `gridsync doctor` (in the app: the repair) salvages the
    /// device identity and the unsent changes into a fresh store.
    #[error(
        "the handset store is damaged and refuses writes and syncs; run `gridsync doctor` \
         (in the app: Repair) to salvage its identity and unsent changes into a fresh store"
    )]
    Damaged,
    /// A repair cannot salvage the store at all (its device identity is
    /// unreadable, or the file is not a handset store of a version it
    /// knows); the damaged file is left as it was.
    #[error("the handset store cannot be repaired: {0}; the file is left as it was")]
    Unrepairable(&'static str),
    /// A repaired store has not yet pulled its records again: a record it
    /// does not hold cannot be written under a fixed id (a daily report)
    /// before the first complete sync, which could otherwise reuse a change
    /// id the server already holds. Nothing was written.
    #[error("this store was repaired and has not pulled its records again yet; sync first")]
    Restoring,
    /// The device was revoked with a wipe order: its store has been erased.
    #[error("this device was revoked and its local data has been erased")]
    Wiped,
    /// The device has no identity on the server yet.
    #[error("this device is not enrolled; enroll it with a code from the township")]
    NotEnrolled,
    /// The store has not been initialised with `init`.
    #[error("the store is not initialised; run init first")]
    NotInitialized,
    /// `init` on a store that already has a device identity.
    #[error("the store is already initialised")]
    AlreadyInitialized,
    /// No record with that id on this device.
    #[error("no record {0} on this device")]
    NotFound(RecordId),
    /// A record named as a reference (a patrol finding's record, a daily
    /// report's item) is not on this device; nothing was written.
    /// `argument` is the parameter of the call that names it.
    #[error("{argument} names record {record}, which is not on this device; nothing was written")]
    UnknownReference {
        /// The parameter that names the record (`record`, `items`).
        argument: &'static str,
        /// The record named.
        record: RecordId,
    },
    /// A server URL that is not an absolute `http://` or `https://` URL, or
    /// an `http://` URL for a device that trusts a pinned CA (plain HTTP
    /// would not use it); nothing was changed.
    #[error("the server URL {0}")]
    ServerUrl(&'static str),
    /// A change fails validation; nothing was written.
    #[error("invalid change: {0}")]
    Invalid(InvalidChange),
    /// A change cannot merge (kind mismatch, ...); nothing was written.
    #[error("cannot merge: {0}")]
    Merge(MergeError),
    /// The record rules refuse the edit (a field's type, a missing field, the
    /// user's role or scope, a dispute step the stage does not allow);
    /// nothing was written. The message names the rule, never the values.
    #[error("refused by the record rules ({code}): {0}", code = .0.code)]
    Rule(RuleError),
    /// The sync was cancelled between pages; nothing is lost.
    #[error("the sync was cancelled; what was done is kept, sync again to go on")]
    Cancelled,
    /// No refused write with that id on this device.
    #[error("no refused write {0} on this device")]
    NoSuchRejection(i64),
    /// `resolve` on a field that has no conflict.
    #[error("field {field:?} of record {record} has no conflict")]
    NoConflict {
        /// The record.
        record: RecordId,
        /// The field.
        field: String,
    },
    /// The store key given is not the one this store was encrypted with.
    #[error("the store key does not match this store")]
    WrongKey,
    /// A store key in text form is not 64 hexadecimal digits.
    #[error("a store key must be 64 hexadecimal digits (32 bytes)")]
    KeyFormat,
    /// A cryptographic operation failed (e.g. the system random generator).
    #[error("cryptography: {0}")]
    Crypto(&'static str),
    /// Stored data does not decode (corruption or a newer format).
    #[error("stored data is corrupt: {0}")]
    Corrupt(&'static str),
    /// A file cannot be attached (empty, too large, not a photo or PDF
    /// of an accepted kind, a name too long); nothing was written. The
    /// reason names the rule, never the file.
    #[error("the file cannot be attached: {0}")]
    BadFile(&'static str),
    /// An attachment is not on this device (not fetched yet, evicted from
    /// the cache, or its stored copy no longer reads and was dropped), or
    /// the record named does not reference it.
    #[error("the attachment is not available: {0}")]
    AttachmentUnavailable(&'static str),
    /// Reading or writing an attachment file failed (a full or failing
    /// disk, permissions). The message never contains a path or a name.
    #[error("attachment files: {0}")]
    Files(std::io::ErrorKind),
    /// The server could not be reached; nothing is lost, sync again later.
    #[error("network: {0}")]
    Network(String),
    /// The server's TLS certificate is not trusted: not signed by a CA
    /// this device trusts (a township CA that was not pinned), not issued
    /// for the server's address, or expired. Retrying does not help: pin
    /// the township CA ([`crate::Store::pin_ca`]) or fix the certificate.
    #[error("the server's TLS certificate is not trusted: {0}")]
    Certificate(String),
    /// The server refused a request; the outbox is kept.
    #[error("server refused the request ({status}): {} ({})", .body.message, .body.code)]
    Rejected {
        /// HTTP status.
        status: u16,
        /// The server's error.
        body: ErrorBody,
    },
    /// The server answered something that is not a valid message.
    #[error("bad answer from server: {0}")]
    Protocol(WireError),
}

impl From<InvalidChange> for Error {
    fn from(e: InvalidChange) -> Self {
        Error::Invalid(e)
    }
}

impl From<MergeError> for Error {
    fn from(e: MergeError) -> Self {
        Error::Merge(e)
    }
}

impl From<RuleError> for Error {
    fn from(e: RuleError) -> Self {
        Error::Rule(e)
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Files(e.kind())
    }
}

impl From<WireError> for Error {
    fn from(e: WireError) -> Self {
        Error::Protocol(e)
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        if is_corruption(&e) { Error::Damaged } else { Error::Storage(e) }
    }
}

impl From<gridsync_sql_support::OpenError> for Error {
    fn from(e: gridsync_sql_support::OpenError) -> Self {
        match &e {
            gridsync_sql_support::OpenError::Sqlite { cause, .. } if is_corruption(cause) => Error::Damaged,
            _ => Error::Open(e),
        }
    }
}

/// Whether SQLite says the file is damaged (`SQLITE_CORRUPT`,
/// `SQLITE_NOTADB`), as any statement may find out at any time.
pub(crate) fn is_corruption(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
    )
}

impl Error {
    /// Whether this error shows the store file to be damaged: the store
    /// then refuses writes and syncs ([`Error::Damaged`]).
    pub fn is_damage(&self) -> bool {
        matches!(self, Error::Damaged | Error::Corrupt(_))
    }

    /// The server's error code, for a refused request.
    pub fn server_code(&self) -> Option<ErrorCode> {
        match self {
            Error::Rejected { body, .. } => Some(body.code),
            _ => None,
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn a_cause_named_in_the_message_is_not_also_a_source() {
        let errors = [
            Error::from(InvalidChange::TooDeep),
            Error::from(RuleError::new(ErrorCode::InvalidField, Some("risk"), "must be 1 to 4")),
            Error::from(WireError::BadMagic),
        ];
        for e in errors {
            assert!(e.source().is_none(), "{e}");
        }
        let deep = Error::from(InvalidChange::TooDeep).to_string();
        assert_eq!(deep, "invalid change: value nested deeper than 8 levels");
    }
}
