//! The admin HTTP API against the real server: logins, sessions, roles and
//! the subtree rule (a township admin never acts on another township);
//! one-time passwords changed at first login, password changes and resets;
//! failed logins limited per client address (behind a trusted proxy, the
//! client's) and per user name; a flood of refused requests counted in a
//! few audit rows; every input refused naming its field, and no body read
//! before the caller is known.

use gridsync_proto::{ErrorBody, ErrorCode, Level, Place, Role};
use gridsync_server::operator::Operator;
use gridsync_server::{Running, Settings};
use gridsync_server_core::service::Caller;
use reqwest::blocking::{Client, Response};
use serde_json::{Value, json};

struct Township {
    server: Running,
    dir: tempfile::TempDir,
    http: Client,
}

/// The staff's own passwords, chosen at their first login.
const PASSWORD: &str = "correct horse battery staple";
/// The one-time password the operator set for them.
const ONE_TIME: &str = "set by the operator, once";

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
            op.add_user(name, role, Some(scope), None, Some(ONE_TIME.into())).expect("staff");
            // Each logs in once and chooses their own.
            let first = op.run(op.service().login(name, ONE_TIME)).expect("first login");
            assert!(first.user.must_change_password);
            let caller = Caller::Staff(first.user);
            op.run(op.service().change_own_password(&caller, ONE_TIME, PASSWORD, None)).expect("their own");
        }
        op.add_user("li", Role::Worker, Some("5301.02.003.01"), None, None).expect("worker here");
        op.add_user("zhao", Role::Worker, Some("5301.02.004.01"), None, None).expect("worker next door");
        drop(op);
        let mut settings = Settings::new(&data, "127.0.0.1:0".parse().expect("addr"));
        settings.workers = 1;
        adjust(&mut settings);
        Self { server: Running::start(settings).expect("server"), dir, http: Client::new() }
    }

    /// A reader on the server's database.
    fn db(&self) -> rusqlite::Connection {
        gridsync_sql_support::open_reader(
            &self.dir.path().join("data/gridsync.db"),
            &gridsync_server_sqlite::SCHEMA,
        )
        .expect("db")
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
    t.db()
        .query_row("SELECT count(*) FROM audit WHERE action = ?1 AND outcome = ?2", [action, outcome], |r| {
            r.get(0)
        })
        .expect("count")
}

#[test]
fn failed_logins_are_refused_audited_and_limited_but_successes_never_count() {
    let t = Township::start(|s| s.logins_per_minute = 3);
    for _ in 0..5 {
        let _ = t.token("wang");
    }
    assert_eq!(refusal(t.login("wang", "not the password at all")), (401, ErrorCode::BadCredentials));
    assert_eq!(refusal(t.login("nobody", PASSWORD)), (401, ErrorCode::BadCredentials));
    assert_eq!(audit_count(&t, "login", "bad_credentials"), 2);
    let _ = t.token("zhou");
    assert_eq!(refusal(t.login("zhou", "guess guess guess")), (401, ErrorCode::BadCredentials));
    // The fourth failure-counted attempt within the minute from this
    // address: refused before the password is looked at, the right one too.
    assert_eq!(refusal(t.login("root", PASSWORD)), (429, ErrorCode::RateLimited));
    assert_eq!(audit_count(&t, "login", "rate_limited"), 1);
}

#[test]
fn a_guesser_spread_over_addresses_is_limited_per_user_name_behind_a_trusted_proxy() {
    let t = Township::start(|s| {
        s.logins_per_minute = 3;
        s.trusted_proxies = vec!["127.0.0.1".parse().expect("ip")];
    });
    let from = |client: &str, user: &str, password: &str| {
        let body = json!({"user": user, "password": password});
        t.http.post(t.url("/login")).header("x-forwarded-for", client).json(&body).send().expect("answer")
    };
    for i in 1..=3 {
        let guess = from(&format!("198.51.100.{i}"), "wang", "guess guess guess");
        assert_eq!(refusal(guess), (401, ErrorCode::BadCredentials), "address {i}");
    }
    // Wang's name is over its limit from any address, the right password too…
    assert_eq!(refusal(from("198.51.100.4", "wang", PASSWORD)), (429, ErrorCode::RateLimited));
    // …while that address, not over its own, logs another user in.
    assert_eq!(from("198.51.100.4", "zhou", PASSWORD).status().as_u16(), 200);
    // The audit log names the client the proxy named, never the proxy.
    let conn = t.db();
    let actors: Vec<String> = conn
        .prepare("SELECT DISTINCT actor FROM audit WHERE action = 'login' AND outcome <> 'ok' ORDER BY actor")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .expect("actors");
    let expected: Vec<String> = (1..=4).map(|i| format!("address:198.51.100.{i}")).collect();
    assert_eq!(actors, expected);
}

