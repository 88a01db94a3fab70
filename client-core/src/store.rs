//! The handset store: records, the outbox and the device identity in one
//! SQLite file.
//!
//! Every write is one transaction that updates the record's merged state,
//! queues the change in the outbox and advances the clock; it returns only
//! after the commit, with `synchronous = FULL`, so an acknowledged edit
//! survives a crash or a flat battery.
//!
//! Record states, outbox changes and the device secret (author name, signing
//! key) are sealed with the [`StoreKey`] the app supplies (see
//! [`crate::crypto`]); record ids, kinds, the conflict flag, the device's
//! actor id, server URL, clock and cursor stay readable, for queries and sync.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use gridsync_proto::{
    ActorId, Change, Dot, EnrollRequest, EnrollResponse, FieldValue, Hlc, HlcClock, Op, RecordId, RecordKind,
    RecordState, Value,
};
use gridsync_sql_support::Schema;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use serde::{Deserialize, Serialize};

use crate::crypto::{Cipher, StoreKey};
use crate::error::{Error, Result};
use crate::identity::{Signer, SigningKey};
use crate::sync::{self, SyncOptions, SyncReport};
use crate::transport::{HttpTransport, Request, Transport};

/// The handset store schema, one step per version.
pub static SCHEMA: Schema = Schema {
    name: "handset store",
    application_id: 0x4753_4443, // "GSDC"
    steps: &[include_str!("../sql/v1.sql"), include_str!("../sql/v2.sql")],
};

/// Where the key check is sealed, and what it holds.
const KEY_CHECK_AAD: &[u8] = b"key-check";
const KEY_CHECK: &[u8] = b"gridsync handset store key check";
/// Where the device secret is sealed.
const DEVICE_SECRET_AAD: &[u8] = b"device-secret";
/// Format byte in front of an encoded [`DeviceSecret`].
const SECRET_FORMAT: u8 = 1;

/// One edit to a record, before it becomes a [`Change`].
#[derive(Debug, Clone, PartialEq)]
pub enum Edit {
    /// Set a field (replacing every value of it this device has seen).
    Set(String, Value),
    /// Append an entry of the given kind.
    Append(String, BTreeMap<String, Value>),
}

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
    pub(crate) clock: HlcClock,
    pub(crate) cursor: u64,
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
    path: PathBuf,
    signer: Option<Signer>,
    wiped: bool,
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

