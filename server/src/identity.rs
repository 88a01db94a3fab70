//! Users, enrollment codes and devices: the server's identity data.
//!
//! Every function takes the connection of a transaction (the writer's, or
//! the admin CLI's) and the current time, so the HTTP API and the command
//! line share one implementation and every change is audited in the same
//! transaction as the change itself.
//!
//! Secrets never rest in the database: enrollment codes and session tokens
//! are stored as SHA-256 digests (they are long random strings, so a fast
//! hash suffices), passwords as argon2id hashes.

use std::str::FromStr;

use gridsync_proto::auth::{self, EnrollRequest};
use gridsync_proto::{ActorId, ErrorCode, Role};
use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};
use rusqlite::{Connection, OptionalExtension, params};

use crate::audit::{self, Event};
use crate::db::WriteError;
use crate::directory;
use crate::error::ApiError;
use crate::hierarchy::{self, shown};
use crate::scope::ScopeSettings;

/// Letters of enrollment codes: no 0/O, 1/I/L, so codes survive being read aloud.
const CODE_ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ-";
/// Characters of randomness in a code (5 bits each: 100 bits).
const CODE_CHARS: usize = 20;
/// Longest user name, in bytes.
pub const MAX_USER_NAME: usize = 64;

/// A user as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Unique name.
    pub name: String,
    /// What they may do.
    pub role: Role,
    /// Their place in the hierarchy ('' for the whole deployment); a
    /// department user's is their unit's place.
    pub scope: String,
    /// Their unit (department users only).
    pub unit: Option<String>,
    /// Deactivated users cannot log in and their devices are revoked.
    pub active: bool,
    /// Whether a password is set (they can log in to the admin API).
    pub has_password: bool,
}

/// A device as administrators see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// Its actor id.
    pub id: ActorId,
    /// Its user (None for devices seen before enrollment existed).
    pub user: Option<String>,
    /// When it enrolled.
    pub enrolled_ms: Option<u64>,
    /// When it was revoked.
    pub revoked_ms: Option<u64>,
    /// Whether its revocation orders a wipe.
    pub wipe: bool,
    /// Its last accepted push.
    pub last_push_ms: Option<u64>,
    /// Changes it has pushed.
    pub changes: u64,
}

/// What request authentication needs to know about a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceKey {
    /// Its Ed25519 public key.
    pub public_key: Vec<u8>,
    /// Its user.
    pub user: String,
    /// Revoked (or its user deactivated).
    pub revoked: bool,
    /// Revoked with a wipe order.
    pub wipe: bool,
}

fn refuse(code: ErrorCode, message: impl Into<String>) -> WriteError {
    WriteError::Refused(ApiError::new(code, message))
}

fn sha256(text: &str) -> Vec<u8> {
    digest::digest(&digest::SHA256, text.as_bytes()).as_ref().to_vec()
}

/// Checks a user name: 1–64 bytes, no control characters.
pub fn check_user_name(name: &str) -> Result<(), WriteError> {
    if name.is_empty() || name.len() > MAX_USER_NAME || name.chars().any(char::is_control) {
        return Err(refuse(
            ErrorCode::InvalidRequest,
            "a user name is 1 to 64 bytes without control characters",
        ));
    }
    Ok(())
}

/// A new user, for [`create_user`].
#[derive(Debug, Clone, Copy)]
pub struct NewUser<'a> {
    /// Unique name.
    pub name: &'a str,
    /// What they may do.
    pub role: Role,
    /// Their place code ('' for the whole deployment). For a department
    /// user: '' or their unit's place.
    pub scope: &'a str,
    /// Their unit: required for department users, refused for others.
    pub unit: Option<&'a str>,
    /// An argon2id PHC string, or None for users who only sync with devices.
    pub password_hash: Option<&'a str>,
}

/// Adds a user at `scope`, which must be '' (the whole deployment) or a
/// known place ([`ErrorCode::UnknownPlace`]). `password_hash` is an argon2id
/// PHC string, or None for users who only sync with devices. Department
/// users belong to a unit: add them with [`add_user_in_unit`].
pub fn add_user(
    conn: &Connection,
    now: u64,
    actor: &str,
    name: &str,
    role: Role,
    scope: &str,
    password_hash: Option<&str>,
) -> Result<User, WriteError> {
    create_user(conn, now, actor, &NewUser { name, role, scope, unit: None, password_hash })
}

