//! The admin routes for places and units (see the table in [`super`]).
//! Administrators act anywhere; county and township admins only within
//! their subtree: the place changed, its new parent, and every imported row.

use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use gridsync_proto::{Directory, ErrorCode, Hierarchy, Place, Unit};
use serde::Deserialize;
use serde_json::Value;

use super::{Staff, audited, forbidden, json_body, read_directory};
use crate::db::WriteError;
use crate::error::ApiError;
use crate::identity::User;
use crate::web::AppState;
use crate::{directory, hierarchy, staff};

/// Largest CSV body accepted by an import (a city's places fit many times over).
const MAX_CSV_BYTES: usize = 16 * 1024 * 1024;

/// Registers the place and unit routes inside the `/v1/admin` scope.
pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    let csv_limit = || web::PayloadConfig::new(MAX_CSV_BYTES);
    cfg.route("/places", web::get().to(list_places))
        .route("/places", web::post().to(add_place))
        .service(web::resource("/places/import").app_data(csv_limit()).route(web::post().to(import_places)))
        .route("/places/{code}/move", web::post().to(move_place))
        .route("/units", web::get().to(list_units))
        .route("/units", web::post().to(add_unit))
        .route("/units/{code}/move", web::post().to(move_unit))
        .service(web::resource("/units/import").app_data(csv_limit()).route(web::post().to(import_units)));
}

/// Whether `who` may add or move a place under `parent`. An unknown parent
/// passes here, so the operation answers `unknown_place`.
fn may_place_under(who: &User, parent: Option<&str>, dir: &Directory) -> bool {
    match parent {
        Some(p) if dir.place(p).is_none() => staff::may_administer(who),
        parent => staff::may_edit_place(who, parent, dir),
    }
}

async fn list_places(state: web::Data<AppState>, who: Staff) -> Result<HttpResponse, ApiError> {
    if !staff::may_read(&who.user) {
        return audited(&state, who.actor(), "place.list", String::new(), Err(forbidden().into_api())).await;
    }
    let store = state.store.clone();
    let places = state
        .store
        .read(move |conn| {
            let scope = &who.user.scope;
            Ok(read_directory(&store, conn)?.view_for((!scope.is_empty()).then_some(scope.as_str())).0)
        })
        .await?;
    Ok(HttpResponse::Ok().json(places))
}

async fn list_units(state: web::Data<AppState>, who: Staff) -> Result<HttpResponse, ApiError> {
    if !staff::may_read(&who.user) {
        return audited(&state, who.actor(), "unit.list", String::new(), Err(forbidden().into_api())).await;
    }
    let store = state.store.clone();
    let units = state
        .store
        .read(move |conn| {
            let scope = &who.user.scope;
            Ok(read_directory(&store, conn)?.view_for((!scope.is_empty()).then_some(scope.as_str())).1)
        })
        .await?;
    Ok(HttpResponse::Ok().json(units))
}

async fn add_place(
    state: web::Data<AppState>,
    who: Staff,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let place: Place = json_body(&body)?;
    let (actor, target) = (who.actor(), place.code.clone());
    let result = state
        .store
        .write(move |conn, now| {
            let dir = directory::load(conn)?;
            if !may_place_under(&who.user, place.parent.as_deref(), &dir) {
                return Err(forbidden());
            }
            hierarchy::add_place(conn, now, &who.actor(), &place)?;
            Ok(place)
        })
        .await;
    let place = audited(&state, actor, "place.add", target, result).await?;
    Ok(HttpResponse::Created().json(place))
}

#[derive(Deserialize)]
struct Move {
    /// Required: a code, or `null` (or "") for the top of the deployment.
    parent: Value,
}