impl Store {
    /// Creates the store at `path` with a new device identity, encrypted
    /// with `key`. The same key must be given to every later [`Store::open`].
    pub fn init(path: &Path, server_url: &str, author: &str, key: &StoreKey) -> Result<Store> {
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
    pub fn open(path: &Path, key: &StoreKey) -> Result<Store> {
        if !path.exists() {
            return Err(Error::NotInitialized);
        }
        let mut conn = gridsync_sql_support::open(path, &SCHEMA)?;
        let cipher = Cipher::new(key);
        encrypt_plaintext_store(&mut conn, &cipher)?;
        let device = load_device(&conn, &cipher)?.ok_or(Error::NotInitialized)?;
        let signer = match &device.secret.signing_key {
            Some(pkcs8) => Some(Signer::new(device.actor, SigningKey::from_pkcs8(pkcs8.clone())?)),
            None => None,
        };
        Ok(Store { conn, device, cipher, path: path.to_owned(), signer, wiped: false })
    }

    /// Enrolls this device with a one-time code from the township: makes the
    /// device's key pair, registers the public key, and from then on signs
    /// as the user the code was issued for (who becomes the author of this
    /// device's changes).
    pub fn enroll(&mut self, transport: &dyn Transport, code: &str) -> Result<EnrollResponse> {
        self.live()?;
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
        let signer = Signer::new(self.device.actor, key);
        signer.correct_clock(enrolled.server_time_ms);
        self.signer = Some(signer);
        Ok(enrolled)
    }

    /// Whether the device has enrolled.
    pub fn is_enrolled(&self) -> bool {
        self.signer.is_some()
    }

    /// Trusts only this township CA (PEM) for HTTPS to the server, durably.
    pub fn pin_ca(&mut self, ca_pem: &[u8]) -> Result<()> {
        self.live()?;
        // Refuse a file that is not a CA certificate now, not at sync time.
        HttpTransport::with_pinned_ca("https://check.invalid", ca_pem)?;
        self.conn.execute("UPDATE device SET ca_pem = ?1 WHERE id = 1", [ca_pem])?;
        Ok(())
    }

    /// The HTTP transport to this store's server (pinned to its CA, if set).
    pub fn http_transport(&self) -> Result<HttpTransport> {
        self.live()?;
        let ca: Option<Vec<u8>> =
            self.conn.query_row("SELECT ca_pem FROM device WHERE id = 1", [], |r| r.get(0))?;
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
    fn live(&self) -> Result<()> {
        if self.wiped { Err(Error::Wiped) } else { Ok(()) }
    }

    /// Erases the store: closes it and deletes its files (the database, its
    /// WAL and shared memory). The key is the host's to destroy. Afterwards
    /// every call answers [`Error::Wiped`].
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
    fn save_secret(&mut self, secret: DeviceSecret) -> Result<()> {
        let sealed = seal_secret(&self.cipher, &secret)?;
        let changed = self.conn.execute("UPDATE device SET secret = ?1 WHERE id = 1", [sealed])?;
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

    /// Creates a record with initial field values; returns its new id.
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

    /// Applies edits to an existing record, atomically.
    pub fn edit(&mut self, id: RecordId, edits: impl IntoIterator<Item = Edit>) -> Result<()> {
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
        if state.values(field).len() < 2 {
            return Err(Error::NoConflict { record: id, field: field.to_owned() });
        }
        self.edit(id, [Edit::Set(field.to_owned(), value)])
    }

    /// One record, if this device holds it.
    pub fn get(&self, id: RecordId) -> Result<Option<RecordState>> {
        self.live()?;
        load_state(&self.conn, &self.cipher, id)
    }

    /// Records matching `filter`, oldest first.
    pub fn list(&self, filter: &RecordFilter) -> Result<Vec<RecordState>> {
        self.live()?;
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
        Ok(self.conn.query_row("SELECT count(*) FROM outbox", [], |r| r.get::<_, i64>(0))? as u64)
    }

    /// Runs one sync with the server: push the outbox, then pull.
    pub fn sync(&mut self, transport: &dyn Transport) -> Result<SyncReport> {
        sync::run(self, transport, &SyncOptions::default())
    }

    /// Runs one sync with explicit page sizes.
    pub fn sync_with(&mut self, transport: &dyn Transport, options: &SyncOptions) -> Result<SyncReport> {
        sync::run(self, transport, options)
    }

    /// Makes changes from edits and commits them with the record's new state.
    fn write(
        &mut self,
        id: RecordId,
        create: Option<RecordKind>,
        edits: impl IntoIterator<Item = Edit>,
    ) -> Result<()> {
        self.live()?;
        let actor = self.device.actor;
        let author = self.device.secret.author.clone();
        let mut clock = self.device.clock.clone();
        let cipher = &self.cipher;
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut state = match (load_state(&tx, cipher, id)?, create) {
            (Some(state), None) => state,
            (None, Some(kind)) => RecordState::new(id, kind),
            (Some(_), Some(_)) => return Err(Error::Corrupt("a new record id is already taken")),
            (None, None) => return Err(Error::NotFound(id)),
        };
        let now = now_ms();
        let ops = create.map(|_| Op::Create).into_iter().chain(edits.into_iter().map(|edit| match edit {
            // `supersedes` is filled in just before the change is made.
            Edit::Set(field, value) => Op::Set { field, value, supersedes: Vec::new() },
            Edit::Append(entry, body) => Op::Append { entry, body },
        }));
        for mut op in ops {
            if let Op::Set { field, supersedes, .. } = &mut op {
                *supersedes = state.live_dots(field);
            }
            let change = Change {
                record: id,
                kind: state.kind(),
                dot: Dot { actor, counter: state.next_counter(&actor) },
                author: author.clone(),
                time: clock.tick(now),
                op,
            };
            change.validate()?;
            state.apply(&change)?;
            queue_change(&tx, cipher, &change)?;
        }
        save_state(&tx, cipher, &state)?;
        save_clock(&tx, clock.last())?;
        tx.commit()?;
        self.device.clock = clock;
        Ok(())
    }
}

/// Whether the device row still holds v1 plaintext: `None` without a row.
fn is_plaintext(conn: &Connection) -> Result<Option<bool>> {
    Ok(conn
        .query_row("SELECT key_check IS NULL AND secret IS NULL FROM device WHERE id = 1", [], |r| r.get(0))
        .optional()?)
}

/// Seals the plaintext of a store written before encryption at rest (schema
/// version 1): every record state, every outbox change and the author, in
/// one transaction. Each value is decoded first, so that data which is not
/// v1 plaintext is refused as corrupt rather than sealed. Does nothing to an
/// encrypted store.
fn encrypt_plaintext_store(conn: &mut Connection, cipher: &Cipher) -> Result<()> {
    if is_plaintext(conn)? != Some(true) {
        return Ok(());
    }
    // Overwrite what is deleted or moved, rather than only unlinking it.
    let secure_delete: i64 = conn.query_row("PRAGMA secure_delete", [], |r| r.get(0))?;
    conn.pragma_update(None, "secure_delete", 1)?;
    let sealed = seal_plaintext(conn, cipher)?;
    if let Some((records, outbox)) = sealed {
        tracing::info!(records, outbox, "encrypted a plaintext handset store");
        // The plaintext is gone from the tables, not yet from the file:
        // rebuild it and empty the WAL. Best effort: the data is sealed.
        let compacted = conn
            .execute_batch("VACUUM")
            .and_then(|()| conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get::<_, i64>(0)));
        match compacted {
            Ok(0) => {}
            Ok(_) => tracing::warn!("the store was encrypted but its WAL could not be emptied yet"),
            Err(e) => tracing::warn!(error = %e, "the store was encrypted but could not be compacted"),
        }
    }
    conn.pragma_update(None, "secure_delete", secure_delete)?;
    Ok(())
}

/// The transaction of [`encrypt_plaintext_store`]; returns how many record
/// states and outbox changes it sealed, or `None` if another process sealed
/// the store first.
fn seal_plaintext(conn: &mut Connection, cipher: &Cipher) -> Result<Option<(usize, usize)>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if is_plaintext(&tx)? != Some(true) {
        return Ok(None);
    }
    let ids: Vec<Vec<u8>> =
        tx.prepare("SELECT id FROM records")?.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    for raw in &ids {
        let id = RecordId::from_slice(raw).ok_or(Error::Corrupt("record id"))?;
        let plain: Vec<u8> = tx.query_row("SELECT state FROM records WHERE id = ?1", [raw], |r| r.get(0))?;
        match RecordState::from_bytes(&plain) {
            Ok(state) if state.id() == id => {}
            _ => return Err(Error::Corrupt("record state")),
        }
        tx.execute(
            "UPDATE records SET state = ?1 WHERE id = ?2",
            params![cipher.seal(&record_aad(id), &plain)?, raw],
        )?;
    }
    let seqs: Vec<i64> =
        tx.prepare("SELECT seq FROM outbox")?.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    for &seq in &seqs {
        let plain: Vec<u8> = tx.query_row("SELECT change FROM outbox WHERE seq = ?1", [seq], |r| r.get(0))?;
        postcard::from_bytes::<Change>(&plain).map_err(|_| Error::Corrupt("outbox entry"))?;
        tx.execute(
            "UPDATE outbox SET change = ?1 WHERE seq = ?2",
            params![cipher.seal(&outbox_aad(seq), &plain)?, seq],
        )?;
    }
    let author: String = tx.query_row("SELECT author FROM device WHERE id = 1", [], |r| r.get(0))?;
    let secret = DeviceSecret { author, signing_key: None };
    tx.execute(
        "UPDATE device SET author = '', key_check = ?1, secret = ?2 WHERE id = 1",
        params![cipher.seal(KEY_CHECK_AAD, KEY_CHECK)?, seal_secret(cipher, &secret)?],
    )?;
    tx.commit()?;
    Ok(Some((ids.len(), seqs.len())))
}

fn load_device(conn: &Connection, cipher: &Cipher) -> Result<Option<Device>> {
    let row = conn
        .query_row(
            "SELECT actor, server_url, hlc_millis, hlc_logical, cursor, key_check, secret
             FROM device WHERE id = 1",
            [],
            |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, Option<Vec<u8>>>(5)?,
                    r.get::<_, Option<Vec<u8>>>(6)?,
                ))
            },
        )
        .optional()?;
    let Some((actor, server_url, millis, logical, cursor, key_check, secret)) = row else {
        return Ok(None);
    };
    let key_check = key_check.ok_or(Error::Corrupt("device key check"))?;
    if cipher.open(KEY_CHECK_AAD, &key_check).ok().as_deref() != Some(KEY_CHECK) {
        return Err(Error::WrongKey);
    }
    let secret = open_secret(cipher, &secret.ok_or(Error::Corrupt("device secret"))?)?;
    let actor = ActorId::from_slice(&actor).ok_or(Error::Corrupt("device id"))?;
    let last = Hlc { millis: millis as u64, logical: logical as u32 };
    Ok(Some(Device { actor, server_url, secret, clock: HlcClock::resume(last), cursor: cursor as u64 }))
}

