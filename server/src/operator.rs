//! The operator's commands on a data directory (`gridsync-server --data DIR
//! user add ...`), run directly on the database in one transaction each,
//! beside a running server if need be. Every change is audited with the
//! actor `cli`. Places and units come first: every user's scope is a place
//! (see [`crate::hierarchy`] for the CSV formats of `place import` and
//! `unit import`).

use std::io::BufRead;
use std::path::Path;

use anyhow::{Context, bail};
use gridsync_proto::{ActorId, EnrollmentTicket, Place, Role, Unit};
use rusqlite::Connection;

use crate::audit::{self, Verdict};
use crate::db::{DB_FILE, SCHEMA, WriteError, now_ms};
use crate::hierarchy::{self, ImportSummary};
use crate::identity::{self, Device, NewUser, User};
use crate::passwords;
use crate::scope::ScopeSettings;

/// The audit actor of command-line changes.
const ACTOR: &str = "cli";
/// Longest enrollment code lifetime.
pub const MAX_TTL_MS: u64 = 7 * 24 * 60 * 60 * 1000;

/// Runs `work` in one transaction on the database in `data` (created on first use).
pub fn transact<T>(
    data: &Path,
    work: impl FnOnce(&Connection, u64) -> Result<T, WriteError>,
) -> anyhow::Result<T> {
    std::fs::create_dir_all(data).with_context(|| format!("cannot create {}", data.display()))?;
    let mut conn = gridsync_sql_support::open(&data.join(DB_FILE), &SCHEMA)?;
    let tx = conn.transaction()?;
    let out = work(&tx, now_ms()).map_err(|e| anyhow::anyhow!("{}", e.into_api().message))?;
    tx.commit()?;
    Ok(out)
}

/// Reads a password from the first line of standard input.
pub fn password_from_stdin() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// `admin create`: an administrator of the whole deployment. Returns the
/// generated one-time password when none was given.
pub fn create_admin(data: &Path, name: &str, password: Option<String>) -> anyhow::Result<Option<String>> {
    let (password, generated) = match password {
        Some(p) => (p, false),
        None => (passwords::generate()?, true),
    };
    let hash = passwords::hash(&password)?;
    transact(data, |conn, now| {
        identity::add_user(conn, now, ACTOR, name, Role::Administrator, "", Some(&hash))
    })?;
    Ok(generated.then_some(password))
}

/// `user add`.
pub fn add_user(
    data: &Path,
    name: &str,
    role: Role,
    scope: &str,
    password: Option<String>,
) -> anyhow::Result<User> {
    let hash = password.map(|p| passwords::hash(&p)).transpose()?;
    transact(data, |conn, now| identity::add_user(conn, now, ACTOR, name, role, scope, hash.as_deref()))
}

/// `user add --unit`: a department user of `unit`, at the unit's place.
/// A `scope` given too must be that place.
pub fn add_user_with_unit(
    data: &Path,
    name: &str,
    role: Role,
    scope: Option<&str>,
    unit: &str,
    password: Option<String>,
) -> anyhow::Result<User> {
    let hash = password.map(|p| passwords::hash(&p)).transpose()?;
    transact(data, |conn, now| {
        let new = NewUser {
            name,
            role,
            scope: scope.unwrap_or(""),
            unit: Some(unit),
            password_hash: hash.as_deref(),
        };
        identity::create_user(conn, now, ACTOR, &new)
    })
}

/// `user move`: assigns a user to another place, or another unit.
pub fn move_user(
    data: &Path,
    name: &str,
    scope: &str,
    unit: Option<&str>,
    settings: &ScopeSettings,
) -> anyhow::Result<User> {
    transact(data, |conn, now| identity::assign_user(conn, now, ACTOR, name, scope, unit, settings))
}

/// `place add`.
pub fn add_place(data: &Path, place: &Place) -> anyhow::Result<()> {
    transact(data, |conn, now| hierarchy::add_place(conn, now, ACTOR, place))
}

/// `place move`: `parent` None is the top of the deployment.
pub fn move_place(
    data: &Path,
    code: &str,
    parent: Option<&str>,
    settings: &ScopeSettings,
) -> anyhow::Result<Place> {
    transact(data, |conn, now| hierarchy::move_place(conn, now, ACTOR, code, parent, settings))
}

/// `place list`.
pub fn list_places(data: &Path) -> anyhow::Result<Vec<Place>> {
    transact(data, |conn, _| hierarchy::list_places(conn))
}

/// `place import`: the text of a places CSV.
pub fn import_places(data: &Path, csv_text: &str, settings: &ScopeSettings) -> anyhow::Result<ImportSummary> {
    transact(data, |conn, now| hierarchy::import_places_csv(conn, now, ACTOR, csv_text, settings))
}

/// `unit add`.
pub fn add_unit(data: &Path, unit: &Unit) -> anyhow::Result<()> {
    transact(data, |conn, now| hierarchy::add_unit(conn, now, ACTOR, unit))
}

/// `unit list`.
pub fn list_units(data: &Path) -> anyhow::Result<Vec<Unit>> {
    transact(data, |conn, _| hierarchy::list_units(conn))
}

/// `unit import`: the text of a units CSV.
pub fn import_units(data: &Path, csv_text: &str) -> anyhow::Result<ImportSummary> {
    transact(data, |conn, now| hierarchy::import_units_csv(conn, now, ACTOR, csv_text))
}

