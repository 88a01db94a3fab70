//! Staff accounts on the admin API: login sessions and what each role may do.
//!
//! A login checks the argon2id password hash and issues a bearer token of 32
//! random bytes, valid for eight hours; only its SHA-256 is stored, so a
//! stolen database yields no usable session.
//!
//! Until the place hierarchy lands (the governance issue), a scope is a
//! dotted code path (`5301`, `5301.02`, `5301.02.003`) and "within" means
//! equal or a descendant; the empty scope is the whole deployment.

use std::sync::OnceLock;

use gridsync_proto::auth::b64;
use gridsync_proto::{ErrorCode, Role};
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

/// Whether `scope` lies within `ancestor` (equal or below it).
pub fn within(scope: &str, ancestor: &str) -> bool {
    ancestor.is_empty()
        || scope == ancestor
        || scope.strip_prefix(ancestor).is_some_and(|rest| rest.starts_with('.'))
}

/// Whether `actor` may create, deactivate or enroll for a user with `role`
/// in `scope`, or revoke such a user's devices.
pub fn may_manage(actor: &User, role: Role, scope: &str) -> bool {
    let allowed_roles: &[Role] = match actor.role {
        Role::Administrator => return true,
        Role::CountyAdmin => &[Role::TownshipAdmin, Role::Department, Role::Auditor, Role::Worker],
        Role::TownshipAdmin => &[Role::Department, Role::Worker],
        Role::Department | Role::Auditor | Role::Worker => &[],
    };
    allowed_roles.contains(&role) && within(scope, &actor.scope)
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

    fn user(role: Role, scope: &str) -> User {
        User { name: "x".into(), role, scope: scope.into(), active: true, has_password: true }
    }

    #[test]
    fn scopes_nest_by_dotted_code() {
        assert!(within("5301.02.003", "5301.02"));
        assert!(within("5301.02", "5301.02"));
        assert!(within("5301.02", ""));
        assert!(!within("5301.021", "5301.02"), "a sibling code that shares a prefix");
        assert!(!within("5301.02.004", "5301.02.003"));
        assert!(!within("5301", "5301.02"));
    }

    #[test]
    fn roles_manage_only_below_themselves_and_within_their_subtree() {
        let township = user(Role::TownshipAdmin, "5301.02.003");
        assert!(may_manage(&township, Role::Worker, "5301.02.003.01"));
        assert!(!may_manage(&township, Role::Worker, "5301.02.004.01"));
        assert!(!may_manage(&township, Role::Administrator, "5301.02.003"));
        assert!(!may_manage(&township, Role::TownshipAdmin, "5301.02.003"));
        let county = user(Role::CountyAdmin, "5301.02");
        assert!(may_manage(&county, Role::TownshipAdmin, "5301.02.004"));
        assert!(!may_manage(&county, Role::CountyAdmin, "5301.02"));
        assert!(may_manage(&user(Role::Administrator, ""), Role::Administrator, ""));
        let auditor = user(Role::Auditor, "");
        assert!(!may_manage(&auditor, Role::Worker, "5301") && may_read(&auditor) && may_audit(&auditor));
        assert!(!may_read(&user(Role::Worker, "5301")));
    }

    #[test]
    fn sessions_open_expire_and_close() {
        let dir = tempfile::tempdir().expect("tempdir");
        let conn = gridsync_sql_support::open(&dir.path().join("s.db"), &crate::db::SCHEMA).expect("open");
        let hash = passwords::hash("a long enough password").expect("hash");
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
