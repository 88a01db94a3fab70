//! The admin routes for places and units (see the table in [`super`]).
//! Administrators act anywhere; county and township admins only within
//! their subtree (decided by the service layer).

use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use gridsync_proto::{ErrorCode, Place, Unit};
use gridsync_server_core::service::places::ImportSummary;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::Staff;
use crate::web::AppState;
use crate::web::authed::{Authed, BodyLimit};
use crate::web::error::ApiError;
use crate::web::json::json_body;
use crate::web::openapi;

/// Largest CSV body accepted by an import (a city's places fit many times
/// over): the same bound as the operator's `place import`.
const MAX_CSV_BYTES: usize = crate::files::MAX_CSV_BYTES as usize;

/// Registers the place and unit routes inside the `/v1/admin` scope.
pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    let csv_limit = || BodyLimit(MAX_CSV_BYTES);
    cfg.route("/places", web::get().to(list_places))
        .route("/places", web::post().to(add_place))
        .service(web::resource("/places/import").app_data(csv_limit()).route(web::post().to(import_places)))
        .route("/places/{code}/move", web::post().to(move_place))
        .route("/units", web::get().to(list_units))
        .route("/units", web::post().to(add_unit))
        .route("/units/{code}/move", web::post().to(move_unit))
        .service(web::resource("/units/import").app_data(csv_limit()).route(web::post().to(import_units)));
}

#[utoipa::path(
    get,
    path = "/v1/admin/places",
    tag = "places",
    summary = "List places",
    description = "The caller's chain of places up to the top, and their subtree.",
    security(("staff_session" = [])),
    responses(
        (status = 200, description = "The places.", body = [Place]),
        (status = 401, response = openapi::Refused), (status = 403, response = openapi::Refused),
    )
)]
async fn list_places(state: web::Data<AppState>, who: Staff) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.service.list_places(&who.caller()).await?))
}

#[utoipa::path(
    get,
    path = "/v1/admin/units",
    tag = "places",
    summary = "List units",
    description = "The units (departments) at the caller's chain and subtree.",
    security(("staff_session" = [])),
    responses(
        (status = 200, description = "The units.", body = [Unit]),
        (status = 401, response = openapi::Refused), (status = 403, response = openapi::Refused),
    )
)]
async fn list_units(state: web::Data<AppState>, who: Staff) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.service.list_units(&who.caller()).await?))
}

#[utoipa::path(
    post,
    path = "/v1/admin/places",
    tag = "places",
    summary = "Add a place",
    request_body(content = Place, content_type = "application/json"),
    security(("staff_session" = [])),
    responses(
        (status = 201, description = "The place added.", body = Place),
        (status = 400, response = openapi::Refused), (status = 401, response = openapi::Refused),
        (status = 403, response = openapi::Refused), (status = 404, response = openapi::Refused),
        (status = 409, response = openapi::Refused),
    )
)]
async fn add_place(
    state: web::Data<AppState>,
    Authed { who, body }: Authed<Staff>,
) -> Result<HttpResponse, ApiError> {
    let place: Place = json_body(&body)?;
    Ok(HttpResponse::Created().json(state.service.add_place(&who.caller(), place).await?))
}

#[derive(Deserialize)]
struct Move {
    /// Required: a code, or `null` (or "") for the top of the deployment.
    parent: Value,
}

#[utoipa::path(
    post,
    path = "/v1/admin/places/{code}/move",
    tag = "places",
    summary = "Move a place",
    params(("code" = String, Path, description = "The place's code.")),
    description = "Puts the place under another parent; its records follow, none is rewritten.",
    request_body(content = openapi::MoveBody, content_type = "application/json"),
    security(("staff_session" = [])),
    responses(
        (status = 200, description = "The place, moved.", body = Place),
        (status = 400, response = openapi::Refused), (status = 401, response = openapi::Refused),
        (status = 403, response = openapi::Refused), (status = 404, response = openapi::Refused),
        (status = 409, response = openapi::Refused),
    )
)]
async fn move_place(
    state: web::Data<AppState>,
    code: web::Path<String>,
    Authed { who, body }: Authed<Staff>,
) -> Result<HttpResponse, ApiError> {
    let Move { parent } = json_body(&body)?;
    let parent = match parent {
        Value::Null => None,
        Value::String(p) if p.is_empty() => None,
        Value::String(p) => Some(p),
        _ => {
            return Err(ApiError::new(
                ErrorCode::InvalidField,
                "`parent` is not valid: expected a place code or null",
            )
            .field("parent"));
        }
    };
    Ok(HttpResponse::Ok().json(state.service.move_place(&who.caller(), &code, parent).await?))
}

