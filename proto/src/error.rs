//! Stable, machine-readable error codes shared by server and clients.
//!
//! The server answers every refused request with an HTTP 4xx/5xx status and
//! a JSON [`ErrorBody`]. Codes never change meaning once released; messages
//! are for people and never contain personal data.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What went wrong, in a form programs can act on.
///
/// It travels as its snake_case name, in JSON and in binary messages alike,
/// so a code added later reads as [`ErrorCode::Unknown`] on an older peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The body is not a gridsync message: bad magic, truncated, or undecodable.
    Malformed,
    /// The message's protocol version is not one this server speaks.
    UnsupportedVersion,
    /// The message is of another type than the endpoint takes.
    WrongMessageType,
    /// The body is larger than the server accepts.
    PayloadTooLarge,
    /// A push carries more changes than one batch may.
    TooManyChanges,
    /// A change fails validation (names, sizes, values).
    InvalidChange,
    /// A change's record already exists with another kind.
    KindMismatch,
    /// A change reuses a dot already used for different content.
    DotReused,
    /// A change claims to come from another device than the one pushing.
    ActorMismatch,
    /// The request's content type is not `application/x-gridsync`.
    UnsupportedMediaType,
    /// No such endpoint.
    NotFound,
    /// The endpoint exists but not for this HTTP method.
    MethodNotAllowed,
    /// The request carries no (or incomplete) authentication.
    Unauthenticated,
    /// The request's signature does not verify (wrong key or altered request).
    BadSignature,
    /// The device is not enrolled on this server.
    UnknownDevice,
    /// The device was revoked; it must stop syncing.
    DeviceRevoked,
    /// The device was revoked with a wipe order: destroy the local store now.
    DeviceWiped,
    /// The request's time is too far from the server's; see `server_time_ms`.
    StaleTimestamp,
    /// The request was already received once (same nonce).
    ReplayedRequest,
    /// The enrollment code is unknown.
    EnrollmentInvalid,
    /// The enrollment code was already used.
    EnrollmentUsed,
    /// The enrollment code has expired.
    EnrollmentExpired,
    /// Wrong user name or password.
    BadCredentials,
    /// The user is deactivated.
    UserInactive,
    /// The session's user logged in with a one-time password (set for them
    /// by an administrator or the operator): nothing but changing it, and
    /// logging out, is allowed until they choose their own.
    PasswordChangeRequired,
    /// Authenticated, but not allowed to do this (role or place in the hierarchy).
    Forbidden,
    /// Too many attempts; wait before trying again.
    RateLimited,
    /// The request is well-formed but asks for something invalid (e.g. unknown user).
    InvalidRequest,
    /// A field (or entry attribute, or a member of an admin request) has a
    /// value its type does not allow.
    InvalidField,
    /// A field or entry that this kind of record does not have (or a member
    /// an admin request does not take).
    UnknownField,
    /// A field the record (or an admin request) needs is missing.
    MissingField,
    /// A record breaks a rule of its kind (e.g. a daily report's fixed id).
    InvalidRecord,
    /// A dispute step that its stage does not allow, or that follows an
    /// unknown step.
    InvalidTransition,
    /// The record or place lies outside the user's assignment.
    OutOfScope,
    /// The change would put more records on a device than its budget.
    OverBudget,
    /// No such place or unit in the hierarchy.
    UnknownPlace,
    /// The server is shutting down or overloaded; retry later.
    Unavailable,
    /// An attachment chunk's bytes do not match the hash sent with them.
    ChunkMismatch,
    /// An attachment chunk does not start where the server's acknowledged
    /// bytes end: ask for the upload's status and go on from there.
    UploadOffset,
    /// An uploaded file does not match its record's reference: another
    /// SHA-256, or bytes of another media type than declared.
    ContentMismatch,
    /// The device has uploaded as many attachment bytes today as the
    /// server allows; retry tomorrow.
    QuotaExceeded,
    /// The request's body did not arrive within the server's time limit
    /// (a stalled or very slow connection); retry, with fewer changes on a
    /// slow link.
    RequestTimeout,
    /// The server failed; nothing of the request was applied.
    Internal,
    /// A code this build does not know (sent by a newer server).
    Unknown,
}

impl ErrorCode {
    /// Every code this build knows.
    pub const ALL: [ErrorCode; 43] = [
        ErrorCode::Malformed,
        ErrorCode::UnsupportedVersion,
        ErrorCode::WrongMessageType,
        ErrorCode::PayloadTooLarge,
        ErrorCode::TooManyChanges,
        ErrorCode::InvalidChange,
        ErrorCode::KindMismatch,
        ErrorCode::DotReused,
        ErrorCode::ActorMismatch,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::Unauthenticated,
        ErrorCode::BadSignature,
        ErrorCode::UnknownDevice,
        ErrorCode::DeviceRevoked,
        ErrorCode::DeviceWiped,
        ErrorCode::StaleTimestamp,
        ErrorCode::ReplayedRequest,
        ErrorCode::EnrollmentInvalid,
        ErrorCode::EnrollmentUsed,
        ErrorCode::EnrollmentExpired,
        ErrorCode::BadCredentials,
        ErrorCode::UserInactive,
        ErrorCode::PasswordChangeRequired,
        ErrorCode::Forbidden,
        ErrorCode::RateLimited,
        ErrorCode::InvalidRequest,
        ErrorCode::InvalidField,
        ErrorCode::UnknownField,
        ErrorCode::MissingField,
        ErrorCode::InvalidRecord,
        ErrorCode::InvalidTransition,
        ErrorCode::OutOfScope,
        ErrorCode::OverBudget,
        ErrorCode::UnknownPlace,
        ErrorCode::Unavailable,
        ErrorCode::ChunkMismatch,
        ErrorCode::UploadOffset,
        ErrorCode::ContentMismatch,
        ErrorCode::QuotaExceeded,
        ErrorCode::RequestTimeout,
        ErrorCode::Internal,
    ];