/// Adds a department user of `unit` (which must exist); their scope is the
/// unit's place.
pub fn add_user_in_unit(
    conn: &Connection,
    now: u64,
    actor: &str,
    name: &str,
    unit: &str,
    password_hash: Option<&str>,
) -> Result<User, WriteError> {
    create_user(
        conn,
        now,
        actor,
        &NewUser { name, role: Role::Department, scope: "", unit: Some(unit), password_hash },
    )
}

/// Adds a user with any role: [`add_user`] and [`add_user_in_unit`] in one.
pub fn create_user(conn: &Connection, now: u64, actor: &str, new: &NewUser<'_>) -> Result<User, WriteError> {
    let NewUser { name, role, unit, password_hash, .. } = *new;
    check_user_name(name)?;
    if get_user(conn, name)?.is_some() {
        return Err(refuse(ErrorCode::InvalidRequest, "a user with that name already exists"));
    }
    let scope = resolve_assignment(conn, role, new.scope, unit)?;
    conn.execute(
        "INSERT INTO users (name, role, scope, unit, password, active, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6)",
        params![name, role.name(), scope, unit, password_hash, now as i64],
    )?;
    let detail = format!("role={role} scope={scope} unit={}", unit.unwrap_or(""));
    audit::append(conn, now, &Event::new(actor, "user.add", name, "ok").detail(detail))?;
    Ok(User {
        name: name.to_owned(),
        role,
        scope,
        unit: unit.map(str::to_owned),
        active: true,
        has_password: password_hash.is_some(),
    })
}

/// The scope a user with `role` gets when assigned to `scope` and `unit`:
/// a department user must have a known unit and gets its place (a `scope`
/// given too must be that place); other roles must have no unit and a
/// `scope` that is '' or a known place.
pub fn resolve_assignment(
    conn: &Connection,
    role: Role,
    scope: &str,
    unit: Option<&str>,
) -> Result<String, WriteError> {
    match (role, unit) {
        (Role::Department, None) => Err(refuse(
            ErrorCode::InvalidRequest,
            "a department user belongs to a unit: give the unit's code",
        )),
        (Role::Department, Some(unit)) => {
            let place: Option<String> = conn
                .prepare_cached("SELECT place FROM units WHERE code = ?1")?
                .query_row([unit], |r| r.get(0))
                .optional()?;
            let place = place.ok_or_else(|| {
                refuse(
                    ErrorCode::UnknownPlace,
                    format!("unit {} is not a known unit; add it first", shown(unit)),
                )
            })?;
            if !scope.is_empty() && scope != place {
                return Err(refuse(
                    ErrorCode::InvalidRequest,
                    format!("a department user's scope is their unit's place ({place}); leave the scope out"),
                ));
            }
            Ok(place)
        }
        (_, Some(_)) => Err(refuse(ErrorCode::InvalidRequest, "only department users belong to a unit")),
        (_, None) if scope.is_empty() => Ok(String::new()),
        (_, None) => {
            let known: bool = conn
                .prepare_cached("SELECT count(*) > 0 FROM places WHERE code = ?1")?
                .query_row([scope], |r| r.get(0))?;
            if known {
                Ok(scope.to_owned())
            } else {
                Err(refuse(
                    ErrorCode::UnknownPlace,
                    format!("scope {} is not a known place; add the place first", shown(scope)),
                ))
            }
        }
    }
}

/// Assigns a user to another place (`scope`) or, for a department user,
/// another unit. Deactivated users cannot be assigned. When the user has an
/// enrolled device that is not revoked, the assignment is refused with
/// [`ErrorCode::OverBudget`] if the device would hold more records than
/// `settings.budget`. Assigning a user where they already are changes
/// nothing.
pub fn assign_user(
    conn: &Connection,
    now: u64,
    actor: &str,
    name: &str,
    scope: &str,
    unit: Option<&str>,
    settings: &ScopeSettings,
) -> Result<User, WriteError> {
    let Some(user) = get_user(conn, name)? else {
        return Err(refuse(ErrorCode::InvalidRequest, "no such user"));
    };
    if !user.active {
        return Err(refuse(ErrorCode::UserInactive, "the user is deactivated and cannot be assigned"));
    }
    let scope = resolve_assignment(conn, user.role, scope, unit)?;
    if scope == user.scope && unit == user.unit.as_deref() {
        return Ok(user);
    }
    conn.prepare_cached("UPDATE users SET scope = ?2, unit = ?3 WHERE name = ?1")?
        .execute(params![name, scope, unit])?;
    let devices = hierarchy::device_users(conn, Some(name))?;
    if !devices.is_empty() {
        let dir = directory::load(conn)?;
        hierarchy::check_budget(conn, now, &dir, &devices, settings)?;
    }
    let detail = format!("from={} to={scope} unit={}", user.scope, unit.unwrap_or(""));
    audit::append(conn, now, &Event::new(actor, "user.assign", name, "ok").detail(detail))?;
    directory::bump(conn)?;
    Ok(User { scope, unit: unit.map(str::to_owned), ..user })
}

