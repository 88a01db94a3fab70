//! Reading what can still be read from a damaged store.
//!
//! Nothing here writes to the damaged file: its connection is `query_only`.
//! Each table is read row by row in rowid order; where a page cannot be
//! read, the scan steps over it ([`scan`]) and goes on with the rows
//! after it. Every sealed value is opened with the store key before it is
//! counted as salvaged, so what is salvaged is exactly what the device
//! wrote, and nothing damaged is carried over.

use std::collections::{BTreeMap, HashSet};

use gridsync_proto::{ActorId, Change, Hlc, Op, Profile, RecordId, RecordState};
use rusqlite::{Connection, Row};

use crate::crypto::Cipher;
use crate::error::{Error, Result};
use crate::store::DeviceSecret;
use crate::store::sealed::{
    KEY_CHECK, KEY_CHECK_AAD, open_change, open_profile, open_rejected, open_secret, open_state,
};

/// The oldest handset schema a repair reads (write groups and refused
/// writes appeared in version 3).
const OLDEST_VERSION: u32 = 3;

/// Rows read per statement while scanning a table.
const BATCH: i64 = 256;

/// The device row, as far as it could be read.
pub(super) struct Identity {
    pub(super) actor: ActorId,
    pub(super) server_url: String,
    pub(super) clock: Hlc,
    /// The author and signing key; `None` if they could not be opened.
    pub(super) secret: Option<DeviceSecret>,
    /// Whether a sealed secret was there but could not be opened.
    pub(super) secret_lost: bool,
    pub(super) profile: Option<Profile>,
    pub(super) profile_lost: bool,
    pub(super) ca_pem: Option<Vec<u8>>,
    /// Whether the key check itself could not be opened (the key was
    /// recognised by another sealed value).
    pub(super) key_check_lost: bool,
}

/// One unsent change, opened.
pub(super) struct Unsent {
    pub(super) seq: i64,
    pub(super) grp: i64,
    pub(super) sealed: Vec<u8>,
    pub(super) change: Change,
}

/// One refused write, verified.
pub(super) struct Refused {
    pub(super) id: i64,
    pub(super) record: Vec<u8>,
    pub(super) kind: i64,
    pub(super) code: String,
    pub(super) field: Option<String>,
    pub(super) message: String,
    pub(super) refused_ms: i64,
    pub(super) sealed: Vec<u8>,
}

/// Everything read from a store.
pub(super) struct Salvage {
    pub(super) identity: Identity,
    /// Whole write groups, in outbox order.
    pub(super) outbox: Vec<Unsent>,
    pub(super) groups: u64,
    /// Outbox changes found but not salvageable (unreadable, or of a
    /// group that is not whole).
    pub(super) lost_changes: u64,
    pub(super) rejected: Vec<Refused>,
    pub(super) lost_rejections: u64,
    /// Record states to keep: those of records with salvaged unsent
    /// changes, with those changes merged in.
    pub(super) kept: Vec<RecordState>,
    /// Record rows found (all come back from the server).
    pub(super) records_found: u64,
    /// Record rows found whose state cannot be opened.
    pub(super) records_unreadable: u64,
}

impl Salvage {
    /// Whether everything found could be read: the store is not damaged
    /// in any way a repair would change.
    pub(super) fn is_whole(&self) -> bool {
        let id = &self.identity;
        self.lost_changes == 0
            && self.lost_rejections == 0
            && self.records_unreadable == 0
            && !id.secret_lost
            && !id.profile_lost
            && !id.key_check_lost
    }
}

