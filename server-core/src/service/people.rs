//! People and their devices: users, admin sessions, one-time enrollment
//! codes, device lists and revocation.
//!
//! Secrets never rest in the database: enrollment codes and session tokens
//! are stored as SHA-256 digests (they are long random strings, so a fast
//! hash suffices), passwords as argon2id hashes. A login issues a bearer
//! token of 32 random bytes, valid for [`SESSION_MS`]. A password change
//! ends the user's other sessions ([`Service::change_own_password`]), a
//! password set for them all of them ([`Service::set_password`]).
//!
//! A password set for a user by someone else (the operator, an
//! administrator, at `add_user` or `set_password`) is one-time: the user's
//! sessions are restricted to changing it (`password_change_required`)
//! until they have chosen their own, and it then matches no more.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::OnceLock;

use gridsync_proto::auth::b64;
use gridsync_proto::{Actor, ActorId, ErrorCode, Role};
use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};

use super::{Caller, Service};
use crate::audit::Event;
use crate::directory;
use crate::directory::DirectoryCache;
use crate::error::{CoreError, CoreResult, Refusal, StorageError};
use crate::passwords;
use crate::policy::{self, scope::ScopeSettings};
use crate::storage::{Device, NewEnrollment, NewSession, NewUser, ReadTx, StorageExt, User, WriteTx};

mod ticket;

pub use ticket::{IssuedTicket, MAX_SERVER_URL_BYTES, qr_svg, server_url};

/// A device with when it last synced ([`Service::list_devices_synced`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncedDevice {
    /// The device.
    pub device: Device,
    /// Its last accepted push or issued pull cursor, whichever is later
    /// (Unix ms), `None` for never.
    pub last_sync_ms: Option<u64>,
}

/// How long a login session lasts.
pub const SESSION_MS: u64 = 8 * 60 * 60 * 1000;
/// Longest enrollment code lifetime.
pub const MAX_TTL_MS: u64 = 7 * 24 * 60 * 60 * 1000;
/// Longest user name, in bytes.
pub const MAX_USER_NAME: usize = 64;
/// Letters of enrollment codes: no 0/O, 1/I/L, so codes survive being read aloud.
const CODE_ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ-";
/// Characters of randomness in a code (5 bits each: 100 bits).
const CODE_CHARS: usize = 20;

const NO_ASSIGNMENT: &str =
    "give a scope (a place code, or \"\" for the whole deployment), or a unit for a department user";

fn sha256(text: &str) -> Vec<u8> {
    digest::digest(&digest::SHA256, text.as_bytes()).as_ref().to_vec()
}

/// The stored digest of an enrollment code: compared without dashes,
/// spaces or case.
pub fn code_digest(code: &str) -> Vec<u8> {
    let normalized: String =
        code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect();
    sha256(&normalized)
}

fn random<const N: usize>() -> Result<[u8; N], StorageError> {
    let mut bytes = [0u8; N];
    SystemRandom::new().fill(&mut bytes).map_err(|_| {
        StorageError::new(crate::StorageErrorKind::Other, "the system random generator failed")
    })?;
    Ok(bytes)
}

/// A fresh code like `7KQ2M-XW4NP-R8TJD-3HFAZ`.
fn new_code() -> Result<String, StorageError> {
    let random: [u8; CODE_CHARS] = random()?;
    let chars: Vec<char> = random.iter().map(|b| CODE_ALPHABET[usize::from(b % 31)] as char).collect();
    Ok(chars.chunks(5).map(|c| c.iter().collect::<String>()).collect::<Vec<_>>().join("-"))
}

/// A hash to verify against when the user does not exist, so that an unknown
/// name costs the same time as a wrong password.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| passwords::hash("no such user, no such password").unwrap_or_default())
}

/// Checks a user name: 1–64 bytes, no control characters.
pub fn check_user_name(name: &str) -> CoreResult<()> {
    if name.is_empty() || name.len() > MAX_USER_NAME || name.chars().any(char::is_control) {
        return Err(Refusal::invalid("a user name is 1 to 64 bytes without control characters")
            .field("name")
            .into());
    }
    Ok(())
}