#[utoipa::path(
    post,
    path = "/v1/admin/units",
    tag = "places",
    summary = "Add a unit",
    request_body(content = Unit, content_type = "application/json"),
    security(("staff_session" = [])),
    responses(
        (status = 201, description = "The unit added.", body = Unit),
        (status = 400, response = openapi::Refused), (status = 401, response = openapi::Refused),
        (status = 403, response = openapi::Refused), (status = 404, response = openapi::Refused),
        (status = 409, response = openapi::Refused),
    )
)]
async fn add_unit(
    state: web::Data<AppState>,
    Authed { who, body }: Authed<Staff>,
) -> Result<HttpResponse, ApiError> {
    let unit: Unit = json_body(&body)?;
    Ok(HttpResponse::Created().json(state.service.add_unit(&who.caller(), unit).await?))
}

#[derive(Deserialize, ToSchema)]
struct UnitMove {
    /// The unit's new place.
    place: String,
}

#[utoipa::path(
    post,
    path = "/v1/admin/units/{code}/move",
    tag = "places",
    summary = "Move a unit",
    params(("code" = String, Path, description = "The unit's code.")),
    description = "Moves the unit to another place; its users follow.",
    request_body(content = UnitMove, content_type = "application/json"),
    security(("staff_session" = [])),
    responses(
        (status = 200, description = "The unit, moved.", body = Unit),
        (status = 400, response = openapi::Refused), (status = 401, response = openapi::Refused),
        (status = 403, response = openapi::Refused), (status = 404, response = openapi::Refused),
        (status = 409, response = openapi::Refused),
    )
)]
async fn move_unit(
    state: web::Data<AppState>,
    code: web::Path<String>,
    Authed { who, body }: Authed<Staff>,
) -> Result<HttpResponse, ApiError> {
    let UnitMove { place } = json_body(&body)?;
    Ok(HttpResponse::Ok().json(state.service.move_unit(&who.caller(), &code, &place).await?))
}

/// The body of an import: UTF-8 text sent as `text/csv`.
fn csv_text(req: &HttpRequest, body: &web::Bytes) -> Result<String, ApiError> {
    if req.content_type() != "text/csv" {
        return Err(ApiError::new(ErrorCode::UnsupportedMediaType, "send the CSV as text/csv, in UTF-8"));
    }
    String::from_utf8(body.to_vec()).map_err(|_| {
        ApiError::new(
            ErrorCode::InvalidRequest,
            "the CSV is not UTF-8; save it as \"CSV UTF-8\" and send it again",
        )
    })
}

#[utoipa::path(
    post,
    path = "/v1/admin/places/import",
    tag = "places",
    summary = "Import places",
    description = "CSV text in UTF-8 with the header `code,name,level,parent`; every row is checked \
                   before any is stored.",
    request_body(content = String, content_type = "text/csv"),
    security(("staff_session" = [])),
    responses(
        (status = 200, description = "What the import did.", body = ImportSummary),
        (status = 400, response = openapi::Refused), (status = 401, response = openapi::Refused),
        (status = 403, response = openapi::Refused), (status = 404, response = openapi::Refused),
        (status = 409, response = openapi::Refused), (status = 413, response = openapi::Refused),
        (status = 415, response = openapi::Refused),
    )
)]
async fn import_places(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authed { who, body }: Authed<Staff>,
) -> Result<HttpResponse, ApiError> {
    let text = csv_text(&req, &body)?;
    Ok(HttpResponse::Ok().json(state.service.import_places(&who.caller(), text).await?))
}

#[utoipa::path(
    post,
    path = "/v1/admin/units/import",
    tag = "places",
    summary = "Import units",
    description = "CSV text in UTF-8 with the header `code,name,kind,place`; every row is checked before \
                   any is stored.",
    request_body(content = String, content_type = "text/csv"),
    security(("staff_session" = [])),
    responses(
        (status = 200, description = "What the import did.", body = ImportSummary),
        (status = 400, response = openapi::Refused), (status = 401, response = openapi::Refused),
        (status = 403, response = openapi::Refused), (status = 404, response = openapi::Refused),
        (status = 409, response = openapi::Refused), (status = 413, response = openapi::Refused),
        (status = 415, response = openapi::Refused),
    )
)]
async fn import_units(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authed { who, body }: Authed<Staff>,
) -> Result<HttpResponse, ApiError> {
    let text = csv_text(&req, &body)?;
    Ok(HttpResponse::Ok().json(state.service.import_units(&who.caller(), text).await?))
}