/// Reads everything that can be read from the store on `conn` with `cipher`.
pub(super) fn salvage(conn: &Connection, cipher: &Cipher) -> Result<Salvage> {
    let unreadable =
        |_| Error::Unrepairable("its first page (the file header and the table list) is unreadable");
    let version: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(unreadable)?;
    let app_id: i32 = conn.query_row("PRAGMA application_id", [], |r| r.get(0)).map_err(unreadable)?;
    if app_id != crate::store::SCHEMA.application_id {
        return Err(Error::Unrepairable("the file is not a gridsync handset store"));
    }
    if !(OLDEST_VERSION..=crate::store::SCHEMA.version()).contains(&version) {
        return Err(Error::Unrepairable("the store's schema version is not one this build can read"));
    }
    let identity = identity(conn, cipher)?;
    let (outbox, groups, lost_changes, incomplete) = outbox(conn, cipher, version);
    let (rejected, lost_rejections) = rejected(conn, cipher);
    let mut salvage = Salvage {
        identity,
        outbox,
        groups,
        lost_changes,
        rejected,
        lost_rejections,
        kept: Vec::new(),
        records_found: 0,
        records_unreadable: 0,
    };
    records(conn, cipher, &incomplete, &mut salvage);
    if let Some(latest) = salvage.outbox.iter().map(|u| u.change.time).max() {
        // The clock never goes back behind a change this device made.
        salvage.identity.clock = salvage.identity.clock.max(latest);
    }
    Ok(salvage)
}

/// The device row. Without its device id nothing else is of use: the
/// unsent changes are signed and numbered as that device.
fn identity(conn: &Connection, cipher: &Cipher) -> Result<Identity> {
    type Row =
        (Vec<u8>, String, i64, i64, Option<Vec<u8>>, Option<Vec<u8>>, Option<Vec<u8>>, Option<Vec<u8>>);
    let row: Row = conn
        .query_row(
            "SELECT actor, server_url, hlc_millis, hlc_logical, key_check, secret, profile, ca_pem
             FROM device WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?)),
        )
        .map_err(|_| Error::Unrepairable("the device identity cannot be read"))?;
    let (actor, server_url, millis, logical, key_check, secret, profile, ca_pem) = row;
    let actor =
        ActorId::from_slice(&actor).ok_or(Error::Unrepairable("the device identity cannot be read"))?;
    let key_check_opens =
        key_check.as_deref().and_then(|k| cipher.open(KEY_CHECK_AAD, k).ok()).as_deref() == Some(KEY_CHECK);
    let opened_secret = secret.as_deref().map(|s| open_secret(cipher, s).ok());
    let opened_profile = profile.as_deref().map(|p| open_profile(cipher, p).ok());
    let key_recognised = key_check_opens
        || opened_secret.as_ref().is_some_and(Option::is_some)
        || opened_profile.as_ref().is_some_and(Option::is_some);
    if !key_recognised {
        // Nothing opens: most likely another key. A repair with it would
        // salvage nothing, so it is refused rather than run.
        return Err(Error::WrongKey);
    }
    Ok(Identity {
        actor,
        server_url,
        clock: Hlc { millis: millis as u64, logical: logical as u32 },
        secret_lost: matches!(opened_secret, Some(None)),
        secret: opened_secret.flatten(),
        profile_lost: matches!(opened_profile, Some(None)),
        profile: opened_profile.flatten(),
        ca_pem,
        key_check_lost: !key_check_opens,
    })
}

/// The first store version whose outbox keeps acknowledged changes
/// (`acked_ms`).
const ACKED_VERSION: u32 = 6;

/// The outbox, whole write groups only: a group is salvaged when its
/// changes are found at consecutive positions from the group's first and
/// all open; a group that is not whole is not pushed (it would be half of
/// one write), and its changes count as lost.
///
/// From schema version 6 the outbox also keeps changes the server has
/// acknowledged (ADR 0026, for a restored server): those are not unsent and
/// are left behind.
fn outbox(conn: &Connection, cipher: &Cipher, version: u32) -> (Vec<Unsent>, u64, u64, HashSet<RecordId>) {
    let columns =
        if version >= ACKED_VERSION { "seq, grp, change, acked_ms" } else { "seq, grp, change, NULL" };
    let scan = scan(conn, "outbox", columns, |r| {
        Ok((r.get::<_, i64>(1)?, r.get::<_, Vec<u8>>(2)?, r.get::<_, Option<i64>>(3)?.is_some()))
    });
    let mut lost = scan.unreadable;
    let breaks: HashSet<i64> = scan.breaks.into_iter().collect();
    let mut by_group: BTreeMap<i64, Vec<Option<Unsent>>> = BTreeMap::new();
    for (seq, (grp, sealed, acked)) in scan.rows {
        if acked {
            continue;
        }
        let change = open_change(cipher, seq, &sealed)
            .ok()
            .and_then(|body| postcard::from_bytes::<Change>(&body).ok());
        by_group.entry(grp).or_default().push(change.map(|change| Unsent { seq, grp, sealed, change }));
    }
    let mut out = Vec::new();
    let mut groups = 0;
    let mut incomplete = HashSet::new();
    for (grp, members) in by_group {
        // A write group is one record's edits, at consecutive positions
        // from the group's number; one whose last change is followed by
        // rows that could not be read may go on in them.
        let record = members.iter().flatten().map(|u| u.change.record).next();
        let consecutive = members.iter().enumerate().all(|(i, m)| {
            m.as_ref().is_some_and(|u| u.seq == grp + i as i64 && Some(u.change.record) == record)
        });
        let last = grp + members.len() as i64 - 1;
        let whole = consecutive && !breaks.contains(&last);
        if whole {
            groups += 1;
            out.extend(members.into_iter().flatten());
        } else {
            lost += members.len() as u64;
            incomplete.extend(members.iter().flatten().map(|u| u.change.record));
        }
    }
    (out, groups, lost, incomplete)
}

