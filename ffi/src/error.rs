//! The one error the apps see, chosen by what the app will do about it, and
//! the one conversion from `gridsync-client-core`'s rich errors into it.
//!
//! | variant | the app… |
//! |---|---|
//! | [`GridError::Network`] | retries later (WorkManager: `Result.retry()`); nothing is lost |
//! | [`GridError::Certificate`] | asks for the township CA (`pin_ca`) or the server's right address; retrying does not help |
//! | [`GridError::Cancelled`] | nothing: the run stopped on request; what was done is kept |
//! | [`GridError::Revoked`] | stops syncing and tells the user to see the township |
//! | [`GridError::Wiped`] | stops, clears its UI and deletes the store key: the store files are gone |
//! | [`GridError::Auth`] | asks for a new enrollment code |
//! | [`GridError::Validation`] | shows the refusal next to the field; nothing was written |
//! | [`GridError::Damaged`] | offers the repair (`GridStore.repair` or `repair_store`); reads still work |
//! | [`GridError::Storage`] | reports a broken store (wrong key, unrepairable file, full disk) |
//! | [`GridError::Other`] | reports a bug or asks for an update |
//!
//! No message ever contains record content: the reasons are the core's and
//! the server's, which name rules, fields and ids but never values, and
//! the reasons this crate writes for bad input never repeat the input.

use gridsync_client_core::Error as CoreError;
use gridsync_proto::{ErrorBody, ErrorCode, MergeError};

/// Why a call failed, in the few kinds an app acts on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum GridError {
    /// The server could not be reached, or answered something that is not a
    /// gridsync answer, or asked to come back later. Nothing is lost: the
    /// unsent changes stay queued; sync again later.
    #[error("network: {reason}")]
    Network {
        /// What went wrong ("connection refused", "timed out", …).
        reason: String,
    },
    /// The server's TLS certificate is not trusted: not signed by a CA
    /// this device trusts (pin the township CA with `pin_ca`, or give it
    /// with `set_server`), not issued for the server's address, or expired.
    /// Retrying does not help; nothing is lost.
    #[error("certificate: {reason}")]
    Certificate {
        /// What is wrong with it, for people.
        reason: String,
    },
    /// The sync was cancelled (`cancel_sync`, or the listener's
    /// `is_cancelled`). What it had done is kept; the next sync goes on.
    #[error("the sync was cancelled; what was done is kept, sync again to go on")]
    Cancelled,
    /// The township revoked this device: it can no longer sync. Its store is
    /// still there (no wipe was ordered).
    #[error("this device was revoked; it can no longer sync")]
    Revoked,
    /// The township revoked this device with a wipe order: the store files
    /// have been erased; the app should delete the store key too.
    #[error("this device was revoked and its local data has been erased")]
    Wiped,
    /// Not enrolled, or the enrollment or device identity was refused
    /// (`not_enrolled`, `enrollment_invalid`, `enrollment_used`,
    /// `enrollment_expired`, `unknown_device`, `bad_signature`, …): enroll
    /// again with a new code from the township.
    #[error("authentication ({code}): {reason}")]
    Auth {
        /// The stable code.
        code: String,
        /// A plain explanation.
        reason: String,
    },
    /// The input or the record rules refuse the call; nothing was written.
    /// `code` is stable (`forbidden`, `missing_field`, `invalid_field`,
    /// `invalid_transition`, `out_of_scope`, …, `invalid_request` for a
    /// malformed argument, `not_found`, `no_conflict`, `bad_file` for a file
    /// that cannot be attached, `attachment_unavailable` for an attachment
    /// not on this device or not of that record); `field` names the
    /// field, entry or argument concerned. Never the values.
    #[error("refused ({code}{}): {reason}", field.as_deref().map(|f| format!(", field {f}")).unwrap_or_default())]
    Validation {
        /// The stable code.
        code: String,
        /// The field, entry or argument concerned.
        field: Option<String>,
        /// The rule broken, for people.
        reason: String,
    },
    /// The store file is damaged: it refuses every write and sync (nothing
    /// more is acknowledged into a file that cannot hold it), and answers
    /// the reads it still can. The app offers the repair:
    /// `GridStore.repair()`, or `repair_store(path, key)` when `open`
    /// itself fails with this error. The repair salvages the device's
    /// enrollment and unsent changes into a fresh store; the next sync
    /// sends them and pulls every record again.
    #[error("damaged: {reason}")]
    Damaged {
        /// What to do, for people.
        reason: String,
    },
    /// The store cannot be used: wrong key, too new or unrepairable a
    /// file, no store at that path, a full or failing disk.
    #[error("storage: {reason}")]
    Storage {
        /// What went wrong.
        reason: String,
    },
    /// Anything else: a protocol mismatch (update the app) or a bug.
    #[error("{reason}")]
    Other {
        /// What went wrong.
        reason: String,
    },
}

