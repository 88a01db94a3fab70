//! `gridsync-server migrate-data --from DIR --to postgres://…`: moves an
//! embedded deployment (SQLite in a data directory) to an empty PostgreSQL
//! database, everything included, so that handsets carry on against the new
//! server without downloading anything again
//! ([ADR 0013](../../docs/adr/0013-postgresql-backend.md)).
//!
//! ```text
//! data directory ──(exclusive lock, one read transaction)──▶ rows, table by table
//!        │                                                        │ COPY … (FORMAT binary)
//!        │                                                        ▼
//!        │                       PostgreSQL: one transaction, tables locked, empty checked;
//!        │                       identity sequences set past the copied positions; commit
//!        └──────── source counts, audit chain ──────▶ verify: counts equal, the chain
//!                                                     verifies through the service
//! ```
//!
//! * **The source** is opened so that nothing else can use it while it is
//!   read: the migration takes SQLite's exclusive lock on the database file
//!   (`locking_mode = EXCLUSIVE`, the connection set `query_only`). A server
//!   or an operator command that has the data directory open holds a shared
//!   lock on it, so the migration is refused while one runs; one that starts
//!   during the migration waits, then fails. Everything is read in one
//!   transaction, a single consistent state.
//! * **The target** must be empty: a table that holds rows (other than the
//!   counters a fresh schema starts with, `meta`) refuses the migration before
//!   anything is written. Its schema is created (or upgraded) by
//!   [`PostgresStorage::connect`], then every table is copied in one
//!   transaction that first locks them, so a server started early on the
//!   same database cannot write in between. Columns are matched by name and
//!   converted by the target's types (SQLite's 0/1 flags become booleans);
//!   the log positions (`changes.seq`), pull cursors (`pull_tokens.token`),
//!   device keys and audit rows keep their values byte for byte. The
//!   identity sequences are then set past the largest position copied (and
//!   past SQLite's `AUTOINCREMENT` counter, which may be higher), so the
//!   next change or cursor continues the numbering.
//! * **Verification** after the commit: every table's row count on the
//!   target equals the source's, the log's high-water position is the same,
//!   and the audit chain verifies on PostgreSQL through
//!   [`Service::verify_audit`], with the same row count and head hash as the
//!   source's chain.
//!
//! The [`MigrationReport`] holds table names, counts, positions and the
//! chain's head hash, never a row's content. Errors never quote the target
//! URL's password.

mod source;
mod target;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use gridsync_server_core::Service;
use gridsync_server_core::audit::Verdict;
use gridsync_server_core::service::{Caller, ServiceSettings};
use gridsync_server_postgres::{PgOptions, PostgresStorage};

use source::Source;
use target::Target;

/// What a migration moved.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MigrationReport {
    /// Rows moved, by table (every table of the embedded database).
    pub tables: BTreeMap<String, u64>,
    /// Rows moved in all.
    pub rows: u64,
    /// The change log's high-water position (the largest `changes.seq`),
    /// the same on both sides: the cursors devices hold stay valid.
    pub log_high_water: u64,
    /// Rows in the audit chain.
    pub audit_rows: u64,
    /// Whether the audit chain verified on PostgreSQL, with the same rows
    /// and head as in the data directory.
    pub audit_verified: bool,
    /// The audit chain's head hash (hex; empty for an empty chain): keep it
    /// to show later that no row was cut off the end.
    pub audit_head: String,
    /// How long the migration took, verification included (milliseconds).
    pub elapsed_ms: u64,
}

impl fmt::Display for MigrationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.elapsed_ms as f64 / 1000.0;
        writeln!(f, "moved {} rows in {} tables in {secs:.1} s:", self.rows, self.tables.len())?;
        let width = self.tables.keys().map(String::len).max().unwrap_or(0);
        for (table, rows) in &self.tables {
            writeln!(f, "  {table:<width$}  {rows:>10}")?;
        }
        writeln!(f, "change log high-water position: {}", self.log_high_water)?;
        if self.audit_verified {
            write!(
                f,
                "audit chain: {} rows, verified on PostgreSQL, head {}",
                self.audit_rows, self.audit_head
            )
        } else {
            write!(
                f,
                "audit chain: {} rows, BROKEN in the data directory already and moved as it was \
                 (run `audit verify` on the new database to see where)",
                self.audit_rows
            )
        }
    }
}

/// Moves an embedded deployment (data directory `from`) to an EMPTY
/// PostgreSQL database `to` (a `postgres://` URL or a key=value connection
/// string), everything included, and verifies the result.
///
/// Refuses while a server (or an operator command) uses the data directory,
/// and when the target already holds data; in both cases nothing is
/// written. The copy is one PostgreSQL transaction: a failure leaves the
/// target as it was (its schema created). Errors never contain the URL's
/// password.
pub fn migrate_data(from: &Path, to: &str) -> anyhow::Result<MigrationReport> {
    let secrets = secrets_of(to);
    migrate(from, to).map_err(|e| scrub(e, &secrets))
}

