//! HTTP routes. [`configure`] is shared by `main` and the tests, so tests
//! exercise the real routes.
//!
//! | method | path             | body in → out                       | who            |
//! |--------|------------------|-------------------------------------|----------------|
//! | POST   | `/v1/sync/push`  | `PushRequest` → `PushResponse`      | signed device  |
//! | POST   | `/v1/sync/pull`  | `PullRequest` → `PullResponse`      | signed device  |
//! | POST   | `/v1/enroll`     | JSON `EnrollRequest` → `EnrollResponse` | one-time code |
//! | POST   | `/v1/attachments/{status,upload,fetch}` | `UploadQuery`/`UploadChunk`/`FetchRequest` → `UploadStatus`/`FetchPiece` (see [`attachments_api`]) | signed device |
//! | GET    | `/v1/admin/records/{id}/attachments[/{sha256}]` | → a record's attachments, or one file | staff sessions |
//! | *      | `/v1/admin/...`  | JSON (see [`admin_api`], [`reports_api`], [`ledgers_api`], [`disputes_api`]) | staff sessions |
//! | GET    | `/v1/admin/disputes` | query → a page of the dispute desk's list | staff sessions |
//! | GET    | `/v1/admin/disputes/{id}` | → one dispute, its history and conflicts | staff sessions |
//! | POST   | `/v1/admin/disputes/{id}/resolve` | JSON → a change settling a field's conflict | staff sessions |
//! | POST   | `/v1/admin/disputes/{id}/steps` | JSON → a lifecycle step | staff sessions |
//! | GET    | `/health`        | → JSON status                       | anyone         |
//! | GET    | `/metrics`       | → Prometheus text ([`crate::metrics`]) | `metrics_token` bearer, or this machine |
//! | GET    | `/v1/openapi.json` | → the OpenAPI document of all of these (see [`openapi`]) | anyone |
//! | GET    | `/`, `/console/...` | HTML (see [`crate::console`])    | staff sessions (cookie) |
//!
//! Sync bodies are `application/x-gridsync` envelopes signed by the device
//! (see [`gridsync_server_core::service::sync::auth`]); errors are JSON
//! [`gridsync_proto::ErrorBody`] with a stable code.

pub mod admin_api;
pub mod attachments_api;
pub mod authed;
mod body;
pub mod disputes_api;
pub mod error;
mod extract;
mod extractor_errors;
pub mod gate;
mod json;
pub mod ledgers_api;
pub mod openapi;
pub mod reports_api;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use gridsync_proto::wire::{self, CONTENT_TYPE, Limits, Message};
use gridsync_proto::{ActorId, EnrollRequest, EnrollResponse, ErrorCode, PullRequest, PushRequest};
use gridsync_server_core::audit::{Event, refusals};
use gridsync_server_core::clock::now_ms;
use gridsync_server_core::guard::{Counted, Limited, MemoryRateLimiter, RateLimiter, Subject};
use gridsync_server_core::service::health::Readiness;
use gridsync_server_core::service::people::Session;
use gridsync_server_core::service::sync::pull::Whole;
use gridsync_server_core::{CoreError, Service};
use serde_json::json;

use crate::config::Settings;
pub use body::BodyTimeouts;
pub use error::ApiError;
pub use extract::Signed;
pub use extractor_errors::json_errors;
use gate::BodyGate;

/// Largest enrollment request body: a code, a device id and a public key
/// take a few hundred bytes; the body is read before the code is checked.
pub const MAX_ENROLL_BYTES: usize = 4 * 1024;

/// Largest body of any other route that reads one whole (the admin API's
/// JSON; its CSV imports take more, see [`admin_api`]), read only after the
/// caller is known ([`authed::Authed`]).
pub const MAX_JSON_BYTES: usize = 256 * 1024;

/// Shared state of the HTTP workers.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The service layer every handler calls.
    pub service: Service,
    /// Most changes in one pull page.
    pub max_page: u32,
    /// Rate limits for logins and enrollments.
    pub limiter: Arc<dyn RateLimiter>,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Arc<[IpAddr]>,
    /// Who may read `/metrics`.
    pub metrics: crate::metrics::Access,
    /// Permits to read sync bodies ([`crate::config::EdgeLimits`]).
    pub bodies: Arc<BodyGate>,
    /// How long a sync body may take to arrive.
    pub body_timeouts: BodyTimeouts,
}

impl AppState {
    /// State for a service, with the rate limits of `settings` in this process's memory.
    pub fn new(service: Service, settings: &Settings) -> Self {
        let limiter = MemoryRateLimiter::new(settings.enrollments_per_minute, settings.logins_per_minute);
        Self::with_limiter(service, settings, Arc::new(limiter))
    }

