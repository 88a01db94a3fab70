//! The tamper-evident audit log.
//!
//! Enrollments, revocations, logins, admin actions, exports and refused
//! requests are appended to the `audit` table in the same transaction as the
//! action itself. Each row stores the SHA-256 of the previous row's hash and
//! its own content, so editing, inserting or deleting a row in the middle
//! breaks the chain at that row, and [`verify`] names it. Triggers refuse
//! `UPDATE` and `DELETE` outright; the chain catches whoever drops them.
//!
//! Rows never hold personal data beyond staff account names and device ids:
//! no record content, no passwords, codes or tokens.

use ring::digest;
use rusqlite::{Connection, OptionalExtension, params};

/// One audited event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Who: `user:NAME`, `device:ID`, `cli`, or `anonymous`.
    pub actor: String,
    /// What, e.g. `device.enroll`, `user.add`, `login`.
    pub action: &'static str,
    /// On what, e.g. a user name or device id.
    pub target: String,
    /// `ok`, or the refusal's error code.
    pub outcome: String,
    /// Extra facts (never record content, secrets or codes).
    pub detail: String,
}

impl Event {
    /// An event with an empty detail.
    pub fn new(
        actor: impl Into<String>,
        action: &'static str,
        target: impl Into<String>,
        outcome: impl Into<String>,
    ) -> Self {
        Self {
            actor: actor.into(),
            action,
            target: target.into(),
            outcome: outcome.into(),
            detail: String::new(),
        }
    }

    /// Adds a detail.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }
}

const GENESIS: [u8; 32] = [0; 32];

fn row_hash(prev: &[u8], seq: i64, time_ms: i64, e: &StoredRow) -> Vec<u8> {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(prev);
    ctx.update(&seq.to_be_bytes());
    ctx.update(&time_ms.to_be_bytes());
    for part in [&e.actor, &e.action, &e.target, &e.outcome, &e.detail] {
        ctx.update(&(part.len() as u64).to_be_bytes());
        ctx.update(part.as_bytes());
    }
    ctx.finish().as_ref().to_vec()
}

struct StoredRow {
    actor: String,
    action: String,
    target: String,
    outcome: String,
    detail: String,
}

/// Appends an event. Call inside the transaction of the action it records.
pub fn append(conn: &Connection, time_ms: u64, event: &Event) -> rusqlite::Result<()> {
    let last: Option<(i64, Vec<u8>)> = conn
        .prepare_cached("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let (seq, prev) = match last {
        Some((seq, hash)) => (seq + 1, hash),
        None => (1, GENESIS.to_vec()),
    };
    let row = StoredRow {
        actor: event.actor.clone(),
        action: event.action.to_owned(),
        target: event.target.clone(),
        outcome: event.outcome.clone(),
        detail: event.detail.clone(),
    };
    let hash = row_hash(&prev, seq, time_ms as i64, &row);
    conn.prepare_cached(
        "INSERT INTO audit (seq, time_ms, actor, action, target, outcome, detail, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        seq,
        time_ms as i64,
        row.actor,
        row.action,
        row.target,
        row.outcome,
        row.detail,
        prev,
        hash
    ])?;
    Ok(())
}

/// The result of checking the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every link holds.
    Intact {
        /// Rows checked.
        rows: u64,
        /// Hash of the last row (hex); keep it elsewhere to detect truncation.
        head: String,
    },
    /// The first row whose link does not hold.
    Broken {
        /// Its sequence number.
        seq: i64,
        /// What is wrong.
        reason: &'static str,
    },
}

/// Walks the whole chain from the first row.
pub fn verify(conn: &Connection) -> rusqlite::Result<Verdict> {
    let mut stmt = conn.prepare(
        "SELECT seq, time_ms, actor, action, target, outcome, detail, prev_hash, hash FROM audit ORDER BY seq",
    )?;
    let mut rows = stmt.query([])?;
    let mut prev = GENESIS.to_vec();
    let mut expected_seq = 1i64;
    let mut count = 0u64;
    while let Some(r) = rows.next()? {
        let seq: i64 = r.get(0)?;
        if seq != expected_seq {
            return Ok(Verdict::Broken { seq, reason: "a row is missing before this one" });
        }
        let stored_prev: Vec<u8> = r.get(7)?;
        if stored_prev != prev {
            return Ok(Verdict::Broken { seq, reason: "its link to the previous row does not match" });
        }
        let row = StoredRow {
            actor: r.get(2)?,
            action: r.get(3)?,
            target: r.get(4)?,
            outcome: r.get(5)?,
            detail: r.get(6)?,
        };
        let hash: Vec<u8> = r.get(8)?;
        if row_hash(&prev, seq, r.get(1)?, &row) != hash {
            return Ok(Verdict::Broken { seq, reason: "its content was changed" });
        }
        prev = hash;
        expected_seq += 1;
        count += 1;
    }
    Ok(Verdict::Intact { rows: count, head: gridsync_proto::auth::hex(&prev) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().expect("tempdir");
        let conn = gridsync_sql_support::open(&dir.path().join("a.db"), &crate::db::SCHEMA).expect("open");
        (dir, conn)
    }

    fn fill(conn: &Connection, n: u64) {
        for i in 0..n {
            append(conn, 1_000 + i, &Event::new("cli", "user.add", format!("u{i}"), "ok")).expect("append");
        }
    }

    #[test]
    fn an_untouched_chain_verifies() {
        let (_dir, conn) = db();
        assert_eq!(verify(&conn).expect("verify"), Verdict::Intact { rows: 0, head: hex0() });
        fill(&conn, 5);
        assert!(matches!(verify(&conn).expect("verify"), Verdict::Intact { rows: 5, .. }));
    }

    fn hex0() -> String {
        "0".repeat(64)
    }

    #[test]
    fn updates_and_deletes_are_refused() {
        let (_dir, conn) = db();
        fill(&conn, 2);
        assert!(conn.execute("UPDATE audit SET target = 'x' WHERE seq = 1", []).is_err());
        assert!(conn.execute("DELETE FROM audit WHERE seq = 1", []).is_err());
    }

    #[test]
    fn an_edited_row_is_named() {
        let (_dir, conn) = db();
        fill(&conn, 5);
        conn.execute_batch(
            "DROP TRIGGER audit_no_update; UPDATE audit SET outcome = 'refused' WHERE seq = 3;",
        )
        .expect("tamper");
        assert_eq!(
            verify(&conn).expect("verify"),
            Verdict::Broken { seq: 3, reason: "its content was changed" }
        );
    }

    #[test]
    fn a_deleted_or_forged_row_is_named() {
        let (_dir, conn) = db();
        fill(&conn, 5);
        conn.execute_batch("DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq = 2;").expect("tamper");
        assert!(matches!(verify(&conn).expect("verify"), Verdict::Broken { seq: 3, .. }));
        // Re-inserting a forged row 2 does not mend the chain.
        conn.execute(
            "INSERT INTO audit VALUES (2, 1001, 'cli', 'user.add', 'u1', 'ok', '', zeroblob(32), zeroblob(32))",
            [],
        )
        .expect("forge");
        assert!(matches!(verify(&conn).expect("verify"), Verdict::Broken { seq: 2, .. }));
    }
}
