//! The operator's commands on the server's database (`gridsync-server
//! --data DIR user add ...`, or `--database postgres://… user add ...`):
//! each parses its arguments and calls one operation of the service layer
//! as [`Caller::Operator`] (audited as `cli`), the very operations the admin
//! API calls for staff. They run on the database directly, beside running
//! servers if need be (SQLite lets the two share it, PostgreSQL serves
//! every process; the directory version tells the servers what changed).
//! Places and units come first: every user's scope is a place (see
//! [`gridsync_server_core::service::places`] for the CSV formats of `place
//! import` and `unit import`).

use std::future::Future;
use std::io::BufRead;
use std::path::Path;

use anyhow::{Context, bail};
use gridsync_proto::{ActorId, Date, Place, Role, Unit};
use gridsync_server_core::audit::{Anchor, AnchorCheck, Verdict};
use gridsync_server_core::service::people::{AddUser, MAX_TTL_MS, SyncedDevice};
use gridsync_server_core::service::places::ImportSummary;
use gridsync_server_core::service::reports::Completeness;
use gridsync_server_core::service::{Caller, ServiceSettings};
use gridsync_server_core::storage::{Device, User};
use gridsync_server_core::{CoreError, Service, passwords};
use gridsync_server_sqlite::DB_FILE;

use crate::backend::{Backend, Database};
use crate::files;

mod password;
mod table;
mod times;

pub use password::{NewPassword, PasswordSet};
pub use table::aligned;
pub use times::Zone;

/// A user as `user list --json` prints it: name, role, scope (`""` for the
/// whole deployment), unit (null but for department users) and whether
/// they are active. Nothing of their password.
pub fn user_json(user: &User) -> serde_json::Value {
    serde_json::json!({
        "name": user.name,
        "role": user.role,
        "scope": user.scope,
        "unit": user.unit,
        "active": user.active,
    })
}

/// A device's state: `active`, `revoked`, or `revoked+wipe` when its
/// revocation orders it to erase its store.
pub fn device_state(device: &Device) -> &'static str {
    match (device.revoked_ms, device.wipe) {
        (Some(_), true) => "revoked+wipe",
        (Some(_), false) => "revoked",
        (None, _) => "active",
    }
}

/// A device as `device list --json` prints it: id, user, state, when it
/// enrolled and was revoked, its wipe order, its last accepted push and its
/// last sync (a push or a pull, Unix ms, null when none) and how many
/// changes it pushed.
pub fn device_json(listed: &SyncedDevice) -> serde_json::Value {
    let device = &listed.device;
    serde_json::json!({
        "id": device.id.to_string(),
        "user": device.user,
        "state": device_state(device),
        "enrolled_ms": device.enrolled_ms,
        "revoked_ms": device.revoked_ms,
        "wipe": device.wipe,
        "last_push_ms": device.last_push_ms,
        "last_sync_ms": listed.last_sync_ms,
        "changes": device.changes,
    })
}

/// The service on the server's database, for the operator's commands.
#[derive(Debug)]
pub struct Operator {
    runtime: tokio::runtime::Runtime,
    service: Service,
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

/// An operation's failure as the operator reads it: the refusal's message,
/// or what failed in the storage.
fn explained(e: CoreError) -> anyhow::Error {
    match e {
        CoreError::Refused(refusal) => anyhow::anyhow!("{}", refusal.message),
        CoreError::Storage(failure) => anyhow::anyhow!("the database failed: {}", failure.message),
    }
}

impl Operator {
    /// Opens (creating on first use, upgrading an older schema) `database`:
    /// the embedded database in a data directory, or PostgreSQL, with the
    /// backend's replay guard.
    pub fn open(database: &Database, settings: ServiceSettings) -> anyhow::Result<Self> {
        // I/O and timers on: a backend's guards may talk to the database.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start a runtime")?;
        // SQLite's writer thread is not joined: every operation waits for
        // its own commit, and the writer ends with the last storage handle.
        let Backend { storage, replay, .. } = Backend::open(database)?;
        Ok(Self { runtime, service: Service::with_replay_guard(storage, settings, replay) })
    }

    /// Opens the embedded database in the data directory `data` with the
    /// default settings.
    pub fn open_default(data: &Path) -> anyhow::Result<Self> {
        Self::open(&Database::Embedded { data_dir: data.to_owned() }, ServiceSettings::default())
    }

