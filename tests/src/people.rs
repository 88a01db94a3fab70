//! Places, users, enrollment codes and raw signed requests for the
//! end-to-end tests.
//!
//! Test setup writes the hierarchy, users and codes into the server's
//! database through the operator's commands ([`Operator`], the service
//! operations `gridsync-server --data DIR ...` or `--database URL ...`
//! calls), while the server runs (SQLite lets the two coexist; PostgreSQL
//! serves both); everything a device does goes over HTTP.
//!
//! Every test server gets the same small county ([`hierarchy`]):
//!
//! ```text
//! 53 city
//! └─ 5301 county ── unit U-JUSTICE (司法局)
//!    ├─ 530102 township ── unit U-POLICE (派出所)
//!    │  ├─ 530102001 village ── grids 530102001-01 (GRID_A), 530102001-02 (GRID_A2)
//!    │  └─ 530102002 village ── grid 530102002-01 (GRID_B)
//!    └─ 530103 township
//!       └─ 530103001 village ── grid 530103001-01 (GRID_C)
//! ```

use anyhow::Context;
use gridsync_client_core::{Signer, SigningKey};
use gridsync_proto::auth::{self, EnrollRequest, EnrollResponse};
use gridsync_proto::wire::CONTENT_TYPE;
use gridsync_proto::{ActorId, Level, Place, Role, Unit};
use gridsync_server::Database;
use gridsync_server::operator::Operator;
use gridsync_server_core::service::{Caller, ServiceSettings};

use crate::TestServer;

/// Default enrollment code lifetime in tests.
pub const DAY_MS: u64 = 24 * 60 * 60 * 1000;
/// The county.
pub const COUNTY: &str = "5301";
/// The first township.
pub const TOWNSHIP: &str = "530102";
/// The second township.
pub const OTHER_TOWNSHIP: &str = "530103";
/// A village of the first township.
pub const VILLAGE_A: &str = "530102001";
/// Another village of the first township.
pub const VILLAGE_B: &str = "530102002";
/// A grid of village A.
pub const GRID_A: &str = "530102001-01";
/// Another grid of village A.
pub const GRID_A2: &str = "530102001-02";
/// The grid of village B.
pub const GRID_B: &str = "530102002-01";
/// A grid of the other township.
pub const GRID_C: &str = "530103001-01";
/// The county justice bureau.
pub const JUSTICE: &str = "U-JUSTICE";
/// The township police station.
pub const POLICE: &str = "U-POLICE";

/// The operator's commands on the server's database, as
/// `gridsync-server --data DIR ...` (or `--database URL ...`) runs them:
/// every call is one service operation as [`Caller::Operator`] (audited as
/// `cli`). Opened once per server and kept ([`TestServer::operator`]).
/// Anything else the service offers: `op.run(op.service().some_op(&Caller::Operator, ...))`;
/// what no operation does (e.g. a code issued in the past):
/// `op.run(op.service().storage().write(|tx, now| ...))`.
pub fn operator(server: &TestServer) -> anyhow::Result<&Operator> {
    server.operator()
}

/// Opens the operator's commands on `database` (created on first use), with
/// the default settings.
pub fn open_operator(database: &Database) -> anyhow::Result<Operator> {
    Operator::open(database, ServiceSettings::default())
}

/// Creates the test county (once; later calls change nothing).
pub fn hierarchy(server: &TestServer) -> anyhow::Result<()> {
    let place = |code: &str, name: &str, level, parent: Option<&str>| Place {
        code: code.into(),
        name: name.into(),
        level,
        parent: parent.map(Into::into),
    };
    let places = [
        place("53", "平凉市", Level::City, None),
        place(COUNTY, "崆峒区", Level::County, Some("53")),
        place(TOWNSHIP, "城关镇", Level::Township, Some(COUNTY)),
        place(VILLAGE_A, "东关村", Level::Village, Some(TOWNSHIP)),
        place(GRID_A, "东关村第一网格", Level::Grid, Some(VILLAGE_A)),
        place(GRID_A2, "东关村第二网格", Level::Grid, Some(VILLAGE_A)),
        place(VILLAGE_B, "西关村", Level::Village, Some(TOWNSHIP)),
        place(GRID_B, "西关村第一网格", Level::Grid, Some(VILLAGE_B)),
        place(OTHER_TOWNSHIP, "柳湖镇", Level::Township, Some(COUNTY)),
        place("530103001", "柳湖村", Level::Village, Some(OTHER_TOWNSHIP)),
        place(GRID_C, "柳湖村第一网格", Level::Grid, Some("530103001")),
    ];
    let units = [
        Unit {
            code: JUSTICE.into(),
            name: "崆峒区司法局".into(),
            kind: "justice".into(),
            place: COUNTY.into(),
        },
        Unit {
            code: POLICE.into(),
            name: "城关派出所".into(),
            kind: "police".into(),
            place: TOWNSHIP.into(),
        },
    ];
    let op = operator(server)?;
    if !op.list_places()?.is_empty() {
        return Ok(());
    }
    for p in &places {
        op.add_place(p)?;
    }
    for u in &units {
        op.add_unit(u)?;
    }
    Ok(())
}

