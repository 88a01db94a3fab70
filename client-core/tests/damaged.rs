//! A damaged store: found on open or by a later statement, it refuses
//! writes and syncs with `Error::Damaged` but still answers what it can
//! read; `doctor::repair` salvages its identity and whole write groups
//! into a fresh store, keeps the damaged file aside, and can be finished
//! after an interruption. The stores are real files, damaged the way a
//! failing flash chip damages them: whole pages overwritten with garbage
//! while the store is closed, the file header left intact.

mod support;

use std::path::{Path, PathBuf};

use gridsync_client_core::{Error, RecordFilter, Request, Store, StoreKey, Transport, Visit, doctor};
use gridsync_proto::{Date, RecordState};
use support::enrolled_store;

/// A transport that must never be used: a damaged store sends nothing.
struct Unreachable;

impl Transport for Unreachable {
    fn send(&self, request: Request) -> Result<Vec<u8>, Error> {
        panic!("a damaged store sent {}", request.path)
    }
}

/// Changes per [`visit`]: the create and six fields.
const VISIT_CHANGES: u64 = 7;
/// Changes of an all-safe daily report (the create and four fields).
const REPORT_CHANGES: u64 = 5;

fn visit(store: &mut Store, n: u64) -> gridsync_proto::RecordId {
    store
        .record_visit(&Visit {
            grid: None,
            household: None,
            address: Some(format!("东关村 {n} 号")),
            visited_ms: 1_796_000_000_000 + n,
            person_category: "general".into(),
            purpose: "routine".into(),
            result: Some(format!("走访记录 {n}：家中一切正常，无需跟进。")),
            follow_up_due: None,
            gps: None,
        })
        .expect("visit")
}

/// A closed store with `visits` visits and then a daily report, all
/// unsent: its device id, records and unsent changes.
fn store_with_work(path: &Path, key: &StoreKey, visits: u64) -> (String, Vec<RecordState>, u64) {
    let mut store = enrolled_store(path, "网格员 李", key);
    for n in 0..visits {
        visit(&mut store, n);
    }
    assert_eq!(store.pending().expect("pending"), visits * VISIT_CHANGES);
    store.file_all_safe(day()).expect("daily report");
    assert_eq!(store.pending().expect("pending"), visits * VISIT_CHANGES + REPORT_CHANGES);
    let states = store.list(&RecordFilter::default()).expect("list");
    (store.device_id().to_string(), states, store.pending().expect("pending"))
}

fn day() -> Date {
    "2026-12-01".parse().expect("date")
}

/// The pages of `table`'s b-tree in the closed store at `path`: (page
/// number, whether it is a leaf), from SQLite's `dbstat`.
fn pages(path: &Path, table: &str) -> Vec<(u64, bool)> {
    let conn = rusqlite::Connection::open(path).expect("open");
    let mut stmt = conn
        .prepare("SELECT pageno, pagetype = 'leaf' FROM dbstat WHERE name = ?1 ORDER BY pageno")
        .expect("dbstat");
    stmt.query_map([table], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)))
        .expect("pages")
        .collect::<Result<_, _>>()
        .expect("pages")
}

