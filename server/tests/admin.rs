//! Admin accounts end to end, for what `admin_api.rs` and `operator.rs` leave
//! out: the one-time password `admin create` prints logs in over HTTP and
//! must be changed before anything else (the department's too), users
//! without a password or without an admin role get nothing, bad input gets
//! its stable code, and neither passwords nor tokens reach the audit log.

mod common;

use common::{cli, cli_ok};
use gridsync_proto::{ErrorBody, ErrorCode};
use gridsync_server::{Running, Settings};
use reqwest::blocking::{Client, Response};
use serde_json::{Value, json};

const DEPARTMENT_PASSWORD: &str = "civil affairs office 2026";

fn refusal(response: Response) -> (u16, ErrorCode) {
    let status = response.status().as_u16();
    (status, response.json::<ErrorBody>().expect("an error body").code)
}

#[test]
fn the_printed_one_time_password_logs_in_and_secrets_stay_out_of_the_audit() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");

    let created = cli_ok(&data, &["admin", "create", "--user", "root"], None);
    let password = created.lines().nth(1).expect("the one-time password line").to_owned();
    assert_eq!(password.len(), 20, "{created}");
    for (code, level, parent) in [
        ("5301", "city", None),
        ("5301.02", "county", Some("5301")),
        ("5301.02.003", "township", Some("5301.02")),
        ("5301.02.003.01", "village", Some("5301.02.003")),
    ] {
        let mut args = vec!["place", "add", code, "--name", "某地", "--level", level];
        args.extend(parent.map(|p| ["--parent", p]).into_iter().flatten());
        cli_ok(&data, &args, None);
    }
    cli_ok(
        &data,
        &["unit", "add", "U-MCA", "--name", "民政局", "--kind", "civil_affairs", "--place", "5301.02"],
        None,
    );
    cli_ok(&data, &["user", "add", "li", "--role", "worker", "--scope", "5301.02.003.01"], None);
    let args = ["user", "add", "mca", "--role", "department", "--unit", "U-MCA", "--password-stdin"];
    let added = cli_ok(&data, &args, Some(DEPARTMENT_PASSWORD));
    assert!(added.contains("scope 5301.02, unit U-MCA"), "{added}");
    let short = cli(
        &data,
        &["user", "add", "x", "--role", "worker", "--scope", "1", "--password-stdin"],
        Some("hunter2"),
    );
    assert_eq!(short.status.code(), Some(1));
    let said = String::from_utf8_lossy(&short.stderr);
    assert!(said.contains("at least 12") && !said.contains("hunter2"), "{said}");

    let mut settings = Settings::new(&data, "127.0.0.1:0".parse().expect("addr"));
    settings.workers = 1;
    settings.logins_per_minute = 100;
    let server = Running::start(settings).expect("server");
    let http = Client::new();
    let url = |path: &str| format!("{}/v1/admin{path}", server.url());
    let login = |user: &str, password: &str| {
        http.post(url("/login")).json(&json!({"user": user, "password": password})).send().expect("answer")
    };

    let before = gridsync_server_core::clock::now_ms();
    let session = login("root", &password);
    assert_eq!(session.status().as_u16(), 200);
    let session: Value = session.json().expect("json");
    assert_eq!(
        (&session["user"], &session["role"], &session["scope"]),
        (&json!("root"), &json!("administrator"), &json!(""))
    );
    let token = session["token"].as_str().expect("token").to_owned();
    assert_eq!(token.len(), 43, "32 bytes of URL-safe base64 without padding");
    assert_eq!(session["must_change_password"], true, "the printed password is one-time");
    let users = http.get(url("/users")).bearer_auth(&token).send().expect("answer");
    assert_eq!(refusal(users), (403, ErrorCode::PasswordChangeRequired));
    let choose = |token: &str, current: &str, new: &str| {
        let body = json!({"current_password": current, "new_password": new});
        http.post(url("/password")).bearer_auth(token).json(&body).send().expect("answer").status().as_u16()
    };
    assert_eq!(choose(&token, &password, "root's own password"), 200);
    let expires = session["expires_ms"].as_u64().expect("expiry");
    assert!((before + 8 * 3_600_000..before + 8 * 3_600_000 + 60_000).contains(&expires), "eight hours");

    // A user without a password is refused like a wrong password.
    assert_eq!(refusal(login("li", &password)), (401, ErrorCode::BadCredentials));
    // A department logs in but may not administer.
    let dept = login("mca", DEPARTMENT_PASSWORD).json::<Value>().expect("json")["token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert_eq!(choose(&dept, DEPARTMENT_PASSWORD, "civil affairs own password"), 200);
    for path in ["/users", "/devices", "/audit/verify"] {
        let response = http.get(url(path)).bearer_auth(&dept).send().expect("answer");
        assert_eq!(refusal(response), (403, ErrorCode::Forbidden), "{path}");
    }

    let post = |path: &str, body: &str| {
        http.post(url(path))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .expect("answer")
    };
    assert_eq!(refusal(post("/users", "{not json")).1, ErrorCode::Malformed);
    assert_eq!(
        refusal(post("/users", r#"{"name":"x","role":"mayor","scope":"1"}"#)).1,
        ErrorCode::InvalidField
    );
    let weak = r#"{"name":"x","role":"worker","scope":"1","password":"short"}"#;
    assert_eq!(refusal(post("/users", weak)), (400, ErrorCode::InvalidRequest));
    assert_eq!(refusal(post("/users/nobody/deactivate", "{}")), (404, ErrorCode::NotFound));
    assert_eq!(refusal(post("/enrollments", r#"{"user":"nobody"}"#)), (404, ErrorCode::NotFound));
    let too_long = json!({"user": "li", "ttl_seconds": 8 * 24 * 3600}).to_string();
    assert_eq!(refusal(post("/enrollments", &too_long)).1, ErrorCode::InvalidRequest);
    let unknown_device = format!("/devices/{}/revoke", gridsync_proto::ActorId::random());
    assert_eq!(refusal(post(&unknown_device, r#"{"wipe":true}"#)), (404, ErrorCode::NotFound));

    let issued = post("/enrollments", r#"{"user":"li","server_url":"https://10.0.0.2:8443"}"#);
    assert_eq!(issued.status().as_u16(), 201);
    let issued: Value = issued.json().expect("json");
    assert_eq!(issued["ticket"]["server"], "https://10.0.0.2:8443");
    let ttl = issued["expires_ms"].as_u64().expect("expiry") - before;
    assert!((24 * 3_600_000..24 * 3_600_000 + 60_000).contains(&ttl), "a day by default: {ttl}");
    let code = issued["code"].as_str().expect("code").to_owned();

    assert_eq!(http.post(url("/logout")).bearer_auth(&token).send().expect("answer").status().as_u16(), 204);
    server.stop();

    // The log names actors and outcomes, never a password, token or code.
    let verdict = cli_ok(&data, &["audit", "verify"], None);
    assert!(verdict.starts_with("audit log intact"), "{verdict}");
    let conn = gridsync_sql_support::open_reader(&data.join("gridsync.db"), &gridsync_server_sqlite::SCHEMA)
        .expect("db");
    let rows: Vec<String> = conn
        .prepare("SELECT actor || ' ' || action || ' ' || target || ' ' || outcome || ' ' || coalesce(detail, '') FROM audit")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert!(rows.iter().any(|r| r.starts_with("user:root login root ok")), "{rows:#?}");
    assert!(rows.iter().any(|r| r.contains("login li bad_credentials")), "{rows:#?}");
    let secrets = [
        password.as_str(),
        DEPARTMENT_PASSWORD,
        "root's own",
        "civil affairs own",
        token.as_str(),
        code.as_str(),
        "hunter2",
    ];
    for secret in secrets {
        assert!(rows.iter().all(|r| !r.contains(secret)), "a secret reached the audit log");
    }
}
