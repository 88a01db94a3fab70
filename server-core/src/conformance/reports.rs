//! The report read side: daily-report rows kept by the sync log, and the
//! completeness the service computes from them.

use std::sync::Arc;

use gridsync_proto::{RecordId, RecordKind, Value, daily_report_id};

use super::fixture::{GRID_A, GRID_B, TOWNSHIP, Town, now_ms, set, today};
use crate::service::Caller;
use crate::service::reports::Filing;
use crate::storage::{DailyReportRow, Storage, StorageExt};

async fn reports(storage: &Arc<dyn Storage>, from: String, to: String) -> Vec<DailyReportRow> {
    let mut rows =
        storage.read(move |tx| Ok(tx.daily_reports(&from, &to)?)).await.expect("daily reports read");
    rows.sort_by(|a, b| (&a.date, &a.worker).cmp(&(&b.date, &b.worker)));
    rows
}

/// A pushed daily report appears in `daily_reports` for its day (and only
/// its day), with the time it was first filed and received; a later save
/// changes what it says but keeps those times; the service's completeness
/// counts it on time, a report for yesterday filed today late, and a worker
/// with no report missing.
pub async fn daily_reports_are_read_back(storage: Arc<dyn Storage>) {
    let town = Town::new(storage.clone()).await;
    let svc = &town.service;
    let mut wa = town.worker("wa", GRID_A).await;
    let mut wb = town.worker("wb", GRID_B).await;
    town.worker("wc", GRID_B).await;
    let now = now_ms();
    let day = today(now);
    let yesterday = day.previous().expect("today has a yesterday");

    let filed = wa.daily_report(GRID_A, day, "all_safe", now);
    let first = wa.push_ok(svc, vec![filed.clone()]).await;
    let filed_ms = filed.iter().map(|c| c.time.millis.min(first.received_ms)).min().expect("a group");
    let row = DailyReportRow {
        worker: "wa".into(),
        date: day.to_string(),
        record: daily_report_id("wa", day),
        grid: GRID_A.into(),
        status: "all_safe".into(),
        filed_ms,
        received_ms: first.received_ms,
    };
    assert_eq!(
        reports(&storage, day.to_string(), day.to_string()).await,
        std::slice::from_ref(&row),
        "the report's row is kept"
    );

    let (patrol, group) = wa.patrol(GRID_A);
    wa.push_ok(svc, vec![group]).await;
    let items = Value::List(vec![Value::Text(patrol.to_string())]);
    let id: RecordId = daily_report_id("wa", day);
    let update = wa.write(
        id,
        RecordKind::DailyReport,
        vec![set("status", "has_items".into()), set("items", items)],
        now_ms(),
    );
    wa.push_ok(svc, vec![update]).await;
    let updated = DailyReportRow { status: "has_items".into(), ..row };
    assert_eq!(
        reports(&storage, day.to_string(), day.to_string()).await,
        [updated],
        "a later save changes what the row says and keeps when it was first filed and received"
    );

    let late = wb.daily_report(GRID_B, yesterday, "all_safe", now_ms());
    let answer = wb.push_ok(svc, vec![late]).await;
    let both = reports(&storage, yesterday.to_string(), day.to_string()).await;
    let workers: Vec<(&str, &str)> = both.iter().map(|r| (r.date.as_str(), r.worker.as_str())).collect();
    let (y, d) = (yesterday.to_string(), day.to_string());
    assert_eq!(workers, [(y.as_str(), "wb"), (d.as_str(), "wa")], "a range holds every day in it");
    assert_eq!(both[0].received_ms, answer.received_ms, "the late report's receipt is kept");
    let after = day.next().expect("today has a tomorrow").to_string();
    assert_eq!(reports(&storage, after.clone(), after).await, [], "a day without reports has no rows");

    let today_report =
        svc.daily_report(&Caller::Operator, TOWNSHIP, day).await.expect("today's completeness");
    let lines: Vec<(&str, Filing)> =
        today_report.workers.iter().map(|w| (w.worker.as_str(), w.filing)).collect();
    assert_eq!(
        lines,
        [("wa", Filing::OnTime), ("wb", Filing::Missing), ("wc", Filing::Missing)],
        "today: the filed report is on time, the others missing"
    );
    assert_eq!((today_report.on_time, today_report.late, today_report.missing), (1, 0, 2), "today's counts");
    let line = &today_report.workers[0];
    assert_eq!(
        (line.status.as_deref(), line.filed_ms, line.received_ms),
        (Some("has_items"), Some(filed_ms), Some(first.received_ms)),
        "the completeness line shows the row"
    );
    let yesterday_report =
        svc.daily_report(&Caller::Operator, TOWNSHIP, yesterday).await.expect("yesterday's");
    assert_eq!(
        (yesterday_report.on_time, yesterday_report.late, yesterday_report.missing),
        (0, 1, 2),
        "a report for yesterday filed today is late"
    );
    let grid = svc.daily_report(&Caller::Operator, GRID_A, day).await.expect("grid A's completeness");
    assert_eq!(grid.workers.len(), 1, "a grid's completeness counts its own workers only");
}