    /// State for a service with the given rate limiter (a backend's, see
    /// [`crate::backend::Backend::rate_limiter`]: shared by every process on
    /// PostgreSQL).
    pub fn with_limiter(service: Service, settings: &Settings, limiter: Arc<dyn RateLimiter>) -> Self {
        Self {
            service,
            max_page: settings.max_page,
            limiter,
            trusted_proxies: settings.trusted_proxies.clone().into(),
            // A token too short is refused by `app::build` before a state is made.
            metrics: settings.metrics_access().unwrap_or(crate::metrics::Access::Loopback),
            bodies: BodyGate::new(settings.edge.max_body_reads, settings.edge.max_body_reads_per_device),
            body_timeouts: BodyTimeouts {
                whole: settings.edge.body_read_timeout,
                idle: settings.edge.body_idle_timeout,
            },
        }
    }

    /// The request's client address ([`client_address`]): the peer, or
    /// behind a trusted proxy the client it names. Every rate limit and
    /// every audit row that records an address uses it.
    pub fn client(&self, req: &HttpRequest) -> IpAddr {
        let peer = req.peer_addr().map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip());
        let forwarded = req.headers().get_all("x-forwarded-for").filter_map(|v| v.to_str().ok());
        client_address(peer, forwarded, &self.trusted_proxies)
    }

    /// Counts an enrollment attempt from the request's client address
    /// ([`AppState::client`]); one over the limit is refused with
    /// `rate_limited` and audited (`device.enroll`, counted per minute).
    pub async fn limit_enrollment(&self, req: &HttpRequest) -> Result<(), ApiError> {
        let client = self.client(req);
        match self.limiter.attempt(Limited::Enrollment, &Subject::Address(client)).await {
            Ok(_) => Ok(()),
            Err(e) => {
                let event =
                    Event::new(refusals::anonymous(Some(client)), "device.enroll", "", e.audit_outcome());
                self.service.audit_refusal(event).await;
                Err(e.into())
            }
        }
    }

    /// Logs a staff member in (the admin API's and the console's login),
    /// limiting failed logins per client address and per user name
    /// (`logins_per_minute` each, ADR 0030): the attempt is counted against
    /// both before the password is checked, and taken back unless the
    /// password was wrong, so successful logins never use up the limit. An
    /// attempt over either limit is refused with `rate_limited` without
    /// checking the password, and audited (`login`, counted per minute).
    pub async fn login(&self, req: &HttpRequest, user: &str, password: &str) -> Result<Session, ApiError> {
        let client = self.client(req);
        let refused = |e: CoreError| {
            let event = Event::new(refusals::anonymous(Some(client)), "login", user, e.audit_outcome());
            async move {
                self.service.audit_refusal(event).await;
                Err::<Session, ApiError>(e.into())
            }
        };
        let by_address = match self.limiter.attempt(Limited::Login, &Subject::Address(client)).await {
            Ok(counted) => counted,
            Err(e) => return refused(e).await,
        };
        let by_name = match self.limiter.attempt(Limited::Login, &Subject::user_name(user)).await {
            Ok(counted) => counted,
            Err(e) => {
                self.forgive(by_address).await;
                return refused(e).await;
            }
        };
        let result = self.service.login_from(user, password, Some(client)).await;
        let failed = matches!(&result, Err(e) if e.code() == Some(ErrorCode::BadCredentials));
        if !failed {
            self.forgive(by_address).await;
            self.forgive(by_name).await;
        }
        Ok(result?)
    }

    /// Takes back a counted login attempt; a failure to is only logged
    /// (the attempt then counts as a failure until its minute ends).
    async fn forgive(&self, counted: Counted) {
        if let Err(e) = self.limiter.forgive(counted).await {
            tracing::warn!(error = %e, "cannot take back a counted login");
        }
    }
}

/// The address a request came from, for rate limits and the audit log: the peer, unless the
/// peer is one of `trusted` reverse proxies; then the last address of
/// `X-Forwarded-For` that is not itself a trusted proxy (each proxy appends
/// the address it saw, so entries left of it may be forged by the client).
/// A trusted proxy that sends no usable header is taken as the client.
pub fn client_address<'a>(
    peer: IpAddr,
    forwarded: impl Iterator<Item = &'a str>,
    trusted: &[IpAddr],
) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let hops: Vec<&str> = forwarded.flat_map(|h| h.split(',')).map(str::trim).collect();
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) if trusted.contains(&ip) => continue,
            Ok(ip) => return ip,
            // A garbled entry: nothing left of it can be trusted.
            Err(_) => break,
        }
    }
    peer
}