    /// The service.
    pub fn service(&self) -> &Service {
        &self.service
    }

    /// Runs a future to its end on the operator's runtime.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// Runs one service operation to its end.
    pub fn run<T>(&self, operation: impl Future<Output = Result<T, CoreError>>) -> anyhow::Result<T> {
        self.runtime.block_on(operation).map_err(explained)
    }

    /// `admin create`: an administrator of the whole deployment, with a
    /// one-time password (they choose their own at first login). Returns
    /// the generated password when none was given.
    pub fn create_admin(&self, name: &str, password: Option<String>) -> anyhow::Result<Option<String>> {
        let (password, generated) = match password {
            Some(p) => (p, false),
            None => (passwords::generate()?, true),
        };
        let new = AddUser {
            name: name.to_owned(),
            role: Role::Administrator,
            scope: Some(String::new()),
            unit: None,
            password: Some(password.clone()),
        };
        self.run(self.service.add_user(&Caller::Operator, new))?;
        Ok(generated.then_some(password))
    }

    /// `user add`: a user at `scope`, or (department users) in `unit`.
    pub fn add_user(
        &self,
        name: &str,
        role: Role,
        scope: Option<&str>,
        unit: Option<&str>,
        password: Option<String>,
    ) -> anyhow::Result<User> {
        let new = AddUser {
            name: name.to_owned(),
            role,
            scope: Some(scope.unwrap_or_default().to_owned()),
            unit: unit.map(str::to_owned),
            password,
        };
        self.run(self.service.add_user(&Caller::Operator, new))
    }

    /// `user move`: assigns a user to another place, or another unit.
    pub fn move_user(&self, name: &str, scope: &str, unit: Option<&str>) -> anyhow::Result<User> {
        let scope = Some(scope.to_owned());
        self.run(self.service.assign_user(&Caller::Operator, name, scope, unit.map(str::to_owned)))
    }

    /// `user deactivate`: returns how many devices were revoked.
    pub fn deactivate_user(&self, name: &str) -> anyhow::Result<u64> {
        self.run(self.service.deactivate_user(&Caller::Operator, name))
    }

    /// `user list`.
    pub fn list_users(&self) -> anyhow::Result<Vec<User>> {
        self.run(self.service.list_users(&Caller::Operator))
    }

    /// `place add`.
    pub fn add_place(&self, place: &Place) -> anyhow::Result<Place> {
        self.run(self.service.add_place(&Caller::Operator, place.clone()))
    }

    /// `place move`: `parent` None is the top of the deployment.
    pub fn move_place(&self, code: &str, parent: Option<&str>) -> anyhow::Result<Place> {
        self.run(self.service.move_place(&Caller::Operator, code, parent.map(str::to_owned)))
    }

    /// `place list`.
    pub fn list_places(&self) -> anyhow::Result<Vec<Place>> {
        self.run(self.service.list_places(&Caller::Operator))
    }

    /// `place import`: the text of a places CSV.
    pub fn import_places(&self, csv_text: &str) -> anyhow::Result<ImportSummary> {
        self.run(self.service.import_places(&Caller::Operator, csv_text.to_owned()))
    }

    /// `unit add`.
    pub fn add_unit(&self, unit: &Unit) -> anyhow::Result<Unit> {
        self.run(self.service.add_unit(&Caller::Operator, unit.clone()))
    }

    /// `unit move`: its users follow.
    pub fn move_unit(&self, code: &str, place: &str) -> anyhow::Result<Unit> {
        self.run(self.service.move_unit(&Caller::Operator, code, place))
    }

    /// `unit list`.
    pub fn list_units(&self) -> anyhow::Result<Vec<Unit>> {
        self.run(self.service.list_units(&Caller::Operator))
    }

    /// `unit import`: the text of a units CSV.
    pub fn import_units(&self, csv_text: &str) -> anyhow::Result<ImportSummary> {
        self.run(self.service.import_units(&Caller::Operator, csv_text.to_owned()))
    }

    /// `enroll`: issues a one-time code for `user` with its QR code, once
    /// `server_url` is checked and the QR code rendered (see
    /// [`Service::issue_ticket`]).
    pub fn issue_code(&self, user: &str, ttl_ms: u64, server_url: &str) -> anyhow::Result<Issued> {
        let issued = self.run(self.service.issue_ticket(&Caller::Operator, user, ttl_ms, server_url))?;
        Ok(Issued { qr_svg: issued.qr_svg, code: issued.ticket.code, expires_ms: issued.expires_ms })
    }

