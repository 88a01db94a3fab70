//! Identity's SQL: `users`, `enrollments`, `devices` (as enrolled and
//! revoked) and `sessions`. The column `user` is a reserved word in
//! PostgreSQL and is quoted everywhere.

use std::str::FromStr;

use gridsync_proto::{ActorId, Role};
use gridsync_server_core::storage::{
    Device, DeviceKey, Enrollment, IdentityRead, IdentityWrite, NewDevice, NewEnrollment, NewSession,
    NewUser, StorageResult, User,
};
use tokio_postgres::Row;

use super::{PgTx, actor_id, get, int, opt_uint, run, uint};
use crate::error::{Failure, corrupt};

/// The columns [`user_row`] reads.
macro_rules! user_columns {
    () => {
        "name, role, scope, active, password IS NOT NULL, unit, must_change_password"
    };
}

fn role(text: &str) -> Result<Role, Failure> {
    Role::from_str(text).map_err(|_| corrupt("a user's role is not a known role"))
}

/// Reads the columns of `user_columns!`.
fn user_row(row: &Row) -> Result<User, Failure> {
    Ok(User {
        name: get(row, 0, "a user's name")?,
        role: role(get(row, 1, "a user's role")?)?,
        scope: get(row, 2, "a user's scope")?,
        unit: get(row, 5, "a user's unit")?,
        active: get(row, 3, "a user's active flag")?,
        has_password: get(row, 4, "whether a user has a password")?,
        must_change_password: get(row, 6, "whether a user must change their password")?,
    })
}

