//! The operator's list commands run as the real binary: `user list`,
//! `device list`, `place list` and `unit list` print a header line and
//! aligned columns (places and units in the import CSV's order), or with
//! `--json` an array of objects with stable field names; a reader that
//! goes away after the first line ends the listing quietly with success.
//! Times in text are in the deployment's time zone (China time unless the
//! settings say otherwise), or in UTC with `--utc`; JSON keeps Unix ms.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::{Fixture, cli_ok, with_device};
use gridsync_proto::Role;
use serde_json::Value;

/// A county of `n` townships with Chinese names, a village with a grid, two
/// units, a worker with a device and a deactivated user.
fn deployment(n: usize) -> Fixture {
    let fx = Fixture::new();
    let dir = fx.data.parent().expect("a parent").to_owned();
    let rows: String = (0..n).map(|i| format!("53{i:04},第{i}镇,township,5300\n")).collect();
    let places = dir.join("places.csv");
    let village = "530000-01,东关村,village,530000\n530000-01-01,第一网格,grid,530000-01\n";
    std::fs::write(&places, format!("code,name,level,parent\n5300,五华区,county,\n{rows}{village}"))
        .expect("csv");
    cli_ok(&fx.data, &["place", "import", places.to_str().expect("path")], None);
    let units = dir.join("units.csv");
    std::fs::write(
        &units,
        "code,name,kind,place\nU-POL,城关派出所,police,530000\nU-JUS,司法所,justice,5300\n",
    )
    .expect("csv");
    cli_ok(&fx.data, &["unit", "import", units.to_str().expect("path")], None);
    cli_ok(&fx.data, &["admin", "create", "--user", "admin"], None);
    with_device(&fx.op, "李明", Role::Worker, GRID);
    cli_ok(&fx.data, &["user", "add", "wang", "--role", "worker", "--scope", "530000-01"], None);
    cli_ok(&fx.data, &["user", "deactivate", "wang"], None);
    fx
}

/// The grid of [`deployment`]'s worker.
const GRID: &str = "530000-01-01";

/// 2026-12-04 07:00:05 UTC.
const SYNCED_MS: u64 = 1_796_367_605_000;

/// The lines of a text listing, each split into its cells.
fn table(text: &str) -> Vec<Vec<String>> {
    text.lines().map(|l| l.split_whitespace().map(str::to_owned).collect()).collect()
}

/// A `--json` listing: an array of objects, each with exactly `fields`.
fn objects(text: &str, fields: &[&str]) -> Vec<Value> {
    let rows: Vec<Value> = serde_json::from_str(text).expect("a JSON array");
    for row in &rows {
        let mut keys: Vec<&str> = row.as_object().expect("an object").keys().map(String::as_str).collect();
        let mut expected = fields.to_vec();
        keys.sort_unstable();
        expected.sort_unstable();
        assert_eq!(keys, expected, "{row}");
    }
    rows
}

