//! Support for the end-to-end tests of the `gridsync` binary: a real
//! township server on a loopback port in a temporary data directory, with
//! its hierarchy, users and enrollment codes written through the server's
//! operator commands ([`Operator`]: `gridsync-server place add`, `user add`
//! and `enroll`), and helpers to run the binary on a store.
//!
//! ```text
//! 530102 township 城关镇 ── unit U-POLICE (城关派出所)
//! └─ 530102001 village 东关村
//!    ├─ 530102001-01 grid (GRID): worker `li`
//!    └─ 530102001-02 grid (OTHER_GRID)
//! township_admin `wang` at 530102
//! ```

#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use gridsync_proto::{ActorId, Level, Place, Role, Unit};
use gridsync_server::operator::Operator;
use gridsync_server::{Running, Settings};
use gridsync_server_core::service::Caller;
use serde_json::Value as Json;

/// The township.
pub const TOWNSHIP: &str = "530102";
/// The village.
pub const VILLAGE: &str = "530102001";
/// The worker's grid.
pub const GRID: &str = "530102001-01";
/// Another grid of the village.
pub const OTHER_GRID: &str = "530102001-02";
/// The township police station.
pub const POLICE: &str = "U-POLICE";
/// The grid worker of [`GRID`].
pub const WORKER: &str = "li";
/// The township administrator.
pub const ADMIN: &str = "wang";

/// A running township server with its data directory.
#[derive(Debug)]
pub struct Township {
    server: Option<Running>,
    data: PathBuf,
    /// The township CA's certificate when the server speaks HTTPS.
    ca: Option<PathBuf>,
    _dir: tempfile::TempDir,
}

impl Township {
    /// The hierarchy and the two users, then the server on a free port.
    pub fn start() -> Self {
        Self::start_with(false)
    }

    /// [`Township::start`], serving HTTPS with a township CA made for
    /// 127.0.0.1 ([`Township::ca`]).
    pub fn start_https() -> Self {
        Self::start_with(true)
    }

    fn start_with(https: bool) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).expect("data dir");
        let place = |code: &str, name: &str, level, parent: Option<&str>| Place {
            code: code.into(),
            name: name.into(),
            level,
            parent: parent.map(Into::into),
        };
        let op = operator(&data);
        let setup = || -> anyhow::Result<()> {
            op.add_place(&place(TOWNSHIP, "城关镇", Level::Township, None))?;
            op.add_place(&place(VILLAGE, "东关村", Level::Village, Some(TOWNSHIP)))?;
            op.add_place(&place(GRID, "东关村第一网格", Level::Grid, Some(VILLAGE)))?;
            op.add_place(&place(OTHER_GRID, "东关村第二网格", Level::Grid, Some(VILLAGE)))?;
            let police = Unit {
                code: POLICE.into(),
                name: "城关派出所".into(),
                kind: "police".into(),
                place: TOWNSHIP.into(),
            };
            op.add_unit(&police)?;
            op.add_user(WORKER, Role::Worker, Some(GRID), None, None)?;
            op.add_user(ADMIN, Role::TownshipAdmin, Some(TOWNSHIP), None, None)?;
            Ok(())
        };
        setup().unwrap_or_else(|e| panic!("server setup failed: {e:#}"));
        drop(op);
        let tls = https.then(|| {
            gridsync_server::tls::write_self_signed(dir.path(), &["127.0.0.1".to_owned()], 30, false)
                .expect("a township CA")
        });
        let mut township = Self { server: None, data, ca: tls.as_ref().map(|t| t.ca.clone()), _dir: dir };
        township.serve(tls.map(|t| (t.cert, t.key)));
        township
    }

    /// Serves the data directory on a free port.
    fn serve(&mut self, tls: Option<(PathBuf, PathBuf)>) {
        let mut settings = Settings::new(&self.data, "127.0.0.1:0".parse().expect("address"));
        settings.workers = 1;
        if let Some((cert, key)) = tls {
            settings.tls_cert = Some(cert);
            settings.tls_key = Some(key);
        }
        self.server = Some(Running::start(settings).expect("start the server"));
    }

    /// The township CA (PEM file) of an HTTPS server.
    pub fn ca(&self) -> &Path {
        self.ca.as_deref().expect("an HTTPS township")
    }

    /// Stops the server and serves the same data directory again on
    /// another port (the township's server moved): the old address then
    /// answers nothing. HTTP servers only.
    pub fn move_to_another_port(&mut self) {
        let old: std::net::SocketAddr =
            self.url().trim_start_matches("http://").parse().expect("an http://IP:PORT URL");
        self.stop();
        // Hold the old port while the new server picks one, so that it
        // cannot pick the same; then let it go, unanswered.
        let held = std::net::TcpListener::bind(old).expect("the old port is free again");
        self.serve(None);
        drop(held);
        assert_ne!(self.url(), format!("http://{old}"));
    }

    /// The server's base URL.
    pub fn url(&self) -> String {
        self.server.as_ref().map(Running::url).expect("the server is running")
    }

    /// A fresh one-time enrollment code for `user`.
    pub fn code(&self, user: &str) -> String {
        let op = operator(&self.data);
        let issued = op.run(op.service().issue_enrollment(&Caller::Operator, user, 24 * 3_600_000));
        issued.unwrap_or_else(|e| panic!("server setup failed: {e:#}")).code
    }

    /// Revokes a device, with a wipe order if `wipe`.
    pub fn revoke(&self, device: &str, wipe: bool) {
        let id: ActorId = device.parse().expect("a device id");
        operator(&self.data).revoke_device(id, wipe).unwrap_or_else(|e| panic!("server setup failed: {e:#}"));
    }

    /// Stops the server: from now on it is unreachable.
    pub fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop();
        }
    }
}

