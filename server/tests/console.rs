//! The web console in a real browser: one server on a loopback port with a
//! demo township, one headless Chromium session through chromedriver
//! (`browser`), driven as township staff would: log in, see who did not
//! file yesterday's report, export the month and read the downloaded
//! workbook, add a grid worker and enroll their handset from the QR page's
//! code, revoke it and see its next sync refused, be refused the county's
//! pages and another township's, have forged forms refused, change the
//! password, read the audit log. A second test works the dispute desk:
//! a conflict two handsets made offline is listed, shown side by side,
//! settled from the page and pulled by the handsets; a step is taken, and
//! the dispute is escalated to the place its form offers.
//!
//! With `GRIDSYNC_SCREENSHOTS=DIR` set, screenshots of the main pages are
//! saved as `DIR/console-*.png` (`GRIDSYNC_SCREENSHOTS=docs` refreshes the
//! README's pictures; run from `server/`, so `../docs`). Nothing is
//! written into the repository otherwise.

mod browser;
mod common;
mod handsets;

use std::io::Cursor;
use std::path::PathBuf;

use browser::Browser;
use calamine::{Reader, Xlsx, open_workbook_from_rs};
use gridsync_client_core::{HttpTransport, Store, StoreKey};
use gridsync_proto::{Date, Level, Place, Role, Stage, Value};
use gridsync_server::demo::{self, DemoOptions};
use gridsync_server::operator::Operator;
use gridsync_server::{Running, Settings};
use gridsync_server_core::clock::now_ms;
use handsets::conflicting_handsets;
use serde_json::json;

const DAY_MS: u64 = 24 * 60 * 60 * 1000;
const TOWNSHIP: &str = "620802100";
const OTHER_TOWNSHIP: &str = "620802101";

/// Where screenshots go, if asked for.
fn screenshots() -> Option<PathBuf> {
    let dir = std::env::var_os("GRIDSYNC_SCREENSHOTS")?;
    let dir = PathBuf::from(dir);
    // `docs` means the repository's docs/, whatever the test's directory.
    let dir = if dir == std::path::Path::new("docs") {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs")
    } else {
        dir
    };
    std::fs::create_dir_all(&dir).ok()?;
    Some(dir)
}

fn shot(browser: &Browser, name: &str) {
    if let Some(dir) = screenshots() {
        browser.screenshot(&dir.join(format!("console-{name}.png")));
    }
}

fn log_in(browser: &Browser, url: &str, user: &str, password: &str) {
    browser.goto(&format!("{url}/console/login"));
    browser.fill("input[name=user]", user);
    browser.fill("input[name=password]", password);
    browser.submit("form button[type=submit]");
}

fn log_out(browser: &Browser) {
    browser.submit("form.logout button");
    assert!(browser.url().contains("/console/login"), "{}", browser.url());
}

/// The error code an error page shows.
fn error_code(browser: &Browser) -> String {
    browser.find("code.error-code").map(|e| browser.text(&e)).unwrap_or_default()
}

