//! The handset store: records, the outbox and the device identity in one
//! SQLite file.
//!
//! Every write is one transaction that updates the record's merged state,
//! queues the change in the outbox and advances the clock; it returns only
//! after the commit, with `synchronous = FULL`, so an acknowledged edit
//! survives a crash or a flat battery.
//!
//! Every edit is checked with the record rules of `gridsync-proto` for the
//! enrolled user (their role, assignment and the places their device knows)
//! before it is written, exactly as the server will check it; an edit the
//! rules refuse is [`Error::Rule`] and nothing is written.
//!
//! Record states, outbox changes, refused changes, the user's profile and the
//! device secret (author name, signing key) are sealed with the [`StoreKey`]
//! the app supplies (see [`crate::crypto`]); record ids, kinds, the conflict
//! flag, the device's actor id, server URL, clock and cursor stay readable,
//! for queries and sync.
//!
//! The store checks itself on open ([`health`]): a damaged file opens in a
//! state that refuses writes and syncs with [`Error::Damaged`] but still
//! answers reads where it can, and so does a store on which any statement
//! later finds damage. [`crate::doctor`] salvages such a store.

pub(crate) mod health;
mod migrate;
pub(crate) mod sealed;

use std::cell::Cell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

pub use gridsync_proto::Edit;
use gridsync_proto::edit::{Author, EditError};
use gridsync_proto::{
    ActorId, Directory, Dot, EnrollRequest, EnrollResponse, FieldValue, HlcClock, Profile, RecordId,
    RecordKind, RecordState, Value, check_group, make_group,
};
use gridsync_sql_support::Schema;
use rusqlite::{Connection, TransactionBehavior, params};
use serde::{Deserialize, Serialize};

use crate::crypto::{Cipher, StoreKey};
use crate::error::{Error, Result};
use crate::identity::{Signer, SigningKey};
use crate::sync::{self, SyncObserver, SyncOptions, SyncReport};
use crate::transport::{HttpTransport, Request, Transport};
use migrate::encrypt_plaintext_store;
use sealed::{
    KEY_CHECK, KEY_CHECK_AAD, load_device, load_state, open_state, save_clock, save_state, seal_secret,
};

/// The handset store schema, one step per version.
pub static SCHEMA: Schema = Schema {
    name: "handset store",
    application_id: 0x4753_4443, // "GSDC"
    steps: &[
        include_str!("../sql/v1.sql"),
        include_str!("../sql/v2.sql"),
        include_str!("../sql/v3.sql"),
        include_str!("../sql/v4.sql"),
        include_str!("../sql/v5.sql"),
        include_str!("../sql/v6.sql"),
        include_str!("../sql/v7.sql"),
    ],
};

/// Which records [`Store::list`] returns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordFilter {
    /// Only this kind.
    pub kind: Option<RecordKind>,
    /// Only records with a conflict.
    pub conflicted: bool,
    /// Only records whose field (by displayed value) equals this value.
    pub field_equals: Option<(String, Value)>,
}

/// One field in conflict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The record.
    pub record: RecordId,
    /// Its kind.
    pub kind: RecordKind,
    /// The field.
    pub field: String,
    /// Every competing value, with device, author and time.
    pub values: Vec<FieldValue>,
}

/// Who this device is.
#[derive(Debug, Clone)]
pub(crate) struct Device {
    pub(crate) actor: ActorId,
    pub(crate) server_url: String,
    pub(crate) secret: DeviceSecret,
    /// The enrolled user's profile, refreshed by pulls.
    pub(crate) profile: Option<Profile>,
    pub(crate) clock: HlcClock,
    pub(crate) cursor: u64,
    /// Rebuilt by a repair and not yet pulled again to the end.
    pub(crate) restoring: bool,
    /// The server epoch of the last page applied (0: none yet).
    pub(crate) epoch: u64,
}

/// What the device keeps sealed in its row: the author name written into
/// every change, and the device's signing key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DeviceSecret {
    /// The author name this device writes into its changes.
    pub(crate) author: String,
    /// The device's Ed25519 key as a PKCS#8 document, once it has one.
    pub(crate) signing_key: Option<Vec<u8>>,
}

