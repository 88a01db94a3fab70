//! The directory as the service reads it: places and units loaded through
//! the storage, cached by version.
//!
//! Every change to places, units or user assignments bumps the directory
//! version in the same transaction, whether it comes through the admin API
//! or the operator's command line (another process). A reader compares one
//! integer before trusting its cached copy, so no process ever checks a
//! push against a stale hierarchy, and devices learn from the version when
//! to refresh their profile.

use std::sync::{Arc, Mutex};

use gridsync_proto::{Actor, Directory, Profile};

use crate::storage::{DirectoryRead, IdentityRead, StorageResult};

/// Reads every place and unit into a [`Directory`].
pub fn load(tx: &mut (impl DirectoryRead + ?Sized)) -> StorageResult<Directory> {
    Ok(Directory::new(tx.places()?, tx.units()?))
}

/// A directory cached by version, shared by every transaction of a process.
/// It knows no storage: [`DirectoryCache::get`] is handed the version and a
/// loader.
#[derive(Debug, Default)]
pub struct DirectoryCache {
    cached: Mutex<Option<(u64, Arc<Directory>)>>,
}

impl DirectoryCache {
    /// The directory at `version`: the cached copy if it is of that version,
    /// else what `load` reads (and the cache keeps).
    pub fn get_or_load<E>(
        &self,
        version: u64,
        load: impl FnOnce() -> Result<Directory, E>,
    ) -> Result<Arc<Directory>, E> {
        if let Some((v, dir)) = self.cached.lock().unwrap_or_else(|p| p.into_inner()).as_ref()
            && *v == version
        {
            return Ok(dir.clone());
        }
        let dir = Arc::new(load()?);
        *self.cached.lock().unwrap_or_else(|p| p.into_inner()) = Some((version, dir.clone()));
        Ok(dir)
    }

    /// The current directory and its version, read through `tx`.
    pub fn get(&self, tx: &mut (impl DirectoryRead + ?Sized)) -> StorageResult<(u64, Arc<Directory>)> {
        let version = tx.directory_version()?;
        let dir = self.get_or_load(version, || load(tx))?;
        Ok((version, dir))
    }
}

/// The rules' view of a user: role, place (`None` for the whole
/// deployment) and unit.
pub fn actor(tx: &mut (impl IdentityRead + ?Sized), user: &str) -> StorageResult<Option<Actor>> {
    Ok(tx.user(user)?.map(|u| u.actor()))
}

/// The profile a device of `user` holds.
pub fn profile(
    tx: &mut (impl IdentityRead + DirectoryRead + ?Sized),
    cache: &DirectoryCache,
    user: &str,
) -> StorageResult<Option<Profile>> {
    let Some(actor) = actor(tx, user)? else { return Ok(None) };
    let (version, dir) = cache.get(tx)?;
    Ok(Some(Profile::for_actor(actor, &dir, version)))
}
