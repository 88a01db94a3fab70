//! One dispute's page: its fields, step history, mediation sessions and
//! each field in conflict with every competing value side by side, its
//! attachments ([`super::super::attachments`]); under
//! them the desk's forms ([`super::desk`]) that the service offers this
//! reader ([`gridsync_server_core::service::disputes::DeskOffer`]).

use actix_web::{HttpResponse, web};
use gridsync_proto::Place;
use gridsync_proto::dispute::StepStatus;
use gridsync_proto::view::{EntryView, StampView, StepView};
use gridsync_server_core::service::disputes::{DisputeDetail, DisputeLine};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value as Json;

use super::super::super::failure::{Failure, OrPage};
use super::super::super::i18n::Texts;
use super::super::super::layout::{self, Section};
use super::super::super::session::Admin;
use super::super::{enc, local_time, place_name, places, respond};
use super::desk;
use crate::web::AppState;
use crate::web::disputes_api::parse_id;

#[derive(Deserialize)]
pub(super) struct DoneQuery {
    done: Option<String>,
}

fn done_text(t: &Texts, key: Option<&str>) -> Option<&'static str> {
    match key? {
        "resolved" => Some(t.done_resolved),
        "step" => Some(t.done_step),
        _ => None,
    }
}

/// `GET /console/disputes/{id}`: one dispute in full, with its forms.
pub(super) async fn one(
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<String>,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, Failure> {
    let (lang, caller) = (admin.lang, admin.caller());
    let t = lang.texts();
    let id = parse_id(&id).or_page(lang)?;
    let detail = state.service.dispute(&caller, id).await.or_page(lang)?;
    let (places, _) = places(&state, &admin).await?;
    let units = if detail.desk.steps.is_empty() {
        Vec::new()
    } else {
        state.service.list_units(&caller).await.or_page(lang)?
    };
    let attachments = state.service.record_attachments(&caller, id).await.or_page(lang)?;
    let line = &detail.line;
    let title = format!("{} · {}", line.category, lang.stage(line.stage));
    let body = html! {
        h1 { (t.dispute_title) " · " (title) }
        p { a href={ "/console/disputes?place=" (enc(&line.owner)) } { (t.back) } " · " code { (line.id) } }
        (layout::notice(done_text(t, query.done.as_deref())))
        (summary(&state, &admin, &places, line))
        h2 { (t.conflicts_heading) }
        (conflicts(&state, &admin, &detail))
        h2 { (t.fields_heading) }
        (fields(t, &detail))
        h2 { (t.history_heading) }
        (history(&state, &admin, &places, &detail))
        h2 { (t.mediations_heading) }
        (mediations(&state, &admin, &detail.mediations))
        h2 { (t.attachments_heading) }
        (super::super::attachments::section(&state, &admin, id, &attachments))
        h2 { (t.steps_heading) }
        (desk::step_forms(&admin, &places, &units, &detail))
    };
    Ok(respond(layout::page(&admin, Section::Disputes, t.dispute_title, body)))
}

/// The dispute's line: stage, owner, department, dates.
fn summary(state: &AppState, admin: &Admin, places: &[Place], line: &DisputeLine) -> Markup {
    let (lang, t) = (admin.lang, admin.lang.texts());
    html! {
        dl.card id="summary" data-stage=(line.stage.name()) {
            dt { (t.stage) } dd id="stage" { (lang.stage(line.stage)) }
            dt { (t.owner) } dd id="owner" data-owner=(line.owner) {
                (place_name(places, &line.owner)) " " span.muted { (line.owner) }
            }
            @if let Some(unit) = &line.handler { dt { (t.handler) } dd { (unit) } }
            dt { (t.registered) } dd { (local_time(state, line.registered_ms)) }
            @if let Some(due) = &line.due {
                dt { (t.due) } dd { (due) @if line.overdue { " " strong.overdue { (t.overdue) } } }
            }
        }
    }
}

/// A JSON value as text: strings as they are, the rest as JSON.
pub(super) fn shown(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        Json::Null => String::new(),
        other => other.to_string(),
    }
}

/// Every field's shown value.
fn fields(t: &Texts, detail: &DisputeDetail) -> Markup {
    html! {
        div.scroll {
            table id="fields" {
                thead { tr { th { (t.field) } th { (t.value) } } }
                tbody {
                    @for (name, value) in &detail.record.fields {
                        tr data-field=(name) { th { (name) } td.value { (shown(value)) } }
                    }
                }
            }
        }
    }
}

