//! One operation, two doors: every admin operation done once with the
//! operator's command line (the real `gridsync-server` binary) on one data
//! directory and once through the admin HTTP API (a running server, logged
//! in as an administrator) on another gives the same answer, the same
//! state (places, units, users and devices as each door lists them) and the
//! same audit entries: action, target, outcome and detail equal, the actor
//! `cli` on one side and `user:root` on the other. A refusal says the same
//! code and message through both; only the HTTP one is audited (the
//! operator's never left the machine).

mod common;

use std::path::PathBuf;

use common::{cli, cli_ok};
use gridsync_proto::auth::{self, EnrollRequest};
use gridsync_proto::{ActorId, ErrorBody, ErrorCode, Level, Place, Unit};
use gridsync_server::operator::Operator;
use gridsync_server::{Running, Settings};
use gridsync_server_core::CoreError;
use gridsync_server_core::clock::now_ms;
use gridsync_server_core::service::Caller;
use gridsync_server_core::service::people::AddUser;
use gridsync_server_core::storage::AuditRow;
use reqwest::blocking::{Client, Response};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

/// A user as both doors list them: name, role, scope, active, unit.
type UserLine = (String, String, String, bool, Option<String>);
/// A device as both doors list them: id, user, state, changes.
type DeviceLine = (String, String, String, u64);

/// What a door lists, sorted.
#[derive(Debug, PartialEq, Eq)]
struct State {
    places: Vec<Place>,
    units: Vec<Unit>,
    users: Vec<UserLine>,
    devices: Vec<DeviceLine>,
}

impl State {
    fn sorted(mut self) -> Self {
        self.places.sort_by(|a, b| a.code.cmp(&b.code));
        self.units.sort_by(|a, b| a.code.cmp(&b.code));
        self.users.sort();
        self.devices.sort();
        self
    }
}

fn device_state(revoked: bool, wipe: bool) -> String {
    match (revoked, wipe) {
        (true, true) => "revoked+wipe",
        (true, false) => "revoked",
        (false, _) => "active",
    }
    .to_owned()
}

/// The two doors: the command line on `cli`, the HTTP API of `server`.
struct Doors {
    dir: tempfile::TempDir,
    cli: PathBuf,
    /// The command line's data directory, in process: its audit log, and
    /// enrollments of devices (which have no command).
    cli_store: Operator,
    /// The server's data directory, in process: its audit log only.
    http_store: Operator,
    server: Running,
    http: Client,
    token: String,
    /// Audit rows already compared, on each side.
    seen: (u64, u64),
}

