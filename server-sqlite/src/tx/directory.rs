//! The directory's SQL: `places`, `units`, `meta.directory_version`, and
//! the users who move with their unit.

use std::str::FromStr;

use gridsync_proto::{Level, Place, Unit};
use gridsync_server_core::storage::{DirectoryRead, DirectoryWrite, StorageResult};
use rusqlite::{OptionalExtension, params};

use super::{SqliteTx, run};
use crate::error::{Failure, corrupt};

impl SqliteTx<'_> {
    fn version(&self) -> Result<u64, Failure> {
        let version: Option<i64> = self
            .conn
            .prepare_cached("SELECT value FROM meta WHERE key = 'directory_version'")?
            .query_row([], |r| r.get(0))
            .optional()?;
        version.map(|v| v as u64).ok_or_else(|| corrupt("the directory version is missing"))
    }
}

impl DirectoryRead for SqliteTx<'_> {
    fn directory_version(&mut self) -> StorageResult<u64> {
        run(|| self.version())
    }

    fn places(&mut self) -> StorageResult<Vec<Place>> {
        run(|| {
            let mut stmt = self.conn.prepare_cached("SELECT code, name, level, parent FROM places")?;
            let mut rows = stmt.query([])?;
            let mut places = Vec::new();
            while let Some(row) = rows.next()? {
                let code: String = row.get(0)?;
                let level = Level::from_str(&row.get::<_, String>(2)?)
                    .map_err(|_| corrupt(format!("the level of place {code}")))?;
                places.push(Place { code, name: row.get(1)?, level, parent: row.get(3)? });
            }
            Ok(places)
        })
    }

    fn units(&mut self) -> StorageResult<Vec<Unit>> {
        run(|| {
            let mut stmt = self.conn.prepare_cached("SELECT code, name, kind, place FROM units")?;
            let rows = stmt.query_map([], |r| {
                Ok(Unit { code: r.get(0)?, name: r.get(1)?, kind: r.get(2)?, place: r.get(3)? })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }
}

impl DirectoryWrite for SqliteTx<'_> {
    fn probe_write(&mut self, now: u64) -> StorageResult<()> {
        run(|| {
            self.conn
                .prepare_cached(
                    "INSERT INTO meta (key, value) VALUES ('health_probe', ?1)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                )?
                .execute([now as i64])?;
            Ok(())
        })
    }

    fn bump_directory(&mut self, at_least: u64) -> StorageResult<u64> {
        run(|| {
            self.conn
                .prepare_cached("UPDATE meta SET value = max(value + 1, ?1) WHERE key = 'directory_version'")?
                .execute([at_least as i64])?;
            self.version()
        })
    }

    fn insert_place(&mut self, place: &Place, now: u64) -> StorageResult<()> {
        run(|| {
            self.conn
                .prepare_cached(
                    "INSERT INTO places (code, name, level, parent, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![place.code, place.name, place.level.name(), place.parent, now as i64])?;
            Ok(())
        })
    }

    fn update_place(&mut self, place: &Place, moved: bool, now: u64) -> StorageResult<()> {
        run(|| {
            self.conn
                .prepare_cached(
                    "UPDATE places SET name = ?2, level = ?3, parent = ?4,
                     moved_ms = CASE WHEN ?5 THEN ?6 ELSE moved_ms END WHERE code = ?1",
                )?
                .execute(params![
                    place.code,
                    place.name,
                    place.level.name(),
                    place.parent,
                    moved,
                    now as i64
                ])?;
            Ok(())
        })
    }

    fn insert_unit(&mut self, unit: &Unit, now: u64) -> StorageResult<()> {
        run(|| {
            self.conn
                .prepare_cached(
                    "INSERT INTO units (code, name, kind, place, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![unit.code, unit.name, unit.kind, unit.place, now as i64])?;
            Ok(())
        })
    }

    fn update_unit(&mut self, unit: &Unit) -> StorageResult<()> {
        run(|| {
            self.conn
                .prepare_cached("UPDATE units SET name = ?2, kind = ?3, place = ?4 WHERE code = ?1")?
                .execute(params![unit.code, unit.name, unit.kind, unit.place])?;
            Ok(())
        })
    }

    fn move_unit_users(&mut self, unit: &str, place: &str) -> StorageResult<u64> {
        run(|| {
            let moved = self
                .conn
                .prepare_cached("UPDATE users SET scope = ?2 WHERE unit = ?1")?
                .execute(params![unit, place])?;
            Ok(moved as u64)
        })
    }
}

#[cfg(test)]
mod tests {
    use gridsync_proto::Role;
    use gridsync_server_core::storage::{IdentityRead, IdentityWrite, NewUser};

    use super::*;
    use crate::SCHEMA;

    fn place(code: &str, level: Level, parent: Option<&str>) -> Place {
        Place { code: code.into(), name: format!("{code} 名"), level, parent: parent.map(Into::into) }
    }

    #[test]
    fn places_move_units_carry_their_users_and_the_version_rises() {
        let dir = tempfile::tempdir().expect("tempdir");
        let conn = gridsync_sql_support::open(&dir.path().join("d.db"), &SCHEMA).expect("open");
        let mut tx = SqliteTx::new(&conn);
        assert_eq!(tx.directory_version().expect("version"), 1);
        for p in [place("T1", Level::Township, None), place("T2", Level::Township, None)] {
            tx.insert_place(&p, 10).expect("place");
        }
        tx.insert_place(&place("V1", Level::Village, Some("T1")), 10).expect("village");
        tx.update_place(&place("V1", Level::Village, Some("T2")), true, 20).expect("move");
        tx.update_place(
            &Place { name: "东门村".into(), ..place("V1", Level::Village, Some("T2")) },
            false,
            30,
        )
        .expect("rename");
        let moved_ms: Option<i64> =
            conn.query_row("SELECT moved_ms FROM places WHERE code = 'V1'", [], |r| r.get(0)).expect("row");
        assert_eq!(moved_ms, Some(20), "a rename is no move");
        let v1 = tx.places().expect("places").into_iter().find(|p| p.code == "V1").expect("V1");
        assert_eq!((v1.name.as_str(), v1.parent.as_deref()), ("东门村", Some("T2")));

        let unit =
            Unit { code: "U1".into(), name: "派出所".into(), kind: "police".into(), place: "T1".into() };
        tx.insert_unit(&unit, 10).expect("unit");
        let cop = NewUser {
            name: "cop",
            role: Role::Department,
            scope: "T1",
            unit: Some("U1"),
            password_hash: None,
            now: 10,
        };
        tx.insert_user(&cop).expect("user");
        tx.update_unit(&Unit { place: "T2".into(), ..unit }).expect("move unit");
        assert_eq!(tx.move_unit_users("U1", "T2").expect("users"), 1);
        assert_eq!(tx.user("cop").expect("read").expect("cop").scope, "T2");
        assert_eq!(tx.units().expect("units")[0].place, "T2");

        assert_eq!(tx.bump_directory(0).expect("bump"), 2, "one more than before");
        assert_eq!(tx.bump_directory(1_000_000).expect("bump"), 1_000_000, "at least the clock");
        assert_eq!(tx.bump_directory(5).expect("bump"), 1_000_001);
    }
}
