//! Reading a request body under bounds: at most so many bytes, within a
//! whole-body and an idle timeout. Both the signed sync bodies
//! ([`super::extract`]) and the staff bodies ([`super::authed`]) are read
//! here, each only after its sender was admitted.

use std::time::Duration;

use actix_web::HttpRequest;
use actix_web::dev::Payload;
use actix_web::http::header;
use futures_util::StreamExt;
use gridsync_proto::ErrorCode;

use super::error::ApiError;

/// How long a body may take to arrive: whole, and between two pieces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyTimeouts {
    /// The whole body.
    pub whole: Duration,
    /// Between two pieces.
    pub idle: Duration,
}

/// Why a body could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BodyError {
    /// It is (or declares to be) at least this many bytes, over the limit.
    TooLarge(usize),
    /// It did not arrive within the timeouts.
    TimedOut,
    /// The connection failed before it ended.
    CutOff,
}

impl BodyError {
    /// The answer to the client: `max` is the limit, `advice` what to do
    /// about a body too large (e.g. "send fewer changes per push").
    pub(super) fn answer(self, max: usize, advice: &str) -> ApiError {
        match self {
            BodyError::TooLarge(size) => ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("body of at least {size} bytes exceeds the limit of {max} bytes; {advice}"),
            ),
            BodyError::TimedOut => ApiError::new(
                ErrorCode::RequestTimeout,
                "the request body did not arrive in time; retry, with a smaller body on a slow connection",
            ),
            BodyError::CutOff => ApiError::new(ErrorCode::Malformed, "the request body was cut off"),
        }
    }
}

/// The body length the request declares (`Content-Length`), if readable.
pub(super) fn declared_length(req: &HttpRequest) -> Option<usize> {
    req.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
}

/// Reads the body, at most `max` bytes, within `timeouts`: a client that
/// stalls, or trickles its body, is cut off. A declared length over `max`
/// is refused before anything is read.
pub(super) async fn read_body(
    payload: &mut Payload,
    declared: Option<usize>,
    max: usize,
    timeouts: BodyTimeouts,
) -> Result<Vec<u8>, BodyError> {
    if let Some(size) = declared.filter(|s| *s > max) {
        return Err(BodyError::TooLarge(size));
    }
    let mut body = Vec::with_capacity(declared.unwrap_or(0).min(max));
    let read = async {
        loop {
            let next =
                tokio::time::timeout(timeouts.idle, payload.next()).await.map_err(|_| BodyError::TimedOut)?;
            let Some(chunk) = next else { return Ok(()) };
            let chunk = chunk.map_err(|_| BodyError::CutOff)?;
            let needed = body.len() + chunk.len();
            if needed > max {
                return Err(BodyError::TooLarge(needed));
            }
            if needed > body.capacity() {
                // Grow by doubling, but never past the limit: a body of
                // undeclared length holds at most `max` bytes of capacity.
                body.reserve_exact(needed.max(body.capacity() * 2).min(max) - body.len());
            }
            body.extend_from_slice(&chunk);
        }
    };
    tokio::time::timeout(timeouts.whole, read).await.map_err(|_| BodyError::TimedOut)??;
    Ok(body)
}
