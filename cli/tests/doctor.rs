//! `gridsync doctor` end to end: a store whose file is damaged refuses
//! writes and syncs with exit code 5 and a message naming `doctor`;
//! `doctor` salvages its identity and unsent changes, keeps the damaged
//! file aside, and the next `sync` sends the unsent changes and brings
//! every record back from the township server.

mod support;

use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use support::{Township, WORKER, fails, handset, id, ok, ok_json};

/// Overwrites the root page of the records table of the closed store with
/// garbage, leaving the file header intact.
fn smash_records(store: &Path) {
    let conn = rusqlite::Connection::open(store).expect("open");
    let root: i64 = conn
        .query_row("SELECT rootpage FROM sqlite_master WHERE name = 'records'", [], |r| r.get(0))
        .expect("root page");
    drop(conn);
    assert!(root > 1 && !with_suffix(store, "-wal").exists());
    let mut file = std::fs::OpenOptions::new().write(true).open(store).expect("open the file");
    file.seek(SeekFrom::Start((root as u64 - 1) * 4096)).expect("seek");
    file.write_all(&[0x5a; 4096]).expect("garbage");
    file.sync_all().expect("sync");
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn visit(store: &Path, n: u32) -> String {
    let address = format!("东关村 {n} 号");
    id(store, &["visit", "--category", "general", "--purpose", "routine", "--address", &address])
}

#[test]
fn doctor_repairs_a_damaged_store_and_the_next_sync_loses_nothing() {
    let township = Township::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, device) = handset(&township, dir.path(), "li", WORKER);
    let store = store.as_path();

    // Sent and acknowledged, then written offline.
    let mut sent: Vec<String> = (0..12).map(|n| visit(store, n)).collect();
    sent.push(id(store, &["report", "all-safe", "--date", "2026-12-01"]));
    ok(store, &["sync"]);
    let unsent: Vec<String> = (12..16).map(|n| visit(store, n)).collect();
    let pending = ok_json(store, &["status", "--json"])["pending"].as_u64().expect("pending");
    assert!(pending > 0);
    assert_eq!(ok(store, &["doctor"]), "the store is sound: nothing to repair\n");

    smash_records(store);
    let err = fails(store, &["report", "all-safe", "--date", "2026-12-02"], 5);
    assert!(err.contains("damaged") && err.contains("gridsync doctor"), "{err}");
    let err = fails(store, &["sync"], 5);
    assert!(err.contains("gridsync doctor"), "{err}");

    let report = ok_json(store, &["doctor", "--json"]);
    assert_eq!(report["repaired"], true, "{report}");
    assert_eq!(report["device_id"], device.as_str());
    assert_eq!(report["enrollment"], true);
    assert_eq!(report["unsent_changes"].as_u64(), Some(pending), "{report}");
    assert_eq!(report["unsent_groups"].as_u64(), Some(unsent.len() as u64));
    assert_eq!(report["lost_changes"], 0);
    let aside = report["damaged_file"].as_str().expect("aside");
    assert_eq!(aside, with_suffix(store, ".damaged-1").to_str().expect("utf-8"));
    assert!(Path::new(aside).exists(), "the damaged file is kept");

    // The repaired store syncs: the unsent changes go first, every record comes back.
    let synced = ok_json(store, &["sync", "--json"]);
    assert_eq!(synced["pushed"].as_u64(), Some(pending), "{synced}");
    let listed = ok(store, &["list", "--json"]);
    for id in sent.iter().chain(&unsent) {
        assert!(listed.contains(id.as_str()), "record {id} is back");
    }
    let status = ok_json(store, &["status", "--json"]);
    assert_eq!((status["pending"].as_u64(), status["device"].as_str()), (Some(0), Some(device.as_str())));
    id(store, &["report", "all-safe", "--date", "2026-12-02"]);
    ok(store, &["sync"]);
    assert_eq!(ok(store, &["doctor"]), "the store is sound: nothing to repair\n");
}
