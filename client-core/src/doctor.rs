//! Repairing a damaged handset store (`gridsync doctor`, the app's repair).
//!
//! A damaged store refuses writes and syncs ([`crate::Error::Damaged`]).
//! [`repair`] salvages what can be read into a fresh store next to it,
//! checks the fresh store, and swaps it into place, keeping the damaged
//! file aside (`STORE.damaged-N`, with its WAL): it is never deleted.
//!
//! What is salvaged, each value opened with the store key first:
//!
//! * the device identity: device id, signing key and author (so the device
//!   stays enrolled), server URL, the user's profile, a pinned township CA,
//!   and the clock (never behind a change the device made);
//! * the outbox, whole write groups only, at their positions, so they are
//!   pushed first and in order at the next sync;
//! * the refused writes kept for the user;
//! * the states of records with unsent changes, so the user still sees
//!   what they wrote.
//!
//! Everything else comes back from the server: the fresh store starts at
//! cursor 0 and is *restoring* ([`crate::Store::is_restoring`]): its next
//! sync pushes the outbox, then pulls every record in scope again whole.
//! The cursor is not carried over: it is trustworthy only together with
//! the records it counts, and those are not carried over. Until the pull
//! has run to its end the store writes no record it does not hold under a
//! fixed id ([`crate::Error::Restoring`]): this device may have written it
//! before, and a new creation could reuse one of its change ids.
//!
//! The order is what makes it safe to stop anywhere (a flat battery):
//!
//! 1. the fresh store is built as `STORE.salvage` (removed and built again
//!    if a repair stopped while building it), then opened and checked: it
//!    is sound, holds the same device, and every salvaged change and
//!    refused write; its journal is folded in and it is synced to disk;
//! 2. it is renamed `STORE.salvaged`: from now on it is what the repair
//!    delivers, and [`crate::Store::open`] refuses the damaged store;
//! 3. the damaged store's files (shared memory, WAL, database) are renamed
//!    to `STORE.damaged-N`;
//! 4. `STORE.salvaged` is renamed `STORE`.
//!
//! A repair stopped after step 2 is finished by the next [`repair`],
//! which goes on from step 3 and reports what the first one salvaged.

mod salvage;

use std::fs;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::crypto::{Cipher, StoreKey};
use crate::error::{Error, Result};
use crate::store::sealed::{KEY_CHECK, KEY_CHECK_AAD, save_clock, save_profile, save_state, seal_secret};
use crate::store::{DeviceSecret, SCHEMA, Store, health, now_ms};
use salvage::Salvage;

/// The author a repaired store writes until it is enrolled again, when
/// its signing key could not be salvaged.
const UNENROLLED_AUTHOR: &str = "device";

/// What a repair did: counts only, never record content.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RepairReport {
    /// Whether the store was repaired: `false` for a sound store, which is
    /// left as it was (the counts below are then zero).
    pub repaired: bool,
    /// Whether this repair finished one that had stopped before its swap.
    pub resumed: bool,
    /// Where the damaged store was put aside.
    pub damaged_file: Option<PathBuf>,
    /// The device id, kept.
    pub device_id: String,
    /// Whether the device's enrollment (its signing key and author) was
    /// salvaged; if not, enroll the device again.
    pub enrollment: bool,
    /// Whether the user's profile was salvaged (if not, the next sync
    /// brings it).
    pub profile: bool,
    /// Whether a pinned township CA was salvaged.
    pub pinned_ca: bool,
    /// Unsent changes salvaged (pushed first at the next sync).
    pub unsent_changes: u64,
    /// The write groups they form.
    pub unsent_groups: u64,
    /// Unsent changes found but lost: unreadable, or part of a write group
    /// that is not whole. Changes the damage made invisible cannot be counted.
    pub lost_changes: u64,
    /// Refused writes salvaged.
    pub rejections: u64,
    /// Refused writes found but unreadable.
    pub lost_rejections: u64,
    /// Records kept to be seen before the next sync (those with unsent changes).
    pub records_kept: u64,
    /// Records the damaged store still showed; every record in scope comes
    /// back from the server at the next sync.
    pub records_found: u64,
}

impl RepairReport {
    /// The report on a sound store, which a repair leaves as it is.
    fn sound(store: &Store) -> Self {
        RepairReport {
            repaired: false,
            resumed: false,
            damaged_file: None,
            device_id: store.device_id().to_string(),
            enrollment: store.is_enrolled(),
            profile: store.profile().is_some(),
            pinned_ca: false,
            unsent_changes: 0,
            unsent_groups: 0,
            lost_changes: 0,
            rejections: 0,
            lost_rejections: 0,
            records_kept: 0,
            records_found: 0,
        }
    }
}

/// Whether a repair stopped after its fresh store was ready (step 2) and
/// before it was in place: the store must not be opened until
/// [`repair`] has finished it.
pub fn interrupted(path: &Path) -> bool {
    salvaged_path(path).exists()
}

