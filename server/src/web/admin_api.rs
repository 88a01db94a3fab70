//! The admin HTTP API, under `/v1/admin`: JSON in and out, a bearer token
//! from `POST /v1/admin/login` on every other call. What each role may do is
//! decided by [`crate::staff`]; every change is audited in the same
//! transaction as the change, and every refusal is audited too.
//!
//! | method | path | body | who |
//! |---|---|---|---|
//! | POST | `/login` | `{user, password}` → `{token, expires_ms, user, role, scope}` | anyone (rate-limited) |
//! | POST | `/logout` | | the session |
//! | GET | `/users` | → users within the caller's subtree | admins, auditors |
//! | POST | `/users` | `{name, role, scope?, unit?, password?}` (a department user gives its `unit`; others a `scope`) | admins, for roles below theirs, within their subtree |
//! | POST | `/users/{name}/assign` | `{scope?, unit?}` → the user | as above, at the old and the new place |
//! | POST | `/users/{name}/deactivate` | → `{devices_revoked}` | as above |
//! | POST | `/enrollments` | `{user, ttl_seconds?, server_url?}` → `{code, expires_ms, ticket, qr_svg}` | as above |
//! | GET | `/devices` | → devices of users within the subtree | admins, auditors |
//! | POST | `/devices/{id}/revoke` | `{wipe}` | as above |
//! | GET | `/places` | → `[{code, name, level, parent}]`: the caller's chain and subtree | admins, auditors |
//! | POST | `/places` | `{code, name, level, parent?}` → the place | administrators; county and township admins under a place of their subtree |
//! | POST | `/places/{code}/move` | `{parent}` (`null`: the top) → the place | as above, for the place and its new parent |
//! | POST | `/places/import` | CSV text (`text/csv`) → `{added, updated, unchanged}` | as above, for every row |
//! | GET | `/units` | → `[{code, name, kind, place}]` at the caller's chain and subtree | admins, auditors |
//! | POST | `/units` | `{code, name, kind, place}` → the unit | administrators; county and township admins at a place of their subtree |
//! | POST | `/units/{code}/move` | `{place}` → the unit (its users follow) | as above, for both places |
//! | POST | `/units/import` | CSV text (`text/csv`) → `{added, updated, unchanged}` | as above, for every row |
//! | GET | `/audit/verify` | → `{intact, rows, head}` or `{intact, broken_seq, reason}` | administrators, auditors |
//!
//! The CSV formats are in [`crate::hierarchy`]. A change that would put more
//! records on some user's device than the budget (`device_record_budget`) is
//! refused with `over_budget`; an unknown place or unit with `unknown_place`.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use gridsync_proto::{ActorId, EnrollmentTicket, ErrorCode, Role};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::AppState;
use crate::audit::{self, Event, Verdict};
use crate::db::{Store, WriteError};
use crate::error::ApiError;
use crate::identity::{self, NewUser, User};
use crate::{directory, operator, passwords, staff};

mod places;

/// Default and longest enrollment code lifetimes.
const DEFAULT_TTL_S: u64 = 24 * 60 * 60;

/// Registers the admin routes under `/v1/admin`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/v1/admin")
            .route("/login", web::post().to(login))
            .route("/logout", web::post().to(logout))
            .route("/users", web::get().to(list_users))
            .route("/users", web::post().to(add_user))
            .route("/users/{name}/assign", web::post().to(assign))
            .route("/users/{name}/deactivate", web::post().to(deactivate))
            .route("/enrollments", web::post().to(issue))
            .route("/devices", web::get().to(list_devices))
            .route("/devices/{id}/revoke", web::post().to(revoke))
            .route("/audit/verify", web::get().to(verify))
            .configure(places::configure),
    );
}

/// A staff member authenticated by a bearer token.
#[derive(Debug, Clone)]
pub struct Staff {
    /// Who.
    pub user: User,
    token: String,
}

