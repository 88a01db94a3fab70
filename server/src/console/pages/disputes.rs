//! 纠纷: the dispute desk on screen, on the service's desk
//! ([`gridsync_server_core::service::disputes`], ADR 0016). The list page
//! reads [`gridsync_server_core::Service::list_disputes`] with the filters
//! of the admin API (its query is parsed by the API's own code), newest
//! first with the service's cursor; a line holds nothing personal. The
//! dispute page reads [`gridsync_server_core::Service::dispute`]: its
//! fields, step history, mediation sessions and each field in conflict with
//! every competing value side by side, each with a form that keeps it; and
//! the forms of the lifecycle steps the desk takes (accept, escalate,
//! transfer with its letter number, close) that the dispute's stage allows.
//! Every write names what the page showed (`seen`, `after`), so a dispute
//! that moved on meanwhile is refused by the service, never overwritten.

use actix_web::{HttpRequest, HttpResponse, web};
use gridsync_proto::dispute::StepStatus;
use gridsync_proto::view::{EntryView, StampView, StepView};
use gridsync_proto::{Action, Dot, Place, Stage, Unit};
use gridsync_server_core::service::disputes::{
    Choice, DeskStep, DisputeDetail, DisputeLine, DisputePage, FieldConflict, ResolveConflict,
};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value as Json;

use super::super::failure::{Failure, OrPage};
use super::super::i18n::Texts;
use super::super::layout::{self, Section};
use super::super::session::Admin;
use super::{enc, local_time, place_name, place_options, places, respond, see_other};
use crate::web::AppState;
use crate::web::disputes_api::{ListQuery, parse_dot, parse_id};

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/disputes", web::get().to(list))
        .route("/disputes/{id}", web::get().to(one))
        .route("/disputes/{id}/resolve", web::post().to(resolve))
        .route("/disputes/{id}/steps", web::post().to(step));
}

/// The list's filters as the form sends them (an empty choice is no filter).
#[derive(Deserialize, Default, Clone)]
struct ListForm {
    place: Option<String>,
    stage: Option<String>,
    category: Option<String>,
    risk: Option<String>,
    owner: Option<String>,
    overdue: Option<String>,
    flagged: Option<String>,
    conflict: Option<String>,
    before: Option<String>,
}

/// `Some` of a trimmed, non-empty text.
fn filled(text: Option<&String>) -> Option<String> {
    text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())
}

impl ListForm {
    /// The admin API's query, for `place`.
    fn api_query(&self, place: &str) -> ListQuery {
        ListQuery {
            place: Some(place.to_owned()),
            stage: filled(self.stage.as_ref()),
            category: filled(self.category.as_ref()),
            risk: filled(self.risk.as_ref()),
            owner: filled(self.owner.as_ref()),
            overdue: filled(self.overdue.as_ref()),
            flagged: filled(self.flagged.as_ref()),
            conflict: filled(self.conflict.as_ref()),
            before: filled(self.before.as_ref()),
            limit: None,
        }
    }

    /// The page's address without its cursor, for the paging links.
    fn base(&self, place: &str) -> String {
        let mut url = format!("/console/disputes?place={}", enc(place));
        let params = [
            ("stage", &self.stage),
            ("category", &self.category),
            ("risk", &self.risk),
            ("owner", &self.owner),
            ("overdue", &self.overdue),
            ("flagged", &self.flagged),
            ("conflict", &self.conflict),
        ];
        for (name, value) in params {
            if let Some(value) = filled(value.as_ref()) {
                url.push_str(&format!("&{name}={}", enc(&value)));
            }
        }
        url
    }

    /// Whether a yes/no filter is on.
    fn on(value: &Option<String>) -> bool {
        matches!(value.as_deref(), Some("true" | "1"))
    }
}

/// `GET /console/disputes`: the filters and one page of lines.
async fn list(
    state: web::Data<AppState>,
    admin: Admin,
    form: web::Query<ListForm>,
) -> Result<HttpResponse, Failure> {
    let (lang, t) = (admin.lang, admin.lang.texts());
    let (places, default) = places(&state, &admin).await?;
    let form = form.into_inner();
    let place = filled(form.place.as_ref()).unwrap_or(default);
    let query = form.api_query(&place).into_query().or_page(lang)?;
    let page = state.service.list_disputes(&admin.caller(), query).await.or_page(lang)?;
    let base = form.base(&place);
    let body = html! {
        h1 { (t.disputes_title) " · " (place_name(&places, &place)) }
        (filters(&admin, &places, &place, &form))
        p.muted id="count" {
            span id="count-total" { (page.total) } " " (t.disputes_matching) " · "
            (t.this_page) " " span id="count-shown" { (page.items.len()) }
        }
        @if page.items.is_empty() {
            p.muted id="no-disputes" { (t.no_disputes) }
        } @else {
            (lines(&state, &admin, &places, &page))
        }
        nav.pager {
            @if form.before.is_some() { a id="first-page" href=(base) { (t.first_page) } }
            @if let Some(next) = &page.next {
                a id="older" href={ (base) "&before=" (enc(next)) } { (t.older) }
            }
        }
    };
    Ok(respond(layout::page(&admin, Section::Disputes, t.disputes_title, body)))
}

