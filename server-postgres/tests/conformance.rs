//! The storage conformance suite of `gridsync-server-core`, run against
//! the PostgreSQL backend: one test per case, each on a fresh database of
//! the local server (`GRIDSYNC_TEST_PG`), dropped when the case ends.

use std::sync::Arc;

use gridsync_server_core::Storage;
use gridsync_server_core::conformance::{Fresh, Keep};
use gridsync_server_postgres::testing::TestDatabase;
use gridsync_server_postgres::{PgOptions, PostgresStorage};

async fn fresh() -> Fresh {
    let db = TestDatabase::create();
    let storage = PostgresStorage::connect(db.url(), PgOptions::default()).expect("a fresh database opens");
    (Arc::new(storage) as Arc<dyn Storage>, Box::new(db) as Keep)
}

gridsync_server_core::conformance_suite!(fresh);
