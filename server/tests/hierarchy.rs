//! The place hierarchy end to end: a county's places imported from CSV with
//! the operator's command line, grids moved between villages without
//! touching a record, and the admin API's subtree and budget rules.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Output};

use gridsync_proto::access::AccessKey;
use gridsync_proto::auth::{self, EnrollRequest};
use gridsync_proto::{ActorId, ErrorBody, ErrorCode, Level, Place, RecordId, Role};
use gridsync_server::operator::Operator;
use gridsync_server::{Running, Settings};
use gridsync_server_core::storage::StorageExt;
use reqwest::blocking::{Client, Response};
use rusqlite::Connection;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

fn run(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gridsync-server"))
        .arg("--data")
        .arg(data)
        .args(args)
        .current_dir(data.parent().expect("a parent"))
        .output()
        .expect("the binary runs")
}

fn ok(data: &Path, args: &[&str]) -> String {
    let out = run(data, args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

/// What a refused command said, without any backtrace.
fn refused(data: &Path, args: &[&str]) -> String {
    let out = run(data, args);
    assert_eq!(out.status.code(), Some(1), "{args:?} should fail");
    let said = String::from_utf8_lossy(&out.stderr);
    said.split("Stack backtrace:").next().unwrap_or_default().to_owned()
}

fn db(data: &Path) -> Connection {
    Connection::open(data.join(gridsync_server_sqlite::DB_FILE)).expect("database")
}

/// Every row of `table`, every column, in a stable order.
fn dump(conn: &Connection, table: &str) -> Vec<String> {
    let mut stmt = conn.prepare(&format!("SELECT * FROM {table}")).expect("select");
    let columns = stmt.column_count();
    let mut rows: Vec<String> = stmt
        .query_map([], |r| {
            (0..columns).map(|i| r.get::<_, rusqlite::types::Value>(i).map(|v| format!("{v:?}"))).collect()
        })
        .expect("query")
        .collect::<Result<Vec<Vec<String>>, _>>()
        .expect("rows")
        .into_iter()
        .map(|cols| cols.join("|"))
        .collect();
    rows.sort();
    rows
}

/// Files `n` fresh records under `place`, as the ingest would.
fn records_at(data: &Path, place: &str, n: usize) {
    let op = Operator::open_default(data).expect("open");
    let key = AccessKey::Place(place.to_owned()).encode();
    let place = place.to_owned();
    op.run(op.service().storage().write(move |tx, now| {
        let township =
            gridsync_server_core::home::bucket(&gridsync_server_core::directory::load(tx)?, &place);
        for _ in 0..n {
            tx.file_access(RecordId::generate(now), &township, std::slice::from_ref(&key), now, false, 0)?;
        }
        Ok(())
    }))
    .expect("indexed");
}

fn enroll_device(data: &Path, user: &str) {
    let op = Operator::open_default(data).expect("open");
    let code = op.issue_code(user, 60_000, "http://127.0.0.1:8080").expect("code").code;
    let request = EnrollRequest { code, device: ActorId::random(), public_key: auth::b64(&[7; 32]) };
    op.run(op.service().enroll(request)).expect("enrolled");
}

fn directory_version(data: &Path) -> i64 {
    db(data)
        .query_row("SELECT value FROM meta WHERE key = 'directory_version'", [], |r| r.get(0))
        .expect("version")
}

const COUNTY: &str = "532621";

fn grid_code(t: u32, v: u32, g: u32) -> String {
    format!("{COUNTY}{t:03}{v:03}-{g:02}")
}

/// A county of 20 townships × 5 villages × 20 grids (2,000 grids, 2,121
/// places), children listed before their parents.
fn county_csv() -> String {
    let mut rows = Vec::new();
    for t in 1..=20 {
        let township = format!("{COUNTY}{t:03}");
        for v in 1..=5 {
            let village = format!("{township}{v:03}");
            for g in 1..=20 {
                rows.push(format!("{},第{g}网格,grid,{village}", grid_code(t, v, g)));
            }
            rows.push(format!("{village},第{v}村,village,{township}"));
        }
        rows.push(format!("{township},第{t}镇,township,{COUNTY}"));
    }
    rows.push(format!("{COUNTY},某县,county,"));
    let mut text = String::from("code,name,level,parent\n");
    for row in rows {
        writeln!(text, "{row}").expect("write");
    }
    text
}

#[test]
fn a_county_imports_from_csv_and_a_grid_moves_without_touching_records() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let file = dir.path().join("county.csv");
    std::fs::write(&file, county_csv()).expect("csv");
    let file_arg = file.to_str().expect("path");

    let said = ok(&data, &["place", "import", file_arg]);
    assert!(said.contains("2121 added, 0 updated, 0 unchanged"), "{said}");
    let listed = ok(&data, &["place", "list"]);
    assert_eq!(listed.lines().count(), 1 + 2_121, "a header line and one line per place");
    assert!(listed.starts_with("CODE "), "{listed:.200}");
    let grid = grid_code(1, 1, 1);
    let cells = |line: &str| line.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    let row = listed.lines().map(cells).find(|c| c[0] == grid).expect("the grid listed");
    assert_eq!(row, [grid.clone(), "第1网格".into(), "grid".into(), format!("{COUNTY}001001")]);
    let places: Vec<Place> = serde_json::from_str(&ok(&data, &["place", "list", "--json"])).expect("json");
    assert_eq!(places.iter().filter(|p| p.level == Level::Grid).count(), 2_000);
    assert_eq!(places.iter().filter(|p| p.level == Level::Township).count(), 20);
    let said = ok(&data, &["place", "import", file_arg]);
    assert!(said.contains("0 added, 0 updated, 2121 unchanged"), "{said}");

    // One bad row refuses the whole file, naming its line and code.
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        format!("{}{COUNTY}999,新镇,township,{COUNTY}\nG-X,坏网格,grid,nowhere\n", county_csv()),
    )
    .expect("csv");
    let said = refused(&data, &["place", "import", bad.to_str().expect("path")]);
    assert!(said.contains("line 2124") && said.contains("G-X") && said.contains("nowhere"), "{said}");
    assert_eq!(ok(&data, &["place", "list"]).lines().count(), 1 + 2_121, "nothing of the bad file was kept");

    // A record of the grid, with its change and its access row.
    let conn = db(&data);
    let record = RecordId::generate(1_000);
    conn.execute(
        "INSERT INTO records (id, kind, state, conflicted, updated_seq) VALUES (?1, 1, x'0102', 0, 1)",
        [record.as_bytes()],
    )
    .expect("record");
    // The log names its record and origin (device and author) by key (ADR 0024).
    conn.execute("INSERT INTO origins (actor, author) VALUES (?1, '')", [ActorId::random().as_bytes()])
        .expect("origin");
    conn.execute(
        "INSERT INTO changes (record, origin, counter, received_ms, body)
         VALUES ((SELECT key FROM records WHERE id = ?1), last_insert_rowid(), 1, 1000, x'0304')",
        [record.as_bytes()],
    )
    .expect("change");
    conn.execute(
        "INSERT INTO record_access (key, record, active_ms, open) VALUES (?1, ?2, 1000, 0)",
        rusqlite::params![format!("p:{grid}"), record.as_bytes()],
    )
    .expect("access");
    let tables = ["records", "changes", "record_access"];
    let before: Vec<Vec<String>> = tables.iter().map(|t| dump(&conn, t)).collect();
    drop(conn);
    let version = directory_version(&data);

    let other_village = format!("{COUNTY}001002");
    let said = ok(&data, &["place", "move", &grid, "--parent", &other_village]);
    assert_eq!(said.trim(), format!("place {grid} now under {other_village}"));
    let conn = db(&data);
    let after: Vec<Vec<String>> = tables.iter().map(|t| dump(&conn, t)).collect();
    assert_eq!(before, after, "moving a grid touches no record, change or access row");
    assert_eq!(before[0].len(), 1);
    let parent: String =
        conn.query_row("SELECT parent FROM places WHERE code = ?1", [&grid], |r| r.get(0)).expect("place");
    assert_eq!(parent, other_village);
    assert!(directory_version(&data) > version, "the move bumps the directory version");
    let said = refused(&data, &["place", "move", &grid, "--parent", &grid_code(1, 2, 2)]);
    assert!(said.contains("a grid cannot sit under a grid"), "{said}");
    let intact = ok(&data, &["audit", "verify"]);
    assert!(intact.starts_with("audit log intact: 3 entries"), "two imports and a move: {intact}");
}

