//! Push ingestion through the service on a real SQLite store: a plan of
//! pushes and pulls by enrolled devices, each case on a fresh copy of a
//! town's store, checked against the log and the record states
//! ([`gridsync_server_core::fuzzing::push`]).
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

libfuzzer_sys::fuzz_target!(|data: &[u8]| BENCH.push(data));
