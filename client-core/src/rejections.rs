//! What the server said of this device's changes: the groups it refused
//! (kept, visible, until the user dismisses them) and when it received the
//! ones it accepted.

use std::collections::HashMap;

use gridsync_proto::{Change, Dot, ErrorCode, Op, RecordId, RecordKind, RecordView};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::store::Store;
use crate::store::sealed::open_rejected;

/// A write the server refused. Nothing of it reached the server; what became
/// of the record on this device is its [`Rejection::outcome`], and the
/// refused edits themselves are kept ([`Rejection::edits`]) so that the user
/// can redo them properly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Its id on this device, for [`Store::dismiss_rejection`].
    pub id: i64,
    /// The record.
    pub record: RecordId,
    /// Its kind.
    pub kind: RecordKind,
    /// The server's stable code (`out_of_scope`, `forbidden`, `invalid_transition`, …).
    pub code: ErrorCode,
    /// The field, entry or attribute concerned.
    pub field: Option<String>,
    /// The server's reason (never the values).
    pub message: String,
    /// When the server's answer arrived (device clock, Unix ms).
    pub refused_ms: u64,
    /// The refused changes, as they were made.
    pub changes: Vec<Change>,
    /// What became of the record on this device, as it stands now.
    pub outcome: Outcome,
}

/// What became of a refused write's record on this device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The record on this device was rebuilt from the server's copy: the
    /// refused edits are not in it.
    Rebuilt,
    /// The server never accepted the record (its creation was refused):
    /// this device's copy is kept as it was, until the refusal is dismissed.
    Kept,
    /// The record is no longer on this device: it left the user's scope
    /// (escalated above their place, moved to another grid) and was removed.
    Removed,
}

impl Outcome {
    /// The stable name: `rebuilt`, `kept`, `removed`.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Rebuilt => "rebuilt",
            Outcome::Kept => "kept",
            Outcome::Removed => "removed",
        }
    }

    /// What happened, for people.
    pub fn describe(self) -> &'static str {
        match self {
            Outcome::Rebuilt => "the record on this device was rebuilt from the server's copy",
            Outcome::Kept => {
                "the server never accepted this record; this device's copy is kept as it was until you dismiss this"
            }
            Outcome::Removed => {
                "the record left your scope and was removed from this device; ask whoever now holds it to make the change"
            }
        }
    }
}

/// One refused edit, with its values: what the user would redo.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum RefusedEdit {
    /// The write created the record.
    Create,
    /// The write set `field` to `value`.
    Set {
        /// The field.
        field: String,
        /// The value it was set to, as JSON.
        value: serde_json::Value,
    },
    /// The write appended an `entry` (a note, a step, …) with `body`.
    Append {
        /// The sort of entry.
        entry: String,
        /// Its attributes, as a JSON object.
        body: serde_json::Value,
    },
}

impl Rejection {
    /// The refused edits with their values, in the order they were made.
    pub fn edits(&self) -> Vec<RefusedEdit> {
        self.changes
            .iter()
            .map(|c| match &c.op {
                Op::Create => RefusedEdit::Create,
                Op::Set { field, value, .. } => {
                    RefusedEdit::Set { field: field.clone(), value: value.to_json() }
                }
                Op::Append { entry, body } => RefusedEdit::Append {
                    entry: entry.clone(),
                    body: serde_json::Value::Object(
                        body.iter().map(|(k, v)| (k.clone(), v.to_json())).collect(),
                    ),
                },
            })
            .collect()
    }
}

/// What became of `record` on this device: gone, kept although the server
/// never received any of it, or rebuilt from the server's copy.
fn outcome(conn: &Connection, record: &[u8]) -> Result<Outcome> {
    let held: bool =
        conn.query_row("SELECT count(*) > 0 FROM records WHERE id = ?1", [record], |r| r.get(0))?;
    if !held {
        return Ok(Outcome::Removed);
    }
    let received: bool =
        conn.query_row("SELECT count(*) > 0 FROM receipts WHERE record = ?1", [record], |r| r.get(0))?;
    Ok(if received { Outcome::Rebuilt } else { Outcome::Kept })
}

/// When the server received a change, as it said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    /// Server time of receipt, Unix ms.
    pub received_ms: u64,
    /// The sending device's clock was far off the server's: its time is
    /// shown, not trusted.
    pub clock_suspect: bool,
}

