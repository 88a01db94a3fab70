//! The CSV importer of places and units on a real SQLite store: a file
//! imported by the operator or an administrator, each case on a fresh copy
//! of a town's store, all or nothing
//! ([`gridsync_server_core::fuzzing::import`]).
#![no_main]

use std::path::Path;
use std::sync::{Arc, LazyLock};

use gridsync_server_core::Storage;
use gridsync_server_core::fuzzing::{Bench, Opened};
use gridsync_server_sqlite::SqliteStorage;

fn open(dir: &Path) -> Opened {
    let (storage, writer) = SqliteStorage::open(dir).expect("the store opens");
    (Arc::new(storage) as Arc<dyn Storage>, Box::new(move || writer.join()))
}

static BENCH: LazyLock<Bench> = LazyLock::new(|| Bench::new(open));

libfuzzer_sys::fuzz_target!(|data: &[u8]| BENCH.import(data));
