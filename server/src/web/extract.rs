//! The `Signed<M>` extractor: has the service admit the request on its
//! signature headers ([`gridsync_server_core::service::sync::auth`]),
//! takes a permit of the [`BodyGate`](super::gate::BodyGate), reads a
//! bounded body within the body timeouts, has the service verify the
//! signature over it, inflates it and decodes a gridsync message, so
//! handlers only ever see valid messages from enrolled, unrevoked devices.
//!
//! Nothing of the body is read before the headers pass: a request of an
//! unknown or revoked device, out of its time window, replayed, or without
//! the headers, is answered before its body arrives. The signature covers
//! the body exactly as sent, so it is checked before any work is spent
//! inflating or decoding.

use std::future::Future;
use std::io::Read;
use std::pin::Pin;
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::StreamExt;
use gridsync_proto::ErrorCode;
use gridsync_proto::auth;
use gridsync_proto::wire::{self, CONTENT_TYPE, ChangeCount, Limits, Message};
use gridsync_server_core::service::sync::auth::{Claimed, DeviceIdentity};

use super::AppState;
use super::error::ApiError;
use super::gate::BodyPermit;

/// A decoded gridsync message and the device that signed it.
#[derive(Debug)]
pub struct Signed<M> {
    /// Who sent it.
    pub from: DeviceIdentity,
    /// What they sent.
    pub message: M,
    /// The protocol version it came in: the answer is sent in it.
    pub version: u8,
    /// The permit the body was read under: held until the handler is done
    /// with the message (destructure with `..` to keep it to the end).
    pub permit: BodyPermit,
}

impl<M: Message + ChangeCount + 'static> FromRequest for Signed<M> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let state = req.app_data::<web::Data<AppState>>().cloned().ok_or_else(ApiError::internal)?;
            let limits = req.app_data::<web::Data<Limits>>().map_or(Limits::DEFAULT, |l| *l.get_ref());
            if req.content_type() != CONTENT_TYPE {
                return Err(ApiError::new(
                    ErrorCode::UnsupportedMediaType,
                    format!("send gridsync messages as {CONTENT_TYPE}"),
                ));
            }
            let gzip = match req.headers().get(header::CONTENT_ENCODING).map(|v| v.to_str()) {
                None => false,
                Some(Ok(e)) if e.eq_ignore_ascii_case("gzip") => true,
                Some(Ok(e)) if e.eq_ignore_ascii_case("identity") => false,
                Some(_) => {
                    return Err(ApiError::new(
                        ErrorCode::UnsupportedMediaType,
                        "the only content encoding accepted is gzip",
                    ));
                }
            };
            let declared = declared_length(&req);
            if let Some(size) = declared.filter(|s| *s > limits.max_bytes) {
                return Err(too_large(size, limits.max_bytes));
            }
            let claimed = claimed(&req);
            let client = Some(state.client(&req));
            let admitted = state.service.admit(claimed.as_ref(), req.path(), client).await?;
            let permit = state.bodies.admit(admitted.device())?;
            let raw = read_body(&mut payload, declared, limits.max_bytes, state.body_timeouts).await?;
            let from =
                state.service.verify(admitted, req.method().as_str(), req.path(), &raw, client).await?;
            let body = if gzip { inflate(&raw, limits.max_bytes)? } else { raw };
            let (version, message) = wire::decode_versioned::<M>(&body, &limits)?;
            Ok(Signed { from, message, version, permit })
        })
    }
}

/// How long a body may take to arrive: whole, and between two pieces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyTimeouts {
    /// The whole body.
    pub whole: Duration,
    /// Between two pieces.
    pub idle: Duration,
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// What the request's signature headers claim, if all four are readable.
fn claimed(req: &HttpRequest) -> Option<Claimed> {
    Some(Claimed {
        device: header(req, auth::HEADER_DEVICE)?.parse().ok()?,
        time_ms: header(req, auth::HEADER_TIME)?.parse().ok()?,
        nonce: auth::parse_nonce(header(req, auth::HEADER_NONCE)?)?,
        signature: auth::unb64(header(req, auth::HEADER_SIGNATURE)?)?,
    })
}

fn declared_length(req: &HttpRequest) -> Option<usize> {
    req.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
}

/// Reads the body, at most `max` bytes, within `timeouts`: a client that
/// stalls, or trickles its body, is cut off with `request_timeout`.
async fn read_body(
    payload: &mut Payload,
    declared: Option<usize>,
    max: usize,
    timeouts: BodyTimeouts,
) -> Result<Vec<u8>, ApiError> {
    let mut body = Vec::with_capacity(declared.unwrap_or(0).min(max));
    let read = async {
        loop {
            let next = tokio::time::timeout(timeouts.idle, payload.next()).await.map_err(|_| timed_out())?;
            let Some(chunk) = next else { return Ok(()) };
            let chunk =
                chunk.map_err(|_| ApiError::new(ErrorCode::Malformed, "the request body was cut off"))?;
            let needed = body.len() + chunk.len();
            if needed > max {
                return Err(too_large(needed, max));
            }
            if needed > body.capacity() {
                // Grow by doubling, but never past the limit: a body of
                // undeclared length holds at most `max` bytes of capacity.
                body.reserve_exact(needed.max(body.capacity() * 2).min(max) - body.len());
            }
            body.extend_from_slice(&chunk);
        }
    };
    tokio::time::timeout(timeouts.whole, read).await.map_err(|_| timed_out())??;
    Ok(body)
}

fn timed_out() -> ApiError {
    ApiError::new(
        ErrorCode::RequestTimeout,
        "the request body did not arrive in time; retry, with fewer changes on a slow connection",
    )
}

/// Inflates a gzip body, refusing to produce more than `max` bytes, so a
/// small compression bomb stops at the limit.
fn inflate(raw: &[u8], max: usize) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::with_capacity(raw.len().saturating_mul(4).min(max));
    flate2::read::GzDecoder::new(raw)
        .take(max as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|_| ApiError::new(ErrorCode::Malformed, "the request body does not inflate as gzip"))?;
    if out.len() > max {
        return Err(too_large(out.len(), max));
    }
    Ok(out)
}

fn too_large(size: usize, max: usize) -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!(
            "body of at least {size} bytes exceeds the limit of {max} bytes; send fewer changes per push"
        ),
    )
}