#[test]
fn the_command_line_assigns_users_and_units_within_the_configured_budget() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let csv = dir.path().join("places.csv");
    std::fs::write(
        &csv,
        "code,name,level,parent\nT1,城关镇,镇,\nV1,东门村,村,T1\nV2,西门村,村,T1\nG1,一组,网格,V1\nG2,二组,网格,V2\n",
    )
    .expect("csv");
    ok(&data, &["place", "import", csv.to_str().expect("path")]);
    let units = dir.path().join("units.csv");
    std::fs::write(&units, "code,name,kind,place\nU-POL,城关派出所,police,T1\n").expect("csv");
    let said = ok(&data, &["unit", "import", units.to_str().expect("path")]);
    assert!(said.contains("1 added"), "{said}");
    let listed: Value = serde_json::from_str(&ok(&data, &["unit", "list", "--json"])).expect("json");
    assert_eq!(listed[0]["place"], "T1");
    ok(&data, &["unit", "add", "U-JUS", "--name", "司法所", "--kind", "justice", "--place", "V1"]);
    let listed = ok(&data, &["unit", "list"]);
    let row: Vec<&str> =
        listed.lines().find(|l| l.starts_with("U-JUS ")).expect("listed").split_whitespace().collect();
    assert_eq!(row, ["U-JUS", "司法所", "justice", "V1"], "{listed}");

    let said = refused(&data, &["user", "add", "mca", "--role", "department", "--scope", "T1"]);
    assert!(said.contains("belongs to a unit"), "{said}");
    let said = ok(&data, &["user", "add", "mca", "--role", "department", "--unit", "U-POL"]);
    assert!(said.contains("scope T1, unit U-POL"), "{said}");
    let said = ok(&data, &["user", "move", "mca", "--unit", "U-JUS"]);
    assert!(said.contains("scope V1, unit U-JUS"), "{said}");
    let said = refused(&data, &["user", "add", "li", "--role", "worker", "--scope", "G1", "--unit", "U-POL"]);
    assert!(said.contains("only department users"), "{said}");

    ok(&data, &["user", "add", "li", "--role", "worker", "--scope", "G1"]);
    enroll_device(&data, "li");
    records_at(&data, "G2", 2);
    let config = dir.path().join("tight.toml");
    std::fs::write(&config, "device_record_budget = 1\n").expect("config");
    let config_arg = config.to_str().expect("path");
    let said = refused(&data, &["--config", config_arg, "user", "move", "li", "--scope", "G2"]);
    assert!(said.contains("2 records") && said.contains("budget of 1") && !said.contains("li"), "{said}");
    // Nobody's device sees G2 from V1 up that did not see it already.
    let said = ok(&data, &["--config", config_arg, "place", "move", "G2", "--parent", "V1"]);
    assert!(said.contains("now under V1"), "{said}");
    let said = refused(&data, &["user", "move", "li", "--scope", "nowhere"]);
    assert!(said.contains("not a known place"), "{said}");
    let said = ok(&data, &["user", "move", "li", "--scope", "G2"]);
    assert!(said.contains("assigned to scope G2"), "the default budget is 10,000: {said}");
    ok(&data, &["user", "deactivate", "li"]);
    let said = refused(&data, &["user", "move", "li", "--scope", "G1"]);
    assert!(said.contains("deactivated"), "{said}");
}

