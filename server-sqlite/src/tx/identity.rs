//! Identity's SQL: `users`, `enrollments`, `devices` (as enrolled and
//! revoked) and `sessions`.

use std::str::FromStr;

use gridsync_proto::{ActorId, Role};
use gridsync_server_core::storage::{
    Device, DeviceKey, Enrollment, IdentityRead, IdentityWrite, NewDevice, NewEnrollment, NewSession,
    NewUser, StorageResult, User,
};
use rusqlite::{OptionalExtension, params};

use super::{SqliteTx, actor_id, run};
use crate::error::{Failure, corrupt};

fn role(text: &str) -> Result<Role, Failure> {
    Role::from_str(text).map_err(|_| corrupt("a user's role is not a known role"))
}

/// Reads `name, role, scope, active, password IS NOT NULL, unit,
/// must_change_password`.
fn user_row(row: &rusqlite::Row<'_>) -> Result<User, Failure> {
    Ok(User {
        name: row.get(0)?,
        role: role(&row.get::<_, String>(1)?)?,
        scope: row.get(2)?,
        unit: row.get(5)?,
        active: row.get(3)?,
        has_password: row.get(4)?,
        must_change_password: row.get(6)?,
    })
}

impl IdentityRead for SqliteTx<'_> {
    fn user(&mut self, name: &str) -> StorageResult<Option<User>> {
        run(|| {
            let mut stmt = self.conn.prepare_cached(
                "SELECT name, role, scope, active, password IS NOT NULL, unit, must_change_password FROM users WHERE name = ?1",
            )?;
            let mut rows = stmt.query([name])?;
            rows.next()?.map(user_row).transpose()
        })
    }

    fn users(&mut self) -> StorageResult<Vec<User>> {
        run(|| {
            let mut stmt = self.conn.prepare_cached(
                "SELECT name, role, scope, active, password IS NOT NULL, unit, must_change_password FROM users ORDER BY name",
            )?;
            let mut rows = stmt.query([])?;
            let mut users = Vec::new();
            while let Some(row) = rows.next()? {
                users.push(user_row(row)?);
            }
            Ok(users)
        })
    }

    fn password_hash(&mut self, name: &str) -> StorageResult<Option<String>> {
        run(|| {
            Ok(self
                .conn
                .prepare_cached("SELECT password FROM users WHERE name = ?1")?
                .query_row([name], |r| r.get::<_, Option<String>>(0))
                .optional()?
                .flatten())
        })
    }

    fn device_key(&mut self, id: ActorId) -> StorageResult<Option<DeviceKey>> {
        run(|| {
            Ok(self
                .conn
                .prepare_cached(
                    "SELECT d.public_key, d.user, d.revoked_ms IS NOT NULL OR u.active = 0, d.wipe
                     FROM devices d JOIN users u ON u.name = d.user
                     WHERE d.id = ?1 AND d.public_key IS NOT NULL",
                )?
                .query_row([id.as_bytes()], |r| {
                    Ok(DeviceKey {
                        public_key: r.get(0)?,
                        user: r.get(1)?,
                        revoked: r.get(2)?,
                        wipe: r.get(3)?,
                    })
                })
                .optional()?)
        })
    }

    fn devices(&mut self) -> StorageResult<Vec<Device>> {
        run(|| {
            let mut stmt = self.conn.prepare_cached(
                "SELECT id, user, enrolled_ms, revoked_ms, wipe, last_push_ms, changes FROM devices
                 ORDER BY enrolled_ms DESC, id",
            )?;
            let mut rows = stmt.query([])?;
            let mut devices = Vec::new();
            while let Some(row) = rows.next()? {
                let last_push: i64 = row.get(5)?;
                devices.push(Device {
                    id: actor_id(row, 0, "a device id")?,
                    user: row.get(1)?,
                    enrolled_ms: row.get::<_, Option<i64>>(2)?.map(|v| v as u64),
                    revoked_ms: row.get::<_, Option<i64>>(3)?.map(|v| v as u64),
                    wipe: row.get(4)?,
                    last_push_ms: (last_push > 0).then_some(last_push as u64),
                    changes: row.get::<_, i64>(6)? as u64,
                });
            }
            Ok(devices)
        })
    }

    fn device_exists(&mut self, id: ActorId) -> StorageResult<bool> {
        run(|| {
            Ok(self
                .conn
                .prepare_cached("SELECT count(*) > 0 FROM devices WHERE id = ?1")?
                .query_row([id.as_bytes()], |r| r.get(0))?)
        })
    }

    fn device_user(&mut self, id: ActorId) -> StorageResult<Option<String>> {
        run(|| {
            Ok(self
                .conn
                .prepare_cached("SELECT user FROM devices WHERE id = ?1")?
                .query_row([id.as_bytes()], |r| r.get::<_, Option<String>>(0))
                .optional()?
                .flatten())
        })
    }

    fn device_users(&mut self, user: Option<&str>) -> StorageResult<Vec<User>> {
        run(|| {
            let mut stmt = self.conn.prepare_cached(
                "SELECT name, role, scope, active, password IS NOT NULL, unit, must_change_password FROM users u
                 WHERE active = 1 AND (?1 IS NULL OR name = ?1)
                   AND EXISTS (SELECT 1 FROM devices d WHERE d.user = u.name
                               AND d.enrolled_ms IS NOT NULL AND d.revoked_ms IS NULL)
                 ORDER BY name",
            )?;
            let mut rows = stmt.query([user])?;
            let mut users = Vec::new();
            while let Some(row) = rows.next()? {
                users.push(user_row(row)?);
            }
            Ok(users)
        })
    }

    fn enrollment(&mut self, code_hash: &[u8]) -> StorageResult<Option<Enrollment>> {
        run(|| {
            Ok(self
                .conn
                .prepare_cached("SELECT user, expires_ms, used_ms FROM enrollments WHERE code_hash = ?1")?
                .query_row([code_hash], |r| {
                    Ok(Enrollment {
                        user: r.get(0)?,
                        expires_ms: r.get::<_, i64>(1)? as u64,
                        used_ms: r.get::<_, Option<i64>>(2)?.map(|v| v as u64),
                    })
                })
                .optional()?)
        })
    }

    fn session_user(&mut self, token_hash: &[u8], now: u64) -> StorageResult<Option<String>> {
        run(|| {
            Ok(self
                .conn
                .prepare_cached("SELECT user FROM sessions WHERE token_hash = ?1 AND expires_ms > ?2")?
                .query_row(params![token_hash, now as i64], |r| r.get(0))
                .optional()?)
        })
    }
}