#[test]
fn township_staff_work_through_the_console_in_a_browser() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let mut made = demo::fill(&data, &DemoOptions::default())?;
    common::demo_staff_choose_their_own(&data, &mut made);
    {
        // A second township with its own admin, to be refused.
        let op = Operator::open_default(&data)?;
        op.add_place(&Place {
            code: OTHER_TOWNSHIP.into(),
            name: "西郊镇".into(),
            level: Level::Township,
            parent: Some("620802".into()),
        })?;
    }
    let server = Running::start(Settings::new(&data, "127.0.0.1:0".parse()?))?;
    let url = server.url();
    let browser = Browser::start();
    let (centre, centre_password) = made.centre.clone();

    // `/` leads to the console, which asks for a login, in Chinese.
    browser.goto(&format!("{url}/"));
    assert!(browser.url().ends_with("/console/login"), "{}", browser.url());
    assert!(browser.source().contains("登录"), "Chinese by default");
    shot(&browser, "login");

    // A wrong password shows the form again, with the reason.
    log_in(&browser, &url, &centre, "not the password");
    let refused = browser.text(&browser.get("p.error"));
    assert!(refused.contains("用户名或密码错误"), "{refused}");

    // Today: yesterday's reports, with someone missing.
    log_in(&browser, &url, &centre, &centre_password);
    assert!(browser.url().ends_with("/console/today"), "{}", browser.url());
    let session =
        browser.cookies().into_iter().find(|c| c["name"] == "gs_session").expect("a session cookie");
    assert_eq!((session["httpOnly"].clone(), session["sameSite"].clone()), (json!(true), json!("Strict")));
    assert_eq!(session["path"], "/console");
    let yesterday = Date::of_millis((now_ms() - DAY_MS) as i64, 480).expect("a date");
    browser.goto(&format!("{url}/console/today?place={TOWNSHIP}&date={yesterday}"));
    let missing: u32 = browser.text(&browser.get("#count-missing")).parse()?;
    let total: u32 = browser.text(&browser.get("#count-total")).parse()?;
    assert!(total == 18 && missing > 0, "the demo's 18 grid workers, some missing: {missing} of {total}");
    assert_eq!(browser.find_all("#today tr[data-filing=missing]").len() as u32, missing);
    assert!(browser.find_all("#today tr.village").len() == 6, "six villages");
    shot(&browser, "today");

    // English on request, remembered.
    browser.goto(&format!("{url}/console/today?place={TOWNSHIP}&date={yesterday}&lang=en"));
    assert!(browser.source().contains("Missing"), "English");
    browser.goto(&format!("{url}/console/today"));
    assert!(browser.source().contains("Today's daily reports"), "the language is remembered");
    browser.goto(&format!("{url}/console/today?lang=zh"));

    // Ledgers: the month on screen, the chart, and the XLSX export.
    let month = &yesterday.to_string()[..7];
    browser.goto(&format!("{url}/console/ledgers?place={TOWNSHIP}&month={month}"));
    assert!(browser.find_all("#stats tbody tr").len() > 6, "a line per village and the totals");
    assert!(!browser.find_all("#register tbody tr").is_empty(), "the register has the month's disputes");
    let points = browser.find_all("#trend circle.dot-reporting");
    assert!(!points.is_empty(), "the chart shows the reporting rate");
    shot(&browser, "ledgers");
    browser.click(&browser.get("#export-xlsx"));
    let xlsx = browser.downloaded(&format!("ledger-{TOWNSHIP}-{month}.xlsx"));
    let mut book: Xlsx<_> = open_workbook_from_rs(Cursor::new(std::fs::read(&xlsx)?))?;
    assert_eq!(book.sheet_names().len(), 2, "the table and the register");
    let table = book.worksheet_range_at(0).expect("a first sheet")?;
    let title = table.get_value((0, 0)).map(ToString::to_string).unwrap_or_default();
    assert!(title.contains("城关镇"), "the township's table: {title}");

    // Last month has ended, but a township centre reads locked months and does not lock.
    let last_month = {
        let mut day = yesterday;
        while day.to_string()[..7] == yesterday.to_string()[..7] {
            day = day.previous().expect("a day before");
        }
        day.to_string()[..7].to_owned()
    };
    browser.goto(&format!("{url}/console/ledgers?place={TOWNSHIP}&month={last_month}"));
    assert!(browser.find("#stats").is_some() && browser.find("#lock-month").is_none(), "no lock button");

    // The county and another township are not the centre's.
    browser.goto(&format!("{url}/console/today?place=620802"));
    assert_eq!(error_code(&browser), "forbidden");
    browser.goto(&format!("{url}/console/ledgers?place={OTHER_TOWNSHIP}&month={month}"));
    assert_eq!(error_code(&browser), "forbidden");
    browser.goto(&format!("{url}/console/ledgers/export?place={OTHER_TOWNSHIP}&month={month}&format=csv"));
    assert_eq!(error_code(&browser), "forbidden");
    browser.goto(&format!("{url}/console/audit"));
    assert_eq!(error_code(&browser), "forbidden", "township admins do not read the audit log");

    // People: add a grid worker, enroll a handset with the code shown.
    let grid = format!("{TOWNSHIP}001-01");
    browser.goto(&format!("{url}/console/people"));
    browser.fill("#add-user input[name=name]", "测试 网格员");
    browser.script(
        "document.querySelector('#add-user select[name=scope]').value = arguments[0];",
        json!([grid]),
    );
    browser.submit("#add-user button[type=submit]");
    assert!(browser.find("p.notice").is_some(), "added:\n{}", browser.source());
    browser.submit("tr[data-user='测试 网格员'] form[action$=enroll] button");
    assert!(browser.find("#enroll-qr svg").is_some(), "the QR code is on screen");
    let code = browser.text(&browser.get("#enroll-code"));
    shot(&browser, "enroll");
    let handset_dir = tempfile::tempdir()?;
    let transport = HttpTransport::new(&url)?;
    let mut store =
        Store::init(&handset_dir.path().join("h.db"), &url, "测试 网格员", &StoreKey::generate()?)?;
    store.enroll(&transport, &code)?;
    store.sync(&transport)?;

    // Revoke it: its next sync is refused.
    browser.goto(&format!("{url}/console/people"));
    let row = "#devices tr[data-user='测试 网格员']";
    browser.submit(&format!("{row} button"));
    assert!(browser.text(&browser.get(&format!("{row} td.device-state"))).contains("已吊销"));
    shot(&browser, "people");
    let refused = store.sync(&transport).expect_err("a revoked handset may not sync");
    assert!(format!("{refused:?}").to_lowercase().contains("revoked"), "{refused:?}");

    // Forged forms: without a token, with a wrong one.
    for token in [None, Some("0".repeat(64))] {
        browser.goto(&format!("{url}/console/people"));
        browser.mark_page();
        browser.script(
            "const f = document.createElement('form'); f.method = 'post';
             f.action = '/console/people/users/deactivate';
             const add = (n, v) => { const i = document.createElement('input'); i.name = n; i.value = v; f.appendChild(i); };
             add('name', arguments[0]); if (arguments[1] !== null) add('csrf', arguments[1]);
             document.body.appendChild(f); f.submit();",
            json!(["测试 网格员", token]),
        );
        browser.wait_new_page();
        assert_eq!(error_code(&browser), "csrf_token", "a forged form ({token:?}) is refused");
    }
    browser.goto(&format!("{url}/console/people"));
    assert!(
        browser.source().contains("测试 网格员")
            && browser.find("tr[data-user='测试 网格员'] form").is_some()
    );

    // Change the password, and log in with the new one.
    browser.goto(&format!("{url}/console/account"));
    browser.fill("input[name=current]", &centre_password);
    browser.fill("input[name=new]", "a new password 2026");
    browser.fill("input[name=repeat]", "a new password 2026");
    browser.submit("main form button[type=submit]");
    assert!(browser.find("p.notice").is_some(), "{}", browser.source());
    log_out(&browser);
    browser.goto(&format!("{url}/console/today"));
    assert!(browser.url().ends_with("/console/login"), "logged out");
    log_in(&browser, &url, &centre, "a new password 2026");
    assert!(browser.url().ends_with("/console/today"));
    log_out(&browser);

    // The administrator reads the audit log: the revocation is there.
    log_in(&browser, &url, &made.admin.0, &made.admin.1);
    browser.goto(&format!("{url}/console/audit?action=device."));
    assert_eq!(browser.attr(&browser.get("#chain"), "data-intact").as_deref(), Some("true"));
    assert!(browser.find("#audit tr[data-action='device.revoke']").is_some(), "{}", browser.source());
    browser.goto(&format!("{url}/console/audit?refusals=1"));
    let forged = browser.find_all("#audit tr[data-outcome=csrf_token]");
    assert_eq!(forged.len(), 2, "both forged forms are in the audit log");
    assert!(browser.find("#audit tr[data-outcome=ok]").is_none(), "only refusals");
    browser.goto(&format!("{url}/console/audit"));
    shot(&browser, "audit");

    // The administrator locks last month; the page then says so and leads to its corrections.
    browser.goto(&format!("{url}/console/ledgers?place={TOWNSHIP}&month={last_month}"));
    assert!(browser.find("#lock-state").is_none(), "not locked yet");
    browser.submit("#lock-month");
    let state = browser.text(&browser.get("#lock-state"));
    assert!(state.contains("已锁定") && state.contains(&made.admin.0), "{state}");
    browser.click_and_wait(&browser.get("#view-corrections"));
    assert!(browser.find("#no-corrections").is_some(), "nothing changed since: {}", browser.source());
    assert!(browser.find("#corrections-1").is_some(), "the counts' sheet, empty");
    drop(browser);
    server.stop();
    Ok(())
}

