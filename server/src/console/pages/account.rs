//! 账户: a staff member changes their own password, giving the current one
//! ([`gridsync_server_core::Service::change_own_password`]). The change
//! ends their other sessions (other browsers, admin API tokens); this one
//! stays signed in. A staff member whose password is one-time (set for
//! them) is sent here at login, and from every other page, until they have
//! changed it: the page then says so.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use gridsync_proto::ErrorCode;
use maud::html;
use serde::Deserialize;

use super::super::failure::{Failure, OrPage};
use super::super::layout::{self, Section};
use super::super::session::{Admin, Posted, Restricted};
use super::{respond, see_other};
use crate::web::{ApiError, AppState};

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/account", web::get().to(show)).route("/account", web::post().to(change));
}

#[derive(Deserialize)]
struct AccountQuery {
    done: Option<String>,
}

async fn show(Restricted(admin): Restricted, query: web::Query<AccountQuery>) -> HttpResponse {
    let done = query.done.is_some().then_some(admin.lang.texts().password_changed);
    respond(page(&admin, None, done))
}

fn page(admin: &Admin, error: Option<&str>, done: Option<&str>) -> maud::Markup {
    let t = admin.lang.texts();
    let required = admin.user.must_change_password.then_some(t.password_required);
    let body = html! {
        h1 { (t.account_title) }
        (layout::notice(done.or(required)))
        @if let Some(error) = error { p.error role="alert" { (error) } }
        div.card {
            form method="post" action="/console/account" {
                (layout::csrf_field(admin))
                label { (t.current_password) input name="current" type="password" autocomplete="current-password" required; }
                label { (t.new_password) input name="new" type="password" autocomplete="new-password" required minlength="12"; }
                label { (t.repeat_password) input name="repeat" type="password" autocomplete="new-password" required minlength="12"; }
                p.muted { (t.password_rules) }
                p { button type="submit" { (t.change_password) } }
            }
        }
    };
    layout::page(admin, Section::Account, t.account_title, body)
}

#[derive(Deserialize)]
struct ChangeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    repeat: String,
}

async fn change(
    req: HttpRequest,
    state: web::Data<AppState>,
    Posted { who: Restricted(admin), form }: Posted<Restricted, ChangeForm>,
) -> Result<HttpResponse, Failure> {
    admin.check_csrf(&state, &req, &form.csrf).await?;
    let t = admin.lang.texts();
    let again = |status: StatusCode, error: String| {
        HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(page(&admin, Some(&error), None).into_string())
    };
    if form.new != form.repeat {
        return Ok(again(StatusCode::BAD_REQUEST, t.passwords_differ.to_owned()));
    }
    match state
        .service
        .change_own_password(&admin.caller(), &form.current, &form.new, Some(admin.token()))
        .await
    {
        Ok(_) => Ok(see_other("/console/account?done=password")),
        Err(e) => {
            let e = ApiError::from(e);
            match e.code {
                ErrorCode::BadCredentials => {
                    Ok(again(StatusCode::FORBIDDEN, t.err_bad_credentials.to_owned()))
                }
                ErrorCode::InvalidField | ErrorCode::InvalidRequest => {
                    Ok(again(StatusCode::BAD_REQUEST, format!("{} ({})", t.password_rules, e.message)))
                }
                _ => Err(e).or_page(admin.lang),
            }
        }
    }
}
