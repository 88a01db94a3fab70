//! Scoped pulls: what changed in a device's scope since its cursor.
//!
//! A page is planned on a reader's snapshot ([`plan`]) and then recorded by
//! the writer ([`record`]): the server remembers which records it sent each
//! device (`replicas`) and issues a new cursor for every page
//! (`pull_tokens`). A page counts as applied only when the device presents
//! its cursor, so a page lost on the way (or not committed on the device) is
//! simply planned again:
//!
//! * records the device holds that left its scope are **removed**;
//! * records that entered its scope, or whose change the server refused
//!   (`replicas.rebuild`), are sent whole and **rebuilt** on the device;
//! * for the rest, the log after the cursor, less the device's own changes.
//!
//! An unknown cursor (a server restored from an older backup) starts the
//! device afresh: `reset`, then everything in scope is sent whole.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use gridsync_proto::{ActorId, Change, LoggedChange, Profile, PullRequest, PullResponse, RecordId};
use rusqlite::{Connection, OptionalExtension, params};

use crate::db::WriteError;
use crate::directory::{self, DirectoryCache};
use crate::scope::{self, ScopeSettings, Visible};

/// Most log rows one page reads past before it answers with what it has.
const MAX_SCAN: usize = 50_000;

/// The scope computed for a device's earlier page of the same sync, under
/// a directory version: reused while the device pages on.
pub(crate) type Reuse = Option<(u64, Arc<Visible>)>;

/// A page, planned, and what recording it must change.
#[derive(Debug)]
pub(crate) struct Plan {
    /// The directory version and the scope this page was planned with.
    pub(crate) scope: (u64, Arc<Visible>),
    /// The answer; its cursor is set by [`record`] when it issues one.
    pub(crate) response: PullResponse,
    presented: u64,
    since: u64,
    log_high: u64,
    /// The log position the records sent whole were sent up to.
    high: u64,
    adds: Vec<RecordId>,
    removes: Vec<RecordId>,
    dirty: bool,
}

impl Plan {
    /// Whether the page changes nothing the server must remember: the
    /// device keeps its cursor.
    pub(crate) fn is_idle(&self) -> bool {
        !self.response.reset
            && !self.dirty
            && self.adds.is_empty()
            && self.removes.is_empty()
            && self.response.changes.is_empty()
            && self.log_high == self.since
    }
}

fn logged(row: &rusqlite::Row<'_>) -> rusqlite::Result<(u64, u64, bool, Vec<u8>)> {
    Ok((row.get::<_, i64>(0)? as u64, row.get::<_, i64>(1)? as u64, row.get(2)?, row.get(3)?))
}

/// A blob column, borrowed from the row.
fn blob<'r>(row: &'r rusqlite::Row<'_>, column: usize) -> Result<&'r [u8], WriteError> {
    row.get_ref(column)?.as_blob().map_err(|_| WriteError::Corrupt("a log column is not a blob".into()))
}

fn decode(seq: u64, received_ms: u64, clock_suspect: bool, body: &[u8]) -> Result<LoggedChange, WriteError> {
    let change: Change =
        postcard::from_bytes(body).map_err(|_| WriteError::Corrupt(format!("change {seq} in the log")))?;
    Ok(LoggedChange { seq, received_ms, clock_suspect, change })
}

