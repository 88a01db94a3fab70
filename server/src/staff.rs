//! Staff accounts on the admin API: login sessions and what each role may do.
//!
//! A login checks the argon2id password hash and issues a bearer token of 32
//! random bytes, valid for eight hours; only its SHA-256 is stored, so a
//! stolen database yields no usable session.
//!
//! A user's scope is a place code ('' for the whole deployment), and
//! "within" follows the place hierarchy ([`Directory`]), never the shape of
//! codes: a grid moved to another village keeps its code and from then on
//! lies within the new village only.
//!
//! | role | manages users of roles | manages places and units |
//! |---|---|---|
//! | administrator | every role, everywhere | everywhere |
//! | county admin | township admin, department, auditor, worker, within its subtree | within its subtree |
//! | township admin | department, worker, within its subtree | within its subtree |
//! | department, auditor, worker | none | none |
//!
//! Administrators, county and township admins and auditors read users,
//! devices, places and units within their subtree; only auditors and
//! administrators check the audit log.

use std::sync::OnceLock;

use gridsync_proto::auth::b64;
use gridsync_proto::{Directory, ErrorCode, Hierarchy, Role};
use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};
use rusqlite::{Connection, OptionalExtension, params};

use crate::audit::{self, Event};
use crate::db::WriteError;
use crate::error::ApiError;
use crate::identity::{self, User};
use crate::passwords;

/// How long a login session lasts.
pub const SESSION_MS: u64 = 8 * 60 * 60 * 1000;

fn refuse(code: ErrorCode, message: &str) -> WriteError {
    WriteError::Refused(ApiError::new(code, message))
}

fn digest_of(token: &str) -> Vec<u8> {
    digest::digest(&digest::SHA256, token.as_bytes()).as_ref().to_vec()
}

/// A hash to verify against when the user does not exist, so that an unknown
/// name costs the same time as a wrong password.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| passwords::hash("no such user, no such password").unwrap_or_default())
}

/// A new session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The bearer token (shown once).
    pub token: String,
    /// When it expires (Unix ms).
    pub expires_ms: u64,
    /// Who logged in.
    pub user: User,
}

/// Checks a password and opens a session. Wrong name and wrong password
/// are the same refusal.
pub fn login(conn: &Connection, now: u64, name: &str, password: &str) -> Result<Session, WriteError> {
    let stored: Option<Option<String>> = conn
        .prepare_cached("SELECT password FROM users WHERE name = ?1")?
        .query_row([name], |r| r.get(0))
        .optional()?;
    let hash = stored.flatten();
    let matches = passwords::verify(hash.as_deref().unwrap_or_else(|| dummy_hash()), password);
    if hash.is_none() || !matches {
        return Err(refuse(ErrorCode::BadCredentials, "wrong user name or password"));
    }
    let user = identity::get_user(conn, name)?
        .ok_or_else(|| refuse(ErrorCode::BadCredentials, "wrong user name or password"))?;
    if !user.active {
        return Err(refuse(ErrorCode::UserInactive, "the user is deactivated"));
    }
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| WriteError::Corrupt("the system random generator failed".into()))?;
    let token = b64(&bytes);
    let expires_ms = now + SESSION_MS;
    conn.execute(
        "INSERT INTO sessions (token_hash, user, created_ms, expires_ms) VALUES (?1, ?2, ?3, ?4)",
        params![digest_of(&token), name, now as i64, expires_ms as i64],
    )?;
    conn.execute("DELETE FROM sessions WHERE expires_ms < ?1", [now as i64])?;
    audit::append(conn, now, &Event::new(format!("user:{name}"), "login", name, "ok"))?;
    Ok(Session { token, expires_ms, user })
}

/// The user behind a bearer token, if the session is live.
pub fn session_user(conn: &Connection, now: u64, token: &str) -> Result<User, WriteError> {
    let name: Option<String> = conn
        .prepare_cached("SELECT user FROM sessions WHERE token_hash = ?1 AND expires_ms > ?2")?
        .query_row(params![digest_of(token), now as i64], |r| r.get(0))
        .optional()?;
    let expired = || refuse(ErrorCode::Unauthenticated, "session expired or unknown; log in again");
    let user = identity::get_user(conn, &name.ok_or_else(expired)?)?.ok_or_else(expired)?;
    if !user.active {
        return Err(refuse(ErrorCode::UserInactive, "the user is deactivated"));
    }
    Ok(user)
}

