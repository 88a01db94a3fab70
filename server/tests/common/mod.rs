//! Helpers shared by the integration tests: a service on the real SQLite
//! backend in a temporary data directory (through [`Operator`], as the
//! operator's command line has it), refusals read as code and message, and
//! the typed storage calls tests use where the old unit tests wrote rows or
//! read the database directly.
//!
//! Every test binary uses only some of these.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use gridsync_proto::access::AccessKey;
use gridsync_proto::auth::{self, EnrollRequest};
use gridsync_proto::{ActorId, Directory, ErrorCode, Level, Place, RecordId, Role};
use gridsync_server::operator::Operator;
use gridsync_server::{Database, Inspector};
use gridsync_server_core::service::people::AddUser;
use gridsync_server_core::service::{Caller, ServiceSettings};
use gridsync_server_core::storage::{AuditRow, StorageExt, User};
use gridsync_server_core::{CoreError, CoreResult, directory, home};

/// A fresh data directory and the service on it.
pub(crate) struct Fixture {
    pub(crate) op: Operator,
    pub(crate) data: PathBuf,
    _dir: tempfile::TempDir,
}

impl Fixture {
    /// A fresh data directory with the default settings.
    pub(crate) fn new() -> Self {
        Self::with(ServiceSettings::default())
    }

    /// A fresh data directory with `settings`.
    pub(crate) fn with(settings: ServiceSettings) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        let op = Operator::open(&Database::Embedded { data_dir: data.clone() }, settings).expect("open");
        Self { op, data, _dir: dir }
    }
}

/// Runs a service operation to its end, keeping the typed error.
pub(crate) fn run<T>(op: &Operator, operation: impl Future<Output = CoreResult<T>>) -> CoreResult<T> {
    op.block_on(operation)
}

