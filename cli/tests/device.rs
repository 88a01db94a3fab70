//! End-to-end tests of the `gridsync` binary's device commands against a
//! real township server on a loopback port: enrollment failures told as
//! enrollment, HTTPS with and without the township CA, moving a device to
//! a new server address (`set-server`), references to records the device
//! does not hold, long texts from standard input or a file, and refused
//! writes whose record left the device's scope.

mod support;

use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use serde_json::{Value as Json, json};
use support::{ADMIN, GRID, Township, WORKER, command, fails, gridsync, handset, id, ok, ok_json};

/// The key file `init` makes next to `store` by default.
fn key_file(store: &Path) -> std::path::PathBuf {
    let mut name = store.as_os_str().to_owned();
    name.push(".key");
    name.into()
}

/// Runs the binary on `store` with `args` and `input` on its standard input.
fn with_stdin(store: &Path, args: &[&str], input: &[u8]) -> std::process::Output {
    let mut child = command(store, args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run gridsync");
    let mut stdin = child.stdin.take().expect("stdin");
    // The binary may refuse before reading it all: a closed pipe is fine.
    let _ = stdin.write_all(input);
    drop(stdin);
    child.wait_with_output().expect("gridsync output")
}

#[test]
fn enrollment_failures_speak_of_enrollment_and_what_to_do() {
    let mut township = Township::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let url = township.url();

    // A code the server never issued.
    let store = dir.path().join("a.db");
    let err = fails(&store, &["init", "--server", &url, "--code", "AAAAA-BBBBB-CCCCC-DDDDD"], 2);
    assert!(err.contains("enrollment failed: the server does not know this enrollment code"), "{err}");
    assert!(err.contains("ask the township for a new code") && err.contains("enrollment_invalid"), "{err}");
    assert!(!err.contains(" sync") && !err.contains("unsent"), "{err}");
    assert!(!store.exists() && !key_file(&store).exists(), "a failed enrollment left files");

    // A code that already enrolled a device.
    let code = township.code(WORKER);
    ok(&dir.path().join("first.db"), &["init", "--server", &url, "--code", &code]);
    let second = dir.path().join("second.db");
    ok(&second, &["init", "--server", &url]);
    let err = fails(&second, &["enroll", &code], 2);
    assert!(err.contains("enrollment failed: this enrollment code has already enrolled a device"), "{err}");
    assert!(err.contains("new code") && !err.contains(" sync"), "{err}");
    assert_eq!(ok_json(&second, &["status", "--json"])["enrolled"], false);

    // --ca is for https:// only: refused with an http:// URL, nothing made.
    let pem = dir.path().join("ca.pem");
    std::fs::write(&pem, "not used").expect("write");
    let third = dir.path().join("third.db");
    let err = fails(&third, &["init", "--server", &url, "--ca", pem.to_str().expect("utf-8")], 1);
    assert!(err.contains("--ca FILE is for an https:// server"), "{err}");
    assert!(!third.exists() && !key_file(&third).exists());
    let err = fails(&third, &["init", "--server", "10.1.2.3:8080"], 1);
    assert!(err.contains("--server") && err.contains("http://"), "{err}");

    // No server at the address: say so, and that the code is still good.
    township.stop();
    let err = fails(&second, &["enroll", "AAAAA-BBBBB-CCCCC-DDDDD"], 3);
    assert!(err.contains("enrollment failed: cannot reach the enrollment server"), "{err}");
    assert!(err.contains("check the server URL") && !err.contains(" sync"), "{err}");
}

/// Runs a command that must fail with `code`; returns its error line. (The
/// TLS verifier also logs its refusal on stderr, before the error.)
fn fails_logged(store: &Path, args: &[&str], code: i32) -> String {
    let out = gridsync(store, args);
    let stderr = String::from_utf8(out.stderr).expect("utf-8 errors");
    assert_eq!(out.status.code(), Some(code), "gridsync {args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "gridsync {args:?} printed to stdout on failure");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("gridsync: error: ")).collect();
    assert_eq!(errors.len(), 1, "one error line: {stderr}");
    errors[0].to_owned()
}

#[test]
fn https_without_the_township_ca_says_so_and_suggests_ca() {
    let township = Township::start_https();
    let dir = tempfile::tempdir().expect("temp dir");
    let url = township.url();
    assert!(url.starts_with("https://"), "{url}");
    let ca = township.ca().to_str().expect("utf-8").to_owned();

    let store = dir.path().join("li.db");
    let err = fails_logged(&store, &["init", "--server", &url, "--code", &township.code(WORKER)], 3);
    assert!(err.contains("the server's TLS certificate is not trusted"), "{err}");
    assert!(err.contains("not signed by a CA this device trusts") && err.contains("--ca FILE"), "{err}");
    assert!(!err.contains("later"), "retrying cannot help: {err}");
    assert!(!store.exists());

    // With the township CA the device enrolls and syncs.
    ok(&store, &["init", "--server", &url, "--ca", &ca, "--code", &township.code(WORKER)]);
    ok(&store, &["report", "all-safe"]);
    ok(&store, &["sync"]);

    // Trusting another CA: sync says the certificate is not trusted, not "later".
    let other = tempfile::tempdir().expect("temp dir");
    let files = gridsync_server::tls::write_self_signed(other.path(), &["127.0.0.1".to_owned()], 30, false)
        .expect("another CA");
    ok(&store, &["set-server", &url, "--ca", files.ca.to_str().expect("utf-8")]);
    ok(&store, &["patrol", "start"]);
    let err = fails_logged(&store, &["sync"], 3);
    assert!(err.contains("cannot sync: the server's TLS certificate is not trusted"), "{err}");
    assert!(err.contains("gridsync set-server URL --ca FILE") && err.contains("3 unsent changes"), "{err}");
    assert!(!err.contains("sync again later"), "{err}");
    // A CA pinned for https:// is never silently dropped for http://.
    let err = fails(&store, &["set-server", "http://127.0.0.1:9"], 1);
    assert!(err.contains("https://") && err.contains("nothing was changed"), "{err}");
    ok(&store, &["set-server", &url, "--ca", &ca]);
    let report = ok_json(&store, &["sync", "--json"]);
    assert_eq!(report["pushed"], 3, "{report}");
}

#[test]
fn set_server_moves_a_device_with_its_unsent_changes() {
    let mut township = Township::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let (li, device) = handset(&township, dir.path(), "li", WORKER);
    let dispute = id(&li, &["dispute", "new", "--category", "邻里纠纷", "--source", "patrol"]);
    ok(&li, &["sync"]);

    // Offline edits, then the township's server moves to another address.
    ok(&li, &["note", &dispute, "第二次调解"]);
    let patrol = id(&li, &["patrol", "start"]);
    let pending = ok_json(&li, &["status", "--json"])["pending"].as_u64().expect("pending");
    assert_eq!(pending, 1 + 3, "a note; a patrol's create, grid and start");
    let old = township.url();
    township.move_to_another_port();
    let err = fails(&li, &["sync"], 3);
    assert!(err.contains("the 4 unsent changes are kept"), "{err}");

    // Bad addresses change nothing.
    let err = fails(&li, &["set-server", "10.1.2.3:8080"], 1);
    assert!(err.starts_with("gridsync: error: URL: the server URL is not an absolute URL"), "{err}");
    let err = fails(&li, &["set-server", "ftp://10.1.2.3"], 1);
    assert!(err.contains("must start with http:// or https://"), "{err}");
    let pem = dir.path().join("ca.pem");
    std::fs::write(&pem, "not used").expect("write");
    let err = fails(&li, &["set-server", &township.url(), "--ca", pem.to_str().expect("utf-8")], 1);
    assert!(err.contains("--ca FILE is for an https:// server"), "{err}");
    assert_eq!(ok_json(&li, &["status", "--json"])["server_url"], old);

    let out = gridsync(&li, &["set-server", &township.url()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains(&township.url()));
    let status = ok_json(&li, &["status", "--json"]);
    assert_eq!(
        (&status["server_url"], &status["device"], &status["enrolled"], &status["pending"]),
        (&json!(township.url()), &json!(device), &json!(true), &json!(pending))
    );

    // The next sync goes to the new address with everything unsent.
    let report = ok_json(&li, &["sync", "--json"]);
    assert_eq!((&report["pushed"], &report["refused"]), (&json!(pending), &json!(0)), "{report}");
    assert_eq!(ok_json(&li, &["status", "--json"])["pending"], 0);
    let (wang, _) = handset(&township, dir.path(), "wang", ADMIN);
    ok(&wang, &["sync"]);
    let shown = ok_json(&wang, &["show", &dispute, "--json"]);
    let notes: Vec<&Json> = shown["entries"].as_array().expect("entries").iter().collect();
    assert_eq!(notes.len(), 1, "{shown}");
    assert_eq!(notes[0]["body"]["text"], "第二次调解");
    let patrol = ok_json(&li, &["show", &patrol, "--json"]);
    assert_eq!(patrol["fields"]["grid"], GRID);
    assert!(patrol["created"]["received_ms"].is_u64(), "the new server has the patrol: {patrol}");
}

#[test]
fn references_must_name_records_on_this_device() {
    let township = Township::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let (li, _) = handset(&township, dir.path(), "li", WORKER);
    let patrol = id(&li, &["patrol", "start"]);
    let before = ok_json(&li, &["status", "--json"])["pending"].clone();
    let nowhere = "0190f3a2-7b1c-7d4e-8f00-123456789abc";

    let err = fails(&li, &["patrol", "finding", &patrol, nowhere, "--note", "独居老人"], 1);
    assert!(err.contains(&format!("RECORD {nowhere}: no such record on this device")), "{err}");
    assert!(err.contains("nothing was written") && !err.contains("独居老人"), "{err}");
    let err = fails(&li, &["report", "items", "--item", &patrol, "--item", nowhere], 1);
    assert!(err.contains(&format!("--item {nowhere}: no such record on this device")), "{err}");
    assert_eq!(ok_json(&li, &["status", "--json"])["pending"], before, "nothing was written");
    assert_eq!(ok_json(&li, &["list", "--kind", "daily_report", "--json"]), json!([]));

    // Records that are there are taken.
    ok(&li, &["patrol", "finding", &patrol, &patrol]);
    id(&li, &["report", "items", "--item", &patrol]);
}

#[test]
fn long_texts_come_from_standard_input_or_a_file_up_to_20000_characters() {
    let township = Township::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let (li, _) = handset(&township, dir.path(), "li", WORKER);
    let dispute = id(&li, &["dispute", "new", "--category", "邻里纠纷", "--source", "patrol"]);

    let out = with_stdin(&li, &["note", &dispute, "-"], "双方到村委会调解，\n约定下周再谈\n".as_bytes());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let file = dir.path().join("note.txt");
    std::fs::write(&file, "调解记录".repeat(5_000)).expect("write");
    ok(&li, &["note", &dispute, "--text-file", file.to_str().expect("utf-8")]);
    let out = with_stdin(
        &li,
        &["dispute", "step", &dispute, "resolve", "--note", "-"],
        "双方达成协议\n".as_bytes(),
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary = dir.path().join("summary.txt");
    std::fs::write(&summary, "排水沟堵塞\n").expect("write");
    let patrol = id(&li, &["patrol", "start"]);
    ok(&li, &["patrol", "end", &patrol, "--summary-file", summary.to_str().expect("utf-8")]);

    let shown = ok_json(&li, &["show", &dispute, "--json"]);
    let texts: Vec<&str> = shown["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["entry"] == "note")
        .filter_map(|e| e["body"]["text"].as_str())
        .collect();
    assert_eq!(texts, ["双方到村委会调解，\n约定下周再谈", &"调解记录".repeat(5_000)]);
    assert_eq!(shown["lifecycle"]["steps"][0]["note"], "双方达成协议");
    assert_eq!(ok_json(&li, &["show", &patrol, "--json"])["fields"]["summary"], "排水沟堵塞");

    // One character more is refused, naming the argument and the limit; nothing is written.
    let pending = ok_json(&li, &["status", "--json"])["pending"].clone();
    std::fs::write(&file, "调".repeat(20_001)).expect("write");
    let err = fails(&li, &["note", &dispute, "--text-file", file.to_str().expect("utf-8")], 1);
    assert!(
        err.contains("--text-file") && err.contains("20,001 characters") && err.contains("at most 20,000"),
        "{err}"
    );
    assert!(!err.contains("调"), "{err}");
    let out = with_stdin(&li, &["report", "all-safe", "--note", "-"], "x".repeat(200_000).as_bytes());
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--note - (standard input)") && err.contains("longer than 20,000 characters"),
        "{err}"
    );
    let err = fails(&li, &["note", &dispute, "x", "--text-file", file.to_str().expect("utf-8")], 1);
    assert!(err.contains("--text-file"), "{err}");
    assert_eq!(ok_json(&li, &["status", "--json"])["pending"], pending);

    // The limit is in the help.
    let help = ok(&li, &["note", "--help"]);
    assert!(help.contains("20,000 characters") && help.contains("--text-file"), "{help}");
    let help = ok(&li, &["dispute", "step", "--help"]);
    assert!(help.contains("--note-file <FILE>") && help.contains("20,000"), "{help}");
}

#[test]
fn a_refused_edit_of_a_dispute_that_left_the_device_shows_what_was_refused() {
    let township = Township::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let (li, _) = handset(&township, dir.path(), "li", WORKER);
    let (wang, _) = handset(&township, dir.path(), "wang", ADMIN);
    let dispute = id(&li, &["dispute", "new", "--category", "邻里纠纷", "--source", "visit"]);
    ok(&li, &["sync"]);
    ok(&wang, &["sync"]);
    // The township escalates it to the village: it leaves the worker's scope.
    ok(&wang, &["dispute", "step", &dispute, "escalate", "--note", "网格调解未果"]);
    ok(&wang, &["sync"]);

    // Offline, the worker still edits it as its owner.
    ok(&li, &["set", &dispute, "summary=排水沟堵塞，已疏通一半", "risk:=2"]);
    let report = ok_json(&li, &["sync", "--json"]);
    assert_eq!((&report["refused"], &report["removed"]), (&json!(1), &json!(1)), "{report}");
    assert_eq!(ok_json(&li, &["list", "--kind", "dispute", "--json"]), json!([]));

    let refused = ok_json(&li, &["rejected", "--json"]);
    assert_eq!(refused.as_array().map(Vec::len), Some(1), "{refused}");
    assert_eq!(refused[0]["outcome"], "removed");
    assert_eq!(
        refused[0]["edits"],
        json!([
            {"op": "set", "field": "summary", "value": "排水沟堵塞，已疏通一半"},
            {"op": "set", "field": "risk", "value": 2},
        ])
    );
    let text = ok(&li, &["rejected"]);
    assert!(text.contains("   refused: summary = 排水沟堵塞，已疏通一半\n"), "{text}");
    assert!(text.contains("   refused: risk = 2\n"), "{text}");
    assert!(text.contains("the record left your scope and was removed from this device"), "{text}");
    assert!(!text.contains("rebuilt"), "{text}");
}
