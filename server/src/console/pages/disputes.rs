//! 纠纷: the dispute desk on screen, on the service's desk
//! ([`gridsync_server_core::service::disputes`], ADR 0016). The list page
//! reads [`gridsync_server_core::Service::list_disputes`] with the filters
//! of the admin API (its query is parsed by the API's own code), newest
//! first with the service's cursor; a line holds nothing personal. The
//! dispute page ([`one`]) reads [`gridsync_server_core::Service::dispute`]
//! and shows the desk's forms ([`desk`]) the service offers its reader.

mod desk;
mod one;

use actix_web::{HttpResponse, web};
use gridsync_proto::{Place, Stage};
use gridsync_server_core::service::disputes::DisputePage;
use maud::{Markup, html};
use serde::Deserialize;

use super::super::failure::{Failure, OrPage};
use super::super::layout::{self, Section};
use super::super::session::Admin;
use super::{enc, local_time, place_name, place_options, places, respond};
use crate::web::AppState;
use crate::web::disputes_api::ListQuery;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/disputes", web::get().to(list))
        .route("/disputes/{id}", web::get().to(one::one))
        .route("/disputes/{id}/resolve", web::post().to(desk::resolve))
        .route("/disputes/{id}/steps", web::post().to(desk::step));
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
}