impl IdentityRead for PgTx<'_> {
    fn user(&mut self, name: &str) -> StorageResult<Option<User>> {
        run(|| {
            let row =
                self.row(concat!("SELECT ", user_columns!(), " FROM users WHERE name = $1"), &[&name])?;
            row.as_ref().map(user_row).transpose()
        })
    }

    fn users(&mut self) -> StorageResult<Vec<User>> {
        run(|| {
            let rows = self
                .rows(concat!("SELECT ", user_columns!(), " FROM users ORDER BY name COLLATE \"C\""), &[])?;
            rows.iter().map(user_row).collect()
        })
    }

    fn password_hash(&mut self, name: &str) -> StorageResult<Option<String>> {
        run(|| {
            let row = self.row("SELECT password FROM users WHERE name = $1", &[&name])?;
            Ok(row.map(|r| get::<Option<String>>(&r, 0, "a password hash")).transpose()?.flatten())
        })
    }

    fn device_key(&mut self, id: ActorId) -> StorageResult<Option<DeviceKey>> {
        run(|| {
            let row = self.row(
                "SELECT d.public_key, d.\"user\", d.revoked_ms IS NOT NULL OR NOT u.active, d.wipe
                 FROM devices d JOIN users u ON u.name = d.\"user\"
                 WHERE d.id = $1 AND d.public_key IS NOT NULL",
                &[&id.as_bytes().as_slice()],
            )?;
            row.map(|r| {
                Ok(DeviceKey {
                    public_key: get(&r, 0, "a device's public key")?,
                    user: get(&r, 1, "a device's user")?,
                    revoked: get(&r, 2, "whether a device is revoked")?,
                    wipe: get(&r, 3, "a device's wipe flag")?,
                })
            })
            .transpose()
        })
    }

    fn devices(&mut self) -> StorageResult<Vec<Device>> {
        run(|| {
            // SQLite sorts NULL below every value: devices never enrolled last.
            let rows = self.rows(
                "SELECT id, \"user\", enrolled_ms, revoked_ms, wipe, last_push_ms, changes FROM devices
                 ORDER BY enrolled_ms DESC NULLS LAST, id",
                &[],
            )?;
            rows.iter()
                .map(|row| {
                    let last_push: i64 = get(row, 5, "a device's last push")?;
                    Ok(Device {
                        id: actor_id(row, 0, "a device id")?,
                        user: get(row, 1, "a device's user")?,
                        enrolled_ms: opt_uint(row, 2, "a device's enrollment time")?,
                        revoked_ms: opt_uint(row, 3, "a device's revocation time")?,
                        wipe: get(row, 4, "a device's wipe flag")?,
                        last_push_ms: u64::try_from(last_push).ok().filter(|t| *t > 0),
                        changes: uint(row, 6, "a device's change count")?,
                    })
                })
                .collect()
        })
    }

    fn device_exists(&mut self, id: ActorId) -> StorageResult<bool> {
        run(|| {
            let row = self
                .one("SELECT EXISTS (SELECT 1 FROM devices WHERE id = $1)", &[&id.as_bytes().as_slice()])?;
            get(&row, 0, "whether a device exists")
        })
    }

    fn device_user(&mut self, id: ActorId) -> StorageResult<Option<String>> {
        run(|| {
            let row = self.row("SELECT \"user\" FROM devices WHERE id = $1", &[&id.as_bytes().as_slice()])?;
            Ok(row.map(|r| get::<Option<String>>(&r, 0, "a device's user")).transpose()?.flatten())
        })
    }

    fn device_users(&mut self, user: Option<&str>) -> StorageResult<Vec<User>> {
        run(|| {
            let rows = self.rows(
                concat!(
                    "SELECT ",
                    user_columns!(),
                    " FROM users u
                     WHERE active AND ($1::text IS NULL OR name = $1)
                       AND EXISTS (SELECT 1 FROM devices d WHERE d.\"user\" = u.name
                                   AND d.enrolled_ms IS NOT NULL AND d.revoked_ms IS NULL)
                     ORDER BY name COLLATE \"C\""
                ),
                &[&user],
            )?;
            rows.iter().map(user_row).collect()
        })
    }

    /// In a write transaction the code's row is locked (`FOR UPDATE`) as it
    /// is read: the service checks that the code is unused and then marks
    /// it used, and two processes enrolling with one code at once must not
    /// both pass the check. The second waits for the first to commit and
    /// then reads the code as used.
    fn enrollment(&mut self, code_hash: &[u8]) -> StorageResult<Option<Enrollment>> {
        run(|| {
            let sql = if self.writes() {
                "SELECT \"user\", expires_ms, used_ms FROM enrollments WHERE code_hash = $1 FOR UPDATE"
            } else {
                "SELECT \"user\", expires_ms, used_ms FROM enrollments WHERE code_hash = $1"
            };
            let row = self.row(sql, &[&code_hash])?;
            row.map(|r| {
                Ok(Enrollment {
                    user: get(&r, 0, "an enrollment's user")?,
                    expires_ms: uint(&r, 1, "an enrollment's expiry")?,
                    used_ms: opt_uint(&r, 2, "an enrollment's use time")?,
                })
            })
            .transpose()
        })
    }

    fn session_user(&mut self, token_hash: &[u8], now: u64) -> StorageResult<Option<String>> {
        run(|| {
            let row = self.row(
                "SELECT \"user\" FROM sessions WHERE token_hash = $1 AND expires_ms > $2",
                &[&token_hash, &int(now)],
            )?;
            row.map(|r| get(&r, 0, "a session's user")).transpose()
        })
    }
}

