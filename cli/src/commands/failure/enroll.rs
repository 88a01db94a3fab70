//! An enrollment that did not complete, told as an enrollment: what was
//! wrong with the code or the connection, and what to do next.

use std::fmt;

use gridsync_client_core::Error as StoreError;
use gridsync_proto::ErrorCode;

/// Where to get a new code, said after every refused code.
const NEW_CODE: &str = "ask the township for a new code (`gridsync-server enroll USER`)";

/// An enrollment that did not complete; the device is not enrolled.
#[derive(Debug)]
pub(crate) enum EnrollFailed {
    /// The server refused the code or the request.
    Refused {
        /// HTTP status.
        status: u16,
        /// The server's stable error code.
        code: ErrorCode,
        /// The server's message (never personal data).
        message: String,
    },
    /// The server could not be reached, or did not answer like a gridsync server.
    Unreachable {
        /// What went wrong.
        reason: String,
    },
    /// The server's TLS certificate is not trusted.
    Untrusted {
        /// What is wrong with it.
        reason: String,
    },
}

impl EnrollFailed {
    /// Classifies a failed enrollment; other errors are passed back.
    pub(crate) fn classify(e: StoreError) -> Result<Self, StoreError> {
        match e {
            StoreError::Rejected { status, body } => {
                Ok(EnrollFailed::Refused { status, code: body.code, message: body.message })
            }
            StoreError::Network(_) | StoreError::Protocol(_) => {
                Ok(EnrollFailed::Unreachable { reason: e.to_string() })
            }
            StoreError::Certificate(reason) => Ok(EnrollFailed::Untrusted { reason }),
            other => Err(other),
        }
    }
}

impl fmt::Display for EnrollFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("enrollment failed: ")?;
        match self {
            EnrollFailed::Refused { status, code, message } => {
                let what = match code {
                    ErrorCode::EnrollmentInvalid => {
                        "the server does not know this enrollment code; check that it was typed or scanned whole, or"
                    }
                    ErrorCode::EnrollmentUsed => {
                        "this enrollment code has already enrolled a device (a code enrolls one device, once);"
                    }
                    ErrorCode::EnrollmentExpired => "this enrollment code has expired;",
                    code if code.is_retryable() => {
                        return write!(
                            f,
                            "the server cannot take the enrollment now (HTTP {status}, {code}): {message}; \
                             the code is still good: enroll again later"
                        );
                    }
                    _ => {
                        return write!(
                            f,
                            "the server refused the enrollment (HTTP {status}, {code}): {message}; \
                             check the server URL and the code, or {NEW_CODE}"
                        );
                    }
                };
                write!(f, "{what} {NEW_CODE} (HTTP {status}, {code})")
            }
            EnrollFailed::Unreachable { reason } => write!(
                f,
                "cannot reach the enrollment server: {reason}; check the server URL and this device's \
                 connection, then enroll again (the code is still good)"
            ),
            EnrollFailed::Untrusted { reason } => write!(
                f,
                "the server's TLS certificate is not trusted: {reason}; trying again will not help: if the \
                 township uses its own CA, give its ca.pem with --ca FILE"
            ),
        }
    }
}

impl std::error::Error for EnrollFailed {}

#[cfg(test)]
mod tests {
    use gridsync_proto::ErrorBody;

    use super::*;

    fn refused(code: ErrorCode) -> String {
        let e = StoreError::Rejected { status: 400, body: ErrorBody::new(code, "m") };
        EnrollFailed::classify(e).expect("an enrollment failure").to_string()
    }

    #[test]
    fn each_failure_says_what_to_do_next_and_nothing_of_syncing() {
        let invalid = refused(ErrorCode::EnrollmentInvalid);
        assert!(
            invalid.starts_with("enrollment failed: the server does not know this enrollment code"),
            "{invalid}"
        );
        assert!(
            invalid.contains("new code") && invalid.ends_with("(HTTP 400, enrollment_invalid)"),
            "{invalid}"
        );
        assert!(refused(ErrorCode::EnrollmentUsed).contains("already enrolled a device"));
        assert!(
            refused(ErrorCode::EnrollmentExpired).contains("has expired; ask the township for a new code")
        );
        assert!(refused(ErrorCode::RateLimited).ends_with("enroll again later"));
        let down =
            EnrollFailed::classify(StoreError::Network("connection refused".into())).expect("classified");
        assert!(down.to_string().contains("cannot reach the enrollment server: network: connection refused"));
        let tls = EnrollFailed::classify(StoreError::Certificate("not signed".into())).expect("classified");
        assert!(tls.to_string().contains("--ca FILE"), "{tls}");
        for text in [invalid, down.to_string(), tls.to_string()] {
            assert!(!text.contains(" sync") && !text.contains("unsent"), "{text}");
        }
        assert!(EnrollFailed::classify(StoreError::NotEnrolled).is_err());
    }
}