impl Doors {
    fn open() -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().expect("tempdir");
        let (cli, served) = (dir.path().join("cli"), dir.path().join("http"));
        // The administrator exists on both sides, made the same way.
        for data in [&cli, &served] {
            cli_ok(data, &["admin", "create", "--user", "root", "--password-stdin"], Some(PASSWORD));
        }
        let mut settings = Settings::new(&served, "127.0.0.1:0".parse().expect("addr"));
        settings.workers = 1;
        let server = Running::start(settings).expect("server");
        let http = Client::new();
        let login = http
            .post(format!("{}/v1/admin/login", server.url()))
            .json(&json!({"user": "root", "password": PASSWORD}))
            .send()
            .expect("answer");
        assert_eq!(login.status().as_u16(), 200);
        let token = login.json::<Value>().expect("json")["token"].as_str().expect("token").to_owned();
        // The password `admin create` set is one-time: root chooses their own first.
        let own = json!({"current_password": PASSWORD, "new_password": "root's own password"});
        let changed = http
            .post(format!("{}/v1/admin/password", server.url()))
            .bearer_auth(&token)
            .json(&own)
            .send()
            .expect("answer");
        assert_eq!(changed.status().as_u16(), 200);
        let cli_store = Operator::open_default(&cli).expect("open");
        let http_store = Operator::open_default(&served).expect("open");
        let mut doors = Self { dir, cli, cli_store, http_store, server, http, token, seen: (0, 0) };
        let (a, b) = doors.new_rows();
        assert_eq!(describe(&a), ["cli user.add root ok role=administrator scope= unit="]);
        assert_eq!(
            describe(&b),
            [
                "cli user.add root ok role=administrator scope= unit=",
                "user:root login root ok ",
                "user:root user.password root ok own sessions_ended=0"
            ]
        );
        doors.same_state();
        doors
    }

    fn cli_ok(&self, args: &[&str]) -> String {
        cli_ok(&self.cli, args, None)
    }

    /// What a refused command said: its error line, after `gridsync-server: error: `.
    fn cli_refused(&self, args: &[&str]) -> String {
        let out = cli(&self.cli, args, None);
        assert_eq!(out.status.code(), Some(1), "{args:?} should fail");
        let said = String::from_utf8(out.stderr).expect("utf-8");
        let first = said.lines().next().unwrap_or_default();
        first
            .strip_prefix("gridsync-server: error: ")
            .unwrap_or_else(|| panic!("not an error line: {said}"))
            .to_owned()
    }

    fn url(&self, path: &str) -> String {
        format!("{}/v1/admin{path}", self.server.url())
    }

    fn post(&self, path: &str, body: Value) -> Response {
        self.http.post(self.url(path)).bearer_auth(&self.token).json(&body).send().expect("answer")
    }

    fn created(&self, path: &str, body: Value) -> Value {
        let response = self.post(path, body);
        assert_eq!(response.status().as_u16(), 201, "{path}");
        response.json().expect("json")
    }

    fn answered(&self, path: &str, body: Value) -> Value {
        let response = self.post(path, body);
        assert_eq!(response.status().as_u16(), 200, "{path}");
        response.json().expect("json")
    }

    fn csv(&self, path: &str, text: &str) -> Value {
        let request =
            self.http.post(self.url(path)).bearer_auth(&self.token).header("content-type", "text/csv");
        let response = request.body(text.to_owned()).send().expect("answer");
        assert_eq!(response.status().as_u16(), 200, "{path}");
        response.json().expect("json")
    }

    fn get(&self, path: &str) -> Value {
        let response = self.http.get(self.url(path)).bearer_auth(&self.token).send().expect("answer");
        assert_eq!(response.status().as_u16(), 200, "{path}");
        response.json().expect("json")
    }

    /// Enrolls a device through the command line's data directory (in
    /// process: the command line has no enrollment) and through the
    /// server's `/v1/enroll`, each with its own code.
    fn enroll(&mut self, device: ActorId, cli_code: &str, http_code: &str) {
        let request =
            |code: &str| EnrollRequest { code: code.to_owned(), device, public_key: auth::b64(&[7; 32]) };
        let enrolled =
            self.cli_store.run(self.cli_store.service().enroll(request(cli_code))).expect("enrolled");
        let url = format!("{}/v1/enroll", self.server.url());
        let answer = self.http.post(url).json(&request(http_code)).send().expect("answer");
        assert_eq!(answer.status().as_u16(), 200);
        let answer: Value = answer.json().expect("json");
        assert_eq!(
            (answer["user"].as_str(), answer["scope"].as_str()),
            (Some(enrolled.user.name.as_str()), Some(enrolled.user.scope.as_str()))
        );
        let (a, b) = self.new_rows();
        assert_eq!(describe(&a), describe(&b), "the device enrolls alike");
        assert_eq!(describe(&a), [format!("device:{device} device.enroll li ok ")]);
        self.same_state();
    }

    /// The audit rows each side appended since the last look.
    fn new_rows(&mut self) -> (Vec<AuditRow>, Vec<AuditRow>) {
        let (a, b) = (after(&self.cli_store, self.seen.0), after(&self.http_store, self.seen.1));
        self.seen = (a.last().map_or(self.seen.0, |r| r.seq), b.last().map_or(self.seen.1, |r| r.seq));
        (a, b)
    }

    /// The operation left the same audit entries on both sides, `cli` on
    /// one and `user:root` on the other: `expected`, as
    /// `action target outcome detail`.
    fn audited(&mut self, expected: &[&str]) {
        let (a, b) = self.new_rows();
        let what = |rows: &[AuditRow], actor: &str| -> Vec<String> {
            rows.iter()
                .map(|r| {
                    assert_eq!(r.event.actor, actor, "{r:?}");
                    let e = &r.event;
                    format!("{} {} {} {}", e.action, e.target, e.outcome, e.detail)
                })
                .collect()
        };
        assert_eq!(what(&a, "cli"), expected, "through the command line");
        assert_eq!(what(&b, "user:root"), expected, "through HTTP");
    }

    /// The command line's state, as its list commands print it.
    fn cli_state(&self) -> State {
        let places = serde_json::from_str(&self.cli_ok(&["place", "list", "--json"])).expect("places");
        let units = serde_json::from_str(&self.cli_ok(&["unit", "list", "--json"])).expect("units");
        let text = |v: &Value| v.as_str().expect("text").to_owned();
        let users: Value = serde_json::from_str(&self.cli_ok(&["user", "list", "--json"])).expect("users");
        let users = users
            .as_array()
            .expect("users")
            .iter()
            .map(|u| {
                let active = u["active"].as_bool().expect("active");
                (
                    text(&u["name"]),
                    text(&u["role"]),
                    text(&u["scope"]),
                    active,
                    u["unit"].as_str().map(str::to_owned),
                )
            })
            .collect();
        let devices: Value =
            serde_json::from_str(&self.cli_ok(&["device", "list", "--json"])).expect("devices");
        let devices = devices
            .as_array()
            .expect("devices")
            .iter()
            .map(|d| {
                let user = d["user"].as_str().unwrap_or("-").to_owned();
                (text(&d["id"]), user, text(&d["state"]), d["changes"].as_u64().expect("changes"))
            })
            .collect();
        State { places, units, users, devices }.sorted()
    }

    /// The server's state, as the admin API lists it to the administrator.
    fn http_state(&self) -> State {
        let places = serde_json::from_value(self.get("/places")).expect("places");
        let units = serde_json::from_value(self.get("/units")).expect("units");
        let text = |v: &Value| v.as_str().expect("text").to_owned();
        let users = self
            .get("/users")
            .as_array()
            .expect("users")
            .iter()
            .map(|u| {
                let active = u["active"].as_bool().expect("active");
                (
                    text(&u["name"]),
                    text(&u["role"]),
                    text(&u["scope"]),
                    active,
                    u["unit"].as_str().map(str::to_owned),
                )
            })
            .collect();
        let devices = self
            .get("/devices")
            .as_array()
            .expect("devices")
            .iter()
            .map(|d| {
                let user = d["user"].as_str().unwrap_or("-").to_owned();
                let state = device_state(!d["revoked_ms"].is_null(), d["wipe"].as_bool().expect("wipe"));
                (text(&d["id"]), user, state, d["changes"].as_u64().expect("changes"))
            })
            .collect();
        State { places, units, users, devices }.sorted()
    }

    fn same_state(&self) -> State {
        let (a, b) = (self.cli_state(), self.http_state());
        assert_eq!(a, b, "the two sides list different states");
        a
    }

    /// A refusal through both doors: the same message from the command
    /// line, the same code and message from the operator's service call
    /// (what the command runs) and from HTTP. Only HTTP audits it, as
    /// `expected` (`action target outcome`); neither side changed.
    fn refused_alike(
        &mut self,
        cli: &[&str],
        operator: impl FnOnce(&Operator) -> Result<(), CoreError>,
        http: impl FnOnce(&Self) -> Response,
        status: u16,
        code: ErrorCode,
        expected: &str,
    ) -> String {
        let before = self.same_state();
        let said = self.cli_refused(cli);
        let refusal = match operator(&self.cli_store) {
            Err(CoreError::Refused(refusal)) => refusal,
            other => panic!("expected a refusal, got {other:?}"),
        };
        let http = http(self);
        assert_eq!(http.status().as_u16(), status);
        let body: ErrorBody = http.json().expect("an error body");
        assert_eq!((refusal.code, &refusal.message), (code, &said), "the command line's refusal");
        assert_eq!((body.code, &body.message), (code, &said), "the HTTP refusal");
        let (a, b) = self.new_rows();
        assert!(a.is_empty(), "the operator's refusals are not audited: {a:?}");
        assert_eq!(describe(&b), [format!("user:root {expected} ")], "staff refusals are");
        assert_eq!(self.same_state(), before, "a refusal changes nothing");
        said
    }
}

