//! Locked months end to end on a demo township: the locked ledgers are the
//! live ones of the lock's snapshot (for the township and for a village
//! below it); every later export of a locked month, through the CLI and
//! the admin API, in every format, is byte-identical although records for
//! the month arrive after the lock; those records show as corrections with
//! their reasons, beside the locked figures and not merged into them;
//! refusals carry their codes; locks are audited.

mod common;

use std::path::Path;

use gridsync_proto::edit::Author;
use gridsync_proto::{
    Change, Date, Edit, HlcClock, Level, PushRequest, RecordId, RecordKind, RecordState, Role, Value,
    make_group,
};
use gridsync_server::demo::{self, DemoOptions};
use gridsync_server::operator::Operator;
use gridsync_server::{Running, Settings};
use gridsync_server_core::clock::now_ms;

use common::{audit_detail, cli, cli_ok, session_token};

const OFFSET: i32 = 480;
const HOUR: u64 = 3_600_000;

/// The calendar month before today's (UTC+8), `YYYY-MM`: ended, and within
/// the demo's thirty days of work.
fn last_month() -> String {
    let today = Date::of_millis(now_ms() as i64, OFFSET).expect("a date");
    let mut day = today;
    while day.to_string()[..7] == today.to_string()[..7] {
        day = day.previous().expect("a day before");
    }
    day.to_string()[..7].to_owned()
}

/// A worker of a grid in the demo with an enrolled device: (name, grid, device).
fn a_worker(op: &Operator) -> (String, String, gridsync_proto::ActorId) {
    let users = op.list_users().expect("users");
    let devices = op.list_devices().expect("devices");
    let grids: Vec<String> = op
        .list_places()
        .expect("places")
        .into_iter()
        .filter(|p| p.level == Level::Grid)
        .map(|p| p.code)
        .collect();
    users
        .iter()
        .filter(|u| u.role == Role::Worker && u.active && grids.contains(&u.scope))
        .find_map(|u| {
            let device =
                devices.iter().find(|d| d.user.as_deref() == Some(&u.name) && d.revoked_ms.is_none())?;
            Some((u.name.clone(), u.scope.clone(), device.id))
        })
        .expect("a worker with a device")
}

/// Makes a new record of `kind` with `edits` on the worker's handset, its
/// changes stamped by the handset's clock at `recorded_ms`, and pushes it.
fn push_new(
    op: &Operator,
    worker: &(String, String, gridsync_proto::ActorId),
    kind: RecordKind,
    edits: Vec<Edit>,
    recorded_ms: u64,
) -> RecordId {
    let id = RecordId::generate(recorded_ms);
    let mut state = RecordState::new(id, kind);
    let mut clock = HlcClock::default();
    let mut author = Author { device: worker.2, name: &worker.0, clock: &mut clock, now_ms: recorded_ms };
    let changes: Vec<Change> = make_group(&mut state, &mut author, true, edits).expect("changes");
    let push = PushRequest { device: worker.2, sent_ms: now_ms(), groups: vec![changes] };
    let answer = op.run(op.service().push(push, worker.0.clone())).expect("pushed");
    assert!(answer.refused.is_empty(), "the late record is accepted: {:?}", answer.refused);
    id
}

fn set(field: &str, value: Value) -> Edit {
    Edit::Set(field.to_owned(), value)
}

/// `export month --format json` of `place`, with the CLI's summary.
fn month_json(data: &Path, out: &Path, place: &str, month: &str) -> (serde_json::Value, serde_json::Value) {
    let path = out.join(format!("{place}.json"));
    let args = ["export", "month", "--place", place, "--month", month, "--format", "json", "--json", "--out"];
    let said = cli_ok(data, &[&args[..], &[path.to_str().expect("a path")]].concat(), None);
    let file = serde_json::from_slice(&std::fs::read(&path).expect("written")).expect("json");
    (file, serde_json::from_str(&said).expect("a summary"))
}

/// Every sheet's footer without the lock's line.
fn without_lock_line(mut book: serde_json::Value) -> serde_json::Value {
    for sheet in book["sheets"].as_array_mut().expect("sheets") {
        let footer = sheet["footer"].as_array_mut().expect("a footer");
        footer.retain(|line| !line.as_str().unwrap_or_default().starts_with("本月已于"));
    }
    book
}

fn export_bytes(data: &Path, dir: &Path, place: &str, month: &str, format: &str) -> Vec<u8> {
    let path = dir.join(format!("again.{format}"));
    let args = ["export", "month", "--place", place, "--month", month, "--format", format, "--out"];
    cli_ok(data, &[&args[..], &[path.to_str().expect("a path")]].concat(), None);
    if format == "csv" {
        let mut all = Vec::new();
        let mut files: Vec<_> =
            std::fs::read_dir(&path).expect("a directory").map(|e| e.expect("entry").path()).collect();
        files.sort();
        for file in files {
            all.extend(std::fs::read(file).expect("read"));
        }
        std::fs::remove_dir_all(&path).expect("cleared");
        return all;
    }
    std::fs::read(&path).expect("written")
}