/// Ends a session.
pub fn logout(conn: &Connection, now: u64, user: &str, token: &str) -> Result<(), WriteError> {
    conn.execute("DELETE FROM sessions WHERE token_hash = ?1", [digest_of(token)])?;
    audit::append(conn, now, &Event::new(format!("user:{user}"), "logout", user, "ok"))?;
    Ok(())
}

/// Whether `scope` lies within `ancestor` in `dir` (equal or below it). The
/// empty ancestor is the whole deployment and contains every scope, the
/// empty one too; the empty scope lies within nothing else; a code that is
/// not a known place lies within the whole deployment only.
pub fn within(dir: &Directory, scope: &str, ancestor: &str) -> bool {
    ancestor.is_empty() || (!scope.is_empty() && dir.is_within(scope, Some(ancestor)))
}

/// Whether `actor` may create, assign, deactivate or enroll for a user with
/// `role` in `scope`, or revoke such a user's devices.
pub fn may_manage(actor: &User, role: Role, scope: &str, dir: &Directory) -> bool {
    let allowed_roles: &[Role] = match actor.role {
        Role::Administrator => return true,
        Role::CountyAdmin => &[Role::TownshipAdmin, Role::Department, Role::Auditor, Role::Worker],
        Role::TownshipAdmin => &[Role::Department, Role::Worker],
        Role::Department | Role::Auditor | Role::Worker => &[],
    };
    allowed_roles.contains(&role) && within(dir, scope, &actor.scope)
}

/// Whether `actor`'s role administers at all: users, devices, places and
/// units (each within its subtree, see [`may_manage`] and [`may_edit_place`]).
pub fn may_administer(actor: &User) -> bool {
    matches!(actor.role, Role::Administrator | Role::CountyAdmin | Role::TownshipAdmin)
}

/// The subtree within which `actor` may change places and units: `None` for
/// anywhere (administrators, and admins of the whole deployment). Only
/// meaningful when [`may_administer`].
pub fn place_limit(actor: &User) -> Option<&str> {
    (actor.role != Role::Administrator && !actor.scope.is_empty()).then_some(actor.scope.as_str())
}

/// Whether `actor` may change the place `code`, or add or move places (and
/// units) directly below it. `None` is the top of the deployment, which
/// only those who may act anywhere may change.
pub fn may_edit_place(actor: &User, code: Option<&str>, dir: &Directory) -> bool {
    may_administer(actor)
        && match (place_limit(actor), code) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(limit), Some(code)) => within(dir, code, limit),
        }
}

/// Whether `actor` may list users and devices (within its subtree).
pub fn may_read(actor: &User) -> bool {
    matches!(actor.role, Role::Administrator | Role::CountyAdmin | Role::TownshipAdmin | Role::Auditor)
}

/// Whether `actor` may check the audit log.
pub fn may_audit(actor: &User) -> bool {
    matches!(actor.role, Role::Administrator | Role::Auditor)
}

#[cfg(test)]
mod tests {
    use super::*;

    use gridsync_proto::{Level, Place};

    fn user(role: Role, scope: &str) -> User {
        User { name: "x".into(), role, scope: scope.into(), unit: None, active: true, has_password: true }
    }

    fn place(code: &str, level: Level, parent: Option<&str>) -> Place {
        Place { code: code.into(), name: format!("{code} 名"), level, parent: parent.map(Into::into) }
    }

    /// County 5301; townships 530102 and 5301021 (a sibling whose code
    /// shares a prefix); a grid 530102-9 filed under the second township.
    fn sample() -> Directory {
        Directory::new(
            [
                place("5301", Level::County, None),
                place("530102", Level::Township, Some("5301")),
                place("5301021", Level::Township, Some("5301")),
                place("530102001", Level::Village, Some("530102")),
                place("530102001-1", Level::Grid, Some("530102001")),
                place("530102-9", Level::Grid, Some("5301021")),
            ],
            [],
        )
    }

