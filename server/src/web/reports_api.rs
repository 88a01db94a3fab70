//! Reports for staff, under `/v1/admin/reports` with the admin API's bearer
//! sessions.
//!
//! | method | path | query | → | who |
//! |---|---|---|---|---|
//! | GET | `/v1/admin/reports/daily` | `date=YYYY-MM-DD&place=CODE` | [`crate::reports::Completeness`] | admins and auditors, for places within their subtree |
//!
//! Reading a report is audited (`report.daily`), like any export of the
//! ledgers.

use actix_web::{HttpResponse, web};
use gridsync_proto::{Date, ErrorCode};
use serde::Deserialize;

use super::AppState;
use super::admin_api::Staff;
use crate::db::WriteError;
use crate::error::ApiError;
use crate::{directory, reports, staff};

/// Registers the report routes. Call before the admin scope so that its
/// catch-all does not shadow them.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/v1/admin/reports/daily").route(web::get().to(daily)));
}

#[derive(Deserialize)]
struct DailyQuery {
    date: String,
    place: String,
}

async fn daily(
    state: web::Data<AppState>,
    who: Staff,
    query: web::Query<DailyQuery>,
) -> Result<HttpResponse, ApiError> {
    let DailyQuery { date, place } = query.into_inner();
    let date: Date =
        date.parse().map_err(|_| ApiError::new(ErrorCode::InvalidRequest, "date: expected YYYY-MM-DD"))?;
    let offset = state.utc_offset_minutes;
    let actor = format!("user:{}", who.user.name);
    let report = state
        .store
        .write(move |conn, now| {
            let dir = directory::load(conn)?;
            if gridsync_proto::Hierarchy::place(&dir, &place).is_none() {
                return Err(WriteError::Refused(ApiError::new(ErrorCode::UnknownPlace, "no such place")));
            }
            if !staff::may_read(&who.user) || !staff::within(&dir, &place, &who.user.scope) {
                return Err(WriteError::Refused(ApiError::new(
                    ErrorCode::Forbidden,
                    "your role or place does not allow this",
                )));
            }
            let report = reports::daily_audited(conn, now, &actor, &place, date, offset)?;
            Ok(report)
        })
        .await?;
    Ok(HttpResponse::Ok().json(report))
}
