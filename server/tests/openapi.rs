//! The OpenAPI document (`server/src/web/openapi.rs`, ADR 0029) against
//! the server: it describes every route [`gridsync_server::web::configure`]
//! registers, it is served without a session, and schemathesis, run
//! against a live server with an administrator logged in, finds no server
//! error and no answer that contradicts the document.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use actix_web::http::{Method, StatusCode};
use actix_web::test as actix_test;
use actix_web::{App, HttpRequest, HttpResponse, web};
use gridsync_proto::{ErrorBody, ErrorCode, Role};
use gridsync_server::demo::{self, DemoOptions};
use gridsync_server::operator::Operator;
use gridsync_server::web::openapi;
use gridsync_server::{Running, Settings};
use reqwest::blocking::Client;
use serde_json::{Value, json};

/// Where the probing app serves its resource map (not a real route).
const DUMP: &str = "/__registered_routes__";
/// The header the probing app's default service marks unrouted requests with.
const UNROUTED: &str = "x-unrouted";

/// Every `(METHOD, pattern)` that `web::configure` registers, outside the
/// console's HTML pages: the patterns from actix's resource map, and for
/// each the methods that reach a handler rather than the default service
/// (or a resource's `method_not_allowed`).
async fn registered_routes() -> BTreeSet<(String, String)> {
    let app = actix_test::init_service(
        App::new()
            .configure(gridsync_server::web::configure)
            .route(
                DUMP,
                web::get().to(|req: HttpRequest| async move { format!("{:#?}", req.resource_map()) }),
            )
            .default_service(web::to(|| async {
                HttpResponse::ImATeapot().insert_header((UNROUTED, "1")).finish()
            })),
    )
    .await;
    let dump =
        actix_test::call_and_read_body(&app, actix_test::TestRequest::get().uri(DUMP).to_request()).await;
    let dump = String::from_utf8(dump.to_vec()).expect("text");
    let patterns = debug_tree::leaf_patterns(&dump);
    assert!(patterns.len() > 20, "the resource map was read: {patterns:?}");

    let mut routes = BTreeSet::new();
    for pattern in patterns {
        if pattern == DUMP || pattern == "/" || pattern.starts_with("/console") {
            continue;
        }
        let concrete: String = pattern
            .split('/')
            .map(|segment| if segment.starts_with('{') { "x" } else { segment })
            .collect::<Vec<_>>()
            .join("/");
        for method in [Method::GET, Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
            let request =
                actix_test::TestRequest::default().method(method.clone()).uri(&concrete).to_request();
            let response = actix_test::call_service(&app, request).await;
            let unrouted = response.headers().contains_key(UNROUTED)
                || response.status() == StatusCode::METHOD_NOT_ALLOWED;
            if !unrouted {
                routes.insert((method.to_string(), pattern.clone()));
            }
        }
    }
    routes
}

#[actix_web::test]
async fn the_document_lists_every_registered_route() {
    let registered = registered_routes().await;
    let described: BTreeSet<(String, String)> = openapi::operations().into_iter().collect();
    let undescribed: Vec<_> = registered.difference(&described).collect();
    let unregistered: Vec<_> = described.difference(&registered).collect();
    assert!(
        undescribed.is_empty(),
        "routes without a description: put #[utoipa::path] on their handlers and list them in \
         server/src/web/openapi.rs (ApiDoc's paths): {undescribed:?}"
    );
    assert!(unregistered.is_empty(), "described but not registered: {unregistered:?}");
    assert!(registered.contains(&("POST".to_owned(), "/v1/admin/places/import".to_owned())));
}