/// Checks the store at `path` thoroughly: SQLite's `quick_check`, and
/// every sealed value (device secret, profile, record states, unsent
/// changes, refused writes) opens with `key`. `true` if sound. A wrong key
/// is [`Error::WrongKey`].
pub fn check(path: &Path, key: &StoreKey) -> Result<bool> {
    if interrupted(path) {
        return Ok(false);
    }
    if !path.exists() {
        return Err(Error::NotInitialized);
    }
    if !health::quick_check(path)? {
        return Ok(false);
    }
    let conn = open_for_reading(path)?;
    let version: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version < 3 {
        // Sound, and older than a repair reads: `Store::open` upgrades it.
        return Ok(true);
    }
    Ok(salvage::salvage(&conn, &Cipher::new(key))?.is_whole())
}

/// Repairs the store at `path` if it is damaged (see the module
/// documentation); a sound store is left as it is (`repaired: false`).
/// No [`Store`] may be open on `path` meanwhile. A wrong key is
/// [`Error::WrongKey`] and a store whose device identity cannot be read
/// is [`Error::Unrepairable`]: nothing is changed then.
pub fn repair(path: &Path, key: &StoreKey) -> Result<RepairReport> {
    if interrupted(path) {
        tracing::warn!("finishing a repair that was interrupted");
        let aside = swap(path)?;
        let mut report = last_report(path)?;
        report.resumed = true;
        report.damaged_file = Some(aside);
        return Ok(report);
    }
    if check(path, key)? {
        return Ok(RepairReport::sound(&Store::open(path, key)?));
    }
    let cipher = Cipher::new(key);
    let salvage = salvage::salvage(&open_for_reading(path)?, &cipher)?;
    let building = with_suffix(path, ".salvage");
    remove_store_files(&building)?;
    let mut report = build(&building, &cipher, &salvage)?;
    verify(&building, key, &salvage)?;
    settle(&building)?;
    fs::rename(&building, salvaged_path(path)).map_err(io)?;
    sync_dir(path)?;
    report.damaged_file = Some(swap(path)?);
    tracing::info!(
        unsent = report.unsent_changes,
        lost = report.lost_changes,
        rejections = report.rejections,
        "the damaged handset store was repaired; it was kept aside"
    );
    Ok(report)
}

/// The fresh store, complete and checked, before it is swapped in.
fn salvaged_path(path: &Path) -> PathBuf {
    with_suffix(path, ".salvaged")
}

/// `path` with `suffix` appended to its file name.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The suffixes of a SQLite database's companion files, the database last.
const COMPANIONS: [&str; 4] = ["-shm", "-wal", "-journal", ""];

/// Opens a store to read it, whatever its state: never writes to it.
fn open_for_reading(path: &Path) -> Result<Connection> {
    let conn = health::open_existing(path)?;
    conn.pragma_update(None, "query_only", 1)?;
    Ok(conn)
}

/// Removes what an interrupted repair left of a fresh store it was building.
fn remove_store_files(path: &Path) -> Result<()> {
    for suffix in COMPANIONS {
        match fs::remove_file(with_suffix(path, suffix)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
            _ => {}
        }
    }
    Ok(())
}

/// A file operation of the repair that failed (no path or content in it).
fn io(e: std::io::Error) -> Error {
    tracing::error!(error = %e, "a file operation of the repair failed");
    Error::Unrepairable("a file next to the store could not be written, renamed or synced")
}

/// Writes the fresh store at `path` from what was salvaged, in one
/// transaction, with the record of this repair.
fn build(path: &Path, cipher: &Cipher, salvage: &Salvage) -> Result<RepairReport> {
    let id = &salvage.identity;
    let mut conn = gridsync_sql_support::open(path, &SCHEMA)?;
    conn.pragma_update(None, "secure_delete", 1)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let secret = id
        .secret
        .clone()
        .unwrap_or_else(|| DeviceSecret { author: UNENROLLED_AUTHOR.to_owned(), signing_key: None });
    let enrollment = secret.signing_key.is_some();
    tx.execute(
        "INSERT INTO device
            (id, actor, server_url, author, hlc_millis, hlc_logical, cursor, key_check, secret, ca_pem, restoring)
         VALUES (1, ?1, ?2, '', 0, 0, 0, ?3, ?4, ?5, 1)",
        params![
            id.actor.as_bytes(),
            id.server_url,
            cipher.seal(KEY_CHECK_AAD, KEY_CHECK)?,
            seal_secret(cipher, &secret)?,
            id.ca_pem
        ],
    )?;
    save_clock(&tx, id.clock)?;
    if let Some(profile) = &id.profile {
        save_profile(&tx, cipher, profile)?;
    }
    for unsent in &salvage.outbox {
        // At its old position: the sealed value is bound to it.
        tx.prepare_cached("INSERT INTO outbox (seq, change, grp) VALUES (?1, ?2, ?3)")?.execute(params![
            unsent.seq,
            unsent.sealed,
            unsent.grp
        ])?;
    }
    for r in &salvage.rejected {
        tx.prepare_cached(
            "INSERT INTO rejected (id, record, kind, code, field, message, refused_ms, changes)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            r.id,
            r.record,
            r.kind,
            r.code,
            r.field,
            r.message,
            r.refused_ms,
            r.sealed
        ])?;
    }
    for state in &salvage.kept {
        save_state(&tx, cipher, state)?;
    }
    let report = RepairReport {
        repaired: true,
        resumed: false,
        damaged_file: None,
        device_id: id.actor.to_string(),
        enrollment,
        profile: id.profile.is_some(),
        pinned_ca: id.ca_pem.is_some(),
        unsent_changes: salvage.outbox.len() as u64,
        unsent_groups: salvage.groups,
        lost_changes: salvage.lost_changes,
        rejections: salvage.rejected.len() as u64,
        lost_rejections: salvage.lost_rejections,
        records_kept: salvage.kept.len() as u64,
        records_found: salvage.records_found,
    };
    tx.execute(
        "INSERT INTO repairs (repaired_ms, signing_key, profile, pinned_ca, unsent_changes, unsent_groups,
             lost_changes, rejections, lost_rejections, records_kept, records_found)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            now_ms() as i64,
            report.enrollment,
            report.profile,
            report.pinned_ca,
            report.unsent_changes as i64,
            report.unsent_groups as i64,
            report.lost_changes as i64,
            report.rejections as i64,
            report.lost_rejections as i64,
            report.records_kept as i64,
            report.records_found as i64
        ],
    )?;
    tx.commit()?;
    Ok(report)
}