/// Overwrites page `page` (1-based, never the header's page 1) of the
/// closed store at `path` with garbage.
fn smash(path: &Path, page: u64) {
    use std::io::{Seek, SeekFrom, Write};
    assert!(page > 1, "the file header stays intact");
    assert!(!with_suffix(path, "-wal").exists(), "the store is closed and its WAL folded in");
    let size = 4096;
    let mut garbage = vec![0u8; size];
    let mut x: u32 = 0x9e37_79b9 ^ page as u32;
    for b in &mut garbage {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = x as u8;
    }
    let mut file = std::fs::OpenOptions::new().write(true).open(path).expect("open the file");
    file.seek(SeekFrom::Start((page - 1) * size as u64)).expect("seek");
    file.write_all(&garbage).expect("write garbage");
    file.sync_all().expect("sync");
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

#[test]
fn a_damaged_store_refuses_writes_and_doctor_salvages_identity_and_outbox() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("worker.db");
    let key = StoreKey::generate().expect("key");
    let (device, states, pending) = store_with_work(&path, &key, 150);
    assert!(doctor::check(&path, &key).expect("check"), "a sound store checks sound");
    let size = std::fs::metadata(&path).expect("size").len();

    // The root of the records table is destroyed: no record can be read.
    let records = pages(&path, "records");
    assert!(records.len() > 2, "the records span several pages: {records:?}");
    smash(&path, records[0].0);

    let mut store = Store::open(&path, &key).expect("a damaged store still opens");
    assert!(store.is_damaged());
    assert_eq!(store.device_id().to_string(), device, "the identity is readable");
    assert_eq!(store.pending().expect("the outbox is readable"), pending);
    assert!(matches!(store.list(&RecordFilter::default()), Err(Error::Damaged)));
    for refused in [
        store.file_all_safe("2026-12-02".parse().expect("date")).map(drop),
        store
            .record_visit(&Visit {
                grid: None,
                household: None,
                address: Some("东关村 1 号".into()),
                visited_ms: 1,
                person_category: "general".into(),
                purpose: "routine".into(),
                result: None,
                follow_up_due: None,
                gps: None,
            })
            .map(drop),
        store.sync(&Unreachable).map(drop),
        store.pin_ca(b"not even a certificate"),
    ] {
        let err = refused.expect_err("a damaged store refuses");
        assert!(matches!(err, Error::Damaged), "{err}");
        assert!(err.to_string().contains("gridsync doctor"), "the error says what to do: {err}");
    }
    assert_eq!(store.pending().expect("pending"), pending, "nothing was queued");
    drop(store);
    assert!(!doctor::check(&path, &key).expect("check"));

    // A wrong key repairs nothing and changes nothing.
    let other = StoreKey::generate().expect("key");
    assert!(matches!(doctor::repair(&path, &other), Err(Error::WrongKey)));
    assert!(!with_suffix(&path, ".damaged-1").exists());

    let report = doctor::repair(&path, &key).expect("repair");
    assert!(report.repaired && !report.resumed);
    assert_eq!(report.device_id, device);
    assert!(report.enrollment && report.profile && !report.pinned_ca);
    assert_eq!((report.unsent_changes, report.lost_changes), (pending, 0));
    assert_eq!(report.unsent_groups, states.len() as u64, "one write group per record here");
    assert_eq!(report.records_kept, states.len() as u64, "every record was written here, unsent");
    assert_eq!(report.records_found, 0, "the records table is unreadable");
    let aside = report.damaged_file.clone().expect("kept aside");
    assert_eq!(aside, with_suffix(&path, ".damaged-1"));
    assert_eq!(std::fs::metadata(&aside).expect("the damaged file is kept").len(), size);
    assert!(!with_suffix(&path, ".salvaged").exists() && !with_suffix(&path, ".salvage").exists());

    // The fresh store: sound, the same device, enrolled, every unsent
    // change queued and every record readable again.
    assert!(doctor::check(&path, &key).expect("check"));
    let mut store = Store::open(&path, &key).expect("open the repaired store");
    assert!(!store.is_damaged() && store.is_restoring());
    assert_eq!(store.device_id().to_string(), device);
    assert!(store.is_enrolled());
    assert_eq!(store.author(), "网格员 李");
    assert_eq!((store.pending().expect("pending"), store.cursor()), (pending, 0));
    assert_eq!(store.list(&RecordFilter::default()).expect("list"), states);

    // It writes again; but not a record under a fixed id it does not hold
    // before its records are pulled again.
    visit(&mut store, 1_000);
    store.file_all_safe(day()).expect("today's report is held: it can be edited");
    let err = store.file_all_safe("2026-12-02".parse().expect("date")).expect_err("not held");
    assert!(matches!(err, Error::Restoring), "{err}");
    drop(store);

    // A sound store is left as it is.
    let again = doctor::repair(&path, &key).expect("repair a sound store");
    assert!(!again.repaired && again.damaged_file.is_none());
    assert!(!with_suffix(&path, ".damaged-2").exists());
}