/// A user to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddUser {
    /// Unique name.
    pub name: String,
    /// What they may do.
    pub role: Role,
    /// Their place code ('' for the whole deployment); `None` with a unit.
    pub scope: Option<String>,
    /// Their unit: required for department users, refused for others.
    pub unit: Option<String>,
    /// Their password (admin roles log in with it), hashed before storing.
    pub password: Option<String>,
}

/// A new admin session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The bearer token (shown once).
    pub token: String,
    /// When it expires (Unix ms).
    pub expires_ms: u64,
    /// Who logged in.
    pub user: User,
}

/// An issued enrollment code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCode {
    /// The one-time code.
    pub code: String,
    /// When it expires (Unix ms).
    pub expires_ms: u64,
}

/// Refuses a code lifetime out of 1 second to [`MAX_TTL_MS`].
fn check_ttl(ttl_ms: u64) -> CoreResult<()> {
    if (1_000..=MAX_TTL_MS).contains(&ttl_ms) {
        Ok(())
    } else {
        Err(Refusal::invalid("an enrollment code lives between 1 second and 7 days")
            .field("ttl_seconds")
            .into())
    }
}

/// An unknown user name: `not_found` (404), as an unknown place is.
fn no_such_user() -> CoreError {
    Refusal::new(ErrorCode::NotFound, "no such user").field("user").into()
}

/// Loads a user `caller` may manage, or refuses.
fn managed_user(tx: &mut dyn WriteTx, caller: &Caller, name: &str) -> CoreResult<User> {
    let target = tx.user(name)?.ok_or_else(no_such_user)?;
    if let Some(who) = caller.user() {
        let dir = directory::load(tx)?;
        if !policy::may_manage(who, target.role, &target.scope, &dir) {
            return Err(CoreError::forbidden());
        }
    }
    Ok(target)
}

impl Service {
    /// Checks a password and opens a session. Wrong name and wrong password
    /// are the same refusal; refusals are audited (`login`). A user whose
    /// password is one-time gets a session restricted to changing it
    /// ([`Session::user`]'s `must_change_password`; see
    /// [`Service::session_user`]).
    pub async fn login(&self, name: &str, password: &str) -> CoreResult<Session> {
        self.login_from(name, password, None).await
    }

    /// [`Service::login`] from `client`: a refusal is audited by the client
    /// address (`address:IP`), counted per minute.
    pub async fn login_from(
        &self,
        name: &str,
        password: &str,
        client: Option<IpAddr>,
    ) -> CoreResult<Session> {
        let (user, password) = (name.to_owned(), password.to_owned());
        let result = self.storage.write(move |tx, now| login(tx, now, &user, &password)).await;
        if let Err(refusal) = &result {
            let actor = crate::audit::refusals::anonymous(client);
            self.audit_refusal(Event::new(actor, "login", name, refusal.audit_outcome())).await;
        }
        result
    }

    /// The user behind a bearer token, if the session is live and the user
    /// active. A session whose user must change a one-time password is
    /// refused with `password_change_required`: it may only change it
    /// ([`Service::restricted_session_user`], [`Service::change_own_password`])
    /// or log out.
    pub async fn session_user(&self, token: &str) -> CoreResult<User> {
        let user = self.restricted_session_user(token).await?;
        if user.must_change_password {
            return Err(CoreError::refused(
                ErrorCode::PasswordChangeRequired,
                "this password was set for you and is one-time: choose your own first",
            ));
        }
        Ok(user)
    }

    /// The user behind a bearer token, as [`Service::session_user`], but
    /// also when their password is one-time: for changing it, and logging out.
    pub async fn restricted_session_user(&self, token: &str) -> CoreResult<User> {
        let digest = sha256(token);
        self.storage
            .read(move |tx| {
                let expired = || {
                    CoreError::refused(ErrorCode::Unauthenticated, "session expired or unknown; log in again")
                };
                let name = tx.session_user(&digest, crate::clock::now_ms())?.ok_or_else(expired)?;
                let user = tx.user(&name)?.ok_or_else(expired)?;
                if !user.active {
                    return Err(CoreError::refused(ErrorCode::UserInactive, "the user is deactivated"));
                }
                Ok(user)
            })
            .await
    }