/// The operator's commands on the server's data directory, as
/// `gridsync-server --data DIR ...` runs them (audited as `cli`).
fn operator(data: &Path) -> Operator {
    Operator::open_default(data).expect("open the server database")
}

/// The binary on `store` with `args`, without the environment's store,
/// key, log filter or `NO_COLOR`, to be run.
pub fn command(store: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gridsync"));
    command
        .arg("--store")
        .arg(store)
        .args(args)
        .env_remove("GRIDSYNC_STORE")
        .env_remove("GRIDSYNC_STORE_KEY")
        .env_remove("GRIDSYNC_LOG")
        .env_remove("NO_COLOR");
    command
}

/// Runs the binary on `store` with `args`, without the environment's store or key.
pub fn gridsync(store: &Path, args: &[&str]) -> Output {
    command(store, args).output().expect("run gridsync")
}

/// Runs a command that must succeed; returns its stdout.
pub fn ok(store: &Path, args: &[&str]) -> String {
    let out = gridsync(store, args);
    assert!(
        out.status.success(),
        "gridsync {args:?} failed with {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Runs a command that must succeed and print one line (an id); returns it.
pub fn id(store: &Path, args: &[&str]) -> String {
    let out = ok(store, args);
    assert_eq!(out.lines().count(), 1, "gridsync {args:?} printed more than an id: {out}");
    out.trim_end().to_owned()
}

/// Runs a command that must succeed and print JSON.
pub fn ok_json(store: &Path, args: &[&str]) -> Json {
    let stdout = ok(store, args);
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("gridsync {args:?} printed no JSON ({e}): {stdout}"))
}

/// Runs a command that must fail with `code`; returns its stderr, which is
/// one `gridsync: error: ` message.
pub fn fails(store: &Path, args: &[&str], code: i32) -> String {
    let out = gridsync(store, args);
    let stderr = String::from_utf8(out.stderr).expect("utf-8 errors");
    assert_eq!(out.status.code(), Some(code), "gridsync {args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "gridsync {args:?} printed to stdout on failure");
    assert!(stderr.starts_with("gridsync: error: "), "{stderr}");
    stderr
}

/// A new store at `dir/NAME.db`, enrolled for `user`; returns its path and device id.
pub fn handset(township: &Township, dir: &Path, name: &str, user: &str) -> (PathBuf, String) {
    let store = dir.join(format!("{name}.db"));
    let code = township.code(user);
    let device = id(&store, &["init", "--server", &township.url(), "--code", &code]);
    (store, device)
}
