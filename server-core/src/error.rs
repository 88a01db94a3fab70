//! The core's one error type: a request is either refused (the caller must
//! change it: a stable code, the field at fault, a plain message) or the
//! storage failed (the caller may retry, depending on the kind). The web
//! layer maps it to an HTTP status in one `From`; the operator's command
//! line prints the message.

use gridsync_proto::{ErrorCode, WireError};

/// Why a request was refused. Messages never hold personal data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Refusal {
    /// The stable code.
    pub code: ErrorCode,
    /// The field at fault, when one is.
    pub field: Option<String>,
    /// The human message.
    pub message: String,
    /// For a refused push: the first offending change.
    pub change_index: Option<u32>,
    /// For `stale_timestamp`: the server's clock.
    pub server_time_ms: Option<u64>,
}

impl Refusal {
    /// A refusal with a code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, field: None, message: message.into(), change_index: None, server_time_ms: None }
    }

    /// Names the offending change of a push.
    pub fn at(mut self, index: usize) -> Self {
        self.change_index = u32::try_from(index).ok();
        self
    }

    /// Names the field at fault.
    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// `forbidden`, in the words every role check uses.
    pub fn forbidden() -> Self {
        Self::new(ErrorCode::Forbidden, "your role or place does not allow this")
    }

    /// `invalid_request` with a message.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, message)
    }
}

impl From<WireError> for Refusal {
    fn from(e: WireError) -> Self {
        Self::new(e.code(), e.to_string())
    }
}

/// What kind of storage failure happened: what a caller can do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageErrorKind {
    /// A concurrent transaction changed the same rows; retrying may succeed.
    Conflict,
    /// The database is locked or overloaded; retry later.
    Busy,
    /// Stored data does not decode or breaks an invariant.
    Corrupt,
    /// The database cannot be reached, or the store is shutting down.
    Unavailable,
    /// Any other failure of the backend.
    Other,
}

/// A failure of the storage backend. Its message is for the server's log,
/// never for the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("storage ({kind:?}): {message}")]
pub struct StorageError {
    /// What kind of failure.
    pub kind: StorageErrorKind,
    /// What failed, for the log.
    pub message: String,
}

impl StorageError {
    /// A failure of `kind`.
    pub fn new(kind: StorageErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }

    /// Stored data that does not decode.
    pub fn corrupt(what: impl Into<String>) -> Self {
        Self::new(StorageErrorKind::Corrupt, what)
    }

    /// The store stopped, or the database cannot be reached.
    pub fn unavailable(what: impl Into<String>) -> Self {
        Self::new(StorageErrorKind::Unavailable, what)
    }
}

/// An operation's failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoreError {
    /// Refused: the caller must change its request. Nothing was kept.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The storage failed. Nothing was kept.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl CoreError {
    /// A refusal with a code and message.
    pub fn refused(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Refused(Refusal::new(code, message))
    }

    /// `forbidden`.
    pub fn forbidden() -> Self {
        Self::Refused(Refusal::forbidden())
    }

    /// `invalid_request` with a message.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::Refused(Refusal::invalid(message))
    }

    /// The refusal's code, if refused.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            CoreError::Refused(r) => Some(r.code),
            CoreError::Storage(_) => None,
        }
    }

    /// The error code an audit row records: the refusal's, or `internal`.
    pub fn audit_outcome(&self) -> &'static str {
        self.code().unwrap_or(ErrorCode::Internal).as_str()
    }
}

impl From<WireError> for CoreError {
    fn from(e: WireError) -> Self {
        Self::Refused(e.into())
    }
}

/// The result of a core operation.
pub type CoreResult<T> = Result<T, CoreError>;