    /// Ends a session.
    pub async fn logout(&self, user: &str, token: &str) -> CoreResult<()> {
        let (user, digest) = (user.to_owned(), sha256(token));
        self.storage
            .write(move |tx, now| {
                tx.delete_session(&digest)?;
                tx.append_audit(now, &Event::new(format!("user:{user}"), "logout", &user, "ok"))?;
                Ok(())
            })
            .await
    }

    /// Users `caller` may read: all for the operator, those within a staff
    /// member's subtree otherwise.
    pub async fn list_users(&self, caller: &Caller) -> CoreResult<Vec<User>> {
        self.listing(caller, "user.list", |tx, caller, cache| {
            let users = tx.users()?;
            let Some(who) = caller.user() else { return Ok(users) };
            let (_, dir) = cache.get(tx)?;
            Ok(users.into_iter().filter(|u| policy::within(&dir, &u.scope, &who.scope)).collect())
        })
        .await
    }

    /// Adds a user at a place (or, for a department user, in a unit).
    pub async fn add_user(&self, caller: &Caller, new: AddUser) -> CoreResult<User> {
        let target = new.name.clone();
        let result = self.add_user_unaudited(caller, new).await;
        self.audited(caller, "user.add", target, result).await
    }

    async fn add_user_unaudited(&self, caller: &Caller, new: AddUser) -> CoreResult<User> {
        caller.require(policy::may_administer)?;
        if new.scope.is_none() && new.unit.is_none() {
            let field = if new.role == Role::Department { "unit" } else { "scope" };
            return Err(Refusal::new(ErrorCode::MissingField, NO_ASSIGNMENT).field(field).into());
        }
        check_user_name(&new.name)?;
        let hash = new
            .password
            .as_deref()
            .map(passwords::hash)
            .transpose()
            .map_err(|e| Refusal::invalid(e.to_string()).field("password"))?;
        let caller = caller.clone();
        let directory = self.directory.clone();
        self.storage
            .write(move |tx, now| {
                if tx.user(&new.name)?.is_some() {
                    return Err(Refusal::invalid("a user with that name already exists")
                        .field("name")
                        .into());
                }
                // The cached directory of the stored version: adding a
                // city's workers one by one must not load 12,000 places each.
                let (_, dir) = directory.get(tx)?;
                let unit = new.unit.as_deref();
                let scope =
                    policy::resolve_assignment(&dir, new.role, new.scope.as_deref().unwrap_or(""), unit)?;
                caller.require(|who| policy::may_manage(who, new.role, &scope, &dir))?;
                policy::check_field_place(&dir, new.role, &scope)?;
                tx.insert_user(&NewUser {
                    name: &new.name,
                    role: new.role,
                    scope: &scope,
                    unit,
                    password_hash: hash.as_deref(),
                    now,
                })?;
                let detail = format!("role={} scope={scope} unit={}", new.role, unit.unwrap_or(""));
                tx.append_audit(
                    now,
                    &Event::new(caller.audit_name(), "user.add", &new.name, "ok").detail(detail),
                )?;
                Ok(User {
                    name: new.name,
                    role: new.role,
                    scope,
                    unit: new.unit,
                    active: true,
                    has_password: hash.is_some(),
                    must_change_password: hash.is_some(),
                })
            })
            .await
    }

    /// Assigns a user to another place (`scope`) or, for a department user,
    /// another unit. Deactivated users cannot be assigned. When the user has
    /// an enrolled device that is not revoked, the assignment is refused
    /// with `over_budget` if the device would hold more records than the
    /// budget. Assigning a user where they already are changes nothing.
    pub async fn assign_user(
        &self,
        caller: &Caller,
        name: &str,
        scope: Option<String>,
        unit: Option<String>,
    ) -> CoreResult<User> {
        let (caller2, name2, settings) = (caller.clone(), name.to_owned(), self.settings.scope);
        let result = self
            .storage
            .write(move |tx, now| {
                if scope.is_none() && unit.is_none() {
                    return Err(Refusal::new(ErrorCode::MissingField, NO_ASSIGNMENT).field("scope").into());
                }
                assign(tx, now, &caller2, &name2, scope.as_deref().unwrap_or(""), unit.as_deref(), &settings)
            })
            .await;
        self.audited(caller, "user.assign", name, result).await
    }

