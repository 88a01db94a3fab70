//! The operator's command line as a township IT person meets it (issue 15),
//! run as the real binary: `enroll` writes no file unless asked (`--qr
//! FILE`, or `--qr -` for standard output); a `--data` that is a file and
//! `--workers 0` are refused naming the flag; `--help` shows the default
//! data directory; a worker is assigned to a grid (or a village), never to
//! a township, by `user add` and `user move` alike; times in text output
//! are in the deployment's time zone, or UTC with `--utc`.

use std::path::Path;
use std::process::{Command, Output};

/// Runs the binary in `cwd` with `args` (no `--data` added).
fn run_in(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gridsync-server"))
        .args(args)
        .current_dir(cwd)
        .env_remove("GRIDSYNC_DATA")
        .env_remove("GRIDSYNC_WORKERS")
        .output()
        .expect("the binary runs")
}

fn ok_in(cwd: &Path, args: &[&str]) -> (String, String) {
    let out = run_in(cwd, args);
    let (stdout, stderr) =
        (String::from_utf8(out.stdout).expect("utf-8"), String::from_utf8(out.stderr).expect("utf-8"));
    assert!(out.status.success(), "{args:?}: {stderr}");
    (stdout, stderr)
}

fn refused_in(cwd: &Path, args: &[&str]) -> String {
    let out = run_in(cwd, args);
    assert!(!out.status.success(), "{args:?} succeeded");
    String::from_utf8(out.stderr).expect("utf-8")
}

/// The names in a directory, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("a directory")
        .map(|e| e.expect("an entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A township with a village, a grid and a worker in it, in `cwd/data`.
fn township(cwd: &Path) {
    for args in [
        &["place", "add", "5301", "--name", "城关镇", "--level", "township"][..],
        &["place", "add", "530101", "--name", "东关村", "--level", "village", "--parent", "5301"],
        &["place", "add", "530101-01", "--name", "第一网格", "--level", "grid", "--parent", "530101"],
        &["user", "add", "李 明", "--role", "worker", "--scope", "530101-01"],
    ] {
        let mut with_data = vec!["--data", "data"];
        with_data.extend_from_slice(args);
        ok_in(cwd, &with_data);
    }
}

#[test]
fn enroll_prints_the_code_and_writes_a_qr_code_only_where_asked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cwd = dir.path();
    township(cwd);
    let before = entries(cwd);

    // No --qr: the code on stdout, what it is for on stderr, no file anywhere.
    let (code, said) = ok_in(cwd, &["--data", "data", "enroll", "--user", "李 明", "--ttl", "2h"]);
    assert_eq!(code.trim().len(), 23, "{code}");
    assert_eq!(code.lines().count(), 1, "the code alone: {code}");
    assert!(said.contains("--qr FILE") && said.contains("valid until"), "{said}");
    assert_eq!(entries(cwd), before, "nothing written in the current directory");

    // --qr FILE: that file, readable by its owner only (it holds a live code).
    let (code, said) = ok_in(cwd, &["--data", "data", "enroll", "--user", "李 明", "--qr", "out.svg"]);
    assert_eq!(code.trim().len(), 23, "{code}");
    assert!(said.contains("written to out.svg"), "{said}");
    let svg = std::fs::read_to_string(cwd.join("out.svg")).expect("the QR file");
    assert!(svg.contains("<svg"), "{svg}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(cwd.join("out.svg")).expect("metadata").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // Overwritten, an existing file is made private too.
        std::fs::set_permissions(cwd.join("out.svg"), std::fs::Permissions::from_mode(0o644)).expect("chmod");
        ok_in(cwd, &["--data", "data", "enroll", "--user", "李 明", "--qr", "out.svg"]);
        let mode = std::fs::metadata(cwd.join("out.svg")).expect("metadata").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // --qr -: the SVG on stdout, the code on stderr.
    let (svg, said) = ok_in(cwd, &["--data", "data", "enroll", "--user", "李 明", "--qr", "-"]);
    assert!(svg.starts_with("<?xml") && svg.trim_end().ends_with("</svg>"), "{svg}");
    let code = said.lines().next().expect("the code first");
    assert_eq!(code.len(), 23, "{said}");
    let mut expected = before.clone();
    expected.push("out.svg".into());
    expected.sort();
    assert_eq!(entries(cwd), expected, "only the file asked for");

    // A user name never becomes a path.
    let unknown = refused_in(cwd, &["--data", "data", "enroll", "--user", "../escape"]);
    assert!(unknown.contains("no such user"), "{unknown}");
    assert_eq!(entries(cwd), expected);
}

#[test]
fn a_data_path_that_is_a_file_and_zero_workers_are_refused_naming_the_flag() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cwd = dir.path();
    std::fs::write(cwd.join("notes.txt"), "not a directory").expect("a file");
    for args in [&["--data", "notes.txt", "place", "list"][..], &["--data", "notes.txt", "serve"]] {
        let said = refused_in(cwd, args);
        assert!(said.contains("--data notes.txt is a file, not a directory"), "{args:?}: {said}");
        assert!(!said.contains("File exists"), "{said}");
        assert_eq!(said.lines().count(), 1, "{said}");
    }
    assert_eq!(std::fs::read_to_string(cwd.join("notes.txt")).expect("kept"), "not a directory");

    let out = run_in(cwd, &["--data", "data", "serve", "--workers", "0", "--listen", "127.0.0.1:0"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "a usage error: {said}");
    assert!(said.contains("--workers") && said.contains("1 or more"), "{said}");
    let from_env = Command::new(env!("CARGO_BIN_EXE_gridsync-server"))
        .args(["--data", "data", "serve", "--listen", "127.0.0.1:0"])
        .current_dir(cwd)
        .env("GRIDSYNC_WORKERS", "0")
        .output()
        .expect("the binary runs");
    assert_eq!(from_env.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&from_env.stderr).contains("--workers"));
    std::fs::write(cwd.join("gridsync.toml"), "workers = 0\n").expect("settings");
    let said =
        refused_in(cwd, &["--data", "data", "--config", "gridsync.toml", "serve", "--listen", "127.0.0.1:0"]);
    assert!(said.contains("workers = 0") && said.contains("1 or more"), "{said}");
    assert!(!cwd.join("data").exists(), "refused before anything was made");
}

#[test]
fn help_shows_the_default_data_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cwd = dir.path().canonicalize().expect("canonical");
    let (help, _) = ok_in(&cwd, &["--help"]);
    assert!(help.contains("[default: ./gridsync-data in the current directory"), "{help}");
    let here = cwd.join("gridsync-data");
    assert!(help.contains(&format!("here {}", here.display())), "{help}");
}

