//! What the store keeps sealed with the store key, and where: each value is
//! bound to its place (a record's id, an outbox or rejection position) so
//! that sealed values cannot be swapped between rows.

use gridsync_proto::{ActorId, Change, Hlc, HlcClock, Profile, RecordId, RecordState};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::{Device, DeviceSecret};
use crate::crypto::Cipher;
use crate::error::{Error, Result};

/// Where the key check is sealed, and what it holds.
pub(crate) const KEY_CHECK_AAD: &[u8] = b"key-check";
pub(crate) const KEY_CHECK: &[u8] = b"gridsync handset store key check";
/// Where the device secret is sealed.
const DEVICE_SECRET_AAD: &[u8] = b"device-secret";
/// Where the user's profile is sealed.
const PROFILE_AAD: &[u8] = b"profile";
/// Format byte in front of an encoded [`DeviceSecret`] or [`Profile`].
const FORMAT: u8 = 1;

pub(super) fn load_device(conn: &Connection, cipher: &Cipher) -> Result<Option<Device>> {
    let row = conn
        .query_row(
            "SELECT actor, server_url, hlc_millis, hlc_logical, cursor, key_check, secret, profile, restoring,
                    epoch
             FROM device WHERE id = 1",
            [],
            |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, Option<Vec<u8>>>(5)?,
                    r.get::<_, Option<Vec<u8>>>(6)?,
                    r.get::<_, Option<Vec<u8>>>(7)?,
                    r.get::<_, bool>(8)?,
                    r.get::<_, i64>(9)?,
                ))
            },
        )
        .optional()?;
    let Some((actor, server_url, millis, logical, cursor, key_check, secret, profile, restoring, epoch)) =
        row
    else {
        return Ok(None);
    };
    let key_check = key_check.ok_or(Error::Corrupt("device key check"))?;
    if cipher.open(KEY_CHECK_AAD, &key_check).ok().as_deref() != Some(KEY_CHECK) {
        return Err(Error::WrongKey);
    }
    let secret = open_secret(cipher, &secret.ok_or(Error::Corrupt("device secret"))?)?;
    let profile = profile.map(|sealed| open_profile(cipher, &sealed)).transpose()?;
    let actor = ActorId::from_slice(&actor).ok_or(Error::Corrupt("device id"))?;
    let last = Hlc { millis: millis as u64, logical: logical as u32 };
    Ok(Some(Device {
        actor,
        server_url,
        secret,
        profile,
        clock: HlcClock::resume(last),
        cursor: cursor as u64,
        restoring,
        epoch: epoch as u64,
    }))
}

/// Seals `value` behind a format byte, wiping the plaintext afterwards.
fn seal_encoded<T: serde::Serialize>(cipher: &Cipher, aad: &[u8], value: &T) -> Result<Vec<u8>> {
    let mut plain = postcard::to_extend(value, vec![FORMAT]).expect("encoding into a Vec cannot fail");
    let sealed = cipher.seal(aad, &plain);
    plain.fill(0);
    std::hint::black_box(&plain);
    sealed
}

/// Opens what [`seal_encoded`] sealed; `what` names it in errors.
fn open_encoded<T: serde::de::DeserializeOwned>(
    cipher: &Cipher,
    aad: &[u8],
    sealed: &[u8],
    what: &'static str,
) -> Result<T> {
    let mut plain = cipher.open(aad, sealed).map_err(|_| Error::Corrupt(what))?;
    let value = match plain.split_first() {
        Some((&FORMAT, rest)) => match postcard::take_from_bytes(rest) {
            Ok((value, [])) => Ok(value),
            _ => Err(Error::Corrupt(what)),
        },
        _ => Err(Error::Corrupt(what)),
    };
    plain.fill(0);
    std::hint::black_box(&plain);
    value
}

pub(crate) fn seal_secret(cipher: &Cipher, secret: &DeviceSecret) -> Result<Vec<u8>> {
    seal_encoded(cipher, DEVICE_SECRET_AAD, secret)
}

pub(crate) fn open_secret(cipher: &Cipher, sealed: &[u8]) -> Result<DeviceSecret> {
    open_encoded(cipher, DEVICE_SECRET_AAD, sealed, "device secret")
}

/// Stores the user's profile, sealed (it names the user), with its version.
pub(crate) fn save_profile(conn: &Connection, cipher: &Cipher, profile: &Profile) -> Result<()> {
    let sealed = seal_encoded(cipher, PROFILE_AAD, profile)?;
    conn.prepare_cached("UPDATE device SET profile = ?1, profile_version = ?2 WHERE id = 1")?
        .execute(params![sealed, profile.version as i64])?;
    Ok(())
}

pub(crate) fn open_profile(cipher: &Cipher, sealed: &[u8]) -> Result<Profile> {
    open_encoded(cipher, PROFILE_AAD, sealed, "user profile")
}