    /// Deactivates a user and revokes all their devices (without wipe: the
    /// devices are told to stop). Returns how many devices were revoked.
    pub async fn deactivate_user(&self, caller: &Caller, name: &str) -> CoreResult<u64> {
        let (caller2, name2) = (caller.clone(), name.to_owned());
        let result = self
            .storage
            .write(move |tx, now| {
                if caller2.user().is_some() {
                    managed_user(tx, &caller2, &name2)?;
                }
                let revoked = tx.deactivate_user(&name2, now)?.ok_or_else(no_such_user)?;
                let event = Event::new(caller2.audit_name(), "user.deactivate", &name2, "ok")
                    .detail(format!("devices_revoked={revoked}"));
                tx.append_audit(now, &event)?;
                Ok(revoked)
            })
            .await;
        self.audited(caller, "user.deactivate", name, result).await
    }

    /// Sets (or replaces) another user's password, one-time: they must
    /// change it at their next login before doing anything else. Ends every
    /// session the user has (the console's and the admin API's): whoever
    /// held the old password logs in again. Answers how many sessions
    /// ended. Audited as `user.password` (detail `one_time`). Staff set only
    /// passwords of users they manage, and never their own (that is
    /// [`Service::change_own_password`], with the current one).
    pub async fn set_password(&self, caller: &Caller, name: &str, password: &str) -> CoreResult<u64> {
        let hash = passwords::hash(password).map_err(|e| Refusal::invalid(e.to_string()).field("password"));
        let (caller2, name2) = (caller.clone(), name.to_owned());
        let result = self
            .storage
            .write(move |tx, now| {
                if let Some(who) = caller2.user() {
                    if who.name == name2 {
                        return Err(Refusal::invalid(
                            "change your own password with the current one, not as an administrator",
                        )
                        .field("user")
                        .into());
                    }
                    managed_user(tx, &caller2, &name2)?;
                }
                let hash = hash?;
                if !tx.set_password(&name2, &hash, true)? {
                    return Err(no_such_user());
                }
                let ended = tx.end_sessions(&name2, None)?;
                let event = Event::new(caller2.audit_name(), "user.password", &name2, "ok")
                    .detail(format!("one_time sessions_ended={ended}"));
                tx.append_audit(now, &event)?;
                Ok(ended)
            })
            .await;
        self.audited(caller, "user.password", name, result).await
    }

    /// Changes a staff member's own password, given their current one
    /// (audited as `user.password`, refusals too), and ends every other
    /// session of theirs, in the console and on the admin API alike (they
    /// share one store): a session opened with the old password, perhaps by
    /// whoever learnt it, does not outlive it. The session `keep` (its
    /// token), the one the change was made in, stays; `None` ends them all.
    /// A one-time password is one no longer: the user's sessions are no
    /// longer restricted, and it can never be used again. Answers how many
    /// sessions ended.
    ///
    /// A wrong current password is refused with `bad_credentials` and ends
    /// nothing, a weak new one, or the current one again, with
    /// `invalid_request` (field `new_password`); the operator sets passwords with
    /// [`Service::set_password`] instead.
    pub async fn change_own_password(
        &self,
        caller: &Caller,
        current: &str,
        new: &str,
        keep: Option<&str>,
    ) -> CoreResult<u64> {
        let Some(who) = caller.user() else {
            return Err(Refusal::invalid("the operator sets passwords with set_password").into());
        };
        let name = who.name.clone();
        let hash = passwords::hash(new).map_err(|e| Refusal::invalid(e.to_string()).field("new_password"));
        let (caller2, name2, current, new) =
            (caller.clone(), name.clone(), current.to_owned(), new.to_owned());
        let keep = keep.map(sha256);
        let result = self
            .storage
            .write(move |tx, now| {
                let stored = tx.password_hash(&name2)?;
                if !stored.as_deref().is_some_and(|h| passwords::verify(h, &current)) {
                    return Err(CoreError::refused(
                        ErrorCode::BadCredentials,
                        "the current password is wrong",
                    ));
                }
                if new == current {
                    return Err(Refusal::invalid("choose a password other than the current one")
                        .field("new_password")
                        .into());
                }
                let hash = hash?;
                if !tx.set_password(&name2, &hash, false)? {
                    return Err(no_such_user());
                }
                let ended = tx.end_sessions(&name2, keep.as_deref())?;
                let event = Event::new(caller2.audit_name(), "user.password", &name2, "ok")
                    .detail(format!("own sessions_ended={ended}"));
                tx.append_audit(now, &event)?;
                Ok(ended)
            })
            .await;
        self.audited(caller, "user.password", name, result).await
    }

