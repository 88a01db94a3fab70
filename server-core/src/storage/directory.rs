//! The directory: places (city → county → township → village → grid), units
//! (departments) and the version that moves with every change to either or
//! to a user's assignment.

use gridsync_proto::{Place, Unit};

use super::StorageResult;

/// Reads of the directory.
pub trait DirectoryRead {
    /// The current directory version.
    fn directory_version(&mut self) -> StorageResult<u64>;

    /// Every place, in any order.
    fn places(&mut self) -> StorageResult<Vec<Place>>;

    /// Every unit, in any order.
    fn units(&mut self) -> StorageResult<Vec<Unit>>;
}

/// Writes of the directory. The caller checks every rule (levels, known
/// parents, rights); the backend stores.
pub trait DirectoryWrite {
    /// Moves the directory version to `max(version + 1, at_least)` and
    /// returns it. The service passes the clock in microseconds, so that a
    /// bump rolled back (its directory possibly cached meanwhile) never
    /// leaves a number a later bump hands out again for another directory.
    fn bump_directory(&mut self, at_least: u64) -> StorageResult<u64>;

    /// Writes `now` into the `meta` row `health_probe` (creating it): the
    /// smallest write there is, committed to learn whether the database
    /// takes writes at all (see [`crate::service::health`]).
    fn probe_write(&mut self, now: u64) -> StorageResult<()>;

    /// Adds a place.
    fn insert_place(&mut self, place: &Place, now: u64) -> StorageResult<()>;

    /// Rewrites a place's name, level and parent; `moved` notes a new
    /// parent at `now`.
    fn update_place(&mut self, place: &Place, moved: bool, now: u64) -> StorageResult<()>;

    /// Adds a unit.
    fn insert_unit(&mut self, unit: &Unit, now: u64) -> StorageResult<()>;

    /// Rewrites a unit's name, kind and place.
    fn update_unit(&mut self, unit: &Unit) -> StorageResult<()>;

    /// Gives every user of `unit` the scope `place` (a department user's
    /// scope is their unit's place); returns how many users there were.
    fn move_unit_users(&mut self, unit: &str, place: &str) -> StorageResult<u64>;
}
