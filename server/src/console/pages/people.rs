//! 人员与设备: the users and devices of the staff member's subtree
//! ([`gridsync_server_core::Service::list_users`], `list_devices`), and the
//! forms that change them, each one service call: add a user, deactivate
//! one (their devices are revoked), issue an enrollment code shown with its
//! QR code (the admin API's rendering, inline SVG), revoke a device with or
//! without a wipe order. What each role may change is decided by the
//! service; auditors see the lists without the forms.

use actix_web::{HttpRequest, HttpResponse, web};
use gridsync_proto::{ActorId, EnrollmentTicket, ErrorCode, Role};
use gridsync_server_core::policy;
use gridsync_server_core::service::people::AddUser;
use gridsync_server_core::storage::{Device, User};
use maud::{Markup, PreEscaped, html};
use serde::Deserialize;

use super::super::failure::{Failure, OrPage};
use super::super::i18n::{Lang, Texts};
use super::super::layout::{self, Section};
use super::super::session::{Admin, Posted};
use super::{in_subtree, local_time, place_name, places, respond, see_other};
use crate::web::{ApiError, AppState};

/// How long an enrollment code from the console lives.
const ENROLL_TTL_MS: u64 = 24 * 60 * 60 * 1000;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/people", web::get().to(people))
        .route("/people/users", web::post().to(add_user))
        .route("/people/users/deactivate", web::post().to(deactivate))
        .route("/people/enroll", web::post().to(enroll))
        .route("/people/devices/revoke", web::post().to(revoke));
}

#[derive(Deserialize)]
struct PeopleQuery {
    done: Option<String>,
}

fn done_text(t: &Texts, key: Option<&str>) -> Option<&'static str> {
    match key? {
        "added" => Some(t.done_user_added),
        "deactivated" => Some(t.done_deactivated),
        "revoked" => Some(t.done_revoked),
        _ => None,
    }
}

async fn people(
    state: web::Data<AppState>,
    admin: Admin,
    query: web::Query<PeopleQuery>,
) -> Result<HttpResponse, Failure> {
    let (lang, caller) = (admin.lang, admin.caller());
    let t = lang.texts();
    let mut users = state.service.list_users(&caller).await.or_page(lang)?;
    users.sort_by(|a, b| (&a.scope, &a.name).cmp(&(&b.scope, &b.name)));
    let devices = state.service.list_devices(&caller).await.or_page(lang)?;
    let (places, _) = places(&state, &admin).await?;
    let manages = policy::may_administer(&admin.user);
    let body = html! {
        h1 { (t.people_title) }
        (layout::notice(done_text(t, query.done.as_deref())))
        h2 { (t.users_heading) }
        (users_table(&admin, &places, &users, manages))
        @if manages { (add_form(&admin, &places)) }
        h2 { (t.devices_heading) }
        (devices_table(&state, &admin, &devices, manages))
    };
    Ok(respond(layout::page(&admin, Section::People, t.people_title, body)))
}

