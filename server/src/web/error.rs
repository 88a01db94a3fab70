//! The HTTP error: every refusal carries a stable code
//! ([`gridsync_proto::ErrorCode`]) and a plain message without personal
//! data. The core's [`CoreError`] becomes an `ApiError` in one `From`: a
//! refusal keeps its code and message; a storage failure is logged and
//! answered `internal` (or `unavailable` when the database is busy or out
//! of reach, which a client may retry).

use actix_web::http::{StatusCode, header};
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
    /// The input at fault, when one is (a JSON member such as `server_url`).
    pub field: Option<String>,
    /// For a refused push: the first offending change.
    pub change_index: Option<u32>,
    /// For `stale_timestamp`: the server's clock.
    pub server_time_ms: Option<u64>,
    /// Seconds after which a retry may succeed, sent as `Retry-After`.
    pub retry_after_s: Option<u32>,
}

impl ApiError {
    /// An error with a code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
            change_index: None,
            server_time_ms: None,
            retry_after_s: None,
        }
    }

    /// Names the input at fault.
    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// Tells the client when to retry (`Retry-After`, in seconds).
    pub fn retry_after(mut self, seconds: u32) -> Self {
        self.retry_after_s = Some(seconds);
        self
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
            field: r.field,
            change_index: r.change_index,
            server_time_ms: r.server_time_ms,
            retry_after_s: None,
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
            ErrorCode::EnrollmentUsed | ErrorCode::UploadOffset => StatusCode::CONFLICT,
            ErrorCode::ContentMismatch => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::QuotaExceeded => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::EnrollmentExpired => StatusCode::GONE,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ErrorCode::Internal | ErrorCode::Unknown => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Malformed
            | ErrorCode::ChunkMismatch
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
        let mut response = HttpResponse::build(self.status_code());
        if let Some(seconds) = self.retry_after_s {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        response.json(ErrorBody {
            code: self.code,
            message: self.message.clone(),
            field: self.field.clone(),
            change_index: self.change_index,
            server_time_ms: self.server_time_ms,
        })
    }
}