/// The filter form.
fn filters(admin: &Admin, places: &[Place], place: &str, form: &ListForm) -> Markup {
    let (lang, t) = (admin.lang, admin.lang.texts());
    let stage = form.stage.as_deref().unwrap_or("");
    let risk = form.risk.as_deref().unwrap_or("");
    html! {
        form.bar id="filters" method="get" action="/console/disputes" {
            label { (t.place) select name="place" { (place_options(places, admin, place)) } }
            label { (t.stage) select name="stage" {
                option value="" { (t.any) }
                @for s in Stage::ALL { option value=(s.name()) selected[s.name() == stage] { (lang.stage(s)) } }
            } }
            label { (t.category) input name="category" value=(form.category.as_deref().unwrap_or("")); }
            label { (t.risk) select name="risk" {
                option value="" { (t.any) }
                @for r in ["1", "2", "3", "4"] { option value=(r) selected[r == risk] { (r) } }
            } }
            label { (t.owner_optional) input name="owner" value=(form.owner.as_deref().unwrap_or("")); }
            label.inline { input type="checkbox" name="overdue" value="true" checked[ListForm::on(&form.overdue)]; (t.overdue) }
            label.inline { input type="checkbox" name="conflict" value="true" checked[ListForm::on(&form.conflict)]; (t.in_conflict) }
            label.inline { input type="checkbox" name="flagged" value="true" checked[ListForm::on(&form.flagged)]; (t.flagged) }
            button type="submit" { (t.show) }
        }
    }
}

/// The table of one page's lines.
fn lines(state: &AppState, admin: &Admin, places: &[Place], page: &DisputePage) -> Markup {
    let (lang, t) = (admin.lang, admin.lang.texts());
    html! {
        div.scroll {
            table id="disputes" {
                thead { tr {
                    th { (t.dispute_id) } th { (t.category) } th { (t.stage) } th { (t.owner) }
                    th { (t.handler) } th { (t.registered) } th.num { (t.risk) } th { (t.due) }
                    th { (t.conflicts_heading) } th.num { (t.step_count) }
                } }
                tbody {
                    @for line in &page.items {
                        tr data-id=(line.id) data-stage=(line.stage.name()) data-conflict=(!line.conflicts.is_empty())
                            data-overdue=(line.overdue) data-flagged=(line.flagged) {
                            td { a href={ "/console/disputes/" (line.id) } { code { (short_id(&line.id)) } } }
                            td { (line.category) }
                            td { (lang.stage(line.stage)) }
                            td { (place_name(places, &line.owner)) }
                            td { (line.handler.as_deref().unwrap_or("")) }
                            td { (local_time(state, line.registered_ms)) }
                            td.num { @if let Some(r) = line.risk { (r) } }
                            td {
                                (line.due.as_deref().unwrap_or(""))
                                @if line.overdue { " " strong.overdue { (t.overdue) } }
                            }
                            td.conflicts { (line.conflicts.join(", ")) }
                            td.num { (line.steps) }
                        }
                    }
                }
            }
        }
    }
}

/// The first part of an id, enough to tell lines apart on screen.
fn short_id(id: &str) -> &str {
    id.get(..13).unwrap_or(id)
}

#[derive(Deserialize)]
struct DoneQuery {
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
async fn one(
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
    let units = state.service.list_units(&caller).await.or_page(lang)?;
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
        h2 { (t.steps_heading) }
        (step_forms(&admin, &places, &units, &detail))
    };
    Ok(respond(layout::page(&admin, Section::Disputes, t.dispute_title, body)))
}

/// The dispute's line: stage, owner, department, dates.
fn summary(state: &AppState, admin: &Admin, places: &[Place], line: &DisputeLine) -> Markup {
    let (lang, t) = (admin.lang, admin.lang.texts());
    html! {
        dl.card id="summary" data-stage=(line.stage.name()) {
            dt { (t.stage) } dd id="stage" { (lang.stage(line.stage)) }
            dt { (t.owner) } dd { (place_name(places, &line.owner)) " " span.muted { (line.owner) } }
            @if let Some(unit) = &line.handler { dt { (t.handler) } dd { (unit) } }
            dt { (t.registered) } dd { (local_time(state, line.registered_ms)) }
            @if let Some(due) = &line.due {
                dt { (t.due) } dd { (due) @if line.overdue { " " strong.overdue { (t.overdue) } } }
            }
        }
    }
}