#[test]
fn every_list_has_a_header_and_json_with_stable_fields() {
    let fx = deployment(3);
    let data = &fx.data;

    let users = table(&cli_ok(data, &["user", "list"], None));
    assert_eq!(users[0], ["NAME", "ROLE", "SCOPE", "STATE", "UNIT"]);
    assert!(users.contains(&vec![
        "admin".into(),
        "administrator".into(),
        "(all)".into(),
        "active".into(),
        "-".into()
    ]));
    assert!(users.contains(&vec![
        "wang".into(),
        "worker".into(),
        "530000-01".into(),
        "deactivated".into(),
        "-".into()
    ]));
    let json = objects(
        &cli_ok(data, &["user", "list", "--json"], None),
        &["name", "role", "scope", "unit", "active"],
    );
    let li = json.iter().find(|u| u["name"] == "李明").expect("listed");
    assert_eq!((&li["role"], &li["scope"], &li["active"]), (&"worker".into(), &GRID.into(), &true.into()));
    assert_eq!(json.len(), users.len() - 1, "one object per row");

    let devices = table(&cli_ok(data, &["device", "list"], None));
    assert_eq!(devices[0], ["ID", "USER", "STATE", "CHANGES", "LAST", "SYNC"]);
    assert_eq!(devices[1][1..], ["李明", "active", "0", "never"]);
    let fields = [
        "id",
        "user",
        "state",
        "enrolled_ms",
        "revoked_ms",
        "wipe",
        "last_push_ms",
        "last_sync_ms",
        "changes",
    ];
    let json = objects(&cli_ok(data, &["device", "list", "--json"], None), &fields);
    assert_eq!(json.len(), 1);
    assert_eq!((&json[0]["id"], &json[0]["user"]), (&devices[1][0].clone().into(), &"李明".into()));
    assert!(
        json[0]["enrolled_ms"].is_u64()
            && json[0]["revoked_ms"].is_null()
            && json[0]["last_push_ms"].is_null()
            && json[0]["last_sync_ms"].is_null()
    );

    let places = cli_ok(data, &["place", "list"], None);
    let rows = table(&places);
    assert_eq!(rows[0], ["CODE", "NAME", "LEVEL", "PARENT"], "the import CSV's order");
    assert!(rows.contains(&vec!["530002".into(), "第2镇".into(), "township".into(), "5300".into()]));
    assert!(rows.contains(&vec!["5300".into(), "五华区".into(), "county".into(), "-".into()]));
    // Aligned on a terminal: every row's level starts where the header's does.
    let column = |line: &str| {
        let level = [" township", " county", " village", " grid"].iter().find_map(|l| line.find(l));
        unicode_column(line, level)
    };
    let header_at = unicode_column(places.lines().next().expect("header"), places.find(" LEVEL"));
    assert!(places.lines().skip(1).all(|l| column(l) == header_at), "{places}");
    let json =
        objects(&cli_ok(data, &["place", "list", "--json"], None), &["code", "name", "level", "parent"]);
    assert_eq!(json.len(), 6);
    let top = json.iter().find(|p| p["code"] == "5300").expect("listed");
    assert_eq!(
        (&top["name"], &top["level"], &top["parent"]),
        (&"五华区".into(), &"county".into(), &Value::Null)
    );

    let units = table(&cli_ok(data, &["unit", "list"], None));
    assert_eq!(units[0], ["CODE", "NAME", "KIND", "PLACE"], "the import CSV's order");
    assert!(units.contains(&vec!["U-JUS".into(), "司法所".into(), "justice".into(), "5300".into()]));
    let json = objects(&cli_ok(data, &["unit", "list", "--json"], None), &["code", "name", "kind", "place"]);
    let pol = json.iter().find(|u| u["code"] == "U-POL").expect("listed");
    assert_eq!(
        (&pol["name"], &pol["kind"], &pol["place"]),
        (&"城关派出所".into(), &"police".into(), &"530000".into())
    );
}

#[test]
fn the_device_list_shows_each_devices_last_sync_in_the_deployments_time_zone() {
    let fx = deployment(1);
    let data = &fx.data;
    common::sqlite(data)
        .execute("UPDATE devices SET last_push_ms = ?1 WHERE user = '李明'", [SYNCED_MS as i64])
        .expect("a push at a known time");
    let china = table(&cli_ok(data, &["device", "list"], None));
    assert_eq!(china[1][1..], ["李明", "active", "0", "2026-12-04", "15:00:05", "+08:00"], "China time");
    let utc = table(&cli_ok(data, &["device", "list", "--utc"], None));
    assert_eq!(utc[1][4..], ["2026-12-04", "07:00:05", "UTC"]);
    let settings = data.parent().expect("a parent").join("gridsync.toml");
    std::fs::write(&settings, "utc_offset_minutes = -90\n").expect("settings");
    let config = settings.to_str().expect("a UTF-8 path");
    let west = table(&cli_ok(data, &["--config", config, "device", "list"], None));
    assert_eq!(west[1][4..], ["2026-12-04", "05:30:05", "-01:30"], "the deployment's setting");
    for args in [&["device", "list", "--json"][..], &["--utc", "device", "list", "--json"]] {
        let json: Value = serde_json::from_str(&cli_ok(data, args, None)).expect("json");
        assert_eq!(json[0]["last_sync_ms"], SYNCED_MS, "JSON keeps Unix ms: {args:?}");
    }
}

/// The terminal column of byte offset `at` in `line` (+1, past the space):
/// Chinese characters take two columns.
fn unicode_column(line: &str, at: Option<usize>) -> usize {
    let at = at.expect("the column found") + 1;
    line[..at].chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum()
}

#[test]
fn a_reader_that_goes_away_after_the_first_line_ends_every_list_quietly() {
    let fx = deployment(3_000);
    for list in ["place", "user", "unit", "device"] {
        for json in [false, true] {
            let mut args = vec![list, "list"];
            args.extend(json.then_some("--json"));
            // `gridsync-server place list | head -1`.
            let mut child = Command::new(env!("CARGO_BIN_EXE_gridsync-server"))
                .arg("--data")
                .arg(&fx.data)
                .args(&args)
                .env("RUST_BACKTRACE", "1")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("the binary runs");
            let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
            let mut first = String::new();
            reader.read_line(&mut first).expect("the first line");
            assert!(!first.is_empty(), "{args:?}");
            drop(reader);
            let out = child.wait_with_output().expect("the binary ends");
            let said = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success() && !said.contains("panicked"), "{args:?}: {:?}: {said}", out.status);
            assert!(said.is_empty(), "{args:?}: {said}");
        }
    }
}