/// Opens the fresh store as the app will and checks that it is sound and
/// holds the same device and everything salvaged.
fn verify(path: &Path, key: &StoreKey, salvage: &Salvage) -> Result<()> {
    let store = Store::open(path, key)?;
    let holds = !store.is_damaged()
        && store.is_restoring()
        && store.cursor() == 0
        && store.device_id() == salvage.identity.actor
        && store.pending()? == salvage.outbox.len() as u64
        && store.rejections()?.len() == salvage.rejected.len()
        && salvage.kept.iter().all(|k| store.get(k.id()).ok().flatten().as_ref() == Some(k));
    if holds { Ok(()) } else { Err(Error::Unrepairable("the fresh store does not hold what was salvaged")) }
}

/// Folds the fresh store's WAL into its file and leaves it a single file,
/// synced to disk, so that it can be renamed into place on its own.
fn settle(path: &Path) -> Result<()> {
    let conn = health::open_existing(path)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))?;
    drop(conn);
    if mode != "delete" || with_suffix(path, "-wal").exists() {
        return Err(Error::Unrepairable("the fresh store's journal could not be folded in"));
    }
    fs::File::open(path).and_then(|f| f.sync_all()).map_err(io)
}

/// Steps 3 and 4: puts the damaged store's files aside as
/// `STORE.damaged-N` and the fresh store in place. Returns where the
/// damaged store went.
fn swap(path: &Path) -> Result<PathBuf> {
    // The first N whose database file is free: a swap that stopped after
    // moving the WAL but before the database resumes with the same N.
    let aside = (1..)
        .map(|n| with_suffix(path, &format!(".damaged-{n}")))
        .find(|aside| !aside.exists())
        .expect("some name is free");
    for suffix in COMPANIONS {
        let from = with_suffix(path, suffix);
        if from.exists() {
            let mut to = with_suffix(&aside, suffix);
            while to.exists() {
                // Never over anything: an older companion stays too.
                to = with_suffix(&to, ".1");
            }
            fs::rename(&from, &to).map_err(io)?;
        }
    }
    sync_dir(path)?;
    fs::rename(salvaged_path(path), path).map_err(io)?;
    sync_dir(path)?;
    Ok(aside)
}

/// Makes the renames in `path`'s directory durable.
fn sync_dir(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// The report of the last repair that built the store at `path`.
fn last_report(path: &Path) -> Result<RepairReport> {
    let conn = open_for_reading(path)?;
    let device: Vec<u8> = conn.query_row("SELECT actor FROM device WHERE id = 1", [], |r| r.get(0))?;
    let device = gridsync_proto::ActorId::from_slice(&device).ok_or(Error::Corrupt("device id"))?;
    let count = |r: &rusqlite::Row<'_>, i: usize| r.get::<_, Option<i64>>(i).map(|n| n.unwrap_or(0) as u64);
    let row = conn
        .query_row(
            "SELECT signing_key, profile, pinned_ca, unsent_changes, unsent_groups, lost_changes,
                    rejections, lost_rejections, records_kept, records_found
             FROM repairs ORDER BY id DESC LIMIT 1",
            [],
            |r| {
                Ok(RepairReport {
                    repaired: true,
                    resumed: false,
                    damaged_file: None,
                    device_id: device.to_string(),
                    enrollment: r.get(0)?,
                    profile: r.get(1)?,
                    pinned_ca: r.get(2)?,
                    unsent_changes: count(r, 3)?,
                    unsent_groups: count(r, 4)?,
                    lost_changes: count(r, 5)?,
                    rejections: count(r, 6)?,
                    lost_rejections: count(r, 7)?,
                    records_kept: count(r, 8)?,
                    records_found: count(r, 9)?,
                })
            },
        )
        .optional()?;
    row.ok_or(Error::Corrupt("the record of the repair"))
}