#[test]
fn a_one_time_password_must_be_changed_first_and_is_then_spent() {
    let t = Township::start(|_| {});
    let root = t.token("root");
    let made = t.post(
        &root,
        "/users",
        json!({"name": "chen", "role": "auditor", "scope": "", "password": ONE_TIME}),
    );
    assert_eq!(made.status().as_u16(), 201);

    // The login answers that the password must change; the session may do nothing else.
    let login = t.login("chen", ONE_TIME);
    assert_eq!(login.status().as_u16(), 200);
    let login: Value = login.json().expect("json");
    assert_eq!(login["must_change_password"], true);
    let chen = login["token"].as_str().expect("token").to_owned();
    assert_eq!(refusal(t.get(&chen, "/users")), (403, ErrorCode::PasswordChangeRequired));
    assert_eq!(refusal(t.get(&chen, "/audit/verify")), (403, ErrorCode::PasswordChangeRequired));

    // Not the same one again, not without the current one.
    let change = |current: &str, new: &str| {
        t.post(&chen, "/password", json!({"current_password": current, "new_password": new}))
    };
    assert_eq!(refusal(change(ONE_TIME, ONE_TIME)), (400, ErrorCode::InvalidRequest));
    assert_eq!(refusal(change("not the password", "chen's own password")), (401, ErrorCode::BadCredentials));
    assert_eq!(refusal(change(ONE_TIME, "short")), (400, ErrorCode::InvalidRequest));
    let missing = t.post(&chen, "/password", json!({"new_password": "chen's own password"}));
    assert_eq!(refusal(missing), (400, ErrorCode::MissingField));
    let changed = change(ONE_TIME, "chen's own password");
    assert_eq!(changed.status().as_u16(), 200);
    assert_eq!(changed.json::<Value>().expect("json"), json!({"user": "chen", "sessions_ended": 0}));
    assert_eq!(t.get(&chen, "/users").status().as_u16(), 200, "this session is no longer restricted");
    assert_eq!(refusal(t.login("chen", ONE_TIME)), (401, ErrorCode::BadCredentials), "spent");
    let own: Value = t.login("chen", "chen's own password").json().expect("json");
    assert_eq!(own["must_change_password"], false);

    // An administrator resets it: generated, one-time, every session ended.
    let reset = t.post(&root, "/users/chen/password", json!({}));
    assert_eq!(reset.status().as_u16(), 200);
    let reset: Value = reset.json().expect("json");
    assert_eq!(
        (&reset["user"], &reset["one_time"], &reset["sessions_ended"]),
        (&json!("chen"), &json!(true), &json!(2))
    );
    let generated = reset["password"].as_str().expect("the generated password, shown once");
    assert_eq!(generated.len(), 20);
    assert_eq!(refusal(t.get(&chen, "/users")), (401, ErrorCode::Unauthenticated), "sessions ended");
    let again: Value = t.login("chen", generated).json().expect("json");
    assert_eq!(again["must_change_password"], true, "a reset password is one-time");
    let restricted = again["token"].as_str().expect("token");
    assert_eq!(t.post(restricted, "/logout", json!({})).status().as_u16(), 204, "logging out is allowed");

    // One given by the administrator: not in the answer. Not one's own, nor
    // a user one does not manage.
    let given = t.post(&root, "/users/chen/password", json!({"password": "another one-time password"}));
    assert_eq!(given.status().as_u16(), 200);
    assert!(given.json::<Value>().expect("json").get("password").is_none());
    assert_eq!(refusal(t.post(&root, "/users/root/password", json!({}))), (400, ErrorCode::InvalidRequest));
    let wang = t.token("wang");
    assert_eq!(refusal(t.post(&wang, "/users/zhou/password", json!({}))), (403, ErrorCode::Forbidden));
    assert_eq!(refusal(t.post(&root, "/users/nobody/password", json!({}))), (404, ErrorCode::NotFound));
    assert_eq!(audit_count(&t, "user.password", "ok"), 6, "3 first logins, chen's change, 2 resets");
    assert_eq!(audit_count(&t, "user.password", "forbidden"), 1);
}

