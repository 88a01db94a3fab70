//! Users, enrollment codes and raw signed requests for the end-to-end tests.
//!
//! Test setup writes users and codes straight into the server's database
//! through the same library functions the admin command line uses, while the
//! server runs (SQLite lets the two coexist); everything a device does goes
//! over HTTP.

use std::path::Path;

use gridsync_client_core::{Signer, SigningKey};
use gridsync_proto::auth::{self, EnrollRequest, EnrollResponse};
use gridsync_proto::wire::CONTENT_TYPE;
use gridsync_proto::{ActorId, Role};
use gridsync_server::db::{DB_FILE, SCHEMA, WriteError, now_ms};
use gridsync_server::identity;
use rusqlite::Connection;

/// Default enrollment code lifetime in tests.
pub const DAY_MS: u64 = 24 * 60 * 60 * 1000;

fn open(data: &Path) -> anyhow::Result<Connection> {
    Ok(gridsync_sql_support::open(&data.join(DB_FILE), &SCHEMA)?)
}

/// Runs `f` in one transaction on the server database (as the admin CLI does).
pub fn admin<T>(data: &Path, f: impl FnOnce(&Connection, u64) -> Result<T, WriteError>) -> anyhow::Result<T> {
    let mut conn = open(data)?;
    let tx = conn.transaction()?;
    let out = f(&tx, now_ms()).map_err(|e| anyhow::anyhow!("{}", e.into_api()))?;
    tx.commit()?;
    Ok(out)
}

/// Makes sure `name` exists as a worker in `scope`.
pub fn ensure_worker(data: &Path, name: &str, scope: &str) -> anyhow::Result<()> {
    admin(data, |conn, now| {
        if identity::get_user(conn, name)?.is_none() {
            identity::add_user(conn, now, "test", name, Role::Worker, scope, None)?;
        }
        Ok(())
    })
}

/// Issues a fresh one-day enrollment code for `name`.
pub fn code_for(data: &Path, name: &str) -> anyhow::Result<String> {
    admin(data, |conn, now| identity::issue_enrollment(conn, now, "test", name, DAY_MS))
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
