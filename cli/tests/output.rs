//! What the `gridsync` binary writes for people: stderr plain off a
//! terminal and with `NO_COLOR`, one message per failure with each cause
//! once, and times in China Standard Time (UTC+8) or, with `--utc`, in UTC,
//! while `--json` keeps Unix milliseconds.

mod support;

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
use support::{Township, WORKER, command, fails, handset, id, ok, ok_json};

/// 2026-12-02T20:01:51.117Z, 2026-12-03 04:01:51 in China.
const NIGHT_MS: &str = "1796241711117";

/// Runs `command` with its stderr on a new pseudo-terminal; returns what
/// the terminal showed and whether the command succeeded.
fn on_a_terminal(mut command: Command) -> (String, bool) {
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).expect("open a pseudo-terminal");
    grantpt(&master).expect("grantpt");
    unlockpt(&master).expect("unlockpt");
    let name = ptsname(&master, Vec::new()).expect("ptsname");
    let name = name.to_str().expect("a UTF-8 terminal name").to_owned();
    let terminal = std::fs::OpenOptions::new().read(true).write(true).open(&name).expect("open the terminal");
    command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(terminal);
    let mut child = command.spawn().expect("run gridsync");
    // The parent's copy of the terminal goes with the command, so that
    // reading ends when the child has closed it.
    drop(command);
    let mut master = File::from(master);
    let mut shown = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match master.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => shown.extend_from_slice(&buf[..n]),
            // Linux: every process closed the terminal.
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::IO.raw_os_error()) => break,
            Err(e) => panic!("reading the terminal: {e}"),
        }
    }
    let status = child.wait().expect("wait for gridsync");
    (String::from_utf8(shown).expect("UTF-8 on the terminal"), status.success())
}

fn output(mut command: Command) -> Output {
    command.output().expect("run gridsync")
}

#[test]
fn stderr_has_colours_only_on_a_terminal_and_never_with_no_color() {
    let township = Township::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, _) = handset(&township, dir.path(), "li", WORKER);
    id(&store, &["report", "all-safe"]);

    // To a pipe, log lines are plain.
    let mut sync = command(&store, &["sync"]);
    sync.env("GRIDSYNC_LOG", "info");
    let out = output(sync);
    let stderr = String::from_utf8(out.stderr).expect("utf-8");
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("sync finished"), "a log line: {stderr}");
    assert!(!stderr.contains("\x1b["), "no escape sequences to a pipe: {stderr:?}");

    // On a terminal, colours; with NO_COLOR (any non-empty value), none.
    let mut coloured = command(&store, &["sync"]);
    coloured.env("GRIDSYNC_LOG", "info");
    let (shown, done) = on_a_terminal(coloured);
    assert!(done && shown.contains("sync finished") && shown.contains("\x1b["), "{shown:?}");
    let mut empty = command(&store, &["sync"]);
    empty.env("GRIDSYNC_LOG", "info").env("NO_COLOR", "");
    let (shown, done) = on_a_terminal(empty);
    assert!(done && shown.contains("\x1b["), "an empty NO_COLOR asks nothing: {shown:?}");
    for value in ["1", "false"] {
        let mut plain = command(&store, &["sync"]);
        plain.env("GRIDSYNC_LOG", "info").env("NO_COLOR", value);
        let (shown, done) = on_a_terminal(plain);
        assert!(done && shown.contains("sync finished"), "{shown:?}");
        assert!(!shown.contains("\x1b["), "NO_COLOR={value}: {shown:?}");
    }

    // A filter that does not parse is said once, plainly; nothing else is logged.
    let mut bad = command(&store, &["status"]);
    bad.env("GRIDSYNC_LOG", "info=what=");
    let out = output(bad);
    assert!(out.status.success());
    let stderr = String::from_utf8(out.stderr).expect("utf-8");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("gridsync: GRIDSYNC_LOG is not a log filter"), "{stderr}");
}