impl std::fmt::Debug for DeviceSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Neither the name (personal data) nor the key.
        let key = if self.signing_key.is_some() { "<redacted>" } else { "none" };
        write!(f, "DeviceSecret {{ author: <{} bytes>, signing_key: {key} }}", self.author.len())
    }
}

impl Drop for DeviceSecret {
    fn drop(&mut self) {
        if let Some(key) = &mut self.signing_key {
            key.fill(0);
            std::hint::black_box(key);
        }
    }
}

/// The store on one handset.
#[derive(Debug)]
pub struct Store {
    pub(crate) conn: Connection,
    pub(crate) device: Device,
    pub(crate) cipher: Cipher,
    /// The places and units the device knows, from the profile.
    pub(crate) directory: Directory,
    path: PathBuf,
    signer: Option<Signer>,
    wiped: bool,
    /// Found damaged: every write and sync is refused from then on.
    damaged: Cell<bool>,
    /// The network the app says the handset is on (attachment transfers).
    pub(crate) network: crate::attachments::NetworkKind,
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

impl Store {
    /// Creates the store at `path` with a new device identity, encrypted
    /// with `key`. The same key must be given to every later [`Store::open`].
    /// `server_url` must be an absolute `http://` or `https://` URL
    /// ([`crate::transport::check_server_url`]).
    pub fn init(path: &Path, server_url: &str, author: &str, key: &StoreKey) -> Result<Store> {
        crate::transport::check_server_url(server_url)?;
        let cipher = Cipher::new(key);
        let mut conn = gridsync_sql_support::open(path, &SCHEMA)?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let exists: bool = tx.query_row("SELECT count(*) > 0 FROM device", [], |r| r.get(0))?;
        if exists {
            return Err(Error::AlreadyInitialized);
        }
        let actor = ActorId::random();
        let secret = DeviceSecret { author: author.to_owned(), signing_key: None };
        tx.execute(
            "INSERT INTO device
                (id, actor, server_url, author, hlc_millis, hlc_logical, cursor, key_check, secret)
             VALUES (1, ?1, ?2, '', 0, 0, 0, ?3, ?4)",
            params![
                actor.as_bytes(),
                server_url,
                cipher.seal(KEY_CHECK_AAD, KEY_CHECK)?,
                seal_secret(&cipher, &secret)?
            ],
        )?;
        tx.commit()?;
        drop(conn);
        Self::open(path, key)
    }

    /// Opens an initialised store with its key. A missing file is
    /// [`Error::NotInitialized`] (nothing is created); a key other than the
    /// one the store was created with is [`Error::WrongKey`].
    ///
    /// A store written before encryption at rest (schema version 1) is
    /// encrypted with `key` here, in one transaction, and then compacted so
    /// that its plaintext does not linger in free pages or the WAL.
    ///
    /// The file checks itself first (`PRAGMA quick_check`): a damaged store
    /// opens in the damaged state ([`Store::is_damaged`]), in which reads
    /// answer what they can and every write and sync is [`Error::Damaged`];
    /// a store too damaged to read its device identity, and one whose
    /// repair was interrupted, do not open at all ([`Error::Damaged`]).
    /// Either way `gridsync doctor` ([`crate::doctor::repair`]) is next.
    pub fn open(path: &Path, key: &StoreKey) -> Result<Store> {
        if crate::doctor::interrupted(path) {
            return Err(Error::Damaged);
        }
        if !path.exists() {
            return Err(Error::NotInitialized);
        }
        if !health::quick_check(path)? {
            tracing::info!("the handset store failed its check on open: it refuses writes and syncs");
            return Self::open_damaged(path, key);
        }
        let mut conn = gridsync_sql_support::open(path, &SCHEMA)?;
        // Records that leave the device's scope are overwritten, not just unlinked.
        conn.pragma_update(None, "secure_delete", 1)?;
        let cipher = Cipher::new(key);
        encrypt_plaintext_store(&mut conn, &cipher)?;
        let device = load_device(&conn, &cipher)?.ok_or(Error::NotInitialized)?;
        let signer = match &device.secret.signing_key {
            Some(pkcs8) => Some(Signer::new(device.actor, SigningKey::from_pkcs8(pkcs8.clone())?)),
            None => None,
        };
        let directory = device.profile.as_ref().map(Profile::directory).unwrap_or_default();
        Ok(Store {
            conn,
            device,
            cipher,
            directory,
            path: path.to_owned(),
            signer,
            wiped: false,
            damaged: Cell::new(false),
            network: Default::default(),
        })
    }