/// Where a record's state is sealed: bound to the record's id.
pub(super) fn record_aad(id: RecordId) -> Vec<u8> {
    [&b"record:"[..], &id.as_bytes()[..]].concat()
}

/// Where an outbox change is sealed: bound to its position in the outbox.
pub(super) fn outbox_aad(seq: i64) -> Vec<u8> {
    [&b"outbox:"[..], &seq.to_be_bytes()].concat()
}

/// Where a refused group is sealed: bound to its position.
pub(crate) fn rejected_aad(id: i64) -> Vec<u8> {
    [&b"rejected:"[..], &id.to_be_bytes()].concat()
}

pub(crate) fn load_state(conn: &Connection, cipher: &Cipher, id: RecordId) -> Result<Option<RecordState>> {
    let sealed: Option<Vec<u8>> = conn
        .prepare_cached("SELECT state FROM records WHERE id = ?1")?
        .query_row([id.as_bytes()], |r| r.get(0))
        .optional()?;
    sealed.map(|b| open_state(cipher, id, &b)).transpose()
}

pub(crate) fn save_state(tx: &Connection, cipher: &Cipher, state: &RecordState) -> Result<()> {
    let sealed = cipher.seal(&record_aad(state.id()), &state.to_bytes())?;
    tx.prepare_cached(
        "INSERT INTO records (id, kind, state, conflicted) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (id) DO UPDATE SET state = excluded.state, conflicted = excluded.conflicted",
    )?
    .execute(params![state.id().as_bytes(), state.kind().code(), sealed, state.has_conflicts()])?;
    Ok(())
}

/// Appends a write group to the outbox, each change sealed and bound to its
/// position; the group is numbered by its first change's position.
pub(super) fn queue_group(tx: &Transaction<'_>, cipher: &Cipher, changes: &[Change]) -> Result<()> {
    let mut group = None;
    for change in changes {
        // The position is known only once the row exists: insert, then fill in.
        tx.prepare_cached("INSERT INTO outbox (change, grp) VALUES (x'', 0)")?.execute([])?;
        let seq = tx.last_insert_rowid();
        let grp = *group.get_or_insert(seq);
        let plain = postcard::to_allocvec(change).expect("encoding into a Vec cannot fail");
        let sealed = cipher.seal(&outbox_aad(seq), &plain)?;
        tx.prepare_cached("UPDATE outbox SET change = ?1, grp = ?2 WHERE seq = ?3")?
            .execute(params![sealed, grp, seq])?;
    }
    Ok(())
}

/// Decrypts the outbox change at `seq` (its postcard encoding).
pub(crate) fn open_change(cipher: &Cipher, seq: i64, sealed: &[u8]) -> Result<Vec<u8>> {
    cipher.open(&outbox_aad(seq), sealed).map_err(|_| Error::Corrupt("outbox entry"))
}

/// Keeps a refused group for the user to see, sealed.
pub(crate) fn save_rejected(
    tx: &Connection,
    cipher: &Cipher,
    changes: &[Change],
    refusal: &gridsync_proto::Refusal,
    now: u64,
) -> Result<()> {
    let first = changes.first().ok_or(Error::Corrupt("an empty refused group"))?;
    tx.prepare_cached(
        "INSERT INTO rejected (record, kind, code, field, message, refused_ms, changes)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, x'')",
    )?
    .execute(params![
        first.record.as_bytes(),
        first.kind.code(),
        refusal.code.as_str(),
        refusal.field,
        refusal.message,
        now as i64
    ])?;
    let id = tx.last_insert_rowid();
    let sealed = seal_encoded(cipher, &rejected_aad(id), &changes.to_vec())?;
    tx.prepare_cached("UPDATE rejected SET changes = ?1 WHERE id = ?2")?.execute(params![sealed, id])?;
    Ok(())
}

/// Opens a refused group's changes.
pub(crate) fn open_rejected(cipher: &Cipher, id: i64, sealed: &[u8]) -> Result<Vec<Change>> {
    open_encoded(cipher, &rejected_aad(id), sealed, "refused changes")
}

pub(crate) fn save_clock(tx: &Connection, last: Hlc) -> Result<()> {
    tx.prepare_cached("UPDATE device SET hlc_millis = ?1, hlc_logical = ?2 WHERE id = 1")?
        .execute(params![last.millis as i64, last.logical])?;
    Ok(())
}

pub(crate) fn open_state(cipher: &Cipher, id: RecordId, sealed: &[u8]) -> Result<RecordState> {
    let plain = cipher.open(&record_aad(id), sealed).map_err(|_| Error::Corrupt("record state"))?;
    RecordState::from_bytes(&plain).map_err(|_| Error::Corrupt("record state"))
}