/// The refused writes kept for the user, each verified.
fn rejected(conn: &Connection, cipher: &Cipher) -> (Vec<Refused>, u64) {
    let scan = scan(conn, "rejected", "id, record, kind, code, field, message, refused_ms, changes", |r| {
        Ok(Refused {
            id: r.get(0)?,
            record: r.get(1)?,
            kind: r.get(2)?,
            code: r.get(3)?,
            field: r.get(4)?,
            message: r.get(5)?,
            refused_ms: r.get(6)?,
            sealed: r.get(7)?,
        })
    });
    let mut lost = scan.unreadable;
    let mut out = Vec::new();
    for (id, refused) in scan.rows {
        let readable = RecordId::from_slice(&refused.record).is_some()
            && open_rejected(cipher, id, &refused.sealed).is_ok();
        if readable {
            out.push(refused);
        } else {
            lost += 1;
        }
    }
    (out, lost)
}

/// Counts the record rows and keeps the states of records with salvaged
/// unsent changes, those changes merged in (a record created offline and
/// never sent is rebuilt from its changes if its state is unreadable). A
/// record that lost a change of a group is not kept: its state would show
/// what will never be sent.
fn records(conn: &Connection, cipher: &Cipher, incomplete: &HashSet<RecordId>, salvage: &mut Salvage) {
    let mut unsent: BTreeMap<RecordId, Vec<&Change>> = BTreeMap::new();
    for u in &salvage.outbox {
        unsent.entry(u.change.record).or_default().push(&u.change);
    }
    let scan = scan(conn, "records", "rowid, id, kind, state", |r| {
        Ok((r.get::<_, Vec<u8>>(1)?, r.get::<_, Vec<u8>>(3)?))
    });
    salvage.records_found = scan.rows.len() as u64 + scan.unreadable;
    salvage.records_unreadable = scan.unreadable;
    let rows = scan.rows;
    let mut states: BTreeMap<RecordId, RecordState> = BTreeMap::new();
    for (_, (id, sealed)) in rows {
        let Some(id) = RecordId::from_slice(&id) else {
            salvage.records_unreadable += 1;
            continue;
        };
        match open_state(cipher, id, &sealed) {
            Ok(state) if unsent.contains_key(&id) => {
                states.insert(id, state);
            }
            Ok(_) => {}
            Err(_) => salvage.records_unreadable += 1,
        }
    }
    for (id, changes) in unsent {
        if incomplete.contains(&id) {
            continue;
        }
        let created_here = changes.iter().find(|c| matches!(c.op, Op::Create)).map(|c| c.kind);
        let Some(mut state) =
            states.remove(&id).or_else(|| created_here.map(|kind| RecordState::new(id, kind)))
        else {
            continue;
        };
        for change in changes {
            if state.apply(change).is_err() {
                tracing::warn!("a salvaged unsent change does not merge with its record's salvaged state");
            }
        }
        salvage.kept.push(state);
    }
}