/// `args` on the data directory `data`.
fn with<'a>(args: &[&'a str]) -> Vec<&'a str> {
    [&["--data", "data"][..], args].concat()
}

#[test]
fn a_worker_is_assigned_to_a_grid_or_a_village_never_a_township() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cwd = dir.path();
    township(cwd);

    for scope in ["5301", ""] {
        let said = refused_in(cwd, &with(&["user", "add", "zhao", "--role", "worker", "--scope", scope]));
        assert!(said.contains("a worker's scope is a grid"), "{scope:?}: {said}");
        assert_eq!(said.lines().count(), 1, "{said}");
    }
    let said = refused_in(cwd, &with(&["user", "move", "李 明", "--scope", "5301"]));
    assert!(said.contains("a worker's scope is a grid") && said.contains("5301 is a township"), "{said}");
    let (listed, _) = ok_in(cwd, &with(&["user", "list", "--json"]));
    let users: serde_json::Value = serde_json::from_str(&listed).expect("json");
    assert_eq!(users[0]["scope"], "530101-01", "the refused move changed nothing: {users}");

    let (village, _) = ok_in(cwd, &with(&["user", "add", "zhao", "--role", "worker", "--scope", "530101"]));
    assert!(village.contains("scope 530101"), "a village committee's cadre: {village}");
    ok_in(cwd, &with(&["user", "move", "zhao", "--scope", "530101-01"]));
    let (centre, _) =
        ok_in(cwd, &with(&["user", "add", "wang", "--role", "township_admin", "--scope", "5301"]));
    assert!(centre.contains("scope 5301"), "{centre}");
}

#[test]
fn report_and_lock_times_are_in_the_deployments_zone_or_utc() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cwd = dir.path();
    township(cwd);
    let args = ["--data", "data", "report", "daily", "--place", "5301", "--date", "2026-11-30"];
    let (china, _) = ok_in(cwd, &args);
    let last = china.lines().last().expect("the summary");
    assert!(last.ends_with("due by 2026-12-01 00:00:00 +08:00"), "{china}");
    assert!(china.contains("530101-01\t李 明\tmissing\t-\t-"), "{china}");
    let (utc, _) = ok_in(cwd, &[&args[..], &["--utc"]].concat());
    assert!(utc.trim_end().ends_with("due by 2026-11-30 16:00:00 UTC"), "{utc}");
    let (json, _) = ok_in(cwd, &[&args[..], &["--utc", "--json"]].concat());
    let json: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(json["deadline_ms"], 1_796_054_400_000_u64, "JSON keeps Unix ms");

    ok_in(cwd, &with(&["export", "lock", "--place", "5301", "--month", "2026-11"]));
    let (locks, _) = ok_in(cwd, &with(&["export", "locks"]));
    let line = locks.lines().next().expect("the lock");
    assert!(line.starts_with("2026-11\t5301\t") && line.ends_with(" +08:00"), "{locks}");
    let (locks, _) = ok_in(cwd, &with(&["--utc", "export", "locks"]));
    assert!(locks.lines().next().expect("the lock").ends_with(" UTC"), "{locks}");
}