    /// Issues a one-time enrollment code for `user`, valid for `ttl_ms`
    /// (1 second to [`MAX_TTL_MS`]); only its digest is stored. For a code
    /// with its QR ticket, as people are given it, see
    /// [`Service::issue_ticket`].
    pub async fn issue_enrollment(&self, caller: &Caller, user: &str, ttl_ms: u64) -> CoreResult<IssuedCode> {
        check_ttl(ttl_ms)?;
        self.store_code(caller, user, ttl_ms, new_code()?).await
    }

    /// Stores an enrollment code made beforehand (its ticket rendered) once
    /// `caller` may issue it for `user`, with its audit row.
    pub(super) async fn store_code(
        &self,
        caller: &Caller,
        user: &str,
        ttl_ms: u64,
        code: String,
    ) -> CoreResult<IssuedCode> {
        let (caller2, user2) = (caller.clone(), user.to_owned());
        let result = self
            .storage
            .write(move |tx, now| {
                let target = if caller2.user().is_some() {
                    managed_user(tx, &caller2, &user2)?
                } else {
                    tx.user(&user2)?.ok_or_else(no_such_user)?
                };
                if !target.active {
                    return Err(CoreError::refused(ErrorCode::UserInactive, "the user is deactivated"));
                }
                let expires_ms = now.saturating_add(ttl_ms);
                tx.insert_enrollment(&NewEnrollment {
                    code_hash: &code_digest(&code),
                    user: &user2,
                    created_ms: now,
                    expires_ms,
                })?;
                let event = Event::new(caller2.audit_name(), "enroll.issue", &user2, "ok")
                    .detail(format!("ttl_ms={ttl_ms}"));
                tx.append_audit(now, &event)?;
                Ok(IssuedCode { code, expires_ms })
            })
            .await;
        self.audited(caller, "enroll.issue", user, result).await
    }

    /// Devices `caller` may read: all for the operator; for staff, those of
    /// users within their subtree (and, for staff of the whole deployment,
    /// devices of no user).
    pub async fn list_devices(&self, caller: &Caller) -> CoreResult<Vec<Device>> {
        self.listing(caller, "device.list", |tx, caller, cache| visible_devices(tx, caller, cache)).await
    }

    /// [`Self::list_devices`], each device with when it last synced (its
    /// last accepted push or issued pull cursor), read on the same snapshot.
    pub async fn list_devices_synced(&self, caller: &Caller) -> CoreResult<Vec<SyncedDevice>> {
        self.listing(caller, "device.list", |tx, caller, cache| {
            let devices = visible_devices(tx, caller, cache)?;
            let last: HashMap<ActorId, Option<u64>> =
                tx.device_last_syncs()?.into_iter().map(|d| (d.device, d.last_ms)).collect();
            Ok(devices
                .into_iter()
                .map(|device| {
                    let last_sync_ms = last.get(&device.id).copied().flatten().or(device.last_push_ms);
                    SyncedDevice { device, last_sync_ms }
                })
                .collect())
        })
        .await
    }