/// What [`scan`] read of a table.
pub(super) struct Scan<T> {
    /// The rows read, by rowid, in order.
    pub(super) rows: Vec<(i64, T)>,
    /// Rows found whose columns could not be read.
    pub(super) unreadable: u64,
    /// Rowids after which rows may be missing: the last one read before
    /// a page that could not be read, and the one before each unreadable
    /// row.
    pub(super) breaks: Vec<i64>,
}

/// Reads every row of `table` that can be read, in rowid order: `columns`
/// starts with the rowid; `read` takes the rest of a row. Where a page
/// cannot be read, the scan looks for the first rowid past it it can read
/// (probing ever further, then narrowing back) and goes on from there.
pub(super) fn scan<T>(
    conn: &Connection,
    table: &str,
    columns: &str,
    mut read: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> Scan<T> {
    let batch = format!("SELECT {columns} FROM {table} WHERE rowid > ?1 ORDER BY rowid LIMIT {BATCH}");
    let probe = format!("SELECT rowid FROM {table} WHERE rowid > ?1 ORDER BY rowid LIMIT 1");
    let mut out = Scan { rows: Vec::new(), unreadable: 0, breaks: Vec::new() };
    let mut after = i64::MIN;
    loop {
        let got = read_batch(conn, &batch, after, &mut read);
        out.unreadable += got.bad.len() as u64;
        out.breaks.extend(got.bad.iter().map(|rowid| rowid - 1));
        out.rows.extend(got.rows);
        if let Some(last) = got.last {
            after = last;
        }
        if got.broken {
            out.breaks.push(after);
            match step_over(conn, &probe, after) {
                Some(next) => after = next,
                None => return out,
            }
        } else if got.last.is_none() {
            return out;
        }
    }
}

/// One batch of rows read by [`scan`].
struct Batch<T> {
    rows: Vec<(i64, T)>,
    /// Rowids of rows found whose columns could not be read.
    bad: Vec<i64>,
    /// The last rowid seen (`None`: nothing past `after`, or nothing read).
    last: Option<i64>,
    /// Whether the batch stopped at a page that cannot be read.
    broken: bool,
}

/// One batch of rows after `after`, up to a page that cannot be read.
fn read_batch<T>(
    conn: &Connection,
    sql: &str,
    after: i64,
    read: &mut impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> Batch<T> {
    let mut batch = Batch { rows: Vec::new(), bad: Vec::new(), last: None, broken: false };
    let Ok(mut stmt) = conn.prepare(sql) else {
        batch.broken = true;
        return batch;
    };
    let Ok(mut rows) = stmt.query([after]) else {
        batch.broken = true;
        return batch;
    };
    loop {
        match rows.next() {
            Ok(Some(row)) => {
                let Ok(rowid) = row.get::<_, i64>(0) else {
                    batch.broken = true;
                    return batch;
                };
                batch.last = Some(rowid);
                match read(row) {
                    Ok(value) => batch.rows.push((rowid, value)),
                    Err(_) => batch.bad.push(rowid),
                }
            }
            Ok(None) => return batch,
            Err(_) => {
                batch.broken = true;
                return batch;
            }
        }
    }
}

/// Finds a position past an unreadable page after `after`: the smallest
/// probe (within a factor of two) from which the next rowid can be read.
/// `None` if nothing past it can be read.
fn step_over(conn: &Connection, probe: &str, after: i64) -> Option<i64> {
    let readable = |from: i64| -> bool {
        conn.prepare(probe)
            .and_then(|mut s| s.query_row([from], |r| r.get::<_, i64>(0)))
            .map_or_else(|e| matches!(e, rusqlite::Error::QueryReturnedNoRows), |_| true)
    };
    let mut failed = after;
    let mut step: i64 = 1;
    let found = loop {
        let at = failed.checked_add(step)?;
        if readable(at) {
            break at;
        }
        failed = at;
        step = step.checked_mul(2)?;
    };
    // Narrow back: the first readable probe between the last failure and `found`.
    let (mut low, mut high) = (failed, found);
    while high - low > 1 {
        let mid = low + (high - low) / 2;
        if readable(mid) { high = mid } else { low = mid }
    }
    Some(high)
}
