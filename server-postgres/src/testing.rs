//! Test support (feature `testing`): a fresh, empty database per test on
//! the local PostgreSQL server, dropped afterwards.
//!
//! The server is named by `GRIDSYNC_TEST_PG` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); the user needs the right
//! to create databases. A
//! test that cannot reach it fails with a message saying how to start it:
//! tests never skip silently.

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};

use tokio_postgres::NoTls;

use crate::redacted;

/// The server the tests use when `GRIDSYNC_TEST_PG` is not set.
const DEFAULT_SERVER: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Databases made by this process so far (part of each name).
static MADE: AtomicU32 = AtomicU32::new(0);

/// A fresh database on the local server, named
/// `gridsync_test_<pid>_<counter>_<random>`, dropped (`WITH (FORCE)`:
/// connections still open are ended) when this is dropped. Creating and
/// dropping never block the caller's runtime: they run on a plain thread,
/// so a `TestDatabase` may be made and dropped inside async tests.
pub struct TestDatabase {
    /// The server's URL, to connect for `DROP DATABASE`.
    server: String,
    /// The database's name.
    name: String,
    /// The database's URL.
    url: String,
}

impl fmt::Debug for TestDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestDatabase").field("name", &self.name).field("url", &redacted(&self.url)).finish()
    }
}

impl TestDatabase {
    /// Creates the database.
    ///
    /// # Panics
    ///
    /// When the server cannot be reached or refuses to create a database,
    /// with a message saying how to start PostgreSQL.
    pub fn create() -> TestDatabase {
        let server = std::env::var("GRIDSYNC_TEST_PG").unwrap_or_else(|_| DEFAULT_SERVER.to_owned());
        match TestDatabase::create_on(&server) {
            Ok(database) => database,
            Err(e) => panic!(
                "{e}\n\
                 Start the local server with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` \
                 (it must accept user postgres on 127.0.0.1:5432 without a password), or set GRIDSYNC_TEST_PG \
                 to the URL of a server where the user may create databases."
            ),
        }
    }

    /// Creates a fresh database on `server` (a URL of a database there the
    /// user can connect to, with the right to create databases), e.g. for a
    /// benchmark. The error names the server with its password masked.
    pub fn create_on(server: &str) -> Result<TestDatabase, String> {
        let random = std::collections::hash_map::RandomState::new().build_hasher().finish() as u32;
        let counter = MADE.fetch_add(1, Ordering::Relaxed);
        let name = format!("gridsync_test_{}_{counter}_{random:08x}", std::process::id());
        let url = with_database(server, &name);
        let statement = format!("CREATE DATABASE {name}");
        on_server(server, &statement).map_err(|e| {
            format!("cannot create a test database on PostgreSQL at {}: {e}", redacted(server))
        })?;
        Ok(TestDatabase { server: server.to_owned(), name, url })
    }

    /// The database's URL, for [`PostgresStorage::connect`](crate::PostgresStorage::connect).
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let statement = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        if let Err(e) = on_server(&self.server, &statement) {
            eprintln!("cannot drop the test database {}: {e}", self.name);
        }
    }
}

/// Runs one statement on `server`, from a plain thread with a runtime of
/// its own (so that it may be called inside an async context).
fn on_server(server: &str, statement: &str) -> Result<(), String> {
    let (server, statement) = (server.to_owned(), statement.to_owned());
    let work = std::thread::spawn(move || -> Result<(), String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("no runtime: {e}"))?;
        runtime.block_on(async {
            let mut config = tokio_postgres::Config::from_str(&server).map_err(|e| e.to_string())?;
            if config.get_connect_timeout().is_none() {
                config.connect_timeout(std::time::Duration::from_secs(10));
            }
            let (client, connection) = config.connect(NoTls).await.map_err(|e| describe(&e))?;
            let driver = tokio::spawn(connection);
            let done = client.batch_execute(&statement).await.map_err(|e| describe(&e));
            drop(client);
            let _ = driver.await;
            done
        })
    });
    work.join().unwrap_or_else(|_| Err("the thread running the statement panicked".into()))
}

/// A driver error with its cause (the server's message for a database error).
fn describe(e: &tokio_postgres::Error) -> String {
    match (e.as_db_error(), std::error::Error::source(e)) {
        (Some(db), _) => format!("{} ({})", db.message(), db.code().code()),
        (None, Some(cause)) => format!("{e}: {cause}"),
        (None, None) => e.to_string(),
    }
}

/// `server`'s connection string naming database `name` instead.
fn with_database(server: &str, name: &str) -> String {
    let Some(scheme_end) = server.find("://") else {
        return format!("{server} dbname={name}");
    };
    let start = scheme_end + 3;
    let rest = &server[start..];
    let query = rest.find('?').unwrap_or(rest.len());
    let path = rest[..query].find('/').unwrap_or(query);
    format!("{}{}/{name}{}", &server[..start], &rest[..path], &rest[query..])
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_name_replaces_the_servers() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(
            with_database("postgres://u:p@db?sslmode=disable", "t1"),
            "postgres://u:p@db/t1?sslmode=disable"
        );
        assert_eq!(
            with_database("host=/run/postgresql user=postgres", "t1"),
            "host=/run/postgresql user=postgres dbname=t1"
        );
    }
}
