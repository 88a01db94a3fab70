//! HTTP routes. [`configure`] is shared by `main` and the tests, so tests
//! exercise the real routes.
//!
//! | method | path             | body in → out                       | who            |
//! |--------|------------------|-------------------------------------|----------------|
//! | POST   | `/v1/sync/push`  | `PushRequest` → `PushResponse`      | signed device  |
//! | POST   | `/v1/sync/pull`  | `PullRequest` → `PullResponse`      | signed device  |
//! | POST   | `/v1/enroll`     | JSON `EnrollRequest` → `EnrollResponse` | one-time code |
//! | *      | `/v1/admin/...`  | JSON (see [`admin_api`], [`reports_api`]) | staff sessions |
//! | GET    | `/health`        | → JSON status                       | anyone         |
//!
//! Sync bodies are `application/x-gridsync` envelopes signed by the device
//! ([`device_auth`]); errors are JSON [`gridsync_proto::ErrorBody`] with a
//! stable code.

pub mod admin_api;
pub mod device_auth;
mod extract;
pub mod reports_api;
pub mod throttle;

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use gridsync_proto::wire::{self, CONTENT_TYPE, Limits, Message};
use gridsync_proto::{ActorId, EnrollRequest, EnrollResponse, ErrorCode, PullRequest, PushRequest};

use crate::audit::Event;
use crate::config::Settings;
use serde_json::json;

use crate::db::{Store, now_ms};
use crate::error::ApiError;
use crate::{directory, identity};
use device_auth::RequestGuard;
pub use extract::Signed;
use throttle::Throttle;

/// Shared state of the HTTP workers.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The store.
    pub store: Store,
    /// Most changes in one pull page.
    pub max_page: u32,
    /// Device request authentication.
    pub guard: Arc<RequestGuard>,
    /// Rate limits for logins and enrollments.
    pub throttle: Arc<Throttle>,
    /// The deployment's time zone, minutes east of UTC.
    pub utc_offset_minutes: i32,
}

impl AppState {
    /// State for a store, with fresh nonce memory and the rate limits of `settings`.
    pub fn new(store: Store, settings: &Settings) -> Self {
        Self {
            store,
            max_page: settings.max_page,
            guard: Arc::default(),
            throttle: Arc::new(Throttle::new(settings.enrollments_per_minute, settings.logins_per_minute)),
            utc_offset_minutes: settings.utc_offset_minutes,
        }
    }
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
    .configure(reports_api::configure)
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
    let Signed { from, message: request } = signed;
    same_device(from.device, request.device)?;
    let count = request.changes().count();
    let response = state.store.push(request, from.user).await?;
    tracing::info!(
        changes = count,
        accepted = response.accepted,
        duplicates = response.duplicates,
        refused_groups = response.refused.len(),
        "push stored"
    );
    Ok(message(&response))
}

async fn pull(state: web::Data<AppState>, signed: Signed<PullRequest>) -> Result<HttpResponse, ApiError> {
    let Signed { from, message: mut request } = signed;
    same_device(from.device, request.device)?;
    request.limit = request.limit.clamp(1, state.max_page);
    let page = state.store.pull(request, from.user).await?;
    tracing::debug!(
        changes = page.changes.len(),
        rebuilt = page.rebuild.len(),
        removed = page.removed.len(),
        more = page.more,
        "pull served"
    );
    Ok(message(&page))
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
    state.throttle.enrollment(&req)?;
    let request: EnrollRequest = serde_json::from_slice(&body)
        .map_err(|_| ApiError::new(ErrorCode::Malformed, "send a JSON enrollment request"))?;
    let user = state.store.write(move |conn, now| identity::enroll(conn, now, &request)).await;
    let user = match user {
        Ok(user) => user,
        Err(refusal) => {
            let event = Event::new("anonymous", "device.enroll", "", refusal.code.as_str());
            if let Err(e) = state.store.audit(event).await {
                tracing::error!(error = %e, "cannot audit a refused enrollment");
            }
            return Err(refusal);
        }
    };
    tracing::info!(role = %user.role, "device enrolled");
    let store = state.store.clone();
    let name = user.name.clone();
    let profile = state.store.read(move |conn| directory::profile(conn, store.directory(), &name)).await?;
    Ok(HttpResponse::Ok().json(EnrollResponse {
        user: user.name,
        role: user.role,
        scope: user.scope,
        server_time_ms: now_ms(),
        profile,
    }))
}

async fn health(state: web::Data<AppState>) -> HttpResponse {
    let store = state.store.clone();
    let ok = web::block(move || store.healthy()).await.unwrap_or(false);
    let body = json!({
        "status": if ok { "ok" } else { "unavailable" },
        "version": env!("CARGO_PKG_VERSION"),
        "protocol": wire::PROTOCOL_VERSION,
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