async fn move_place(
    state: web::Data<AppState>,
    who: Staff,
    code: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let code = code.into_inner();
    let Move { parent } = json_body(&body)?;
    let parent = match parent {
        Value::Null => None,
        Value::String(p) if p.is_empty() => None,
        Value::String(p) => Some(p),
        _ => return Err(ApiError::new(ErrorCode::Malformed, "parent is a place code or null")),
    };
    let (actor, target, settings) = (who.actor(), code.clone(), state.store.scope());
    let result = state
        .store
        .write(move |conn, now| {
            let dir = directory::load(conn)?;
            let place_ok = dir.place(&code).is_none() || staff::may_edit_place(&who.user, Some(&code), &dir);
            if !staff::may_administer(&who.user)
                || !place_ok
                || !may_place_under(&who.user, parent.as_deref(), &dir)
            {
                return Err(forbidden());
            }
            hierarchy::move_place(conn, now, &who.actor(), &code, parent.as_deref(), &settings)
        })
        .await;
    let place = audited(&state, actor, "place.move", target, result).await?;
    Ok(HttpResponse::Ok().json(place))
}

#[derive(Deserialize)]
struct UnitMove {
    place: String,
}

async fn move_unit(
    state: web::Data<AppState>,
    who: Staff,
    code: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let code = code.into_inner();
    let UnitMove { place } = json_body(&body)?;
    let (actor, target) = (who.actor(), code.clone());
    let result = state
        .store
        .write(move |conn, now| {
            let dir = directory::load(conn)?;
            let from_ok =
                dir.unit(&code).is_none_or(|u| staff::may_edit_place(&who.user, Some(&u.place), &dir));
            if !staff::may_administer(&who.user)
                || !from_ok
                || !may_place_under(&who.user, Some(&place), &dir)
            {
                return Err(forbidden());
            }
            hierarchy::move_unit(conn, now, &who.actor(), &code, &place)
        })
        .await;
    let unit = audited(&state, actor, "unit.move", target, result).await?;
    Ok(HttpResponse::Ok().json(unit))
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

/// What an import runs on the writer, for the caller's rights.
type Import = fn(
    &rusqlite::Connection,
    u64,
    &Staff,
    &str,
    &crate::scope::ScopeSettings,
) -> Result<hierarchy::ImportSummary, WriteError>;

async fn import(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Staff,
    body: web::Bytes,
    action: &'static str,
    run: Import,
) -> Result<HttpResponse, ApiError> {
    let actor = who.actor();
    let settings = state.store.scope();
    let result = match csv_text(&req, &body) {
        Ok(text) => {
            state
                .store
                .write(move |conn, now| {
                    if !staff::may_administer(&who.user) {
                        return Err(forbidden());
                    }
                    run(conn, now, &who, &text, &settings)
                })
                .await
        }
        Err(e) => Err(e),
    };
    let target = if action == "place.import" { "places" } else { "units" };
    let summary = audited(&state, actor, action, target.to_owned(), result).await?;
    Ok(HttpResponse::Ok().json(summary))
}

async fn import_places(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Staff,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    import(req, state, who, body, "place.import", |conn, now, who, text, settings| {
        let limit = staff::place_limit(&who.user);
        hierarchy::import_places_csv_within(conn, now, &who.actor(), text, settings, limit)
    })
    .await
}

async fn import_units(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Staff,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    import(req, state, who, body, "unit.import", |conn, now, who, text, _| {
        hierarchy::import_units_csv_within(conn, now, &who.actor(), text, staff::place_limit(&who.user))
    })
    .await
}

async fn add_unit(
    state: web::Data<AppState>,
    who: Staff,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let unit: Unit = json_body(&body)?;
    let (actor, target) = (who.actor(), unit.code.clone());
    let result = state
        .store
        .write(move |conn, now| {
            let dir = directory::load(conn)?;
            let known = dir.place(&unit.place).is_some();
            let allowed = if known {
                staff::may_edit_place(&who.user, Some(&unit.place), &dir)
            } else {
                staff::may_administer(&who.user)
            };
            if !allowed {
                return Err(forbidden());
            }
            hierarchy::add_unit(conn, now, &who.actor(), &unit)?;
            Ok(unit)
        })
        .await;
    let unit = audited(&state, actor, "unit.add", target, result).await?;
    Ok(HttpResponse::Created().json(unit))
}