impl IdentityWrite for SqliteTx<'_> {
    fn insert_user(&mut self, user: &NewUser<'_>) -> StorageResult<()> {
        run(|| {
            self.conn
                .prepare_cached(
                    "INSERT INTO users (name, role, scope, unit, password, active, created_ms,
                                        must_change_password)
                     VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?5 IS NOT NULL)",
                )?
                .execute(params![
                    user.name,
                    user.role.name(),
                    user.scope,
                    user.unit,
                    user.password_hash,
                    user.now as i64
                ])?;
            Ok(())
        })
    }

    fn assign_user(&mut self, name: &str, scope: &str, unit: Option<&str>) -> StorageResult<()> {
        run(|| {
            self.conn
                .prepare_cached("UPDATE users SET scope = ?2, unit = ?3 WHERE name = ?1")?
                .execute(params![name, scope, unit])?;
            Ok(())
        })
    }

    fn set_password(&mut self, name: &str, hash: &str, one_time: bool) -> StorageResult<bool> {
        run(|| {
            let n = self
                .conn
                .prepare_cached("UPDATE users SET password = ?2, must_change_password = ?3 WHERE name = ?1")?
                .execute(params![name, hash, one_time])?;
            Ok(n > 0)
        })
    }

    fn deactivate_user(&mut self, name: &str, now: u64) -> StorageResult<Option<u64>> {
        run(|| {
            let n =
                self.conn.prepare_cached("UPDATE users SET active = 0 WHERE name = ?1")?.execute([name])?;
            if n == 0 {
                return Ok(None);
            }
            let revoked = self
                .conn
                .prepare_cached("UPDATE devices SET revoked_ms = ?2 WHERE user = ?1 AND revoked_ms IS NULL")?
                .execute(params![name, now as i64])?;
            self.conn.prepare_cached("DELETE FROM sessions WHERE user = ?1")?.execute([name])?;
            Ok(Some(revoked as u64))
        })
    }

    fn insert_enrollment(&mut self, enrollment: &NewEnrollment<'_>) -> StorageResult<()> {
        run(|| {
            self.conn
                .prepare_cached(
                    "INSERT INTO enrollments (code_hash, user, created_ms, expires_ms) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![
                    enrollment.code_hash,
                    enrollment.user,
                    enrollment.created_ms as i64,
                    enrollment.expires_ms as i64
                ])?;
            Ok(())
        })
    }

    fn use_enrollment(&mut self, code_hash: &[u8], device: ActorId, now: u64) -> StorageResult<()> {
        run(|| {
            self.conn
                .prepare_cached("UPDATE enrollments SET used_ms = ?2, device = ?3 WHERE code_hash = ?1")?
                .execute(params![code_hash, now as i64, device.as_bytes()])?;
            Ok(())
        })
    }

    fn insert_device(&mut self, device: &NewDevice<'_>) -> StorageResult<()> {
        run(|| {
            self.conn
                .prepare_cached(
                    "INSERT INTO devices (id, first_seen_ms, last_push_ms, changes, user, public_key, enrolled_ms)
                     VALUES (?1, ?2, 0, 0, ?3, ?4, ?2)",
                )?
                .execute(params![device.id.as_bytes(), device.now as i64, device.user, device.public_key])?;
            Ok(())
        })
    }

    fn revoke_device(&mut self, id: ActorId, now: u64, wipe: bool) -> StorageResult<bool> {
        run(|| {
            let n = self
                .conn
                .prepare_cached(
                    "UPDATE devices SET revoked_ms = coalesce(revoked_ms, ?2), wipe = wipe OR ?3 WHERE id = ?1",
                )?
                .execute(params![id.as_bytes(), now as i64, wipe])?;
            Ok(n > 0)
        })
    }

    fn insert_session(&mut self, session: &NewSession<'_>) -> StorageResult<()> {
        run(|| {
            self.conn
                .prepare_cached(
                    "INSERT INTO sessions (token_hash, user, created_ms, expires_ms) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![
                    session.token_hash,
                    session.user,
                    session.created_ms as i64,
                    session.expires_ms as i64
                ])?;
            Ok(())
        })
    }

    fn delete_session(&mut self, token_hash: &[u8]) -> StorageResult<()> {
        run(|| {
            self.conn.prepare_cached("DELETE FROM sessions WHERE token_hash = ?1")?.execute([token_hash])?;
            Ok(())
        })
    }

    fn end_sessions(&mut self, user: &str, keep: Option<&[u8]>) -> StorageResult<u64> {
        run(|| {
            let n = self
                .conn
                .prepare_cached("DELETE FROM sessions WHERE user = ?1 AND token_hash IS NOT ?2")?
                .execute(params![user, keep])?;
            Ok(n as u64)
        })
    }

    fn purge_sessions(&mut self, now: u64) -> StorageResult<()> {
        run(|| {
            self.conn.prepare_cached("DELETE FROM sessions WHERE expires_ms < ?1")?.execute([now as i64])?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use gridsync_server_core::storage::{IdentityRead, IdentityWrite, NewDevice, NewSession, NewUser};

    use super::*;
    use crate::SCHEMA;

    #[test]
    fn deactivation_revokes_devices_and_ends_sessions_and_revocation_keeps_the_first_time() {
        let dir = tempfile::tempdir().expect("tempdir");
        let conn = gridsync_sql_support::open(&dir.path().join("i.db"), &SCHEMA).expect("open");
        let mut tx = SqliteTx::new(&conn);
        let user =
            NewUser { name: "wang", role: Role::Worker, scope: "", unit: None, password_hash: None, now: 1 };
        tx.insert_user(&user).expect("user");
        let (phone, tablet) = (ActorId::random(), ActorId::random());
        for id in [phone, tablet] {
            tx.insert_device(&NewDevice { id, user: "wang", public_key: &[7; 32], now: 2 }).expect("device");
        }
        assert!(tx.revoke_device(tablet, 3, false).expect("revoke"));
        let session = NewSession { token_hash: &[1; 32], user: "wang", created_ms: 2, expires_ms: 100 };
        tx.insert_session(&session).expect("session");
        assert_eq!(tx.session_user(&[1; 32], 50).expect("live").as_deref(), Some("wang"));
        assert_eq!(tx.device_users(Some("wang")).expect("actors").len(), 1);

        assert_eq!(
            tx.deactivate_user("wang", 5).expect("deactivate"),
            Some(1),
            "the tablet was revoked already"
        );
        assert_eq!(tx.deactivate_user("nobody", 5).expect("deactivate"), None);
        assert_eq!(tx.session_user(&[1; 32], 50).expect("ended"), None);
        assert!(tx.device_users(None).expect("actors").is_empty());
        let key = tx.device_key(phone).expect("key").expect("enrolled");
        assert!(key.revoked && !key.wipe);

        assert!(tx.revoke_device(tablet, 9, true).expect("wipe"));
        assert!(tx.revoke_device(tablet, 10, false).expect("again"));
        let tablet_row = tx.devices().expect("devices").into_iter().find(|d| d.id == tablet).expect("tablet");
        assert_eq!((tablet_row.revoked_ms, tablet_row.wipe), (Some(3), true), "first time kept, wipe sticks");
        assert!(!tx.revoke_device(ActorId::random(), 9, true).expect("unknown"));
        assert!(!tx.set_password("nobody", "x", false).expect("unknown"));
    }
}
