//! 今日: the day's daily reports (有事报信息、无事报平安) for a place of the
//! user's subtree, by village and grid: who filed all safe, who reported
//! items, who filed late and who filed nothing, with counts. One call to
//! [`gridsync_server_core::Service::daily_report`] (audited as
//! `report.daily`).

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use gridsync_proto::{Date, Hierarchy};
use gridsync_server_core::clock::now_ms;
use gridsync_server_core::service::reports::{Completeness, Filing, WorkerLine};
use maud::{Markup, html};
use serde::Deserialize;

use super::super::failure::{Failure, OrPage};
use super::super::i18n::Texts;
use super::super::layout::{self, Section};
use super::super::session::Admin;
use super::{local_time, place_name, place_options, places, respond};
use crate::web::AppState;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/today", web::get().to(today));
}

#[derive(Deserialize)]
struct TodayQuery {
    place: Option<String>,
    date: Option<String>,
}

/// A worker's standing, as the page counts it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Counts {
    safe: u32,
    items: u32,
    late: u32,
    missing: u32,
}

impl Counts {
    fn add(&mut self, line: &WorkerLine) {
        match line.filing {
            Filing::Missing => self.missing += 1,
            Filing::OnTime | Filing::Late => {
                if line.filing == Filing::Late {
                    self.late += 1;
                }
                if line.status.as_deref() == Some("has_items") {
                    self.items += 1;
                } else {
                    self.safe += 1;
                }
            }
        }
    }

    fn total(&self) -> u32 {
        self.safe + self.items + self.missing
    }
}

async fn today(
    state: web::Data<AppState>,
    admin: Admin,
    query: web::Query<TodayQuery>,
) -> Result<HttpResponse, Failure> {
    let lang = admin.lang;
    let offset = state.service.settings().utc_offset_minutes;
    let date = match query.date.as_deref().filter(|d| !d.is_empty()) {
        Some(text) => text.parse::<Date>().map_err(|_| Failure::invalid(lang, "date: YYYY-MM-DD"))?,
        None => Date::of_millis(i64::try_from(now_ms()).unwrap_or(i64::MAX), offset)
            .ok_or_else(|| Failure::invalid(lang, "date"))?,
    };
    let (places, default) = places(&state, &admin).await?;
    let place = query.place.clone().filter(|p| !p.is_empty()).unwrap_or(default);
    let report = state.service.daily_report(&admin.caller(), &place, date).await.or_page(lang)?;
    let t = lang.texts();
    let body = html! {
        h1 { (t.today_title) " · " (place_name(&places, &place)) }
        form.bar method="get" action="/console/today" {
            label { (t.place) select name="place" { (place_options(&places, &admin, &place)) } }
            label { (t.date) input type="date" name="date" value=(date.to_string()); }
            button type="submit" { (t.show) }
        }
        (summary(t, &report))
        p.muted { (t.deadline) ": " (local_time(&state, report.deadline_ms)) }
        (table(&state, t, &places, &report))
    };
    Ok(respond(layout::page(&admin, Section::Today, t.today_title, body)))
}

fn summary(t: &Texts, report: &Completeness) -> Markup {
    let mut all = Counts::default();
    for line in &report.workers {
        all.add(line);
    }
    html! {
        div.counts {
            div.count { (t.workers_total) strong id="count-total" { (all.total()) } }
            div.count { span.badge.safe { (t.st_safe) } strong id="count-safe" { (all.safe) } }
            div.count { span.badge.items { (t.st_items) } strong id="count-items" { (all.items) } }
            div.count { span.badge.late { (t.st_late) } strong id="count-late" { (all.late) } }
            div.count { span.badge.missing { (t.st_missing) } strong id="count-missing" { (all.missing) } }
        }
    }
}

fn table(state: &AppState, t: &Texts, places: &[gridsync_proto::Place], report: &Completeness) -> Markup {
    if report.workers.is_empty() {
        return html! { p.muted { (t.no_workers) } };
    }
    let dir = gridsync_proto::Directory::new(places.to_vec(), Vec::new());
    // Village (the grid's parent) → its workers' lines, by code.
    let mut villages: BTreeMap<String, Vec<&WorkerLine>> = BTreeMap::new();
    for line in &report.workers {
        let village = dir.parent(&line.place).unwrap_or(&line.place).to_owned();
        villages.entry(village).or_default().push(line);
    }
    html! {
        div.scroll {
            table id="today" {
                thead { tr { th { (t.grid) } th { (t.worker) } th { (t.status) } th { (t.filed_at) } } }
                tbody {
                    @for (village, lines) in &villages {
                        @let counts = {
                            let mut c = Counts::default();
                            for line in lines { c.add(line); }
                            c
                        };
                        tr.village data-place=(village) {
                            td colspan="4" {
                                (place_name(places, village)) " · "
                                (t.st_safe) " " (counts.safe) " · " (t.st_items) " " (counts.items) " · "
                                (t.st_late) " " (counts.late) " · " (t.st_missing) " " (counts.missing)
                            }
                        }
                        @for line in lines {
                            tr data-worker=(line.worker) data-filing=(filing_key(line.filing)) {
                                td { (place_name(places, &line.place)) }
                                td { (line.worker) }
                                td { (badges(t, line)) }
                                td { @if let Some(ms) = line.filed_ms { (local_time(state, ms)) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn filing_key(filing: Filing) -> &'static str {
    match filing {
        Filing::OnTime => "on_time",
        Filing::Late => "late",
        Filing::Missing => "missing",
    }
}

fn badges(t: &Texts, line: &WorkerLine) -> Markup {
    html! {
        @match line.filing {
            Filing::Missing => span.badge.missing { (t.st_missing) },
            _ => {
                @if line.status.as_deref() == Some("has_items") {
                    span.badge.items { (t.st_items) }
                } @else {
                    span.badge.safe { (t.st_safe) }
                }
                @if line.filing == Filing::Late { " " span.badge.late { (t.st_late) } }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(filing: Filing, status: Option<&str>) -> WorkerLine {
        WorkerLine {
            worker: "w".into(),
            place: "g".into(),
            filing,
            status: status.map(Into::into),
            filed_ms: None,
            received_ms: None,
        }
    }

    #[test]
    fn late_reports_count_as_late_and_by_what_they_say() {
        let mut c = Counts::default();
        c.add(&line(Filing::OnTime, Some("all_safe")));
        c.add(&line(Filing::Late, Some("has_items")));
        c.add(&line(Filing::Missing, None));
        assert_eq!(c, Counts { safe: 1, items: 1, late: 1, missing: 1 });
        assert_eq!(c.total(), 3);
    }
}