/// Makes sure `name` exists with `role` at `place` (or, for department
/// users, in `unit`), creating the test county first.
pub fn ensure_user(
    server: &TestServer,
    name: &str,
    role: Role,
    place: &str,
    unit: Option<&str>,
) -> anyhow::Result<()> {
    hierarchy(server)?;
    let op = operator(server)?;
    if op.list_users()?.iter().any(|u| u.name == name) {
        return Ok(());
    }
    match unit {
        Some(unit) => op.add_user(name, Role::Department, None, Some(unit), None)?,
        None => op.add_user(name, role, Some(place), None, None)?,
    };
    Ok(())
}

/// Adds staff member `name` with `role` at `place` and the password
/// `password` as their own: the operator sets a one-time password, and the
/// staff member chooses `password` in its place at their first login, as
/// every staff member must before the admin API or the console serve them.
pub fn add_staff(
    server: &TestServer,
    name: &str,
    role: Role,
    place: &str,
    password: &str,
) -> anyhow::Result<()> {
    let op = operator(server)?;
    let one_time = format!("{password} (one-time)");
    op.add_user(name, role, Some(place), None, Some(one_time.clone()))?;
    let first = op.run(op.service().login(name, &one_time))?;
    op.run(op.service().change_own_password(&Caller::Staff(first.user), &one_time, password, None))?;
    Ok(())
}

/// A staff member logged in to the admin API.
#[derive(Debug)]
pub struct StaffSession {
    /// The HTTP client.
    pub http: reqwest::blocking::Client,
    /// The server's base URL.
    pub url: String,
    /// The session's bearer token.
    pub token: String,
}

impl StaffSession {
    /// The password every staff member of the tests chooses.
    pub const PASSWORD: &str = "staff password for tests 2026";

    /// Adds staff member `name` with `role` at `place` (the hierarchy made
    /// first) and logs them in.
    pub fn login(server: &TestServer, name: &str, role: Role, place: &str) -> anyhow::Result<Self> {
        hierarchy(server)?;
        add_staff(server, name, role, place, Self::PASSWORD)?;
        let http = http();
        let url = server.url();
        let answer: serde_json::Value = http
            .post(format!("{url}/v1/admin/login"))
            .json(&serde_json::json!({"user": name, "password": Self::PASSWORD}))
            .send()?
            .json()?;
        let token = answer["token"].as_str().context("a session token")?.to_owned();
        Ok(Self { http, url, token })
    }

    /// A GET of `path` with the session.
    pub fn get(&self, path: &str) -> anyhow::Result<reqwest::blocking::Response> {
        Ok(self.http.get(format!("{}{path}", self.url)).bearer_auth(&self.token).send()?)
    }

    /// A POST of `body` as JSON to `path` with the session.
    pub fn post(&self, path: &str, body: &serde_json::Value) -> anyhow::Result<reqwest::blocking::Response> {
        Ok(self.http.post(format!("{}{path}", self.url)).bearer_auth(&self.token).json(body).send()?)
    }
}

/// Makes sure `name` exists as a worker at `place`.
pub fn ensure_worker(server: &TestServer, name: &str, place: &str) -> anyhow::Result<()> {
    ensure_user(server, name, Role::Worker, place, None)
}

/// Issues a fresh one-day enrollment code for `name`.
pub fn code_for(server: &TestServer, name: &str) -> anyhow::Result<String> {
    let op = operator(server)?;
    Ok(op.run(op.service().issue_enrollment(&Caller::Operator, name, DAY_MS))?.code)
}

/// A device driven by hand: enrolled over HTTP, signing its own requests.
#[derive(Debug)]
pub struct RawDevice {
    /// Its actor id.
    pub id: ActorId,
    /// Its signer.
    pub signer: Signer,
    /// Its public key, as enrolled.
    pub public_key: Vec<u8>,
}

/// A blocking HTTP client with ring as the TLS provider.
pub fn http() -> reqwest::blocking::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::blocking::Client::new()
}

impl RawDevice {
    /// Enrolls a new device with `code` at `base_url`.
    pub fn enroll(base_url: &str, code: &str) -> anyhow::Result<(Self, EnrollResponse)> {
        let key = SigningKey::generate()?;
        let public_key = key.public_key().to_vec();
        let id = ActorId::random();
        let request = EnrollRequest { code: code.to_owned(), device: id, public_key: auth::b64(&public_key) };
        let response = http().post(format!("{base_url}/v1/enroll")).json(&request).send()?;
        anyhow::ensure!(response.status().is_success(), "enrollment refused: {}", response.text()?);
        let answer: EnrollResponse = response.json()?;
        Ok((Self { id, signer: Signer::new(id, key), public_key }, answer))
    }

    /// A signed POST of `body` as sent (the caller compresses if it wants).
    pub fn post(
        &self,
        base_url: &str,
        path: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<reqwest::blocking::Response> {
        let headers = self.signer.headers("POST", path, &body)?;
        let mut request = http().post(format!("{base_url}{path}")).header("content-type", CONTENT_TYPE);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        Ok(request.body(body).send()?)
    }
}