#[test]
fn every_refusal_is_an_error_body_and_every_caller_is_named() {
    let doc = serde_json::to_value(openapi::document()).expect("json");
    assert_eq!(doc["openapi"], "3.1.0");
    let refused = &doc["components"]["responses"]["Refused"]["content"]["application/json"]["schema"];
    assert_eq!(refused["$ref"], "#/components/schemas/ErrorBody");
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["staff_session"]["scheme"], "bearer");
    assert_eq!(schemes["device_signature"]["name"], "x-gridsync-signature");
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("operations") {
            let responses = operation["responses"].as_object().expect("responses");
            for (status, response) in responses {
                let refusal = status.starts_with('4') || (status.starts_with('5') && path != "/health");
                if refusal {
                    assert_eq!(
                        response["$ref"], "#/components/responses/Refused",
                        "{method} {path} {status}"
                    );
                }
            }
            for status in ["500", "503"] {
                assert!(responses.contains_key(status), "{method} {path} {status}");
            }
            if operation.get("requestBody").is_some() {
                assert!(responses.contains_key("413"), "{method} {path} 413");
            }
            let security = operation["security"].to_string();
            if path.starts_with("/v1/admin/") && path != "/v1/admin/login" {
                assert!(security.contains("staff_session"), "{method} {path}");
                assert!(responses.contains_key("401"), "{method} {path}");
            }
            if path.starts_with("/v1/sync/") {
                assert!(security.contains("device_signature"), "{method} {path}");
                let params = operation["parameters"].to_string();
                for header in
                    ["x-gridsync-device", "x-gridsync-time", "x-gridsync-nonce", "x-gridsync-signature"]
                {
                    assert!(params.contains(header), "{method} {path} {header}");
                }
            }
        }
    }
}

const ADMIN: &str = "conformance";
/// The one-time password the operator gives the administrator.
const ONE_TIME: &str = "openapi one-time password";
/// The one they choose at their first login.
const PASSWORD: &str = "openapi conformance password";

/// A small demo township (ADR 0029 uses its place codes as the document's
/// examples) served on a loopback port, with an administrator of known
/// password.
fn demo_server() -> (Running, tempfile::TempDir) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    demo::fill(&data, &DemoOptions { days: 3, villages: 2, grids: 1, seed: 14 }).expect("demo");
    let op = Operator::open_default(&data).expect("open");
    op.add_user(ADMIN, Role::Administrator, Some(""), None, Some(ONE_TIME.into())).expect("admin");
    // Their first login: a one-time password must be changed (ADR 0030).
    let session = op.run(op.service().login(ADMIN, ONE_TIME)).expect("first login");
    let staff = gridsync_server_core::service::Caller::Staff(session.user);
    op.run(op.service().change_own_password(&staff, ONE_TIME, PASSWORD, None)).expect("own password");
    drop(op);
    let mut settings = Settings::new(&data, "127.0.0.1:0".parse().expect("addr"));
    settings.workers = 2;
    (Running::start(settings).expect("server"), dir)
}

fn login(http: &Client, server: &Running) -> String {
    let response = http
        .post(format!("{}/v1/admin/login", server.url()))
        .json(&json!({"user": ADMIN, "password": PASSWORD}))
        .send()
        .expect("answer");
    assert_eq!(response.status().as_u16(), 200);
    response.json::<Value>().expect("json")["token"].as_str().expect("token").to_owned()
}

#[test]
fn the_document_is_served_without_a_session() {
    let (server, _dir) = demo_server();
    let http = Client::new();
    let response = http.get(format!("{}/v1/openapi.json", server.url())).send().expect("answer");
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers()["content-type"].to_str().expect("text").to_owned();
    assert!(content_type.starts_with("application/json"), "{content_type}");
    let served: Value = response.json().expect("json");
    assert_eq!(served, serde_json::to_value(openapi::document()).expect("json"));
    assert_eq!(served["info"]["version"], env!("CARGO_PKG_VERSION"));
    let wrong = http.post(format!("{}/v1/openapi.json", server.url())).send().expect("answer");
    assert_eq!(wrong.status().as_u16(), 405);
}

#[test]
fn a_query_that_does_not_parse_is_a_json_refusal() {
    // Regression: actix answered these `Query deserialize error: …` in plain text.
    let (server, _dir) = demo_server();
    let http = Client::new();
    let token = login(&http, &server);
    for path in [
        "/v1/admin/feed?place=620802100&after=not-a-number",
        "/v1/admin/feed?after=1",
        "/v1/admin/reports/daily?date=2026-11-30",
        "/v1/admin/ledgers/month?place=620802100&month=2026-11&sheet=-1",
    ] {
        let response =
            http.get(format!("{}{path}", server.url())).bearer_auth(&token).send().expect("answer");
        assert_eq!(response.status().as_u16(), 400, "{path}");
        let body: ErrorBody = response.json().expect("an error body");
        assert_eq!(body.code, ErrorCode::InvalidRequest, "{path}");
        assert!(!body.message.contains("not-a-number"), "{path}: {}", body.message);
    }
}