fn seal_secret(cipher: &Cipher, secret: &DeviceSecret) -> Result<Vec<u8>> {
    let mut plain =
        postcard::to_extend(secret, vec![SECRET_FORMAT]).expect("encoding into a Vec cannot fail");
    let sealed = cipher.seal(DEVICE_SECRET_AAD, &plain);
    plain.fill(0);
    std::hint::black_box(&plain);
    sealed
}

fn open_secret(cipher: &Cipher, sealed: &[u8]) -> Result<DeviceSecret> {
    let mut plain = cipher.open(DEVICE_SECRET_AAD, sealed).map_err(|_| Error::Corrupt("device secret"))?;
    let secret = match plain.split_first() {
        Some((&SECRET_FORMAT, rest)) => match postcard::take_from_bytes(rest) {
            Ok((secret, [])) => Ok(secret),
            _ => Err(Error::Corrupt("device secret")),
        },
        _ => Err(Error::Corrupt("device secret")),
    };
    plain.fill(0);
    std::hint::black_box(&plain);
    secret
}

/// Where a record's state is sealed: bound to the record's id.
fn record_aad(id: RecordId) -> Vec<u8> {
    [&b"record:"[..], &id.as_bytes()[..]].concat()
}

/// Where an outbox change is sealed: bound to its position in the outbox.
fn outbox_aad(seq: i64) -> Vec<u8> {
    [&b"outbox:"[..], &seq.to_be_bytes()].concat()
}

