//! The dispute desk for staff, under `/v1/admin/disputes` with the admin
//! API's bearer sessions: the web console's Disputes pages call these, and
//! each handler is one call of the service
//! ([`gridsync_server_core::service::disputes`]).
//!
//! | method | path | in → out | who |
//! |---|---|---|---|
//! | GET | `/v1/admin/disputes` | query `place=CODE[&stage=S][&category=C][&risk=1..4][&owner=CODE][&overdue=bool][&flagged=bool][&conflict=bool][&before=ID][&limit=N]` → `{total, items, next, as_of}` | admins and auditors, for places within their subtree |
//! | GET | `/v1/admin/disputes/{id}` | → `{line, head, lifecycle, mediations, conflicts, record, as_of}` | administrators, county and township admins, the owner within their subtree |
//! | POST | `/v1/admin/disputes/{id}/resolve` | `{field, seen: [ID…], pick: ID}` or `{field, seen, value: JSON}` → `{changes, position, dispute}` | the same, if the record rules let them edit the dispute |
//! | POST | `/v1/admin/disputes/{id}/steps` | `{action, after?: ID, to?: CODE, unit?, letter_number?, note?}` → `{changes, position, dispute}` | the same, if the lifecycle rules let them take the step |
//!
//! `ID`s are a value's or step's `DEVICE:COUNTER` as the detail shows them;
//! `seen` is every candidate id of the field as the detail listed them, and
//! `after` the detail's `head`; `to` is where an escalation goes, one of
//! the detail's `desk.escalate_to` (the place directly above the owner,
//! which it defaults to); `desk` also lists the steps the reader may take
//! (`desk.steps`) and whether they may settle conflicts (`desk.resolve`).
//! A write whose dispute moved on since it was
//! read is refused with `invalid_transition` (read it again); a step the
//! rules refuse answers their code (`forbidden`, `invalid_transition`,
//! `invalid_field`, `missing_field`) and changes nothing. An unknown
//! dispute answers `not_found`, another place's `forbidden`.

use actix_web::{HttpResponse, web};
use gridsync_proto::{Action, Dot, ErrorCode, RecordId, Stage, Value};
use gridsync_server_core::service::disputes::{Choice, DeskStep, DisputeQuery, ResolveConflict};
use serde::Deserialize;
use serde_json::{Map, Value as Json};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::admin_api::Staff;
use super::authed::Authed;
use super::error::ApiError;
use super::json::json_body;
use super::openapi;

/// Registers the desk's routes. Call before the admin scope so that its
/// catch-all does not shadow them.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/v1/admin/disputes").route(web::get().to(list)))
        .service(web::resource("/v1/admin/disputes/{id}").route(web::get().to(one)))
        .service(web::resource("/v1/admin/disputes/{id}/resolve").route(web::post().to(resolve)))
        .service(web::resource("/v1/admin/disputes/{id}/steps").route(web::post().to(step)));
}

/// A list's query as text, before it is checked (the console's list page
/// reads the same parameters).
#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Disputes owned within this place (required).
    #[param(required = true, example = "620802100")]
    pub(crate) place: Option<String>,
    /// Only this stage.
    pub(crate) stage: Option<String>,
    /// Only this category.
    pub(crate) category: Option<String>,
    /// Only this risk level, 1 to 4.
    #[param(pattern = "^[1-4]$")]
    pub(crate) risk: Option<String>,
    /// Only disputes owned by exactly this place.
    pub(crate) owner: Option<String>,
    /// `true`/`1` or `false`/`0`: only overdue disputes, or only those that are not.
    #[param(pattern = "^(true|false|1|0)$")]
    pub(crate) overdue: Option<String>,
    /// `true`/`1` or `false`/`0`: only flagged disputes, or only unflagged ones.
    #[param(pattern = "^(true|false|1|0)$")]
    pub(crate) flagged: Option<String>,
    /// `true`/`1` or `false`/`0`: only disputes with a field in conflict, or only those without.
    #[param(pattern = "^(true|false|1|0)$")]
    pub(crate) conflict: Option<String>,
    /// The page starts after this dispute: the previous page's `next`.
    pub(crate) before: Option<String>,
    /// Most lines (default 50, at most 500).
    #[param(pattern = "^[0-9]{1,3}$")]
    pub(crate) limit: Option<String>,
}

fn invalid(field: &str, what: &str) -> ApiError {
    ApiError::new(ErrorCode::InvalidRequest, format!("{field}: {what}")).field(field)
}

fn flag(field: &str, text: Option<String>) -> Result<Option<bool>, ApiError> {
    text.map(|t| match t.as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(invalid(field, "expected true or false")),
    })
    .transpose()
}

/// A dispute's id from a path; anything else is `not_found`.
pub(crate) fn parse_id(text: &str) -> Result<RecordId, ApiError> {
    text.parse().map_err(|_| ApiError::new(ErrorCode::NotFound, "no such dispute"))
}