/// One user.
pub fn get_user(conn: &Connection, name: &str) -> Result<Option<User>, WriteError> {
    let row = conn
        .prepare_cached(
            "SELECT name, role, scope, active, password IS NOT NULL, unit FROM users WHERE name = ?1",
        )?
        .query_row([name], user_row)
        .optional()?;
    row.transpose()
}

/// Every user, by name.
pub fn list_users(conn: &Connection) -> Result<Vec<User>, WriteError> {
    let mut stmt = conn
        .prepare("SELECT name, role, scope, active, password IS NOT NULL, unit FROM users ORDER BY name")?;
    let rows = stmt.query_map([], user_row)?;
    rows.map(|r| r?).collect()
}

#[allow(clippy::type_complexity)]
fn user_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<User, WriteError>> {
    let role: String = r.get(1)?;
    Ok(Role::from_str(&role).map_err(|_| WriteError::Corrupt(format!("unknown role {role:?}"))).and_then(
        |role| {
            Ok(User {
                name: r.get(0)?,
                role,
                scope: r.get(2)?,
                unit: r.get(5)?,
                active: r.get(3)?,
                has_password: r.get(4)?,
            })
        },
    ))
}

/// The stored password hash of an active user, for login.
pub fn password_hash(conn: &Connection, name: &str) -> Result<Option<String>, WriteError> {
    Ok(conn
        .prepare_cached("SELECT password FROM users WHERE name = ?1 AND active = 1")?
        .query_row([name], |r| r.get::<_, Option<String>>(0))
        .optional()?
        .flatten())
}

/// Sets (or replaces) a user's password hash.
pub fn set_password(
    conn: &Connection,
    now: u64,
    actor: &str,
    name: &str,
    hash: &str,
) -> Result<(), WriteError> {
    let n = conn.execute("UPDATE users SET password = ?2 WHERE name = ?1", params![name, hash])?;
    if n == 0 {
        return Err(refuse(ErrorCode::InvalidRequest, "no such user"));
    }
    audit::append(conn, now, &Event::new(actor, "user.password", name, "ok"))?;
    Ok(())
}

/// Deactivates a user and revokes all their devices (without wipe: the
/// devices are told to stop; wipe them one by one if needed). Returns how
/// many devices were revoked.
pub fn deactivate_user(conn: &Connection, now: u64, actor: &str, name: &str) -> Result<u64, WriteError> {
    let n = conn.execute("UPDATE users SET active = 0 WHERE name = ?1", [name])?;
    if n == 0 {
        return Err(refuse(ErrorCode::InvalidRequest, "no such user"));
    }
    let revoked = conn.execute(
        "UPDATE devices SET revoked_ms = ?2 WHERE user = ?1 AND revoked_ms IS NULL",
        params![name, now as i64],
    )? as u64;
    conn.execute("DELETE FROM sessions WHERE user = ?1", [name])?;
    audit::append(
        conn,
        now,
        &Event::new(actor, "user.deactivate", name, "ok").detail(format!("devices_revoked={revoked}")),
    )?;
    Ok(revoked)
}

/// Issues a one-time enrollment code for `user`, valid for `ttl_ms`.
/// Returns the code; only its digest is stored.
pub fn issue_enrollment(
    conn: &Connection,
    now: u64,
    actor: &str,
    user: &str,
    ttl_ms: u64,
) -> Result<String, WriteError> {
    match get_user(conn, user)? {
        None => return Err(refuse(ErrorCode::InvalidRequest, "no such user")),
        Some(u) if !u.active => return Err(refuse(ErrorCode::UserInactive, "the user is deactivated")),
        Some(_) => {}
    }
    let code = new_code()?;
    conn.execute(
        "INSERT INTO enrollments (code_hash, user, created_ms, expires_ms) VALUES (?1, ?2, ?3, ?4)",
        params![sha256(&normalize_code(&code)), user, now as i64, now.saturating_add(ttl_ms) as i64],
    )?;
    audit::append(
        conn,
        now,
        &Event::new(actor, "enroll.issue", user, "ok").detail(format!("ttl_ms={ttl_ms}")),
    )?;
    Ok(code)
}

