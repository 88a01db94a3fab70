//! Failures worth their own message or exit code: a sync that did not
//! complete, an enrollment that did not ([`enroll`]), a write the record
//! rules refuse, a value over the limits, and a reference to a record that
//! is not on the device.

mod enroll;

use std::fmt;
use std::fs;

use gridsync_client_core::{Error as StoreError, Store};
use gridsync_proto::{ErrorCode, InvalidChange, RuleError};

use super::keys::KeySource;
pub(crate) use enroll::EnrollFailed;

/// Exit code for usage and validation errors (and everything not below).
pub(crate) const EXIT_FAILURE: u8 = 1;
/// Exit code for a sync the server refused.
pub(crate) const EXIT_REFUSED: u8 = 2;
/// Exit code for a sync that could not reach the server.
pub(crate) const EXIT_UNREACHABLE: u8 = 3;
/// Exit code for a device the server has revoked (its store may be erased).
pub(crate) const EXIT_REVOKED: u8 = 4;
/// Exit code for a damaged store: it refuses writes and syncs until
/// `gridsync doctor` has repaired it.
pub(crate) const EXIT_DAMAGED: u8 = 5;

/// A sync that did not complete. The unsent changes stay in the outbox.
#[derive(Debug)]
pub(crate) enum SyncFailed {
    /// The server answered with a gridsync error.
    Refused {
        /// HTTP status.
        status: u16,
        /// The server's stable error code.
        code: ErrorCode,
        /// The server's message (never personal data).
        message: String,
        /// Changes still waiting to be sent.
        pending: u64,
    },
    /// The server revoked this device; with a wipe order the store is gone.
    Revoked {
        /// Whether the store was erased.
        wiped: bool,
    },
    /// The server could not be reached, or did not answer like a gridsync server.
    Unreachable {
        /// What went wrong.
        reason: String,
        /// Changes still waiting to be sent.
        pending: u64,
    },
    /// The server's TLS certificate is not trusted: syncing again will not help.
    Untrusted {
        /// What is wrong with it.
        reason: String,
        /// Changes still waiting to be sent.
        pending: u64,
    },
}

impl fmt::Display for SyncFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyncFailed::Refused { status, code, message, pending } => {
                write!(
                    f,
                    "the server refused the sync (HTTP {status}): {code}: {message}; {}",
                    unsent(*pending)
                )?;
                if code.is_retryable() {
                    f.write_str(", sync again later")?;
                }
                Ok(())
            }
            SyncFailed::Revoked { wiped: true } => f.write_str(
                "this device was revoked and its local data has been erased on the server's order",
            ),
            SyncFailed::Revoked { wiped: false } => {
                f.write_str("this device was revoked by the township; it can no longer sync")
            }
            SyncFailed::Unreachable { reason, pending } => {
                write!(f, "cannot sync with the server: {reason}; {}, sync again later", unsent(*pending))
            }
            SyncFailed::Untrusted { reason, pending } => write!(
                f,
                "cannot sync: the server's TLS certificate is not trusted: {reason}; {}; syncing again \
                 will not help: if the township uses its own CA, trust its ca.pem with \
                 `gridsync set-server URL --ca FILE`",
                unsent(*pending)
            ),
        }
    }
}

impl std::error::Error for SyncFailed {}

/// A write the record rules refuse, checked on this device exactly as the
/// server will check it; nothing was written.
#[derive(Debug)]
pub(crate) struct RuleRefused(pub(crate) RuleError);

impl fmt::Display for RuleRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The rules name the rule and the field, never the values.
        let RuleError { code, field, message } = &self.0;
        write!(f, "refused by the record rules: {code}")?;
        if let Some(field) = field {
            write!(f, " (field {field})")?;
        }
        write!(f, ": {message}; nothing was written")
    }
}

impl std::error::Error for RuleRefused {}

/// A record id given on the command line that names no record on this
/// device; nothing was written.
#[derive(Debug)]
pub(crate) struct UnknownRecord {
    /// The argument that gave it: `RECORD`, `--item`.
    argument: &'static str,
    /// The id.
    record: gridsync_proto::RecordId,
}

impl fmt::Display for UnknownRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: no such record on this device (see `gridsync list`; a record made on another \
             device arrives with a sync); nothing was written",
            self.argument, self.record
        )
    }
}

/// A write whose values are over the limits every change is held to
/// (nesting, name and text lengths); nothing was written.
#[derive(Debug)]
pub(crate) struct OverLimits(pub(crate) InvalidChange);