impl Staff {
    fn actor(&self) -> String {
        format!("user:{}", self.user.name)
    }
}

impl FromRequest for Staff {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req.app_data::<web::Data<AppState>>().cloned().ok_or_else(ApiError::internal)?;
            let token = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::to_owned)
                .ok_or_else(|| {
                    ApiError::new(ErrorCode::Unauthenticated, "log in and send the token as a bearer")
                })?;
            let t = token.clone();
            let user =
                state.store.read(move |conn| staff::session_user(conn, crate::db::now_ms(), &t)).await?;
            Ok(Staff { user, token })
        })
    }
}

fn json_body<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|_| ApiError::new(ErrorCode::Malformed, "the request body is not the expected JSON"))
}

fn forbidden() -> WriteError {
    WriteError::Refused(ApiError::new(ErrorCode::Forbidden, "your role or place does not allow this"))
}

fn invalid(message: &str) -> WriteError {
    WriteError::Refused(ApiError::new(ErrorCode::InvalidRequest, message))
}

/// The committed directory, for requests served by a reader.
fn read_directory(
    store: &Store,
    conn: &rusqlite::Connection,
) -> Result<std::sync::Arc<gridsync_proto::Directory>, WriteError> {
    Ok(store.directory().get(conn)?.1)
}

/// Audits a refusal (the refused transaction itself left nothing).
async fn audited<T>(
    state: &AppState,
    actor: String,
    action: &'static str,
    target: String,
    result: Result<T, ApiError>,
) -> Result<T, ApiError> {
    if let Err(refusal) = &result
        && let Err(e) = state.store.audit(Event::new(actor, action, target, refusal.code.as_str())).await
    {
        tracing::error!(error = %e, "cannot audit a refused admin request");
    }
    result
}

#[derive(Deserialize)]
struct LoginRequest {
    user: String,
    password: String,
}

async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    state.throttle.login(&req)?;
    let LoginRequest { user, password } = json_body(&body)?;
    let name = user.clone();
    let result = state.store.write(move |conn, now| staff::login(conn, now, &user, &password)).await;
    let session = audited(&state, "anonymous".into(), "login", name, result).await?;
    Ok(HttpResponse::Ok().json(json!({
        "token": session.token,
        "expires_ms": session.expires_ms,
        "user": session.user.name,
        "role": session.user.role,
        "scope": session.user.scope,
    })))
}

async fn logout(state: web::Data<AppState>, who: Staff) -> Result<HttpResponse, ApiError> {
    let Staff { user, token } = who;
    state.store.write(move |conn, now| staff::logout(conn, now, &user.name, &token)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Serialize)]
struct UserView {
    name: String,
    role: Role,
    scope: String,
    unit: Option<String>,
    active: bool,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        Self { name: u.name, role: u.role, scope: u.scope, unit: u.unit, active: u.active }
    }
}

async fn list_users(state: web::Data<AppState>, who: Staff) -> Result<HttpResponse, ApiError> {
    if !staff::may_read(&who.user) {
        return audited(&state, who.actor(), "user.list", String::new(), Err(forbidden().into_api())).await;
    }
    let store = state.store.clone();
    let visible: Vec<UserView> = state
        .store
        .read(move |conn| {
            let dir = read_directory(&store, conn)?;
            Ok(identity::list_users(conn)?
                .into_iter()
                .filter(|u| staff::within(&dir, &u.scope, &who.user.scope))
                .map(UserView::from)
                .collect())
        })
        .await?;
    Ok(HttpResponse::Ok().json(visible))
}

#[derive(Deserialize)]
struct AddUser {
    name: String,
    role: Role,
    scope: Option<String>,
    unit: Option<String>,
    password: Option<String>,
}

const NO_ASSIGNMENT: &str =
    "give a scope (a place code, or \"\" for the whole deployment), or a unit for a department user";