/// Registers every route. The app must also have `web::Data<AppState>` and
/// `web::Data<Limits>`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/v1/sync/push")
            .route(web::post().to(push))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/v1/sync/pull")
            .route(web::post().to(pull))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/v1/enroll")
            .app_data(authed::BodyLimit(MAX_ENROLL_BYTES))
            .route(web::post().to(enroll))
            .default_service(web::to(method_not_allowed)),
    )
    .configure(attachments_api::configure)
    .configure(crate::console::configure)
    .configure(reports_api::configure)
    .configure(ledgers_api::configure)
    .configure(disputes_api::configure)
    .configure(admin_api::configure)
    .service(
        web::resource("/health").route(web::get().to(health)).default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/metrics")
            .route(web::get().to(crate::metrics::scrape))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/v1/openapi.json")
            .route(web::get().to(openapi::openapi_json))
            .default_service(web::to(method_not_allowed)),
    )
    .app_data(extractor_errors::query())
    .app_data(extractor_errors::path())
    .default_service(web::to(not_found));
}

/// The app data [`configure`] expects, for `App::app_data`.
pub fn app_data(state: AppState, limits: Limits) -> (web::Data<AppState>, web::Data<Limits>) {
    (web::Data::new(state), web::Data::new(limits))
}

#[utoipa::path(
    post,
    path = "/v1/sync/push",
    tag = "sync",
    summary = "Push changes",
    description = "A device sends its unsent changes (a `PushRequest` envelope, optionally gzip-compressed \
                   with `Content-Encoding: gzip`); the answer (`PushResponse`, in the request's protocol \
                   version) is sent once every accepted change is durable.",
    params(openapi::DeviceHeaders),
    request_body(content = openapi::Envelope, content_type = "application/x-gridsync",
                 description = "A signed `PushRequest` envelope (postcard in a `GS` envelope)."),
    security(("device_signature" = [])),
    responses(
        (status = 200, description = "A `PushResponse` envelope: accepted, duplicates, refused groups.",
         content_type = "application/x-gridsync", body = openapi::Envelope),
        (status = 400, response = openapi::Refused), (status = 401, response = openapi::Refused),
        (status = 403, response = openapi::Refused), (status = 409, response = openapi::Refused),
        (status = 408, response = openapi::Refused),
        (status = 413, response = openapi::Refused), (status = 415, response = openapi::Refused),
        (status = 429, response = openapi::Refused),
    )
)]
async fn push(state: web::Data<AppState>, signed: Signed<PushRequest>) -> Result<HttpResponse, ApiError> {
    let Signed { from, message: request, version, .. } = signed;
    same_device(from.device, request.device)?;
    let count = request.changes().count();
    let response = state.service.push(request, from.user).await?;
    tracing::info!(
        changes = count,
        accepted = response.accepted,
        duplicates = response.duplicates,
        refused_groups = response.refused.len(),
        "push stored"
    );
    if version >= 4 {
        Ok(message(&response))
    } else {
        Ok(message_as(version, &wire::v3::PushResponse::from(response)))
    }
}

#[utoipa::path(
    post,
    path = "/v1/sync/pull",
    tag = "sync",
    summary = "Pull changes",
    description = "A device asks for what changed in its scope after its cursor (a `PullRequest` \
                   envelope); the answer is a `PullResponse` page in the request's protocol version.",
    params(openapi::DeviceHeaders),
    request_body(content = openapi::Envelope, content_type = "application/x-gridsync",
                 description = "A signed `PullRequest` envelope (postcard in a `GS` envelope)."),
    security(("device_signature" = [])),
    responses(
        (status = 200, description = "A `PullResponse` envelope: one page of changes and records.",
         content_type = "application/x-gridsync", body = openapi::Envelope),
        (status = 400, response = openapi::Refused), (status = 401, response = openapi::Refused),
        (status = 403, response = openapi::Refused), (status = 413, response = openapi::Refused),
        (status = 408, response = openapi::Refused), (status = 415, response = openapi::Refused),
        (status = 429, response = openapi::Refused),
    )
)]
async fn pull(state: web::Data<AppState>, signed: Signed<PullRequest>) -> Result<HttpResponse, ApiError> {
    let Signed { from, message: mut request, version, .. } = signed;
    same_device(from.device, request.device)?;
    request.limit = request.limit.clamp(1, state.max_page);
    // A version 2 handset takes records sent whole only as their history,
    // in the version 2 shape of the page (ADR 0019).
    let whole = if version >= 3 { Whole::Snapshots } else { Whole::History };
    let page = state.service.pull_as(request, from.user, whole).await?;
    tracing::debug!(
        version,
        changes = page.changes.len(),
        snapshots = page.snapshots.len(),
        rebuilt = page.rebuild.len(),
        removed = page.removed.len(),
        more = page.more,
        "pull served"
    );
    match whole {
        Whole::Snapshots if version >= 4 => Ok(message(&page)),
        Whole::Snapshots => Ok(message(&wire::v3::PullResponse::from(page))),
        Whole::History => {
            let old = wire::v2::PullResponse::try_from(page).map_err(|_| ApiError::internal())?;
            Ok(message(&old))
        }
    }
}