#[test]
fn a_township_centre_settles_a_conflict_and_takes_a_step_from_the_dispute_page() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let mut made = demo::fill(&data, &DemoOptions::default())?;
    common::demo_staff_choose_their_own(&data, &mut made);
    let grid = format!("{TOWNSHIP}001-01");
    let mut codes = Vec::new();
    {
        let op = Operator::open_default(&data)?;
        for name in ["网格员 甲", "网格员 乙"] {
            op.add_user(name, Role::Worker, Some(&grid), None, None)?;
            codes.push((name.to_owned(), op.issue_code(name, DAY_MS, "http://127.0.0.1")?.code));
        }
    }
    let server = Running::start(Settings::new(&data, "127.0.0.1:0".parse()?))?;
    let url = server.url();
    let (id, mut handsets) = conflicting_handsets(&url, &codes)?;
    let browser = Browser::start();
    log_in(&browser, &url, &made.centre.0, &made.centre.1);

    // The list, in conflict only: the dispute is there, flagged.
    browser.goto(&format!("{url}/console/disputes"));
    assert!(browser.find("nav.sections a.current[href='/console/disputes']").is_some(), "the nav has 纠纷");
    assert!(!browser.find_all("#disputes tbody tr").is_empty(), "the demo township's disputes");
    let all: usize = browser.text(&browser.get("#count-total")).parse()?;
    assert_eq!(browser.find("#older").is_some(), all > 50, "pages of 50, {all} in all");
    if let Some(older) = browser.find("#older") {
        // The next page starts after this one's last line.
        let last = browser.find_all("#disputes tbody tr").pop().expect("a line");
        let last = browser.attr(&last, "data-id").expect("an id");
        browser.click_and_wait(&older);
        assert!(browser.find(&format!("#disputes tr[data-id='{last}']")).is_none(), "no line twice");
        assert!(browser.find("#first-page").is_some());
    }
    browser.script("document.querySelector('#filters input[name=conflict]').checked = true;", json!([]));
    browser.submit("#filters button[type=submit]");
    let row = format!("#disputes tr[data-id='{id}'][data-conflict=true]");
    assert!(browser.find(&row).is_some(), "listed in conflict: {}", browser.source());
    assert!(browser.find("#disputes tr[data-conflict=false]").is_none(), "only disputes in conflict");
    let total: usize = browser.text(&browser.get("#count-total")).parse()?;
    assert_eq!(total, browser.find_all("#disputes tbody tr").len());
    shot(&browser, "disputes");

    // Its page: both values side by side, with who wrote them on which device.
    browser.click_and_wait(&browser.get(&format!("{row} a")));
    let candidates = browser.find_all("section.conflict[data-field=risk] .candidate");
    assert_eq!(candidates.len(), 2, "{}", browser.source());
    let texts: Vec<String> = candidates.iter().map(|c| browser.text(c)).collect();
    for (h, (name, value)) in handsets.iter().zip([("网格员 甲", "2"), ("网格员 乙", "3")]) {
        let device = h.store.device_id().to_string();
        let shown = texts.iter().find(|t| t.contains(name)).expect("a candidate per worker");
        assert!(shown.contains(&device) && shown.lines().next() == Some(value), "{shown}");
    }
    // Besides keeping a value, a new one can be entered, typed as the rules type the field.
    let new_value = "section.conflict[data-field=risk] form.new-value[data-input=int]";
    let number = browser.get(&format!("{new_value} input[name=value]"));
    let bounds = ["type", "min", "max"].map(|a| browser.attr(&number, a).unwrap_or_default());
    assert_eq!(bounds, ["number", "1", "4"], "risk is a whole number from 1 to 4");
    shot(&browser, "dispute");

    // Keep 乙's value: no conflict any more, and the handsets take it.
    let yi = handsets[1].store.device_id();
    browser.submit(&format!(".candidate[data-candidate^='{yi}:'] button"));
    assert!(
        browser.find("p.notice").is_some() && browser.find("#no-conflicts").is_some(),
        "{}",
        browser.source()
    );
    assert_eq!(browser.text(&browser.get("#fields tr[data-field=risk] td")), "3");
    for h in &mut handsets {
        h.sync(&url)?;
        let state = h.store.get(id)?.expect("held");
        assert_eq!(state.value("risk"), Some(&Value::Int(3)));
        assert!(!state.has_conflicts() && h.store.conflicts()?.is_empty());
    }
    browser.goto(&format!("{url}/console/disputes?place={TOWNSHIP}&conflict=true"));
    assert!(browser.find(&format!("#disputes tr[data-id='{id}']")).is_none(), "settled");

    // Accept it from the page: the history shows the step, a handset follows.
    browser.goto(&format!("{url}/console/disputes/{id}"));
    assert!(browser.find("#step-close").is_none(), "a found dispute is not closed");
    browser.submit("#step-accept button");
    assert_eq!(browser.attr(&browser.get("#summary"), "data-stage").as_deref(), Some("accepted"));
    assert!(browser.find("#history tr[data-action=accept][data-status=applied]").is_some());
    assert!(browser.find("#step-accept").is_none() && browser.find("#step-transfer").is_some());
    handsets[0].sync(&url)?;
    let lifecycle = handsets[0].store.lifecycle(id)?.expect("a dispute");
    assert_eq!(lifecycle.state.stage, Stage::Accepted);

    // A transfer without its letter number is refused with the service's code.
    browser.script(
        "document.querySelector('#step-transfer input[name=letter_number]').required = false;",
        json!([]),
    );
    browser.submit("#step-transfer button");
    assert_eq!(error_code(&browser), "missing_field");

    // Escalate it: the form offers the place above its owner (the grid's village), and it goes there.
    let village = format!("{TOWNSHIP}001");
    browser.goto(&format!("{url}/console/disputes/{id}"));
    let targets = browser.find_all("#step-escalate select[name=to] option");
    let targets: Vec<String> = targets.iter().filter_map(|o| browser.attr(o, "value")).collect();
    assert_eq!(targets, vec![village.clone()], "one level up, as the rules allow");
    browser.submit("#step-escalate button");
    assert_eq!(browser.attr(&browser.get("#owner"), "data-owner").as_deref(), Some(village.as_str()));
    let escalated = format!("#history tr[data-action=escalate][data-status=applied][data-to='{village}']");
    assert!(browser.find(&escalated).is_some(), "{}", browser.source());
    browser.goto(&format!("{url}/console/disputes/not-an-id"));
    assert_eq!(error_code(&browser), "not_found");
    drop(browser);
    server.stop();
    Ok(())
}