async fn add_user(
    state: web::Data<AppState>,
    who: Staff,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let AddUser { name, role, scope, unit, password } = json_body(&body)?;
    let hash = password
        .map(|p| passwords::hash(&p))
        .transpose()
        .map_err(|e| ApiError::new(ErrorCode::InvalidRequest, e.to_string()))?;
    let (actor, target) = (who.actor(), name.clone());
    let result = state
        .store
        .write(move |conn, now| {
            if !staff::may_administer(&who.user) {
                return Err(forbidden());
            }
            if scope.is_none() && unit.is_none() {
                return Err(invalid(NO_ASSIGNMENT));
            }
            let dir = directory::load(conn)?;
            let unit = unit.as_deref();
            let scope = identity::resolve_assignment(conn, role, scope.as_deref().unwrap_or(""), unit)?;
            if !staff::may_manage(&who.user, role, &scope, &dir) {
                return Err(forbidden());
            }
            let new = NewUser { name: &name, role, scope: &scope, unit, password_hash: hash.as_deref() };
            identity::create_user(conn, now, &who.actor(), &new)
        })
        .await;
    let user = audited(&state, actor, "user.add", target, result).await?;
    Ok(HttpResponse::Created().json(UserView::from(user)))
}

/// Loads a user the caller may manage, or refuses.
fn managed_user(
    conn: &rusqlite::Connection,
    who: &User,
    name: &str,
    dir: &gridsync_proto::Directory,
) -> Result<User, WriteError> {
    let target = identity::get_user(conn, name)?.ok_or_else(|| invalid("no such user"))?;
    if staff::may_manage(who, target.role, &target.scope, dir) { Ok(target) } else { Err(forbidden()) }
}

#[derive(Deserialize)]
struct Assign {
    scope: Option<String>,
    unit: Option<String>,
}

async fn assign(
    state: web::Data<AppState>,
    who: Staff,
    name: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    let Assign { scope, unit } = json_body(&body)?;
    let (actor, target, settings) = (who.actor(), name.clone(), state.store.scope());
    let result = state
        .store
        .write(move |conn, now| {
            if scope.is_none() && unit.is_none() {
                return Err(invalid(NO_ASSIGNMENT));
            }
            let dir = directory::load(conn)?;
            let user = managed_user(conn, &who.user, &name, &dir)?;
            let unit = unit.as_deref();
            let scope = identity::resolve_assignment(conn, user.role, scope.as_deref().unwrap_or(""), unit)?;
            if !staff::may_manage(&who.user, user.role, &scope, &dir) {
                return Err(forbidden());
            }
            identity::assign_user(conn, now, &who.actor(), &name, &scope, unit, &settings)
        })
        .await;
    let user = audited(&state, actor, "user.assign", target, result).await?;
    Ok(HttpResponse::Ok().json(UserView::from(user)))
}

async fn deactivate(
    state: web::Data<AppState>,
    who: Staff,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    let (actor, target) = (who.actor(), name.clone());
    let result = state
        .store
        .write(move |conn, now| {
            managed_user(conn, &who.user, &name, &directory::load(conn)?)?;
            identity::deactivate_user(conn, now, &who.actor(), &name)
        })
        .await;
    let revoked = audited(&state, actor, "user.deactivate", target, result).await?;
    Ok(HttpResponse::Ok().json(json!({ "devices_revoked": revoked })))
}

#[derive(Deserialize)]
struct Issue {
    user: String,
    ttl_seconds: Option<u64>,
    server_url: Option<String>,
}