impl IdentityWrite for PgTx<'_> {
    fn insert_user(&mut self, user: &NewUser<'_>) -> StorageResult<()> {
        run(|| {
            self.execute(
                "INSERT INTO users (name, role, scope, unit, password, active, created_ms,
                                    must_change_password)
                 VALUES ($1, $2, $3, $4, $5::text, true, $6, $5::text IS NOT NULL)",
                &[
                    &user.name,
                    &user.role.name(),
                    &user.scope,
                    &user.unit,
                    &user.password_hash,
                    &int(user.now),
                ],
            )?;
            Ok(())
        })
    }

    fn assign_user(&mut self, name: &str, scope: &str, unit: Option<&str>) -> StorageResult<()> {
        run(|| {
            self.execute("UPDATE users SET scope = $2, unit = $3 WHERE name = $1", &[&name, &scope, &unit])?;
            Ok(())
        })
    }

    fn set_password(&mut self, name: &str, hash: &str, one_time: bool) -> StorageResult<bool> {
        run(|| {
            let sql = "UPDATE users SET password = $2, must_change_password = $3 WHERE name = $1";
            Ok(self.execute(sql, &[&name, &hash, &one_time])? > 0)
        })
    }

    fn deactivate_user(&mut self, name: &str, now: u64) -> StorageResult<Option<u64>> {
        run(|| {
            if self.execute("UPDATE users SET active = false WHERE name = $1", &[&name])? == 0 {
                return Ok(None);
            }
            let revoked = self.execute(
                "UPDATE devices SET revoked_ms = $2 WHERE \"user\" = $1 AND revoked_ms IS NULL",
                &[&name, &int(now)],
            )?;
            self.execute("DELETE FROM sessions WHERE \"user\" = $1", &[&name])?;
            Ok(Some(revoked))
        })
    }

    fn insert_enrollment(&mut self, enrollment: &NewEnrollment<'_>) -> StorageResult<()> {
        run(|| {
            self.execute(
                "INSERT INTO enrollments (code_hash, \"user\", created_ms, expires_ms) VALUES ($1, $2, $3, $4)",
                &[
                    &enrollment.code_hash,
                    &enrollment.user,
                    &int(enrollment.created_ms),
                    &int(enrollment.expires_ms),
                ],
            )?;
            Ok(())
        })
    }

    fn use_enrollment(&mut self, code_hash: &[u8], device: ActorId, now: u64) -> StorageResult<()> {
        run(|| {
            self.execute(
                "UPDATE enrollments SET used_ms = $2, device = $3 WHERE code_hash = $1",
                &[&code_hash, &int(now), &device.as_bytes().as_slice()],
            )?;
            Ok(())
        })
    }

    fn insert_device(&mut self, device: &NewDevice<'_>) -> StorageResult<()> {
        run(|| {
            self.execute(
                "INSERT INTO devices (id, first_seen_ms, last_push_ms, changes, \"user\", public_key, enrolled_ms)
                 VALUES ($1, $2, 0, 0, $3, $4, $2)",
                &[&device.id.as_bytes().as_slice(), &int(device.now), &device.user, &device.public_key],
            )?;
            Ok(())
        })
    }

    fn revoke_device(&mut self, id: ActorId, now: u64, wipe: bool) -> StorageResult<bool> {
        run(|| {
            let n = self.execute(
                "UPDATE devices SET revoked_ms = coalesce(revoked_ms, $2), wipe = wipe OR $3 WHERE id = $1",
                &[&id.as_bytes().as_slice(), &int(now), &wipe],
            )?;
            Ok(n > 0)
        })
    }

    fn insert_session(&mut self, session: &NewSession<'_>) -> StorageResult<()> {
        run(|| {
            self.execute(
                "INSERT INTO sessions (token_hash, \"user\", created_ms, expires_ms) VALUES ($1, $2, $3, $4)",
                &[&session.token_hash, &session.user, &int(session.created_ms), &int(session.expires_ms)],
            )?;
            Ok(())
        })
    }

    fn delete_session(&mut self, token_hash: &[u8]) -> StorageResult<()> {
        run(|| {
            self.execute("DELETE FROM sessions WHERE token_hash = $1", &[&token_hash])?;
            Ok(())
        })
    }

    fn end_sessions(&mut self, user: &str, keep: Option<&[u8]>) -> StorageResult<u64> {
        run(|| {
            self.execute(
                "DELETE FROM sessions WHERE \"user\" = $1 AND token_hash IS DISTINCT FROM $2",
                &[&user, &keep],
            )
        })
    }

    fn purge_sessions(&mut self, now: u64) -> StorageResult<()> {
        run(|| {
            self.execute("DELETE FROM sessions WHERE expires_ms < $1", &[&int(now)])?;
            Ok(())
        })
    }
}