#[test]
fn a_flood_of_refused_requests_adds_a_few_audit_rows_with_their_count() {
    const FLOOD: u64 = 60;
    let t = Township::start(|_| {});
    let before = audit_count(&t, "sync.refused", "unauthenticated");
    let push = format!("{}/v1/sync/push", t.server.url());
    for _ in 0..FLOOD {
        let unsigned =
            t.http.post(&push).header("content-type", "application/x-gridsync").body(vec![0u8; 16]).send();
        assert_eq!(refusal(unsigned.expect("answer")), (401, ErrorCode::Unauthenticated));
    }
    let Township { server, dir, .. } = t;
    // Stopping closes the open minute: its repeats are appended.
    server.stop();
    let data = dir.path().join("data");
    let conn = gridsync_sql_support::open_reader(&data.join("gridsync.db"), &gridsync_server_sqlite::SCHEMA)
        .expect("db");
    let rows: Vec<(String, String)> = conn
        .prepare(
            "SELECT actor, detail FROM audit WHERE action = 'sync.refused' AND outcome = 'unauthenticated'",
        )
        .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
        .expect("rows");
    assert_eq!(before, 0);
    // One first row and one summary per minute the flood spanned (one or two).
    assert!((2..=4).contains(&rows.len()), "{rows:?}");
    assert!(rows.iter().all(|(actor, _)| actor == "address:127.0.0.1"), "{rows:?}");
    let counted: u64 = rows
        .iter()
        .map(|(_, detail)| match detail.strip_prefix("repeats=") {
            Some(rest) => rest.split(' ').next().and_then(|n| n.parse().ok()).expect("a count"),
            None => 1,
        })
        .sum();
    assert_eq!(counted, FLOOD, "every refusal counted: {rows:?}");
    drop(conn);
    let database = gridsync_server::Database::Embedded { data_dir: data };
    let verdict = gridsync_server::operator::verify_audit(&database).expect("verify");
    assert!(matches!(verdict, gridsync_server_core::audit::Verdict::Intact { .. }), "{verdict:?}");
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

/// A refusal's status, code and field, and its message.
fn refused_field(response: Response) -> ((u16, ErrorCode, Option<String>), String) {
    let status = response.status().as_u16();
    let body: ErrorBody = response.json().expect("an error body");
    ((status, body.code, body.field), body.message)
}

fn user_count(t: &Township, token: &str) -> usize {
    t.get(token, "/users").json::<Vec<Value>>().expect("users").len()
}

#[test]
fn every_admin_input_is_refused_naming_its_field_without_repeating_the_value() {
    let t = Township::start(|_| {});
    let root = t.token("root");
    let before = user_count(&t, &root);
    let field = |f: &str| Some(f.to_owned());

    // A member missing, of the wrong type or value, nested: named, and the
    // value sent (here a name) is not repeated.
    let (missing, _) = refused_field(t.post(&root, "/users", json!({"role": "worker"})));
    assert_eq!(missing, (400, ErrorCode::MissingField, field("name")));
    let (wrong, message) = refused_field(t.post(
        &root,
        "/users",
        json!({"name": "xu", "role": "村长张三", "scope": "5301.02.003.01"}),
    ));
    assert_eq!(wrong, (400, ErrorCode::InvalidField, field("role")));
    assert!(message.contains("expected") && !message.contains("张三"), "{message}");
    let (typed, _) = refused_field(t.post(&root, "/users", json!({"name": 7, "role": "worker"})));
    assert_eq!(typed, (400, ErrorCode::InvalidField, field("name")));
    let (scope, _) =
        refused_field(t.post(&root, "/users", json!({"name": "xu", "role": "worker", "scope": "9999"})));
    assert_eq!(scope, (404, ErrorCode::UnknownPlace, field("scope")));
    let (unit, _) = refused_field(t.post(&root, "/users", json!({"name": "xu", "role": "department"})));
    assert_eq!(unit, (400, ErrorCode::MissingField, field("unit")));
    let (seen, _) =
        refused_field(t.post(&root, "/enrollments", json!({"user": "li", "ttl_seconds": "soon"})));
    assert_eq!(seen, (400, ErrorCode::InvalidField, field("ttl_seconds")));
    let (level, _) = refused_field(t.post(
        &root,
        "/places",
        json!({"code": "5301.02.003.03", "name": "三村", "level": 3, "parent": "5301.02.003"}),
    ));
    assert_eq!(level, (400, ErrorCode::InvalidField, field("level")));
    let (parent, _) = refused_field(t.post(&root, "/places/5301.02.003.01/move", json!({"parent": 5})));
    assert_eq!(parent, (400, ErrorCode::InvalidField, field("parent")));
    let (taken, _) = refused_field(t.post(
        &root,
        "/places",
        json!({"code": "5301.02.003.01", "name": "一村", "level": "village", "parent": "5301.02.003"}),
    ));
    assert_eq!(taken, (400, ErrorCode::InvalidRequest, field("code")));
    let (month, _) =
        refused_field(t.post(&root, "/ledgers/locks", json!({"place": "5301.02.003", "month": "12/2026"})));
    assert_eq!(month, (400, ErrorCode::InvalidRequest, field("month")));

    // Not JSON at all: malformed, where it broke, no field.
    let trailing = r#"{"name": "xu", "role": "worker", "scope": "5301.02.003.01"} and more"#;
    for body in ["{\"name\": ", "", "not json", trailing] {
        let response = t
            .http
            .post(t.url("/users"))
            .bearer_auth(&root)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .expect("answer");
        let ((status, code, field), _) = refused_field(response);
        assert_eq!((status, code, field), (400, ErrorCode::Malformed, None), "{body:?}");
    }
    assert_eq!(user_count(&t, &root), before, "no refused request added anyone");

    // The levels' Chinese names are taken, as by the operator's command line.
    let added = t.post(
        &root,
        "/places",
        json!({"code": "5301.02.003.03", "name": "三村", "level": "村", "parent": "5301.02.003"}),
    );
    assert_eq!(added.status().as_u16(), 201);
    assert_eq!(added.json::<Value>().expect("json")["level"], "village");
}

#[test]
fn an_unknown_user_or_device_is_not_found_as_an_unknown_place_is() {
    let t = Township::start(|_| {});
    let root = t.token("root");
    for path in ["/users/nobody/assign", "/users/nobody/deactivate", "/users/nobody/password"] {
        let (refused, _) = refused_field(t.post(&root, path, json!({"scope": "5301.02.003"})));
        assert_eq!(refused, (404, ErrorCode::NotFound, Some("user".to_owned())), "{path}");
    }
    let (enroll, _) = refused_field(t.post(&root, "/enrollments", json!({"user": "nobody"})));
    assert_eq!(enroll, (404, ErrorCode::NotFound, Some("user".to_owned())));
    let device = "0123456789abcdef0123456789abcdef";
    let (revoke, _) = refused_field(t.post(&root, &format!("/devices/{device}/revoke"), json!({})));
    assert_eq!(revoke.0, 404);
    assert_eq!(refusal(t.post(&root, "/devices/not-a-device/revoke", json!({}))), (404, ErrorCode::NotFound));
    let (place, _) = refused_field(t.post(&root, "/places/9999/move", json!({"parent": null})));
    assert_eq!((place.0, place.1), (404, ErrorCode::UnknownPlace));
}

#[test]
fn the_daily_report_defaults_to_yesterday_and_refuses_in_json_naming_the_parameter() {
    let t = Township::start(|_| {});
    let root = t.token("root");
    let yesterday = gridsync_proto::Date::of_millis(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as i64,
        480,
    )
    .and_then(gridsync_proto::Date::previous)
    .expect("a date");
    // `Township` is one `.../v1/admin` away from the reports.
    let report = t.get(&root, "/reports/daily?place=5301.02.003");
    assert_eq!(report.status().as_u16(), 200);
    let report: Value = report.json().expect("json");
    assert_eq!(report["date"], yesterday.to_string());
    assert_eq!(report["place"], "5301.02.003");

    let no_place = t.get(&root, "/reports/daily");
    assert_eq!(no_place.headers()["content-type"], "application/json");
    let (refused, _) = refused_field(no_place);
    assert_eq!(refused, (400, ErrorCode::InvalidRequest, Some("place".to_owned())));
    let (bad_date, _) = refused_field(t.get(&root, "/reports/daily?place=5301.02.003&date=yesterday"));
    assert_eq!(bad_date, (400, ErrorCode::InvalidField, Some("date".to_owned())));
    let (unknown, _) = refused_field(t.get(&root, "/reports/daily?place=9999"));
    assert_eq!(unknown, (404, ErrorCode::UnknownPlace, Some("place".to_owned())));
}

/// Sends `head` (a request without its body) on a fresh connection and
/// reads the status line of the answer, which must come without the body.
fn status_before_the_body(t: &Township, head: &str) -> String {
    use std::io::{BufRead, BufReader, Write};
    let address = t.server.url().trim_start_matches("http://").to_owned();
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    // A bound on a broken server, not a wait: the answer comes at once.
    stream.set_read_timeout(Some(std::time::Duration::from_secs(20))).expect("timeout");
    stream.write_all(head.as_bytes()).expect("head");
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).expect("an answer before the body was sent");
    line
}

