//! End-to-end tests of the `gridsync` binary against a temporary store,
//! without a server.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value as Json, json};

/// Runs the binary on `store` with `args`.
fn gridsync(store: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gridsync"))
        .arg("--store")
        .arg(store)
        .args(args)
        .env_remove("GRIDSYNC_STORE")
        .env_remove("GRIDSYNC_STORE_KEY")
        .env_remove("GRIDSYNC_LOG")
        .output()
        .expect("run gridsync")
}

/// The key file `init` makes next to `store` by default.
fn key_file(store: &Path) -> std::path::PathBuf {
    let mut name = store.as_os_str().to_owned();
    name.push(".key");
    name.into()
}

/// The store file and its WAL, if any.
fn store_bytes(store: &Path) -> Vec<u8> {
    let mut bytes = std::fs::read(store).expect("read the store");
    let mut wal = store.as_os_str().to_owned();
    wal.push("-wal");
    bytes.extend(std::fs::read(std::path::PathBuf::from(wal)).unwrap_or_default());
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Runs a command that must succeed; returns its stdout.
fn ok(store: &Path, args: &[&str]) -> String {
    let out = gridsync(store, args);
    assert!(
        out.status.success(),
        "gridsync {args:?} failed with {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Runs a command that must succeed and print JSON.
fn ok_json(store: &Path, args: &[&str]) -> Json {
    let stdout = ok(store, args);
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("gridsync {args:?} printed no JSON ({e}): {stdout}"))
}

/// Runs a command that must fail with `code`; returns its stderr.
fn fails(store: &Path, args: &[&str], code: i32) -> String {
    let out = gridsync(store, args);
    let stderr = String::from_utf8(out.stderr).expect("utf-8 errors");
    assert_eq!(out.status.code(), Some(code), "gridsync {args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "gridsync {args:?} printed to stdout on failure");
    assert!(stderr.starts_with("gridsync: error: "), "{stderr}");
    stderr
}

#[test]
fn records_are_kept_offline_and_survive_a_failed_sync() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("worker.db");
    let store = store.as_path();

    // Nothing works before init, and no file is created by trying.
    let err = fails(store, &["status"], 1);
    assert!(err.contains("init"), "{err}");
    assert!(!store.exists());

    let device = ok(store, &["init", "--server", "http://127.0.0.1:9", "--author", "张三"]);
    let device = device.trim_end();
    assert_eq!(device.len(), 36, "{device}");
    fails(store, &["init", "--server", "http://127.0.0.1:9"], 1);

    // new prints only the id.
    let created = ok(
        store,
        &[
            "new",
            "dispute",
            "--set",
            "category=邻里纠纷",
            "--set",
            "parties:=2",
            "--set",
            "gps:=[25.04, 102.7]",
        ],
    );
    assert_eq!(created.lines().count(), 1, "{created}");
    let id = created.trim_end();
    assert_eq!(id.len(), 36, "{id}");

    assert_eq!(ok(store, &["set", id, "status=found", "urgent:=true", "count=3"]), "");
    assert_eq!(ok(store, &["note", id, "双方到村委会调解"]), "");

    let view = ok_json(store, &["show", id, "--json"]);
    assert_eq!(view["id"], id);
    assert_eq!(view["kind"], "dispute");
    assert_eq!(view["created"]["device"], device);
    assert_eq!(view["created"]["author"], "张三");
    assert!(view["created"]["time_ms"].as_u64().is_some_and(|t| t > 1_600_000_000_000), "{view}");
    assert_eq!(
        view["fields"],
        json!({
            "category": "邻里纠纷",
            "parties": 2,
            "gps": [25.04, 102.7],
            "status": "found",
            "urgent": true,
            "count": "3",
        })
    );
    assert_eq!(view["conflicts"], json!([]));
    let entries = view["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["entry"], "note");
    assert_eq!(entries[0]["body"], json!({"text": "双方到村委会调解"}));
    assert_eq!(entries[0]["device"], device);
    assert_eq!(entries[0]["author"], "张三");

    let text = ok(store, &["show", id]);
    assert!(text.starts_with(&format!("dispute {id}\n")), "{text}");
    assert!(text.contains("  category  邻里纠纷\n"), "{text}");
    assert!(text.contains("text: 双方到村委会调解"), "{text}");

    // Lists filter by kind.
    let patrol = ok(store, &["new", "patrol"]);
    let patrol = patrol.trim_end();
    let disputes = ok_json(store, &["list", "--kind", "dispute", "--json"]);
    assert_eq!(disputes.as_array().map(Vec::len), Some(1), "{disputes}");
    assert_eq!(disputes[0]["id"], id);
    assert_eq!(disputes[0]["fields"]["category"], "邻里纠纷");
    let patrols = ok_json(store, &["list", "--kind", "patrol", "--json"]);
    assert_eq!(patrols.as_array().map(Vec::len), Some(1), "{patrols}");
    assert_eq!(patrols[0]["id"], patrol);
    assert_eq!(ok_json(store, &["list", "--json"]).as_array().map(Vec::len), Some(2));
    assert_eq!(ok_json(store, &["list", "--conflicted", "--json"]), json!([]));
    let lines = ok(store, &["list"]);
    assert_eq!(lines.lines().count(), 2, "{lines}");
    assert!(!lines.contains("CONFLICT"), "{lines}");

    // No conflicts on a single device; resolving one that is not there fails clearly.
    assert_eq!(ok_json(store, &["conflicts", "--json"]), json!([]));
    let err = fails(store, &["resolve", id, "status", "mediated"], 1);
    assert!(err.contains("field \"status\"") && err.contains("has no conflict"), "{err}");
    assert!(!err.contains("mediated"), "an error message shows record content: {err}");

    // Bad arguments are usage errors that do not echo the value.
    let err = fails(store, &["set", id, "secret:=[1,"], 1);
    assert!(err.contains("not valid JSON") && !err.contains("[1,"), "{err}");
    fails(store, &["set", id, "=x"], 1);
    fails(store, &["set", id, "no-separator"], 1);
    fails(store, &["new", "meeting"], 1);
    fails(store, &["show", "not-an-id"], 1);

    let before = ok_json(store, &["status", "--json"]);
    assert_eq!(before["device"], device);
    assert_eq!(before["server_url"], "http://127.0.0.1:9");
    assert_eq!(before["cursor"], 0);
    let pending = before["pending"].as_u64().expect("pending");
    assert!(pending >= 8, "{before}");

    // Not enrolled yet: sync says so, and the changes are kept.
    let err = fails(store, &["sync"], 1);
    assert!(err.contains("not enrolled"), "{err}");
    // Enrolling needs the server; it is unreachable: exit 3, the changes are kept,
    // nothing of the records is shown.
    let err = fails(store, &["enroll", "AAAAA-BBBBB-CCCCC-DDDDD"], 3);
    assert!(err.contains("sync again later") || err.contains("cannot sync"), "{err}");
    assert!(!err.contains("邻里纠纷") && !err.contains("双方"), "{err}");

    let after = ok_json(store, &["status", "--json"]);
    assert_eq!(after["pending"], pending, "{after}");
    assert_eq!(after["cursor"], 0);
    assert_eq!(ok_json(store, &["show", id, "--json"]), view);

    // The store file shows none of it: it is encrypted with the key file init made.
    let bytes = store_bytes(store);
    for text in ["张三", "邻里纠纷", "双方到村委会调解"] {
        assert!(!contains(&bytes, text), "{text} is readable in the store file");
    }
}

#[test]
fn the_store_key_comes_from_a_key_file_or_the_environment() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("w.db");
    let store = store.as_path();
    let default_key = key_file(store);

    // init makes a key file next to the store, readable by its owner only, and says so.
    let out = gridsync(store, &["init", "--server", "http://127.0.0.1:9"]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim_end().len(), 36);
    let notice = String::from_utf8_lossy(&out.stderr);
    assert!(notice.contains("created a new store key") && notice.contains(".key"), "{notice}");
    let hex = std::fs::read_to_string(&default_key).expect("key file");
    assert!(hex.trim_end().len() == 64 && hex.trim_end().bytes().all(|b| b.is_ascii_hexdigit()), "{hex:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&default_key).expect("metadata").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let id = ok(store, &["new", "visit", "--set", "name=张三丰"]);
    let id = id.trim_end();

    // Without the key file: exit 1, and the message says where a key can come from.
    let moved = dir.path().join("elsewhere.key");
    std::fs::rename(&default_key, &moved).expect("move the key");
    let err = fails(store, &["status"], 1);
    assert!(err.contains("--key-file") && err.contains("GRIDSYNC_STORE_KEY"), "{err}");
    assert!(!err.contains(hex.trim_end()), "{err}");

    // --key-file, before or after the command.
    let moved_arg = moved.to_str().expect("utf-8 path");
    assert_eq!(ok_json(store, &["--key-file", moved_arg, "show", id, "--json"])["fields"]["name"], "张三丰");
    ok(store, &["status", "--key-file", moved_arg]);

    // The environment, as 64 hexadecimal digits.
    let with_env = |key: &str, args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_gridsync"))
            .arg("--store")
            .arg(store)
            .args(args)
            .env("GRIDSYNC_STORE_KEY", key)
            .env_remove("GRIDSYNC_LOG")
            .output()
            .expect("run gridsync")
    };
    let out = with_env(hex.trim_end(), &["list", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // A wrong key is refused, never read as garbage; a malformed one is named, not echoed.
    let wrong = "00".repeat(32);
    let out = with_env(&wrong, &["list", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the store key does not match this store"), "{err}");
    assert!(out.stdout.is_empty());
    let out = with_env("not-a-key-3f2a", &["status"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("GRIDSYNC_STORE_KEY") && !err.contains("3f2a"), "{err}");
    // --key-file wins over the environment.
    let out = with_env(&wrong, &["--key-file", moved_arg, "status"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // A key file that holds no key.
    let bad = dir.path().join("bad.key");
    std::fs::write(&bad, "hello\n").expect("write");
    let err = fails(store, &["--key-file", bad.to_str().expect("utf-8"), "status"], 1);
    assert!(err.contains("does not hold a store key") && !err.contains("hello"), "{err}");

    // init with a given key makes no key file; a failed init leaves none behind.
    let other = dir.path().join("other.db");
    ok(&other, &["--key-file", moved_arg, "init", "--server", "http://127.0.0.1:9"]);
    assert!(!key_file(&other).exists());
    ok(&other, &["--key-file", moved_arg, "status"]);
    fails(&other, &["init", "--server", "http://127.0.0.1:9"], 1);
    assert!(!key_file(&other).exists(), "a failed init left a key file");
    fails(&dir.path().join("third.db"), &["init", "--server", "ftp://x"], 1);
    assert!(!key_file(&dir.path().join("third.db")).exists());
}

#[test]
fn the_store_comes_from_the_environment_too() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("env.db");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_gridsync"))
            .args(args)
            .env("GRIDSYNC_STORE", &store)
            .output()
            .expect("run gridsync")
    };
    assert!(run(&["init", "--server", "http://127.0.0.1:9"]).status.success());
    let status = run(&["status", "--json"]);
    assert!(status.status.success());
    let status: Json = serde_json::from_slice(&status.stdout).expect("status JSON");
    assert_eq!(status["pending"], 0);

    let missing = Command::new(env!("CARGO_BIN_EXE_gridsync"))
        .arg("status")
        .env_remove("GRIDSYNC_STORE")
        .output()
        .expect("run gridsync");
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("--store"));
}