#[test]
fn a_body_over_the_limit_is_a_json_refusal() {
    // Regression: actix's body extractor answered `A payload reached size limit.` in plain text.
    let (server, _dir) = demo_server();
    let http = Client::new();
    let token = login(&http, &server);
    let big = format!(r#"{{"name": "{}", "role": "worker"}}"#, "x".repeat(300 * 1024));
    for (path, token) in [("/v1/admin/users", Some(&token)), ("/v1/admin/login", None)] {
        let mut request = http.post(format!("{}{path}", server.url())).body(big.clone());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.header("content-type", "application/json").send().expect("answer");
        assert_eq!(response.status().as_u16(), 413, "{path}");
        let body: ErrorBody = response.json().expect("an error body");
        assert_eq!(body.code, ErrorCode::PayloadTooLarge, "{path}");
    }
}

/// The command that makes the virtual environment schemathesis runs from
/// (README, Set up; `.ci/run` runs it).
const SETUP: &str = "python3 -m venv .venv && .venv/bin/pip install -r tests/requirements.txt";

/// `GRIDSYNC_SCHEMATHESIS`, or `.venv/bin/schemathesis` at the workspace's root.
fn schemathesis() -> PathBuf {
    match std::env::var_os("GRIDSYNC_SCHEMATHESIS") {
        Some(path) => PathBuf::from(path),
        None => workspace().join(".venv/bin/schemathesis"),
    }
}

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace").to_owned()
}

#[test]
fn schemathesis_finds_no_server_error_and_no_schema_violation() {
    let program = schemathesis();
    assert!(
        program.exists(),
        "schemathesis is not at {}: from the workspace's root, run `{SETUP}` \
         (or point GRIDSYNC_SCHEMATHESIS at a schemathesis executable)",
        program.display()
    );
    let (server, dir) = demo_server();
    let http = Client::new();
    let token = login(&http, &server);
    let output = Command::new(&program)
        .arg("run")
        .arg(format!("{}/v1/openapi.json", server.url()))
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_headers_conformance,response_schema_conformance",
            "--max-examples",
            "20",
            "--seed",
            "14",
            // One worker: Python 3.11's `ast` is not thread-safe, and
            // hypothesis parses with it while generating.
            "--workers",
            "1",
            "--phases",
            "examples,coverage,fuzzing",
            "--generation-database",
            "none",
            "--request-timeout",
            "30",
            "--no-color",
            // The run's session stays open for the whole run (logout is
            // tested in admin_api.rs).
            "--exclude-path",
            "/v1/admin/logout",
        ])
        .arg("--header")
        .arg(format!("Authorization: Bearer {token}"))
        // More options for a look at what it sent, e.g. `--report har`.
        .args(std::env::var("GRIDSYNC_SCHEMATHESIS_ARGS").unwrap_or_default().split_whitespace())
        .env("SCHEMATHESIS_HOOKS", "schemathesis_hooks")
        .env("GRIDSYNC_RUN_ADMIN", ADMIN)
        .env("PYTHONPATH", workspace().join("tests"))
        .current_dir(dir.path())
        .output()
        .expect("schemathesis runs");
    let report =
        format!("{}\n{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "schemathesis found failures:\n{report}");
    assert!(report.contains("passed"), "schemathesis ran the operations:\n{report}");
    // The session it used is still the administrator's: nothing it sent
    // deactivated them or ended it.
    let still =
        http.get(format!("{}/v1/admin/users", server.url())).bearer_auth(&token).send().expect("answer");
    assert_eq!(still.status().as_u16(), 200);
}

/// Reads the route patterns out of actix's `ResourceMap` as `{:#?}` prints
/// it (the map has no public iterator): a small parser of Rust's derived
/// `Debug` output into a tree, then every leaf's pattern joined to its
/// scopes' prefixes. Should actix change the map's shape, the test fails
/// (no patterns, or a panic naming what was not found); it never passes
/// vacuously.
mod debug_tree {
    /// A value as `Debug` prints it.
    #[derive(Debug)]
    enum Node {
        /// `Name { field: value, … }`.
        Struct(String, Vec<(String, Node)>),
        /// `Name(value, …)` or `(value, …)`.
        Tuple(String, Vec<Node>),
        /// `[value, …]`, or `{key: value, …}` (keys and values in turn).
        List(Vec<Node>),
        /// `"text"`.
        Str(String),
        /// `true`, `None`, `12`.
        Word(String),
    }