/// The audit rows of `op`'s data directory after `seq`.
fn after(op: &Operator, seq: u64) -> Vec<AuditRow> {
    common::audit_rows(op).into_iter().filter(|row| row.seq > seq).collect()
}

/// `actor action target outcome detail` of each row.
fn describe(rows: &[AuditRow]) -> Vec<String> {
    rows.iter()
        .map(|r| {
            let e = &r.event;
            format!("{} {} {} {} {}", e.actor, e.action, e.target, e.outcome, e.detail)
        })
        .collect()
}

fn as_place(v: Value) -> Place {
    serde_json::from_value(v).expect("a place")
}

#[test]
fn admin_operations_give_the_same_result_and_audit_through_the_cli_and_http() {
    let mut d = Doors::open();

    // place add, at the top and under a parent (a Chinese level on the command line).
    let said = d.cli_ok(&["place", "add", "C", "--name", "某县", "--level", "county"]);
    let body = d.created("/places", json!({"code": "C", "name": "某县", "level": "county", "parent": null}));
    let county = Place { code: "C".into(), name: "某县".into(), level: Level::County, parent: None };
    assert_eq!(said.trim(), "place C added (county, under the top of the deployment)");
    assert_eq!(as_place(body), county);
    d.audited(&["place.add C ok level=county parent="]);
    d.same_state();

    let said = d.cli_ok(&["place", "add", "T1", "--name", "城关镇", "--level", "镇", "--parent", "C"]);
    let body =
        d.created("/places", json!({"code": "T1", "name": "城关镇", "level": "township", "parent": "C"}));
    assert_eq!(said.trim(), "place T1 added (township, under C)");
    assert_eq!(as_place(body).parent.as_deref(), Some("C"));
    d.audited(&["place.add T1 ok level=township parent=C"]);
    d.same_state();

    // place import: new rows in any order, a rename, an unchanged row.
    let csv = "code,name,level,parent\nG1,一组,grid,V1\nV1,东门村,village,T1\nV2,西门村,村,T1\n\
               T1,城关镇人民政府,township,C\nC,某县,county,\n";
    let file = d.dir.path().join("places.csv");
    std::fs::write(&file, csv).expect("csv");
    let said = d.cli_ok(&["place", "import", file.to_str().expect("path")]);
    let body = d.csv("/places/import", csv);
    assert!(said.trim().ends_with(": 3 added, 1 updated, 1 unchanged"), "{said}");
    assert_eq!(body, json!({"added": 3, "updated": 1, "unchanged": 1}));
    d.audited(&["place.import places ok added=3 updated=1 unchanged=1"]);
    let state = d.same_state();
    assert_eq!(state.places.len(), 5);

    // place move.
    let said = d.cli_ok(&["place", "move", "G1", "--parent", "V2"]);
    let body = d.answered("/places/G1/move", json!({"parent": "V2"}));
    assert_eq!(said.trim(), "place G1 now under V2");
    assert_eq!(as_place(body).parent.as_deref(), Some("V2"));
    d.audited(&["place.move G1 ok from=V1 to=V2"]);
    d.same_state();

    // unit add.
    let said =
        d.cli_ok(&["unit", "add", "U-POL", "--name", "城关派出所", "--kind", "police", "--place", "T1"]);
    let body =
        d.created("/units", json!({"code": "U-POL", "name": "城关派出所", "kind": "police", "place": "T1"}));
    assert_eq!(said.trim(), "unit U-POL added (police, at T1)");
    let unit: Unit = serde_json::from_value(body).expect("a unit");
    assert_eq!((unit.kind.as_str(), unit.place.as_str()), ("police", "T1"));
    d.audited(&["unit.add U-POL ok kind=police place=T1"]);
    d.same_state();

    // user add: a worker at a place, a department user in a unit.
    let said = d.cli_ok(&["user", "add", "li", "--role", "worker", "--scope", "G1"]);
    let body = d.created("/users", json!({"name": "li", "role": "worker", "scope": "G1"}));
    assert_eq!(said.trim(), "user li added (worker, scope G1)");
    assert_eq!(body, json!({"name": "li", "role": "worker", "scope": "G1", "unit": null, "active": true}));
    d.audited(&["user.add li ok role=worker scope=G1 unit="]);
    d.same_state();

    let said = d.cli_ok(&["user", "add", "mca", "--role", "department", "--unit", "U-POL"]);
    let body = d.created("/users", json!({"name": "mca", "role": "department", "unit": "U-POL"}));
    assert_eq!(said.trim(), "user mca added (department, scope T1, unit U-POL)");
    assert_eq!((&body["scope"], &body["unit"]), (&json!("T1"), &json!("U-POL")));
    d.audited(&["user.add mca ok role=department scope=T1 unit=U-POL"]);
    d.same_state();

    // user move (assign).
    let said = d.cli_ok(&["user", "move", "li", "--scope", "V1"]);
    let body = d.answered("/users/li/assign", json!({"scope": "V1"}));
    assert_eq!(said.trim(), "user li assigned to scope V1");
    assert_eq!(body["scope"], "V1");
    d.audited(&["user.assign li ok from=G1 to=V1 unit="]);
    d.same_state();

    // Enrollment codes: a given lifetime, then the default one; each enrolls a device.
    let qr = d.dir.path().join("li.svg");
    let before = now_ms();
    let cli_code = d.cli_ok(&["enroll", "--user", "li", "--ttl", "2h", "--qr", qr.to_str().expect("path")]);
    let body = d.created(
        "/enrollments",
        json!({"user": "li", "ttl_seconds": 7200, "server_url": "http://127.0.0.1:8080"}),
    );
    let cli_code = cli_code.trim().to_owned();
    let http_code = body["code"].as_str().expect("code").to_owned();
    assert_eq!((cli_code.len(), http_code.len()), (23, 23));
    assert_ne!(cli_code, http_code, "codes are random");
    assert!(std::fs::read_to_string(&qr).expect("QR file").contains("<svg"));
    assert!(body["qr_svg"].as_str().expect("svg").contains("<svg"));
    let lifetime = body["expires_ms"].as_u64().expect("expiry") - before;
    assert!((7_200_000..7_200_000 + 60_000).contains(&lifetime), "{lifetime}");
    d.audited(&["enroll.issue li ok ttl_ms=7200000"]);
    d.same_state();
    let (first, second) = (ActorId::random(), ActorId::random());
    d.enroll(first, &cli_code, &http_code);

    let qr = d.dir.path().join("li-2.svg");
    let cli_code = d.cli_ok(&["enroll", "--user", "li", "--qr", qr.to_str().expect("path")]);
    let body = d.created("/enrollments", json!({"user": "li"}));
    d.audited(&["enroll.issue li ok ttl_ms=86400000"]);
    d.enroll(second, cli_code.trim(), body["code"].as_str().expect("code"));
    let state = d.same_state();
    assert_eq!(state.devices.len(), 2);

    // device revoke, with a wipe order.
    let id = first.to_string();
    let said = d.cli_ok(&["device", "revoke", &id, "--wipe"]);
    let body = d.answered(&format!("/devices/{id}/revoke"), json!({"wipe": true}));
    assert!(said.starts_with(&format!("device {id} revoked with a wipe order")), "{said}");
    assert_eq!(body, json!({"revoked": id, "wipe": true}));
    d.audited(&[format!("device.revoke_wipe {id} ok ").as_str()]);
    let state = d.same_state();
    assert!(state.devices.contains(&(id.clone(), "li".into(), "revoked+wipe".into(), 0)));

    // user password: one-time, generated and printed once, or given.
    let said = d.cli_ok(&["user", "password", "li", "--generate"]);
    let body = d.answered("/users/li/password", json!({}));
    let mut lines = said.lines();
    assert_eq!(lines.next(), Some("one-time password of li set (shown once); 0 session(s) ended:"));
    assert_eq!(lines.next().map(str::len), Some(20), "{said}");
    assert_eq!(body["password"].as_str().map(str::len), Some(20));
    assert_eq!(
        (&body["user"], &body["one_time"], &body["sessions_ended"]),
        (&json!("li"), &json!(true), &json!(0))
    );
    d.audited(&["user.password li ok one_time sessions_ended=0"]);
    let given = "a password typed for li";
    let said = cli_ok(&d.cli, &["user", "password", "li", "--password-stdin"], Some(given));
    let body = d.answered("/users/li/password", json!({"password": given}));
    assert_eq!(said.trim(), "one-time password of li set; 0 session(s) ended");
    assert_eq!(body, json!({"user": "li", "one_time": true, "sessions_ended": 0}));
    d.audited(&["user.password li ok one_time sessions_ended=0"]);
    let short = cli(&d.cli, &["user", "password", "li", "--password-stdin"], Some("short"));
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 12 characters"));
    let no_terminal = cli(&d.cli, &["user", "password", "li"], None);
    assert!(String::from_utf8_lossy(&no_terminal.stderr).contains("--password-stdin or --generate"));
    for data in [&d.cli, &d.dir.path().join("http")] {
        let op = Operator::open_default(data).expect("open");
        let li = op.run(op.service().login("li", given)).expect("the given one logs in");
        assert!(li.user.must_change_password, "and is one-time");
    }
    d.new_rows(); // li's logins, alike
    d.same_state();

    // user deactivate: the device still live is revoked with the user.
    let said = d.cli_ok(&["user", "deactivate", "li"]);
    let body = d.answered("/users/li/deactivate", json!({}));
    assert_eq!(said.trim(), "user li deactivated; 1 device(s) revoked");
    assert_eq!(body, json!({"devices_revoked": 1}));
    d.audited(&["user.deactivate li ok devices_revoked=1"]);
    let state = d.same_state();
    assert!(state.devices.contains(&(second.to_string(), "li".into(), "revoked".into(), 0)));
    assert!(state.users.contains(&("li".into(), "worker".into(), "V1".into(), false, None)));

    // Refusals: an unknown parent, an unknown scope, a deactivated user.
    let nowhere =
        Place {
            code: "G9".into(), name: "九组".into(), level: Level::Grid, parent: Some("nowhere".into())
        };
    let said = d.refused_alike(
        &["place", "add", "G9", "--name", "九组", "--level", "grid", "--parent", "nowhere"],
        |op| op.block_on(op.service().add_place(&Caller::Operator, nowhere.clone())).map(drop),
        |d| d.post("/places", serde_json::to_value(&nowhere).expect("json")),
        404,
        ErrorCode::UnknownPlace,
        "place.add G9 unknown_place",
    );
    assert!(said.contains("nowhere"), "{said}");

    let sun = AddUser {
        name: "sun".into(),
        role: gridsync_proto::Role::Worker,
        scope: Some("nowhere".into()),
        unit: None,
        password: None,
    };
    d.refused_alike(
        &["user", "add", "sun", "--role", "worker", "--scope", "nowhere"],
        |op| op.block_on(op.service().add_user(&Caller::Operator, sun)).map(drop),
        |d| d.post("/users", json!({"name": "sun", "role": "worker", "scope": "nowhere"})),
        404,
        ErrorCode::UnknownPlace,
        "user.add sun unknown_place",
    );

    let said = d.refused_alike(
        &["user", "move", "li", "--scope", "G1"],
        |op| {
            op.block_on(op.service().assign_user(&Caller::Operator, "li", Some("G1".into()), None)).map(drop)
        },
        |d| d.post("/users/li/assign", json!({"scope": "G1"})),
        403,
        ErrorCode::UserInactive,
        "user.assign li user_inactive",
    );
    assert!(said.contains("deactivated"), "{said}");
}