pub(crate) fn load_state(conn: &Connection, cipher: &Cipher, id: RecordId) -> Result<Option<RecordState>> {
    let sealed: Option<Vec<u8>> = conn
        .prepare_cached("SELECT state FROM records WHERE id = ?1")?
        .query_row([id.as_bytes()], |r| r.get(0))
        .optional()?;
    sealed.map(|b| open_state(cipher, id, &b)).transpose()
}

pub(crate) fn save_state(tx: &Transaction<'_>, cipher: &Cipher, state: &RecordState) -> Result<()> {
    let sealed = cipher.seal(&record_aad(state.id()), &state.to_bytes())?;
    tx.prepare_cached(
        "INSERT INTO records (id, kind, state, conflicted) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (id) DO UPDATE SET state = excluded.state, conflicted = excluded.conflicted",
    )?
    .execute(params![state.id().as_bytes(), state.kind().code(), sealed, state.has_conflicts()])?;
    Ok(())
}

/// Appends a change to the outbox, sealed and bound to its position.
fn queue_change(tx: &Transaction<'_>, cipher: &Cipher, change: &Change) -> Result<()> {
    // The position is known only once the row exists: insert, then fill in.
    tx.prepare_cached("INSERT INTO outbox (change) VALUES (x'')")?.execute([])?;
    let seq = tx.last_insert_rowid();
    let plain = postcard::to_allocvec(change).expect("encoding into a Vec cannot fail");
    let sealed = cipher.seal(&outbox_aad(seq), &plain)?;
    tx.prepare_cached("UPDATE outbox SET change = ?1 WHERE seq = ?2")?.execute(params![sealed, seq])?;
    Ok(())
}

/// Decrypts the outbox change at `seq` (its postcard encoding).
pub(crate) fn open_change(cipher: &Cipher, seq: i64, sealed: &[u8]) -> Result<Vec<u8>> {
    cipher.open(&outbox_aad(seq), sealed).map_err(|_| Error::Corrupt("outbox entry"))
}

pub(crate) fn save_clock(tx: &Transaction<'_>, last: Hlc) -> Result<()> {
    tx.prepare_cached("UPDATE device SET hlc_millis = ?1, hlc_logical = ?2 WHERE id = 1")?
        .execute(params![last.millis as i64, last.logical])?;
    Ok(())
}

fn open_state(cipher: &Cipher, id: RecordId, sealed: &[u8]) -> Result<RecordState> {
    let plain = cipher.open(&record_aad(id), sealed).map_err(|_| Error::Corrupt("record state"))?;
    RecordState::from_bytes(&plain).map_err(|_| Error::Corrupt("record state"))
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
