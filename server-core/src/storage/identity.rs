//! Identity: users, one-time enrollment codes, enrolled devices and admin
//! sessions. Secrets never rest here in the clear: codes and session tokens
//! arrive as SHA-256 digests, passwords as argon2id PHC strings.

use gridsync_proto::{Actor, ActorId, Role};

use super::StorageResult;

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
    /// Whether their password is one-time (set for them by someone else):
    /// their sessions may do nothing but change it until they have.
    pub must_change_password: bool,
}

impl User {
    /// The rules' view of the user.
    pub fn actor(&self) -> Actor {
        Actor {
            user: self.name.clone(),
            role: self.role,
            place: (!self.scope.is_empty()).then(|| self.scope.clone()),
            unit: self.unit.clone(),
        }
    }
}

/// A user to add.
#[derive(Debug, Clone, Copy)]
pub struct NewUser<'a> {
    /// Unique name.
    pub name: &'a str,
    /// What they may do.
    pub role: Role,
    /// Their place code, already resolved ('' for the whole deployment).
    pub scope: &'a str,
    /// Their unit (department users).
    pub unit: Option<&'a str>,
    /// An argon2id PHC string, or None for users who only sync. A password
    /// given here was chosen by whoever adds the user: it is one-time
    /// ([`User::must_change_password`]).
    pub password_hash: Option<&'a str>,
    /// When (Unix ms).
    pub now: u64,
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

/// A device to enroll.
#[derive(Debug, Clone, Copy)]
pub struct NewDevice<'a> {
    /// Its actor id.
    pub id: ActorId,
    /// Its user.
    pub user: &'a str,
    /// Its Ed25519 public key.
    pub public_key: &'a [u8],
    /// When (Unix ms).
    pub now: u64,
}

/// An enrollment code as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrollment {
    /// The user it enrolls a device for.
    pub user: String,
    /// When it expires (Unix ms).
    pub expires_ms: u64,
    /// When it was used, if it was.
    pub used_ms: Option<u64>,
}

/// An enrollment code to store.
#[derive(Debug, Clone, Copy)]
pub struct NewEnrollment<'a> {
    /// SHA-256 of the normalized code.
    pub code_hash: &'a [u8],
    /// The user.
    pub user: &'a str,
    /// When it was issued (Unix ms).
    pub created_ms: u64,
    /// When it expires (Unix ms).
    pub expires_ms: u64,
}

/// An admin session to store.
#[derive(Debug, Clone, Copy)]
pub struct NewSession<'a> {
    /// SHA-256 of the bearer token.
    pub token_hash: &'a [u8],
    /// Who logged in.
    pub user: &'a str,
    /// When (Unix ms).
    pub created_ms: u64,
    /// When it expires (Unix ms).
    pub expires_ms: u64,
}

/// Reads of identity data.
pub trait IdentityRead {
    /// One user.
    fn user(&mut self, name: &str) -> StorageResult<Option<User>>;

    /// Every user, by name.
    fn users(&mut self) -> StorageResult<Vec<User>>;

    /// A user's stored password hash (active or not), if they have one.
    fn password_hash(&mut self, name: &str) -> StorageResult<Option<String>>;

    /// What authentication needs about an enrolled device.
    fn device_key(&mut self, id: ActorId) -> StorageResult<Option<DeviceKey>>;

    /// Every device, newest enrollment first.
    fn devices(&mut self) -> StorageResult<Vec<Device>>;

    /// Whether a device with this id is known (enrolled or not).
    fn device_exists(&mut self, id: ActorId) -> StorageResult<bool>;

    /// The user a device belongs to.
    fn device_user(&mut self, id: ActorId) -> StorageResult<Option<String>>;

    /// Active users with an enrolled device that is not revoked (only
    /// `user`, if given), each once.
    fn device_users(&mut self, user: Option<&str>) -> StorageResult<Vec<User>>;

    /// An enrollment code by the digest of its normalized text.
    fn enrollment(&mut self, code_hash: &[u8]) -> StorageResult<Option<Enrollment>>;

    /// The user of a session live at `now`, by its token's digest.
    fn session_user(&mut self, token_hash: &[u8], now: u64) -> StorageResult<Option<String>>;
}

/// Writes of identity data. The caller checks every rule; the backend stores.
pub trait IdentityWrite {
    /// Adds a user (active).
    fn insert_user(&mut self, user: &NewUser<'_>) -> StorageResult<()>;

    /// Sets a user's scope and unit.
    fn assign_user(&mut self, name: &str, scope: &str, unit: Option<&str>) -> StorageResult<()>;

    /// Sets a user's password hash, one-time ([`User::must_change_password`])
    /// or not; `false` when there is no such user.
    fn set_password(&mut self, name: &str, hash: &str, one_time: bool) -> StorageResult<bool>;

    /// Deactivates a user, revokes their devices (without wipe) and ends
    /// their sessions. `None` when there is no such user, else how many
    /// devices were revoked.
    fn deactivate_user(&mut self, name: &str, now: u64) -> StorageResult<Option<u64>>;

    /// Stores an enrollment code.
    fn insert_enrollment(&mut self, enrollment: &NewEnrollment<'_>) -> StorageResult<()>;

    /// Marks an enrollment code used by `device`.
    fn use_enrollment(&mut self, code_hash: &[u8], device: ActorId, now: u64) -> StorageResult<()>;

    /// Enrolls a device.
    fn insert_device(&mut self, device: &NewDevice<'_>) -> StorageResult<()>;

    /// Revokes a device (keeping the first revocation time); `wipe` adds a
    /// wipe order. `false` when there is no such device.
    fn revoke_device(&mut self, id: ActorId, now: u64, wipe: bool) -> StorageResult<bool>;

    /// Stores a session.
    fn insert_session(&mut self, session: &NewSession<'_>) -> StorageResult<()>;

    /// Ends a session.
    fn delete_session(&mut self, token_hash: &[u8]) -> StorageResult<()>;

    /// Ends every session of `user` but the one whose token's digest is
    /// `keep` (all of them when `None`); answers how many ended.
    fn end_sessions(&mut self, user: &str, keep: Option<&[u8]>) -> StorageResult<u64>;

    /// Forgets sessions that expired before `now`.
    fn purge_sessions(&mut self, now: u64) -> StorageResult<()>;
}