/// A fresh code like `7KQ2M-XW4NP-R8TJD-3HFAZ`.
fn new_code() -> Result<String, WriteError> {
    let mut random = [0u8; CODE_CHARS];
    SystemRandom::new()
        .fill(&mut random)
        .map_err(|_| WriteError::Corrupt("the system random generator failed".into()))?;
    let chars: Vec<char> = random.iter().map(|b| CODE_ALPHABET[usize::from(b % 31)] as char).collect();
    Ok(chars.chunks(5).map(|c| c.iter().collect::<String>()).collect::<Vec<_>>().join("-"))
}

/// Codes are compared without dashes, spaces or case.
fn normalize_code(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect()
}

/// Enrolls a device with a one-time code. The code is spent even if the
/// device then fails to sync; a refused enrollment changes nothing.
pub fn enroll(conn: &Connection, now: u64, request: &EnrollRequest) -> Result<User, WriteError> {
    let public_key = auth::unb64(&request.public_key)
        .filter(|k| k.len() == 32)
        .ok_or_else(|| refuse(ErrorCode::InvalidRequest, "the public key is not a base64 Ed25519 key"))?;
    let hash = sha256(&normalize_code(&request.code));
    let found: Option<(String, i64, Option<i64>)> = conn
        .prepare_cached("SELECT user, expires_ms, used_ms FROM enrollments WHERE code_hash = ?1")?
        .query_row([&hash], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let Some((user_name, expires_ms, used_ms)) = found else {
        return Err(refuse(ErrorCode::EnrollmentInvalid, "unknown enrollment code"));
    };
    if used_ms.is_some() {
        return Err(refuse(ErrorCode::EnrollmentUsed, "this enrollment code was already used"));
    }
    if now as i64 > expires_ms {
        return Err(refuse(
            ErrorCode::EnrollmentExpired,
            "this enrollment code has expired; ask for a new one",
        ));
    }
    let user = get_user(conn, &user_name)?
        .ok_or_else(|| WriteError::Corrupt("enrollment for a missing user".into()))?;
    if !user.active {
        return Err(refuse(ErrorCode::UserInactive, "the user is deactivated"));
    }
    let exists: bool =
        conn.query_row("SELECT count(*) > 0 FROM devices WHERE id = ?1", [request.device.as_bytes()], |r| {
            r.get(0)
        })?;
    if exists {
        return Err(refuse(ErrorCode::InvalidRequest, "a device with this id is already known"));
    }
    conn.execute(
        "INSERT INTO devices (id, first_seen_ms, last_push_ms, changes, user, public_key, enrolled_ms)
         VALUES (?1, ?2, 0, 0, ?3, ?4, ?2)",
        params![request.device.as_bytes(), now as i64, user.name, public_key],
    )?;
    conn.execute(
        "UPDATE enrollments SET used_ms = ?2, device = ?3 WHERE code_hash = ?1",
        params![hash, now as i64, request.device.as_bytes()],
    )?;
    audit::append(
        conn,
        now,
        &Event::new(format!("device:{}", request.device), "device.enroll", &user.name, "ok"),
    )?;
    Ok(user)
}

/// What authentication needs about a device, if it is enrolled.
pub fn device_key(conn: &Connection, id: ActorId) -> Result<Option<DeviceKey>, WriteError> {
    Ok(conn
        .prepare_cached(
            "SELECT d.public_key, d.user, d.revoked_ms IS NOT NULL OR u.active = 0, d.wipe
             FROM devices d JOIN users u ON u.name = d.user
             WHERE d.id = ?1 AND d.public_key IS NOT NULL",
        )?
        .query_row([id.as_bytes()], |r| {
            Ok(DeviceKey { public_key: r.get(0)?, user: r.get(1)?, revoked: r.get(2)?, wipe: r.get(3)? })
        })
        .optional()?)
}

/// Every device, newest enrollment first.
pub fn list_devices(conn: &Connection) -> Result<Vec<Device>, WriteError> {
    let mut stmt = conn.prepare(
        "SELECT id, user, enrolled_ms, revoked_ms, wipe, last_push_ms, changes FROM devices
         ORDER BY enrolled_ms DESC, id",
    )?;
    let rows = stmt.query_map([], |r| {
        let last_push: i64 = r.get(5)?;
        Ok((
            r.get::<_, Vec<u8>>(0)?,
            r.get::<_, Option<String>>(1)?,
            r.get::<_, Option<i64>>(2)?,
            r.get::<_, Option<i64>>(3)?,
            r.get::<_, bool>(4)?,
            (last_push > 0).then_some(last_push as u64),
            r.get::<_, i64>(6)? as u64,
        ))
    })?;
    rows.map(|row| {
        let (id, user, enrolled, revoked, wipe, last_push_ms, changes) = row?;
        Ok(Device {
            id: ActorId::from_slice(&id).ok_or_else(|| WriteError::Corrupt("device id".into()))?,
            user,
            enrolled_ms: enrolled.map(|v| v as u64),
            revoked_ms: revoked.map(|v| v as u64),
            wipe,
            last_push_ms,
            changes,
        })
    })
    .collect()
}

/// The user a device belongs to.
pub fn device_user(conn: &Connection, id: ActorId) -> Result<Option<String>, WriteError> {
    Ok(conn
        .prepare_cached("SELECT user FROM devices WHERE id = ?1")?
        .query_row([id.as_bytes()], |r| r.get::<_, Option<String>>(0))
        .optional()?
        .flatten())
}

/// Revokes a device; with `wipe`, its next request tells it to destroy its store.
pub fn revoke_device(
    conn: &Connection,
    now: u64,
    actor: &str,
    id: ActorId,
    wipe: bool,
) -> Result<(), WriteError> {
    let n = conn.execute(
        "UPDATE devices SET revoked_ms = coalesce(revoked_ms, ?2), wipe = wipe OR ?3 WHERE id = ?1",
        params![id.as_bytes(), now as i64, wipe],
    )?;
    if n == 0 {
        return Err(refuse(ErrorCode::InvalidRequest, "no such device"));
    }
    let action = if wipe { "device.revoke_wipe" } else { "device.revoke" };
    audit::append(conn, now, &Event::new(actor, action, id.to_string(), "ok"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use gridsync_proto::{Level, Place, Unit};

    use super::*;

    fn db() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().expect("tempdir");
        let conn = gridsync_sql_support::open(&dir.path().join("i.db"), &crate::db::SCHEMA).expect("open");
        (dir, conn)
    }

    fn place(conn: &Connection, code: &str, level: Level, parent: Option<&str>) {
        let place =
            Place { code: code.into(), name: format!("{code} 名"), level, parent: parent.map(Into::into) };
        hierarchy::add_place(conn, 0, "cli", &place).expect("place");
    }

    fn request(code: &str) -> EnrollRequest {
        EnrollRequest { code: code.to_owned(), device: ActorId::random(), public_key: auth::b64(&[9; 32]) }
    }

    fn code_of(e: WriteError) -> ErrorCode {
        match e {
            WriteError::Refused(api) => api.code,
            other => panic!("not a refusal: {other}"),
        }
    }

    #[test]
    fn a_code_enrolls_once_and_expires() {
        let (_dir, conn) = db();
        place(&conn, "530102.003", Level::Village, None);
        add_user(&conn, 0, "cli", "li", Role::Worker, "530102.003", None).expect("user");
        let code = issue_enrollment(&conn, 1_000, "cli", "li", 60_000).expect("code");
        assert_eq!(code.len(), 23);
        let first = request(&code.to_lowercase().replace('-', " "));
        let user = enroll(&conn, 2_000, &first).expect("enroll");
        assert_eq!((user.name.as_str(), user.role), ("li", Role::Worker));
        assert!(device_key(&conn, first.device).expect("key").is_some());
        assert_eq!(
            code_of(enroll(&conn, 3_000, &request(&code)).expect_err("reused")),
            ErrorCode::EnrollmentUsed
        );

        let late = issue_enrollment(&conn, 1_000, "cli", "li", 60_000).expect("code");
        assert_eq!(
            code_of(enroll(&conn, 70_000, &request(&late)).expect_err("late")),
            ErrorCode::EnrollmentExpired
        );
        assert_eq!(
            code_of(enroll(&conn, 0, &request("NOPE")).expect_err("unknown")),
            ErrorCode::EnrollmentInvalid
        );
    }

    #[test]
    fn deactivating_a_user_revokes_their_devices() {
        let (_dir, conn) = db();
        place(&conn, "x", Level::Grid, None);
        add_user(&conn, 0, "cli", "wang", Role::Worker, "x", None).expect("user");
        let code = issue_enrollment(&conn, 0, "cli", "wang", 60_000).expect("code");
        let req = request(&code);
        enroll(&conn, 1, &req).expect("enroll");
        assert_eq!(deactivate_user(&conn, 5, "cli", "wang").expect("deactivate"), 1);
        let key = device_key(&conn, req.device).expect("query").expect("known");
        assert!(key.revoked && !key.wipe);
        revoke_device(&conn, 6, "cli", req.device, true).expect("wipe");
        assert!(device_key(&conn, req.device).expect("query").expect("known").wipe);
        assert_eq!(
            code_of(issue_enrollment(&conn, 7, "cli", "wang", 1).expect_err("inactive")),
            ErrorCode::UserInactive
        );
        assert!(matches!(
            crate::audit::verify(&conn).expect("verify"),
            crate::audit::Verdict::Intact { rows: 6, .. }
        ));
        assert_eq!(
            code_of(
                assign_user(&conn, 8, "cli", "wang", "x", None, &ScopeSettings::default())
                    .expect_err("inactive")
            ),
            ErrorCode::UserInactive
        );
    }

    #[test]
    fn scopes_are_known_places_and_departments_belong_to_units() {
        let (_dir, conn) = db();
        place(&conn, "5301", Level::County, None);
        place(&conn, "530102", Level::Township, Some("5301"));
        place(&conn, "530103", Level::Township, Some("5301"));
        let unknown =
            add_user(&conn, 0, "cli", "li", Role::Worker, "5301.02", None).expect_err("unknown place");
        assert_eq!(code_of(unknown), ErrorCode::UnknownPlace);
        add_user(&conn, 0, "cli", "root", Role::Administrator, "", None).expect("whole deployment");
        assert_eq!(
            code_of(add_user(&conn, 0, "cli", "mca", Role::Department, "530102", None).expect_err("no unit")),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            code_of(add_user_in_unit(&conn, 0, "cli", "mca", "U-NONE", None).expect_err("unknown unit")),
            ErrorCode::UnknownPlace
        );
        let unit = |code: &str, place: &str| {
            let unit =
                Unit {
                    code: code.into(), name: "派出所".into(), kind: "police".into(), place: place.into()
                };
            hierarchy::add_unit(&conn, 0, "cli", &unit).expect("unit");
        };
        unit("U-POLICE", "530102");
        let dept = add_user_in_unit(&conn, 0, "cli", "mca", "U-POLICE", None).expect("department user");
        assert_eq!((dept.scope.as_str(), dept.unit.as_deref()), ("530102", Some("U-POLICE")));
        assert_eq!(get_user(&conn, "mca").expect("read").expect("stored"), dept);
        let worker_in_unit = NewUser {
            name: "zhao",
            role: Role::Worker,
            scope: "530102",
            unit: Some("U-POLICE"),
            password_hash: None,
        };
        assert_eq!(
            code_of(create_user(&conn, 0, "cli", &worker_in_unit).expect_err("unit")),
            ErrorCode::InvalidRequest
        );

        // Assignment moves the user and the directory version.
        add_user(&conn, 0, "cli", "li", Role::Worker, "530102", None).expect("worker");
        let version = directory::version(&conn).expect("version");
        let settings = ScopeSettings::default();
        let moved = assign_user(&conn, 1, "cli", "li", "530103", None, &settings).expect("assign");
        assert_eq!(moved.scope, "530103");
        assert!(directory::version(&conn).expect("version") > version);
        assert_eq!(
            code_of(assign_user(&conn, 1, "cli", "li", "nowhere", None, &settings).expect_err("unknown")),
            ErrorCode::UnknownPlace
        );
        unit("U-JUSTICE", "530103");
        let dept = assign_user(&conn, 2, "cli", "mca", "", Some("U-JUSTICE"), &settings).expect("new unit");
        assert_eq!((dept.scope.as_str(), dept.unit.as_deref()), ("530103", Some("U-JUSTICE")));
        let actor = directory::actor(&conn, "mca").expect("read").expect("actor");
        assert_eq!(actor.unit.as_deref(), Some("U-JUSTICE"));
    }
}