fn users_table(admin: &Admin, places: &[gridsync_proto::Place], users: &[User], manages: bool) -> Markup {
    let (lang, t) = (admin.lang, admin.lang.texts());
    html! {
        div.scroll {
            table id="users" {
                thead { tr {
                    th { (t.user_name) } th { (t.role) } th { (t.scope) } th { (t.unit) } th { (t.state) }
                    @if manages { th { (t.actions) } }
                } }
                tbody {
                    @for u in users {
                        tr data-user=(u.name) {
                            td { (u.name) }
                            td { (lang.role(u.role)) }
                            td { (place_name(places, &u.scope)) " " span.muted { (u.scope) } }
                            td { (u.unit.as_deref().unwrap_or("")) }
                            td { @if u.active { (t.active) } @else { (t.inactive) } }
                            @if manages {
                                td {
                                    @if u.active && u.name != admin.user.name {
                                        form.row-action method="post" action="/console/people/enroll" {
                                            (layout::csrf_field(admin))
                                            input type="hidden" name="user" value=(u.name);
                                            button.secondary type="submit" { (t.enroll) }
                                        }
                                        " "
                                        form.row-action method="post" action="/console/people/users/deactivate" {
                                            (layout::csrf_field(admin))
                                            input type="hidden" name="name" value=(u.name);
                                            button.secondary type="submit" { (t.deactivate) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn add_form(admin: &Admin, places: &[gridsync_proto::Place]) -> Markup {
    let (lang, t) = (admin.lang, admin.lang.texts());
    let roles =
        Role::ALL.into_iter().filter(|r| *r != Role::Administrator || admin.user.role == Role::Administrator);
    html! {
        h2 { (t.add_user_heading) }
        div.card {
            form id="add-user" method="post" action="/console/people/users" {
                (layout::csrf_field(admin))
                label { (t.user_name) input name="name" required maxlength="64"; }
                label { (t.role) select name="role" {
                    @for r in roles { option value=(role_key(r)) selected[r == Role::Worker] { (lang.role(r)) } }
                } }
                label { (t.scope) select name="scope" {
                    @for p in in_subtree(places, admin) {
                        option value=(p.code) { (p.name) " (" (p.code) ")" }
                    }
                } }
                label { (t.unit) input name="unit"; }
                label { (t.password_optional) input name="password" type="password" autocomplete="new-password"; }
                p { button type="submit" { (t.add) } }
            }
        }
    }
}

/// The role's name on the wire (`township_admin`…).
fn role_key(role: Role) -> String {
    serde_json::to_value(role).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

fn devices_table(state: &AppState, admin: &Admin, devices: &[Device], manages: bool) -> Markup {
    let t = admin.lang.texts();
    html! {
        div.scroll {
            table id="devices" {
                thead { tr {
                    th { (t.device) } th { (t.user) } th { (t.enrolled) } th { (t.last_sync) }
                    th.num { (t.changes) } th { (t.state) }
                    @if manages { th { (t.actions) } }
                } }
                tbody {
                    @for d in devices {
                        tr data-device=(d.id.to_string()) data-user=(d.user.as_deref().unwrap_or("")) {
                            td { code { (d.id.to_string()) } }
                            td { (d.user.as_deref().unwrap_or("")) }
                            td { @if let Some(ms) = d.enrolled_ms { (local_time(state, ms)) } }
                            td { @match d.last_push_ms { Some(ms) => (local_time(state, ms)), None => (t.never) } }
                            td.num { (d.changes) }
                            td.device-state {
                                @if let Some(ms) = d.revoked_ms {
                                    (t.revoked) " " (local_time(state, ms))
                                    @if d.wipe { " · " (t.wipe_ordered) }
                                } @else { (t.active) }
                            }
                            @if manages {
                                td {
                                    @if d.revoked_ms.is_none() {
                                        form.row-action.revoke method="post" action="/console/people/devices/revoke" {
                                            (layout::csrf_field(admin))
                                            input type="hidden" name="id" value=(d.id.to_string());
                                            label.inline { input type="checkbox" name="wipe" value="1"; (t.wipe) }
                                            button.secondary type="submit" { (t.revoke) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[derive(Deserialize)]
struct AddUserForm {
    #[serde(default)]
    csrf: String,
    name: String,
    role: Role,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    unit: String,
    #[serde(default)]
    password: String,
}

fn some(text: String) -> Option<String> {
    let text = text.trim().to_owned();
    (!text.is_empty()).then_some(text)
}

async fn add_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    Posted { who: admin, form }: Posted<Admin, AddUserForm>,
) -> Result<HttpResponse, Failure> {
    admin.check_csrf(&state, &req, &form.csrf).await?;
    let AddUserForm { name, role, scope, unit, password, .. } = form;
    let unit = some(unit);
    // A department user belongs to a unit, not a place.
    let scope = if unit.is_some() { None } else { Some(scope) };
    let new = AddUser { name: name.trim().to_owned(), role, scope, unit, password: some(password) };
    state.service.add_user(&admin.caller(), new).await.or_page(admin.lang)?;
    Ok(see_other("/console/people?done=added"))
}

#[derive(Deserialize)]
struct NameForm {
    #[serde(default)]
    csrf: String,
    name: String,
}

async fn deactivate(
    req: HttpRequest,
    state: web::Data<AppState>,
    Posted { who: admin, form }: Posted<Admin, NameForm>,
) -> Result<HttpResponse, Failure> {
    admin.check_csrf(&state, &req, &form.csrf).await?;
    state.service.deactivate_user(&admin.caller(), &form.name).await.or_page(admin.lang)?;
    Ok(see_other("/console/people?done=deactivated"))
}

#[derive(Deserialize)]
struct EnrollForm {
    #[serde(default)]
    csrf: String,
    user: String,
}

async fn enroll(
    req: HttpRequest,
    state: web::Data<AppState>,
    Posted { who: admin, form }: Posted<Admin, EnrollForm>,
) -> Result<HttpResponse, Failure> {
    admin.check_csrf(&state, &req, &form.csrf).await?;
    let lang = admin.lang;
    let server = {
        let info = req.connection_info();
        format!("{}://{}", info.scheme(), info.host())
    };
    let issued = state
        .service
        .issue_ticket(&admin.caller(), &form.user, ENROLL_TTL_MS, &server)
        .await
        .or_page(lang)?;
    Ok(respond(enrollment_page(
        &state,
        &admin,
        &form.user,
        &issued.ticket,
        issued.expires_ms,
        &issued.qr_svg,
    )))
}

fn enrollment_page(
    state: &AppState,
    admin: &Admin,
    user: &str,
    ticket: &EnrollmentTicket,
    expires_ms: u64,
    svg: &str,
) -> Markup {
    let t = admin.lang.texts();
    // The SVG is the QR library's own output (no user text in it); only
    // the element itself is kept, without the XML declaration.
    let inline = svg.find("<svg").map_or("", |at| &svg[at..]);
    let body = html! {
        h1 { (t.enroll_heading) " · " (user) }
        div.card {
            div.qr id="enroll-qr" { (PreEscaped(inline)) }
            p { (t.enroll_code) ": " code.enroll-code id="enroll-code" { (ticket.code) } }
            p { (t.expires) ": " (local_time(state, expires_ms)) }
            p.muted { (ticket.server) }
            p.muted { (t.scan_hint) }
            p { a href="/console/people" { (t.back) } }
        }
    };
    layout::page(admin, Section::People, t.enroll_heading, body)
}

#[derive(Deserialize)]
struct RevokeForm {
    #[serde(default)]
    csrf: String,
    id: String,
    #[serde(default)]
    wipe: Option<String>,
}

async fn revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    Posted { who: admin, form }: Posted<Admin, RevokeForm>,
) -> Result<HttpResponse, Failure> {
    admin.check_csrf(&state, &req, &form.csrf).await?;
    let lang: Lang = admin.lang;
    let id: ActorId = form
        .id
        .parse()
        .map_err(|_| Failure::of(ApiError::new(ErrorCode::InvalidRequest, "not a device id"), lang))?;
    let wipe = form.wipe.as_deref() == Some("1");
    state.service.revoke_device(&admin.caller(), id, wipe).await.or_page(lang)?;
    Ok(see_other("/console/people?done=revoked"))
}
