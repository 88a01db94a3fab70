//! Reporting completeness (有事报信息、无事报平安): for a day and a place, the
//! server lists which workers filed their daily report on time, which filed
//! late and which filed nothing. A report filed offline in the evening and
//! synced the next morning is on time; a device whose clock is far off is
//! flagged, and its time is not trusted.

use gridsync_proto::date::{CHINA_UTC_OFFSET_MINUTES, DAY_MS};
use gridsync_proto::wire::{self, Limits};
use gridsync_proto::{
    Change, Date, Dot, Hlc, Op, PushRequest, PushResponse, RecordKind, Value, daily_report_id,
};
use gridsync_server_core::clock::now_ms;
use gridsync_server_core::directory;
use gridsync_server_core::service::reports::{self, Filing};
use gridsync_server_core::storage::StorageExt;
use gridsync_tests::people::{self, GRID_A, GRID_A2, GRID_B, RawDevice, TOWNSHIP};
use gridsync_tests::{Handset, Kind, TestServer};

gridsync_tests::matrix![the_day_lists_who_filed_on_time_late_or_not_at_all];

/// The report of `worker` for `date`, "all safe", as a device whose clock
/// read `time_ms` when it was filed and `sent_ms` when it was pushed.
fn push_report(
    server: &TestServer,
    device: &RawDevice,
    worker: &str,
    grid: &str,
    date: Date,
    time_ms: u64,
    sent_ms: u64,
) {
    let record = daily_report_id(worker, date);
    let change = |counter, op| Change {
        record,
        kind: RecordKind::DailyReport,
        dot: Dot { actor: device.id, counter },
        author: worker.into(),
        time: Hlc { millis: time_ms, logical: counter as u32 },
        op,
    };
    let set = |field: &str, value: &str| Op::Set {
        field: field.into(),
        value: Value::from(value),
        supersedes: vec![],
    };
    let group = vec![
        change(1, Op::Create),
        change(2, set("grid", grid)),
        change(3, set("worker", worker)),
        change(4, set("date", &date.to_string())),
        change(5, set("status", "all_safe")),
    ];
    let push = PushRequest { device: device.id, sent_ms, groups: vec![group] };
    let response = device.post(&server.url(), "/v1/sync/push", wire::encode(&push)).expect("push");
    assert_eq!(response.status().as_u16(), 200);
    let answer: PushResponse =
        wire::decode(&response.bytes().expect("body"), &Limits::DEFAULT).expect("answer");
    assert!(answer.refused.is_empty(), "{:?}", answer.refused);
}

fn raw_worker(server: &TestServer, name: &str, grid: &str) -> anyhow::Result<RawDevice> {
    people::ensure_worker(server, name, grid)?;
    Ok(RawDevice::enroll(&server.url(), &people::code_for(server, name)?)?.0)
}

fn the_day_lists_who_filed_on_time_late_or_not_at_all(kind: Kind) -> anyhow::Result<()> {
    let server = TestServer::start(kind)?;
    let today = Handset::today();
    let yesterday = today.previous().expect("a day before");
    let evening = (yesterday.start_ms(CHINA_UTC_OFFSET_MINUTES) + 20 * 3_600_000) as u64;
    let now = now_ms();

    // Filed offline yesterday at 20:00, synced this morning: on time.
    let early = raw_worker(&server, "网格员 甲", GRID_A)?;
    push_report(&server, &early, "网格员 甲", GRID_A, yesterday, evening, now);
    // Filed today for yesterday, from the app: late.
    let mut late = Handset::worker(&server, "网格员 乙", GRID_A2)?;
    late.store.file_all_safe(yesterday)?;
    late.sync(&server)?;
    // Claims 20:00 yesterday, but its clock runs two hours fast: flagged, so
    // the server's receipt (today) stands in for it: late.
    let fast = raw_worker(&server, "网格员 丙", GRID_B)?;
    push_report(&server, &fast, "网格员 丙", GRID_B, yesterday, evening, now + 2 * 3_600_000);
    // Never filed.
    people::ensure_worker(&server, "网格员 丁", GRID_B)?;
    // A worker of another township does not count here.
    people::ensure_worker(&server, "网格员 戊", people::GRID_C)?;

    // Computed on a snapshot, without the audited read of the service.
    let op = people::operator(&server)?;
    let day = op.run(op.service().storage().read(move |tx| {
        let dir = directory::load(tx)?;
        Ok(reports::daily(tx, &dir, TOWNSHIP, yesterday, CHINA_UTC_OFFSET_MINUTES)?)
    }))?;
    let lines: Vec<(&str, Filing)> = day.workers.iter().map(|w| (w.worker.as_str(), w.filing)).collect();
    assert_eq!(
        lines,
        [
            ("网格员 甲", Filing::OnTime),
            ("网格员 乙", Filing::Late),
            ("网格员 丁", Filing::Missing),
            ("网格员 丙", Filing::Late),
        ]
    );
    assert_eq!((day.on_time, day.late, day.missing), (1, 2, 1));
    assert_eq!(day.deadline_ms, (yesterday.start_ms(CHINA_UTC_OFFSET_MINUTES) + DAY_MS) as u64);
    let on_time = &day.workers[0];
    assert_eq!((on_time.filed_ms, on_time.status.as_deref()), (Some(evening), Some("all_safe")));
    assert!(on_time.received_ms.expect("received") >= now);

    // The flag travels with the report: another device sees the clock as suspect.
    let mut township =
        Handset::enrolled(&server, "镇综治中心", gridsync_proto::Role::TownshipAdmin, TOWNSHIP, None)?;
    township.sync(&server)?;
    let receipts = township.store.receipts(daily_report_id("网格员 丙", yesterday))?;
    assert!(!receipts.is_empty() && receipts.values().all(|r| r.clock_suspect));
    let receipts = township.store.receipts(daily_report_id("网格员 甲", yesterday))?;
    assert!(!receipts.is_empty() && receipts.values().all(|r| !r.clock_suspect));

    // The same list over the admin API, for the township centre only.
    let password = "township centre password 2026";
    let role = gridsync_proto::Role::TownshipAdmin;
    people::add_staff(&server, "centre", role, TOWNSHIP, password)?;
    people::add_staff(&server, "next door", role, people::OTHER_TOWNSHIP, password)?;
    let http = people::http();
    let token = |user: &str| -> anyhow::Result<String> {
        let login = http
            .post(format!("{}/v1/admin/login", server.url()))
            .json(&serde_json::json!({"user": user, "password": password}))
            .send()?;
        let body: serde_json::Value = login.json()?;
        Ok(body["token"].as_str().expect("a token").to_owned())
    };
    let url = format!("{}/v1/admin/reports/daily?date={yesterday}&place={TOWNSHIP}", server.url());
    let answer: serde_json::Value = http.get(&url).bearer_auth(token("centre")?).send()?.json()?;
    assert_eq!(
        (answer["on_time"].as_u64(), answer["late"].as_u64(), answer["missing"].as_u64()),
        (Some(1), Some(2), Some(1))
    );
    assert_eq!(answer["workers"][0]["filing"], "on_time");
    let refused = http.get(&url).bearer_auth(token("next door")?).send()?;
    assert_eq!(refused.status().as_u16(), 403, "another township's centre may not read it");
    let bad = http.get(format!("{}/v1/admin/reports/daily?date=yesterday&place={TOWNSHIP}", server.url()));
    assert_eq!(bad.bearer_auth(token("centre")?).send()?.status().as_u16(), 400);
    Ok(())
}
