//! The `Signed<M>` extractor: reads a bounded body, has the service
//! authenticate the device that signed it
//! ([`gridsync_server_core::service::sync::auth`]), inflates it and decodes
//! a gridsync message, so handlers only ever see valid messages from
//! enrolled, unrevoked devices.
//!
//! The signature covers the body exactly as sent, so it is checked before
//! any work is spent inflating or decoding.

use std::future::Future;
use std::io::Read;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::StreamExt;
use gridsync_proto::ErrorCode;
use gridsync_proto::auth;
use gridsync_proto::wire::{self, CONTENT_TYPE, ChangeCount, Limits, Message};
use gridsync_server_core::service::sync::auth::{Claimed, DeviceIdentity, SignedRequest};

use super::AppState;
use super::error::ApiError;

/// A decoded gridsync message and the device that signed it.
#[derive(Debug)]
pub struct Signed<M> {
    /// Who sent it.
    pub from: DeviceIdentity,
    /// What they sent.
    pub message: M,
    /// The protocol version it came in: the answer is sent in it.
    pub version: u8,
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
            let raw = read_body(&req, &mut payload, limits.max_bytes).await?;
            let claimed = claimed(&req);
            let signed = SignedRequest {
                claimed: claimed.as_ref(),
                method: req.method().as_str(),
                path: req.path(),
                body: &raw,
                client: Some(state.client(&req)),
            };
            let from = state.service.authenticate(signed).await?;
            let body = if gzip { inflate(&raw, limits.max_bytes)? } else { raw };
            let (version, message) = wire::decode_versioned::<M>(&body, &limits)?;
            Ok(Signed { from, message, version })
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

async fn read_body(req: &HttpRequest, payload: &mut Payload, max: usize) -> Result<Vec<u8>, ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if let Some(size) = declared.filter(|s| *s > max) {
        return Err(too_large(size, max));
    }
    let mut body = Vec::with_capacity(declared.unwrap_or(0).min(max));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| ApiError::new(ErrorCode::Malformed, "the request body was cut off"))?;
        if body.len() + chunk.len() > max {
            return Err(too_large(body.len() + chunk.len(), max));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
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
