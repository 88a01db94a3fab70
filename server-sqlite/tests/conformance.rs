//! The storage conformance suite of `gridsync-server-core`, run against
//! the SQLite backend: one test per case, each on a fresh database.

use std::sync::Arc;

use gridsync_server_core::Storage;
use gridsync_server_core::conformance::{Fresh, Keep};
use gridsync_server_sqlite::SqliteStorage;

async fn fresh() -> Fresh {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (storage, writer) = SqliteStorage::open(dir.path()).expect("a fresh database opens");
    (Arc::new(storage) as Arc<dyn Storage>, Box::new((writer, dir)) as Keep)
}

gridsync_server_core::conformance_suite!(fresh);