#[test]
fn a_locked_month_never_changes_and_late_records_show_as_corrections() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let mut made = demo::fill(&data, &DemoOptions::default())?;
    common::demo_staff_choose_their_own(&data, &mut made);
    let (township, month) = (made.township.clone(), last_month());
    let op = Operator::open_default(&data)?;
    let worker = a_worker(&op);
    let village = op
        .list_places()?
        .into_iter()
        .find(|p| p.code == worker.1)
        .and_then(|grid| grid.parent)
        .expect("the worker's village");
    assert_ne!(village, township);
    drop(op);

    // The live ledgers, then the lock of the same snapshot: the same ledgers
    // for the township and for the village below it, but for the lock's line.
    let (live_township, said) = month_json(&data, dir.path(), &township, &month);
    assert_eq!(said["locked"], false);
    let (live_village, _) = month_json(&data, dir.path(), &village, &month);
    let lock = cli_ok(&data, &["export", "lock", "--place", &township, "--month", &month, "--json"], None);
    let lock: serde_json::Value = serde_json::from_str(&lock)?;
    assert_eq!(lock["lock"]["place"], township.as_str());
    assert_eq!(lock["lock"]["as_of_position"], said["as_of_log_position"], "locked on the same snapshot");
    assert!(lock["places_locked"].as_u64() > Some(2), "the township and the places below it: {lock}");
    let (locked_township, said) = month_json(&data, dir.path(), &township, &month);
    assert_eq!(said["locked"], true);
    let (locked_village, said) = month_json(&data, dir.path(), &village, &month);
    assert_eq!(said["locked"], true, "a village below the locked township is locked too");
    assert_eq!(without_lock_line(locked_township.clone()), live_township);
    assert_eq!(without_lock_line(locked_village), live_village);
    let footer = locked_township["sheets"][0]["footer"].to_string();
    assert!(footer.contains("本月已于") && footer.contains("operator"), "the lock is printed: {footer}");

    let before: Vec<Vec<u8>> = ["xlsx", "csv", "json"]
        .iter()
        .map(|f| export_bytes(&data, dir.path(), &township, &month, f))
        .collect();

    // Records of the locked month arrive after the lock: a dispute and a
    // patrol recorded offline on the 15th (a late sync), and a patrol of the
    // 16th typed in only now (an edit after the lock).
    let op = Operator::open_default(&data)?;
    let fifteenth: Date = format!("{month}-15").parse().expect("a date");
    let noon = fifteenth.start_ms(OFFSET) as u64 + 12 * HOUR;
    let grid = Value::Text(worker.1.clone());
    let party = Value::Map(
        [("name".to_owned(), Value::from("欧阳娜娜")), ("role".to_owned(), Value::from("applicant"))].into(),
    );
    let dispute = push_new(
        &op,
        &worker,
        RecordKind::Dispute,
        vec![
            set(gridsync_proto::dispute::REGISTERED_AT, grid.clone()),
            set("place", grid.clone()),
            set("source", Value::from("patrol")),
            set("category", Value::from("邻里纠纷")),
            set("parties", Value::List(vec![party])),
        ],
        noon,
    );
    let late_patrol = push_new(
        &op,
        &worker,
        RecordKind::Patrol,
        vec![set("grid", grid.clone()), set("started_ms", Value::Int(noon as i64 + HOUR as i64))],
        noon + HOUR,
    );
    let typed_now = push_new(
        &op,
        &worker,
        RecordKind::Patrol,
        vec![set("grid", grid), set("started_ms", Value::Int(noon as i64 + 24 * HOUR as i64))],
        now_ms(),
    );
    drop(op);

    // The locked month's files are the same bytes, in every format.
    for (format, first) in ["xlsx", "csv", "json"].iter().zip(&before) {
        let again = export_bytes(&data, dir.path(), &township, &month, format);
        assert!(&again == first, "the locked {format} is byte-identical after late records");
    }

    // The corrections: beside the locked figures, with their reasons.
    let args = ["export", "corrections", "--place", &township, "--month", &month, "--json"];
    let c: serde_json::Value = serde_json::from_str(&cli_ok(&data, &args, None))?;
    assert!(c["now"]["log_position"].as_u64() > c["locked_as_of"]["log_position"].as_u64());
    let figure = |column: &str, category: &str| {
        c["figures"]
            .as_array()
            .expect("figures")
            .iter()
            .find(|f| f["column"] == column && f["category"] == category && f["line"] != township.as_str())
            .cloned()
    };
    let found = figure("found", "邻里纠纷").expect("the late dispute corrects the count found");
    assert_eq!(found["now"].as_i64(), found["locked"].as_i64().map(|n| n + 1), "{found}");
    let patrols = figure("patrols", "小计").expect("the late patrols correct the patrol count");
    assert_eq!(patrols["now"].as_i64(), patrols["locked"].as_i64().map(|n| n + 2), "{patrols}");
    let disputes = c["disputes"].as_array().expect("disputes");
    assert_eq!(disputes.len(), 1, "{disputes:?}");
    assert_eq!(
        (disputes[0]["id"].as_str(), disputes[0]["change"].as_str()),
        (Some(&*dispute.to_string()), Some("added"))
    );
    assert_eq!(disputes[0]["reason"], "late_sync");
    let late: Vec<(String, String)> = c["late"]
        .as_array()
        .expect("late")
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap_or_default().to_owned(),
                r["reason"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    for (id, reason) in [(dispute, "late_sync"), (late_patrol, "late_sync"), (typed_now, "edited_after_lock")]
    {
        assert!(late.contains(&(id.to_string(), reason.to_owned())), "{id} {reason} in {late:?}");
    }
    assert_eq!(late.len(), 3, "only the records that change the month: {late:?}");

    // The admin API: the same locked bytes, the corrections as a workbook,
    // and the refusals.
    let server = Running::start(Settings::new(&data, "127.0.0.1:0".parse()?))?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::blocking::Client::new();
    let token = |user: &(String, String)| session_token(&http, &server.url(), user);
    let (admin, centre) = (token(&made.admin), token(&made.centre));
    let url = |path: &str| format!("{}/v1/admin/ledgers/{path}", server.url());
    let xlsx = http.get(url(&format!("month?place={township}&month={month}"))).bearer_auth(&admin).send()?;
    assert_eq!(xlsx.status(), 200);
    assert!(xlsx.bytes()? == before[0], "the admin API answers the locked bytes");
    let csv = http
        .get(url(&format!("corrections?place={township}&month={month}&format=csv&sheet=3")))
        .bearer_auth(&admin)
        .send()?;
    assert_eq!(csv.status(), 200);
    let csv = csv.text()?;
    assert!(csv.starts_with('\u{feff}') && csv.contains(&late_patrol.to_string()), "{csv}");

    let lock_as = |token: &str, month: &str| {
        http.post(url("locks"))
            .bearer_auth(token)
            .json(&serde_json::json!({ "place": township, "month": month }))
            .send()
            .expect("answered")
    };
    let again = lock_as(&admin, &month);
    assert_eq!(again.status(), 200, "locking again answers the lock there is");
    let again: serde_json::Value = again.json()?;
    assert_eq!(
        (again["places_locked"].as_u64(), &again["lock"]["locked_by"]),
        (Some(0), &lock["lock"]["locked_by"])
    );
    let refused = lock_as(&centre, &month);
    assert_eq!(refused.status(), 403, "a township centre reads locked months but does not lock");
    let this_month = Date::of_millis(now_ms() as i64, OFFSET).expect("today").to_string()[..7].to_owned();
    let early = lock_as(&admin, &this_month);
    assert_eq!(early.status(), 400);
    let early: serde_json::Value = early.json()?;
    assert_eq!(early["code"], "invalid_request");
    assert!(early["message"].as_str().unwrap_or_default().starts_with("month:"), "{early}");
    let unlocked = http
        .get(url(&format!("corrections?place={township}&month={this_month}&format=json")))
        .bearer_auth(&centre)
        .send()?;
    assert_eq!(unlocked.status(), 400, "an unlocked month has no corrections");
    let locks: serde_json::Value = http.get(url("locks")).bearer_auth(&centre).send()?.json()?;
    assert_eq!(locks.as_array().map(Vec::len), Some(1), "one lock, not one per place: {locks}");
    drop(server);

    let op = Operator::open_default(&data)?;
    let details = audit_detail(&op, "ledger.lock");
    assert!(
        details.iter().any(|d| d.contains(&format!("month={month} ")) && d.contains("places=")),
        "{details:?}"
    );
    assert!(!audit_detail(&op, "ledger.corrections").is_empty());
    Ok(())
}

#[test]
fn locking_refuses_what_it_must() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    demo::fill(&data, &DemoOptions { days: 2, ..DemoOptions::default() })?;
    let month = last_month();
    let nowhere = cli(&data, &["export", "lock", "--place", "999999", "--month", &month], None);
    assert!(!nowhere.status.success());
    assert!(String::from_utf8_lossy(&nowhere.stderr).contains("no such place"));
    let bad = cli(&data, &["export", "lock", "--place", "999999", "--month", "2026-13"], None);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--month"), "names the argument");
    Ok(())
}