/// A value's or step's `DEVICE:COUNTER` id, or `invalid_request` naming `field`.
pub(crate) fn parse_dot(field: &str, text: &str) -> Result<Dot, ApiError> {
    text.parse().map_err(|_| invalid(field, "expected a DEVICE:COUNTER id as the dispute's detail shows"))
}

impl ListQuery {
    /// The service's query, or `invalid_request` naming the bad parameter.
    pub(crate) fn into_query(self) -> Result<DisputeQuery, ApiError> {
        let place = self.place.filter(|p| !p.is_empty()).ok_or_else(|| invalid("place", "name the place"))?;
        let stage = self
            .stage
            .map(|s| {
                Stage::ALL
                    .into_iter()
                    .find(|st| st.name() == s)
                    .ok_or_else(|| invalid("stage", "unknown stage"))
            })
            .transpose()?;
        let risk = self
            .risk
            .map(|r| {
                r.parse::<i64>().ok().filter(|r| (1..=4).contains(r)).ok_or_else(|| invalid("risk", "1 to 4"))
            })
            .transpose()?;
        let before = self
            .before
            .map(|b| b.parse::<RecordId>().map_err(|_| invalid("before", "the previous page's next")))
            .transpose()?;
        let limit = self
            .limit
            .map(|l| l.parse::<usize>().map_err(|_| invalid("limit", "a number of lines")))
            .transpose()?
            .unwrap_or(0);
        Ok(DisputeQuery {
            place,
            stage,
            category: self.category,
            risk,
            owner: self.owner,
            overdue: flag("overdue", self.overdue)?,
            flagged: flag("flagged", self.flagged)?,
            in_conflict: flag("conflict", self.conflict)?,
            before,
            limit,
        })
    }
}

#[utoipa::path(
    get,
    path = "/v1/admin/disputes",
    tag = "disputes",
    summary = "List disputes",
    description = "A page of the dispute desk's list, newest first, filtered.",
    params(ListQuery),
    security(("staff_session" = [])),
    responses(
        (status = 200, description = "A page.", body = gridsync_server_core::service::disputes::DisputePage),
        (status = 400, response = openapi::Refused), (status = 401, response = openapi::Refused),
        (status = 403, response = openapi::Refused), (status = 404, response = openapi::Refused),
    )
)]
async fn list(
    state: web::Data<AppState>,
    who: Staff,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner().into_query()?;
    Ok(HttpResponse::Ok().json(state.service.list_disputes(&who.caller(), query).await?))
}

#[utoipa::path(
    get,
    path = "/v1/admin/disputes/{id}",
    tag = "disputes",
    summary = "One dispute",
    params(("id" = String, Path, description = "The dispute's record id.")),
    description = "The dispute, its lifecycle history, mediations, conflicts, and what the reader may do.",
    security(("staff_session" = [])),
    responses(
        (status = 200, description = "The dispute.",
         body = gridsync_server_core::service::disputes::DisputeDetail),
        (status = 401, response = openapi::Refused), (status = 403, response = openapi::Refused),
        (status = 404, response = openapi::Refused),
    )
)]
async fn one(
    state: web::Data<AppState>,
    who: Staff,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id)?;
    Ok(HttpResponse::Ok().json(state.service.dispute(&who.caller(), id).await?))
}

/// `{field, seen, pick}` or `{field, seen, value}` (`value` may be `null`: the field is cleared).
fn resolve_request(body: &[u8]) -> Result<ResolveConflict, ApiError> {
    let object: Map<String, Json> = json_body(body)?;
    let field = match object.get("field") {
        Some(Json::String(f)) if !f.is_empty() => f.clone(),
        _ => return Err(invalid("field", "name the field in conflict")),
    };
    let seen = match object.get("seen") {
        Some(Json::Array(ids)) => ids
            .iter()
            .map(|id| {
                id.as_str().ok_or_else(|| invalid("seen", "a list of ids")).and_then(|t| parse_dot("seen", t))
            })
            .collect::<Result<Vec<Dot>, ApiError>>()?,
        _ => return Err(invalid("seen", "list the ids of the competing values you were shown")),
    };
    let choice = match (object.get("pick"), object.get("value")) {
        (Some(Json::String(pick)), None) => Choice::Pick(parse_dot("pick", pick)?),
        (None, Some(value)) => Choice::Value(Value::from_json(value)),
        _ => return Err(invalid("pick", "give either pick (a competing value's id) or value (a new value)")),
    };
    Ok(ResolveConflict { field, seen, choice })
}

