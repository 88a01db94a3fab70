//! The web console for township and county staff, under `/console/`:
//! server-rendered HTML (maud), in 简体中文 by default and English on
//! request, with every asset compiled into the binary. See
//! `docs/adr/0017-web-console.md`.
//!
//! Every page is one call (or two) into the service layer as
//! [`gridsync_server_core::service::Caller::Staff`]: what a page shows and
//! what its forms may change is decided there, within the user's subtree,
//! exactly as for the admin API. Pages only decode, call and render.
//!
//! | method | path | what | who |
//! |---|---|---|---|
//! | GET | `/console/` | → `/console/today` | |
//! | GET, POST | `/console/login` | the login form; logs in (rate-limited like the admin API) | anyone |
//! | POST | `/console/logout` | ends the session | the session |
//! | GET, POST | `/console/account` | changes one's own password (the current one required) | the session |
//! | GET | `/console/today` | `?place=&date=`: daily reports by village and grid | admins, auditors |
//! | GET | `/console/ledgers` | `?place=&month=&page=`: the month's table, register and 12-month chart | admins, auditors |
//! | GET | `/console/ledgers/export` | `?place=&month=&format=xlsx\|csv&sheet=`: the file, as `/v1/admin/ledgers/month` | admins, auditors |
//! | GET | `/console/people` | users and devices | admins, auditors |
//! | POST | `/console/people/users` | adds a user | admins |
//! | POST | `/console/people/users/deactivate` | deactivates a user | admins |
//! | POST | `/console/people/enroll` | issues an enrollment code, shown with its QR code | admins |
//! | POST | `/console/people/devices/revoke` | revokes a device (optionally wipes it) | admins |
//! | GET | `/console/audit` | `?actor=&action=&refusals=&before=`: the audit log and the chain's state | administrators, auditors |
//!
//! Every form carries a CSRF token ([`csrf`]); cookies are
//! `HttpOnly; SameSite=Strict; Path=/console` ([`session`]); every answer
//! carries the security headers of [`security_headers`].

mod assets;
mod chart;
mod csrf;
mod failure;
mod i18n;
mod layout;
mod pages;
mod session;
mod table;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{DefaultHeaders, Next};
use actix_web::{HttpResponse, web};

/// The content security policy of every console answer: nothing but this
/// server's own files, no script at all, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'none'; style-src 'self'; \
     img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// How long the language cookie lasts (a year).
const LANG_COOKIE_S: i64 = 365 * 24 * 60 * 60;

/// Registers `/` (a redirect to the console) and the console's routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/").route(web::get().to(to_console))).service(
        web::scope("/console")
            .wrap(actix_web::middleware::from_fn(remember_lang))
            .wrap(security_headers())
            .app_data(pages::form_config())
            .app_data(pages::query_config())
            .route("", web::get().to(to_console))
            .route("/", web::get().to(to_today))
            .configure(assets::configure)
            .configure(pages::configure)
            .default_service(web::to(pages::not_found)),
    );
}

/// The security headers of every console answer: the content security
/// policy, no framing, no referrer beyond this origin, no MIME sniffing,
/// and no caching of pages (assets set their own `Cache-Control`).
pub fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::REFERRER_POLICY, "same-origin"))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::CACHE_CONTROL, "no-store"))
        .add(("Permissions-Policy", "camera=(), microphone=(), geolocation=()"))
}

async fn to_console() -> HttpResponse {
    HttpResponse::Found().insert_header((header::LOCATION, "/console/")).finish()
}

async fn to_today() -> HttpResponse {
    HttpResponse::Found().insert_header((header::LOCATION, "/console/today")).finish()
}

/// Remembers `?lang=zh|en` in the language cookie.
async fn remember_lang(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let chosen = i18n::query_lang(req.query_string());
    let secure = req.app_config().secure();
    let mut res = next.call(req).await?;
    if let Some(lang) = chosen {
        let cookie = session::cookie(i18n::LANG_COOKIE, lang.short().to_owned(), LANG_COOKIE_S, secure);
        if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
            res.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    Ok(res)
}
