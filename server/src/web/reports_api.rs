//! Reports for staff, under `/v1/admin/reports` with the admin API's bearer
//! sessions.
//!
//! | method | path | query | → | who |
//! |---|---|---|---|---|
//! | GET | `/v1/admin/reports/daily` | `place=CODE[&date=YYYY-MM-DD]` (default: yesterday in the deployment's time zone) | [`gridsync_server_core::service::reports::Completeness`] | admins and auditors, for places within their subtree |
//!
//! Reading a report is audited (`report.daily`), like any export of the
//! ledgers.

use actix_web::{HttpResponse, web};
use gridsync_proto::{Date, ErrorCode};
use gridsync_server_core::clock::now_ms;
use serde::Deserialize;
use utoipa::IntoParams;

use super::AppState;
use super::admin_api::Staff;
use super::error::ApiError;
use super::openapi;

/// Registers the report routes. Call before the admin scope so that its
/// catch-all does not shadow them.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/v1/admin/reports/daily").route(web::get().to(daily)));
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct DailyQuery {
    /// The day, `YYYY-MM-DD` [default: yesterday in the deployment's time
    /// zone, the server's `utc_offset_minutes`, as `report daily` does].
    #[param(format = Date, example = "2026-12-01")]
    date: Option<String>,
    /// The place: every grid worker at or below it counts.
    #[param(example = "620802100")]
    place: String,
}

#[utoipa::path(
    get,
    path = "/v1/admin/reports/daily",
    tag = "reports",
    summary = "Daily report completeness",
    description = "Which grid workers within the place filed their daily report on time, late, or not at \
                   all. Audited.",
    params(DailyQuery),
    security(("staff_session" = [])),
    responses(
        (status = 200, description = "The day's completeness.",
         body = gridsync_server_core::service::reports::Completeness),
        (status = 400, response = openapi::Refused), (status = 401, response = openapi::Refused),
        (status = 403, response = openapi::Refused), (status = 404, response = openapi::Refused),
    )
)]
async fn daily(
    state: web::Data<AppState>,
    who: Staff,
    query: web::Query<DailyQuery>,
) -> Result<HttpResponse, ApiError> {
    let DailyQuery { date, place } = query.into_inner();
    let date: Date = match date {
        Some(date) => date.parse().map_err(|_| {
            ApiError::new(ErrorCode::InvalidField, "`date` is not valid: expected YYYY-MM-DD").field("date")
        })?,
        // Yesterday, as the operator's `report daily`: today is not over.
        None => Date::of_millis(now_ms() as i64, state.service.settings().utc_offset_minutes)
            .and_then(Date::previous)
            .ok_or_else(ApiError::internal)?,
    };
    Ok(HttpResponse::Ok().json(state.service.daily_report(&who.caller(), &place, date).await?))
}
