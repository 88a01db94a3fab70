//! Authentication of device requests (see [`gridsync_proto::auth`]) and
//! enrollment with a one-time code.
//!
//! A request is authenticated in two steps, so that nothing of its body is
//! read for a request that cannot be authentic:
//!
//! [`Service::admit`], on the headers alone, before the body is read:
//! 1. it carries the four headers (else `unauthenticated`);
//! 2. its time is within five minutes of the server's and not before the
//!    server started (else `stale_timestamp`, with the server's time so the
//!    device can correct its clock offset and retry);
//! 3. its device is enrolled (else `unknown_device`);
//! 4. its device is not revoked (else `device_revoked`, or `device_wiped`
//!    when the revocation orders a wipe);
//! 5. its nonce has not been seen (else `replayed_request`), asked of the
//!    [`crate::guard::ReplayGuard`] without recording it.
//!
//! [`Service::verify`], once the body is read:
//! 6. its signature verifies over method, path, body digest, time, nonce and
//!    device (else `bad_signature`: wrong key or altered request);
//! 7. its nonce is recorded as used, unless a request with the same nonce
//!    was admitted meanwhile and recorded first (else `replayed_request`).
//!
//! Steps 3 to 5 answer before the signature is checked, so whoever knows a
//! device id learns whether it is enrolled and whether it is revoked (device
//! ids are random, and a revoked device is no secret worth a body's read).
//! Nonces are kept for twice the allowed skew. Requests signed before the
//! service started are refused, so a restart cannot reopen the window for a
//! replay of a request seen before it. Every refusal is audited, counted
//! per minute ([`crate::audit::refusals`]) by the device when it is
//! enrolled (the refusals from step 4 on), else by the client address: a
//! flood naming random devices is counted as one requester.

use std::net::IpAddr;

use gridsync_proto::auth::{self, EnrollRequest, MAX_CLOCK_SKEW_MS};
use gridsync_proto::{ActorId, ErrorCode, Profile};
use ring::signature::{ED25519, UnparsedPublicKey};

use crate::audit::{Event, refusals};
use crate::error::{CoreError, CoreResult, Refusal, StorageError};
use crate::service::Service;
use crate::storage::{NewDevice, StorageExt, User};

/// What a signed request claims in its headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    /// The device.
    pub device: ActorId,
    /// When it was signed (device clock, Unix ms).
    pub time_ms: u64,
    /// Its nonce.
    pub nonce: [u8; 16],
    /// The Ed25519 signature.
    pub signature: Vec<u8>,
}

/// A request to authenticate: what it claims and what was signed.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    /// The claims, or `None` when headers were missing or unreadable.
    pub claimed: Option<&'a Claimed>,
    /// The HTTP method.
    pub method: &'a str,
    /// The request path.
    pub path: &'a str,
    /// The body exactly as sent.
    pub body: &'a [u8],
    /// The client's address (behind trusted proxies, the one they name),
    /// which the audit log counts refusals by when no enrolled device is
    /// known.
    pub client: Option<IpAddr>,
}

/// A device request whose headers passed [`Service::admit`]: its body may
/// be read, then checked with [`Service::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitted {
    claimed: Claimed,
    public_key: Vec<u8>,
    user: String,
}

impl Admitted {
    /// The device the request claims to come from (not yet proven).
    pub fn device(&self) -> ActorId {
        self.claimed.device
    }
}

/// A device request that passed authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceIdentity {
    /// The device.
    pub device: ActorId,
    /// Its user.
    pub user: String,
}

/// An enrolled device's user and the profile it starts with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolled {
    /// The user the code was issued for.
    pub user: User,
    /// Their profile (role, place, the directory they see).
    pub profile: Option<Profile>,
}

