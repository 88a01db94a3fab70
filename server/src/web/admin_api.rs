//! The admin HTTP API, under `/v1/admin`: JSON in and out, a bearer token
//! from `POST /v1/admin/login` on every other call. Handlers only decode and
//! answer: each calls one operation of the service layer
//! ([`gridsync_server_core::Service`]) as [`Caller::Staff`], which decides
//! what each role may do ([`gridsync_server_core::policy`]), audits every
//! change in the same transaction as the change, and audits every refusal.
//!
//! | method | path | body | who |
//! |---|---|---|---|
//! | POST | `/login` | `{user, password}` → `{token, expires_ms, user, role, scope, must_change_password}` | anyone (failures rate-limited) |
//! | POST | `/logout` | | the session (restricted too) |
//! | POST | `/password` | `{current_password, new_password}` → `{user, sessions_ended}` | the session (restricted too): changes one's own password, ends one's other sessions |
//! | POST | `/users/{name}/password` | `{password?}` → `{user, one_time, sessions_ended, password?}` (`password`: the generated one, shown once, when none was given) | admins, for users they manage, never themselves |
//! | GET | `/users` | → users within the caller's subtree | admins, auditors |
//! | POST | `/users` | `{name, role, scope?, unit?, password?}` (a department user gives its `unit`; others a `scope`) | admins, for roles below theirs, within their subtree |
//! | POST | `/users/{name}/assign` | `{scope?, unit?}` → the user | as above, at the old and the new place |
//! | POST | `/users/{name}/deactivate` | → `{devices_revoked}` | as above |
//! | POST | `/enrollments` | `{user, ttl_seconds?, server_url?}` (`server_url`: absolute `http(s)`, ≤ 512 bytes; default the request's own) → `{code, expires_ms, ticket, qr_svg}`; nothing is stored when refused | as above |
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
//! A login with a one-time password (set by the operator or an
//! administrator) answers `must_change_password: true` and a session
//! restricted to `/password` and `/logout`: every other route refuses it
//! with 403 `password_change_required` until the password is changed.
//!
//! Bodies are read only after the session is checked ([`super::authed`]).
//! Every refusal is the JSON error body with a stable code; an input at
//! fault is named in its `field` (`missing_field`, `invalid_field`,
//! `unknown_field` for a JSON member that does not fit, see [`super::json`];
//! the service's own refusals name theirs). An unknown user or device is
//! `not_found`.
//!
//! The CSV formats are in [`gridsync_server_core::service::places`]. A change that would put more
//! records on some user's device than the budget (`device_record_budget`) is
//! refused with `over_budget`; an unknown place or unit with `unknown_place`.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use gridsync_proto::{ActorId, ErrorCode, Role};
use gridsync_server_core::audit::Verdict;
use gridsync_server_core::passwords;
use gridsync_server_core::service::Caller;
use gridsync_server_core::service::people::AddUser;
use gridsync_server_core::storage::{Device, User};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::AppState;
use super::authed::{Anyone, Authed, BodyLimit};
use super::error::ApiError;
use super::json::json_body;
use super::openapi;

pub mod places;

/// Largest login body: a name and a password. It is read before anyone
/// is known, so it is small.
const MAX_LOGIN_BYTES: usize = 4 * 1024;

/// Default enrollment code lifetime.
const DEFAULT_TTL_S: u64 = 24 * 60 * 60;

/// Registers the admin routes under `/v1/admin`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/v1/admin")
            .service(
                web::resource("/login").app_data(BodyLimit(MAX_LOGIN_BYTES)).route(web::post().to(login)),
            )
            .route("/logout", web::post().to(logout))
            .route("/password", web::post().to(change_own_password))
            .route("/users/{name}/password", web::post().to(set_password))
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
    /// The staff member as the service's caller.
    pub fn caller(&self) -> Caller {
        Caller::Staff(self.user.clone())
    }
}

impl Staff {
    /// The staff member of `req`'s bearer token; with `restricted`, also
    /// one whose password is one-time.
    pub(super) async fn of(req: HttpRequest, restricted: bool) -> Result<Staff, ApiError> {
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
        let user = if restricted {
            state.service.restricted_session_user(&token).await?
        } else {
            state.service.session_user(&token).await?
        };
        Ok(Staff { user, token })
    }
}

impl FromRequest for Staff {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        Box::pin(Staff::of(req.clone(), false))
    }
}

/// A staff member whose session may be restricted to changing a one-time
/// password: only `/password` and `/logout` take one.
#[derive(Debug, Clone)]
pub struct RestrictedStaff(pub Staff);

impl FromRequest for RestrictedStaff {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Staff::of(req, true).await.map(RestrictedStaff) })
    }
}

#[derive(Deserialize, ToSchema)]
struct LoginRequest {
    /// The user's name.
    user: String,
    /// Their password.
    password: String,
}