fn migrate(from: &Path, to: &str) -> anyhow::Result<MigrationReport> {
    let started = Instant::now();
    let where_to = gridsync_server_postgres::redacted(to);
    let source = Source::open(from)?;
    let plan = source.plan()?;
    let source_chain = source.audit_chain()?;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start a runtime for the migration")?;
    let storage = PostgresStorage::connect(to, PgOptions::default())
        .with_context(|| format!("cannot open the PostgreSQL database {where_to}"))?;
    let mut target = runtime
        .block_on(Target::connect(to))
        .with_context(|| format!("cannot connect to the PostgreSQL database {where_to}"))?;
    let copied = runtime
        .block_on(target.copy(&source, &plan))
        .with_context(|| format!("cannot migrate into {where_to}; nothing was committed there"))?;

    let counted = runtime
        .block_on(target.count(&plan))
        .with_context(|| format!("the migration was committed, but {where_to} cannot be counted"))?;
    for table in &plan.tables {
        let found = counted.get(&table.name).copied().unwrap_or(0);
        if found != table.rows {
            bail!(
                "the migration was committed, but {where_to} holds {found} rows in {} where the data \
                 directory holds {}: drop and re-create the database, then migrate again",
                table.name,
                table.rows
            );
        }
    }
    if copied.log_high_water != plan.log_high_water {
        bail!(
            "the migration was committed, but the change log ends at {} on PostgreSQL and at {} in the \
             data directory: drop and re-create the database, then migrate again",
            copied.log_high_water,
            plan.log_high_water
        );
    }

    let service = Service::new(Arc::new(storage), ServiceSettings::default());
    let verdict = runtime.block_on(service.verify_audit(&Caller::Operator)).map_err(|e| {
        anyhow::anyhow!("the migration was committed, but the audit chain cannot be read: {e}")
    })?;
    if verdict != source_chain {
        bail!(
            "the migration was committed, but the audit chain on PostgreSQL ({}) differs from the data \
             directory's ({}): drop and re-create the database, then migrate again",
            describe(&verdict),
            describe(&source_chain)
        );
    }
    let (audit_rows, audit_verified, audit_head) = match verdict {
        Verdict::Intact { rows, head } => (rows, true, head),
        Verdict::Broken { .. } => (plan.count("audit"), false, String::new()),
    };
    let tables: BTreeMap<String, u64> = plan.tables.iter().map(|t| (t.name.clone(), t.rows)).collect();
    Ok(MigrationReport {
        rows: tables.values().sum(),
        tables,
        log_high_water: plan.log_high_water,
        audit_rows,
        audit_verified,
        audit_head,
        elapsed_ms: started.elapsed().as_millis() as u64,
    })
}

/// `name` as an SQL identifier, for SQLite and PostgreSQL alike.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A verdict in words, without content.
fn describe(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Intact { rows, .. } => format!("{rows} rows, intact"),
        Verdict::Broken { seq, reason } => format!("broken at row {seq}: {reason}"),
    }
}

/// The password of a connection string, as written and as decoded (a URL
/// may percent-encode it), to be masked wherever an error might quote it.
fn secrets_of(url: &str) -> Vec<String> {
    let mut secrets = Vec::new();
    if let Ok(config) = url.parse::<tokio_postgres::Config>()
        && let Some(password) = config.get_password()
    {
        secrets.push(String::from_utf8_lossy(password).into_owned());
    }
    // `scheme://user:password@host…`: the part after the colon, as written.
    let written = url
        .split_once("://")
        .and_then(|(_, rest)| rest.rsplit_once('@'))
        .and_then(|(userinfo, _)| userinfo.split_once(':'))
        .map(|(_, password)| password.to_owned());
    secrets.extend(written);
    secrets.retain(|s| !s.is_empty());
    secrets.dedup();
    secrets
}

/// `e` with every occurrence of a secret masked (the chain flattened into
/// one message, which is how it would be printed).
fn scrub(e: anyhow::Error, secrets: &[String]) -> anyhow::Error {
    let text = format!("{e:#}");
    if !secrets.iter().any(|s| text.contains(s.as_str())) {
        return e;
    }
    let masked = secrets.iter().fold(text, |text, secret| text.replace(secret.as_str(), "***"));
    anyhow::anyhow!("{masked}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_found_and_masked() {
        assert_eq!(secrets_of("postgres://gs:s3cret@db.example:5432/gridsync"), ["s3cret"]);
        assert_eq!(secrets_of("postgres://gs:s3%40cret@db/gridsync"), ["s3@cret", "s3%40cret"]);
        assert_eq!(secrets_of("host=db user=gs password=s3cret"), ["s3cret"]);
        assert!(secrets_of("postgres://gs@db/gridsync").is_empty());
        let e = anyhow::anyhow!("cannot reach postgres://gs:s3cret@db/x").context("migrating");
        let masked = format!("{:#}", scrub(e, &secrets_of("postgres://gs:s3cret@db/x")));
        assert!(!masked.contains("s3cret") && masked.contains("migrating"), "{masked}");
    }

    #[test]
    fn the_summary_is_short_and_names_no_content() {
        let report = MigrationReport {
            tables: [("audit".to_owned(), 3), ("changes".to_owned(), 1200)].into_iter().collect(),
            rows: 1203,
            log_high_water: 1200,
            audit_rows: 3,
            audit_verified: true,
            audit_head: "ab".repeat(32),
            elapsed_ms: 1_500,
        };
        let text = report.to_string();
        assert!(text.starts_with("moved 1203 rows in 2 tables in 1.5 s"), "{text}");
        assert!(text.contains("high-water position: 1200") && text.contains("verified"), "{text}");
        assert_eq!(text.lines().count(), 5);
    }
}