impl Service {
    /// Authenticates a signed device request whose body is already read:
    /// [`Service::admit`] then [`Service::verify`]. Refusals are audited
    /// (`sync.refused`), by device or client address (see the module).
    pub async fn authenticate(&self, request: SignedRequest<'_>) -> CoreResult<DeviceIdentity> {
        let admitted = self.admit(request.claimed, request.path, request.client).await?;
        self.verify(admitted, request.method, request.path, request.body, request.client).await
    }

    /// Checks what a signed request's headers claim, before its body is
    /// read (steps 1 to 5 of the [module](self)): on `Ok`, the body may be
    /// read and given to [`Service::verify`]. Refusals are audited
    /// (`sync.refused`).
    pub async fn admit(
        &self,
        claimed: Option<&Claimed>,
        path: &str,
        client: Option<IpAddr>,
    ) -> CoreResult<Admitted> {
        let admitted = self.check_headers(claimed).await;
        self.audit_device_refusal(claimed.map(|c| c.device), client, path, admitted).await
    }

    /// Checks the signature of an admitted request over its body and
    /// records its nonce as used (steps 6 and 7 of the [module](self)).
    /// Refusals are audited (`sync.refused`).
    pub async fn verify(
        &self,
        admitted: Admitted,
        method: &str,
        path: &str,
        body: &[u8],
        client: Option<IpAddr>,
    ) -> CoreResult<DeviceIdentity> {
        let device = admitted.device();
        let verified = self.check_signature(admitted, method, path, body).await;
        self.audit_device_refusal(Some(device), client, path, verified).await
    }

    /// Audits `result` when it is a refusal ([`Service::audit_refusal`]):
    /// by the claimed device when the refusal shows it is enrolled, else by
    /// the client address, so a flood naming random devices counts as one
    /// requester.
    async fn audit_device_refusal<T>(
        &self,
        device: Option<ActorId>,
        client: Option<IpAddr>,
        path: &str,
        result: CoreResult<T>,
    ) -> CoreResult<T> {
        if let Err(refusal) = &result {
            let enrolled = matches!(
                refusal.code(),
                Some(
                    ErrorCode::BadSignature
                        | ErrorCode::DeviceRevoked
                        | ErrorCode::DeviceWiped
                        | ErrorCode::ReplayedRequest
                )
            );
            let actor = match device {
                Some(d) if enrolled => format!("device:{d}"),
                _ => refusals::anonymous(client),
            };
            let event = Event::new(actor, "sync.refused", path, refusal.audit_outcome());
            self.audit_refusal(event).await;
        }
        result
    }

    async fn check_headers(&self, claimed: Option<&Claimed>) -> CoreResult<Admitted> {
        let claimed = claimed.ok_or_else(|| {
            CoreError::refused(
                ErrorCode::Unauthenticated,
                "sync requests must be signed by an enrolled device",
            )
        })?;
        let now = crate::clock::now_ms();
        if claimed.time_ms.abs_diff(now) > MAX_CLOCK_SKEW_MS || claimed.time_ms < self.started_ms {
            let mut e = Refusal::new(
                ErrorCode::StaleTimestamp,
                "the request's time is too far from the server's; correct the clock offset and retry",
            );
            e.server_time_ms = Some(now);
            return Err(e.into());
        }
        let device = claimed.device;
        let key = self.storage.read(move |tx| Ok(tx.device_key(device)?)).await?.ok_or_else(|| {
            CoreError::refused(ErrorCode::UnknownDevice, "this device is not enrolled on this server")
        })?;
        if key.wipe {
            return Err(CoreError::refused(
                ErrorCode::DeviceWiped,
                "this device was revoked and must erase its local data",
            ));
        }
        if key.revoked {
            return Err(CoreError::refused(ErrorCode::DeviceRevoked, "this device was revoked"));
        }
        if self.replay.seen(device, claimed.nonce, now).await? {
            return Err(replayed());
        }
        Ok(Admitted { claimed: claimed.clone(), public_key: key.public_key, user: key.user })
    }