/// A refusal's code and message (panics on success or a storage failure).
pub(crate) fn refusal<T: std::fmt::Debug>(result: CoreResult<T>) -> (ErrorCode, String) {
    match result {
        Err(CoreError::Refused(r)) => (r.code, r.message),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// A refusal's code.
pub(crate) fn code_of<T: std::fmt::Debug>(result: CoreResult<T>) -> ErrorCode {
    refusal(result).0
}

/// A place named after its code.
pub(crate) fn place(code: &str, level: Level, parent: Option<&str>) -> Place {
    Place { code: code.into(), name: format!("{code} 名"), level, parent: parent.map(Into::into) }
}

/// Adds a place as the operator.
pub(crate) fn add_place(op: &Operator, place: Place) -> CoreResult<Place> {
    run(op, op.service().add_place(&Caller::Operator, place))
}

/// County C; townships T1, T2; villages V1 (T1), V2 and V3 (T2); grids
/// G1 (V1) and G2 (V2).
pub(crate) fn county(op: &Operator) {
    for p in [
        place("C", Level::County, None),
        place("T1", Level::Township, Some("C")),
        place("T2", Level::Township, Some("C")),
        place("V1", Level::Village, Some("T1")),
        place("V2", Level::Village, Some("T2")),
        place("V3", Level::Village, Some("T2")),
        place("G1", Level::Grid, Some("V1")),
        place("G2", Level::Grid, Some("V2")),
    ] {
        add_place(op, p).expect("place");
    }
}

/// Adds a user at a place (or, with a unit, a department user) as the operator.
pub(crate) fn add_user(
    op: &Operator,
    name: &str,
    role: Role,
    scope: Option<&str>,
    unit: Option<&str>,
    password: Option<&str>,
) -> CoreResult<User> {
    let new = AddUser {
        name: name.into(),
        role,
        scope: scope.map(Into::into),
        unit: unit.map(Into::into),
        password: password.map(Into::into),
    };
    run(op, op.service().add_user(&Caller::Operator, new))
}

/// An enrollment request for a fresh device.
pub(crate) fn request(code: &str) -> EnrollRequest {
    EnrollRequest { code: code.to_owned(), device: ActorId::random(), public_key: auth::b64(&[9; 32]) }
}

/// Issues a code for `user` and enrolls a fresh device with it.
pub(crate) fn enroll(op: &Operator, user: &str) -> ActorId {
    let code = run(op, op.service().issue_enrollment(&Caller::Operator, user, 60_000)).expect("code").code;
    let request = request(&code);
    run(op, op.service().enroll(request.clone())).expect("enrolled");
    request.device
}

/// Adds a user at `scope` with one enrolled device.
pub(crate) fn with_device(op: &Operator, user: &str, role: Role, scope: &str) -> ActorId {
    add_user(op, user, role, Some(scope), None, None).expect("user");
    enroll(op, user)
}

/// Files `n` fresh records under `place`, active at `active_ms`, as the
/// ingest would.
pub(crate) fn records_at(op: &Operator, place: &str, n: usize, active_ms: u64) {
    let key = AccessKey::Place(place.to_owned()).encode();
    let place = place.to_owned();
    run(
        op,
        op.service().storage().write(move |tx, _| {
            let township = home::bucket(&directory::load(tx)?, &place);
            for _ in 0..n {
                let id = RecordId::generate(active_ms);
                tx.file_access(id, &township, std::slice::from_ref(&key), active_ms, false, 0)?;
            }
            Ok(())
        }),
    )
    .expect("indexed");
}

/// The directory version.
pub(crate) fn version(op: &Operator) -> u64 {
    run(op, op.service().storage().read(|tx| Ok(tx.directory_version()?))).expect("version")
}

/// The directory as stored.
pub(crate) fn load(op: &Operator) -> Directory {
    run(op, op.service().storage().read(|tx| Ok(directory::load(tx)?))).expect("load")
}

/// A user as stored.
pub(crate) fn user(op: &Operator, name: &str) -> Option<User> {
    let name = name.to_owned();
    run(op, op.service().storage().read(move |tx| Ok(tx.user(&name)?))).expect("read")
}

/// Every audit row.
pub(crate) fn audit_rows(op: &Operator) -> Vec<AuditRow> {
    Inspector::new(op.service().storage().clone()).and_then(|i| i.audit()).expect("audit")
}

/// `target detail` of every audit row of `action`, in order.
pub(crate) fn audit_detail(op: &Operator, action: &str) -> Vec<String> {
    audit_rows(op)
        .into_iter()
        .filter(|r| r.event.action == action)
        .map(|r| format!("{} {}", r.event.target, r.event.detail))
        .collect()
}

/// The database of a data directory, opened as an attacker (or a test) would.
pub(crate) fn sqlite(data: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(data.join(gridsync_server_sqlite::DB_FILE)).expect("database")
}

/// Runs `gridsync-server --data DATA ARGS` from the directory above `data`,
/// with `stdin` (a line) as its input, on the embedded database.
pub(crate) fn cli(data: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gridsync-server"))
        .arg("--data")
        .arg(data)
        .args(args)
        .current_dir(data.parent().expect("a parent"))
        .env_remove("GRIDSYNC_DATABASE")
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(text) = stdin {
        writeln!(input, "{text}").expect("write stdin");
    }
    drop(input);
    child.wait_with_output().expect("the binary ends")
}

/// [`cli`], which must succeed; its standard output.
pub(crate) fn cli_ok(data: &Path, args: &[&str], stdin: Option<&str>) -> String {
    let out = cli(data, args, stdin);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Logs `user` (name, password) in to the admin API at `url`; answers the
/// session's bearer token.
pub(crate) fn session_token(http: &reqwest::blocking::Client, url: &str, user: &(String, String)) -> String {
    let answer: serde_json::Value = http
        .post(format!("{url}/v1/admin/login"))
        .json(&serde_json::json!({ "user": user.0, "password": user.1 }))
        .send()
        .and_then(reqwest::blocking::Response::json)
        .expect("a login answer");
    answer["token"].as_str().expect("a session token").to_owned()
}

/// What a staff member with a one-time password (set for them by the
/// operator or an administrator) does at first login: chooses their own.
/// Answers it (the one-time one with ` (own)` appended).
pub(crate) fn choose_own_password(op: &Operator, name: &str, one_time: &str) -> String {
    let own = format!("{one_time} (own)");
    let session = op.run(op.service().login(name, one_time)).expect("the first login");
    let staff = Caller::Staff(session.user);
    op.run(op.service().change_own_password(&staff, one_time, &own, None)).expect("chooses their own");
    own
}

/// [`choose_own_password`] for the demo's administrator and township
/// centre, in the data directory `data`: `made` then holds their own
/// passwords, as if each had logged in once.
pub(crate) fn demo_staff_choose_their_own(data: &Path, made: &mut gridsync_server::demo::DemoSummary) {
    let op = Operator::open_default(data).expect("open");
    for staff in [&mut made.admin, &mut made.centre] {
        staff.1 = choose_own_password(&op, &staff.0, &staff.1);
    }
}