    /// Revokes a device; with `wipe`, its next request tells it to destroy its store.
    pub async fn revoke_device(&self, caller: &Caller, id: ActorId, wipe: bool) -> CoreResult<()> {
        let caller2 = caller.clone();
        let result = self
            .storage
            .write(move |tx, now| {
                if caller2.user().is_some() {
                    let owner = tx.device_user(id)?.ok_or_else(no_such_device)?;
                    managed_user(tx, &caller2, &owner)?;
                }
                if !tx.revoke_device(id, now, wipe)? {
                    return Err(no_such_device());
                }
                let action = if wipe { "device.revoke_wipe" } else { "device.revoke" };
                tx.append_audit(now, &Event::new(caller2.audit_name(), action, id.to_string(), "ok"))?;
                Ok(())
            })
            .await;
        self.audited(caller, "device.revoke", id.to_string(), result).await
    }
}

/// The devices `caller` may read (see [`Service::list_devices`]).
fn visible_devices(tx: &mut dyn ReadTx, caller: &Caller, cache: &DirectoryCache) -> CoreResult<Vec<Device>> {
    let devices = tx.devices()?;
    let Some(who) = caller.user() else { return Ok(devices) };
    let (_, dir) = cache.get(tx)?;
    let users = tx.users()?;
    let visible = |name: &Option<String>| {
        users.iter().any(|u| Some(&u.name) == name.as_ref() && policy::within(&dir, &u.scope, &who.scope))
            || (who.scope.is_empty() && name.is_none())
    };
    Ok(devices.into_iter().filter(|d| visible(&d.user)).collect())
}

fn no_such_device() -> CoreError {
    Refusal::new(ErrorCode::NotFound, "no such device").field("device").into()
}

fn login(tx: &mut dyn WriteTx, now: u64, name: &str, password: &str) -> CoreResult<Session> {
    let hash = tx.password_hash(name)?;
    let matches = passwords::verify(hash.as_deref().unwrap_or_else(|| dummy_hash()), password);
    let refused = || CoreError::refused(ErrorCode::BadCredentials, "wrong user name or password");
    if hash.is_none() || !matches {
        return Err(refused());
    }
    let user = tx.user(name)?.ok_or_else(refused)?;
    if !user.active {
        return Err(CoreError::refused(ErrorCode::UserInactive, "the user is deactivated"));
    }
    let token = b64(&random::<32>()?);
    let expires_ms = now + SESSION_MS;
    tx.insert_session(&NewSession { token_hash: &sha256(&token), user: name, created_ms: now, expires_ms })?;
    tx.purge_sessions(now)?;
    tx.append_audit(now, &Event::new(format!("user:{name}"), "login", name, "ok"))?;
    Ok(Session { token, expires_ms, user })
}

fn assign(
    tx: &mut dyn WriteTx,
    now: u64,
    caller: &Caller,
    name: &str,
    scope: &str,
    unit: Option<&str>,
    settings: &ScopeSettings,
) -> CoreResult<User> {
    let user = managed_user(tx, caller, name)?;
    if !user.active {
        return Err(CoreError::refused(
            ErrorCode::UserInactive,
            "the user is deactivated and cannot be assigned",
        ));
    }
    let dir = directory::load(tx)?;
    let scope = policy::resolve_assignment(&dir, user.role, scope, unit)?;
    caller.require(|who| policy::may_manage(who, user.role, &scope, &dir))?;
    policy::check_field_place(&dir, user.role, &scope)?;
    if scope == user.scope && unit == user.unit.as_deref() {
        return Ok(user);
    }
    tx.assign_user(name, &scope, unit)?;
    let devices: Vec<Actor> = tx.device_users(Some(name))?.iter().map(User::actor).collect();
    if !devices.is_empty() {
        super::places::check_budget(tx, now, &dir, &devices, settings)?;
    }
    let detail = format!("from={} to={scope} unit={}", user.scope, unit.unwrap_or(""));
    tx.append_audit(now, &Event::new(caller.audit_name(), "user.assign", name, "ok").detail(detail))?;
    tx.bump_directory(crate::clock::now_micros())?;
    Ok(User { scope, unit: unit.map(str::to_owned), ..user })
}
