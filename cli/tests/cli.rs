//! End-to-end tests of the `gridsync` binary: the store, its key, plain
//! records and sync, against a real township server on a loopback port.

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::{Value as Json, json};
use support::{GRID, Township, WORKER, fails, gridsync, handset, id, ok, ok_json};

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

#[test]
fn records_are_checked_kept_offline_and_survive_a_failed_sync() {
    let mut township = Township::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("worker.db");
    let store = store.as_path();

    // Nothing works before init, and no file is created by trying.
    let err = fails(store, &["status"], 1);
    assert!(err.contains("init"), "{err}");
    assert!(!store.exists());

    let code = township.code(WORKER);
    let out = gridsync(store, &["init", "--server", &township.url(), "--code", &code]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let device = String::from_utf8(out.stdout).expect("utf-8");
    let device = device.trim_end();
    assert_eq!(device.len(), 36, "{device}");
    let notice = String::from_utf8_lossy(&out.stderr);
    assert!(notice.contains("enrolled as li (worker, scope 530102001-01)"), "{notice}");
    fails(store, &["init", "--server", &township.url()], 1);

    // `new` writes exactly the fields given, and the record rules check them:
    // a refusal is one line naming the code and the field, never the values.
    let err = fails(store, &["new", "dispute", "--set", "category=邻里纠纷"], 1);
    assert!(err.contains("refused by the record rules: missing_field (field registered_at)"), "{err}");
    assert!(!err.contains("邻里纠纷"), "{err}");
    let parties = r#"parties:=[{"name":"张三","role":"applicant"}]"#;
    let place = format!("place={GRID}");
    let registered = format!("registered_at={GRID}");
    let dispute = [
        "new",
        "dispute",
        "--set",
        &registered,
        "--set",
        &place,
        "--set",
        "source=patrol",
        "--set",
        "category=邻里纠纷",
        "--set",
        "risk:=2",
        "--set",
        parties,
    ];
    let id = id(store, &dispute);
    assert_eq!(id.len(), 36, "{id}");

    assert_eq!(ok(store, &["set", &id, "summary=排水沟堵塞", "risk:=3"]), "");
    assert_eq!(ok(store, &["note", &id, "双方到村委会调解"]), "");
    let err = fails(store, &["set", &id, "risk:=9"], 1);
    assert!(err.contains("invalid_field (field risk)") && err.contains("1 to 4"), "{err}");
    let err = fails(store, &["set", &id, "status=秘密"], 1);
    assert!(err.contains("unknown_field (field status)") && err.contains("step"), "{err}");
    assert!(!err.contains("秘密"), "{err}");

    let view = ok_json(store, &["show", &id, "--json"]);
    assert_eq!(view["id"], id.as_str());
    assert_eq!(view["kind"], "dispute");
    assert_eq!(view["created"]["device"], device);
    assert_eq!(view["created"]["author"], WORKER);
    assert_eq!(view["created"]["received_ms"], Json::Null, "not synced yet");
    assert_eq!(view["created"]["clock_suspect"], false);
    assert!(view["created"]["time_ms"].as_u64().is_some_and(|t| t > 1_600_000_000_000), "{view}");
    assert_eq!(
        view["fields"],
        json!({
            "registered_at": GRID,
            "place": GRID,
            "source": "patrol",
            "category": "邻里纠纷",
            "risk": 3,
            "parties": [{"name": "张三", "role": "applicant"}],
            "summary": "排水沟堵塞",
        })
    );
    assert_eq!(view["conflicts"], json!([]));
    let entries = view["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["entry"], "note");
    assert_eq!(entries[0]["body"], json!({"text": "双方到村委会调解"}));
    assert_eq!(entries[0]["device"], device);
    assert_eq!(entries[0]["author"], WORKER);
    assert_eq!(
        view["lifecycle"],
        json!({"stage": "found", "owner": GRID, "handler": null, "cooperating": [], "flagged": false,
               "unacknowledged": [], "steps": []})
    );

    let text = ok(store, &["show", &id]);
    assert!(text.starts_with(&format!("dispute {id}\n")), "{text}");
    assert!(text.contains("  category       邻里纠纷\n"), "{text}");
    assert!(text.contains("text: 双方到村委会调解"), "{text}");
    assert!(text.contains(&format!("lifecycle: found, owner {GRID} (0 steps;")), "{text}");

    // Lists filter by kind.
    let patrol = support::id(store, &["patrol", "start"]);
    let disputes = ok_json(store, &["list", "--kind", "dispute", "--json"]);
    assert_eq!(disputes.as_array().map(Vec::len), Some(1), "{disputes}");
    assert_eq!(disputes[0]["id"], id.as_str());
    assert_eq!(disputes[0]["lifecycle"]["stage"], "found");
    let patrols = ok_json(store, &["list", "--kind", "patrol", "--json"]);
    assert_eq!(patrols.as_array().map(Vec::len), Some(1), "{patrols}");
    assert_eq!(patrols[0]["id"], patrol.as_str());
    assert_eq!(patrols[0]["fields"]["grid"], GRID);
    assert!(patrols[0].get("lifecycle").is_none(), "only disputes have a lifecycle: {patrols}");
    assert_eq!(ok_json(store, &["list", "--json"]).as_array().map(Vec::len), Some(2));
    assert_eq!(ok_json(store, &["list", "--conflicted", "--json"]), json!([]));
    let lines = ok(store, &["list"]);
    assert_eq!(lines.lines().count(), 2, "{lines}");
    assert!(lines.contains("[found]") && !lines.contains("CONFLICT"), "{lines}");

    // No conflicts on a single device; resolving one that is not there fails clearly.
    assert_eq!(ok_json(store, &["conflicts", "--json"]), json!([]));
    let err = fails(store, &["resolve", &id, "summary", "已调解"], 1);
    assert!(err.contains("field \"summary\"") && err.contains("has no conflict"), "{err}");
    assert!(!err.contains("已调解"), "an error message shows record content: {err}");

    // Bad arguments are usage errors that do not echo the value.
    let err = fails(store, &["set", &id, "secret:=[1,"], 1);
    assert!(err.contains("not valid JSON") && !err.contains("[1,"), "{err}");
    fails(store, &["set", &id, "=x"], 1);
    fails(store, &["set", &id, "no-separator"], 1);
    fails(store, &["new", "meeting"], 1);
    fails(store, &["show", "not-an-id"], 1);

    let before = ok_json(store, &["status", "--json"]);
    assert_eq!(before["device"], device);
    assert_eq!(before["server_url"], township.url());
    assert_eq!(before["enrolled"], true);
    assert_eq!(
        (&before["user"], &before["role"], &before["place"]),
        (&json!(WORKER), &json!("worker"), &json!(GRID))
    );
    assert_eq!(
        (&before["refused"], &before["withheld"], &before["cursor"]),
        (&json!(0), &json!(0), &json!(0))
    );
    let pending = before["pending"].as_u64().expect("pending");
    assert_eq!(pending, 7 + 2 + 1 + 3, "dispute create + 6 fields, set 2, note; patrol create + 2 fields");

    // A sync hands everything over; the server's receipt shows in the view.
    let report = ok_json(store, &["sync", "--json"]);
    assert_eq!((&report["pushed"], &report["refused"]), (&json!(pending), &json!(0)), "{report}");
    let status = ok_json(store, &["status", "--json"]);
    assert_eq!(status["pending"], 0);
    assert!(status["cursor"].as_u64().is_some_and(|c| c > 0), "{status}");
    let synced = ok_json(store, &["show", &id, "--json"]);
    assert!(synced["created"]["received_ms"].as_u64().is_some_and(|t| t > 1_600_000_000_000), "{synced}");
    assert!(synced["entries"][0]["received_ms"].is_u64(), "{synced}");

    // Offline: the server is gone. Writes are kept; the sync exits 3 and
    // shows nothing of the records.
    township.stop();
    ok(store, &["note", &id, "第二次调解，双方同意"]);
    ok(store, &["patrol", "end", &patrol, "--summary", "巡查完毕"]);
    let pending = ok_json(store, &["status", "--json"])["pending"].clone();
    assert_eq!(pending, 3, "one note, ended_ms and summary");
    let err = fails(store, &["sync"], 3);
    assert!(err.contains("the 3 unsent changes are kept on this device, sync again later"), "{err}");
    assert!(!err.contains("邻里纠纷") && !err.contains("双方"), "{err}");
    let err = fails(store, &["enroll", "AAAAA-BBBBB-CCCCC-DDDDD"], 3);
    assert!(err.contains("enrollment failed: cannot reach the enrollment server"), "{err}");

    let after = ok_json(store, &["status", "--json"]);
    assert_eq!(after["pending"], pending, "{after}");
    assert_eq!(ok_json(store, &["show", &id, "--json"])["entries"].as_array().map(Vec::len), Some(2));

    // The store file shows none of it: it is encrypted with the key file init made.
    let bytes = store_bytes(store);
    for text in ["邻里纠纷", "双方到村委会调解", "张三", "巡查完毕"] {
        assert!(!contains(&bytes, text), "{text} is readable in the store file");
    }
}

#[test]
fn the_store_key_comes_from_a_key_file_or_the_environment() {
    let township = Township::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("w.db");
    let store = store.as_path();
    let default_key = key_file(store);

    // init makes a key file next to the store, readable by its owner only, and says so.
    let code = township.code(WORKER);
    let out = gridsync(store, &["init", "--server", &township.url(), "--code", &code]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
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
    let id = id(store, &["household", "new", "--category", "household", "--set", "door_plate=东关村3号"]);

    // Without the key file: exit 1, and the message says where a key can come from.
    let moved = dir.path().join("elsewhere.key");
    std::fs::rename(&default_key, &moved).expect("move the key");
    let err = fails(store, &["status"], 1);
    assert!(err.contains("--key-file") && err.contains("GRIDSYNC_STORE_KEY"), "{err}");
    assert!(!err.contains(hex.trim_end()), "{err}");

    // --key-file, before or after the command.
    let moved_arg = moved.to_str().expect("utf-8 path");
    let shown = ok_json(store, &["--key-file", moved_arg, "show", &id, "--json"]);
    assert_eq!(shown["fields"]["door_plate"], "东关村3号");
    assert_eq!(shown["fields"]["grid"], GRID, "the worker's own grid");
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
    ok(&other, &["--key-file", moved_arg, "init", "--server", &township.url()]);
    assert!(!key_file(&other).exists());
    ok(&other, &["--key-file", moved_arg, "status"]);
    fails(&other, &["init", "--server", &township.url()], 1);
    assert!(!key_file(&other).exists(), "a failed init left a key file");
    fails(&dir.path().join("third.db"), &["init", "--server", "ftp://x"], 1);
    assert!(!key_file(&dir.path().join("third.db")).exists());
    // An enrollment code the server does not know: nothing is left behind.
    let fourth = dir.path().join("fourth.db");
    let err = fails(&fourth, &["init", "--server", &township.url(), "--code", "AAAAA-BBBBB-CCCCC-DDDDD"], 2);
    assert!(err.contains("enrollment_invalid"), "{err}");
    assert!(!fourth.exists() && !key_file(&fourth).exists(), "a failed enrollment left files");
}

#[test]
fn the_store_comes_from_the_environment_and_writes_need_enrollment() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("env.db");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_gridsync"))
            .args(args)
            .env("GRIDSYNC_STORE", &store)
            .env_remove("GRIDSYNC_STORE_KEY")
            .output()
            .expect("run gridsync")
    };
    assert!(run(&["init", "--server", "http://127.0.0.1:9"]).status.success());
    let status = run(&["status", "--json"]);
    assert!(status.status.success());
    let status: Json = serde_json::from_slice(&status.stdout).expect("status JSON");
    assert_eq!(
        (&status["pending"], &status["enrolled"], &status["role"]),
        (&json!(0), &json!(false), &Json::Null)
    );

    // Not enrolled: no write and no sync, and nothing is queued.
    for args in [&["patrol", "start"][..], &["report", "all-safe"], &["sync"]] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("not enrolled"), "{args:?}");
    }
    // Enrolling needs the server; it is unreachable: exit 3.
    assert_eq!(run(&["enroll", "AAAAA-BBBBB-CCCCC-DDDDD"]).status.code(), Some(3));

    let missing = Command::new(env!("CARGO_BIN_EXE_gridsync"))
        .arg("status")
        .env_remove("GRIDSYNC_STORE")
        .output()
        .expect("run gridsync");
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("--store"));
}

#[test]
fn a_device_revoked_with_a_wipe_order_erases_its_store() {
    let township = Township::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, device) = handset(&township, dir.path(), "lost", WORKER);
    ok(&store, &["report", "all-safe"]);
    ok(&store, &["sync"]);
    township.revoke(&device, true);
    // (The store's own warning is logged first.)
    let out = gridsync(&store, &["sync"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(out.stdout.is_empty());
    assert!(
        err.contains("gridsync: error: this device was revoked and its local data has been erased"),
        "{err}"
    );
    assert!(!store.exists() && !key_file(&store).exists(), "the store and its key are gone");
}