#[test]
fn a_store_that_loses_outbox_pages_keeps_its_whole_write_groups() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("worker.db");
    let key = StoreKey::generate().expect("key");
    let (_, states, pending) = store_with_work(&path, &key, 300);
    let leaves: Vec<u64> = pages(&path, "outbox").into_iter().filter(|p| p.1).map(|p| p.0).collect();
    assert!(leaves.len() > 4, "{leaves:?}");
    smash(&path, leaves[leaves.len() / 2]);

    let store = Store::open(&path, &key).expect("open");
    assert!(store.is_damaged());
    drop(store);
    let report = doctor::repair(&path, &key).expect("repair");
    assert!(report.unsent_changes > 0 && report.unsent_changes < pending, "{report:?}");
    // Only whole groups survive: visits, and the report written last.
    let visits = report.unsent_groups - 1;
    assert_eq!(report.unsent_changes, visits * VISIT_CHANGES + REPORT_CHANGES, "{report:?}");
    assert!(report.lost_changes > 0, "the group cut by the lost page is counted: {report:?}");
    assert_eq!(report.records_kept, report.unsent_groups, "the records of the whole groups are kept");
    assert_eq!(report.records_found, states.len() as u64, "the records table is intact");

    let store = Store::open(&path, &key).expect("open");
    assert_eq!(store.pending().expect("pending"), report.unsent_changes);
    let kept = store.list(&RecordFilter::default()).expect("list");
    assert_eq!(kept.len() as u64, report.records_kept);
    assert!(kept.iter().all(|k| states.contains(k)), "a kept record is exactly as it was");
}

#[test]
fn damage_found_by_a_later_statement_switches_the_store_to_refusing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("worker.db");
    let key = StoreKey::generate().expect("key");
    let (_, _, pending) = store_with_work(&path, &key, 150);
    let root = pages(&path, "records")[0].0;
    let mut store = Store::open(&path, &key).expect("open");
    assert!(!store.is_damaged());
    // The flash fails under the open store, on a page it has not read yet.
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut file = std::fs::OpenOptions::new().write(true).open(&path).expect("open the file");
        file.seek(SeekFrom::Start((root - 1) * 4096)).expect("seek");
        file.write_all(&[0xa5; 4096]).expect("garbage");
    }
    assert!(matches!(store.list(&RecordFilter::default()), Err(Error::Damaged)));
    assert!(store.is_damaged(), "the statement that found it switched the store");
    assert!(matches!(store.file_all_safe("2026-12-03".parse().expect("date")), Err(Error::Damaged)));
    assert!(matches!(store.sync(&Unreachable), Err(Error::Damaged)));
    assert_eq!(store.pending().expect("the outbox is still readable"), pending);
}

#[test]
fn a_repair_interrupted_before_its_swap_is_finished_by_the_next() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("worker.db");
    let key = StoreKey::generate().expect("key");
    let (device, _, pending) = store_with_work(&path, &key, 40);
    smash(&path, pages(&path, "records")[0].0);
    let first = doctor::repair(&path, &key).expect("repair");

    // As if the battery died after the fresh store was ready (step 2) and
    // the damaged store's files were only half moved aside.
    let aside = first.damaged_file.clone().expect("aside");
    std::fs::rename(&path, with_suffix(&path, ".salvaged")).expect("undo step 4");
    std::fs::rename(&aside, &path).expect("undo step 3");
    assert!(doctor::interrupted(&path));
    assert!(matches!(Store::open(&path, &key), Err(Error::Damaged)), "the damaged store is not used");

    let finished = doctor::repair(&path, &key).expect("finish the repair");
    assert!(finished.resumed && finished.repaired);
    assert_eq!(finished.damaged_file.as_deref(), Some(aside.as_path()), "the same place aside");
    assert_eq!((finished.unsent_changes, finished.lost_changes), (first.unsent_changes, first.lost_changes));
    assert!(!doctor::interrupted(&path));
    let store = Store::open(&path, &key).expect("open");
    assert_eq!(store.device_id().to_string(), device);
    assert_eq!(store.pending().expect("pending"), pending);
}