    async fn check_signature(
        &self,
        admitted: Admitted,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> CoreResult<DeviceIdentity> {
        let Admitted { claimed, public_key, user } = admitted;
        let device = claimed.device;
        let input = auth::signing_input(method, path, body, claimed.time_ms, &claimed.nonce, device);
        UnparsedPublicKey::new(&ED25519, &public_key).verify(&input, &claimed.signature).map_err(|_| {
            CoreError::refused(ErrorCode::BadSignature, "the request signature does not verify")
        })?;
        let now = crate::clock::now_ms();
        let expires = now + 2 * MAX_CLOCK_SKEW_MS;
        if !self.replay.first_use(device, claimed.nonce, now, expires).await? {
            return Err(replayed());
        }
        Ok(DeviceIdentity { device, user })
    }

    /// Enrolls a device with a one-time code. The code is spent even if the
    /// device then fails to sync; a refused enrollment changes nothing but
    /// is audited (`device.enroll`, anonymous).
    pub async fn enroll(&self, request: EnrollRequest) -> CoreResult<Enrolled> {
        self.enroll_from(request, None).await
    }

    /// [`Service::enroll`] of a request from `client`: a refusal is
    /// audited by the client address (`address:IP`).
    pub async fn enroll_from(&self, request: EnrollRequest, client: Option<IpAddr>) -> CoreResult<Enrolled> {
        let result = self.storage.write(move |tx, now| enroll(tx, now, &request)).await;
        let user = match result {
            Ok(user) => user,
            Err(refusal) => {
                let event =
                    Event::new(refusals::anonymous(client), "device.enroll", "", refusal.audit_outcome());
                self.audit_refusal(event).await;
                return Err(refusal);
            }
        };
        let (directory, name) = (self.directory.clone(), user.name.clone());
        let profile =
            self.storage.read(move |tx| Ok(crate::directory::profile(tx, &directory, &name)?)).await?;
        Ok(Enrolled { user, profile })
    }
}

fn replayed() -> CoreError {
    CoreError::refused(ErrorCode::ReplayedRequest, "this request was already received")
}

fn enroll(tx: &mut dyn crate::storage::WriteTx, now: u64, request: &EnrollRequest) -> CoreResult<User> {
    let public_key = auth::unb64(&request.public_key)
        .filter(|k| k.len() == 32)
        .ok_or_else(|| Refusal::invalid("the public key is not a base64 Ed25519 key").field("public_key"))?;
    let hash = super::super::people::code_digest(&request.code);
    let Some(found) = tx.enrollment(&hash)? else {
        return Err(CoreError::refused(ErrorCode::EnrollmentInvalid, "unknown enrollment code"));
    };
    if found.used_ms.is_some() {
        return Err(CoreError::refused(ErrorCode::EnrollmentUsed, "this enrollment code was already used"));
    }
    if now > found.expires_ms {
        return Err(CoreError::refused(
            ErrorCode::EnrollmentExpired,
            "this enrollment code has expired; ask for a new one",
        ));
    }
    let user = tx.user(&found.user)?.ok_or_else(|| StorageError::corrupt("enrollment for a missing user"))?;
    if !user.active {
        return Err(CoreError::refused(ErrorCode::UserInactive, "the user is deactivated"));
    }
    if request.device.is_derived() {
        // Derived ids are the server's own actors (ADR 0016): no device may pose as one.
        return Err(Refusal::invalid("a device id is a random UUID").field("device").into());
    }
    if tx.device_exists(request.device)? {
        return Err(CoreError::invalid("a device with this id is already known"));
    }
    tx.insert_device(&NewDevice { id: request.device, user: &user.name, public_key: &public_key, now })?;
    tx.use_enrollment(&hash, request.device, now)?;
    tx.append_audit(
        now,
        &Event::new(format!("device:{}", request.device), "device.enroll", &user.name, "ok"),
    )?;
    Ok(user)
}
