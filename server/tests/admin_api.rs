//! The admin HTTP API against the real server: logins, sessions, roles and
//! the subtree rule (a township admin never acts on another township).

use gridsync_proto::{ErrorBody, ErrorCode, Level, Place, Role};
use gridsync_server::operator::Operator;
use gridsync_server::{Running, Settings};
use reqwest::blocking::{Client, Response};
use serde_json::{Value, json};

struct Township {
    server: Running,
    dir: tempfile::TempDir,
    http: Client,
}

const PASSWORD: &str = "correct horse battery staple";

impl Township {
    fn start(adjust: impl FnOnce(&mut Settings)) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        let op = Operator::open_default(&data).expect("open");
        for (code, level, parent) in [
            ("5301", Level::City, None),
            ("5301.02", Level::County, Some("5301")),
            ("5301.02.003", Level::Township, Some("5301.02")),
            ("5301.02.004", Level::Township, Some("5301.02")),
            ("5301.02.003.01", Level::Village, Some("5301.02.003")),
            ("5301.02.003.02", Level::Village, Some("5301.02.003")),
            ("5301.02.004.01", Level::Village, Some("5301.02.004")),
            ("5301.02.004.02", Level::Village, Some("5301.02.004")),
        ] {
            let place =
                Place { code: code.into(), name: "某地".into(), level, parent: parent.map(Into::into) };
            op.add_place(&place).expect("place");
        }
        let staff = [
            ("root", Role::Administrator, ""),
            ("wang", Role::TownshipAdmin, "5301.02.003"),
            ("zhou", Role::Auditor, ""),
        ];
        for (name, role, scope) in staff {
            op.add_user(name, role, Some(scope), None, Some(PASSWORD.into())).expect("staff");
        }
        op.add_user("li", Role::Worker, Some("5301.02.003.01"), None, None).expect("worker here");
        op.add_user("zhao", Role::Worker, Some("5301.02.004.01"), None, None).expect("worker next door");
        drop(op);
        let mut settings = Settings::new(&data, "127.0.0.1:0".parse().expect("addr"));
        settings.workers = 1;
        adjust(&mut settings);
        Self { server: Running::start(settings).expect("server"), dir, http: Client::new() }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/v1/admin{path}", self.server.url())
    }

    fn login(&self, user: &str, password: &str) -> Response {
        self.http
            .post(self.url("/login"))
            .json(&json!({"user": user, "password": password}))
            .send()
            .expect("answer")
    }

    fn token(&self, user: &str) -> String {
        let response = self.login(user, PASSWORD);
        assert_eq!(response.status().as_u16(), 200);
        response.json::<Value>().expect("json")["token"].as_str().expect("token").to_owned()
    }

    fn post(&self, token: &str, path: &str, body: Value) -> Response {
        self.http.post(self.url(path)).bearer_auth(token).json(&body).send().expect("answer")
    }

    fn get(&self, token: &str, path: &str) -> Response {
        self.http.get(self.url(path)).bearer_auth(token).send().expect("answer")
    }
}

fn refusal(response: Response) -> (u16, ErrorCode) {
    let status = response.status().as_u16();
    (status, response.json::<ErrorBody>().expect("an error body").code)
}

fn audit_count(t: &Township, action: &str, outcome: &str) -> i64 {
    let conn = gridsync_sql_support::open_reader(
        &t.dir.path().join("data/gridsync.db"),
        &gridsync_server_sqlite::SCHEMA,
    )
    .expect("db");
    conn.query_row("SELECT count(*) FROM audit WHERE action = ?1 AND outcome = ?2", [action, outcome], |r| {
        r.get(0)
    })
    .expect("count")
}

#[test]
fn wrong_passwords_are_refused_audited_and_rate_limited() {
    let t = Township::start(|_| {});
    assert_eq!(refusal(t.login("wang", "not the password at all")), (401, ErrorCode::BadCredentials));
    assert_eq!(refusal(t.login("nobody", PASSWORD)), (401, ErrorCode::BadCredentials));
    assert_eq!(audit_count(&t, "login", "bad_credentials"), 2);
    let _ = t.token("wang");
    for _ in 0..2 {
        t.login("wang", "guess guess guess");
    }
    // The sixth attempt within the minute from this address.
    assert_eq!(refusal(t.login("wang", PASSWORD)), (429, ErrorCode::RateLimited));
}