#[test]
fn a_failure_is_one_message_with_each_cause_once() {
    let township = Township::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, device) = handset(&township, dir.path(), "li", WORKER);
    let patrol = id(&store, &["patrol", "start"]);

    // Nesting too deep: the reason once, on one line.
    let err = fails(&store, &["set", &patrol, "summary:=[[[[[[[[[[1]]]]]]]]]]"], 1);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(err.matches("nested deeper than 8 levels").count(), 1, "{err}");
    assert!(err.contains("nothing was written: values may nest 8 levels deep"), "{err}");

    // A store that SQLite cannot open: every cause once.
    let key = dir.path().join("li.db.key");
    let nowhere = dir.path().join("missing").join("x.db");
    let nowhere = nowhere.to_str().expect("utf-8 path");
    let key = key.to_str().expect("utf-8 path");
    let args = ["--key-file", key, "init", "--server", "http://127.0.0.1:9"];
    let err = fails(Path::new(nowhere), &args, 1);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(&format!("cannot create the store at {nowhere}")), "{err}");
    assert_eq!(err.matches("unable to open database file").count(), 1, "{err}");
    assert_eq!(err.matches(nowhere).count(), 2, "the path, in the message and in SQLite's cause: {err}");
    assert!(!err.contains("Error code"), "{err}");

    // Revoked with a wipe order: the error line alone, no log line saying it too.
    township.revoke(&device, true);
    let err = fails(&store, &["sync"], 4);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("erased"), "{err}");
}

#[test]
fn text_shows_times_in_china_time_or_utc_and_json_keeps_milliseconds() {
    let township = Township::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, _) = handset(&township, dir.path(), "li", WORKER);
    let visit = id(
        &store,
        &[
            "visit",
            "--category",
            "general",
            "--purpose",
            "routine",
            "--address",
            "东关村3号",
            "--at",
            NIGHT_MS,
        ],
    );
    let patrol = id(&store, &["patrol", "start", "--at", NIGHT_MS]);
    ok(
        &store,
        &[
            "patrol",
            "checkpoint",
            &patrol,
            "--place",
            "路口",
            "--lat",
            "25.5",
            "--lon",
            "102.7",
            "--accuracy",
            "8",
            "--at",
            NIGHT_MS,
        ],
    );
    ok(&store, &["sync"]);

    // China time by default: the user's times to the minute, the stamps to the second.
    let text = ok(&store, &["show", &visit]);
    let field = |text: &str, name: &str| {
        let line = text.lines().find(|l| l.trim_start().starts_with(name));
        line.map(|l| l.trim_start()[name.len()..].trim().to_owned()).unwrap_or_default()
    };
    assert_eq!(field(&text, "visited_ms"), "2026-12-03 04:01 +08:00", "{text}");
    assert!(!text.contains(NIGHT_MS), "{text}");
    let created = text.lines().nth(1).expect("the created line");
    assert!(is_china_time(&created["created ".len()..]), "{created}");
    assert!(created.contains(" +08:00 by li (device ") && created.contains(", received "), "{created}");
    assert!(created.ends_with(" +08:00"), "{created}");

    let text = ok(&store, &["show", &patrol]);
    assert_eq!(field(&text, "started_ms"), "2026-12-03 04:01 +08:00", "{text}");
    assert_eq!(field(&text, "time_ms:"), "2026-12-03 04:01 +08:00", "the checkpoint's time: {text}");
    let entry = text.lines().find(|l| l.contains(" checkpoint by ")).expect("the checkpoint");
    assert!(is_china_time(entry.trim_start()), "{entry}");

    // `--utc`, before or after the command: UTC as ISO 8601.
    let visit = visit.as_str();
    for args in [["--utc", "show", visit], ["show", visit, "--utc"]] {
        let text = ok(&store, &args);
        assert_eq!(field(&text, "visited_ms"), "2026-12-02T20:01Z", "{text}");
        let created = text.lines().nth(1).expect("the created line");
        assert!(created.contains("Z by li (device ") && created.ends_with('Z'), "{created}");
        assert!(!text.contains("+08:00"), "{text}");
    }

    // JSON: milliseconds, whatever the flag.
    for args in [vec!["show", visit, "--json"], vec!["--utc", "show", visit, "--json"]] {
        let view = ok_json(&store, &args);
        assert_eq!(view["fields"]["visited_ms"].to_string(), NIGHT_MS, "{view}");
        assert!(view["created"]["time_ms"].is_u64() && view["created"]["received_ms"].is_u64(), "{view}");
    }
    let view = ok_json(&store, &["show", &patrol, "--json"]);
    assert_eq!(view["entries"][0]["body"]["time_ms"].to_string(), NIGHT_MS, "{view}");
}

/// Whether `text` starts with `YYYY-MM-DD HH:MM:SS +08:00`.
fn is_china_time(text: &str) -> bool {
    let shape = "0000-00-00 00:00:00 +08:00";
    text.len() >= shape.len()
        && text.chars().zip(shape.chars()).all(|(c, s)| if s == '0' { c.is_ascii_digit() } else { c == s })
}