/// Plans the next page for `user`'s device. Read-only.
pub(crate) fn plan(
    conn: &Connection,
    cache: &DirectoryCache,
    settings: &ScopeSettings,
    request: &PullRequest,
    user: &str,
    now: u64,
    reuse: Reuse,
) -> Result<Plan, WriteError> {
    let tx = conn.unchecked_transaction()?; // one snapshot throughout
    let device = request.device;
    let (version, dir) = cache.get(&tx)?;
    let actor = directory::actor(&tx, user)?.ok_or_else(|| WriteError::Corrupt("a device's user".into()))?;

    let presented = request.cursor;
    let known: Option<i64> = if presented == 0 {
        Some(0)
    } else {
        tx.prepare_cached("SELECT log_high FROM pull_tokens WHERE token = ?1 AND device = ?2")?
            .query_row(params![presented as i64, device.as_bytes()], |r| r.get(0))
            .optional()?
    };
    let reset = known.is_none();
    let since = known.unwrap_or(0) as u64;
    let high: i64 = tx.query_row("SELECT coalesce(max(seq), 0) FROM changes", [], |r| r.get(0))?;
    let high = high as u64;

    // What the device holds, and up to where each record was sent whole.
    let mut held: HashMap<RecordId, u64> = HashMap::new();
    let mut stale = HashSet::new();
    let mut dirty = false;
    if !reset {
        let mut rows = tx.prepare_cached(
            "SELECT record, added_token, removed_token, rebuild, sent_through FROM replicas WHERE device = ?1",
        )?;
        let rows = rows.query_map([device.as_bytes()], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Option<i64>>(2)?,
                r.get::<_, bool>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })?;
        let t = presented as i64;
        for row in rows {
            let (record, added, removed, rebuild, sent_through) = row?;
            let record =
                RecordId::from_slice(&record).ok_or_else(|| WriteError::Corrupt("replica id".into()))?;
            dirty |= added > t || removed.is_some();
            if added <= t && removed.is_none_or(|r| r > t) {
                held.insert(record, sent_through as u64);
                if rebuild {
                    stale.insert(record);
                }
            }
        }
    }

    // What the device may hold: computed on a sync's first page, reused on
    // the pages that follow (a page's plan must not cost a scan of the whole
    // scope), and recomputed whenever the directory changed.
    let visible = match reuse {
        Some((v, visible)) if v == version => visible,
        _ => Arc::new(scope::visible(&tx, &actor, &dir, settings, now)?),
    };
    let in_scope: HashSet<RecordId> = visible.records.iter().copied().collect();
    let mut removes: Vec<RecordId> = held.keys().filter(|r| !in_scope.contains(r)).copied().collect();
    removes.sort();

    let limit = request.limit.max(1) as usize;
    let mut changes = Vec::new();
    let mut adds = Vec::new();
    let mut more = false;
    {
        let mut history = tx.prepare_cached(
            "SELECT seq, received_ms, clock_suspect, body FROM changes
             WHERE record = ?1 AND seq <= ?2 ORDER BY seq",
        )?;
        for record in visible.records.iter().filter(|r| !held.contains_key(r) || stale.contains(r)) {
            if changes.len() >= limit {
                more = true;
                break;
            }
            for row in history.query_map(params![record.as_bytes(), high as i64], logged)? {
                let (seq, received, suspect, body) = row?;
                changes.push(decode(seq, received, suspect, &body)?);
            }
            adds.push(*record);
        }
    }

    let mut log_high = since;
    if !more {
        let sent: HashSet<RecordId> = adds.iter().copied().collect();
        let mut scan = tx.prepare_cached(
            "SELECT seq, received_ms, clock_suspect, body, record, actor FROM changes
             WHERE seq > ?1 AND seq <= ?2 ORDER BY seq LIMIT ?3",
        )?;
        let mut rows = scan.query(params![since as i64, high as i64, MAX_SCAN as i64])?;
        log_high = high;
        let mut scanned = 0usize;
        while let Some(row) = rows.next()? {
            scanned += 1;
            let seq = row.get::<_, i64>(0)? as u64;
            // Most of the log is other scopes': look at ids in place, and
            // read a body only when it is sent.
            let record = RecordId::from_slice(blob(row, 4)?)
                .ok_or_else(|| WriteError::Corrupt("record id in the log".into()))?;
            let wanted = held.get(&record).is_some_and(|through| seq > *through)
                && in_scope.contains(&record)
                && !sent.contains(&record)
                && blob(row, 5)? != device.as_bytes();
            if wanted {
                let (received, suspect) = (row.get::<_, i64>(1)? as u64, row.get(2)?);
                changes.push(decode(seq, received, suspect, blob(row, 3)?)?);
            }
            if (wanted && changes.len() >= limit) || scanned == MAX_SCAN {
                log_high = seq;
                break;
            }
        }
        more = log_high < high;
    }

    let profile = (request.profile_version != version).then(|| Profile::for_actor(actor, &dir, version));
    let withheld = visible.withheld;
    Ok(Plan {
        scope: (version, visible),
        response: PullResponse {
            reset,
            removed: removes.clone(),
            rebuild: adds.clone(),
            changes,
            withheld,
            profile,
            cursor: presented,
            more,
        },
        presented,
        since,
        log_high,
        high,
        adds,
        removes,
        dirty,
    })
}

/// Records a planned page on the writer and issues its cursor.
pub(crate) fn record(conn: &Connection, device: ActorId, plan: &Plan, now: u64) -> Result<u64, WriteError> {
    let d = device.as_bytes();
    let t = plan.presented as i64;
    if plan.response.reset {
        conn.execute("DELETE FROM replicas WHERE device = ?1", [d])?;
        conn.execute("DELETE FROM pull_tokens WHERE device = ?1", [d])?;
    } else if plan.dirty {
        conn.prepare_cached("DELETE FROM replicas WHERE device = ?1 AND added_token > ?2")?
            .execute(params![d, t])?;
        conn.prepare_cached("DELETE FROM replicas WHERE device = ?1 AND removed_token <= ?2")?
            .execute(params![d, t])?;
        conn.prepare_cached(
            "UPDATE replicas SET removed_token = NULL WHERE device = ?1 AND removed_token > ?2",
        )?
        .execute(params![d, t])?;
    }
    conn.prepare_cached("INSERT INTO pull_tokens (device, log_high, issued_ms) VALUES (?1, ?2, ?3)")?
        .execute(params![d, plan.log_high as i64, now as i64])?;
    let token = conn.last_insert_rowid();
    let mut remove =
        conn.prepare_cached("UPDATE replicas SET removed_token = ?3 WHERE device = ?1 AND record = ?2")?;
    for record in &plan.removes {
        remove.execute(params![d, record.as_bytes(), token])?;
    }
    let mut add = conn.prepare_cached(
        "INSERT INTO replicas (device, record, added_token, removed_token, rebuild, sent_through)
         VALUES (?1, ?2, ?3, NULL, 0, ?4)
         ON CONFLICT (device, record) DO UPDATE
             SET added_token = ?3, removed_token = NULL, rebuild = 0, sent_through = ?4",
    )?;
    for record in &plan.adds {
        add.execute(params![d, record.as_bytes(), token, plan.high as i64])?;
    }
    // Keep the presented cursor (the device re-presents it if this page is
    // lost) and the new one; older and abandoned cursors go.
    conn.prepare_cached("DELETE FROM pull_tokens WHERE device = ?1 AND token <> ?2 AND token <> ?3")?
        .execute(params![d, t, token])?;
    Ok(token as u64)
}
