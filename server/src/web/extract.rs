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

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use gridsync_proto::ErrorCode;
use gridsync_proto::auth;
use gridsync_proto::wire::{self, CONTENT_TYPE, ChangeCount, Limits, Message};
use gridsync_server_core::service::sync::auth::{Claimed, DeviceIdentity};

use super::AppState;
use super::body::{BodyError, declared_length, read_body};
use super::error::ApiError;
use super::gate::BodyPermit;

/// What a device does about a push over the limit.
const FEWER_CHANGES: &str = "send fewer changes per push";

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
            let max = limits.max_bytes;
            let declared = declared_length(&req);
            if let Some(size) = declared.filter(|s| *s > max) {
                return Err(BodyError::TooLarge(size).answer(max, FEWER_CHANGES));
            }
            let claimed = claimed(&req);
            let client = Some(state.client(&req));
            let admitted = state.service.admit(claimed.as_ref(), req.path(), client).await?;
            let permit = state.bodies.admit(admitted.device())?;
            let raw = read_body(&mut payload, declared, max, state.body_timeouts)
                .await
                .map_err(|e| e.answer(max, FEWER_CHANGES))?;
            let from =
                state.service.verify(admitted, req.method().as_str(), req.path(), &raw, client).await?;
            let body = if gzip { inflate(&raw, limits.max_bytes)? } else { raw };
            let (version, message) = wire::decode_versioned::<M>(&body, &limits)?;
            Ok(Signed { from, message, version, permit })
        })
    }
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

/// Inflates a gzip body, refusing to produce more than `max` bytes, so a
/// small compression bomb stops at the limit.
fn inflate(raw: &[u8], max: usize) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::with_capacity(raw.len().saturating_mul(4).min(max));
    flate2::read::GzDecoder::new(raw)
        .take(max as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|_| ApiError::new(ErrorCode::Malformed, "the request body does not inflate as gzip"))?;
    if out.len() > max {
        return Err(BodyError::TooLarge(out.len()).answer(max, FEWER_CHANGES));
    }
    Ok(out)
}
