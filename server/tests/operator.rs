//! The operator's commands as run from a shell: `admin create`, `place add`,
//! `user add` (only at known places), `enroll` (with its QR code),
//! `device revoke` and `audit verify`, which names the first tampered entry.

use std::process::{Command, Output};

fn run(data: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gridsync-server"))
        .arg("--data")
        .arg(data)
        .args(args)
        .current_dir(data.parent().expect("a parent"))
        .output()
        .expect("the binary runs")
}

fn ok(data: &std::path::Path, args: &[&str]) -> String {
    let out = run(data, args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn operators_manage_users_and_codes_and_the_audit_catches_an_edit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");

    let created = ok(&data, &["admin", "create", "--user", "admin"]);
    let password = created.lines().nth(1).expect("the one-time password line");
    assert_eq!(password.len(), 20, "{created}");
    let db = gridsync_sql_support::open_reader(&data.join("gridsync.db"), &gridsync_server_sqlite::SCHEMA)
        .expect("database");
    let hash: String =
        db.query_row("SELECT password FROM users WHERE name = 'admin'", [], |r| r.get(0)).expect("row");
    assert!(hash.starts_with("$argon2id$") && !hash.contains(password), "only a hash is stored");
    assert!(gridsync_server_core::passwords::verify(&hash, password));

    let unknown = run(&data, &["user", "add", "li", "--role", "worker", "--scope", "5301.02.003.01"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("not a known place"));
    for (code, name, level, parent) in [
        ("5301", "昆明市", "city", None),
        ("5301.02", "五华区", "county", Some("5301")),
        ("5301.02.003", "城关镇", "township", Some("5301.02")),
        ("5301.02.003.01", "东门村", "village", Some("5301.02.003")),
    ] {
        let mut args = vec!["place", "add", code, "--name", name, "--level", level];
        args.extend(parent.map(|p| ["--parent", p]).into_iter().flatten());
        assert!(ok(&data, &args).starts_with(&format!("place {code} added")));
    }
    ok(&data, &["user", "add", "li", "--role", "worker", "--scope", "5301.02.003.01"]);
    let bad_role = run(&data, &["user", "add", "x", "--role", "mayor", "--scope", "1"]);
    assert!(!bad_role.status.success());

    let code = ok(&data, &["enroll", "--user", "li", "--ttl", "2h", "--qr", "li.svg"]);
    assert_eq!(code.trim().len(), 23, "{code}");
    let svg = std::fs::read_to_string(dir.path().join("li.svg")).expect("QR file");
    assert!(svg.contains("<svg"));
    let unknown = run(&data, &["enroll", "--user", "nobody"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no such user"));

    let listed = ok(&data, &["user", "list"]);
    let rows: Vec<Vec<&str>> = listed.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows[0], ["NAME", "ROLE", "SCOPE", "STATE", "UNIT"], "{listed}");
    assert!(rows.contains(&vec!["admin", "administrator", "(all)", "active", "-"]), "{listed}");
    assert!(rows.contains(&vec!["li", "worker", "5301.02.003.01", "active", "-"]), "{listed}");
    let deactivated = ok(&data, &["user", "deactivate", "li"]);
    assert!(deactivated.contains("0 device(s) revoked"), "{deactivated}");

    // admin, four places, user, code, deactivation.
    let intact = ok(&data, &["audit", "verify"]);
    assert!(intact.starts_with("audit log intact: 8 entries"), "{intact}");

    // An attacker with the file edits entry 2 (and must drop the trigger first).
    drop(db);
    let conn = rusqlite::Connection::open(data.join("gridsync.db")).expect("open");
    conn.execute_batch("DROP TRIGGER audit_no_update; UPDATE audit SET target = 'someone' WHERE seq = 2;")
        .expect("tamper");
    drop(conn);
    let broken = run(&data, &["audit", "verify"]);
    assert_eq!(broken.status.code(), Some(1));
    let said = String::from_utf8_lossy(&broken.stderr);
    assert!(said.contains("BROKEN at entry 2"), "{said}");
}

#[test]
fn a_reader_that_goes_away_ends_a_listing_quietly_and_errors_are_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let csv = dir.path().join("places.csv");
    let rows: String = (0..2000).map(|i| format!("53{i:04},第{i}区,county,\n")).collect();
    std::fs::write(&csv, format!("code,name,level,parent\n{rows}")).expect("csv written");
    ok(&data, &["place", "import", csv.to_str().expect("utf-8 path")]);
    // `place list | head -0`: the reader closes before the listing is written.
    let mut child = Command::new(env!("CARGO_BIN_EXE_gridsync-server"))
        .arg("--data")
        .arg(&data)
        .args(["place", "list"])
        .env("RUST_BACKTRACE", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary runs");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("the binary ends");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && !said.contains("panicked"), "{:?}: {said}", out.status);

    // A refusal is one line naming the problem, without a backtrace even when asked for one.
    let refused = Command::new(env!("CARGO_BIN_EXE_gridsync-server"))
        .arg("--data")
        .arg(&data)
        .args(["user", "add", "li", "--role", "worker", "--scope", "nowhere"])
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("the binary runs");
    let said = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(said.lines().count(), 1, "{said}");
    assert!(said.starts_with("gridsync-server: error: ") && said.contains("not a known place"), "{said}");
}
