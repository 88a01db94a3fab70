//! The ledgers end to end on a demo township: `gridsync-server export`
//! writes the month's workbook, which a real reader (calamine) opens with
//! the demo's figures; the admin API answers the very same bytes; a
//! second export of an unchanged log is byte-identical; CSV and JSON come
//! out as documented; refusals carry their codes and are audited.

mod common;

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
use gridsync_proto::Date;
use gridsync_server::demo::{self, DemoOptions};
use gridsync_server::operator::Operator;
use gridsync_server::{Running, Settings};
use gridsync_server_core::clock::now_ms;
use gridsync_server_core::ledger::Month;

use common::{audit_detail, audit_rows, cli, cli_ok, session_token};

const DAY_MS: u64 = 24 * 60 * 60 * 1000;

#[test]
fn a_month_exports_the_same_bytes_through_the_cli_and_the_admin_api() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let mut made = demo::fill(&data, &DemoOptions::default())?;
    common::demo_staff_choose_their_own(&data, &mut made);
    // A month the demo's thirty days of work fall in.
    let day = Date::of_millis((now_ms() - 10 * DAY_MS) as i64, 480).expect("a date");
    let month: Month = day.to_string()[..7].parse().expect("a month");
    let (month_text, township) = (month.to_string(), made.township.clone());

    let xlsx = dir.path().join("month.xlsx");
    let args = ["export", "month", "--place", &township, "--month", &month_text, "--out"];
    let said = cli_ok(&data, &[&args[..], &[xlsx.to_str().expect("a path"), "--json"]].concat(), None);
    let summary: serde_json::Value = serde_json::from_str(&said)?;
    let as_of = summary["as_of_log_position"].as_u64().expect("a position");
    assert!(as_of > 0 && summary["rows"].as_u64() > Some(0), "{summary}");
    let first = std::fs::read(&xlsx)?;

    let mut book: Xlsx<_> = open_workbook_from_rs(Cursor::new(first.clone()))?;
    assert_eq!(book.sheet_names().len(), 2, "the table and the register");
    let table = book.worksheet_range_at(0).expect("a first sheet")?;
    let title = table.get_value((0, 0)).map(ToString::to_string).unwrap_or_default();
    assert!(title.contains("一表一帐") || title.contains("统计"), "the table's title: {title}");
    let numbers = table.used_cells().filter(|(_, _, c)| matches!(c, Data::Float(_) | Data::Int(_))).count();
    assert!(numbers > 10, "figures are numbers, not text: {numbers}");
    let register = book.worksheet_range_at(1).expect("a second sheet")?;
    assert!(register.height() as u64 > summary["rows"].as_u64().unwrap_or(0), "one row per dispute");

    // The same log gives the same bytes: again through the CLI, then through HTTP.
    cli_ok(&data, &[&args[..], &[xlsx.to_str().expect("a path")]].concat(), None);
    assert!(std::fs::read(&xlsx)? == first, "a second export is byte-identical");

    let server = Running::start(Settings::new(&data, "127.0.0.1:0".parse()?))?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::blocking::Client::new();
    let token = |user: &(String, String)| session_token(&http, &server.url(), user);
    let admin = token(&made.admin);
    let get = |query: &str, token: &str| {
        http.get(format!("{}/v1/admin/ledgers/{query}", server.url())).bearer_auth(token).send()
    };
    let answer = get(&format!("month?place={township}&month={month_text}"), &admin)?;
    assert_eq!(answer.status(), 200);
    let disposition = answer.headers()["content-disposition"].to_str()?.to_owned();
    assert!(disposition.contains(&format!("ledger-{township}-{month_text}.xlsx")), "{disposition}");
    assert!(answer.bytes()? == first, "the admin API answers the CLI's bytes");

    let csv = get(&format!("month?place={township}&month={month_text}&format=csv&sheet=2"), &admin)?;
    assert_eq!(csv.status(), 200);
    assert!(csv.bytes()?.starts_with("\u{feff}".as_bytes()), "CSV starts with a BOM");
    let json: serde_json::Value =
        get(&format!("month?place={township}&month={month_text}&format=json"), &admin)?.json()?;
    assert!(json.to_string().contains(&as_of.to_string()), "the JSON names its log position");

    // Refusals, with their codes.
    let code = |answer: reqwest::blocking::Response| -> anyhow::Result<(u16, String)> {
        let status = answer.status().as_u16();
        let body: serde_json::Value = answer.json()?;
        Ok((status, body["code"].as_str().unwrap_or_default().to_owned()))
    };
    assert_eq!(code(get(&format!("month?place=nowhere&month={month_text}"), &admin)?)?.1, "unknown_place");
    let (status, bad) = code(get(&format!("month?place={township}&month=2026-13"), &admin)?)?;
    assert_eq!((status, bad.as_str()), (400, "invalid_request"));
    let no_sheet =
        code(get(&format!("month?place={township}&month={month_text}&format=csv&sheet=3"), &admin)?)?;
    assert_eq!(no_sheet.1, "invalid_request");
    let centre = token(&made.centre);
    let county = code(get(&format!("month?place=620802&month={month_text}"), &centre)?)?;
    assert_eq!(county, (403, "forbidden".to_owned()), "a township centre may not export its county");
    server.stop();

    // Refused on the command line too, with what to do; every export audited.
    let refused = cli(
        &data,
        &["export", "month", "--place", "nowhere", "--month", &month_text, "--out", "x.xlsx"],
        None,
    );
    assert!(!refused.status.success());
    assert!(
        !dir.path().join("x.xlsx").exists() && !std::path::Path::new("x.xlsx").exists(),
        "nothing written"
    );
    let op = Operator::open_default(&data)?;
    let exports = audit_detail(&op, "ledger.month");
    let ok: Vec<&String> =
        exports.iter().filter(|d| d.contains(&format!("month={month_text} as_of={as_of}"))).collect();
    // Two through the CLI, four through HTTP (the ledger of the missing
    // CSV sheet was read before the sheet was refused).
    assert_eq!(ok.len(), 6, "every export is audited with its position: {exports:?}");
    let refused =
        audit_rows(&op).into_iter().filter(|r| r.event.action == "ledger.month" && r.event.outcome != "ok");
    assert!(refused.count() >= 2, "refusals of staff are audited too");
    Ok(())
}