#[utoipa::path(
    post,
    path = "/v1/admin/login",
    tag = "admin",
    summary = "Log in",
    description = "Opens a staff session. Rate-limited per client address; wrong passwords are audited.",
    request_body(content = LoginRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "A session.", body = openapi::Session),
        (status = 400, response = openapi::Refused), (status = 401, response = openapi::Refused),
        (status = 403, response = openapi::Refused), (status = 429, response = openapi::Refused),
    )
)]
async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authed { body, .. }: Authed<Anyone>,
) -> Result<HttpResponse, ApiError> {
    let LoginRequest { user, password } = json_body(&body)?;
    let session = state.login(&req, &user, &password).await?;
    Ok(HttpResponse::Ok().json(json!({
        "token": session.token,
        "expires_ms": session.expires_ms,
        "user": session.user.name,
        "role": session.user.role,
        "scope": session.user.scope,
        "must_change_password": session.user.must_change_password,
    })))
}

#[utoipa::path(
    post,
    path = "/v1/admin/logout",
    tag = "admin",
    summary = "Log out",
    description = "Ends the session of the bearer token.",
    security(("staff_session" = [])),
    responses(
        (status = 204, description = "The session ended."),
        (status = 401, response = openapi::Refused), (status = 403, response = openapi::Refused),
    )
)]
async fn logout(
    state: web::Data<AppState>,
    RestrictedStaff(who): RestrictedStaff,
) -> Result<HttpResponse, ApiError> {
    state.service.logout(&who.user.name, &who.token).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /v1/admin/password`: one's own password changed.
#[derive(Deserialize, ToSchema)]
struct ChangeOwnPassword {
    /// The password the caller logged in with.
    current_password: String,
    /// The new one (at least 12 characters).
    new_password: String,
}

/// Changes the caller's own password; the session it is made in stays,
/// no longer restricted.
#[utoipa::path(
    post,
    path = "/v1/admin/password",
    tag = "admin",
    summary = "Change one's own password",
    description = "Checks the current password, sets the new one and ends the caller's other sessions; \
                   the session it is made in stays, no longer restricted. Also taken by a session \
                   restricted to a first-login password change.",
    request_body(content = ChangeOwnPassword, content_type = "application/json"),
    security(("staff_session" = [])),
    responses(
        (status = 200, description = "Changed.", body = openapi::PasswordChanged),
        (status = 400, response = openapi::Refused), (status = 401, response = openapi::Refused),
        (status = 403, response = openapi::Refused),
    )
)]
async fn change_own_password(
    state: web::Data<AppState>,
    Authed { who: RestrictedStaff(who), body }: Authed<RestrictedStaff>,
) -> Result<HttpResponse, ApiError> {
    let ChangeOwnPassword { current_password, new_password } = json_body(&body)?;
    let ended = state
        .service
        .change_own_password(&who.caller(), &current_password, &new_password, Some(&who.token))
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "user": who.user.name, "sessions_ended": ended })))
}

/// `POST /v1/admin/users/{name}/password`: another user's password set.
#[derive(Deserialize, ToSchema)]
struct SetPassword {
    /// The one-time password; without it one is generated and answered once.
    password: Option<String>,
}

/// Sets another user's password, one-time: the one given, or a generated
/// one answered once.
#[utoipa::path(
    post,
    path = "/v1/admin/users/{name}/password",
    tag = "admin",
    summary = "Set another user's password",
    params(("name" = String, Path, description = "The user's name.")),
    description = "Sets a one-time password for a user the caller manages (never the caller): the user \
                   must change it at their next login. Ends all their sessions. Without a body or a \
                   `password`, one is generated and answered once.",
    request_body(content = Option<SetPassword>, content_type = "application/json"),
    security(("staff_session" = [])),
    responses(
        (status = 200, description = "Set.", body = openapi::PasswordSet),
        (status = 400, response = openapi::Refused), (status = 401, response = openapi::Refused),
        (status = 403, response = openapi::Refused), (status = 404, response = openapi::Refused),
    )
)]
async fn set_password(
    state: web::Data<AppState>,
    name: web::Path<String>,
    Authed { who, body }: Authed<Staff>,
) -> Result<HttpResponse, ApiError> {
    let SetPassword { password } =
        if body.is_empty() { SetPassword { password: None } } else { json_body(&body)? };
    let (password, generated) = match password {
        Some(p) => (p, false),
        None => (passwords::generate().map_err(|_| ApiError::internal())?, true),
    };
    let ended = state.service.set_password(&who.caller(), &name, &password).await?;
    let mut answer = json!({ "user": name.as_str(), "one_time": true, "sessions_ended": ended });
    if generated {
        answer["password"] = json!(password);
    }
    Ok(HttpResponse::Ok().json(answer))
}

/// A user as the API shows it.
#[derive(Serialize, ToSchema)]
struct UserView {
    /// The user's name.
    name: String,
    /// Their role.
    role: Role,
    /// Their place (`""`: the whole deployment).
    scope: String,
    /// A department user's unit.
    unit: Option<String>,
    /// Whether they may log in and sync (deactivated users may not).
    active: bool,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        Self { name: u.name, role: u.role, scope: u.scope, unit: u.unit, active: u.active }
    }
}

#[utoipa::path(
    get,
    path = "/v1/admin/users",
    tag = "admin",
    summary = "List users",
    description = "The users within the caller's subtree (administrators and auditors see all).",
    security(("staff_session" = [])),
    responses(
        (status = 200, description = "The users.", body = [UserView]),
        (status = 401, response = openapi::Refused), (status = 403, response = openapi::Refused),
    )
)]
async fn list_users(state: web::Data<AppState>, who: Staff) -> Result<HttpResponse, ApiError> {
    let users = state.service.list_users(&who.caller()).await?;
    Ok(HttpResponse::Ok().json(users.into_iter().map(UserView::from).collect::<Vec<_>>()))
}

#[derive(Deserialize, ToSchema)]
struct AddUserBody {
    /// The new user's name.
    name: String,
    /// Their role (below the caller's).
    role: Role,
    /// Their place (not for department users).
    scope: Option<String>,
    /// A department user's unit.
    unit: Option<String>,
    /// A password, for staff who log in.
    password: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/admin/users",
    tag = "admin",
    summary = "Add a user",
    description = "A department user gives its `unit`, others a `scope` (a place code). Admins add roles \
                   below theirs, within their subtree.",
    request_body(content = AddUserBody, content_type = "application/json"),
    security(("staff_session" = [])),
    responses(
        (status = 201, description = "The user added.", body = UserView),
        (status = 400, response = openapi::Refused), (status = 401, response = openapi::Refused),
        (status = 403, response = openapi::Refused), (status = 404, response = openapi::Refused),
        (status = 409, response = openapi::Refused),
    )
)]
async fn add_user(
    state: web::Data<AppState>,
    Authed { who, body }: Authed<Staff>,
) -> Result<HttpResponse, ApiError> {
    let AddUserBody { name, role, scope, unit, password } = json_body(&body)?;
    let user = state.service.add_user(&who.caller(), AddUser { name, role, scope, unit, password }).await?;
    Ok(HttpResponse::Created().json(UserView::from(user)))
}

#[derive(Deserialize, ToSchema)]
struct Assign {
    /// The new place.
    scope: Option<String>,
    /// The new unit (department users).
    unit: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/admin/users/{name}/assign",
    tag = "admin",
    summary = "Move a user",
    params(("name" = String, Path, description = "The user's name.")),
    description = "Assigns the user to another place (`scope`) or unit.",
    request_body(content = Assign, content_type = "application/json"),
    security(("staff_session" = [])),
    responses(
        (status = 200, description = "The user, assigned.", body = UserView),
        (status = 400, response = openapi::Refused), (status = 401, response = openapi::Refused),
        (status = 403, response = openapi::Refused), (status = 404, response = openapi::Refused),
        (status = 409, response = openapi::Refused),
    )
)]
async fn assign(
    state: web::Data<AppState>,
    name: web::Path<String>,
    Authed { who, body }: Authed<Staff>,
) -> Result<HttpResponse, ApiError> {
    let Assign { scope, unit } = json_body(&body)?;
    let user = state.service.assign_user(&who.caller(), &name, scope, unit).await?;
    Ok(HttpResponse::Ok().json(UserView::from(user)))
}

#[utoipa::path(
    post,
    path = "/v1/admin/users/{name}/deactivate",
    tag = "admin",
    summary = "Deactivate a user",
    params(("name" = String, Path, description = "The user's name.")),
    description = "Deactivates the user and revokes all their devices.",
    security(("staff_session" = [])),
    responses(
        (status = 200, description = "Deactivated.", body = openapi::Deactivated),
        (status = 400, response = openapi::Refused), (status = 401, response = openapi::Refused),
        (status = 403, response = openapi::Refused), (status = 404, response = openapi::Refused),
    )
)]
async fn deactivate(
    state: web::Data<AppState>,
    who: Staff,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let revoked = state.service.deactivate_user(&who.caller(), &name).await?;
    Ok(HttpResponse::Ok().json(json!({ "devices_revoked": revoked })))
}

#[derive(Deserialize, ToSchema)]
struct Issue {
    /// Whose device the code enrolls.
    user: String,
    /// How long the code lives (default a day).
    ttl_seconds: Option<u64>,
    /// The server URL the QR code names (default: the one this request reached).
    server_url: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/admin/enrollments",
    tag = "admin",
    summary = "Issue an enrollment code",
    description = "A one-time code (and its QR code) that enrolls one device for `user`; `ttl_seconds` \
                   defaults to a day, `server_url` to the URL this request reached.",
    request_body(content = Issue, content_type = "application/json"),
    security(("staff_session" = [])),
    responses(
        (status = 201, description = "The code.", body = openapi::IssuedEnrollment),
        (status = 400, response = openapi::Refused), (status = 401, response = openapi::Refused),
        (status = 403, response = openapi::Refused), (status = 404, response = openapi::Refused),
    )
)]
async fn issue(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authed { who, body }: Authed<Staff>,
) -> Result<HttpResponse, ApiError> {
    let Issue { user, ttl_seconds, server_url } = json_body(&body)?;
    let ttl_ms = ttl_seconds.unwrap_or(DEFAULT_TTL_S).saturating_mul(1000);
    let server = server_url.unwrap_or_else(|| {
        let info = req.connection_info();
        format!("{}://{}", info.scheme(), info.host())
    });
    let issued = state.service.issue_ticket(&who.caller(), &user, ttl_ms, &server).await?;
    let (ticket, qr_svg) = (issued.ticket, issued.qr_svg);
    Ok(HttpResponse::Created().json(
        json!({ "code": ticket.code, "expires_ms": issued.expires_ms, "ticket": ticket, "qr_svg": qr_svg }),
    ))
}

/// A device as the API shows it.
fn device_view(d: Device) -> serde_json::Value {
    json!({
        "id": d.id.to_string(),
        "user": d.user,
        "enrolled_ms": d.enrolled_ms,
        "revoked_ms": d.revoked_ms,
        "wipe": d.wipe,
        "last_push_ms": d.last_push_ms,
        "changes": d.changes,
    })
}

#[utoipa::path(
    get,
    path = "/v1/admin/devices",
    tag = "admin",
    summary = "List devices",
    description = "The devices of the users within the caller's subtree.",
    security(("staff_session" = [])),
    responses(
        (status = 200, description = "The devices.", body = [openapi::DeviceView]),
        (status = 401, response = openapi::Refused), (status = 403, response = openapi::Refused),
    )
)]
async fn list_devices(state: web::Data<AppState>, who: Staff) -> Result<HttpResponse, ApiError> {
    let devices = state.service.list_devices(&who.caller()).await?;
    Ok(HttpResponse::Ok().json(devices.into_iter().map(device_view).collect::<Vec<_>>()))
}

#[derive(Deserialize, ToSchema)]
struct Revoke {
    /// Also order the device to erase its store (default false).
    #[serde(default)]
    wipe: bool,
}

#[utoipa::path(
    post,
    path = "/v1/admin/devices/{id}/revoke",
    tag = "admin",
    summary = "Revoke a device",
    params(("id" = String, Path, description = "The device's id (a UUID).")),
    description = "Revokes the device; with `wipe` it is also ordered to erase its store at its next \
                   sync. The body may be empty.",
    request_body(content = Option<Revoke>, content_type = "application/json"),
    security(("staff_session" = [])),
    responses(
        (status = 200, description = "Revoked.", body = openapi::RevokedDevice),
        (status = 400, response = openapi::Refused), (status = 401, response = openapi::Refused),
        (status = 403, response = openapi::Refused), (status = 404, response = openapi::Refused),
    )
)]
async fn revoke(
    state: web::Data<AppState>,
    id: web::Path<String>,
    Authed { who, body }: Authed<Staff>,
) -> Result<HttpResponse, ApiError> {
    let id: ActorId =
        id.parse().map_err(|_| ApiError::new(ErrorCode::NotFound, "no such device: not a device id"))?;
    let Revoke { wipe } = if body.is_empty() { Revoke { wipe: false } } else { json_body(&body)? };
    state.service.revoke_device(&who.caller(), id, wipe).await?;
    Ok(HttpResponse::Ok().json(json!({ "revoked": id.to_string(), "wipe": wipe })))
}

#[utoipa::path(
    get,
    path = "/v1/admin/audit/verify",
    tag = "admin",
    summary = "Verify the audit log",
    description = "Checks every link of the hash-chained audit log.",
    security(("staff_session" = [])),
    responses(
        (status = 200, description = "The verdict.", body = openapi::AuditVerdict),
        (status = 401, response = openapi::Refused), (status = 403, response = openapi::Refused),
    )
)]
async fn verify(state: web::Data<AppState>, who: Staff) -> Result<HttpResponse, ApiError> {
    let verdict = state.service.verify_audit(&who.caller()).await?;
    Ok(HttpResponse::Ok().json(match verdict {
        Verdict::Intact { rows, head } => json!({ "intact": true, "rows": rows, "head": head }),
        Verdict::Broken { seq, reason } => json!({ "intact": false, "broken_seq": seq, "reason": reason }),
    }))
}
