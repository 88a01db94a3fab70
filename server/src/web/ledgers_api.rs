//! The merged ledgers for staff, under `/v1/admin/ledgers` with the admin
//! API's bearer sessions: the same service operations as
//! `gridsync-server export`, answered as a file to download.
//!
//! | method | path | query | → | who |
//! |---|---|---|---|---|
//! | GET | `/v1/admin/ledgers/month` | `place=CODE&month=YYYY-MM[&format=xlsx\|json\|csv][&sheet=N]` | the month's table and register | admins and auditors, for places within their subtree |
//! | GET | `/v1/admin/ledgers/ranking` | `place=CODE&quarter=YYYY-Qn[&format=…][&sheet=N]` | the quarter's rankings | the same |
//! | POST | `/v1/admin/ledgers/locks` | JSON `{place, month}` | the lock of the place's month (locking it and every place below it unless locked) | county admins and administrators, within their subtree |
//! | GET | `/v1/admin/ledgers/locks` | | the locks taken, of places within and above the caller's scope | admins and auditors |
//! | GET | `/v1/admin/ledgers/corrections` | `place=CODE&month=YYYY-MM[&format=…][&sheet=N]` | a locked month's corrections | as for the month |
//! | GET | `/v1/admin/feed` | `place=CODE[&after=N][&limit=L]` | JSON lines: `{position, record}` per record, then `{next, more}` | admins who see parties' names, within their subtree |
//!
//! A locked month's file is the same, byte for byte, at every download.
//! `format` defaults to `xlsx`. CSV holds one sheet per file: `sheet`
//! (1-based, default 1) picks it. Every answer is audited by the service
//! (`ledger.month`, `ledger.ranking`); a refusal is answered with the
//! service's code (`unknown_place`, `forbidden`), a bad query with
//! `invalid_request` naming the parameter.

use actix_web::http::header::{ContentDisposition, DispositionParam, DispositionType};
use actix_web::{HttpResponse, web};
use gridsync_proto::ErrorCode;
use gridsync_server_core::ledger::{Corrections, Month, Quarter, Rankings};
use gridsync_server_core::service::Caller;
use gridsync_server_core::service::ledgers::MonthLedgers;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::admin_api::Staff;
use super::authed::Authed;
use super::error::ApiError;
use super::json::json_body;
use super::openapi;
use crate::export::{self, Book, Format};

/// Registers the ledger routes. Call before the admin scope so that its
/// catch-all does not shadow them.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/v1/admin/ledgers/month").route(web::get().to(month)))
        .service(web::resource("/v1/admin/ledgers/ranking").route(web::get().to(ranking)))
        .service(
            web::resource("/v1/admin/ledgers/locks").route(web::get().to(locks)).route(web::post().to(lock)),
        )
        .service(web::resource("/v1/admin/ledgers/corrections").route(web::get().to(corrections)))
        .service(web::resource("/v1/admin/feed").route(web::get().to(feed)));
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct MonthQuery {
    /// The place's code.
    #[param(example = "620802100")]
    place: String,
    /// The month, `YYYY-MM`.
    #[param(pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])$", example = "2026-11")]
    month: String,
    /// `xlsx` (the default), `json` or `csv`.
    #[param(pattern = "^(xlsx|json|csv)$")]
    format: Option<String>,
    /// With `csv`: which sheet, from 1 (the default).
    #[param(minimum = 1)]
    sheet: Option<usize>,
}

#[derive(Deserialize, ToSchema)]
struct LockBody {
    /// The place's code.
    place: String,
    /// The month, `YYYY-MM`, ended.
    month: String,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct RankingQuery {
    /// The place's code.
    #[param(example = "620802100")]
    place: String,
    /// The quarter, `YYYY-Qn`.
    #[param(pattern = r"^[0-9]{4}-Q[1-4]$", example = "2026-Q3")]
    quarter: String,
    /// `xlsx` (the default), `json` or `csv`.
    #[param(pattern = "^(xlsx|json|csv)$")]
    format: Option<String>,
    /// With `csv`: which sheet, from 1 (the default).
    #[param(minimum = 1)]
    sheet: Option<usize>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct FeedQuery {
    /// The place's code.
    #[param(example = "620802100")]
    place: String,
    /// The position the previous page ended at (`next`); 0 (the default) for the first page.
    #[serde(default)]
    after: u64,
    /// Most records in the page (default 500).
    limit: Option<u32>,
}

/// One page of the change feed as JSON lines: each record, then where the
/// next page starts.
#[utoipa::path(
    get,
    path = "/v1/admin/feed",
    tag = "ledgers",
    summary = "The change feed",
    description = "One page of the records within the place as JSON lines: `{position, record}` per \
                   record, then `{next, more}`. Needs a role that sees parties' names. Audited.",
    params(FeedQuery),
    security(("staff_session" = [])),
    responses(
        (status = 200, description = "JSON lines.", content_type = "application/x-ndjson", body = String),
        (status = 400, response = openapi::Refused), (status = 401, response = openapi::Refused),
        (status = 403, response = openapi::Refused), (status = 404, response = openapi::Refused),
    )
)]
async fn feed(
    state: web::Data<AppState>,
    who: Staff,
    query: web::Query<FeedQuery>,
) -> Result<HttpResponse, ApiError> {
    let FeedQuery { place, after, limit } = query.into_inner();
    let page = state.service.feed(&who.caller(), &place, after, limit.unwrap_or(500)).await?;
    let mut body = Vec::new();
    for record in &page.records {
        serde_json::to_writer(&mut body, record).map_err(|_| ApiError::internal())?;
        body.push(b'\n');
    }
    let end = serde_json::json!({ "next": page.next, "more": page.more });
    serde_json::to_writer(&mut body, &end).map_err(|_| ApiError::internal())?;
    body.push(b'\n');
    Ok(HttpResponse::Ok().content_type("application/x-ndjson").body(body))
}