/// A mirror pages through the change feed with a small page size, loses
/// one page to an interruption and asks for it again: it ends up with
/// every record of the township exactly once (checked against the stored
/// states), in log order; a cursor past the log is refused; the command
/// line's `--all` gives the same records.
#[test]
fn the_feed_mirrors_every_record_once_and_resumes_after_an_interruption() -> anyhow::Result<()> {
    use std::collections::BTreeMap;

    use gridsync_proto::access::{self, AccessKey};
    use gridsync_proto::{Hierarchy, RecordKind, RecordState};
    use gridsync_server_core::StorageExt;
    use gridsync_server_core::directory;
    use gridsync_server_core::service::Caller;

    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let made = demo::fill(&data, &DemoOptions::default())?;
    let op = Operator::open_default(&data)?;
    let township = made.township.clone();

    // What the township holds, read from the stored states directly.
    let place = township.clone();
    let truth: BTreeMap<String, String> = op.run(op.service().storage().read(move |tx| {
        let dir = directory::load(tx)?;
        let mut all = BTreeMap::new();
        for kind in [
            RecordKind::Patrol,
            RecordKind::Visit,
            RecordKind::DailyReport,
            RecordKind::Dispute,
            RecordKind::Household,
        ] {
            for bytes in tx.records_of_kind(kind)? {
                let state = RecordState::from_bytes(&bytes).expect("a state");
                let within = access::access(&state)
                    .keys
                    .iter()
                    .any(|k| matches!(k, AccessKey::Place(p) if dir.is_within(p, Some(&place))));
                if within {
                    all.insert(state.id().to_string(), kind.name());
                }
            }
        }
        Ok(all)
    }))?;
    assert!(truth.len() > 100, "the demo township has records: {}", truth.len());

    let mut mirrored: Vec<(u64, String)> = Vec::new();
    let (mut after, mut pages) = (0, 0);
    loop {
        let page = op.run(op.service().feed(&Caller::Operator, &township, after, 37))?;
        pages += 1;
        if pages == 3 {
            // Interrupted: the mirror never stored this page; it asks again.
            continue;
        }
        mirrored.extend(page.records.iter().map(|r| (r.position, r.record.id.clone())));
        after = page.next;
        if !page.more {
            break;
        }
    }
    assert!(pages > 5, "small pages: {pages}");
    assert!(mirrored.windows(2).all(|w| w[0].0 <= w[1].0), "in log order");
    let ids: Vec<&String> = mirrored.iter().map(|(_, id)| id).collect();
    let unique: std::collections::BTreeSet<&String> = ids.iter().copied().collect();
    assert_eq!(ids.len(), unique.len(), "no record twice");
    assert_eq!(
        unique.into_iter().cloned().collect::<Vec<_>>(),
        truth.keys().cloned().collect::<Vec<_>>(),
        "every record of the township"
    );

    let end = op.run(op.service().feed(&Caller::Operator, &township, after, 37))?;
    assert!(end.records.is_empty() && !end.more && end.next == after, "nothing after the end");
    let past = op.run(op.service().feed(&Caller::Operator, &township, after + 1_000, 37));
    assert!(format!("{:#}", past.expect_err("a cursor past the log")).contains("mirror again from 0"));
    drop(op);

    let all = cli_ok(&data, &["export", "feed", "--place", &township, "--limit", "100", "--all"], None);
    let lines: Vec<serde_json::Value> = all.lines().map(serde_json::from_str).collect::<Result<_, _>>()?;
    let (last, records) = lines.split_last().expect("an end line");
    assert_eq!(last["more"], false);
    let cli_ids: std::collections::BTreeSet<String> =
        records.iter().map(|l| l["record"]["id"].as_str().expect("an id").to_owned()).collect();
    assert_eq!(cli_ids.len(), records.len());
    assert_eq!(cli_ids.into_iter().collect::<Vec<_>>(), truth.keys().cloned().collect::<Vec<_>>());
    Ok(())
}
