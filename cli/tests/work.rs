//! End-to-end tests of the field-work commands of the `gridsync` binary —
//! patrols, visits, daily reports, households, disputes and refused writes —
//! against a real township server on a loopback port.

mod support;

use std::time::{SystemTime, UNIX_EPOCH};

use gridsync_proto::Date;
use gridsync_proto::date::CHINA_UTC_OFFSET_MINUTES;
use serde_json::{Value as Json, json};
use support::{
    ADMIN, GRID, OTHER_GRID, POLICE, TOWNSHIP, Township, VILLAGE, WORKER, fails, handset, id, ok, ok_json,
};

/// Today in China Standard Time.
fn today() -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_millis() as i64;
    Date::of_millis(now, CHINA_UTC_OFFSET_MINUTES).expect("a date").to_string()
}

#[test]
fn a_quiet_day_is_one_command_and_a_busy_one_names_its_records() {
    let township = Township::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let (li, _) = handset(&township, dir.path(), "li", WORKER);

    let report = id(&li, &["report", "all-safe"]);
    let view = ok_json(&li, &["show", &report, "--json"]);
    assert_eq!(view["kind"], "daily_report");
    assert_eq!(
        view["fields"],
        json!({"grid": GRID, "worker": WORKER, "date": today(), "status": "all_safe"})
    );
    // Filing again the same day is the same report.
    assert_eq!(id(&li, &["report", "all-safe", "--note", "村内平稳"]), report);

    // Something happened after all: the day's records say what.
    let patrol = id(&li, &["patrol", "start"]);
    let household = id(
        &li,
        &[
            "household",
            "new",
            "--category",
            "household",
            "--set",
            "door_plate=东关村3号",
            "--set",
            "population:=4",
        ],
    );
    let visit = id(
        &li,
        &[
            "visit",
            "--category",
            "elderly_alone",
            "--purpose",
            "routine",
            "--household",
            &household,
            "--result",
            "身体健康",
            "--follow-up",
            "2026-12-01",
            "--lat",
            "35.54",
            "--lon",
            "106.68",
            "--accuracy",
            "8",
        ],
    );
    ok(
        &li,
        &[
            "patrol",
            "checkpoint",
            &patrol,
            "--place",
            "东关村三组路口",
            "--lat",
            "35.54",
            "--lon",
            "106.68",
            "--accuracy",
            "12.5",
            "--note",
            "路灯损坏",
        ],
    );
    ok(&li, &["patrol", "finding", &patrol, &visit, "--note", "独居老人"]);
    ok(&li, &["patrol", "end", &patrol, "--summary", "一切正常"]);
    assert_eq!(id(&li, &["report", "items", "--item", &patrol, "--item", &visit]), report);
    let view = ok_json(&li, &["show", &report, "--json"]);
    assert_eq!(view["fields"]["status"], "has_items");
    assert_eq!(view["fields"]["items"], json!([patrol, visit]));
    assert_eq!(view["fields"]["note"], "村内平稳");

    let shown = ok_json(&li, &["show", &visit, "--json"]);
    assert_eq!(shown["fields"]["household"], household.as_str());
    assert_eq!(shown["fields"]["person_category"], "elderly_alone");
    assert_eq!(shown["fields"]["follow_up_due"], "2026-12-01");
    assert_eq!(
        shown["fields"]["gps"],
        json!({"lat": 35.54, "lon": 106.68, "accuracy_m": 8.0, "mock": false})
    );
    let shown = ok_json(&li, &["show", &patrol, "--json"]);
    let entries: Vec<&str> =
        shown["entries"].as_array().expect("entries").iter().filter_map(|e| e["entry"].as_str()).collect();
    assert_eq!(entries, ["checkpoint", "finding"]);
    assert_eq!(shown["entries"][0]["body"]["gps"]["accuracy_m"], 12.5);
    assert_eq!(shown["fields"]["summary"], "一切正常");

    // Another day, another report; a date that does not exist is a usage error.
    let other = id(&li, &["report", "all-safe", "--date", "2026-12-01"]);
    assert_ne!(other, report);
    fails(&li, &["report", "all-safe", "--date", "2026-02-30"], 1);
    // The rules still apply: a grid outside the worker's own is not even
    // known on this device, and a visit names a household or an address.
    let err = fails(
        &li,
        &[
            "visit",
            "--category",
            "general",
            "--purpose",
            "routine",
            "--address",
            "西关村1号",
            "--grid",
            OTHER_GRID,
        ],
        1,
    );
    assert!(
        err.contains("invalid_field (field grid): names no known place") && !err.contains("西关村"),
        "{err}"
    );
    fails(&li, &["visit", "--category", "general", "--purpose", "routine"], 1);

    let synced = ok_json(&li, &["sync", "--json"]);
    assert_eq!(synced["refused"], 0, "{synced}");
    assert_eq!(ok_json(&li, &["status", "--json"])["pending"], 0);

    // The township admin files no daily report: they have no grid.
    let (wang, _) = handset(&township, dir.path(), "wang", ADMIN);
    let err = fails(&wang, &["report", "all-safe"], 1);
    assert!(err.contains("refused by the record rules") && err.contains("grid"), "{err}");
}