/// Locks a month: `201 Created` when this call locked it, `200 OK` with
/// the lock there was otherwise.
#[utoipa::path(
    post,
    path = "/v1/admin/ledgers/locks",
    tag = "ledgers",
    summary = "Lock a month",
    description = "Locks the place's month and that of every place below it not yet locked; a locked \
                   month's file is the same at every download. County admins and administrators.",
    request_body(content = LockBody, content_type = "application/json"),
    security(("staff_session" = [])),
    responses(
        (status = 201, description = "This call locked it.", body = openapi::LockAnswer),
        (status = 200, description = "It was locked already: that lock.", body = openapi::LockAnswer),
        (status = 400, response = openapi::Refused), (status = 401, response = openapi::Refused),
        (status = 403, response = openapi::Refused), (status = 404, response = openapi::Refused),
    )
)]
async fn lock(
    state: web::Data<AppState>,
    Authed { who, body }: Authed<Staff>,
) -> Result<HttpResponse, ApiError> {
    let LockBody { place, month } = json_body(&body)?;
    let month: Month = month.parse().map_err(|e| invalid("month", e))?;
    let lock = state.service.lock_month(&who.caller(), &place, month).await?;
    let mut answer = if lock.places_locked > 0 { HttpResponse::Created() } else { HttpResponse::Ok() };
    Ok(answer.json(serde_json::json!({ "lock": lock.head, "places_locked": lock.places_locked })))
}

#[utoipa::path(
    get,
    path = "/v1/admin/ledgers/locks",
    tag = "ledgers",
    summary = "List month locks",
    description = "The locks of places within and above the caller's scope.",
    security(("staff_session" = [])),
    responses(
        (status = 200, description = "The locks.", body = [gridsync_server_core::storage::MonthLockHead]),
        (status = 401, response = openapi::Refused), (status = 403, response = openapi::Refused),
    )
)]
async fn locks(state: web::Data<AppState>, who: Staff) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.service.month_locks(&who.caller()).await?))
}

#[utoipa::path(
    get,
    path = "/v1/admin/ledgers/corrections",
    tag = "ledgers",
    summary = "A locked month's corrections",
    description = "What changed in a locked month after it was locked. Audited.",
    params(MonthQuery),
    security(("staff_session" = [])),
    responses(
        (status = 200, description = "The file, as an attachment: XLSX, JSON or CSV by `format`.",
         content(
            (openapi::Download = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            (serde_json::Value = "application/json"),
            (String = "text/csv"),
         )),
        (status = 400, response = openapi::Refused), (status = 401, response = openapi::Refused),
        (status = 403, response = openapi::Refused), (status = 404, response = openapi::Refused),
    )
)]
async fn corrections(
    state: web::Data<AppState>,
    who: Staff,
    query: web::Query<MonthQuery>,
) -> Result<HttpResponse, ApiError> {
    let MonthQuery { place, month, format, sheet } = query.into_inner();
    month_file(&state, &who.caller(), MonthFile::Corrections, &place, &month, format, sheet).await
}

fn invalid(field: &str, what: String) -> ApiError {
    ApiError::new(ErrorCode::InvalidRequest, format!("{field}: {what}")).field(field)
}

fn format_of(format: Option<String>) -> Result<Format, ApiError> {
    format.as_deref().unwrap_or("xlsx").parse().map_err(|e| invalid("format", e))
}

#[utoipa::path(
    get,
    path = "/v1/admin/ledgers/month",
    tag = "ledgers",
    summary = "A month's ledgers",
    description = "The month's table and register for the place. Audited.",
    params(MonthQuery),
    security(("staff_session" = [])),
    responses(
        (status = 200, description = "The file, as an attachment: XLSX, JSON or CSV by `format`.",
         content(
            (openapi::Download = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            (serde_json::Value = "application/json"),
            (String = "text/csv"),
         )),
        (status = 400, response = openapi::Refused), (status = 401, response = openapi::Refused),
        (status = 403, response = openapi::Refused), (status = 404, response = openapi::Refused),
    )
)]
async fn month(
    state: web::Data<AppState>,
    who: Staff,
    query: web::Query<MonthQuery>,
) -> Result<HttpResponse, ApiError> {
    let MonthQuery { place, month, format, sheet } = query.into_inner();
    month_file(&state, &who.caller(), MonthFile::Ledgers, &place, &month, format, sheet).await
}