struct County {
    server: Running,
    dir: tempfile::TempDir,
    http: Client,
}

impl County {
    /// County C: townships T1 (villages V1, V1B; grid G1 under V1) and T2
    /// (villages V2, V3; grid G2 under V2). Grid codes say nothing of their
    /// village. G1 holds one record, G2 three; a device holds at most two.
    fn start() -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        let op = Operator::open_default(&data).expect("open");
        for (code, level, parent) in [
            ("C", Level::County, None),
            ("T1", Level::Township, Some("C")),
            ("T2", Level::Township, Some("C")),
            ("V1", Level::Village, Some("T1")),
            ("V1B", Level::Village, Some("T1")),
            ("V2", Level::Village, Some("T2")),
            ("V3", Level::Village, Some("T2")),
            ("G-0001", Level::Grid, Some("V1")),
            ("G-0002", Level::Grid, Some("V2")),
        ] {
            let place =
                Place { code: code.into(), name: "某地".into(), level, parent: parent.map(Into::into) };
            op.add_place(&place).expect("place");
        }
        const ONE_TIME: &str = "set by the operator, once";
        op.add_user("root", Role::Administrator, Some(""), None, Some(ONE_TIME.into())).expect("root");
        op.add_user("wang", Role::TownshipAdmin, Some("T1"), None, Some(ONE_TIME.into())).expect("wang");
        for name in ["root", "wang"] {
            // Each chooses their own password at their first login.
            let first = op.run(op.service().login(name, ONE_TIME)).expect("first login");
            let staff = gridsync_server_core::service::Caller::Staff(first.user);
            op.run(op.service().change_own_password(&staff, ONE_TIME, PASSWORD, None)).expect("their own");
        }
        op.add_user("li", Role::Worker, Some("G-0001"), None, None).expect("li");
        drop(op);
        enroll_device(&data, "li");
        enroll_device(&data, "wang");
        records_at(&data, "G-0001", 1);
        records_at(&data, "G-0002", 3);
        let mut settings = Settings::new(&data, "127.0.0.1:0".parse().expect("addr"));
        settings.workers = 1;
        settings.scope.budget = 2;
        Self { server: Running::start(settings).expect("server"), dir, http: Client::new() }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/v1/admin{path}", self.server.url())
    }

    fn token(&self, user: &str) -> String {
        let response =
            self.http.post(self.url("/login")).json(&json!({"user": user, "password": PASSWORD})).send();
        response.expect("answer").json::<Value>().expect("json")["token"].as_str().expect("token").to_owned()
    }

    fn post(&self, token: &str, path: &str, body: Value) -> Response {
        self.http.post(self.url(path)).bearer_auth(token).json(&body).send().expect("answer")
    }

    fn csv(&self, token: &str, path: &str, text: &str) -> Response {
        let request = self.http.post(self.url(path)).bearer_auth(token).header("content-type", "text/csv");
        request.body(text.to_owned()).send().expect("answer")
    }

    fn get(&self, token: &str, path: &str) -> Value {
        self.http.get(self.url(path)).bearer_auth(token).send().expect("answer").json().expect("json")
    }

    fn audit_count(&self, action: &str, outcome: &str) -> i64 {
        db(&self.dir.path().join("data"))
            .query_row(
                "SELECT count(*) FROM audit WHERE action = ?1 AND outcome = ?2",
                [action, outcome],
                |r| r.get(0),
            )
            .expect("count")
    }
}