impl GridError {
    /// A malformed argument: `argument` names it, `reason` says what is
    /// expected (and must not repeat the input).
    pub(crate) fn invalid(argument: &str, reason: impl Into<String>) -> Self {
        GridError::Validation {
            code: ErrorCode::InvalidRequest.as_str().to_owned(),
            field: Some(argument.to_owned()),
            reason: reason.into(),
        }
    }

    fn validation(code: &str, field: Option<String>, reason: String) -> Self {
        GridError::Validation { code: code.to_owned(), field, reason }
    }
}

impl From<CoreError> for GridError {
    fn from(e: CoreError) -> Self {
        let reason = e.to_string();
        match e {
            CoreError::Wiped => GridError::Wiped,
            CoreError::Damaged => GridError::Damaged { reason },
            // A stored value that no longer opens is damage too: the store
            // now refuses writes, and the repair is what helps.
            CoreError::Corrupt(_) => GridError::Damaged { reason: CoreError::Damaged.to_string() },
            CoreError::Restoring => GridError::validation("restoring", None, reason),
            CoreError::Cancelled => GridError::Cancelled,
            CoreError::NotEnrolled => GridError::Auth { code: "not_enrolled".into(), reason },
            CoreError::Network(reason) => GridError::Network { reason },
            CoreError::Certificate(_) => GridError::Certificate { reason },
            CoreError::ServerUrl(_) => GridError::invalid("server_url", reason),
            CoreError::UnknownReference { argument, .. } => {
                GridError::validation("not_found", Some(argument.to_owned()), reason)
            }
            CoreError::Protocol(_) => GridError::Network { reason },
            CoreError::Rejected { status, body } => refusal(status, body),
            CoreError::Rule(rule) => GridError::validation(rule.code.as_str(), rule.field, rule.message),
            CoreError::Invalid(_) => GridError::validation(ErrorCode::InvalidChange.as_str(), None, reason),
            CoreError::Merge(merge) => {
                let (code, field) = match merge {
                    MergeError::KindMismatch { .. } => (ErrorCode::KindMismatch, None),
                    MergeError::ForeignSupersedes { field } => (ErrorCode::InvalidChange, Some(field)),
                    MergeError::WrongRecord => (ErrorCode::InvalidChange, None),
                };
                GridError::validation(code.as_str(), field, reason)
            }
            CoreError::NotFound(_) => GridError::validation("not_found", None, reason),
            CoreError::NoSuchRejection(_) => {
                GridError::validation("not_found", Some("rejection".into()), reason)
            }
            CoreError::NoConflict { field, .. } => GridError::validation("no_conflict", Some(field), reason),
            CoreError::BadFile(_) => GridError::validation("bad_file", Some("file".into()), reason),
            CoreError::AttachmentUnavailable(_) => {
                GridError::validation("attachment_unavailable", Some("hash".into()), reason)
            }
            CoreError::Open(_)
            | CoreError::Storage(_)
            | CoreError::WrongKey
            | CoreError::KeyFormat
            | CoreError::NotInitialized
            | CoreError::Unrepairable(_)
            | CoreError::Files(_)
            | CoreError::AlreadyInitialized => GridError::Storage { reason },
            CoreError::Crypto(_) => GridError::Other { reason },
        }
    }
}

/// A request the server refused as a whole, by what the app can do about it.
fn refusal(status: u16, body: ErrorBody) -> GridError {
    use ErrorCode as C;
    let code = body.code.as_str().to_owned();
    match body.code {
        C::DeviceRevoked => GridError::Revoked,
        // Sync requests turn `device_wiped` into an erased store and
        // `Wiped` inside the core; anywhere else the store was not erased,
        // so all the app may assume is that the device is revoked.
        C::DeviceWiped => GridError::Revoked,
        C::Unauthenticated
        | C::BadSignature
        | C::UnknownDevice
        | C::EnrollmentInvalid
        | C::EnrollmentUsed
        | C::EnrollmentExpired
        | C::BadCredentials
        | C::UserInactive
        | C::PasswordChangeRequired => GridError::Auth { code, reason: body.message },
        C::StaleTimestamp
        | C::ReplayedRequest
        | C::Unavailable
        | C::RequestTimeout
        | C::Internal
        | C::QuotaExceeded
        | C::RateLimited => GridError::Network {
            reason: format!("the server refused the request ({code}, HTTP {status}): {}", body.message),
        },
        C::InvalidChange
        | C::KindMismatch
        | C::InvalidField
        | C::UnknownField
        | C::MissingField
        | C::InvalidRecord
        | C::InvalidTransition
        | C::OutOfScope
        | C::OverBudget
        | C::UnknownPlace
        | C::Forbidden
        | C::ContentMismatch
        | C::InvalidRequest => GridError::Validation { code, field: None, reason: body.message },
        C::Malformed
        | C::UnsupportedVersion
        | C::WrongMessageType
        | C::PayloadTooLarge
        | C::TooManyChanges
        | C::DotReused
        | C::ActorMismatch
        | C::UnsupportedMediaType
        | C::NotFound
        | C::MethodNotAllowed
        | C::ChunkMismatch
        | C::UploadOffset
        | C::Unknown => GridError::Other {
            reason: format!("the server refused the request ({code}, HTTP {status}): {}", body.message),
        },
    }
}