/// Which file of a place's month to download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MonthFile {
    /// The month's table and register (`/v1/admin/ledgers/month`).
    Ledgers,
    /// A locked month's corrections (`/v1/admin/ledgers/corrections`).
    Corrections,
}

/// `what` of `place`'s month as a file to download, for `caller`: what the
/// admin API answers, and the console's export buttons too.
pub(crate) async fn month_file(
    state: &AppState,
    caller: &Caller,
    what: MonthFile,
    place: &str,
    month: &str,
    format: Option<String>,
    sheet: Option<usize>,
) -> Result<HttpResponse, ApiError> {
    let month: Month = month.parse().map_err(|e| invalid("month", e))?;
    let format = format_of(format)?;
    let (source, name) = match what {
        MonthFile::Ledgers => {
            (Source::Month(state.service.month_ledgers(caller, place, month).await?), "ledger")
        }
        MonthFile::Corrections => {
            (Source::Corrections(state.service.month_corrections(caller, place, month).await?), "corrections")
        }
    };
    download(source, format, sheet, format!("{name}-{place}-{month}")).await
}

#[utoipa::path(
    get,
    path = "/v1/admin/ledgers/ranking",
    tag = "ledgers",
    summary = "A quarter's rankings",
    description = "The quarter's dispute rankings for the place. Audited.",
    params(RankingQuery),
    security(("staff_session" = [])),
    responses(
        (status = 200, description = "The file, as an attachment: XLSX, JSON or CSV by `format`.",
         content(
            (openapi::Download = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            (serde_json::Value = "application/json"),
            (String = "text/csv"),
         )),
        (status = 400, response = openapi::Refused), (status = 401, response = openapi::Refused),
        (status = 403, response = openapi::Refused), (status = 404, response = openapi::Refused),
    )
)]
async fn ranking(
    state: web::Data<AppState>,
    who: Staff,
    query: web::Query<RankingQuery>,
) -> Result<HttpResponse, ApiError> {
    let RankingQuery { place, quarter, format, sheet } = query.into_inner();
    let quarter: Quarter = quarter.parse().map_err(|e| invalid("quarter", e))?;
    let format = format_of(format)?;
    let rankings = state.service.quarter_rankings(&who.caller(), &place, quarter).await?;
    let name = format!("ranking-{place}-{quarter}");
    let title = format!("{}{}矛盾纠纷排查化解排名", rankings.place_name, quarter.label());
    download(Source::Ranking(rankings, title), format, sheet, name).await
}

/// What a download renders.
enum Source {
    Month(MonthLedgers),
    /// The rankings and the workbook's title.
    Ranking(Rankings, String),
    /// A locked month's corrections.
    Corrections(Corrections),
}

impl Source {
    fn book(&self) -> Book<'_> {
        match self {
            Source::Month(ledgers) => ledgers.book(),
            Source::Ranking(rankings, title) => {
                Book { title: title.clone(), as_of_ms: rankings.as_of.time_ms, sheets: rankings.sheets() }
            }
            Source::Corrections(corrections) => corrections.book(),
        }
    }
}

/// Renders the book off the executor and answers it as an attachment
/// named `name` plus the format's extension.
async fn download(
    source: Source,
    format: Format,
    sheet: Option<usize>,
    name: String,
) -> Result<HttpResponse, ApiError> {
    let rendered =
        web::block(move || render(source.book(), format, sheet)).await.map_err(|_| ApiError::internal())?;
    let (bytes, suffix) = rendered?;
    let disposition = ContentDisposition {
        disposition: DispositionType::Attachment,
        parameters: vec![DispositionParam::Filename(format!("{name}{suffix}.{}", format.name()))],
    };
    Ok(HttpResponse::Ok().content_type(format.media_type()).insert_header(disposition).body(bytes))
}

/// The file's bytes, and what its name gets besides the format's extension.
fn render(book: Book<'_>, format: Format, sheet: Option<usize>) -> Result<(Vec<u8>, String), ApiError> {
    let failed = |e: export::ExportError| {
        tracing::error!(error = %e, "a ledger export failed");
        ApiError::internal()
    };
    match format {
        Format::Xlsx => {
            let mut out = Vec::new();
            export::xlsx::write(book, &mut out).map_err(failed)?;
            Ok((out, String::new()))
        }
        Format::Json => Ok((export::json::write(book, Vec::new()).map_err(failed)?, String::new())),
        Format::Csv => {
            let count = book.sheets.len();
            let n = sheet.unwrap_or(1);
            let Some(chosen) = book.sheets.into_iter().nth(n.wrapping_sub(1)) else {
                return Err(invalid("sheet", format!("this export has sheets 1 to {count}, not {n}")));
            };
            Ok((export::csv::write_sheet(chosen, Vec::new()).map_err(failed)?, format!("-{n}")))
        }
    }
}