/// A JSON value as text: strings as they are, the rest as JSON.
fn shown(value: &Json) -> String {
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

/// Each field in conflict, its candidates side by side, a form each.
fn conflicts(state: &AppState, admin: &Admin, detail: &DisputeDetail) -> Markup {
    let t = admin.lang.texts();
    html! {
        @if detail.conflicts.is_empty() {
            p.muted id="no-conflicts" { (t.no_conflicts) }
        }
        @for conflict in &detail.conflicts {
            section.conflict data-field=(conflict.field) {
                h3 { (t.field) ": " code { (conflict.field) } }
                div.candidates { (candidates(state, admin, &detail.line.id, conflict)) }
            }
        }
    }
}

/// One field's candidates, each with the form that keeps it.
fn candidates(state: &AppState, admin: &Admin, id: &str, conflict: &FieldConflict) -> Markup {
    let t = admin.lang.texts();
    let seen: Vec<&str> = conflict.candidates.iter().map(|c| c.id.as_str()).collect();
    let seen = seen.join(",");
    html! {
        @for c in &conflict.candidates {
            div.card.candidate data-candidate=(c.id) {
                p.value { strong { (shown(&c.value)) } }
                (origin(state, t, &c.stamp))
                @if c.desk { p.muted { (t.desk_value) } }
                form method="post" action={ "/console/disputes/" (id) "/resolve" } {
                    (layout::csrf_field(admin))
                    input type="hidden" name="field" value=(conflict.field);
                    input type="hidden" name="seen" value=(seen);
                    input type="hidden" name="pick" value=(c.id);
                    button type="submit" { (t.pick_value) }
                }
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
        tr data-step=(s.id) data-action=(s.action) data-status=(status) {
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

/// Whether the desk offers `action` at `stage` (the stage machine's own
/// rule; the service still judges the caller's role and place).
fn offered(action: Action, stage: Stage) -> bool {
    use Stage::*;
    match action {
        Action::Accept => stage == Found,
        Action::Escalate => matches!(stage, Found | Accepted | Mediating),
        Action::Transfer => matches!(stage, Accepted | Mediating),
        Action::Close => matches!(stage, Resolved | FollowedUp),
        _ => false,
    }
}

/// The forms of the desk's steps that the dispute's stage allows.
fn step_forms(admin: &Admin, places: &[Place], units: &[Unit], detail: &DisputeDetail) -> Markup {
    let t = admin.lang.texts();
    let stage = detail.line.stage;
    let above = places
        .iter()
        .find(|p| p.code == detail.line.owner)
        .and_then(|p| p.parent.as_deref())
        .and_then(|code| places.iter().find(|p| p.code == code));
    let escalates = offered(Action::Escalate, stage) && above.is_some();
    let any = [Action::Accept, Action::Transfer, Action::Close].into_iter().any(|a| offered(a, stage));
    html! {
        @if !any && !escalates {
            p.muted id="no-steps" { (t.no_steps) }
        }
        div.steps id="steps" {
            @if offered(Action::Accept, stage) { (step_form(admin, detail, Action::Accept, html! {})) }
            @if let Some(above) = above.filter(|_| escalates) {
                (step_form(admin, detail, Action::Escalate, escalate_fields(t, above)))
            }
            @if offered(Action::Transfer, stage) {
                (step_form(admin, detail, Action::Transfer, transfer_fields(t, units)))
            }
            @if offered(Action::Close, stage) { (step_form(admin, detail, Action::Close, html! {})) }
        }
    }
}

/// The escalation's target: the place above the owner (the service sends it there).
fn escalate_fields(t: &Texts, above: &Place) -> Markup {
    html! {
        p.escalate-to { (t.escalate_to) ": " strong { (above.name) } " (" (above.code) ")" }
    }
}

/// A transfer's department and letter number.
fn transfer_fields(t: &Texts, units: &[Unit]) -> Markup {
    html! {
        label { (t.unit) select name="unit" required {
            @for u in units { option value=(u.code) { (u.name) " (" (u.code) ")" } }
        } }
        label { (t.letter_number) input name="letter_number" required maxlength="64"; }
    }
}

/// One step's form: its own fields, a note, the dispute's head.
fn step_form(admin: &Admin, detail: &DisputeDetail, action: Action, extra: Markup) -> Markup {
    let (lang, t) = (admin.lang, admin.lang.texts());
    html! {
        form.card.step id={ "step-" (action.name()) } method="post"
            action={ "/console/disputes/" (detail.line.id) "/steps" } {
            (layout::csrf_field(admin))
            input type="hidden" name="action" value=(action.name());
            @if let Some(head) = &detail.head { input type="hidden" name="after" value=(head); }
            (extra)
            label { (t.note) input name="note" maxlength="500"; }
            button type="submit" { (lang.action(action.name())) }
        }
    }
}

#[derive(Deserialize)]
struct ResolveForm {
    #[serde(default)]
    csrf: String,
    field: String,
    seen: String,
    pick: String,
}

impl ResolveForm {
    /// The service's request: keep `pick`, replacing the `seen` values.
    fn request(self) -> Result<ResolveConflict, crate::web::ApiError> {
        let seen = self
            .seen
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| parse_dot("seen", s))
            .collect::<Result<Vec<Dot>, _>>()?;
        let pick = parse_dot("pick", &self.pick)?;
        Ok(ResolveConflict { field: self.field, seen, choice: Choice::Pick(pick) })
    }
}

/// `POST /console/disputes/{id}/resolve`: keep one candidate.
async fn resolve(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<String>,
    form: web::Form<ResolveForm>,
) -> Result<HttpResponse, Failure> {
    admin.check_csrf(&state, &req, &form.csrf).await?;
    let lang = admin.lang;
    let id = parse_id(&id).or_page(lang)?;
    let request = form.into_inner().request().or_page(lang)?;
    state.service.resolve_dispute_conflict(&admin.caller(), id, request).await.or_page(lang)?;
    Ok(see_other(&format!("/console/disputes/{id}?done=resolved")))
}

#[derive(Deserialize)]
struct StepForm {
    #[serde(default)]
    csrf: String,
    action: String,
    after: Option<String>,
    unit: Option<String>,
    letter_number: Option<String>,
    note: Option<String>,
}

impl StepForm {
    /// The service's step (the escalation's target is the service's to choose).
    fn step(self) -> Result<DeskStep, crate::web::ApiError> {
        let action: Action = self.action.parse().map_err(|e: String| {
            crate::web::ApiError::new(gridsync_proto::ErrorCode::InvalidRequest, format!("action: {e}"))
        })?;
        let after = filled(self.after.as_ref()).map(|a| parse_dot("after", &a)).transpose()?;
        Ok(DeskStep {
            action,
            after,
            unit: filled(self.unit.as_ref()),
            letter_number: filled(self.letter_number.as_ref()),
            note: filled(self.note.as_ref()),
        })
    }
}

/// `POST /console/disputes/{id}/steps`: take a lifecycle step.
async fn step(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<String>,
    form: web::Form<StepForm>,
) -> Result<HttpResponse, Failure> {
    admin.check_csrf(&state, &req, &form.csrf).await?;
    let lang = admin.lang;
    let id = parse_id(&id).or_page(lang)?;
    let step = form.into_inner().step().or_page(lang)?;
    state.service.take_dispute_step(&admin.caller(), id, step).await.or_page(lang)?;
    Ok(see_other(&format!("/console/disputes/{id}?done=step")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_keeps_its_filters_in_the_paging_links() {
        let form = ListForm {
            stage: Some("accepted".into()),
            conflict: Some("true".into()),
            category: Some(" ".into()),
            before: Some("x".into()),
            ..ListForm::default()
        };
        assert_eq!(form.base("620802100"), "/console/disputes?place=620802100&stage=accepted&conflict=true");
        let query = form.api_query("620802100");
        assert_eq!((query.category, query.before.as_deref()), (None, Some("x")));
    }

    #[test]
    fn resolve_forms_name_the_seen_values_and_the_pick() {
        let dot = "0190f3a2-7b1c-4d4e-8f00-123456789abc:2";
        let form = ResolveForm {
            csrf: String::new(),
            field: "risk".into(),
            seen: format!("{dot},{dot}"),
            pick: dot.into(),
        };
        let request = form.request().expect("a request");
        assert_eq!(request.seen.len(), 2);
        let bad =
            ResolveForm { csrf: String::new(), field: "risk".into(), seen: "nope".into(), pick: dot.into() };
        assert!(bad.request().is_err());
    }

    #[test]
    fn the_desk_offers_the_steps_the_stage_allows() {
        assert!(offered(Action::Accept, Stage::Found) && !offered(Action::Accept, Stage::Accepted));
        assert!(offered(Action::Close, Stage::Resolved) && !offered(Action::Close, Stage::Mediating));
        assert!(offered(Action::Transfer, Stage::Mediating) && !offered(Action::Escalate, Stage::Closed));
    }
}