#[utoipa::path(
    post,
    path = "/v1/admin/disputes/{id}/resolve",
    tag = "disputes",
    summary = "Settle a field's conflict",
    params(("id" = String, Path, description = "The dispute's record id.")),
    description = "A change that supersedes every competing value the caller saw: `pick` one of them, or \
                   give a new `value`.",
    request_body(content = openapi::ResolveBody, content_type = "application/json"),
    security(("staff_session" = [])),
    responses(
        (status = 200, description = "The change written and the dispute after it.",
         body = gridsync_server_core::service::disputes::DeskWrite),
        (status = 400, response = openapi::Refused), (status = 401, response = openapi::Refused),
        (status = 403, response = openapi::Refused), (status = 404, response = openapi::Refused),
        (status = 409, response = openapi::Refused),
    )
)]
async fn resolve(
    state: web::Data<AppState>,
    id: web::Path<String>,
    Authed { who, body }: Authed<Staff>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id)?;
    let request = resolve_request(&body)?;
    Ok(HttpResponse::Ok().json(state.service.resolve_dispute_conflict(&who.caller(), id, request).await?))
}

#[derive(Deserialize, ToSchema)]
struct StepBody {
    /// The step: `accept`, `mediate`, `resolve`, `escalate`, `transfer`, …
    action: String,
    /// The step it follows: the detail's `head` (`DEVICE:COUNTER`).
    after: Option<String>,
    /// Where an escalation goes (default: the place above the owner).
    to: Option<String>,
    /// The department a transfer goes to.
    unit: Option<String>,
    /// A transfer letter's number.
    letter_number: Option<String>,
    /// A note on the step.
    note: Option<String>,
}

/// `{action, after?, to?, unit?, letter_number?, note?}`.
fn step_request(body: &[u8]) -> Result<DeskStep, ApiError> {
    let body: StepBody = json_body(body)?;
    let action: Action = body.action.parse().map_err(|e: String| invalid("action", &e))?;
    let after = body.after.as_deref().map(|a| parse_dot("after", a)).transpose()?;
    Ok(DeskStep {
        action,
        after,
        to: body.to,
        unit: body.unit,
        letter_number: body.letter_number,
        note: body.note,
    })
}

#[utoipa::path(
    post,
    path = "/v1/admin/disputes/{id}/steps",
    tag = "disputes",
    summary = "Take a lifecycle step",
    params(("id" = String, Path, description = "The dispute's record id.")),
    description = "Accept, mediate, resolve, escalate, transfer… as the lifecycle rules allow; `after` is \
                   the detail's `head`.",
    request_body(content = StepBody, content_type = "application/json"),
    security(("staff_session" = [])),
    responses(
        (status = 200, description = "The change written and the dispute after it.",
         body = gridsync_server_core::service::disputes::DeskWrite),
        (status = 400, response = openapi::Refused), (status = 401, response = openapi::Refused),
        (status = 403, response = openapi::Refused), (status = 404, response = openapi::Refused),
        (status = 409, response = openapi::Refused),
    )
)]
async fn step(
    state: web::Data<AppState>,
    id: web::Path<String>,
    Authed { who, body }: Authed<Staff>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id)?;
    let step = step_request(&body)?;
    Ok(HttpResponse::Ok().json(state.service.take_dispute_step(&who.caller(), id, step).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_bodies_need_a_field_the_seen_ids_and_one_choice() {
        let dot = "0190f3a2-7b1c-4d4e-8f00-123456789abc:2";
        let pick = format!(r#"{{"field":"risk","seen":["{dot}"],"pick":"{dot}"}}"#);
        let request = resolve_request(pick.as_bytes()).expect("a pick");
        assert_eq!((request.field.as_str(), request.seen.len()), ("risk", 1));
        assert!(matches!(request.choice, Choice::Pick(_)));
        let clear = format!(r#"{{"field":"due","seen":["{dot}"],"value":null}}"#);
        assert_eq!(resolve_request(clear.as_bytes()).expect("a value").choice, Choice::Value(Value::Null));
        for bad in [
            format!(r#"{{"field":"risk","seen":["{dot}"]}}"#),
            format!(r#"{{"field":"risk","seen":["{dot}"],"pick":"{dot}","value":3}}"#),
            format!(r#"{{"field":"risk","pick":"{dot}"}}"#),
            r#"{"field":"risk","seen":["nope"],"value":3}"#.to_owned(),
            "[]".to_owned(),
        ] {
            assert!(resolve_request(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn step_bodies_carry_the_escalation_s_target() {
        let step = step_request(br#"{"action":"escalate","to":"620802100"}"#).expect("a step");
        assert_eq!((step.action, step.to.as_deref()), (Action::Escalate, Some("620802100")));
        let plain = step_request(br#"{"action":"accept"}"#).expect("a step");
        assert_eq!(plain.to, None);
        assert!(step_request(br#"{"action":"bribe"}"#).is_err());
        assert!(step_request(br#"{"action":"accept","after":"nope"}"#).is_err());
    }
}