    /// Opens a store that failed its check, read-only, in the damaged
    /// state: what can be read can be read; nothing can be written.
    fn open_damaged(path: &Path, key: &StoreKey) -> Result<Store> {
        let conn = health::open_read_only(path)?;
        let cipher = Cipher::new(key);
        let device = match load_device(&conn, &cipher) {
            Ok(Some(device)) => device,
            Err(Error::WrongKey) => return Err(Error::WrongKey),
            Ok(None) | Err(_) => return Err(Error::Damaged),
        };
        let signer = device
            .secret
            .signing_key
            .as_ref()
            .and_then(|pkcs8| SigningKey::from_pkcs8(pkcs8.clone()).ok())
            .map(|key| Signer::new(device.actor, key));
        let directory = device.profile.as_ref().map(Profile::directory).unwrap_or_default();
        Ok(Store {
            conn,
            device,
            cipher,
            directory,
            path: path.to_owned(),
            signer,
            wiped: false,
            damaged: Cell::new(true),
            network: Default::default(),
        })
    }

    /// Whether the store was found damaged (on open or by a later
    /// statement): it then refuses writes and syncs with [`Error::Damaged`]
    /// until it is repaired ([`crate::doctor::repair`]).
    pub fn is_damaged(&self) -> bool {
        self.damaged.get()
    }

    /// Repairs this store in place ([`crate::doctor::repair`]): closes
    /// it, salvages it into a fresh store if it is damaged, and goes on
    /// with the store then at its path. A sound store is left as it is.
    /// `key` is the store's key.
    pub fn repair(&mut self, key: &StoreKey) -> Result<crate::doctor::RepairReport> {
        self.live()?;
        // The repair needs the file closed: no connection may be left on it.
        drop(std::mem::replace(&mut self.conn, Connection::open_in_memory()?));
        let repaired = crate::doctor::repair(&self.path, key);
        match Store::open(&self.path, key) {
            Ok(store) => *self = store,
            Err(e) => {
                // Nothing usable at the path: refuse everything from now on.
                self.damaged.set(true);
                return Err(match repaired {
                    Err(failed) => failed,
                    Ok(_) => e,
                });
            }
        }
        repaired
    }

    /// Whether the store was rebuilt by a repair and has not yet pulled its
    /// records again to the end (the next sync does).
    pub fn is_restoring(&self) -> bool {
        self.device.restoring
    }

    /// Refuses to write to a wiped or damaged store.
    pub(crate) fn writable(&self) -> Result<()> {
        self.live()?;
        if self.damaged.get() { Err(Error::Damaged) } else { Ok(()) }
    }

    /// Passes `result` on, switching the store to the damaged state if it
    /// is an error that shows damage (any statement may find it).
    pub(crate) fn watch<T>(&self, result: Result<T>) -> Result<T> {
        if let Err(e) = &result
            && e.is_damage()
            && !self.wiped
            && !self.damaged.replace(true)
        {
            tracing::warn!("the handset store is damaged: from now on it refuses writes and syncs");
        }
        result
    }