#[test]
fn admin_bodies_are_read_only_after_the_session_is_checked() {
    let t = Township::start(|_| {});
    let root = t.token("root");
    // 16 MB announced for an import, none sent: a stranger is answered at
    // once, without the server waiting for (or reading) the body.
    let stranger = "POST /v1/admin/places/import HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer not-a-session\r\n\
                    Content-Type: text/csv\r\nContent-Length: 16000000\r\n\r\n";
    assert!(status_before_the_body(&t, stranger).starts_with("HTTP/1.1 401"), "a stranger");
    // A staff member's body over the route's limit is refused on its
    // announced length, before it is sent.
    let over = format!(
        "POST /v1/admin/places/import HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {root}\r\n\
         Content-Type: text/csv\r\nContent-Length: 17000000\r\n\r\n"
    );
    assert!(status_before_the_body(&t, &over).starts_with("HTTP/1.1 413"), "over the import limit");
    // A login is small: anything larger is refused before it is read.
    let login = "POST /v1/admin/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                 Content-Length: 5000\r\n\r\n";
    assert!(status_before_the_body(&t, login).starts_with("HTTP/1.1 413"), "a large login");
    // The console's forms, too, wait for the session.
    let console = "POST /console/people/users HTTP/1.1\r\nHost: x\r\n\
                   Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 10000\r\n\r\n";
    let answer = status_before_the_body(&t, console);
    assert!(answer.starts_with("HTTP/1.1 303") || answer.starts_with("HTTP/1.1 302"), "{answer}");
}

