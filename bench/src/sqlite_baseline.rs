//! (a) The physical limit: inserting the rows of the server's change log
//! straight into SQLite, with nothing else in the way.
//!
//! The database is opened by the server's own code
//! ([`gridsync_sql_support::open`] with [`gridsync_server_sqlite::SCHEMA`]), so
//! the `changes` table, its index, the WAL journal and `synchronous = FULL`
//! are exactly the server's. The rows are the ones the server stores for the
//! same changes (the keys of the record and of the device and author
//! (schema v7, ADR 0024), counter, receive time, the change as the log
//! stores it (`gridsync_proto::change::log_body`, without its author),
//! clock flag and offset), encoded and
//! keyed before the clock starts, and they go in with the server's `INSERT`
//! statement, one `BEGIN IMMEDIATE … COMMIT` per group of pushes. No
//! lookup, no merge, no rule check, no record state, no access index, no
//! HTTP: this is the ceiling the server can approach.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, ensure};
use gridsync_proto::PushRequest;
use rusqlite::{TransactionBehavior, params};

/// The server's insert into its change log (`server-sqlite/src/tx/sync_log.rs`).
const INSERT: &str =
    "INSERT INTO changes (record, origin, counter, received_ms, body, clock_suspect, clock_offset_ms)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

/// One change-log row, ready to insert.
#[derive(Debug)]
pub(crate) struct Row {
    /// The record's key, numbered in order of first appearance as the
    /// server numbers them.
    record: i64,
    /// The key of the device and author, numbered the same way.
    origin: i64,
    counter: i64,
    body: Vec<u8>,
}

/// What the baseline measured.
#[derive(Debug)]
pub(crate) struct Report {
    /// Rows inserted.
    pub(crate) rows: u64,
    /// Transactions committed.
    pub(crate) transactions: u64,
    /// Wall time of all inserts and commits.
    pub(crate) elapsed: Duration,
}

impl Report {
    /// Rows per second.
    pub(crate) fn rate(&self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64()
    }
}

/// The rows of every push, one batch per push, interleaved across devices
/// (page 1 of every device, then page 2, …) as concurrent devices reach the
/// server.
pub(crate) fn batches(pushes: &[Vec<PushRequest>]) -> Vec<Vec<Row>> {
    let pages = pushes.iter().map(Vec::len).max().unwrap_or(0);
    let mut keys = Keys::default();
    let mut out = Vec::new();
    for page in 0..pages {
        for device in pushes {
            if let Some(push) = device.get(page) {
                out.push(push.changes().map(|c| keys.row(c)).collect());
            }
        }
    }
    out
}

/// The keys the server's log gives records and origins (device and
/// author), handed out in order of first appearance.
#[derive(Default)]
struct Keys {
    records: HashMap<gridsync_proto::RecordId, i64>,
    origins: HashMap<(gridsync_proto::ActorId, String), i64>,
}

impl Keys {
    /// The row the server stores for `change`: its keys, and its body
    /// without the author (format 3).
    fn row(&mut self, change: &gridsync_proto::Change) -> Row {
        use gridsync_proto::change::log_body;
        let next = self.records.len() as i64 + 1;
        let record = *self.records.entry(change.record).or_insert(next);
        let next = self.origins.len() as i64 + 1;
        let origin = *self.origins.entry((change.dot.actor, change.author.clone())).or_insert(next);
        let whole = log_body::encode(change);
        let body = log_body::split_author(&whole).map_or(whole.clone(), |(_, bare)| bare);
        Row { record, origin, counter: change.dot.counter as i64, body }
    }
}

/// Inserts `batches` into a fresh server database in `dir`, committing once
/// every `per_transaction` batches.
pub(crate) fn run(dir: &Path, batches: &[Vec<Row>], per_transaction: usize) -> anyhow::Result<Report> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join("baseline.db");
    let mut conn = gridsync_sql_support::open(&path, &gridsync_server_sqlite::SCHEMA)
        .with_context(|| format!("cannot create {}", path.display()))?;
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
    let sync: i64 = conn.query_row("PRAGMA synchronous", [], |r| r.get(0))?;
    ensure!(mode == "wal" && sync == 2, "baseline must run with WAL + synchronous=FULL, got {mode}/{sync}");

    let mut rows = 0u64;
    let mut transactions = 0u64;
    let start = Instant::now();
    for group in batches.chunks(per_transaction.max(1)) {
        let now = now_ms();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut insert = tx.prepare_cached(INSERT)?;
            for r in group.iter().flatten() {
                insert.execute(params![r.record, r.origin, r.counter, now, r.body, false, 0i64])?;
                rows += 1;
            }
        }
        tx.commit()?;
        transactions += 1;
    }
    let elapsed = start.elapsed();

    let stored: i64 = conn.query_row("SELECT count(*) FROM changes", [], |r| r.get(0))?;
    ensure!(stored as u64 == rows, "baseline stored {stored} rows, expected {rows}");
    Ok(Report { rows, transactions, elapsed })
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Latency of one small durable write on the disk under `dir`: `samples`
/// times, 4 KiB appended to a file and `fdatasync`ed. Returns the sorted
/// latencies. This is the cost a commit cannot avoid.
pub(crate) fn fsync_probe(dir: &Path, samples: usize) -> anyhow::Result<Vec<Duration>> {
    use std::io::Write;
    let path = dir.join("fsync-probe");
    let mut file = std::fs::File::create(&path)?;
    let block = [0x5au8; 4096];
    let mut out = Vec::with_capacity(samples);
    for _ in 0..samples {
        let start = Instant::now();
        file.write_all(&block)?;
        file.sync_data()?;
        out.push(start.elapsed());
    }
    drop(file);
    std::fs::remove_file(&path)?;
    out.sort_unstable();
    Ok(out)
}
