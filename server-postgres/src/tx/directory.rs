//! The directory's SQL: `places`, `units`, `meta.directory_version`, and
//! the users who move with their unit. Every server process compares the
//! stored version with its cache's before trusting the cache, so an edit
//! made through one process is seen by every other on its next transaction.

use std::str::FromStr;

use gridsync_proto::{Level, Place, Unit};
use gridsync_server_core::storage::{DirectoryRead, DirectoryWrite, StorageResult};

use super::{PgTx, get, int, run, uint};
use crate::error::{Failure, corrupt};

impl PgTx<'_> {
    fn version(&self) -> Result<u64, Failure> {
        let row = self.row("SELECT value FROM meta WHERE key = 'directory_version'", &[])?;
        let row = row.ok_or_else(|| corrupt("the directory version is missing"))?;
        uint(&row, 0, "the directory version")
    }
}

impl DirectoryRead for PgTx<'_> {
    fn directory_version(&mut self) -> StorageResult<u64> {
        run(|| self.version())
    }

    fn places(&mut self) -> StorageResult<Vec<Place>> {
        run(|| {
            let rows = self.rows("SELECT code, name, level, parent FROM places", &[])?;
            rows.iter()
                .map(|row| {
                    let code: String = get(row, 0, "a place's code")?;
                    let level = Level::from_str(get(row, 2, "a place's level")?)
                        .map_err(|_| corrupt(format!("the level of place {code}")))?;
                    Ok(Place {
                        name: get(row, 1, "a place's name")?,
                        level,
                        parent: get(row, 3, "a place's parent")?,
                        code,
                    })
                })
                .collect()
        })
    }

    fn units(&mut self) -> StorageResult<Vec<Unit>> {
        run(|| {
            let rows = self.rows("SELECT code, name, kind, place FROM units", &[])?;
            rows.iter()
                .map(|row| {
                    Ok(Unit {
                        code: get(row, 0, "a unit's code")?,
                        name: get(row, 1, "a unit's name")?,
                        kind: get(row, 2, "a unit's kind")?,
                        place: get(row, 3, "a unit's place")?,
                    })
                })
                .collect()
        })
    }
}

impl DirectoryWrite for PgTx<'_> {
    fn probe_write(&mut self, now: u64) -> StorageResult<()> {
        run(|| {
            self.execute(
                "INSERT INTO meta (key, value) VALUES ('health_probe', $1)
                 ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                &[&int(now)],
            )?;
            Ok(())
        })
    }

    fn bump_directory(&mut self, at_least: u64) -> StorageResult<u64> {
        run(|| {
            let row = self.one(
                "UPDATE meta SET value = greatest(value + 1, $1) WHERE key = 'directory_version' RETURNING value",
                &[&int(at_least)],
            )?;
            uint(&row, 0, "the directory version")
        })
    }

    fn insert_place(&mut self, place: &Place, now: u64) -> StorageResult<()> {
        run(|| {
            self.execute(
                "INSERT INTO places (code, name, level, parent, created_ms) VALUES ($1, $2, $3, $4, $5)",
                &[&place.code, &place.name, &place.level.name(), &place.parent, &int(now)],
            )?;
            Ok(())
        })
    }

    fn update_place(&mut self, place: &Place, moved: bool, now: u64) -> StorageResult<()> {
        run(|| {
            self.execute(
                "UPDATE places SET name = $2, level = $3, parent = $4,
                 moved_ms = CASE WHEN $5 THEN $6 ELSE moved_ms END WHERE code = $1",
                &[&place.code, &place.name, &place.level.name(), &place.parent, &moved, &int(now)],
            )?;
            Ok(())
        })
    }

    fn insert_unit(&mut self, unit: &Unit, now: u64) -> StorageResult<()> {
        run(|| {
            self.execute(
                "INSERT INTO units (code, name, kind, place, created_ms) VALUES ($1, $2, $3, $4, $5)",
                &[&unit.code, &unit.name, &unit.kind, &unit.place, &int(now)],
            )?;
            Ok(())
        })
    }

    fn update_unit(&mut self, unit: &Unit) -> StorageResult<()> {
        run(|| {
            self.execute(
                "UPDATE units SET name = $2, kind = $3, place = $4 WHERE code = $1",
                &[&unit.code, &unit.name, &unit.kind, &unit.place],
            )?;
            Ok(())
        })
    }

    fn move_unit_users(&mut self, unit: &str, place: &str) -> StorageResult<u64> {
        run(|| self.execute("UPDATE users SET scope = $2 WHERE unit = $1", &[&unit, &place]))
    }
}