impl fmt::Display for OverLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid change: {}; nothing was written: values may nest {} levels deep, names take 1 to {} \
             bytes and texts up to {} KiB",
            self.0,
            gridsync_proto::value::MAX_DEPTH,
            gridsync_proto::change::MAX_NAME_LEN,
            gridsync_proto::change::MAX_TEXT_LEN / 1024
        )
    }
}

impl std::error::Error for UnknownRecord {}

impl std::error::Error for OverLimits {}

/// Rewrites an error whose cause is a rule refusal as [`RuleRefused`], one
/// whose cause is a value over the limits as [`OverLimits`], so that it
/// reads as one line naming the rule or limit, and a reference to a record
/// the device does not hold as [`UnknownRecord`], naming the command-line
/// argument that gave it.
pub(crate) fn explain(err: anyhow::Error) -> anyhow::Error {
    let unknown = err.chain().find_map(|e| match e.downcast_ref::<StoreError>() {
        Some(StoreError::UnknownReference { argument, record }) => Some((*argument, *record)),
        _ => None,
    });
    if let Some((argument, record)) = unknown {
        let argument = match argument {
            "record" => "RECORD",
            "items" => "--item",
            other => other,
        };
        return UnknownRecord { argument, record }.into();
    }
    let rule = err.chain().find_map(|e| match e.downcast_ref::<StoreError>() {
        Some(StoreError::Rule(rule)) => Some(rule.clone()),
        _ => e.downcast_ref::<RuleError>().cloned(),
    });
    if let Some(rule) = rule {
        return RuleRefused(rule).into();
    }
    let invalid = err.chain().find_map(|e| match e.downcast_ref::<StoreError>() {
        Some(StoreError::Invalid(
            invalid @ (InvalidChange::TooDeep | InvalidChange::TextTooLong | InvalidChange::BadName),
        )) => Some(invalid.clone()),
        _ => None,
    });
    match invalid {
        Some(invalid) => OverLimits(invalid).into(),
        None => err,
    }
}

/// What became of the unsent changes, e.g. `the 3 unsent changes are kept on this device`.
fn unsent(pending: u64) -> String {
    match pending {
        0 => "no changes were waiting to be sent".to_owned(),
        1 => "the 1 unsent change is kept on this device".to_owned(),
        n => format!("the {n} unsent changes are kept on this device"),
    }
}

/// The process exit code for an error.
pub(crate) fn exit_code(err: &anyhow::Error) -> u8 {
    if err.chain().any(|e| matches!(e.downcast_ref::<StoreError>(), Some(StoreError::Damaged))) {
        return EXIT_DAMAGED;
    }
    if let Some(enroll) = err.chain().find_map(|e| e.downcast_ref::<EnrollFailed>()) {
        return match enroll {
            EnrollFailed::Refused { .. } => EXIT_REFUSED,
            EnrollFailed::Unreachable { .. } | EnrollFailed::Untrusted { .. } => EXIT_UNREACHABLE,
        };
    }
    match err.chain().find_map(|e| e.downcast_ref::<SyncFailed>()) {
        Some(SyncFailed::Refused { .. }) => EXIT_REFUSED,
        Some(SyncFailed::Revoked { .. }) => EXIT_REVOKED,
        Some(SyncFailed::Unreachable { .. } | SyncFailed::Untrusted { .. }) => EXIT_UNREACHABLE,
        None => EXIT_FAILURE,
    }
}

/// Classifies a failed exchange with the server (changes are kept).
pub(crate) fn sync_failure(store: &Store, e: StoreError, keys: &KeySource) -> anyhow::Error {
    let pending = store.pending().unwrap_or(0);
    match e {
        StoreError::Wiped => {
            // The key belongs to the erased store: remove the one we made.
            if let KeySource::Default(file) = keys {
                let _ = fs::remove_file(file);
            }
            SyncFailed::Revoked { wiped: true }.into()
        }
        StoreError::Rejected { body, .. } if body.code == ErrorCode::DeviceRevoked => {
            SyncFailed::Revoked { wiped: false }.into()
        }
        StoreError::Rejected { status, body } => {
            SyncFailed::Refused { status, code: body.code, message: body.message, pending }.into()
        }
        StoreError::Network(_) | StoreError::Protocol(_) => {
            SyncFailed::Unreachable { reason: e.to_string(), pending }.into()
        }
        StoreError::Certificate(reason) => SyncFailed::Untrusted { reason, pending }.into(),
        other => anyhow::Error::from(other).context("sync failed"),
    }
}

