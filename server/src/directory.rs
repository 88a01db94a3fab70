//! The server's view of the hierarchy: places and units as stored, read
//! into a [`Directory`] and cached by version.
//!
//! Every change to places, units or user assignments bumps
//! `meta.directory_version` in the same transaction ([`bump`]), whether it
//! comes through the admin API (the writer thread) or the operator's command
//! line (another process). A reader compares one integer before trusting
//! its cached copy, so no process ever checks a push against a stale
//! hierarchy, and devices learn from the version when to refresh their
//! profile.

use std::str::FromStr;
use std::sync::{Arc, Mutex};

use gridsync_proto::{Actor, Directory, Level, Place, Profile, Unit};
use rusqlite::{Connection, OptionalExtension};

use crate::db::WriteError;
use crate::identity;

/// The current directory version.
pub fn version(conn: &Connection) -> Result<u64, WriteError> {
    let v: i64 = conn
        .prepare_cached("SELECT value FROM meta WHERE key = 'directory_version'")?
        .query_row([], |r| r.get(0))?;
    Ok(v as u64)
}

/// Moves the directory version on; call in the transaction that changes the
/// hierarchy or a user's assignment.
///
/// The new version is the server's clock in microseconds (or one more than
/// the old version, if that is larger), not simply the old one plus one: a
/// transaction that bumps and then rolls back (its directory possibly cached
/// by the writer meanwhile) must not leave a number that a later bump would
/// hand out again for another directory.
pub fn bump(conn: &Connection) -> Result<u64, WriteError> {
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64);
    conn.prepare_cached("UPDATE meta SET value = max(value + 1, ?1) WHERE key = 'directory_version'")?
        .execute([micros])?;
    version(conn)
}

/// Reads every place and unit.
pub fn load(conn: &Connection) -> Result<Directory, WriteError> {
    let mut stmt = conn.prepare_cached("SELECT code, name, level, parent FROM places")?;
    let places = stmt
        .query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get(3)?))
        })?
        .map(|row| {
            let (code, name, level, parent) = row?;
            let level =
                Level::from_str(&level).map_err(|_| WriteError::Corrupt(format!("level of place {code}")))?;
            Ok(Place { code, name, level, parent })
        })
        .collect::<Result<Vec<_>, WriteError>>()?;
    let mut stmt = conn.prepare_cached("SELECT code, name, kind, place FROM units")?;
    let units = stmt
        .query_map([], |r| Ok(Unit { code: r.get(0)?, name: r.get(1)?, kind: r.get(2)?, place: r.get(3)? }))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Directory::new(places, units))
}

/// A directory cached by version, shared by the writer and the readers.
#[derive(Debug, Default)]
pub struct DirectoryCache {
    cached: Mutex<Option<(u64, Arc<Directory>)>>,
}

impl DirectoryCache {
    /// The current directory and its version, reloaded only when the version moved.
    pub fn get(&self, conn: &Connection) -> Result<(u64, Arc<Directory>), WriteError> {
        let current = version(conn)?;
        if let Some((v, dir)) = self.cached.lock().unwrap_or_else(|p| p.into_inner()).as_ref()
            && *v == current
        {
            return Ok((current, dir.clone()));
        }
        let dir = Arc::new(load(conn)?);
        *self.cached.lock().unwrap_or_else(|p| p.into_inner()) = Some((current, dir.clone()));
        Ok((current, dir))
    }
}

/// The rules' view of a user: role, place (`None` for the whole
/// deployment) and unit.
pub fn actor(conn: &Connection, user: &str) -> Result<Option<Actor>, WriteError> {
    let Some(found) = identity::get_user(conn, user)? else { return Ok(None) };
    let unit: Option<String> = conn
        .prepare_cached("SELECT unit FROM users WHERE name = ?1")?
        .query_row([user], |r| r.get(0))
        .optional()?
        .flatten();
    Ok(Some(Actor {
        user: found.name,
        role: found.role,
        place: (!found.scope.is_empty()).then_some(found.scope),
        unit,
    }))
}

/// The profile a device of `user` holds.
pub fn profile(conn: &Connection, cache: &DirectoryCache, user: &str) -> Result<Option<Profile>, WriteError> {
    let Some(actor) = actor(conn, user)? else { return Ok(None) };
    let (version, dir) = cache.get(conn)?;
    Ok(Some(Profile::for_actor(actor, &dir, version)))
}