#[test]
fn a_township_admin_acts_only_within_its_township() {
    let t = Township::start(|_| {});
    let wang = t.token("wang");

    let added = t.post(&wang, "/users", json!({"name": "sun", "role": "worker", "scope": "5301.02.003.02"}));
    assert_eq!(added.status().as_u16(), 201);
    let issued = t.post(&wang, "/enrollments", json!({"user": "li", "ttl_seconds": 3600}));
    assert_eq!(issued.status().as_u16(), 201);
    let issued: Value = issued.json().expect("json");
    assert!(issued["qr_svg"].as_str().expect("svg").contains("<svg"));
    assert_eq!(issued["ticket"]["code"], issued["code"]);

    for (path, body) in [
        ("/users/zhao/deactivate", json!({})),
        ("/enrollments", json!({"user": "zhao"})),
        ("/users", json!({"name": "qian", "role": "worker", "scope": "5301.02.004.02"})),
        ("/users", json!({"name": "boss", "role": "administrator", "scope": ""})),
        ("/users", json!({"name": "peer", "role": "township_admin", "scope": "5301.02.003"})),
    ] {
        assert_eq!(refusal(t.post(&wang, path, body)), (403, ErrorCode::Forbidden), "{path}");
    }
    assert_eq!(audit_count(&t, "user.deactivate", "forbidden"), 1);

    // A device of the other township cannot be revoked either.
    let data = t.dir.path().join("data");
    let device = gridsync_proto::ActorId::random();
    let op = Operator::open_default(&data).expect("open");
    let code = op.issue_code("zhao", 60_000, "http://127.0.0.1:8080").expect("code").code;
    let request =
        gridsync_proto::EnrollRequest { code, device, public_key: gridsync_proto::auth::b64(&[7; 32]) };
    op.run(op.service().enroll(request)).expect("enrolled next door");
    drop(op);
    let path = format!("/devices/{device}/revoke");
    assert_eq!(refusal(t.post(&wang, &path, json!({"wipe": true}))), (403, ErrorCode::Forbidden));
    let devices: Value = t.get(&wang, "/devices").json().expect("json");
    assert_eq!(devices.as_array().expect("list").len(), 0, "the other township's device is not listed");
    let users: Value = t.get(&wang, "/users").json().expect("json");
    let names: Vec<&str> =
        users.as_array().expect("list").iter().filter_map(|u| u["name"].as_str()).collect();
    assert_eq!(names, ["li", "sun", "wang"]);

    // The administrator may.
    let root = t.token("root");
    assert_eq!(t.post(&root, &path, json!({"wipe": true})).status().as_u16(), 200);
    let devices: Value = t.get(&root, "/devices").json().expect("json");
    assert_eq!(devices[0]["wipe"], true);
}

#[test]
fn auditors_read_and_verify_but_change_nothing_and_sessions_end() {
    let t = Township::start(|_| {});
    let zhou = t.token("zhou");
    let verdict: Value = t.get(&zhou, "/audit/verify").json().expect("json");
    assert_eq!(verdict["intact"], true);
    assert_eq!(
        refusal(t.post(&zhou, "/users", json!({"name": "x", "role": "worker", "scope": "5301"}))),
        (403, ErrorCode::Forbidden)
    );
    let wang = t.token("wang");
    assert_eq!(refusal(t.get(&wang, "/audit/verify")), (403, ErrorCode::Forbidden));

    assert_eq!(t.post(&zhou, "/logout", json!({})).status().as_u16(), 204);
    assert_eq!(refusal(t.get(&zhou, "/users")), (401, ErrorCode::Unauthenticated));
    assert_eq!(refusal(t.get("not-a-token", "/users")), (401, ErrorCode::Unauthenticated));
    let anonymous = t.http.get(t.url("/users")).send().expect("answer");
    assert_eq!(refusal(anonymous), (401, ErrorCode::Unauthenticated));

    // Deactivation ends what the user could do, sessions included.
    let root = t.token("root");
    assert_eq!(t.post(&root, "/users/wang/deactivate", json!({})).status().as_u16(), 200);
    assert_eq!(refusal(t.get(&wang, "/users")), (401, ErrorCode::Unauthenticated));
    assert_eq!(refusal(t.login("wang", PASSWORD)), (403, ErrorCode::UserInactive));
}

/// Rows of the `enrollments` table (live codes or spent).
fn enrollment_rows(t: &Township) -> i64 {
    let conn = gridsync_sql_support::open_reader(
        &t.dir.path().join("data/gridsync.db"),
        &gridsync_server_sqlite::SCHEMA,
    )
    .expect("db");
    conn.query_row("SELECT count(*) FROM enrollments", [], |r| r.get(0)).expect("count")
}

#[test]
fn a_bad_server_url_is_refused_naming_it_and_leaves_no_code() {
    let t = Township::start(|_| {});
    let root = t.token("root");
    let long = format!("https://gridsync.lan/{}", "a".repeat(3300));
    for server_url in [long.as_str(), "javascript:alert(1)", "gridsync.lan:8080", "ftp://gridsync.lan"] {
        let response = t.post(&root, "/enrollments", json!({"user": "li", "server_url": server_url}));
        assert_eq!(response.status().as_u16(), 400, "{server_url:.40}");
        let body: ErrorBody = response.json().expect("an error body");
        assert_eq!(body.code, ErrorCode::InvalidRequest);
        assert_eq!(body.field.as_deref(), Some("server_url"));
        assert!(!body.message.contains("javascript") && !body.message.contains("aaaa"), "{}", body.message);
    }
    assert_eq!(enrollment_rows(&t), 0, "nothing was committed");
    assert_eq!(audit_count(&t, "enroll.issue", "ok"), 0, "nothing was audited as issued");
    assert_eq!(audit_count(&t, "enroll.issue", "invalid_request"), 0);

    // A good one is issued with the URL as given.
    let issued =
        t.post(&root, "/enrollments", json!({"user": "li", "server_url": "https://192.168.1.10:8443"}));
    assert_eq!(issued.status().as_u16(), 201);
    let issued: Value = issued.json().expect("json");
    assert_eq!(issued["ticket"]["server"], "https://192.168.1.10:8443");
    assert_eq!((enrollment_rows(&t), audit_count(&t, "enroll.issue", "ok")), (1, 1));

    // Other refusals name their field too.
    let response = t.post(&root, "/enrollments", json!({"user": "li", "ttl_seconds": 0}));
    let body: ErrorBody = response.json().expect("an error body");
    assert_eq!(body.field.as_deref(), Some("ttl_seconds"));
}