/// The message must name the device that signed it.
fn same_device(signer: ActorId, named: ActorId) -> Result<(), ApiError> {
    if signer == named {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::ActorMismatch,
            "the message names another device than the one that signed it",
        ))
    }
}

#[utoipa::path(
    post,
    path = "/v1/enroll",
    tag = "enrollment",
    summary = "Enroll a device",
    description = "A device presents a one-time enrollment code and its Ed25519 public key. \
                   Rate-limited per client address.",
    request_body(content = gridsync_proto::EnrollRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Enrolled: the user the device acts for.", body = EnrollResponse),
        (status = 400, response = openapi::Refused), (status = 403, response = openapi::Refused),
        (status = 409, response = openapi::Refused), (status = 410, response = openapi::Refused),
        (status = 429, response = openapi::Refused),
    )
)]
async fn enroll(
    req: HttpRequest,
    state: web::Data<AppState>,
    authed::Authed { body, .. }: authed::Authed<authed::Anyone>,
) -> Result<HttpResponse, ApiError> {
    state.limit_enrollment(&req).await?;
    let request: EnrollRequest = serde_json::from_slice(&body)
        .map_err(|_| ApiError::new(ErrorCode::Malformed, "send a JSON enrollment request"))?;
    let enrolled = state.service.enroll_from(request, Some(state.client(&req))).await?;
    tracing::info!(role = %enrolled.user.role, "device enrolled");
    let user = enrolled.user;
    Ok(HttpResponse::Ok().json(EnrollResponse {
        user: user.name,
        role: user.role,
        scope: user.scope,
        server_time_ms: now_ms(),
        profile: enrolled.profile,
    }))
}

/// Ready (200, `"status": "ok"`) when the database takes reads and
/// writes and the blob store answers ([`Service::readiness`]); else 503, `"status": "unavailable"`
/// with a stable `reason` (no path, no data).
#[utoipa::path(
    get,
    path = "/health",
    tag = "service",
    summary = "Health",
    responses(
        (status = 200, description = "Ready: the database answers.", body = openapi::Health),
        (status = 503, description = "Not ready: the database cannot be read or written, or the blob store does not answer.", body = openapi::Health),
    )
)]
async fn health(state: web::Data<AppState>) -> HttpResponse {
    let readiness = state.service.readiness().await;
    let mut body = json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "protocol": wire::PROTOCOL_VERSION,
        "storage": state.service.storage().backend(),
        "blobs": state.service.blobs().kind(),
    });
    match readiness {
        Readiness::Ready => HttpResponse::Ok().json(body),
        Readiness::NotReady(why) => {
            body["status"] = json!("unavailable");
            body["reason"] = json!(why.code());
            HttpResponse::ServiceUnavailable().json(body)
        }
    }
}

async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(ErrorCode::NotFound, "no such endpoint"))
}

async fn method_not_allowed() -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(ErrorCode::MethodNotAllowed, "this endpoint does not take that method"))
}

fn message<M: Message>(m: &M) -> HttpResponse {
    HttpResponse::Ok().content_type(CONTENT_TYPE).body(wire::encode(m))
}

/// An answer in the protocol version its request came in.
fn message_as<M: Message>(version: u8, m: &M) -> HttpResponse {
    HttpResponse::Ok().content_type(CONTENT_TYPE).body(wire::encode_as(version, m))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn the_client_behind_a_trusted_proxy_is_counted() {
        let (lb, other_lb) = (ip("10.0.0.2"), ip("10.0.0.3"));
        let trusted = [lb, other_lb];
        let client = |peer, headers: &[&str]| client_address(peer, headers.iter().copied(), &trusted);
        // Not through a trusted proxy: the header is the client's to forge.
        assert_eq!(client(ip("203.0.113.9"), &["198.51.100.1"]), ip("203.0.113.9"));
        // Through one: the last hop it appended, not what the client put left of it.
        assert_eq!(client(lb, &["198.51.100.1, 203.0.113.9"]), ip("203.0.113.9"));
        // Through two trusted proxies, headers split over lines.
        assert_eq!(client(lb, &["203.0.113.9", "10.0.0.3"]), ip("203.0.113.9"));
        // No header, or a garbled last hop: the proxy itself.
        assert_eq!(client(lb, &[]), lb);
        assert_eq!(client(lb, &["198.51.100.1, unknown"]), lb);
    }
}
