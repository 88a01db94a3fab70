//! 审计日志: the audit log, newest first, a page at a time, filtered by
//! actor, action and outcome ([`gridsync_server_core::Service::audit_log`]),
//! under the chain's verification status: checked since the last view, the
//! position it covers and how many rows this view checked, or the first
//! break found ([`gridsync_server_core::Service::audit_chain`]); the link
//! `?verify=all` checks from the first row again. For administrators and
//! auditors, as the service decides.

use actix_web::{HttpResponse, web};
use gridsync_server_core::audit::{ChainReport, Verdict};
use gridsync_server_core::service::audit_log::AuditQuery;
use maud::{Markup, html};
use serde::Deserialize;

use super::super::failure::{Failure, OrPage};
use super::super::layout::{self, Section};
use super::super::session::Admin;
use super::{enc, local_time, respond};
use crate::web::AppState;

/// Rows per page.
const PAGE: usize = 50;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/audit", web::get().to(audit));
}

#[derive(Deserialize)]
struct AuditParams {
    actor: Option<String>,
    action: Option<String>,
    refusals: Option<String>,
    before: Option<u64>,
    verify: Option<String>,
}

fn some(text: &Option<String>) -> Option<String> {
    text.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned)
}

async fn audit(
    state: web::Data<AppState>,
    admin: Admin,
    params: web::Query<AuditParams>,
) -> Result<HttpResponse, Failure> {
    let (lang, caller) = (admin.lang, admin.caller());
    let t = lang.texts();
    let from_first = params.verify.as_deref() == Some("all");
    let chain = state.service.audit_chain(&caller, from_first).await.or_page(lang)?;
    let query = AuditQuery {
        before: params.before,
        actor: some(&params.actor),
        action: some(&params.action),
        refusals_only: params.refusals.as_deref() == Some("1"),
        limit: PAGE,
    };
    let filters = format!(
        "actor={}&action={}{}",
        enc(query.actor.as_deref().unwrap_or("")),
        enc(query.action.as_deref().unwrap_or("")),
        if query.refusals_only { "&refusals=1" } else { "" }
    );
    let (actor, action, refusals) = (query.actor.clone(), query.action.clone(), query.refusals_only);
    let first_page = query.before.is_some();
    let page = state.service.audit_log(&caller, query).await.or_page(lang)?;
    let body = html! {
        h1 { (t.audit_title) }
        (chain_state(&admin, &chain))
        form.bar method="get" action="/console/audit" {
            label { (t.actor) input name="actor" value=(actor.unwrap_or_default()); }
            label { (t.action) input name="action" value=(action.unwrap_or_default()) placeholder="device."; }
            label.inline { input type="checkbox" name="refusals" value="1" checked[refusals]; (t.refusals_only) }
            button type="submit" { (t.filter) }
        }
        @if page.rows.is_empty() {
            p.muted { (t.no_rows) }
        } @else {
            div.scroll {
                table id="audit" {
                    thead { tr {
                        th.num { (t.seq) } th { (t.time) } th { (t.actor) } th { (t.action) }
                        th { (t.target) } th { (t.outcome) } th { (t.detail) }
                    } }
                    tbody {
                        @for row in &page.rows {
                            tr data-seq=(row.seq) data-action=(row.event.action) data-outcome=(row.event.outcome) {
                                td.num { (row.seq) }
                                td { (local_time(&state, row.time_ms)) }
                                td { (row.event.actor) }
                                td { code { (row.event.action) } }
                                td { (row.event.target) }
                                td { (row.event.outcome) }
                                td { (row.event.detail) }
                            }
                        }
                    }
                }
            }
        }
        nav.pager {
            @if first_page { a href={ "/console/audit?" (filters) } { (t.first_page) } }
            @if let Some(before) = page.next_before {
                a id="older" href={ "/console/audit?" (filters) "&before=" (before) } { (t.older) }
            }
        }
    };
    Ok(respond(layout::page(&admin, Section::Audit, t.audit_title, body)))
}

/// The chain's verdict: intact up to a position, or broken at one.
fn chain_state(admin: &Admin, chain: &ChainReport) -> Markup {
    let t = admin.lang.texts();
    html! {
        @match &chain.verdict {
            Verdict::Intact { rows, head } => p.chain-ok id="chain" data-intact="true" data-covers=(rows)
                data-checked=(chain.checked) {
                (t.chain_intact) " · " (t.chain_covers) " " (rows) " · " (t.chain_checked_now) " " (chain.checked)
                " · " (t.head) " " code { (head.get(..16).unwrap_or(head)) "…" }
            },
            Verdict::Broken { seq, reason } => p.chain-bad id="chain" data-intact="false" data-broken=(seq)
                data-remembered=(chain.remembered) {
                (t.chain_broken) " · " (t.seq) " " (seq) " · " (reason)
                @if chain.remembered { " · " (t.chain_remembered) }
            },
        }
        p { a id="verify-all" href="/console/audit?verify=all" { (t.verify_whole_chain) } }
    }
}
