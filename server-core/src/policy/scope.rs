//! Scoped replication: which records a user's devices hold.
//!
//! Every record is filed under access keys ([`gridsync_proto::access`]),
//! kept by the storage with the record's last activity. A user's keys are
//! the places in their subtree (none for a department user), their unit and
//! their name. A device holds the records filed under one of its user's keys
//! that are either open disputes or active within the replication window, up
//! to the device's record budget: open disputes first, then the most
//! recently active. A record's activity is the latest trusted time of its
//! changes (the device's clock, or the receipt if the clock was off), so a
//! phone that uploads a month of work at once does not make it all recent.

use std::collections::HashMap;

use gridsync_proto::access::AccessKey;
use gridsync_proto::{Actor, Directory, RecordId};

use crate::storage::{AccessRow, StorageResult, SyncLogRead};

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
    /// Each record's home township, as the storage filed it.
    pub homes: HashMap<RecordId, String>,
    /// Records in scope beyond the budget.
    pub withheld: u32,
    /// Each record's last change's log position, as the access index holds
    /// it: a pull reads the log of a held record only when this is above
    /// what the device has (ADR 0020).
    pub updated: HashMap<RecordId, u64>,
    /// The log position the scope was computed at (the high-water mark of
    /// the same snapshot): `updated` covers every change up to it, and a
    /// page planned with this scope reaches no further.
    pub as_of: u64,
}

/// What a device of `actor` holds at `now`.
pub fn visible(
    tx: &mut (impl SyncLogRead + ?Sized),
    actor: &Actor,
    dir: &Directory,
    settings: &ScopeSettings,
    now: u64,
) -> StorageResult<Visible> {
    let cutoff = now.saturating_sub(settings.window_ms) as i64;
    let as_of = tx.high_water()?;
    let mut found: HashMap<RecordId, (bool, i64)> = HashMap::new();
    let mut homes: HashMap<RecordId, String> = HashMap::new();
    let mut updated: HashMap<RecordId, u64> = HashMap::new();
    for key in keys_of(actor, dir) {
        let township = crate::home::of_key(dir, &key);
        tx.access(&key, township.as_deref(), cutoff, &mut |row: AccessRow| {
            let entry = found.entry(row.record).or_insert((false, i64::MIN));
            entry.0 |= row.open;
            entry.1 = entry.1.max(row.active_ms);
            let seq = updated.entry(row.record).or_insert(0);
            *seq = (*seq).max(row.updated_seq);
            homes.entry(row.record).or_insert(row.township);
        })?;
    }
    let mut visible = rank(found, settings.budget);
    visible.homes = visible.records.iter().filter_map(|r| homes.remove_entry(r)).collect();
    visible.updated = visible.records.iter().filter_map(|r| updated.remove_entry(r)).collect();
    visible.as_of = as_of;
    Ok(visible)
}

/// Ranks candidate records (record → open, last activity): open disputes
/// first, then the most recently active, ties by id; keeps `budget`.
pub fn rank(found: HashMap<RecordId, (bool, i64)>, budget: u32) -> Visible {
    type Ranked = (bool, i64, RecordId);
    let mut ranked: Vec<Ranked> = found.into_iter().map(|(r, (o, a))| (o, a, r)).collect();
    let order = |a: &Ranked, b: &Ranked| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2));
    let budget = budget as usize;
    let withheld = ranked.len().saturating_sub(budget) as u32;
    if ranked.len() > budget && budget > 0 {
        ranked.select_nth_unstable_by(budget - 1, order);
    }
    ranked.truncate(budget);
    ranked.sort_unstable_by(order);
    Visible { records: ranked.into_iter().map(|(_, _, r)| r).collect(), withheld, ..Visible::default() }
}

/// How many records a device of `actor` would hold, budget aside: what an
/// administrative change is checked against before it is made.
pub fn count(
    tx: &mut (impl SyncLogRead + ?Sized),
    actor: &Actor,
    dir: &Directory,
    settings: &ScopeSettings,
    now: u64,
) -> StorageResult<u64> {
    let unlimited = ScopeSettings { budget: u32::MAX, ..*settings };
    Ok(visible(tx, actor, dir, &unlimited, now)?.records.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> RecordId {
        RecordId::from_bytes([n; 16])
    }

    #[test]
    fn open_disputes_come_first_then_the_most_recent_within_the_budget() {
        let found: HashMap<RecordId, (bool, i64)> =
            [(id(1), (false, 10)), (id(2), (true, 1)), (id(3), (false, 30)), (id(4), (false, 20))].into();
        let all = rank(found.clone(), 10);
        assert_eq!(all.records, [id(2), id(3), id(4), id(1)]);
        assert_eq!(all.withheld, 0);
        let two = rank(found, 2);
        assert_eq!(two.records, [id(2), id(3)]);
        assert_eq!(two.withheld, 2);
    }
}
