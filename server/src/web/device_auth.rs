//! Authentication of device requests (see [`gridsync_proto::auth`]).
//!
//! A request is accepted when, in this order:
//! 1. it carries the four headers (else `unauthenticated`);
//! 2. its time is within five minutes of the server's and not before the
//!    server started (else `stale_timestamp`, with the server's time so the
//!    device can correct its clock offset and retry);
//! 3. its device is enrolled (else `unknown_device`);
//! 4. its signature verifies over method, path, body digest, time, nonce and
//!    device (else `bad_signature`: wrong key or altered request);
//! 5. its device is not revoked (else `device_revoked`, or `device_wiped`
//!    when the revocation orders a wipe);
//! 6. its nonce has not been seen (else `replayed_request`).
//!
//! Nonces live in memory for twice the allowed skew. Requests signed before
//! the server started are refused, so a restart cannot reopen the window
//! for a replay of a request seen before it.

use std::collections::HashMap;
use std::sync::Mutex;

use actix_web::HttpRequest;
use gridsync_proto::auth::{self, MAX_CLOCK_SKEW_MS};
use gridsync_proto::{ActorId, ErrorCode};
use ring::signature::{ED25519, UnparsedPublicKey};

use crate::audit::Event;
use crate::db::{Store, now_ms};
use crate::error::ApiError;
use crate::identity;

/// Most remembered nonces before expired ones are swept.
const SWEEP_AT: usize = 100_000;

/// A device request that passed authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceIdentity {
    /// The device.
    pub device: ActorId,
    /// Its user.
    pub user: String,
}

/// Verifies signed device requests and remembers nonces.
#[derive(Debug)]
pub struct RequestGuard {
    started_ms: u64,
    seen: Mutex<HashMap<(ActorId, [u8; 16]), u64>>,
}

impl Default for RequestGuard {
    fn default() -> Self {
        Self { started_ms: now_ms(), seen: Mutex::new(HashMap::new()) }
    }
}

struct Claimed {
    device: ActorId,
    time_ms: u64,
    nonce: [u8; 16],
    signature: Vec<u8>,
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

fn claimed(req: &HttpRequest) -> Option<Claimed> {
    Some(Claimed {
        device: header(req, auth::HEADER_DEVICE)?.parse().ok()?,
        time_ms: header(req, auth::HEADER_TIME)?.parse().ok()?,
        nonce: auth::parse_nonce(header(req, auth::HEADER_NONCE)?)?,
        signature: auth::unb64(header(req, auth::HEADER_SIGNATURE)?)?,
    })
}

impl RequestGuard {
    /// Authenticates a request whose raw body (as sent) is `body`. Refusals
    /// are audited.
    pub async fn verify(
        &self,
        req: &HttpRequest,
        body: &[u8],
        store: &Store,
    ) -> Result<DeviceIdentity, ApiError> {
        let claimed = claimed(req);
        let device = claimed.as_ref().map(|c| c.device);
        match self.check(req, body, store, claimed).await {
            Ok(identity) => Ok(identity),
            Err(refusal) => {
                let actor = device.map_or_else(|| "anonymous".to_owned(), |d| format!("device:{d}"));
                let event = Event::new(actor, "sync.refused", req.path().to_owned(), refusal.code.as_str());
                if let Err(e) = store.audit(event).await {
                    tracing::error!(error = %e, "cannot audit a refused request");
                }
                Err(refusal)
            }
        }
    }

    async fn check(
        &self,
        req: &HttpRequest,
        body: &[u8],
        store: &Store,
        claimed: Option<Claimed>,
    ) -> Result<DeviceIdentity, ApiError> {
        let claimed = claimed.ok_or_else(|| {
            ApiError::new(ErrorCode::Unauthenticated, "sync requests must be signed by an enrolled device")
        })?;
        let now = now_ms();
        if claimed.time_ms.abs_diff(now) > MAX_CLOCK_SKEW_MS || claimed.time_ms < self.started_ms {
            let mut e = ApiError::new(
                ErrorCode::StaleTimestamp,
                "the request's time is too far from the server's; correct the clock offset and retry",
            );
            e.server_time_ms = Some(now);
            return Err(e);
        }
        let device = claimed.device;
        let key = store.read(move |conn| identity::device_key(conn, device)).await?.ok_or_else(|| {
            ApiError::new(ErrorCode::UnknownDevice, "this device is not enrolled on this server")
        })?;
        let input = auth::signing_input(
            req.method().as_str(),
            req.path(),
            body,
            claimed.time_ms,
            &claimed.nonce,
            device,
        );
        UnparsedPublicKey::new(&ED25519, &key.public_key)
            .verify(&input, &claimed.signature)
            .map_err(|_| ApiError::new(ErrorCode::BadSignature, "the request signature does not verify"))?;
        if key.wipe {
            return Err(ApiError::new(
                ErrorCode::DeviceWiped,
                "this device was revoked and must erase its local data",
            ));
        }
        if key.revoked {
            return Err(ApiError::new(ErrorCode::DeviceRevoked, "this device was revoked"));
        }
        self.remember(device, claimed.nonce, now)?;
        Ok(DeviceIdentity { device, user: key.user })
    }

    fn remember(&self, device: ActorId, nonce: [u8; 16], now: u64) -> Result<(), ApiError> {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= SWEEP_AT {
            seen.retain(|_, expires| *expires > now);
        }
        let expires = now + 2 * MAX_CLOCK_SKEW_MS;
        if seen.insert((device, nonce), expires).is_some() {
            return Err(ApiError::new(ErrorCode::ReplayedRequest, "this request was already received"));
        }
        Ok(())
    }
}
