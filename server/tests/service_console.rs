//! The service operations the web console added, on a demo township:
//! `ledger_trend` gives each month the rates its month's ledger gives;
//! `change_own_password` wants the current password and ends the user's
//! other sessions, `set_password` all of them; `audit_log` pages and
//! is refused to township admins, like checking the chain.

mod common;

use gridsync_proto::{Date, ErrorCode};
use gridsync_server::demo::{self, DemoOptions};
use gridsync_server::operator::Operator;
use gridsync_server_core::clock::now_ms;
use gridsync_server_core::ledger::Month;
use gridsync_server_core::service::Caller;
use gridsync_server_core::service::audit_log::AuditQuery;

use common::{code_of, run};

const DAY_MS: u64 = 24 * 60 * 60 * 1000;

#[test]
fn the_console_operations_agree_with_the_ledgers_and_guard_their_doors() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let mut made = demo::fill(&data, &DemoOptions { days: 45, ..DemoOptions::default() })?;
    common::demo_staff_choose_their_own(&data, &mut made);
    let op = Operator::open_default(&data)?;
    let svc = op.service();
    let centre = run(&op, svc.login(&made.centre.0, &made.centre.1))?.user;
    let centre = Caller::Staff(centre);

    // Each month of the trend has the rates of that month's own ledger.
    let yesterday = Date::of_millis((now_ms() - DAY_MS) as i64, 480).expect("a date");
    let last: Month = yesterday.to_string()[..7].parse().expect("a month");
    let trend = run(&op, svc.ledger_trend(&centre, &made.township, last, 3))?;
    assert_eq!(trend.len(), 3);
    assert_eq!(trend.last().map(|p| p.month), Some(last));
    for point in &trend {
        let table = run(&op, svc.month_ledgers(&centre, &made.township, point.month))?.table;
        assert_eq!(point.resolution, table.total_disputes().resolution_rate(), "{}", point.month);
        assert_eq!(point.reporting, table.total_work().report_rate(), "{}", point.month);
    }
    assert!(trend.iter().any(|p| p.reporting.denominator > 0), "the demo's reports count");
    assert_eq!(code_of(run(&op, svc.ledger_trend(&centre, "620802", last, 12))), ErrorCode::Forbidden);

    // One's own password: the current one is required, a short one refused.
    // The change ends the user's other sessions and keeps the one it was made in.
    let other = run(&op, svc.login(&made.centre.0, &made.centre.1))?.token;
    let this = run(&op, svc.login(&made.centre.0, &made.centre.1))?.token;
    let wrong = run(&op, svc.change_own_password(&centre, "not it", "a long new password", Some(&this)));
    assert_eq!(code_of(wrong), ErrorCode::BadCredentials);
    let short = run(&op, svc.change_own_password(&centre, &made.centre.1, "short", Some(&this)));
    assert_eq!(code_of(short), ErrorCode::InvalidRequest);
    run(&op, svc.session_user(&other)).expect("a refused change ends no session");
    run(&op, svc.change_own_password(&centre, &made.centre.1, "a long new password", Some(&this)))?;
    assert_eq!(code_of(run(&op, svc.session_user(&other))), ErrorCode::Unauthenticated);
    assert_eq!(run(&op, svc.session_user(&this))?.name, made.centre.0, "this session stays");
    assert_eq!(code_of(run(&op, svc.login(&made.centre.0, &made.centre.1))), ErrorCode::BadCredentials);
    run(&op, svc.login(&made.centre.0, "a long new password"))?;
    // A password set for the user (by an admin or the operator) ends them all.
    run(&op, svc.set_password(&Caller::Operator, &made.centre.0, "another long password"))?;
    assert_eq!(code_of(run(&op, svc.session_user(&this))), ErrorCode::Unauthenticated);

    // The audit log: refused to a township admin (and that is audited), paged for the administrator.
    assert_eq!(code_of(run(&op, svc.audit_log(&centre, AuditQuery::default()))), ErrorCode::Forbidden);
    let admin = Caller::Staff(run(&op, svc.login(&made.admin.0, &made.admin.1))?.user);
    let refusals = AuditQuery { refusals_only: true, limit: 100, ..AuditQuery::default() };
    let page = run(&op, svc.audit_log(&admin, refusals))?;
    let actions: Vec<&str> = page.rows.iter().map(|r| r.event.action.as_str()).collect();
    for refused in ["audit.read", "user.password", "ledger.trend", "login"] {
        assert!(actions.contains(&refused), "{refused} refused and audited: {actions:?}");
    }
    assert!(page.rows.windows(2).all(|w| w[0].seq > w[1].seq), "newest first");
    let first = run(&op, svc.audit_log(&admin, AuditQuery { limit: 5, ..AuditQuery::default() }))?;
    assert_eq!(first.rows.len(), 5);
    let before = first.next_before.expect("an older page");
    assert_eq!(before, first.rows[4].seq);
    let second = run(
        &op,
        svc.audit_log(&admin, AuditQuery { before: Some(before), limit: 5, ..AuditQuery::default() }),
    )?;
    assert_eq!(second.rows.first().map(|r| r.seq), Some(before - 1), "the pages meet");
    Ok(())
}