fn refusal(response: Response) -> (u16, ErrorCode, String) {
    let status = response.status().as_u16();
    let body = response.json::<ErrorBody>().expect("an error body");
    (status, body.code, body.message)
}

fn grid(code: &str, parent: &str) -> Value {
    json!({"code": code, "name": "新网格", "level": "grid", "parent": parent})
}

#[test]
fn a_township_admin_changes_places_only_within_its_township() {
    let t = County::start();
    let wang = t.token("wang");

    assert_eq!(t.post(&wang, "/places", grid("G-0003", "V1")).status().as_u16(), 201);
    assert_eq!(refusal(t.post(&wang, "/places", grid("G-0004", "V2"))).1, ErrorCode::Forbidden);
    let (status, code, message) = refusal(t.post(&wang, "/places", grid("G-0004", "nowhere")));
    assert_eq!((status, code), (404, ErrorCode::UnknownPlace));
    assert!(message.contains("nowhere"), "{message}");
    let top = json!({"code": "T9", "name": "新镇", "level": "township"});
    assert_eq!(refusal(t.post(&wang, "/places", top)).1, ErrorCode::Forbidden);

    assert_eq!(t.post(&wang, "/places/G-0003/move", json!({"parent": "V1B"})).status().as_u16(), 200);
    for (path, parent) in
        [("/places/G-0001/move", "V2"), ("/places/G-0002/move", "V1"), ("/places/T1/move", "T2")]
    {
        assert_eq!(refusal(t.post(&wang, path, json!({"parent": parent}))).1, ErrorCode::Forbidden, "{path}");
    }
    assert_eq!(t.audit_count("place.add", "forbidden"), 2);
    assert_eq!(t.audit_count("place.move", "forbidden"), 3);

    let ok = "code,name,level,parent\nG-0005,五组,grid,V1B\n";
    let summary: Value = t.csv(&wang, "/places/import", ok).json().expect("json");
    assert_eq!(summary, json!({"added": 1, "updated": 0, "unchanged": 0}));
    let outside = "code,name,level,parent\nG-0006,六组,grid,V1\nG-0007,七组,grid,V3\n";
    let (status, code, message) = refusal(t.csv(&wang, "/places/import", outside));
    assert_eq!((status, code), (403, ErrorCode::Forbidden));
    assert!(message.contains("line 3") && message.contains("G-0007"), "{message}");
    let as_json = t.post(&wang, "/places/import", json!({"code": "G-0008"}));
    assert_eq!(refusal(as_json).1, ErrorCode::UnsupportedMediaType);
    assert_eq!(t.audit_count("place.import", "forbidden"), 1);

    // Wang sees the township, the county above and nothing of T2.
    let seen: Vec<String> = t
        .get(&wang, "/places")
        .as_array()
        .expect("list")
        .iter()
        .map(|p| p["code"].as_str().expect("code").to_owned())
        .collect();
    assert_eq!(seen, ["C", "G-0001", "G-0003", "G-0005", "T1", "V1", "V1B"]);

    // Units and department users within the township only.
    let unit = |place: &str| json!({"code": format!("U-{place}"), "name": "派出所", "kind": "police", "place": place});
    assert_eq!(t.post(&wang, "/units", unit("T1")).status().as_u16(), 201);
    assert_eq!(refusal(t.post(&wang, "/units", unit("T2"))).1, ErrorCode::Forbidden);
    let units: Value = t.get(&wang, "/units");
    assert_eq!(units.as_array().expect("list").len(), 1);
    let dept = json!({"name": "mca", "role": "department", "unit": "U-T1"});
    let added: Value = t.post(&wang, "/users", dept).json().expect("json");
    assert_eq!((&added["scope"], &added["unit"]), (&json!("T1"), &json!("U-T1")));
    let nowhere = json!({"name": "sun", "role": "worker", "scope": "nowhere"});
    assert_eq!(refusal(t.post(&wang, "/users", nowhere)).1, ErrorCode::UnknownPlace);
    let csv = t.csv(&wang, "/units/import", "code,name,kind,place\nU-V1,司法所,justice,V1\n");
    assert_eq!(csv.status().as_u16(), 200);
    // A unit moves within the township, its users with it; not out of it.
    let moved: Value = t.post(&wang, "/units/U-T1/move", json!({"place": "V1"})).json().expect("json");
    assert_eq!(moved["place"], "V1");
    let users: Value = t.get(&wang, "/users");
    let mca = users.as_array().expect("list").iter().find(|u| u["name"] == "mca").expect("mca");
    assert_eq!(mca["scope"], "V1", "the department user follows the unit");
    assert_eq!(refusal(t.post(&wang, "/units/U-T1/move", json!({"place": "T2"}))).1, ErrorCode::Forbidden);

    // Wang moves a worker within the township, not out of it.
    let moved: Value = t.post(&wang, "/users/li/assign", json!({"scope": "V1B"})).json().expect("json");
    assert_eq!(moved["scope"], "V1B");
    assert_eq!(refusal(t.post(&wang, "/users/li/assign", json!({"scope": "V3"}))).1, ErrorCode::Forbidden);
    assert_eq!(t.audit_count("user.assign", "ok"), 1);
    assert_eq!(t.audit_count("user.assign", "forbidden"), 1);
}