    /// Enrolls this device with a one-time code from the township: makes the
    /// device's key pair, registers the public key, and from then on signs
    /// as the user the code was issued for (who becomes the author of this
    /// device's changes).
    pub fn enroll(&mut self, transport: &dyn Transport, code: &str) -> Result<EnrollResponse> {
        self.writable()?;
        let key = SigningKey::generate()?;
        let request = EnrollRequest {
            code: code.trim().to_owned(),
            device: self.device.actor,
            public_key: gridsync_proto::auth::b64(key.public_key()),
        };
        let body = serde_json::to_vec(&request).map_err(|_| Error::Corrupt("enrollment request"))?;
        let answer = transport.send(Request {
            path: "/v1/enroll",
            content_type: "application/json",
            headers: Vec::new(),
            body,
        })?;
        let enrolled: EnrollResponse = serde_json::from_slice(&answer)
            .map_err(|_| Error::Network("the server's enrollment answer is not understood".into()))?;
        let secret = DeviceSecret { author: enrolled.user.clone(), signing_key: Some(key.pkcs8().to_vec()) };
        self.save_secret(secret)?;
        if let Some(profile) = &enrolled.profile {
            let saved = self.set_profile(&self.conn, profile);
            self.watch(saved)?;
            self.adopt_profile(profile.clone());
        }
        let signer = Signer::new(self.device.actor, key);
        signer.correct_clock(enrolled.server_time_ms);
        self.signer = Some(signer);
        Ok(enrolled)
    }

    /// The enrolled user's profile: role, assignment and the places this
    /// device knows. `None` before enrollment.
    pub fn profile(&self) -> Option<&Profile> {
        self.device.profile.as_ref()
    }

    /// The places and units this device knows.
    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    /// Stores a profile (inside the caller's transaction).
    pub(crate) fn set_profile(&self, conn: &Connection, profile: &Profile) -> Result<()> {
        sealed::save_profile(conn, &self.cipher, profile)
    }

    /// Uses a stored profile from now on.
    pub(crate) fn adopt_profile(&mut self, profile: Profile) {
        self.directory = profile.directory();
        self.device.profile = Some(profile);
    }

    /// Whether the device has enrolled.
    pub fn is_enrolled(&self) -> bool {
        self.signer.is_some()
    }

    /// Trusts only this township CA (PEM) for HTTPS to the server, durably.
    /// Refused ([`Error::ServerUrl`]) while the server URL is `http://`:
    /// plain HTTP would not use it.
    pub fn pin_ca(&mut self, ca_pem: &[u8]) -> Result<()> {
        self.writable()?;
        if !crate::transport::check_server_url(&self.device.server_url)? {
            return Err(Error::ServerUrl(
                "is http://, which a pinned CA is of no use to: pin a CA for an https:// server",
            ));
        }
        // Refuse a file that is not a CA certificate now, not at sync time.
        HttpTransport::with_pinned_ca("https://check.invalid", ca_pem)?;
        let pinned = self.conn.execute("UPDATE device SET ca_pem = ?1 WHERE id = 1", [ca_pem]);
        self.watch(pinned.map_err(Error::from))?;
        Ok(())
    }

    /// Moves this device to the server at `url` (the township's server got
    /// a new address), keeping its identity, keys, outbox, records and
    /// sync cursor: the next sync goes to `url`. `url` must be an absolute
    /// `http://` or `https://` URL. With `ca_pem`, the device trusts only
    /// that township CA from now on (an `https://` URL only); without it, a
    /// CA pinned before is kept, and then `url` must be `https://` too.
    /// Checked first, written in one transaction: on an error nothing
    /// changed.
    pub fn set_server(&mut self, url: &str, ca_pem: Option<&[u8]>) -> Result<()> {
        self.writable()?;
        let https = crate::transport::check_server_url(url)?;
        let pinned = self.has_pinned_ca()?;
        if !https && ca_pem.is_some() {
            return Err(Error::ServerUrl(
                "is http://, which a pinned CA is of no use to: give an https:// URL with a CA",
            ));
        }
        if !https && pinned {
            return Err(Error::ServerUrl(
                "is http://, but this device trusts a pinned township CA, which is for https:// only: give the server's https:// URL",
            ));
        }
        if let Some(pem) = ca_pem {
            HttpTransport::with_pinned_ca(url, pem)?;
        }
        let moved = self.conn.execute(
            "UPDATE device SET server_url = ?1, ca_pem = coalesce(?2, ca_pem) WHERE id = 1",
            params![url, ca_pem],
        );
        self.watch(moved.map_err(Error::from))?;
        self.device.server_url = url.to_owned();
        Ok(())
    }

