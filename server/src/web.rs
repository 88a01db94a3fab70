//! HTTP routes. [`configure`] is shared by `main` and the tests, so tests
//! exercise the real routes.
//!
//! | method | path             | body in → out                       |
//! |--------|------------------|-------------------------------------|
//! | POST   | `/v1/sync/push`  | `PushRequest` → `PushResponse`      |
//! | POST   | `/v1/sync/pull`  | `PullRequest` → `PullResponse`      |
//! | GET    | `/health`        | → JSON status                       |
//!
//! Sync bodies are `application/x-gridsync` envelopes; errors are JSON
//! [`gridsync_proto::ErrorBody`] with a stable code.

mod extract;

use actix_web::{HttpResponse, web};
use gridsync_proto::wire::{self, CONTENT_TYPE, Limits, Message};
use gridsync_proto::{ErrorCode, PullRequest, PushRequest};
use serde_json::json;

use crate::db::Store;
use crate::error::ApiError;
pub use extract::Envelope;

/// Shared state of the HTTP workers.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The store.
    pub store: Store,
    /// Most changes in one pull page.
    pub max_page: u32,
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
        web::resource("/health").route(web::get().to(health)).default_service(web::to(method_not_allowed)),
    )
    .default_service(web::to(not_found));
}

/// The app data [`configure`] expects, for `App::app_data`.
pub fn app_data(state: AppState, limits: Limits) -> (web::Data<AppState>, web::Data<Limits>) {
    (web::Data::new(state), web::Data::new(limits))
}

async fn push(
    state: web::Data<AppState>,
    Envelope(request): Envelope<PushRequest>,
) -> Result<HttpResponse, ApiError> {
    let count = request.changes.len();
    let response = state.store.push(request).await?;
    tracing::info!(
        changes = count,
        accepted = response.accepted,
        duplicates = response.duplicates,
        "push stored"
    );
    Ok(message(&response))
}

async fn pull(
    state: web::Data<AppState>,
    Envelope(request): Envelope<PullRequest>,
) -> Result<HttpResponse, ApiError> {
    let limit = request.limit.clamp(1, state.max_page);
    let store = state.store.clone();
    let page = web::block(move || store.pull(request.device, request.after, limit))
        .await
        .map_err(|_| ApiError::internal())??;
    tracing::debug!(changes = page.changes.len(), more = page.more, "pull served");
    Ok(message(&page))
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
