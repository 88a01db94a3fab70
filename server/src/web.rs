//! HTTP routes. [`configure`] is shared by `main` and the tests, so tests
//! exercise the real routes.
//!
//! | method | path             | body in → out                       | who            |
//! |--------|------------------|-------------------------------------|----------------|
//! | POST   | `/v1/sync/push`  | `PushRequest` → `PushResponse`      | signed device  |
//! | POST   | `/v1/sync/pull`  | `PullRequest` → `PullResponse`      | signed device  |
//! | POST   | `/v1/enroll`     | JSON `EnrollRequest` → `EnrollResponse` | one-time code |
//! | *      | `/v1/admin/...`  | JSON (see [`admin_api`], [`reports_api`], [`ledgers_api`], [`disputes_api`]) | staff sessions |
//! | GET    | `/v1/admin/disputes` | query → a page of the dispute desk's list | staff sessions |
//! | GET    | `/v1/admin/disputes/{id}` | → one dispute, its history and conflicts | staff sessions |
//! | POST   | `/v1/admin/disputes/{id}/resolve` | JSON → a change settling a field's conflict | staff sessions |
//! | POST   | `/v1/admin/disputes/{id}/steps` | JSON → a lifecycle step | staff sessions |
//! | GET    | `/health`        | → JSON status                       | anyone         |
//! | GET    | `/`, `/console/...` | HTML (see [`crate::console`])    | staff sessions (cookie) |
//!
//! Sync bodies are `application/x-gridsync` envelopes signed by the device
//! (see [`gridsync_server_core::service::sync::auth`]); errors are JSON
//! [`gridsync_proto::ErrorBody`] with a stable code.

pub mod admin_api;
pub mod disputes_api;
pub mod error;
mod extract;
pub mod ledgers_api;
pub mod reports_api;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use gridsync_proto::wire::{self, CONTENT_TYPE, Limits, Message};
use gridsync_proto::{ActorId, EnrollRequest, EnrollResponse, ErrorCode, PullRequest, PushRequest};
use gridsync_server_core::Service;
use gridsync_server_core::clock::now_ms;
use gridsync_server_core::guard::{Limited, MemoryRateLimiter, RateLimiter};
use gridsync_server_core::service::sync::pull::Whole;
use serde_json::json;

use crate::config::Settings;
pub use error::ApiError;
pub use extract::Signed;

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
        }
    }

    /// Counts an attempt of `what` from the request's client address
    /// ([`client_address`]).
    pub async fn limit(&self, what: Limited, req: &HttpRequest) -> Result<(), ApiError> {
        let peer = req.peer_addr().map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip());
        let forwarded = req.headers().get_all("x-forwarded-for").filter_map(|v| v.to_str().ok());
        let ip = client_address(peer, forwarded, &self.trusted_proxies);
        Ok(self.limiter.attempt(what, ip).await?)
    }
}

/// The address a request came from, for rate limits: the peer, unless the
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
            .route(web::post().to(enroll))
            .default_service(web::to(method_not_allowed)),
    )
    .configure(crate::console::configure)
    .configure(reports_api::configure)
    .configure(ledgers_api::configure)
    .configure(disputes_api::configure)
    .configure(admin_api::configure)
    .service(
        web::resource("/health").route(web::get().to(health)).default_service(web::to(method_not_allowed)),
    )
    .default_service(web::to(not_found));
}

/// The app data [`configure`] expects, for `App::app_data`.
pub fn app_data(state: AppState, limits: Limits) -> (web::Data<AppState>, web::Data<Limits>) {
    (web::Data::new(state), web::Data::new(limits))
}

async fn push(state: web::Data<AppState>, signed: Signed<PushRequest>) -> Result<HttpResponse, ApiError> {
    let Signed { from, message: request, version } = signed;
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

async fn pull(state: web::Data<AppState>, signed: Signed<PullRequest>) -> Result<HttpResponse, ApiError> {
    let Signed { from, message: mut request, version } = signed;
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

async fn enroll(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    state.limit(Limited::Enrollment, &req).await?;
    let request: EnrollRequest = serde_json::from_slice(&body)
        .map_err(|_| ApiError::new(ErrorCode::Malformed, "send a JSON enrollment request"))?;
    let enrolled = state.service.enroll(request).await?;
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

async fn health(state: web::Data<AppState>) -> HttpResponse {
    let service = state.service.clone();
    let ok = web::block(move || service.healthy()).await.unwrap_or(false);
    let body = json!({
        "status": if ok { "ok" } else { "unavailable" },
        "version": env!("CARGO_PKG_VERSION"),
        "protocol": wire::PROTOCOL_VERSION,
        "storage": state.service.storage().backend(),
    });
    if ok { HttpResponse::Ok().json(body) } else { HttpResponse::ServiceUnavailable().json(body) }
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
