//! The console's pages, one module each, and what they share: the form
//! and query settings, place choices, and URL encoding.

mod account;
mod attachments;
mod audit;
mod disputes;
mod ledgers;
mod login;
mod people;
mod today;

use actix_web::{HttpRequest, HttpResponse, web};
use gridsync_proto::{Level, Place};
use maud::{Markup, html};

use super::failure::{Failure, OrPage};
use super::i18n::Lang;
use super::session::Admin;
use crate::web::AppState;

/// Where a staff member with a one-time password is sent, with the notice
/// that they must choose their own first.
pub(crate) const ACCOUNT_REQUIRED: &str = "/console/account?required=1";

/// Largest form body accepted.
const FORM_LIMIT: usize = 16 * 1024;

/// Registers every page.
pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(login::configure)
        .configure(account::configure)
        .configure(today::configure)
        .configure(disputes::configure)
        .configure(attachments::configure)
        .configure(ledgers::configure)
        .configure(people::configure)
        .configure(audit::configure);
}

/// Forms that do not parse answer an error page, not a bare text.
pub(super) fn form_config() -> web::FormConfig {
    web::FormConfig::default()
        .limit(FORM_LIMIT)
        .error_handler(|_, req| Failure::invalid(Lang::of(req), "form").into())
}

/// Queries that do not parse answer an error page, not a bare text.
pub(super) fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|_, req| Failure::invalid(Lang::of(req), "query").into())
}

/// Any other path under `/console`.
pub(super) async fn not_found(req: HttpRequest) -> Result<HttpResponse, Failure> {
    Err(Failure::of(
        crate::web::ApiError::new(gridsync_proto::ErrorCode::NotFound, "no such page"),
        Lang::of(&req),
    ))
}

/// An HTML answer.
pub(super) fn respond(markup: Markup) -> HttpResponse {
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(markup.into_string())
}

/// A redirect after a form (303: the browser follows with a GET).
pub(super) fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((actix_web::http::header::LOCATION, location)).finish()
}

/// The places a staff member may choose (their chain and subtree, as the
/// service lists them), and the one a page shows when none is asked for:
/// their own scope, or for staff of the whole deployment the first place at
/// the top.
pub(super) async fn places(state: &AppState, admin: &Admin) -> Result<(Vec<Place>, String), Failure> {
    let places = state.service.list_places(&admin.caller()).await.or_page(admin.lang)?;
    let own = admin.user.scope.clone();
    let default = if own.is_empty() {
        places.iter().find(|p| p.parent.is_none()).map(|p| p.code.clone()).unwrap_or_default()
    } else {
        own
    };
    Ok((places, default))
}

/// The places at or below a staff member's scope, in the order listed.
pub(super) fn in_subtree<'a>(places: &'a [Place], admin: &Admin) -> Vec<&'a Place> {
    use gridsync_proto::Hierarchy;
    let dir = gridsync_proto::Directory::new(places.to_vec(), Vec::new());
    let scope = (!admin.user.scope.is_empty()).then_some(admin.user.scope.as_str());
    places.iter().filter(|p| dir.is_within(&p.code, scope)).collect()
}

/// The places of a staff member's subtree for a `<select>`, grids left out
/// (reports and ledgers are read at a village or above).
pub(super) fn place_options(places: &[Place], admin: &Admin, selected: &str) -> Markup {
    html! {
        @for p in in_subtree(places, admin).into_iter().filter(|p| p.level != Level::Grid) {
            option value=(p.code) selected[p.code == selected] { (p.name) " (" (p.code) ")" }
        }
    }
}

/// The name of place `code` among `places`, or the code itself.
pub(super) fn place_name<'a>(places: &'a [Place], code: &'a str) -> &'a str {
    places.iter().find(|p| p.code == code).map_or(code, |p| p.name.as_str())
}

/// Percent-encodes a query value (everything but unreserved characters).
pub(super) fn enc(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A moment in the deployment's time zone, `YYYY-MM-DD HH:MM`.
pub(super) fn local_time(state: &AppState, unix_ms: u64) -> String {
    let offset = state.service.settings().utc_offset_minutes;
    gridsync_server_core::ledger::sheet::DateTime::new(i64::try_from(unix_ms).unwrap_or(i64::MAX), offset)
        .local_text()
}

#[cfg(test)]
mod tests {
    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(super::enc("user:网格员 1&x=y"), "user%3A%E7%BD%91%E6%A0%BC%E5%91%98%201%26x%3Dy");
        assert_eq!(super::enc("device.revoke"), "device.revoke");
    }
}
