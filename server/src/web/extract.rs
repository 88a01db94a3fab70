//! The `Envelope<M>` extractor: reads a bounded body and decodes a gridsync
//! message, so handlers only ever see valid, decoded messages.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::{Decompress, Payload};
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::StreamExt;
use gridsync_proto::ErrorCode;
use gridsync_proto::wire::{self, CONTENT_TYPE, ChangeCount, Limits, Message};

use crate::error::ApiError;

/// A decoded gridsync message from the request body.
#[derive(Debug)]
pub struct Envelope<M>(pub M);

impl<M: Message + ChangeCount + 'static> FromRequest for Envelope<M> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limits = req.app_data::<web::Data<Limits>>().map_or(Limits::DEFAULT, |l| *l.get_ref());
        let content_type_ok = req.content_type() == CONTENT_TYPE;
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        // Inflate `Content-Encoding: gzip` bodies; the limit below counts
        // inflated bytes, so a compression bomb stops at `max_bytes`.
        let mut payload = Decompress::from_headers(payload.take(), req.headers());
        Box::pin(async move {
            if !content_type_ok {
                return Err(ApiError::new(
                    ErrorCode::UnsupportedMediaType,
                    format!("send gridsync messages as {CONTENT_TYPE}"),
                ));
            }
            // The declared length is of the (possibly compressed) body.
            if let Some(size) = declared.filter(|s| *s > limits.max_bytes) {
                return Err(too_large(size, limits.max_bytes));
            }
            let mut body = web::BytesMut::with_capacity(declared.unwrap_or(0).min(limits.max_bytes));
            while let Some(chunk) = payload.next().await {
                let chunk =
                    chunk.map_err(|_| ApiError::new(ErrorCode::Malformed, "the request body was cut off"))?;
                if body.len() + chunk.len() > limits.max_bytes {
                    return Err(too_large(body.len() + chunk.len(), limits.max_bytes));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(Envelope(wire::decode::<M>(&body, &limits)?))
        })
    }
}

fn too_large(size: usize, max: usize) -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!(
            "body of at least {size} bytes exceeds the limit of {max} bytes; send fewer changes per push"
        ),
    )
}