#[cfg(test)]
mod tests {
    use gridsync_proto::{RecordId, RuleError};

    use super::*;

    fn rejected(code: ErrorCode) -> CoreError {
        CoreError::Rejected { status: 403, body: ErrorBody::new(code, "m") }
    }

    #[test]
    fn each_core_error_lands_where_the_app_acts_on_it() {
        assert_eq!(GridError::from(CoreError::Wiped), GridError::Wiped);
        assert_eq!(GridError::from(CoreError::Cancelled), GridError::Cancelled);
        assert_eq!(GridError::from(rejected(ErrorCode::DeviceRevoked)), GridError::Revoked);
        assert_eq!(GridError::from(rejected(ErrorCode::DeviceWiped)), GridError::Revoked);
        assert!(matches!(
            GridError::from(CoreError::NotEnrolled),
            GridError::Auth { code, .. } if code == "not_enrolled"
        ));
        for code in [ErrorCode::EnrollmentUsed, ErrorCode::EnrollmentExpired, ErrorCode::UnknownDevice] {
            assert!(matches!(
                GridError::from(rejected(code)),
                GridError::Auth { code: c, .. } if c == code.as_str()
            ));
        }
        assert_eq!(
            GridError::from(CoreError::Network("connection refused".into())),
            GridError::Network { reason: "connection refused".into() }
        );
        for code in [ErrorCode::Unavailable, ErrorCode::RateLimited, ErrorCode::StaleTimestamp] {
            assert!(matches!(GridError::from(rejected(code)), GridError::Network { .. }), "{code}");
        }
        assert!(matches!(
            GridError::from(CoreError::Protocol(gridsync_proto::WireError::BadMagic)),
            GridError::Network { .. }
        ));
        for e in [CoreError::WrongKey, CoreError::NotInitialized, CoreError::Unrepairable("device id")] {
            assert!(matches!(GridError::from(e), GridError::Storage { .. }));
        }
        for e in [CoreError::Damaged, CoreError::Corrupt("record state")] {
            assert!(
                matches!(GridError::from(e), GridError::Damaged { reason } if reason.contains("gridsync doctor"))
            );
        }
        assert!(matches!(
            GridError::from(CoreError::Restoring),
            GridError::Validation { code, field: None, .. } if code == "restoring"
        ));
        assert!(matches!(GridError::from(rejected(ErrorCode::UnsupportedVersion)), GridError::Other { .. }));
        assert!(matches!(GridError::from(CoreError::Crypto("nonce")), GridError::Other { .. }));
        assert!(matches!(
            GridError::from(CoreError::Certificate("it is not signed by a CA this device trusts".into())),
            GridError::Certificate { reason } if reason.contains("not trusted")
        ));
        assert!(matches!(
            GridError::from(CoreError::ServerUrl("must start with http:// or https://")),
            GridError::Validation { code, field: Some(f), .. } if code == "invalid_request" && f == "server_url"
        ));
        let unknown =
            CoreError::UnknownReference { argument: "items", record: gridsync_proto::RecordId::generate(1) };
        assert!(matches!(
            GridError::from(unknown),
            GridError::Validation { code, field: Some(f), .. } if code == "not_found" && f == "items"
        ));
    }

    #[test]
    fn a_rule_refusal_keeps_its_code_and_field() {
        let rule = RuleError::new(ErrorCode::Forbidden, Some("step"), "only a governance centre may close");
        assert_eq!(
            GridError::from(CoreError::Rule(rule)),
            GridError::Validation {
                code: "forbidden".into(),
                field: Some("step".into()),
                reason: "only a governance centre may close".into()
            }
        );
        let id = RecordId::generate(1);
        let e = GridError::from(CoreError::NoConflict { record: id, field: "summary".into() });
        assert!(
            matches!(e, GridError::Validation { code, field: Some(f), .. } if code == "no_conflict" && f == "summary")
        );
        let e = GridError::from(CoreError::NotFound(id));
        assert!(matches!(e, GridError::Validation { code, .. } if code == "not_found"));
        let e = GridError::from(rejected(ErrorCode::OutOfScope));
        assert!(matches!(e, GridError::Validation { code, field: None, .. } if code == "out_of_scope"));
    }

    #[test]
    fn messages_name_the_rule_and_field() {
        let e = GridError::Validation {
            code: "missing_field".into(),
            field: Some("category".into()),
            reason: "a dispute needs a category".into(),
        };
        assert_eq!(e.to_string(), "refused (missing_field, field category): a dispute needs a category");
        assert_eq!(
            GridError::invalid("key", "32 bytes").to_string(),
            "refused (invalid_request, field key): 32 bytes"
        );
    }
}
