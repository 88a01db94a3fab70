//! Scoped replication: which records a user's devices hold.
//!
//! Every record is filed under access keys ([`gridsync_proto::access`]),
//! kept in `record_access` with the record's last activity. A user's keys
//! are the places in their subtree (none for a department user), their unit
//! and their name. A device holds the records filed under one of its user's
//! keys that are either open disputes or active within the replication
//! window, up to the device's record budget: open disputes first, then the
//! most recently active.

use std::collections::HashMap;

use gridsync_proto::access::{Access, AccessKey};
use gridsync_proto::{Actor, Directory, RecordId};
use rusqlite::{Connection, params};

use crate::db::WriteError;

/// How much a device holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScopeSettings {
    /// Most records on one device (CHT's ceiling: 10,000).
    pub budget: u32,
    /// Records other than open disputes stay on devices this long after
    /// their last change.
    pub window_ms: u64,
}

impl Default for ScopeSettings {
    fn default() -> Self {
        Self { budget: 10_000, window_ms: 90 * 24 * 60 * 60 * 1000 }
    }
}

/// The access keys of a user.
pub fn keys_of(actor: &Actor, dir: &Directory) -> Vec<String> {
    let mut keys = Vec::new();
    if actor.unit.is_none() {
        keys.extend(dir.subtree(actor.place.as_deref()).into_iter().map(|p| AccessKey::Place(p).encode()));
    }
    keys.extend(actor.unit.iter().map(|u| AccessKey::Unit(u.clone()).encode()));
    keys.push(AccessKey::User(actor.user.clone()).encode());
    keys
}

/// The records a device of `actor` holds, in priority order, and how many
/// more the budget leaves out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Visible {
    /// Records, open disputes first, then by last activity, newest first.
    pub records: Vec<RecordId>,
    /// Records in scope beyond the budget.
    pub withheld: u32,
}

/// What a device of `actor` holds at `now`.
pub fn visible(
    conn: &Connection,
    actor: &Actor,
    dir: &Directory,
    settings: &ScopeSettings,
    now: u64,
) -> Result<Visible, WriteError> {
    let cutoff = now.saturating_sub(settings.window_ms) as i64;
    let mut found: HashMap<Vec<u8>, (bool, i64)> = HashMap::new();
    let mut recent = conn.prepare_cached(
        "SELECT record, active_ms, open FROM record_access WHERE key = ?1 AND active_ms >= ?2",
    )?;
    let mut open =
        conn.prepare_cached("SELECT record, active_ms FROM record_access WHERE key = ?1 AND open = 1")?;
    for key in keys_of(actor, dir) {
        let rows = recent.query_map(params![key, cutoff], |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?, r.get::<_, bool>(2)?))
        })?;
        for row in rows {
            let (record, active, is_open) = row?;
            found.insert(record, (is_open, active));
        }
        for row in open.query_map([&key], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?)))? {
            let (record, active) = row?;
            found.insert(record, (true, active));
        }
    }
    let mut ranked: Vec<(bool, i64, Vec<u8>)> = found.into_iter().map(|(r, (o, a))| (o, a, r)).collect();
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
    let budget = settings.budget as usize;
    let withheld = ranked.len().saturating_sub(budget) as u32;
    let records = ranked
        .into_iter()
        .take(budget)
        .map(|(_, _, r)| {
            RecordId::from_slice(&r).ok_or_else(|| WriteError::Corrupt("record id in the index".into()))
        })
        .collect::<Result<_, _>>()?;
    Ok(Visible { records, withheld })
}

/// How many records a device of `actor` would hold, budget aside: what an
/// administrative change is checked against before it is made.
pub fn count(
    conn: &Connection,
    actor: &Actor,
    dir: &Directory,
    settings: &ScopeSettings,
    now: u64,
) -> Result<u64, WriteError> {
    let unlimited = ScopeSettings { budget: u32::MAX, ..*settings };
    Ok(visible(conn, actor, dir, &unlimited, now)?.records.len() as u64)
}

/// Files `record` under `access` as of `active_ms`, replacing its old keys.
pub(crate) fn index(
    conn: &Connection,
    record: RecordId,
    access: &Access,
    active_ms: u64,
) -> Result<(), WriteError> {
    conn.prepare_cached("DELETE FROM record_access WHERE record = ?1")?.execute([record.as_bytes()])?;
    let mut insert = conn
        .prepare_cached("INSERT INTO record_access (key, record, active_ms, open) VALUES (?1, ?2, ?3, ?4)")?;
    for key in &access.keys {
        insert.execute(params![key.encode(), record.as_bytes(), active_ms as i64, access.open])?;
    }
    Ok(())
}
