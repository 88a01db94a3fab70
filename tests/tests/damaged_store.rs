//! A handset store damaged on the phone (issue 14, item 5), end to end: the
//! damaged store refuses writes and syncs, `doctor::repair` salvages the
//! device's identity and unsent changes into a fresh store, and the
//! repaired device pushes what it had not sent, then pulls every record
//! again: nothing acknowledged and nothing unsent is lost, even when the
//! first sync after the repair dies half-way.

use std::collections::BTreeSet;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use gridsync_client_core::{Error, RecordFilter, Store, StoreKey, Visit, doctor};
use gridsync_proto::{Date, RecordId, Role};
use gridsync_server_core::clock::now_ms;
use gridsync_tests::{DiesAfter, Handset, Kind, TestServer, people};

gridsync_tests::matrix![a_damaged_store_is_repaired_and_loses_nothing_acknowledged_or_unsent];

/// Changes per [`visit`]: the create and six fields.
const VISIT_CHANGES: u64 = 7;

fn visit(store: &mut Store, n: u32) -> anyhow::Result<RecordId> {
    Ok(store.record_visit(&Visit {
        grid: None,
        household: None,
        address: Some(format!("东关村 {n} 号")),
        visited_ms: now_ms(),
        person_category: "general".into(),
        purpose: "routine".into(),
        result: Some("家中一切正常".into()),
        follow_up_due: None,
        gps: None,
    })?)
}

fn ids(store: &Store) -> anyhow::Result<BTreeSet<RecordId>> {
    Ok(store.list(&RecordFilter::default())?.iter().map(|r| r.id()).collect())
}

fn day(text: &str) -> Date {
    text.parse().expect("a date")
}

/// Overwrites the root page of the records table of the closed store at
/// `path` with garbage (the file header stays intact).
fn smash_records(path: &Path) -> anyhow::Result<()> {
    let root: i64 = {
        let conn = rusqlite::Connection::open(path)?;
        conn.query_row("SELECT rootpage FROM sqlite_master WHERE name = 'records'", [], |r| r.get(0))?
    };
    anyhow::ensure!(root > 1 && !with_suffix(path, "-wal").exists(), "the store is closed, the header kept");
    let mut file = std::fs::OpenOptions::new().write(true).open(path)?;
    file.seek(SeekFrom::Start((root as u64 - 1) * 4096))?;
    file.write_all(&[0x5a; 4096])?;
    file.sync_all()?;
    Ok(())
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn a_damaged_store_is_repaired_and_loses_nothing_acknowledged_or_unsent(kind: Kind) -> anyhow::Result<()> {
    let server = TestServer::start(kind)?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("worker.db");
    let key = StoreKey::generate()?;
    people::ensure_user(&server, "网格员 李", Role::Worker, people::GRID_A, None)?;
    let mut store = Store::init(&path, &server.url(), "device", &key)?;
    store.enroll(&server.transport(), &people::code_for(&server, "网格员 李")?)?;
    let mut peer = Handset::new(&server, "网格员 王")?;

    // Acknowledged: 30 visits and a report on the server; the peer's records too.
    for n in 0..30 {
        visit(&mut store, n)?;
    }
    store.file_all_safe(day("2026-12-01"))?;
    store.sync(&server.transport())?;
    for n in 100..105 {
        visit(&mut peer.store, n)?;
    }
    peer.sync(&server)?;
    store.sync(&server.transport())?;
    let acknowledged = server.inspect()?.change_count()?;
    // Unsent: 8 more visits and today's report, written offline.
    for n in 30..38 {
        visit(&mut store, n)?;
    }
    store.file_all_safe(day("2026-12-02"))?;
    let unsent = store.pending()?;
    assert_eq!(unsent, 8 * VISIT_CHANGES + 5);
    let everything = ids(&store)?;
    assert_eq!(everything.len(), 31 + 5 + 9);
    let device = store.device_id();
    drop(store);

    // The flash fails: the records can no longer be read.
    smash_records(&path)?;
    let mut store = Store::open(&path, &key)?;
    assert!(store.is_damaged());
    let refused = store.file_all_safe(day("2026-12-03")).expect_err("a damaged store takes no write");
    assert!(
        matches!(refused, Error::Damaged) && refused.to_string().contains("gridsync doctor"),
        "{refused}"
    );
    assert!(matches!(store.sync(&server.transport()), Err(Error::Damaged)));
    assert_eq!(store.pending()?, unsent, "the unsent changes are still there, and readable");
    assert_eq!(server.inspect()?.change_count()?, acknowledged, "a damaged store sends nothing");
    drop(store);

    let report = doctor::repair(&path, &key)?;
    assert!(report.repaired && report.enrollment && report.profile, "{report:?}");
    assert_eq!((report.unsent_changes, report.lost_changes), (unsent, 0), "{report:?}");
    assert_eq!(report.records_kept, 9, "the records with unsent changes: {report:?}");
    assert!(report.damaged_file.as_deref().is_some_and(Path::exists), "the damaged file is kept aside");

    // The first sync after the repair dies after its push: the unsent
    // changes are on the server, the records not back yet.
    let mut store = Store::open(&path, &key)?;
    assert_eq!((store.device_id(), store.cursor(), store.pending()?), (device, 0, unsent));
    assert!(store.is_restoring());
    let dying = DiesAfter::new(server.transport(), "/v1/sync/pull", 1);
    assert!(store.sync(&dying).is_err(), "the pull's answer was lost");
    assert_eq!(store.pending()?, 0, "the salvaged outbox went first");
    assert_eq!(server.inspect()?.change_count()?, acknowledged + unsent, "every unsent change arrived");
    assert!(store.is_restoring());
    let refused = store.file_all_safe(day("2026-11-30")).expect_err("not held yet");
    assert!(matches!(refused, Error::Restoring), "{refused}");

    // The next sync pulls every record back.
    let report = store.sync(&server.transport())?;
    assert!(report.snapshots > 0, "{report:?}");
    assert!(!store.is_restoring() && store.cursor() > 0);
    assert_eq!(ids(&store)?, everything, "every record is back");
    assert_eq!(server.inspect()?.change_count()?, acknowledged + unsent, "nothing doubled");
    peer.sync(&server)?;
    assert_eq!(ids(&peer.store)?, everything, "the peer holds exactly the same records");
    for id in &everything {
        assert_eq!(store.get(*id)?, peer.store.get(*id)?, "record {id} is identical on both");
    }

    // The repaired device works on as before.
    let id = store.file_all_safe(day("2026-12-03"))?;
    store.sync(&server.transport())?;
    assert!(server.inspect()?.record(id)?.is_some());
    Ok(())
}