#[test]
fn dispute_steps_follow_the_lifecycle_rules() {
    let township = Township::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let (li, li_device) = handset(&township, dir.path(), "li", WORKER);
    let (wang, _) = handset(&township, dir.path(), "wang", ADMIN);

    let dispute = id(
        &li,
        &[
            "dispute",
            "new",
            "--category",
            "邻里纠纷",
            "--source",
            "patrol",
            "--summary",
            "两户因排水沟发生争执",
            "--risk",
            "2",
            "--party",
            "张三",
            "--party",
            "李四",
        ],
    );
    let fields = ok_json(&li, &["show", &dispute, "--json"])["fields"].clone();
    assert_eq!(fields["registered_at"], GRID);
    assert_eq!(fields["parties"], json!([{"name": "张三"}, {"name": "李四"}]));
    ok(
        &li,
        &[
            "dispute",
            "mediation",
            &dispute,
            "--outcome",
            "partly_agreed",
            "--place",
            "村委会",
            "--participants",
            "双方当事人",
            "--note",
            "同意疏通一半",
        ],
    );

    // The rules as the server will apply them: resolving needs a note,
    // only a centre closes, and the stage must allow the step.
    let err = fails(&li, &["dispute", "step", &dispute, "resolve"], 1);
    assert!(err.contains("missing_field (field note)"), "{err}");
    let err = fails(&li, &["dispute", "step", &dispute, "follow_up"], 1);
    assert!(err.contains("invalid_transition (field step)"), "{err}");
    let step = id(&li, &["dispute", "step", &dispute, "resolve", "--note", "双方达成协议"]);
    assert!(step.starts_with(&format!("{li_device}:")), "a step id is DEVICE:COUNTER: {step}");
    let err = fails(&li, &["dispute", "step", &dispute, "close"], 1);
    assert!(err.contains("refused by the record rules: forbidden (field step)"), "{err}");
    assert!(err.contains("governance centre") && !err.contains("排水沟"), "{err}");
    fails(&li, &["dispute", "step", &dispute, "settle"], 1);

    let shown = ok_json(&li, &["dispute", "show", &dispute, "--json"]);
    assert_eq!(shown["id"], dispute.as_str());
    assert_eq!((&shown["stage"], &shown["owner"]), (&json!("resolved"), &json!(GRID)));
    assert_eq!(
        (&shown["handler"], &shown["cooperating"], &shown["flagged"]),
        (&Json::Null, &json!([]), &json!(false))
    );
    let steps = shown["steps"].as_array().expect("steps");
    assert_eq!(steps.len(), 1);
    assert_eq!(steps[0]["id"], step.as_str());
    assert_eq!((&steps[0]["action"], &steps[0]["status"]), (&json!("resolve"), &json!("applied")));
    assert_eq!((&steps[0]["by_role"], &steps[0]["by_place"]), (&json!("worker"), &json!(GRID)));
    assert_eq!(steps[0]["note"], "双方达成协议");
    assert_eq!(steps[0]["author"], WORKER);
    assert_eq!(steps[0]["received_ms"], Json::Null);
    let text = ok(&li, &["dispute", "show", &dispute]);
    assert!(text.contains("stage        resolved\n") && text.contains("resolve  applied  by li"), "{text}");

    // The township centre closes it, and the worker sees it closed.
    ok(&li, &["sync"]);
    ok(&wang, &["sync"]);
    ok(
        &wang,
        &["dispute", "step", &dispute, "assist", "--unit", POLICE, "--letter-number", "城综协〔2026〕1号"],
    );
    ok(&wang, &["dispute", "step", &dispute, "close", "--note", "回访无异议"]);
    ok(&wang, &["sync"]);
    ok(&li, &["sync"]);
    let shown = ok_json(&li, &["dispute", "show", &dispute, "--json"]);
    assert_eq!((&shown["stage"], &shown["cooperating"]), (&json!("closed"), &json!([POLICE])));
    let close = &shown["steps"][2];
    assert_eq!(
        (&close["action"], &close["by_role"], &close["by_place"]),
        (&json!("close"), &json!("township_admin"), &json!(TOWNSHIP))
    );
    assert!(close["received_ms"].is_u64(), "{close}");
    assert_eq!(shown["steps"][1]["letter"], "assistance");
    let err = fails(&li, &["dispute", "show", &support::id(&li, &["patrol", "start"])], 1);
    assert!(err.contains("not a dispute"), "{err}");
}