    /// Whether this device trusts a pinned township CA for its server.
    pub fn has_pinned_ca(&self) -> Result<bool> {
        self.live()?;
        let pinned =
            self.conn.query_row("SELECT ca_pem IS NOT NULL FROM device WHERE id = 1", [], |r| r.get(0));
        self.watch(pinned.map_err(Error::from))
    }

    /// The HTTP transport to this store's server (pinned to its CA, if set).
    pub fn http_transport(&self) -> Result<HttpTransport> {
        self.live()?;
        let ca = self.conn.query_row("SELECT ca_pem FROM device WHERE id = 1", [], |r| r.get(0));
        let ca: Option<Vec<u8>> = self.watch(ca.map_err(Error::from))?;
        match ca {
            Some(pem) => HttpTransport::with_pinned_ca(&self.device.server_url, &pem),
            None => HttpTransport::new(&self.device.server_url),
        }
    }

    /// The signer of sync requests.
    pub(crate) fn signer(&self) -> Result<&Signer> {
        self.live()?;
        self.signer.as_ref().ok_or(Error::NotEnrolled)
    }

    /// Refuses to work on a wiped store.
    pub(crate) fn live(&self) -> Result<()> {
        if self.wiped { Err(Error::Wiped) } else { Ok(()) }
    }