async fn issue(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Staff,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let Issue { user, ttl_seconds, server_url } = json_body(&body)?;
    let ttl_ms = ttl_seconds.unwrap_or(DEFAULT_TTL_S).saturating_mul(1000);
    if ttl_ms == 0 || ttl_ms > operator::MAX_TTL_MS {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            "an enrollment code lives between 1 second and 7 days",
        ));
    }
    let server = server_url.unwrap_or_else(|| {
        let info = req.connection_info();
        format!("{}://{}", info.scheme(), info.host())
    });
    let (actor, target) = (who.actor(), user.clone());
    let result = state
        .store
        .write(move |conn, now| {
            managed_user(conn, &who.user, &user, &directory::load(conn)?)?;
            Ok((identity::issue_enrollment(conn, now, &who.actor(), &user, ttl_ms)?, now + ttl_ms))
        })
        .await;
    let (code, expires_ms) = audited(&state, actor, "enroll.issue", target, result).await?;
    let ticket = EnrollmentTicket { server, code: code.clone() };
    let qr_svg = operator::qr_svg(&ticket).map_err(|_| ApiError::internal())?;
    Ok(HttpResponse::Created()
        .json(json!({ "code": code, "expires_ms": expires_ms, "ticket": ticket, "qr_svg": qr_svg })))
}

async fn list_devices(state: web::Data<AppState>, who: Staff) -> Result<HttpResponse, ApiError> {
    if !staff::may_read(&who.user) {
        return audited(&state, who.actor(), "device.list", String::new(), Err(forbidden().into_api())).await;
    }
    let scope = who.user.scope.clone();
    let store = state.store.clone();
    let devices = state
        .store
        .read(move |conn| {
            let dir = read_directory(&store, conn)?;
            let users = identity::list_users(conn)?;
            let visible = |name: &Option<String>| {
                users.iter().any(|u| Some(&u.name) == name.as_ref() && staff::within(&dir, &u.scope, &scope))
                    || (scope.is_empty() && name.is_none())
            };
            Ok(identity::list_devices(conn)?.into_iter().filter(|d| visible(&d.user)).collect::<Vec<_>>())
        })
        .await?;
    let views: Vec<_> = devices
        .into_iter()
        .map(|d| {
            json!({
                "id": d.id.to_string(),
                "user": d.user,
                "enrolled_ms": d.enrolled_ms,
                "revoked_ms": d.revoked_ms,
                "wipe": d.wipe,
                "last_push_ms": d.last_push_ms,
                "changes": d.changes,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(views))
}

#[derive(Deserialize)]
struct Revoke {
    #[serde(default)]
    wipe: bool,
}

async fn revoke(
    state: web::Data<AppState>,
    who: Staff,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let id: ActorId = id.parse().map_err(|_| ApiError::new(ErrorCode::InvalidRequest, "not a device id"))?;
    let Revoke { wipe } = if body.is_empty() { Revoke { wipe: false } } else { json_body(&body)? };
    let actor = who.actor();
    let result = state
        .store
        .write(move |conn, now| {
            let owner = identity::device_user(conn, id)?.ok_or_else(|| {
                WriteError::Refused(ApiError::new(ErrorCode::InvalidRequest, "no such device"))
            })?;
            managed_user(conn, &who.user, &owner, &directory::load(conn)?)?;
            identity::revoke_device(conn, now, &who.actor(), id, wipe)
        })
        .await;
    audited(&state, actor, "device.revoke", id.to_string(), result).await?;
    Ok(HttpResponse::Ok().json(json!({ "revoked": id.to_string(), "wipe": wipe })))
}

async fn verify(state: web::Data<AppState>, who: Staff) -> Result<HttpResponse, ApiError> {
    if !staff::may_audit(&who.user) {
        return audited(&state, who.actor(), "audit.verify", String::new(), Err(forbidden().into_api()))
            .await;
    }
    let verdict = state.store.read(|conn| Ok(audit::verify(conn)?)).await?;
    Ok(HttpResponse::Ok().json(match verdict {
        Verdict::Intact { rows, head } => json!({ "intact": true, "rows": rows, "head": head }),
        Verdict::Broken { seq, reason } => json!({ "intact": false, "broken_seq": seq, "reason": reason }),
    }))
}