#[test]
fn changes_that_would_overfill_a_device_are_refused() {
    let t = County::start();
    let root = t.token("root");

    // li's device would hold G-0002's three records.
    let (status, code, message) = refusal(t.post(&root, "/users/li/assign", json!({"scope": "G-0002"})));
    assert_eq!((status, code), (409, ErrorCode::OverBudget));
    assert!(message.contains("3 records") && message.contains("budget of 2"), "{message}");
    assert!(!message.contains("li") && !message.contains("G-0002"), "counts only: {message}");
    assert_eq!(t.audit_count("user.assign", "over_budget"), 1);

    // Wang's (township T1) would hold G-0001's and G-0002's four.
    let (_, code, message) = refusal(t.post(&root, "/places/G-0002/move", json!({"parent": "V1"})));
    assert_eq!(code, ErrorCode::OverBudget);
    assert!(message.contains("4 records") && message.contains("1 user(s)"), "{message}");
    let import = "code,name,level,parent\nG-0002,二组,grid,V1B\n";
    assert_eq!(refusal(t.csv(&root, "/places/import", import)).1, ErrorCode::OverBudget);

    // Within T2 nobody's device gains anything.
    let moved: Value = t.post(&root, "/places/G-0002/move", json!({"parent": "V3"})).json().expect("json");
    assert_eq!(moved["parent"], "V3");
    let places: Value = t.get(&root, "/places");
    let g2 = places.as_array().expect("list").iter().find(|p| p["code"] == "G-0002").expect("listed").clone();
    assert_eq!(g2["parent"], "V3");
    assert_eq!(t.post(&root, "/users/li/assign", json!({"scope": "V1"})).status().as_u16(), 200);
}
