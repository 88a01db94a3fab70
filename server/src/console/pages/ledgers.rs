//! 台帐: a place's month on screen — the statistics table and the dispute
//! register from [`gridsync_server_core::Service::month_ledgers`] (the
//! sheets the exports write, rendered by [`crate::console::table`]), the
//! export buttons (the admin API's export code, with the console's
//! session), and the 12-month chart of resolution and reporting rates from
//! [`gridsync_server_core::Service::ledger_trend`].

use actix_web::{HttpRequest, HttpResponse, web};
use gridsync_proto::Date;
use gridsync_server_core::clock::now_ms;
use gridsync_server_core::ledger::{LockStamp, Month, register};
use gridsync_server_core::policy;
use gridsync_server_core::service::ledgers::RowWindow;
use maud::{Markup, html};
use serde::Deserialize;

use super::super::chart;
use super::super::failure::{Failure, OrPage};
use super::super::layout::{self, Section};
use super::super::session::{Admin, Posted};
use super::super::table::{self, Window};
use super::{enc, local_time, place_name, place_options, places, respond, see_other};
use crate::web::AppState;
use crate::web::ledgers_api::{self, MonthFile};

/// Register rows per page.
const REGISTER_PAGE: usize = 100;
/// Months in the chart.
const TREND_MONTHS: u8 = 12;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/ledgers", web::get().to(ledgers))
        .route("/ledgers/export", web::get().to(export))
        .route("/ledgers/lock", web::post().to(lock))
        .route("/ledgers/corrections", web::get().to(corrections))
        .route("/ledgers/corrections/export", web::get().to(corrections_export));
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
    let page = query.page.unwrap_or(1).max(1);
    // Only the page's rows of the register are built; the table and the
    // row count are the whole month's.
    let window = RowWindow { skip: (page - 1).saturating_mul(REGISTER_PAGE), take: REGISTER_PAGE };
    let ((ledgers, ledgers_ms), (trend, trend_ms)) = futures_util::future::join(
        async { (state.service.month_page(&caller, &place, month, window).await, elapsed()) },
        async { (state.service.ledger_trend(&caller, &place, month, TREND_MONTHS).await, elapsed()) },
    )
    .await;
    tracing::debug!(ledgers_ms, trend_ms, "console ledgers read");
    let (ledgers, trend) = (ledgers.or_page(lang)?, trend.or_page(lang)?);
    let (table_html, _) = table::render(ledgers.table.sheet(), "stats", Window::ALL);
    let register_rows = ledgers.total_rows;
    let head = ledgers.table.register_head();
    let (register_html, _) = table::render(
        register::sheet_from(&head, ledgers.rows.into_iter(), ledgers.first_number),
        "register",
        Window::ALL,
    );
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
        (lock_state(&state, &admin, &place, month, ledgers.table.locked.as_ref()))
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

/// A locked month's stamp and the way to its corrections; for those who
/// may lock ([`policy::may_lock_months`]), an ended month's lock form.
fn lock_state(
    state: &AppState,
    admin: &Admin,
    place: &str,
    month: Month,
    locked: Option<&LockStamp>,
) -> Markup {
    let t = admin.lang.texts();
    let query = format!("place={}&month={month}", enc(place));
    if let Some(lock) = locked {
        let at = local_time(state, u64::try_from(lock.locked_ms).unwrap_or(0));
        return html! {
            p.notice id="lock-state" {
                (t.locked_note) " · " (t.locked_by) " " (lock.locked_by) " · " (at) " "
                a id="view-corrections" href={ "/console/ledgers/corrections?" (query) } { (t.view_corrections) }
            }
        };
    }
    let offset = state.service.settings().utc_offset_minutes;
    let ended = i64::try_from(now_ms()).is_ok_and(|now| month.period(offset).end_ms <= now);
    if !(ended && policy::may_lock_months(&admin.user)) {
        return html! {};
    }
    html! {
        form.bar method="post" action="/console/ledgers/lock" {
            (layout::csrf_field(admin))
            input type="hidden" name="place" value=(place);
            input type="hidden" name="month" value=(month.to_string());
            button type="submit" id="lock-month" { (t.lock_month) }
            span.muted { (t.lock_hint) }
        }
    }
}

#[derive(Deserialize)]
struct LockForm {
    #[serde(default)]
    csrf: String,
    place: String,
    month: String,
}

/// Locks the month (the service says who may), then shows it.
async fn lock(
    req: HttpRequest,
    state: web::Data<AppState>,
    Posted { who: admin, form }: Posted<Admin, LockForm>,
) -> Result<HttpResponse, Failure> {
    admin.check_csrf(&state, &req, &form.csrf).await?;
    let lang = admin.lang;
    let month: Month = form.month.parse().map_err(|_| Failure::invalid(lang, "month: YYYY-MM"))?;
    state.service.lock_month(&admin.caller(), &form.place, month).await.or_page(lang)?;
    Ok(see_other(&format!("/console/ledgers?place={}&month={month}", enc(&form.place))))
}

#[derive(Deserialize)]
struct MonthQuery {
    place: String,
    month: String,
}

/// A locked month's corrections: the counts, the register rows and the
/// records that changed since the lock, as the corrections workbook has them.
async fn corrections(
    state: web::Data<AppState>,
    admin: Admin,
    query: web::Query<MonthQuery>,
) -> Result<HttpResponse, Failure> {
    let lang = admin.lang;
    let t = lang.texts();
    let month: Month = query.month.parse().map_err(|_| Failure::invalid(lang, "month: YYYY-MM"))?;
    let place = &query.place;
    let corrections = state.service.month_corrections(&admin.caller(), place, month).await.or_page(lang)?;
    let query = format!("place={}&month={month}", enc(place));
    let sheets: Vec<Markup> = corrections
        .book()
        .sheets
        .into_iter()
        .enumerate()
        .map(|(i, sheet)| table::render(sheet, &format!("corrections-{}", i + 1), Window::ALL).0)
        .collect();
    let body = html! {
        h1 { (t.corrections_title) " · " (corrections.place_name) " · " (month.label()) }
        p {
            a href={ "/console/ledgers?" (query) } { (t.back) } " · "
            a.button id="export-corrections" href={ "/console/ledgers/corrections/export?" (query) } download { (t.export_corrections) }
        }
        @if corrections.is_empty() {
            p.muted id="no-corrections" { (t.corrections_none) }
        }
        @for sheet in sheets { (sheet) }
    };
    Ok(respond(layout::page(&admin, Section::Ledgers, t.corrections_title, body)))
}

/// The corrections workbook, through the admin API's export code.
async fn corrections_export(
    state: web::Data<AppState>,
    admin: Admin,
    query: web::Query<MonthQuery>,
) -> Result<HttpResponse, Failure> {
    let MonthQuery { place, month } = query.into_inner();
    ledgers_api::month_file(&state, &admin.caller(), MonthFile::Corrections, &place, &month, None, None)
        .await
        .or_page(admin.lang)
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
    ledgers_api::month_file(&state, &admin.caller(), MonthFile::Ledgers, &place, &month, format, sheet)
        .await
        .or_page(admin.lang)
}
