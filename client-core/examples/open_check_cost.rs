//! What the self-check on open costs: builds a handset store of 10,000
//! records of 1.3 KB (sealed patrol and dispute states are 1.1–1.5 KB)
//! and times `PRAGMA quick_check` and the whole `Store::open` (which runs
//! it), five times each, warm. The figure is in `docs/SECURITY.md`.
//!
//! ```text
//! cargo run -p gridsync-client-core --example open_check_cost   # --release for a release build
//! ```

use std::time::{Duration, Instant};

use gridsync_client_core::{Store, StoreKey};

const RECORDS: u32 = 10_000;
const STATE_BYTES: usize = 1_300;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("handset.db");
    let key = StoreKey::generate()?;
    drop(Store::init(&path, "http://127.0.0.1:1", "device", &key)?);
    let mut conn = rusqlite::Connection::open(&path)?;
    let tx = conn.transaction()?;
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for n in 0..RECORDS {
        let state: Vec<u8> = (0..STATE_BYTES)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let id = uuid::Uuid::from_u128(u128::from(n) << 64 | u128::from(x)).into_bytes();
        tx.execute(
            "INSERT INTO records (id, kind, state, conflicted) VALUES (?1, ?2, ?3, 0)",
            rusqlite::params![&id[..], n % 5, state],
        )?;
    }
    tx.commit()?;
    drop(conn);
    let size = std::fs::metadata(&path)?.len();
    println!("store: {RECORDS} records, {:.1} MB", size as f64 / 1e6);

    let median = |mut runs: Vec<Duration>| {
        runs.sort();
        runs[runs.len() / 2]
    };
    let mut check = Vec::new();
    let mut open = Vec::new();
    for _ in 0..5 {
        let conn = rusqlite::Connection::open(&path)?;
        let started = Instant::now();
        let ok: String = conn.query_row("PRAGMA quick_check(1)", [], |r| r.get(0))?;
        check.push(started.elapsed());
        assert_eq!(ok, "ok");
        drop(conn);
        let started = Instant::now();
        let store = Store::open(&path, &key)?;
        open.push(started.elapsed());
        drop(store);
    }
    println!("PRAGMA quick_check: median {:?} of 5", median(check));
    println!("Store::open (check included): median {:?} of 5", median(open));
    Ok(())
}