    /// The store file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Erases the store: closes it and deletes its files (the database, its
    /// WAL and shared memory, the attachments directory). The key is the
    /// host's to destroy. Afterwards every call answers [`Error::Wiped`].
    pub(crate) fn wipe(&mut self) -> Result<()> {
        let closed = std::mem::replace(&mut self.conn, Connection::open_in_memory()?);
        drop(closed);
        self.wiped = true;
        self.signer = None;
        self.device.secret = DeviceSecret { author: String::new(), signing_key: None };
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut file = self.path.clone().into_os_string();
            file.push(suffix);
            match std::fs::remove_file(&file) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(_) => return Err(Error::Corrupt("the store files could not be erased")),
            }
        }
        match std::fs::remove_dir_all(self.attachments_dir()) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(_) => return Err(Error::Corrupt("the attachment files could not be erased")),
        }
        tracing::warn!("store erased on the server's order");
        Ok(())
    }

    /// This installation's actor id.
    pub fn device_id(&self) -> ActorId {
        self.device.actor
    }

    /// The author name this device writes into its changes.
    pub fn author(&self) -> &str {
        &self.device.secret.author
    }

    /// Replaces the sealed device secret (author and signing key), durably.
    pub(crate) fn save_secret(&mut self, secret: DeviceSecret) -> Result<()> {
        self.writable()?;
        let sealed = seal_secret(&self.cipher, &secret)?;
        let changed = self.conn.execute("UPDATE device SET secret = ?1 WHERE id = 1", [sealed]);
        let changed = self.watch(changed.map_err(Error::from))?;
        if changed != 1 {
            return Err(Error::NotInitialized);
        }
        self.device.secret = secret;
        Ok(())
    }

    /// The server this store syncs with.
    pub fn server_url(&self) -> &str {
        &self.device.server_url
    }

    /// The last server sequence number applied here.
    pub fn cursor(&self) -> u64 {
        self.device.cursor
    }

    /// Creates a record with initial field values, as one write group;
    /// returns its new id.
    pub fn create(
        &mut self,
        kind: RecordKind,
        fields: impl IntoIterator<Item = (String, Value)>,
    ) -> Result<RecordId> {
        let id = RecordId::generate(now_ms());
        let edits = fields.into_iter().map(|(k, v)| Edit::Set(k, v));
        self.write(id, Some(kind), edits)?;
        Ok(id)
    }

    /// Creates a record with a chosen id, or edits it if it exists (a daily
    /// report's id is fixed by its worker and day).
    pub(crate) fn create_or_edit(
        &mut self,
        id: RecordId,
        kind: RecordKind,
        edits: impl IntoIterator<Item = Edit>,
    ) -> Result<Vec<Dot>> {
        let exists = self.get(id)?.is_some();
        if !exists && self.device.restoring {
            // This device may have written the record before the repair: a
            // new creation could reuse one of its change ids.
            return Err(Error::Restoring);
        }
        self.write(id, (!exists).then_some(kind), edits)
    }

    /// Applies edits to an existing record, atomically (one write group).
    pub fn edit(&mut self, id: RecordId, edits: impl IntoIterator<Item = Edit>) -> Result<()> {
        self.write(id, None, edits).map(drop)
    }

    /// [`Store::edit`], returning the dots of the changes made.
    pub(crate) fn edit_dots(
        &mut self,
        id: RecordId,
        edits: impl IntoIterator<Item = Edit>,
    ) -> Result<Vec<Dot>> {
        self.write(id, None, edits)
    }

    /// Sets fields of a record.
    pub fn set(&mut self, id: RecordId, fields: impl IntoIterator<Item = (String, Value)>) -> Result<()> {
        self.edit(id, fields.into_iter().map(|(k, v)| Edit::Set(k, v)))
    }

    /// Appends a `note` entry with a `text` attribute.
    pub fn note(&mut self, id: RecordId, text: &str) -> Result<()> {
        let body = BTreeMap::from([("text".to_owned(), Value::from(text))]);
        self.edit(id, [Edit::Append("note".to_owned(), body)])
    }

    /// Resolves a conflict: `value` replaces every competing value of `field`.
    pub fn resolve(&mut self, id: RecordId, field: &str, value: Value) -> Result<()> {
        let state = self.get(id)?.ok_or(Error::NotFound(id))?;
        if !state.in_conflict(field) {
            return Err(Error::NoConflict { record: id, field: field.to_owned() });
        }
        self.edit(id, [Edit::Set(field.to_owned(), value)])
    }

    /// One record, if this device holds it.
    pub fn get(&self, id: RecordId) -> Result<Option<RecordState>> {
        self.live()?;
        self.watch(load_state(&self.conn, &self.cipher, id))
    }

    /// Records matching `filter`, oldest first.
    pub fn list(&self, filter: &RecordFilter) -> Result<Vec<RecordState>> {
        self.live()?;
        self.watch(self.list_rows(filter))
    }

    /// [`Store::list`], without the damage watch.
    fn list_rows(&self, filter: &RecordFilter) -> Result<Vec<RecordState>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, state FROM records
             WHERE (?1 IS NULL OR kind = ?1) AND (?2 = 0 OR conflicted = 1)
             ORDER BY id",
        )?;
        let kind = filter.kind.map(RecordKind::code);
        let rows = stmt.query_map(params![kind, filter.conflicted], |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, sealed) = row?;
            let id = RecordId::from_slice(&id).ok_or(Error::Corrupt("record id"))?;
            let state = open_state(&self.cipher, id, &sealed)?;
            let keep = match &filter.field_equals {
                Some((field, value)) => state.value(field) == Some(value),
                None => true,
            };
            if keep {
                out.push(state);
            }
        }
        Ok(out)
    }

    /// Every field in conflict on this device.
    pub fn conflicts(&self) -> Result<Vec<Conflict>> {
        let filter = RecordFilter { conflicted: true, ..RecordFilter::default() };
        let mut out = Vec::new();
        for state in self.list(&filter)? {
            for (field, values) in state.conflicts() {
                out.push(Conflict {
                    record: state.id(),
                    kind: state.kind(),
                    field: field.to_owned(),
                    values: values.to_vec(),
                });
            }
        }
        Ok(out)
    }

    /// Changes made here that the server has not acknowledged yet.
    pub fn pending(&self) -> Result<u64> {
        self.live()?;
        let count = self
            .conn
            .query_row("SELECT count(*) FROM outbox WHERE acked_ms IS NULL", [], |r| r.get::<_, i64>(0));
        Ok(self.watch(count.map_err(Error::from))? as u64)
    }

    /// Runs one sync with the server: push the outbox, then pull.
    pub fn sync(&mut self, transport: &dyn Transport) -> Result<SyncReport> {
        sync::run(self, transport, &SyncOptions::default())
    }

    /// Runs one sync with explicit page sizes.
    pub fn sync_with(&mut self, transport: &dyn Transport, options: &SyncOptions) -> Result<SyncReport> {
        sync::run(self, transport, options)
    }

    /// Runs one sync, reporting progress to `observer` and stopping between
    /// pages when it asks to ([`Error::Cancelled`]; nothing is lost, the next
    /// sync goes on from there).
    pub fn sync_observed(
        &mut self,
        transport: &dyn Transport,
        options: &SyncOptions,
        observer: &dyn SyncObserver,
    ) -> Result<SyncReport> {
        sync::run_observed(self, transport, options, observer)
    }

    /// Makes changes from edits, checks them with the record rules as one
    /// group, and commits them with the record's new state. Returns the
    /// changes' dots. A damaged store refuses; damage found on the way
    /// rolls the write back and leaves the store damaged.
    fn write(
        &mut self,
        id: RecordId,
        create: Option<RecordKind>,
        edits: impl IntoIterator<Item = Edit>,
    ) -> Result<Vec<Dot>> {
        self.writable()?;
        let written = self.write_group(id, create, edits);
        self.watch(written)
    }

    /// [`Store::write`], without the damage checks.
    fn write_group(
        &mut self,
        id: RecordId,
        create: Option<RecordKind>,
        edits: impl IntoIterator<Item = Edit>,
    ) -> Result<Vec<Dot>> {
        let profile = self.device.profile.as_ref().ok_or(Error::NotEnrolled)?;
        let actor = self.device.actor;
        let author = self.device.secret.author.clone();
        let mut clock = self.device.clock.clone();
        let cipher = &self.cipher;
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let before = load_state(&tx, cipher, id)?;
        let mut state = match (&before, create) {
            (Some(state), None) => state.clone(),
            (None, Some(kind)) => RecordState::new(id, kind),
            (Some(_), Some(_)) => return Err(Error::Corrupt("a new record id is already taken")),
            (None, None) => return Err(Error::NotFound(id)),
        };
        let mut author = Author { device: actor, name: &author, clock: &mut clock, now_ms: now_ms() };
        let changes = make_group(&mut state, &mut author, create.is_some(), edits).map_err(|e| match e {
            EditError::Invalid(e) => Error::Invalid(e),
            EditError::Merge(e) => Error::Merge(e),
        })?;
        if changes.is_empty() {
            return Ok(Vec::new());
        }
        check_group(before.as_ref(), &state, &changes, &profile.actor, &self.directory)?;
        sealed::queue_group(&tx, cipher, &changes)?;
        save_state(&tx, cipher, &state)?;
        save_clock(&tx, clock.last())?;
        tx.commit()?;
        self.device.clock = clock;
        Ok(changes.iter().map(|c| c.dot).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signing_key_is_sealed_durable_and_never_printed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("h.db");
        let key = StoreKey::from_bytes([5; 32]);
        let mut store = Store::init(&path, "http://127.0.0.1:1", "网格员 王五", &key).expect("init");
        assert!(!store.is_enrolled());
        assert!(matches!(store.signer(), Err(Error::NotEnrolled)));
        let signing = SigningKey::generate().expect("key");
        let pkcs8 = signing.pkcs8().to_vec();
        let secret = DeviceSecret { author: "网格员 王五".into(), signing_key: Some(pkcs8.clone()) };
        store.save_secret(secret).expect("save");
        let shown = format!("{store:?}");
        assert!(!shown.contains("王五"), "{shown}");
        drop(store);

        let bytes = std::fs::read(&path).expect("read");
        assert!(!bytes.windows(pkcs8.len()).any(|w| w == &pkcs8[..]));
        let store = Store::open(&path, &key).expect("open");
        assert!(store.is_enrolled());
        assert_eq!(store.device.secret.signing_key.as_deref(), Some(&pkcs8[..]));
        assert_eq!(store.author(), "网格员 王五");
        let plain_author: String =
            store.conn.query_row("SELECT author FROM device", [], |r| r.get(0)).expect("author");
        assert_eq!(plain_author, "");
    }
}