    /// The code as it appears in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Malformed => "malformed",
            ErrorCode::UnsupportedVersion => "unsupported_version",
            ErrorCode::WrongMessageType => "wrong_message_type",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::TooManyChanges => "too_many_changes",
            ErrorCode::InvalidChange => "invalid_change",
            ErrorCode::KindMismatch => "kind_mismatch",
            ErrorCode::DotReused => "dot_reused",
            ErrorCode::ActorMismatch => "actor_mismatch",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::BadSignature => "bad_signature",
            ErrorCode::UnknownDevice => "unknown_device",
            ErrorCode::DeviceRevoked => "device_revoked",
            ErrorCode::DeviceWiped => "device_wiped",
            ErrorCode::StaleTimestamp => "stale_timestamp",
            ErrorCode::ReplayedRequest => "replayed_request",
            ErrorCode::EnrollmentInvalid => "enrollment_invalid",
            ErrorCode::EnrollmentUsed => "enrollment_used",
            ErrorCode::EnrollmentExpired => "enrollment_expired",
            ErrorCode::BadCredentials => "bad_credentials",
            ErrorCode::UserInactive => "user_inactive",
            ErrorCode::PasswordChangeRequired => "password_change_required",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidField => "invalid_field",
            ErrorCode::UnknownField => "unknown_field",
            ErrorCode::MissingField => "missing_field",
            ErrorCode::InvalidRecord => "invalid_record",
            ErrorCode::InvalidTransition => "invalid_transition",
            ErrorCode::OutOfScope => "out_of_scope",
            ErrorCode::OverBudget => "over_budget",
            ErrorCode::UnknownPlace => "unknown_place",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::ChunkMismatch => "chunk_mismatch",
            ErrorCode::UploadOffset => "upload_offset",
            ErrorCode::ContentMismatch => "content_mismatch",
            ErrorCode::QuotaExceeded => "quota_exceeded",
            ErrorCode::RequestTimeout => "request_timeout",
            ErrorCode::Internal => "internal",
            ErrorCode::Unknown => "unknown",
        }
    }

    /// The code named `name`, or [`ErrorCode::Unknown`].
    pub fn parse(name: &str) -> ErrorCode {
        Self::ALL.into_iter().find(|c| c.as_str() == name).unwrap_or(ErrorCode::Unknown)
    }

    /// Whether retrying the same request later may succeed. Otherwise the
    /// request itself must change.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorCode::Unavailable | ErrorCode::Internal | ErrorCode::RateLimited | ErrorCode::RequestTimeout
        )
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Ok(ErrorCode::parse(&name))
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The JSON body of every error response.
///
/// It only ever travels as JSON (devices read it with `serde_json`, which
/// ignores members it does not know), so a member added here is invisible
/// to an older peer: every member after `message` is optional and left out
/// when empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// The stable code.
    pub code: ErrorCode,
    /// A plain explanation for people; never personal data.
    pub message: String,
    /// The input at fault, when one is: a JSON member of the request such
    /// as `server_url`, so a form can mark the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For a refused push: the position of the first offending change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_index: Option<u32>,
    /// For `stale_timestamp`: the server's clock, so the device can correct its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_time_ms: Option<u64>,
}

impl ErrorBody {
    /// A body with a code and message and nothing else.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), field: None, change_index: None, server_time_ms: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_snake_case_and_unknown_codes_parse() {
        let body = ErrorBody { change_index: Some(3), ..ErrorBody::new(ErrorCode::DotReused, "m") };
        let json = serde_json::to_string(&body).expect("encode");
        assert_eq!(json, r#"{"code":"dot_reused","message":"m","change_index":3}"#);
        let named =
            ErrorBody { field: Some("server_url".into()), ..ErrorBody::new(ErrorCode::InvalidField, "m") };
        let json = serde_json::to_string(&named).expect("encode");
        assert_eq!(json, r#"{"code":"invalid_field","message":"m","field":"server_url"}"#);
        // A body from an older server (no field) and one from a newer server
        // (members this build does not know) both decode.
        let old: ErrorBody = serde_json::from_str(r#"{"code":"invalid_field","message":"m"}"#).expect("old");
        assert_eq!(old.field, None);
        let newer: ErrorBody =
            serde_json::from_str(r#"{"code":"invalid_field","message":"m","field":"x","hint":1}"#)
                .expect("newer");
        assert_eq!(newer.field.as_deref(), Some("x"));
        let newer: ErrorBody =
            serde_json::from_str(r#"{"code":"disk_on_fire","message":"x"}"#).expect("decode");
        assert_eq!(newer.code, ErrorCode::Unknown);
        assert_eq!(ErrorCode::PayloadTooLarge.as_str(), "payload_too_large");
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(code.as_str()), code);
            let bytes = postcard::to_allocvec(&code).expect("encode");
            assert_eq!(postcard::from_bytes::<ErrorCode>(&bytes).expect("decode"), code);
        }
        let newer = postcard::to_allocvec("disk_on_fire").expect("encode");
        assert_eq!(postcard::from_bytes::<ErrorCode>(&newer).expect("decode"), ErrorCode::Unknown);
    }
}