    struct Parser<'a> {
        chars: std::iter::Peekable<std::str::Chars<'a>>,
    }

    impl Parser<'_> {
        fn skip_space(&mut self) {
            while self.chars.peek().is_some_and(|c| c.is_whitespace()) {
                self.chars.next();
            }
        }

        fn eat(&mut self, c: char) -> bool {
            self.skip_space();
            if self.chars.peek() == Some(&c) {
                self.chars.next();
                true
            } else {
                false
            }
        }

        fn word(&mut self) -> String {
            self.skip_space();
            let mut out = String::new();
            while let Some(&c) = self.chars.peek() {
                if c.is_whitespace() || "{}()[],:\"".contains(c) {
                    break;
                }
                out.push(c);
                self.chars.next();
            }
            out
        }

        fn string(&mut self) -> String {
            let mut out = String::new();
            while let Some(c) = self.chars.next() {
                match c {
                    '"' => break,
                    '\\' => out.extend(self.chars.next()),
                    c => out.push(c),
                }
            }
            out
        }

        /// Values up to `close`, separated by commas (a map's `key: value`
        /// reads as the key, then the value).
        fn items(&mut self, close: char) -> Vec<Node> {
            let mut out = Vec::new();
            loop {
                if self.eat(close) || self.chars.peek().is_none() {
                    return out;
                }
                out.push(self.value());
                if self.eat(':') {
                    out.push(self.value());
                }
                self.eat(',');
            }
        }

        fn value(&mut self) -> Node {
            if self.eat('"') {
                return Node::Str(self.string());
            }
            if self.eat('[') {
                return Node::List(self.items(']'));
            }
            if self.eat('(') {
                return Node::Tuple(String::new(), self.items(')'));
            }
            if self.eat('{') {
                return Node::List(self.items('}'));
            }
            let name = self.word();
            if self.eat('{') {
                let mut fields = Vec::new();
                loop {
                    if self.eat('}') || self.chars.peek().is_none() {
                        return Node::Struct(name, fields);
                    }
                    let field = self.word();
                    assert!(self.eat(':'), "a field of {name} after {field:?}");
                    fields.push((field, self.value()));
                    self.eat(',');
                }
            }
            if self.eat('(') {
                return Node::Tuple(name, self.items(')'));
            }
            Node::Word(name)
        }
    }

    fn field<'n>(node: &'n Node, name: &str) -> Option<&'n Node> {
        match node {
            Node::Struct(_, fields) => fields.iter().find(|(f, _)| f == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// A `ResourceDef`'s first pattern.
    fn pattern(def: &Node) -> String {
        let first = |node: Option<&Node>| match node {
            Some(Node::Str(p)) => p.clone(),
            other => panic!("a pattern: {other:?}"),
        };
        match field(def, "patterns") {
            Some(Node::Tuple(kind, items)) if kind == "Single" => first(items.first()),
            Some(Node::Tuple(kind, items)) if kind == "List" => match items.first() {
                Some(Node::List(patterns)) => first(patterns.first()),
                other => panic!("a list of patterns: {other:?}"),
            },
            other => panic!("a ResourceDef's patterns: {other:?}"),
        }
    }

    fn walk(map: &Node, prefix: &str, out: &mut Vec<String>) {
        assert!(matches!(map, Node::Struct(name, _) if name == "ResourceMap"), "a ResourceMap: {map:?}");
        let def = field(map, "pattern").expect("a ResourceMap's pattern");
        let here = format!("{prefix}{}", pattern(def));
        match field(map, "nodes") {
            Some(Node::Tuple(some, items)) if some == "Some" => {
                let Some(Node::List(children)) = items.first() else { panic!("a list of nodes") };
                for child in children {
                    walk(child, &here, out);
                }
            }
            Some(Node::Word(none)) if none == "None" => out.push(here),
            other => panic!("a ResourceMap's nodes: {other:?}"),
        }
    }

    /// The full pattern of every leaf of a `ResourceMap` printed with `{:#?}`.
    pub(super) fn leaf_patterns(dump: &str) -> Vec<String> {
        let root = Parser { chars: dump.chars().peekable() }.value();
        let mut out = Vec::new();
        walk(&root, "", &mut out);
        out.sort();
        out.dedup();
        out
    }
}
