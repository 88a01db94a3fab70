//! The HTTP error: every refusal carries a stable code
//! ([`gridsync_proto::ErrorCode`]) and a plain message without personal
//! data. The core's [`CoreError`] becomes an `ApiError` in one `From`: a
//! refusal keeps its code and message; a storage failure is logged and
//! answered `internal` (or `unavailable` when the database is busy or out
//! of reach, which a client may retry).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use gridsync_proto::{ErrorBody, ErrorCode, WireError};
use gridsync_server_core::{CoreError, Refusal, StorageErrorKind};

/// An error answered to a client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    /// The stable code.
    pub code: ErrorCode,
    /// The human message.
    pub message: String,
    /// For a refused push: the first offending change.
    pub change_index: Option<u32>,
    /// For `stale_timestamp`: the server's clock.
    pub server_time_ms: Option<u64>,
}

impl ApiError {
    /// An error with a code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), change_index: None, server_time_ms: None }
    }

    /// Names the offending change of a push.
    pub fn at(mut self, index: usize) -> Self {
        self.change_index = u32::try_from(index).ok();
        self
    }

    /// A failure of the server itself; details go to the log, not the client.
    pub fn internal() -> Self {
        Self::new(ErrorCode::Internal, "the server failed; nothing of the request was applied")
    }
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        Self {
            code: r.code,
            message: r.message,
            change_index: r.change_index,
            server_time_ms: r.server_time_ms,
        }
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::Refused(refusal) => refusal.into(),
            CoreError::Storage(failure) => {
                tracing::error!(error = %failure, "storage failed");
                match failure.kind {
                    StorageErrorKind::Busy | StorageErrorKind::Unavailable => Self::new(
                        ErrorCode::Unavailable,
                        "the server's database is busy or unavailable; nothing was applied, retry later",
                    ),
                    StorageErrorKind::Conflict | StorageErrorKind::Corrupt | StorageErrorKind::Other => {
                        Self::internal()
                    }
                }
            }
        }
    }
}

impl From<WireError> for ApiError {
    fn from(e: WireError) -> Self {
        Self::new(e.code(), e.to_string())
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self.code {
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::KindMismatch | ErrorCode::DotReused => StatusCode::CONFLICT,
            ErrorCode::ActorMismatch
            | ErrorCode::DeviceRevoked
            | ErrorCode::DeviceWiped
            | ErrorCode::UserInactive
            | ErrorCode::PasswordChangeRequired
            | ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::Unauthenticated
            | ErrorCode::BadSignature
            | ErrorCode::UnknownDevice
            | ErrorCode::StaleTimestamp
            | ErrorCode::ReplayedRequest
            | ErrorCode::BadCredentials => StatusCode::UNAUTHORIZED,
            ErrorCode::EnrollmentUsed => StatusCode::CONFLICT,
            ErrorCode::EnrollmentExpired => StatusCode::GONE,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Internal | ErrorCode::Unknown => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Malformed
            | ErrorCode::UnsupportedVersion
            | ErrorCode::WrongMessageType
            | ErrorCode::TooManyChanges
            | ErrorCode::InvalidChange
            | ErrorCode::EnrollmentInvalid
            | ErrorCode::InvalidRequest
            | ErrorCode::InvalidField
            | ErrorCode::UnknownField
            | ErrorCode::MissingField
            | ErrorCode::InvalidRecord
            | ErrorCode::InvalidTransition => StatusCode::BAD_REQUEST,
            ErrorCode::OutOfScope => StatusCode::FORBIDDEN,
            ErrorCode::OverBudget => StatusCode::CONFLICT,
            ErrorCode::UnknownPlace => StatusCode::NOT_FOUND,
        }
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code()).json(ErrorBody {
            code: self.code,
            message: self.message.clone(),
            change_index: self.change_index,
            server_time_ms: self.server_time_ms,
        })
    }
}
