//! Logging in and out. The login form's failures are limited like the admin
//! API's ([`AppState::login`]: per client address and per user name) and it
//! is protected by a signed double-submit token ([`crate::console::csrf`]);
//! a refused login shows the form again. A user with a one-time password is
//! sent to the account page to choose their own. The user name typed is
//! never logged.

use actix_web::cookie::Cookie;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::html;
use serde::Deserialize;

use super::super::csrf::{self, LOGIN_COOKIE, Purpose};
use super::super::failure::{Failure, OrPage};
use super::super::i18n::Lang;
use super::super::layout;
use super::super::session::{self, Posted, Restricted};
use super::ACCOUNT_REQUIRED;
use super::see_other;
use crate::web::{ApiError, AppState};

/// How long a login form stays usable (an hour).
const LOGIN_FORM_S: i64 = 60 * 60;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/login", web::get().to(form))
        .route("/login", web::post().to(login))
        .route("/logout", web::post().to(logout));
}

#[derive(Deserialize)]
struct LoginQuery {
    bye: Option<String>,
}

async fn form(req: HttpRequest, query: web::Query<LoginQuery>) -> Result<HttpResponse, Failure> {
    let lang = Lang::of(&req);
    let notice = query.bye.is_some().then_some(lang.texts().logged_out);
    answer(&req, lang, None, notice, actix_web::http::StatusCode::OK)
}

/// The login form with a fresh secret, an error or a notice above it.
fn answer(
    req: &HttpRequest,
    lang: Lang,
    error: Option<String>,
    notice: Option<&str>,
    status: actix_web::http::StatusCode,
) -> Result<HttpResponse, Failure> {
    let t = lang.texts();
    let secret = csrf::fresh_secret().ok_or_else(|| Failure::of(ApiError::internal(), lang))?;
    let token = csrf::token(&secret, Purpose::Login);
    let body = html! {
        div.card.login {
            h1 { (t.login_title) }
            (layout::notice(notice))
            @if let Some(error) = &error { p.error role="alert" { (error) } }
            form method="post" action="/console/login" {
                input type="hidden" name=(csrf::FIELD) value=(token);
                label { (t.user_name) input name="user" autocomplete="username" required autofocus; }
                label { (t.password) input name="password" type="password" autocomplete="current-password" required; }
                p { button type="submit" { (t.login_button) } }
            }
        }
    };
    let cookie = session::cookie(LOGIN_COOKIE, secret, LOGIN_FORM_S, session::secure(req));
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .cookie(cookie)
        .body(layout::bare(lang, t.login_title, body).into_string()))
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    password: String,
}

async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, Failure> {
    let lang = Lang::of(&req);
    let secret = req.cookie(LOGIN_COOKIE).map(|c| c.value().to_owned()).unwrap_or_default();
    if !csrf::valid(&secret, Purpose::Login, &form.csrf) {
        return Err(Failure::csrf(lang));
    }
    match state.login(&req, &form.user, &form.password).await {
        Ok(session) => {
            let mut done = Cookie::new(LOGIN_COOKIE, "");
            done.set_path(session::COOKIE_PATH);
            done.make_removal();
            // A one-time password: nothing but the account page until changed.
            let next = if session.user.must_change_password { ACCOUNT_REQUIRED } else { "/console/today" };
            let mut res = see_other(next);
            res.add_cookie(&session::session_cookie(session.token, session::secure(&req)))
                .map_err(|_| Failure::of(ApiError::internal(), lang))?;
            res.add_cookie(&done).map_err(|_| Failure::of(ApiError::internal(), lang))?;
            Ok(res)
        }
        Err(e) => {
            let status = actix_web::ResponseError::status_code(&e);
            let message = match e.code {
                gridsync_proto::ErrorCode::BadCredentials => lang.texts().err_bad_credentials.to_owned(),
                gridsync_proto::ErrorCode::UserInactive => lang.texts().err_inactive.to_owned(),
                _ => return Err(Failure::of(e, lang)),
            };
            answer(&req, lang, Some(message), None, status)
        }
    }
}

#[derive(Deserialize)]
struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    Posted { who: Restricted(admin), form }: Posted<Restricted, LogoutForm>,
) -> Result<HttpResponse, Failure> {
    admin.check_csrf(&state, &req, &form.csrf).await?;
    state.service.logout(&admin.user.name, admin.token()).await.or_page(admin.lang)?;
    let mut res = see_other("/console/login?bye=1");
    res.add_cookie(&session::removal()).map_err(|_| Failure::of(ApiError::internal(), admin.lang))?;
    Ok(res)
}
