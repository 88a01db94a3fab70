//! Scoped replication: which records a user's devices hold.
//!
//! Every record is filed under access keys ([`gridsync_proto::access`]),
//! kept in `record_access` with the record's last activity. A user's keys
//! are the places in their subtree (none for a department user), their unit
//! and their name. A device holds the records filed under one of its user's
//! keys that are either open disputes or active within the replication
//! window, up to the device's record budget: open disputes first, then the
//! most recently active. A record's activity is the latest trusted time of
//! its changes (the device's clock, or the receipt if the clock was off), so
//! a phone that uploads a month of work at once does not make it all recent.

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
    // Record id → (open, last activity): ids are read in place and kept as
    // fixed arrays, since a township's scope runs to tens of thousands.
    let mut found: HashMap<[u8; 16], (bool, i64)> = HashMap::new();
    let mut recent = conn.prepare_cached(
        "SELECT record, active_ms, open FROM record_access WHERE key = ?1 AND active_ms >= ?2",
    )?;
    let mut open =
        conn.prepare_cached("SELECT record, active_ms FROM record_access WHERE key = ?1 AND open = 1")?;
    let id = |row: &rusqlite::Row<'_>| -> Result<[u8; 16], WriteError> {
        let bytes = row.get_ref(0)?.as_blob().map_err(|_| corrupt())?;
        bytes.try_into().map_err(|_| corrupt())
    };
    for key in keys_of(actor, dir) {
        let mut rows = recent.query(params![key, cutoff])?;
        while let Some(row) = rows.next()? {
            let entry = found.entry(id(row)?).or_insert((false, i64::MIN));
            entry.0 |= row.get::<_, bool>(2)?;
            entry.1 = entry.1.max(row.get(1)?);
        }
        let mut rows = open.query([&key])?;
        while let Some(row) = rows.next()? {
            let entry = found.entry(id(row)?).or_insert((false, i64::MIN));
            entry.0 = true;
            entry.1 = entry.1.max(row.get(1)?);
        }
    }
    // Open disputes first, then the most recently active; ties by id.
    let mut ranked: Vec<(bool, i64, [u8; 16])> = found.into_iter().map(|(r, (o, a))| (o, a, r)).collect();
    let order = |a: &(bool, i64, [u8; 16]), b: &(bool, i64, [u8; 16])| {
        b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2))
    };
    let budget = settings.budget as usize;
    let withheld = ranked.len().saturating_sub(budget) as u32;
    if ranked.len() > budget && budget > 0 {
        ranked.select_nth_unstable_by(budget - 1, order);
    }
    ranked.truncate(budget);
    ranked.sort_unstable_by(order);
    let records = ranked.into_iter().map(|(_, _, r)| RecordId::from_bytes(r)).collect();
    Ok(Visible { records, withheld })
}

fn corrupt() -> WriteError {
    WriteError::Corrupt("record id in the index".into())
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

/// Files `record` under `access`, active at `active_ms` (or later, if it
/// already was). Rows are rewritten only when the keys change; otherwise
/// only their activity and open flag move.
pub(crate) fn index(
    conn: &Connection,
    record: RecordId,
    access: &Access,
    active_ms: u64,
) -> Result<(), WriteError> {
    let mut existing =
        conn.prepare_cached("SELECT key, active_ms FROM record_access WHERE record = ?1 ORDER BY key")?;
    let rows =
        existing.query_map([record.as_bytes()], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    let (mut keys, mut active) = (Vec::new(), active_ms as i64);
    for row in rows {
        let (key, was) = row?;
        keys.push(key);
        active = active.max(was);
    }
    let wanted: Vec<String> = access.keys.iter().map(AccessKey::encode).collect();
    let mut sorted = wanted.clone();
    sorted.sort();
    if sorted == keys {
        conn.prepare_cached("UPDATE record_access SET active_ms = ?2, open = ?3 WHERE record = ?1")?
            .execute(params![record.as_bytes(), active, access.open])?;
        return Ok(());
    }
    conn.prepare_cached("DELETE FROM record_access WHERE record = ?1")?.execute([record.as_bytes()])?;
    let mut insert = conn
        .prepare_cached("INSERT INTO record_access (key, record, active_ms, open) VALUES (?1, ?2, ?3, ?4)")?;
    for key in wanted {
        insert.execute(params![key, record.as_bytes(), active, access.open])?;
    }
    Ok(())
}