    #[test]
    fn within_follows_the_hierarchy_not_code_prefixes() {
        let dir = sample();
        assert!(within(&dir, "530102001-1", "530102"));
        assert!(within(&dir, "530102", "530102"));
        assert!(within(&dir, "530102", "") && within(&dir, "", ""));
        assert!(!within(&dir, "5301021", "530102"), "a sibling whose code shares a prefix");
        assert!(!within(&dir, "530102-9", "530102"), "a code that looks like a descendant");
        assert!(!within(&dir, "5301", "530102") && !within(&dir, "", "530102"));
        assert!(!within(&dir, "530102001-1.x", "530102"), "an unknown place");
    }

    #[test]
    fn roles_manage_only_below_themselves_and_within_their_subtree() {
        let dir = sample();
        let township = user(Role::TownshipAdmin, "530102");
        assert!(may_manage(&township, Role::Worker, "530102001-1", &dir));
        assert!(!may_manage(&township, Role::Worker, "530102-9", &dir));
        assert!(!may_manage(&township, Role::Administrator, "530102", &dir));
        assert!(!may_manage(&township, Role::TownshipAdmin, "530102", &dir));
        let county = user(Role::CountyAdmin, "5301");
        assert!(may_manage(&county, Role::TownshipAdmin, "5301021", &dir));
        assert!(!may_manage(&county, Role::CountyAdmin, "5301", &dir));
        assert!(!may_manage(&county, Role::Worker, "", &dir), "the whole deployment is above the county");
        assert!(may_manage(&user(Role::Administrator, ""), Role::Administrator, "", &dir));
        let auditor = user(Role::Auditor, "");
        assert!(
            !may_manage(&auditor, Role::Worker, "5301", &dir) && may_read(&auditor) && may_audit(&auditor)
        );
        assert!(!may_read(&user(Role::Worker, "5301")));
    }

    #[test]
    fn places_are_edited_within_the_subtree() {
        let dir = sample();
        let township = user(Role::TownshipAdmin, "530102");
        assert!(may_edit_place(&township, Some("530102001"), &dir));
        assert!(may_edit_place(&township, Some("530102"), &dir));
        assert!(!may_edit_place(&township, Some("5301"), &dir) && !may_edit_place(&township, None, &dir));
        assert!(!may_edit_place(&township, Some("530102-9"), &dir));
        assert_eq!(place_limit(&township), Some("530102"));
        let root = user(Role::Administrator, "");
        assert!(may_edit_place(&root, None, &dir) && place_limit(&root).is_none());
        assert!(!may_edit_place(&user(Role::Auditor, ""), Some("530102"), &dir));
        assert!(!may_edit_place(&user(Role::Worker, "530102"), Some("530102001"), &dir));
    }

    #[test]
    fn sessions_open_expire_and_close() {
        let dir = tempfile::tempdir().expect("tempdir");
        let conn = gridsync_sql_support::open(&dir.path().join("s.db"), &crate::db::SCHEMA).expect("open");
        let hash = passwords::hash("a long enough password").expect("hash");
        crate::hierarchy::add_place(&conn, 0, "cli", &place("5301", Level::County, None)).expect("place");
        identity::add_user(&conn, 0, "cli", "wang", Role::TownshipAdmin, "5301", Some(&hash)).expect("user");
        let code = |r: Result<Session, WriteError>| match r {
            Err(WriteError::Refused(e)) => e.code,
            other => panic!("expected a refusal: {other:?}"),
        };
        assert_eq!(code(login(&conn, 1, "wang", "wrong password!!")), ErrorCode::BadCredentials);
        assert_eq!(code(login(&conn, 1, "nobody", "a long enough password")), ErrorCode::BadCredentials);
        let session = login(&conn, 1_000, "wang", "a long enough password").expect("login");
        assert_eq!(session_user(&conn, 2_000, &session.token).expect("live").name, "wang");
        assert!(session_user(&conn, 1_000 + SESSION_MS, &session.token).is_err(), "expired");
        logout(&conn, 3_000, "wang", &session.token).expect("logout");
        assert!(session_user(&conn, 3_001, &session.token).is_err(), "closed");
    }
}