impl Store {
    /// Every refused write kept on this device, oldest first.
    pub fn rejections(&self) -> Result<Vec<Rejection>> {
        self.live()?;
        self.watch(self.rejection_rows())
    }

    /// [`Store::rejections`], without the damage watch.
    fn rejection_rows(&self) -> Result<Vec<Rejection>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, record, kind, code, field, message, refused_ms, changes FROM rejected ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, u16>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, i64>(6)?,
                r.get::<_, Vec<u8>>(7)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, record, kind, code, field, message, refused_ms, sealed) = row?;
            let outcome = outcome(&self.conn, &record)?;
            out.push(Rejection {
                id,
                record: RecordId::from_slice(&record).ok_or(Error::Corrupt("rejected record id"))?,
                kind: RecordKind::from(kind),
                code: ErrorCode::parse(&code),
                field,
                message,
                refused_ms: refused_ms as u64,
                changes: open_rejected(&self.cipher, id, &sealed)?,
                outcome,
            });
        }
        Ok(out)
    }

    /// Forgets a refused write once the user has seen it. A record the
    /// server never accepted (its creation was refused) goes with its last
    /// rejection, unless it has other unsent changes.
    pub fn dismiss_rejection(&mut self, id: i64) -> Result<()> {
        self.writable()?;
        let dismissed = self.dismiss(id);
        self.watch(dismissed)
    }

    /// [`Store::dismiss_rejection`], without the damage checks.
    fn dismiss(&mut self, id: i64) -> Result<()> {
        let tx = self.conn.transaction()?;
        let record: Option<Vec<u8>> =
            tx.query_row("SELECT record FROM rejected WHERE id = ?1", [id], |r| r.get(0)).optional()?;
        let record = record.ok_or(Error::NoSuchRejection(id))?;
        tx.execute("DELETE FROM rejected WHERE id = ?1", [id])?;
        let others: i64 =
            tx.query_row("SELECT count(*) FROM rejected WHERE record = ?1", [&record], |r| r.get(0))?;
        let received: i64 =
            tx.query_row("SELECT count(*) FROM receipts WHERE record = ?1", [&record], |r| r.get(0))?;
        if others == 0 && received == 0 {
            let id = RecordId::from_slice(&record).ok_or(Error::Corrupt("rejected record id"))?;
            let unsent = crate::sync::unsent_records(&tx, &self.cipher)?;
            if !unsent.contains(&id) {
                tx.execute("DELETE FROM records WHERE id = ?1", params![record])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The server's receipts of a record's changes, by dot.
    pub fn receipts(&self, record: RecordId) -> Result<HashMap<Dot, Receipt>> {
        self.live()?;
        self.watch(self.receipt_rows(record))
    }

    /// [`Store::receipts`], without the damage watch.
    fn receipt_rows(&self, record: RecordId) -> Result<HashMap<Dot, Receipt>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT actor, counter, received_ms, clock_suspect FROM receipts WHERE record = ?1",
        )?;
        let rows = stmt.query_map([record.as_bytes()], |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?, r.get::<_, bool>(3)?))
        })?;
        let mut out = HashMap::new();
        for row in rows {
            let (actor, counter, received_ms, clock_suspect) = row?;
            let actor =
                gridsync_proto::ActorId::from_slice(&actor).ok_or(Error::Corrupt("receipt device id"))?;
            out.insert(
                Dot { actor, counter: counter as u64 },
                Receipt { received_ms: received_ms as u64, clock_suspect },
            );
        }
        Ok(out)
    }

    /// A record's JSON view with the server's receipt of every value and
    /// entry, and its lifecycle if it is a dispute.
    pub fn view(&self, record: RecordId) -> Result<Option<RecordView>> {
        let Some(state) = self.get(record)? else { return Ok(None) };
        let receipts = self.receipts(record)?;
        Ok(Some(RecordView::with_receipts(&state, &|dot| {
            receipts.get(dot).map(|r| (r.received_ms, r.clock_suspect))
        })))
    }

    /// Records in this device's scope that its budget leaves out, as the
    /// server last said.
    pub fn withheld(&self) -> Result<u32> {
        self.live()?;
        let withheld = self.conn.query_row("SELECT withheld FROM device WHERE id = 1", [], |r| r.get(0));
        self.watch(withheld.map_err(Error::from))
    }
}