/// Each field in conflict: its candidates side by side, and the forms
/// that settle it when the reader may.
fn conflicts(state: &AppState, admin: &Admin, detail: &DisputeDetail) -> Markup {
    let t = admin.lang.texts();
    html! {
        @if detail.conflicts.is_empty() {
            p.muted id="no-conflicts" { (t.no_conflicts) }
        }
        @for conflict in &detail.conflicts {
            section.conflict data-field=(conflict.field) {
                h3 { (t.field) ": " code { (conflict.field) } }
                div.candidates {
                    @for c in &conflict.candidates {
                        div.card.candidate data-candidate=(c.id) {
                            p.value { strong { (shown(&c.value)) } }
                            (origin(state, t, &c.stamp))
                            @if c.desk { p.muted { (t.desk_value) } }
                            @if detail.desk.resolve { (desk::pick_form(admin, &detail.line.id, conflict, &c.id)) }
                        }
                    }
                }
                @if detail.desk.resolve { (desk::new_value_form(admin, &detail.line.id, conflict)) }
            }
        }
    }
}

/// Who wrote a value, on which device, and when.
fn origin(state: &AppState, t: &Texts, stamp: &StampView) -> Markup {
    html! {
        dl.origin {
            dt { (t.written_by) } dd.author { (stamp.author) }
            dt { (t.device) } dd { code.device { (stamp.device) } }
            dt { (t.device_time) } dd {
                (local_time(state, stamp.time_ms))
                @if stamp.clock_suspect { " " strong.suspect { (t.clock_suspect) } }
            }
            dt { (t.received) } dd { @if let Some(ms) = stamp.received_ms { (local_time(state, ms)) } }
        }
    }
}

/// The step history in lifecycle order, with each step's status.
fn history(state: &AppState, admin: &Admin, places: &[Place], detail: &DisputeDetail) -> Markup {
    let t = admin.lang.texts();
    let steps: &[StepView] = detail.lifecycle.as_ref().map_or(&[], |l| l.steps.as_slice());
    html! {
        div.scroll {
            table id="history" {
                thead { tr {
                    th { (t.time) } th { (t.action) } th { (t.status) } th { (t.by) } th { (t.detail) }
                } }
                tbody {
                    @for s in steps { (step_row(state, admin, places, s)) }
                }
            }
        }
    }
}

/// One step of the history.
fn step_row(state: &AppState, admin: &Admin, places: &[Place], s: &StepView) -> Markup {
    let (lang, t) = (admin.lang, admin.lang.texts());
    let (status, text) = match s.status {
        StepStatus::Applied => ("applied", t.step_applied),
        StepStatus::Overridden => ("overridden", t.step_overridden),
        StepStatus::Waiting => ("waiting", t.step_waiting),
    };
    let place = s.by_place.as_deref().map(|p| place_name(places, p));
    let by = [Some(s.stamp.author.as_str()), Some(s.by_role.as_str()), place, s.by_unit.as_deref()];
    let by: Vec<&str> = by.into_iter().flatten().collect();
    let about = [
        s.to.as_deref().map(|p| format!("→ {}", place_name(places, p))),
        s.unit.clone(),
        s.letter_number.as_ref().map(|n| format!("{} {n}", t.letter_number)),
        s.note.clone(),
    ];
    let about: Vec<String> = about.into_iter().flatten().collect();
    html! {
        tr data-step=(s.id) data-action=(s.action) data-status=(status) data-to=[s.to.as_deref()] {
            td { (local_time(state, s.stamp.time_ms)) }
            td { (lang.action(&s.action)) }
            td.step-status { (text) }
            td { (by.join(" · ")) }
            td { (about.join(" · ")) }
        }
    }
}

/// The mediation sessions, oldest first.
fn mediations(state: &AppState, admin: &Admin, entries: &[EntryView]) -> Markup {
    let t = admin.lang.texts();
    html! {
        @if entries.is_empty() {
            p.muted id="no-mediations" { (t.no_mediations) }
        } @else {
            ol id="mediations" {
                @for e in entries {
                    li {
                        (local_time(state, e.stamp.time_ms)) " · " (e.stamp.author)
                        dl { @for (k, v) in &e.body { dt { (k) } dd { (shown(v)) } } }
                    }
                }
            }
        }
    }
}