    /// The devices, without their last syncs.
    pub fn list_devices(&self) -> anyhow::Result<Vec<Device>> {
        self.run(self.service.list_devices(&Caller::Operator))
    }

    /// `device list`: each device with its last sync.
    pub fn list_devices_synced(&self) -> anyhow::Result<Vec<SyncedDevice>> {
        self.run(self.service.list_devices_synced(&Caller::Operator))
    }

    /// `device revoke`.
    pub fn revoke_device(&self, id: ActorId, wipe: bool) -> anyhow::Result<()> {
        self.run(self.service.revoke_device(&Caller::Operator, id, wipe))
    }

    /// `report daily`.
    pub fn daily_report(&self, place: &str, date: Date) -> anyhow::Result<Completeness> {
        self.run(self.service.daily_report(&Caller::Operator, place, date))
    }
}

/// `audit verify`: checks the chain of an existing database (never creates
/// an embedded one).
pub fn verify_audit(database: &Database) -> anyhow::Result<Verdict> {
    if let Database::Embedded { data_dir } = database
        && !data_dir.join(DB_FILE).exists()
    {
        bail!("no server database in {}", data_dir.display());
    }
    let operator = Operator::open(database, ServiceSettings::default())?;
    operator.run(operator.service.verify_audit(&Caller::Operator))
}

/// `audit verify --expect-head`: checks the chain of an existing database
/// (never creates an embedded one) and judges it against `anchor`, if any.
pub fn verify_audit_anchored(
    database: &Database,
    anchor: Option<Anchor>,
) -> anyhow::Result<(Verdict, Option<AnchorCheck>)> {
    let Some(anchor) = anchor else { return Ok((verify_audit(database)?, None)) };
    if let Database::Embedded { data_dir } = database
        && !data_dir.join(DB_FILE).exists()
    {
        bail!("no server database in {}", data_dir.display());
    }
    let operator = Operator::open(database, ServiceSettings::default())?;
    operator.run(operator.service.verify_audit_anchored(&Caller::Operator, anchor))
}

/// Reads a password from the first line of standard input.
pub fn password_from_stdin() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// Reads a CSV file for an import: a regular file of at most
/// [`files::MAX_CSV_BYTES`], in UTF-8.
pub fn read_csv(path: &Path) -> anyhow::Result<String> {
    let bytes = files::read_bounded(path, files::MAX_CSV_BYTES, "CSV file")?;
    String::from_utf8(bytes).map_err(|_| {
        anyhow::anyhow!("{} is not UTF-8: save it as \"CSV UTF-8\" and try again", path.display())
    })
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
    fn commands_work_on_a_fresh_data_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let op = Operator::open_default(dir.path()).expect("open");
        let password = op.create_admin("admin", None).expect("admin").expect("generated");
        assert_eq!(password.len(), 20);
        let unknown =
            op.add_user("li", Role::Worker, Some("5301.02"), None, None).expect_err("no such place");
        assert!(unknown.to_string().contains("not a known place"), "{unknown}");
        let township = Place {
            code: "5301.02".into(),
            name: "城关镇".into(),
            level: gridsync_proto::Level::Township,
            parent: None,
        };
        op.add_place(&township).expect("place");
        let refused = op.add_user("li", Role::Worker, Some("5301.02"), None, None).expect_err("a township");
        assert!(refused.to_string().contains("a worker's scope is a grid"), "{refused}");
        op.add_user("li", Role::TownshipAdmin, Some("5301.02"), None, None).expect("user");
        assert!(op.add_user("li", Role::TownshipAdmin, Some("5301.02"), None, None).is_err(), "duplicate");
        let issued = op.issue_code("li", 3_600_000, "http://127.0.0.1:8080").expect("code");
        assert_eq!(issued.code.len(), 23);
        assert_eq!(op.list_users().expect("list").len(), 2);
        assert_eq!(op.deactivate_user("li").expect("deactivate"), 0);
        drop(op);
        // admin, place, user, code, deactivation: the refused ones left no trace.
        let database = Database::Embedded { data_dir: dir.path().to_owned() };
        assert!(matches!(verify_audit(&database).expect("verify"), Verdict::Intact { rows: 5, .. }));
    }
}