/// Classifies a failed enrollment (the device stays unenrolled).
pub(crate) fn enroll_failure(e: StoreError) -> anyhow::Error {
    match EnrollFailed::classify(e) {
        Ok(failed) => failed.into(),
        Err(other) => anyhow::Error::from(other).context("enrollment failed"),
    }
}

#[cfg(test)]
mod tests {
    use anyhow::anyhow;

    use super::*;

    #[test]
    fn sync_failures_map_to_their_exit_codes_and_keep_the_changes() {
        let refused = anyhow::Error::from(SyncFailed::Refused {
            status: 400,
            code: ErrorCode::InvalidChange,
            message: "a change fails validation".to_owned(),
            pending: 3,
        });
        assert_eq!(exit_code(&refused), EXIT_REFUSED);
        assert_eq!(
            refused.to_string(),
            "the server refused the sync (HTTP 400): invalid_change: a change fails validation; \
             the 3 unsent changes are kept on this device"
        );
        let busy = SyncFailed::Refused {
            status: 503,
            code: ErrorCode::Unavailable,
            message: "shutting down".to_owned(),
            pending: 1,
        };
        assert!(busy.to_string().ends_with("the 1 unsent change is kept on this device, sync again later"));
        let down = anyhow::Error::from(SyncFailed::Unreachable {
            reason: "network: refused".to_owned(),
            pending: 2,
        });
        assert_eq!(exit_code(&down), EXIT_UNREACHABLE);
        assert!(down.to_string().contains("the 2 unsent changes are kept on this device, sync again later"));
        assert_eq!(exit_code(&anyhow!("bad usage")), EXIT_FAILURE);
        assert_eq!(exit_code(&down.context("outer")), EXIT_UNREACHABLE);
        assert_eq!(exit_code(&SyncFailed::Revoked { wiped: true }.into()), EXIT_REVOKED);
        let damaged = anyhow::Error::from(StoreError::Damaged).context("cannot open the store");
        assert_eq!(exit_code(&damaged), EXIT_DAMAGED);
        assert!(format!("{damaged:#}").contains("run `gridsync doctor`"), "{damaged:#}");
    }

    #[test]
    fn rule_refusals_read_as_one_line_with_code_and_field() {
        let rule = RuleError::new(ErrorCode::Forbidden, Some("step"), "only a centre may close");
        let err = explain(anyhow::Error::from(StoreError::Rule(rule.clone())).context("outer"));
        assert_eq!(
            err.to_string(),
            "refused by the record rules: forbidden (field step): only a centre may close; nothing was written"
        );
        assert_eq!(exit_code(&err), EXIT_FAILURE);
        let bare = RuleError::new(ErrorCode::InvalidRecord, None, "only disputes have steps");
        assert_eq!(
            explain(anyhow::Error::from(bare)).to_string(),
            "refused by the record rules: invalid_record: only disputes have steps; nothing was written"
        );
        assert_eq!(explain(anyhow!("other")).to_string(), "other");
    }

    #[test]
    fn an_unknown_reference_names_its_argument() {
        let record = gridsync_proto::RecordId::generate(1);
        let err = explain(anyhow::Error::from(StoreError::UnknownReference { argument: "items", record }));
        assert!(
            err.to_string().starts_with(&format!("--item {record}: no such record on this device")),
            "{err}"
        );
        assert_eq!(exit_code(&err), EXIT_FAILURE);
        let err = explain(anyhow::Error::from(StoreError::UnknownReference { argument: "record", record }));
        assert!(err.to_string().starts_with("RECORD "), "{err}");
        let untrusted =
            anyhow::Error::from(SyncFailed::Untrusted { reason: "UnknownIssuer".into(), pending: 2 });
        assert_eq!(exit_code(&untrusted), EXIT_UNREACHABLE);
        assert!(untrusted.to_string().contains("--ca FILE") && !untrusted.to_string().contains("later"));
    }

    #[test]
    fn a_value_over_the_limits_says_the_limits_once() {
        let err = explain(anyhow::Error::from(StoreError::Invalid(InvalidChange::TooDeep)));
        let text = format!("{err:#}");
        assert_eq!(
            text,
            "invalid change: value nested deeper than 8 levels; nothing was written: values may nest 8 \
             levels deep, names take 1 to 64 bytes and texts up to 64 KiB"
        );
        assert_eq!(exit_code(&err), EXIT_FAILURE);
        let counter = anyhow::Error::from(StoreError::Invalid(InvalidChange::ZeroCounter));
        assert_eq!(format!("{:#}", explain(counter)), "invalid change: change counter must start at 1");
    }
}