#[test]
fn a_write_the_server_refuses_is_kept_visible_until_dismissed() {
    let township = Township::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let (li, _) = handset(&township, dir.path(), "li", WORKER);
    let (wang, _) = handset(&township, dir.path(), "wang", ADMIN);
    assert_eq!(ok(&li, &["rejected"]), "no refused writes\n");

    let dispute = id(
        &li,
        &["dispute", "new", "--category", "邻里纠纷", "--source", "visit", "--summary", "排水沟堵塞"],
    );
    ok(&li, &["sync"]);
    ok(&wang, &["sync"]);
    // The township escalates it to the village and keeps the worker on it.
    ok(&wang, &["dispute", "step", &dispute, "escalate", "--note", "网格调解未果"]);
    ok(&wang, &["set", &dispute, &format!("assignee={WORKER}")]);
    ok(&wang, &["sync"]);

    // Offline, the worker still edits it as its owner; the server refuses that.
    ok(&li, &["set", &dispute, "summary=排水沟堵塞，已疏通一半"]);
    ok(&li, &["report", "all-safe"]);
    let out = support::gridsync(&li, &["sync", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Json = serde_json::from_slice(&out.stdout).expect("sync JSON");
    assert_eq!((&report["refused"], &report["pushed"]), (&json!(1), &json!(5)), "{report}");
    let notice = String::from_utf8_lossy(&out.stderr);
    assert!(notice.contains("the server refused 1 write; see `gridsync rejected`"), "{notice}");

    let refused = ok_json(&li, &["rejected", "--json"]);
    assert_eq!(refused.as_array().map(Vec::len), Some(1), "{refused}");
    let r = &refused[0];
    assert_eq!((&r["record"], &r["kind"]), (&json!(dispute), &json!("dispute")));
    assert_eq!(
        (&r["code"], &r["field"], &r["change_count"]),
        (&json!("forbidden"), &json!("summary"), &json!(1))
    );
    assert!(r["refused_ms"].is_u64() && r["id"].is_i64(), "{r}");
    let message = r["message"].as_str().expect("message");
    assert!(!message.is_empty() && !message.contains("疏通"), "{message}");
    // The refused value is kept for the worker to redo; the record is the server's.
    assert_eq!(r["outcome"], "rebuilt");
    assert_eq!(r["edits"], json!([{"op": "set", "field": "summary", "value": "排水沟堵塞，已疏通一半"}]));
    let text = ok(&li, &["rejected"]);
    assert!(text.contains("forbidden (field summary)"), "{text}");
    assert!(text.contains("   refused: summary = 排水沟堵塞，已疏通一半\n"), "{text}");
    assert!(text.contains("the record on this device was rebuilt from the server's copy"), "{text}");
    let status = ok_json(&li, &["status", "--json"]);
    assert_eq!((&status["refused"], &status["pending"]), (&json!(1), &json!(0)));

    // The device's copy is the server's: the village owns it, the edit is not in it.
    let shown = ok_json(&li, &["show", &dispute, "--json"]);
    assert_eq!(shown["fields"]["summary"], "排水沟堵塞");
    assert_eq!(shown["lifecycle"]["owner"], VILLAGE);

    let rejection = r["id"].to_string();
    assert_eq!(ok(&li, &["rejected", "dismiss", &rejection]), "");
    assert_eq!(ok_json(&li, &["rejected", "--json"]), json!([]));
    let err = fails(&li, &["rejected", "dismiss", &rejection], 1);
    assert!(err.contains("no refused write"), "{err}");
    assert_eq!(ok_json(&li, &["status", "--json"])["refused"], 0);
}

#[test]
fn offline_edits_of_one_field_conflict_and_resolve() {
    let township = Township::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let (li, _) = handset(&township, dir.path(), "li", WORKER);
    let (wang, _) = handset(&township, dir.path(), "wang", ADMIN);
    let dispute = id(&li, &["dispute", "new", "--category", "邻里纠纷", "--source", "patrol", "--risk", "1"]);
    ok(&li, &["sync"]);
    ok(&wang, &["sync"]);
    ok(&li, &["set", &dispute, "risk:=2"]);
    ok(&wang, &["set", &dispute, "risk:=3"]);
    for store in [&li, &wang, &li] {
        ok(store, &["sync"]);
    }
    let conflicts = ok_json(&li, &["conflicts", "--json"]);
    assert_eq!(conflicts.as_array().map(Vec::len), Some(1), "{conflicts}");
    assert_eq!(conflicts[0]["field"], "risk");
    let values: Vec<&Json> =
        conflicts[0]["values"].as_array().expect("values").iter().map(|v| &v["value"]).collect();
    assert_eq!(values.len(), 2);
    assert!(values.contains(&&json!(2)) && values.contains(&&json!(3)), "{conflicts}");
    assert!(conflicts[0]["values"][0]["received_ms"].is_u64(), "{conflicts}");
    let err = fails(&wang, &["resolve", &dispute, "risk", "9", "--json"], 1);
    assert!(err.contains("invalid_field (field risk)"), "{err}");
    ok(&wang, &["resolve", &dispute, "risk", "3", "--json"]);
    ok(&wang, &["sync"]);
    ok(&li, &["sync"]);
    assert_eq!(ok_json(&li, &["conflicts", "--json"]), json!([]));
    assert_eq!(ok_json(&li, &["show", &dispute, "--json"])["fields"]["risk"], 3);
}

#[test]
fn a_photo_is_attached_listed_and_opened_only_into_the_directory_given() {
    let township = Township::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let (li, _) = handset(&township, dir.path(), "li", WORKER);
    let household =
        id(&li, &["household", "new", "--category", "household", "--set", "door_plate=东关村3号"]);
    let mut bytes = b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00".to_vec();
    bytes.extend((0..100_000u32).map(|i| (i * 31 % 251) as u8));
    let photo = dir.path().join("photo.jpg");
    std::fs::write(&photo, &bytes).expect("write");
    let photo = photo.to_str().expect("utf-8 path");

    let hash = id(&li, &["attach", &household, photo, "--name", "门牌"]);
    assert_eq!(hash, gridsync_proto::ContentHash::of(&bytes).to_hex());
    let listed = ok_json(&li, &["attachments", &household, "--json"]);
    assert_eq!(
        listed,
        json!([{"hash": hash, "size": bytes.len(), "media": "image/jpeg", "name": "门牌", "entry": null,
                "local": true, "uploaded": false}])
    );
    assert!(ok(&li, &["attachments", &household]).contains("on this device, not uploaded yet  门牌"));

    let view = dir.path().join("view");
    std::fs::create_dir(&view).expect("dir");
    let opened = id(&li, &["open-attachment", &hash, "--out", view.to_str().expect("utf-8")]);
    assert_eq!(std::path::Path::new(&opened), view.join(format!("{hash}.jpg")));
    assert_eq!(std::fs::read(&opened).expect("copy"), bytes);
    // No directory, no copy: never into the current one unasked.
    let unasked = support::gridsync(&li, &["open-attachment", &hash]);
    assert_eq!(unasked.status.code(), Some(1), "a usage error");
    assert!(unasked.stdout.is_empty());

    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "张三 530102199001011234").expect("write");
    let refused = fails(&li, &["attach", &household, text.to_str().expect("utf-8")], 1);
    assert!(refused.contains("not a photo"), "{refused}");
    assert!(!refused.contains("张三"), "{refused}");
}

#[test]
fn a_photo_uploads_with_the_sync_and_another_device_fetches_it() {
    let township = Township::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let (li, _) = handset(&township, dir.path(), "li", WORKER);
    let (tablet, _) = handset(&township, dir.path(), "tablet", WORKER);
    let household =
        id(&li, &["household", "new", "--category", "household", "--set", "door_plate=东关村5号"]);
    let mut bytes = b"%PDF-1.7\n".to_vec();
    bytes.extend((0..600_000u32).map(|i| (i * 17 % 253) as u8));
    let agreement = dir.path().join("agreement.pdf");
    std::fs::write(&agreement, &bytes).expect("write");
    let hash = id(&li, &["attach", &household, agreement.to_str().expect("utf-8"), "--name", "调解协议书"]);

    let report = ok_json(&li, &["sync", "--json"]);
    assert_eq!((report["uploaded"].as_u64(), report["uploaded_bytes"].as_u64()), (Some(1), Some(600_009)));
    assert_eq!(ok_json(&li, &["attachments", &household, "--json"])[0]["uploaded"], true);

    // The other device pulls the reference, not the file, and fetches it on demand.
    ok(&tablet, &["sync"]);
    let listed = ok_json(&tablet, &["attachments", &household, "--json"]);
    assert_eq!(
        (listed[0]["hash"].as_str(), listed[0]["local"].as_bool()),
        (Some(hash.as_str()), Some(false))
    );
    ok(&tablet, &["fetch-attachment", &household, &hash]);
    let view = dir.path().join("view");
    std::fs::create_dir(&view).expect("dir");
    let opened = id(&tablet, &["open-attachment", &hash, "--out", view.to_str().expect("utf-8")]);
    assert!(opened.ends_with(".pdf"), "{opened}");
    assert_eq!(std::fs::read(&opened).expect("copy"), bytes);
    // Uploaded once: a second sync sends nothing more.
    assert_eq!(ok_json(&li, &["sync", "--json"])["uploaded"], 0);
}
