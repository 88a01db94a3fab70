//! The console's static files, compiled into the binary: one stylesheet,
//! no scripts, no fonts, nothing from a CDN, so the console works on a
//! township LAN without internet.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

/// Where the stylesheet is served. The version in the name changes with
/// the file, so browsers may keep it for a day.
pub(crate) const CSS_PATH: &str = "/console/assets/console-2.css";

const CSS: &str = include_str!("console.css");

/// Registers the asset routes.
pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/assets/console-2.css", web::get().to(css));
}

async fn css() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(CSS)
}