/// A worker works at a grid (or, a village committee's cadre, a village):
/// the service refuses a worker at a township or above, on adding and on
/// assigning, with `invalid_request` naming the field `scope`, and changes
/// nothing.
#[test]
fn a_worker_is_never_assigned_to_a_township() {
    let t = Township::start(|_| {});
    let root = t.token("root");
    let body_of = |response: Response| {
        let status = response.status().as_u16();
        (status, response.json::<Value>().expect("an error body"))
    };
    for scope in ["5301.02.003", "5301.02", ""] {
        let (status, body) =
            body_of(t.post(&root, "/users", json!({"name": "sun", "role": "worker", "scope": scope})));
        assert_eq!(
            (status, &body["code"], &body["field"]),
            (400, &json!("invalid_request"), &json!("scope"))
        );
        assert!(
            body["message"].as_str().expect("a message").contains("a worker's scope is a grid"),
            "{body}"
        );
    }
    let (status, body) = body_of(t.post(&root, "/users/li/assign", json!({"scope": "5301.02.003"})));
    assert_eq!((status, &body["code"], &body["field"]), (400, &json!("invalid_request"), &json!("scope")));
    let users: Value = t.get(&root, "/users").json().expect("json");
    let li = users.as_array().expect("list").iter().find(|u| u["name"] == "li").expect("li");
    assert_eq!(li["scope"], "5301.02.003.01", "unchanged");
    assert!(!users.as_array().expect("list").iter().any(|u| u["name"] == "sun"), "nobody added");

    // A township admin's refusal is still `forbidden` outside their township.
    let wang = t.token("wang");
    let outside = json!({"name": "sun", "role": "worker", "scope": "5301.02.004"});
    assert_eq!(refusal(t.post(&wang, "/users", outside)), (403, ErrorCode::Forbidden));
    let village = json!({"name": "sun", "role": "worker", "scope": "5301.02.003.02"});
    assert_eq!(t.post(&wang, "/users", village).status().as_u16(), 201);
}