/// Reads a CSV file for an import; it must be UTF-8.
pub fn read_csv(path: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    String::from_utf8(bytes).map_err(|_| {
        anyhow::anyhow!("{} is not UTF-8: save it as \"CSV UTF-8\" and try again", path.display())
    })
}

/// `user deactivate`: returns how many devices were revoked.
pub fn deactivate_user(data: &Path, name: &str) -> anyhow::Result<u64> {
    transact(data, |conn, now| identity::deactivate_user(conn, now, ACTOR, name))
}

/// `user list`.
pub fn list_users(data: &Path) -> anyhow::Result<Vec<User>> {
    transact(data, |conn, _| identity::list_users(conn))
}

/// Parses a lifetime such as `30m`, `24h` or `7d` into milliseconds.
pub fn parse_ttl(text: &str) -> anyhow::Result<u64> {
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let unit_ms = match unit {
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => bail!("a lifetime is a number followed by m, h or d, e.g. 24h"),
    };
    let n: u64 = number.parse().context("a lifetime is a number followed by m, h or d, e.g. 24h")?;
    let ms = n.saturating_mul(unit_ms);
    if ms == 0 || ms > MAX_TTL_MS {
        bail!("an enrollment code lives between 1 minute and 7 days");
    }
    Ok(ms)
}

/// An issued enrollment code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// The one-time code.
    pub code: String,
    /// When it expires (Unix ms).
    pub expires_ms: u64,
    /// The QR code of the ticket, as SVG.
    pub qr_svg: String,
}

/// `enroll`: issues a one-time code for `user` and renders its QR code.
pub fn issue_code(data: &Path, user: &str, ttl_ms: u64, server_url: &str) -> anyhow::Result<Issued> {
    let (code, now) =
        transact(data, |conn, now| Ok((identity::issue_enrollment(conn, now, ACTOR, user, ttl_ms)?, now)))?;
    let ticket = EnrollmentTicket { server: server_url.to_owned(), code: code.clone() };
    Ok(Issued { qr_svg: qr_svg(&ticket)?, code, expires_ms: now + ttl_ms })
}

/// The QR code of an enrollment ticket (its JSON), as an SVG document.
pub fn qr_svg(ticket: &EnrollmentTicket) -> anyhow::Result<String> {
    let payload = serde_json::to_string(ticket)?;
    let code = qrcode::QrCode::with_error_correction_level(payload.as_bytes(), qrcode::EcLevel::M)
        .context("the enrollment ticket does not fit a QR code")?;
    Ok(code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(256, 256).quiet_zone(true).build())
}

/// `device list`.
pub fn list_devices(data: &Path) -> anyhow::Result<Vec<Device>> {
    transact(data, |conn, _| identity::list_devices(conn))
}

/// `device revoke`.
pub fn revoke_device(data: &Path, id: ActorId, wipe: bool) -> anyhow::Result<()> {
    transact(data, |conn, now| identity::revoke_device(conn, now, ACTOR, id, wipe))
}

/// `audit verify`.
pub fn verify_audit(data: &Path) -> anyhow::Result<Verdict> {
    let path = data.join(DB_FILE);
    if !path.exists() {
        bail!("no server database in {}", data.display());
    }
    let conn = gridsync_sql_support::open_reader(&path, &SCHEMA)?;
    Ok(audit::verify(&conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_parse() {
        assert_eq!(parse_ttl("30m").expect("m"), 1_800_000);
        assert_eq!(parse_ttl("24h").expect("h"), 86_400_000);
        assert_eq!(parse_ttl("7d").expect("d"), MAX_TTL_MS);
        assert!(parse_ttl("8d").is_err() && parse_ttl("0h").is_err() && parse_ttl("h").is_err());
        assert!(parse_ttl("12").is_err() && parse_ttl("").is_err());
    }

    #[test]
    fn the_qr_code_is_an_svg() {
        let ticket =
            EnrollmentTicket { server: "https://192.168.1.10:8443".into(), code: "AAAAA-BBBBB".into() };
        let svg = qr_svg(&ticket).expect("svg");
        assert!(svg.contains("<svg") && svg.contains("</svg>"));
    }

    #[test]
    fn commands_work_on_a_fresh_data_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let password = create_admin(dir.path(), "admin", None).expect("admin").expect("generated");
        assert_eq!(password.len(), 20);
        let unknown = add_user(dir.path(), "li", Role::Worker, "5301.02", None).expect_err("no such place");
        assert!(unknown.to_string().contains("not a known place"), "{unknown}");
        let township = Place {
            code: "5301.02".into(),
            name: "城关镇".into(),
            level: gridsync_proto::Level::Township,
            parent: None,
        };
        add_place(dir.path(), &township).expect("place");
        add_user(dir.path(), "li", Role::Worker, "5301.02", None).expect("user");
        assert!(add_user(dir.path(), "li", Role::Worker, "5301.02", None).is_err(), "duplicate");
        let issued = issue_code(dir.path(), "li", 3_600_000, "http://127.0.0.1:8080").expect("code");
        assert_eq!(issued.code.len(), 23);
        assert_eq!(list_users(dir.path()).expect("list").len(), 2);
        assert_eq!(deactivate_user(dir.path(), "li").expect("deactivate"), 0);
        // admin, place, user, code, deactivation: the refused ones left no trace.
        assert!(matches!(verify_audit(dir.path()).expect("verify"), Verdict::Intact { rows: 5, .. }));
    }
}
