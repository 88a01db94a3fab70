//! 台帐: a place's month on screen — the statistics table and the dispute
//! register from [`gridsync_server_core::Service::month_ledgers`] (the
//! sheets the exports write, rendered by [`crate::console::table`]), the
//! export buttons (the admin API's export code, with the console's
//! session), and the 12-month chart of resolution and reporting rates from
//! [`gridsync_server_core::Service::ledger_trend`].

use actix_web::{HttpResponse, web};
use gridsync_proto::Date;
use gridsync_server_core::clock::now_ms;
use gridsync_server_core::ledger::Month;
use maud::html;
use serde::Deserialize;

use super::super::chart;
use super::super::failure::{Failure, OrPage};
use super::super::layout::{self, Section};
use super::super::session::Admin;
use super::super::table::{self, Window};
use super::{enc, place_name, place_options, places, respond};
use crate::web::AppState;
use crate::web::ledgers_api;

/// Register rows per page.
const REGISTER_PAGE: usize = 100;
/// Months in the chart.
const TREND_MONTHS: u8 = 12;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/ledgers", web::get().to(ledgers)).route("/ledgers/export", web::get().to(export));
}

#[derive(Deserialize)]
struct LedgersQuery {
    place: Option<String>,
    month: Option<String>,
    page: Option<usize>,
}

/// The month asked for, or the current one in the deployment's zone.
fn month_of(state: &AppState, text: Option<&str>) -> Option<Month> {
    match text.filter(|m| !m.is_empty()) {
        Some(text) => text.parse().ok(),
        None => {
            let offset = state.service.settings().utc_offset_minutes;
            let today = Date::of_millis(i64::try_from(now_ms()).ok()?, offset)?;
            today.to_string().get(..7)?.parse().ok()
        }
    }
}

async fn ledgers(
    state: web::Data<AppState>,
    admin: Admin,
    query: web::Query<LedgersQuery>,
) -> Result<HttpResponse, Failure> {
    let lang = admin.lang;
    let t = lang.texts();
    let month =
        month_of(&state, query.month.as_deref()).ok_or_else(|| Failure::invalid(lang, "month: YYYY-MM"))?;
    let (places, default) = places(&state, &admin).await?;
    let place = query.place.clone().filter(|p| !p.is_empty()).unwrap_or(default);
    let caller = admin.caller();
    // Two snapshots read side by side (each on a reader of its own).
    let started = std::time::Instant::now();
    let elapsed = || u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let ((ledgers, ledgers_ms), (trend, trend_ms)) = futures_util::future::join(
        async { (state.service.month_ledgers(&caller, &place, month).await, elapsed()) },
        async { (state.service.ledger_trend(&caller, &place, month, TREND_MONTHS).await, elapsed()) },
    )
    .await;
    tracing::debug!(ledgers_ms, trend_ms, "console ledgers read");
    let (ledgers, trend) = (ledgers.or_page(lang)?, trend.or_page(lang)?);
    let page = query.page.unwrap_or(1).max(1);
    let mut book = ledgers.book();
    let register = book.sheets.pop();
    let stats = book.sheets.pop();
    let (table_html, _) = match stats {
        Some(sheet) => table::render(sheet, "stats", Window::ALL),
        None => (html! {}, 0),
    };
    let window = Window { skip: (page - 1).saturating_mul(REGISTER_PAGE), take: REGISTER_PAGE };
    let (register_html, register_rows) = match register {
        Some(sheet) => table::render(sheet, "register", window),
        None => (html! {}, 0),
    };
    let base = format!("/console/ledgers?place={}&month={month}", enc(&place));
    let export = format!("/console/ledgers/export?place={}&month={month}", enc(&place));
    let last_row = (window.skip + REGISTER_PAGE).min(register_rows);
    let body = html! {
        h1 { (t.ledgers_title) " · " (place_name(&places, &place)) " · " (month.label()) }
        form.bar method="get" action="/console/ledgers" {
            label { (t.place) select name="place" { (place_options(&places, &admin, &place)) } }
            label { (t.month) input type="month" name="month" value=(month.to_string()); }
            button type="submit" { (t.show) }
        }
        div.exports {
            a.button id="export-xlsx" href={ (export) "&format=xlsx" } download { (t.export_xlsx) }
            a.button.secondary id="export-csv-table" href={ (export) "&format=csv&sheet=1" } download { (t.export_csv_table) }
            a.button.secondary id="export-csv-register" href={ (export) "&format=csv&sheet=2" } download { (t.export_csv_register) }
        }
        // ---- Reserved: locking the month and its corrections ----
        // `Service::lock_month` is being built on main; its button, the
        // month's lock state and the corrections list go in this place, and
        // nowhere else on the page. Nothing is shown until it exists.
        // ---- End of the reserved place ----
        h2 { (t.chart_title) }
        div.chart { (chart::svg(t, &trend)) }
        h2 { (t.table_heading) }
        (table_html)
        h2 id="register-heading" { (t.register_heading) }
        @if register_rows == 0 {
            p.muted { (t.register_empty) }
        } @else {
            p.muted { (window.skip + 1) "–" (last_row) " " (t.rows_of) " " (register_rows) }
            (register_html)
            nav.pager {
                @if page > 1 { a href={ (base) "&page=" (page - 1) "#register-heading" } { (t.newer) } }
                @if last_row < register_rows { a href={ (base) "&page=" (page + 1) "#register-heading" } { (t.older) } }
            }
        }
    };
    Ok(respond(layout::page(&admin, Section::Ledgers, t.ledgers_title, body)))
}

#[derive(Deserialize)]
struct ExportQuery {
    place: String,
    month: String,
    format: Option<String>,
    sheet: Option<usize>,
}

/// The month's file, through the admin API's export code.
async fn export(
    state: web::Data<AppState>,
    admin: Admin,
    query: web::Query<ExportQuery>,
) -> Result<HttpResponse, Failure> {
    let ExportQuery { place, month, format, sheet } = query.into_inner();
    ledgers_api::month_file(&state, &admin.caller(), &place, &month, format, sheet).await.or_page(admin.lang)
}
