//! [`GridStore`]: one handset store, shared by the app's threads.
//!
//! Every call takes the store's lock for its duration, so calls from any
//! number of threads run one after another, each on one consistent state;
//! `cancel_sync` alone never waits for it. A sync takes the lock only for
//! each piece of database work (reading the outbox, applying a page), never
//! while it waits for the server, so the app's reads and writes go on
//! during a sync; two syncs run one after the other. A call that panics (a bug, or an
//! exception thrown by the app's listener) is caught by UniFFI and answered
//! with its internal error; the lock it held is then poisoned, and the next
//! call reopens the store from its file (everything committed is there) and
//! goes on.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use gridsync_client_core::sync::{StoreAccess, run_shared};
use gridsync_client_core::{DailyReport, Edit, RecordFilter, Store, StoreKey, SyncOptions, Transport};
use gridsync_proto::RecordId;

use crate::convert;
use crate::error::GridError;
use crate::listener::{Observer, SyncListener};
use crate::transport::{ForeignAdapter, ForeignTransport};
use crate::types::{
    AttachmentInfo, ConflictInfo, Enrolled, Gps, Mediation, NetworkKind, NewDispute, RejectionInfo,
    RepairSummary, StepDetails, SyncSummary, Visit,
};

/// The author a store writes until it is enrolled (nothing can be written
/// before: every write needs the enrolled user's profile).
const UNENROLLED_AUTHOR: &str = "device";

/// One handset store: records, the outbox of unsent changes and the device
/// identity in one encrypted SQLite file. Thread-safe.
#[derive(uniffi::Object)]
pub struct GridStore {
    store: Mutex<Store>,
    /// Held for a whole sync, so that syncs do not overlap; reads and
    /// writes do not take it.
    syncing: Mutex<()>,
    /// Held for a whole attachment fetch: fetches run one after another
    /// (two of the same file would write the same download).
    fetching: Mutex<()>,
    /// Set by `cancel_sync`; outside the lock so that it can be set while a
    /// sync holds it.
    cancel: AtomicBool,
    transport: Option<Arc<dyn ForeignTransport>>,
    path: PathBuf,
    /// Kept to reopen the store after a panic.
    key: StoreKey,
    device: String,
}

impl std::fmt::Debug for GridStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("GridStore")
            .field("path", &self.path)
            .field("device", &self.device)
            .field("foreign_transport", &self.transport.is_some())
            .finish_non_exhaustive()
    }
}

/// The 32-byte store key, as two keys (one opens the store, one is kept to
/// reopen it); the caller's copy is overwritten.
fn keys(mut key: Vec<u8>) -> Result<(StoreKey, StoreKey), GridError> {
    let bytes: Result<[u8; 32], _> = key.as_slice().try_into();
    key.fill(0);
    let mut bytes = bytes.map_err(|_| GridError::invalid("key", "a store key is exactly 32 bytes"))?;
    let keys = (StoreKey::from_bytes(bytes), StoreKey::from_bytes(bytes));
    bytes.fill(0);
    std::hint::black_box(&bytes);
    Ok(keys)
}

impl GridStore {
    fn wrap(
        store: Store,
        path: PathBuf,
        key: StoreKey,
        transport: Option<Arc<dyn ForeignTransport>>,
    ) -> Arc<Self> {
        let device = store.device_id().to_string();
        Arc::new(GridStore {
            store: Mutex::new(store),
            syncing: Mutex::new(()),
            fetching: Mutex::new(()),
            cancel: AtomicBool::new(false),
            transport,
            path,
            key,
            device,
        })
    }

    /// The store, for one call. After a panic in an earlier call the store
    /// is reopened from its file: what that call held in memory may be
    /// half-updated, what it committed is on disk.
    fn lock(&self) -> Result<MutexGuard<'_, Store>, GridError> {
        Ok(self.lock_core()?)
    }

    /// [`Self::lock`], with the core's error.
    fn lock_core(&self) -> Result<MutexGuard<'_, Store>, gridsync_client_core::Error> {
        match self.store.lock() {
            Ok(guard) => Ok(guard),
            Err(poisoned) => {
                let mut guard = poisoned.into_inner();
                // A store erased on the server's order has no file; it stays
                // as it is and answers `Wiped`.
                if self.path.exists() {
                    *guard = Store::open(&self.path, &self.key)?;
                }
                self.store.clear_poison();
                Ok(guard)
            }
        }
    }

    /// The transport to the server: the app's, or the default one.
    fn transport(&self, store: &Store) -> Result<Box<dyn Transport>, GridError> {
        Ok(match &self.transport {
            Some(foreign) => Box::new(ForeignAdapter::new(foreign.clone(), store.server_url())),
            None => Box::new(store.http_transport()?),
        })
    }

    /// Runs `f` on the store, converting the core's error.
    fn with<T>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, gridsync_client_core::Error>,
    ) -> Result<T, GridError> {
        let mut store = self.lock()?;
        Ok(f(&mut store)?)
    }
}

#[uniffi::export]
impl GridStore {
    /// Creates a new store at `path` for the server at `server_url` (an
    /// absolute `http://…` or `https://…` URL; else `Validation`, field
    /// `server_url`), encrypted with `key`: 32 random bytes
    /// that the app keeps in the Android Keystore or iOS Keychain and gives
    /// to every later `open`. Fails if a store exists there. Enroll it next.
    #[uniffi::constructor(default(transport = None))]
    pub fn create(
        path: String,
        server_url: String,
        key: Vec<u8>,
        transport: Option<Arc<dyn ForeignTransport>>,
    ) -> Result<Arc<Self>, GridError> {
        let (key, kept) = keys(key)?;
        let path = PathBuf::from(path);
        let store = Store::init(&path, &server_url, UNENROLLED_AUTHOR, &key)?;
        Ok(Self::wrap(store, path, kept, transport))
    }

    /// Opens the store at `path` with its `key`. A missing file is
    /// `Storage` (nothing is created); another key is `Storage` too. A
    /// damaged file opens refusing writes and syncs (`is_damaged`; offer
    /// `repair`); one too damaged to read its device identity, or whose
    /// repair was interrupted, is `Damaged` (offer `repair_store`).
    #[uniffi::constructor(default(transport = None))]
    pub fn open(
        path: String,
        key: Vec<u8>,
        transport: Option<Arc<dyn ForeignTransport>>,
    ) -> Result<Arc<Self>, GridError> {
        let (key, kept) = keys(key)?;
        let path = PathBuf::from(path);
        let store = Store::open(&path, &key)?;
        Ok(Self::wrap(store, path, kept, transport))
    }

    /// Enrolls the device with the one-time code from the township (typed,
    /// or the QR code's text): the device makes its key pair, registers the
    /// public key and receives its user's profile. `Auth` for a bad, used
    /// or expired code.
    pub fn enroll(&self, code: String) -> Result<Enrolled, GridError> {
        let mut store = self.lock()?;
        let transport = self.transport(&store)?;
        let code =
            serde_json::from_str::<gridsync_proto::EnrollmentTicket>(&code).map(|t| t.code).unwrap_or(code);
        let answer = store.enroll(transport.as_ref(), &code)?;
        Ok(store.profile().map(Enrolled::from).unwrap_or_else(|| Enrolled {
            user: answer.user,
            role: answer.role.name().to_owned(),
            place: (!answer.scope.is_empty()).then_some(answer.scope),
            unit: None,
        }))
    }

    /// Who the device is enrolled for; `None` before enrollment.
    pub fn enrolled_user(&self) -> Result<Option<Enrolled>, GridError> {
        self.with(|s| Ok(s.is_enrolled().then(|| s.profile().map(Enrolled::from)).flatten()))
    }

    /// This installation's device id (a UUID), as the township's device
    /// list shows it.
    pub fn device_id(&self) -> String {
        self.device.clone()
    }

    /// The path of the store file.
    pub fn path(&self) -> String {
        self.path.display().to_string()
    }

    /// Trusts only this township CA (PEM, the township's `ca.pem`) for the
    /// default HTTPS transport, durably. An app's own transport does its own
    /// certificate checks.
    pub fn pin_ca(&self, ca_pem: Vec<u8>) -> Result<(), GridError> {
        self.with(|s| s.pin_ca(&ca_pem))
    }

    /// Moves the device to the server at `server_url` (the township's
    /// server got a new address), keeping its identity, keys, unsent
    /// changes, records and sync position; the next sync goes there. The
    /// URL is checked as in `create` (`Validation`, field `server_url`).
    /// With `ca_pem` (PEM), only that township CA is trusted from now on,
    /// for an `https://` URL only; without it, a CA pinned before is kept,
    /// and the URL must then be `https://`. Durable; on an error nothing
    /// changed. Not while a sync runs: it waits for the sync to end.
    #[uniffi::method(default(ca_pem = None))]
    pub fn set_server(&self, server_url: String, ca_pem: Option<Vec<u8>>) -> Result<(), GridError> {
        let _no_sync = self.syncing.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        self.with(|s| s.set_server(&server_url, ca_pem.as_deref()))
    }

    /// The server this store syncs with.
    pub fn server_url(&self) -> Result<String, GridError> {
        self.with(|s| Ok(s.server_url().to_owned()))
    }

    // ---- Records -------------------------------------------------------

    /// Creates a record of `kind` (`patrol`, `visit`, `dispute`,
    /// `daily_report`, `household`) with the fields of `fields_json` (a
    /// JSON object), checked by the record rules as one write. Returns its
    /// id. The typed calls below fill in what they can.
    pub fn create_record(&self, kind: String, fields_json: String) -> Result<String, GridError> {
        let kind = convert::kind(&kind, "kind")?;
        let fields = convert::fields(&fields_json, "fields_json")?;
        self.with(|s| s.create(kind, fields)).map(|id| id.to_string())
    }

    /// Sets fields of a record (a JSON object of field names to values),
    /// atomically: all or none.
    pub fn set_fields(&self, id: String, fields_json: String) -> Result<(), GridError> {
        let id = convert::record_id(&id, "id")?;
        let fields = convert::fields(&fields_json, "fields_json")?;
        self.with(|s| s.set(id, fields))
    }

    /// Appends a `note` entry with the attribute `text`.
    pub fn add_note(&self, id: String, text: String) -> Result<(), GridError> {
        let id = convert::record_id(&id, "id")?;
        self.with(|s| s.note(id, &text))
    }

    /// Appends an entry of sort `entry` (`note`, `checkpoint`, `mediation`,
    /// …) with the attributes of `body_json` (a JSON object). Entries never
    /// conflict.
    pub fn append_entry(&self, id: String, entry: String, body_json: String) -> Result<(), GridError> {
        let id = convert::record_id(&id, "id")?;
        let body = convert::fields(&body_json, "body_json")?;
        self.with(|s| s.edit(id, [Edit::Append(entry, body)]))
    }

    /// One record as its JSON view (`docs/CLI.md`, "Record view": fields,
    /// conflicts, entries, a dispute's lifecycle, the server's receipts);
    /// `None` if this device does not hold it.
    pub fn get_record(&self, id: String) -> Result<Option<String>, GridError> {
        let id = convert::record_id(&id, "id")?;
        let store = self.lock()?;
        match store.get(id)? {
            Some(state) => convert::view_json(&store, &state).map(Some),
            None => Ok(None),
        }
    }

    /// Records on this device as JSON views, oldest first: of one `kind`
    /// (or all), only those with a field in conflict when `conflicted`.
    #[uniffi::method(default(kind = None, conflicted = false))]
    pub fn list_records(&self, kind: Option<String>, conflicted: bool) -> Result<Vec<String>, GridError> {
        let kind = kind.map(|k| convert::kind(&k, "kind")).transpose()?;
        let filter = RecordFilter { kind, conflicted, field_equals: None };
        let store = self.lock()?;
        store.list(&filter)?.iter().map(|state| convert::view_json(&store, state)).collect()
    }

    /// Every field in conflict on this device, with each competing value,
    /// its device, author and time.
    pub fn conflicts(&self) -> Result<Vec<ConflictInfo>, GridError> {
        let store = self.lock()?;
        let mut out = Vec::new();
        for conflict in store.conflicts()? {
            let receipts = store.receipts(conflict.record)?;
            out.push(ConflictInfo::of(&conflict, |dot| receipts.get(dot).copied()));
        }
        Ok(out)
    }

    /// Resolves a conflict: `value_json` replaces every competing value of
    /// `field`. `Validation` (`no_conflict`) if the field has none: use
    /// `set_fields` for that.
    pub fn resolve_conflict(&self, id: String, field: String, value_json: String) -> Result<(), GridError> {
        let id = convert::record_id(&id, "id")?;
        let value = convert::value(&value_json, "value_json")?;
        self.with(|s| s.resolve(id, &field, value))
    }

    /// Changes made here that the server has not acknowledged yet.
    pub fn pending_changes(&self) -> Result<u64, GridError> {
        self.with(|s| s.pending())
    }

    // ---- Field work ----------------------------------------------------

    /// Starts a patrol (巡查) of the user's grid at `started_ms` (Unix ms).
    pub fn start_patrol(&self, started_ms: u64) -> Result<String, GridError> {
        self.with(|s| s.start_patrol(started_ms)).map(|id| id.to_string())
    }

    /// Records a checkpoint of a patrol: the place, when, and the position.
    #[uniffi::method(default(note = None))]
    pub fn add_checkpoint(
        &self,
        patrol: String,
        place: String,
        time_ms: u64,
        gps: Gps,
        note: Option<String>,
    ) -> Result<(), GridError> {
        let patrol = convert::record_id(&patrol, "patrol")?;
        self.with(|s| s.add_checkpoint(patrol, &place, time_ms, &gps.into(), note.as_deref()))
    }

    /// Links a finding of a patrol to the record it produced.
    #[uniffi::method(default(note = None))]
    pub fn add_finding(&self, patrol: String, record: String, note: Option<String>) -> Result<(), GridError> {
        let patrol = convert::record_id(&patrol, "patrol")?;
        let record = convert::record_id(&record, "record")?;
        self.with(|s| s.add_finding(patrol, record, note.as_deref()))
    }

    /// Ends a patrol.
    #[uniffi::method(default(summary = None))]
    pub fn end_patrol(
        &self,
        patrol: String,
        ended_ms: u64,
        summary: Option<String>,
    ) -> Result<(), GridError> {
        let patrol = convert::record_id(&patrol, "patrol")?;
        self.with(|s| s.end_patrol(patrol, ended_ms, summary.as_deref()))
    }

    /// Records a household or place visit (走访); returns its id.
    pub fn record_visit(&self, visit: Visit) -> Result<String, GridError> {
        let visit = visit.into_core()?;
        self.with(|s| s.record_visit(&visit)).map(|id| id.to_string())
    }

    /// Records base information on a household or place (门牌、楼栋、人口、
    /// 单位): its `category` and further fields as a JSON object.
    pub fn record_household(&self, category: String, fields_json: String) -> Result<String, GridError> {
        let fields = convert::fields(&fields_json, "fields_json")?;
        self.with(|s| s.record_household(&category, fields)).map(|id| id.to_string())
    }

    /// Files "all safe" (平安) for `date` (`YYYY-MM-DD`; today in China
    /// Standard Time when `None`): a quiet day in one call. Returns the
    /// report's id, which is fixed by worker and day.
    #[uniffi::method(default(date = None))]
    pub fn file_all_safe(&self, date: Option<String>) -> Result<String, GridError> {
        let date = convert::date_or_today(date.as_deref(), "date")?;
        self.with(|s| s.file_all_safe(date)).map(|id| id.to_string())
    }

    /// Files the day's report, or updates it if already filed: with the
    /// day's patrols, visits and disputes as `items` (record ids), or as
    /// "all safe" when `items` is empty.
    #[uniffi::method(default(date = None, items = [], note = None))]
    pub fn file_daily_report(
        &self,
        date: Option<String>,
        items: Vec<String>,
        note: Option<String>,
    ) -> Result<String, GridError> {
        let date = convert::date_or_today(date.as_deref(), "date")?;
        let items: Vec<RecordId> =
            items.iter().map(|i| convert::record_id(i, "items")).collect::<Result<_, _>>()?;
        let report = if items.is_empty() {
            DailyReport::AllSafe { note }
        } else {
            DailyReport::HasItems { items, note }
        };
        self.with(|s| s.file_daily_report(date, &report)).map(|id| id.to_string())
    }

    // ---- Disputes ------------------------------------------------------

    /// Registers a dispute (矛盾纠纷登记) at the user's own place, which owns
    /// it first; returns its id.
    pub fn register_dispute(&self, dispute: NewDispute) -> Result<String, GridError> {
        let dispute = dispute.into_core()?;
        self.with(|s| s.register_dispute(&dispute)).map(|id| id.to_string())
    }

    /// Takes a lifecycle step on a dispute (`accept`, `mediate`, `resolve`,
    /// `follow_up`, `close`, `escalate`, `transfer`, `accept_transfer`,
    /// `return`, `request_closure`, `confirm_closure`, `assist`, `remind`,
    /// `acknowledge`), checked by who may take which step at which stage.
    /// Returns the step id (`DEVICE:COUNTER`).
    #[uniffi::method(default(details))]
    pub fn take_step(&self, id: String, action: String, details: StepDetails) -> Result<String, GridError> {
        let id = convert::record_id(&id, "id")?;
        let action = convert::action(&action, "action")?;
        let details = details.into_core()?;
        self.with(|s| s.take_step(id, action, details)).map(|dot| dot.to_string())
    }

    /// Records a mediation session (调解).
    pub fn add_mediation(&self, id: String, session: Mediation) -> Result<(), GridError> {
        let id = convert::record_id(&id, "id")?;
        self.with(|s| s.add_mediation(id, &session.into()))
    }

    /// A dispute's lifecycle as JSON: the object `gridsync dispute show
    /// --json` prints (`docs/CLI.md`, "Dispute lifecycle": `id`, `stage`,
    /// `owner`, `handler`, `cooperating`, `flagged`, `unacknowledged`,
    /// `steps`). `None` if this device does not hold the record or its
    /// registration has not arrived; `Validation` if it is not a dispute.
    pub fn dispute_status(&self, id: String) -> Result<Option<String>, GridError> {
        let id = convert::record_id(&id, "id")?;
        let store = self.lock()?;
        let Some(view) = store.view(id)? else { return Ok(None) };
        if view.kind != "dispute" {
            return Err(GridError::Validation {
                code: "invalid_record".into(),
                field: Some("id".into()),
                reason: format!("record {id} is a {}, not a dispute", view.kind),
            });
        }
        let Some(lifecycle) = view.lifecycle else { return Ok(None) };
        let mut shown = match serde_json::to_value(&lifecycle) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => return Err(GridError::Other { reason: "cannot encode a lifecycle as JSON".into() }),
        };
        shown.insert("id".into(), serde_json::Value::String(view.id));
        convert::to_json(&shown).map(Some)
    }

    /// Writes the server refused, kept until dismissed, oldest first.
    pub fn rejections(&self) -> Result<Vec<RejectionInfo>, GridError> {
        self.with(|s| s.rejections()).map(|all| all.iter().map(RejectionInfo::from).collect())
    }

    /// Forgets a refused write once the user has seen it.
    pub fn dismiss_rejection(&self, id: i64) -> Result<(), GridError> {
        self.with(|s| s.dismiss_rejection(id))
    }

    // ---- Sync ----------------------------------------------------------

    /// Runs one sync: pushes the unsent changes, then pulls everyone
    /// else's, reporting progress to `listener`. Blocking: call it from a
    /// background worker (Android: a WorkManager job). Fails with
    /// `Network` (retry later), `Cancelled`, `Revoked`, `Wiped` (the store
    /// files are gone), `Auth`; nothing unsent is ever lost.
    #[uniffi::method(default(listener = None))]
    pub fn sync(&self, listener: Option<Arc<dyn SyncListener>>) -> Result<SyncSummary, GridError> {
        // One sync at a time; a panic in an earlier one leaves nothing to undo here.
        let _one = self.syncing.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // A cancel is for the run under way: this one starts afresh.
        self.cancel.store(false, Ordering::SeqCst);
        let transport = self.transport(&*self.lock()?)?;
        let observer = Observer { cancel: &self.cancel, listener: listener.as_deref() };
        let report = run_shared(&Shared(self), transport.as_ref(), &SyncOptions::default(), &observer)?;
        let pending = self.lock()?.pending()?;
        Ok(SyncSummary::of(&report, pending))
    }

    // ---- Attachments ----------------------------------------------------

    /// Attaches a photo (JPEG, PNG, WebP, HEIC) or a PDF to record
    /// `record_id`, optionally to one of its entries (`entry`, as
    /// `device:counter`) and under `name`. The media type comes from the
    /// bytes. Stored encrypted beside the store; the reference syncs with
    /// the record, the file is uploaded after a later sync. The same bytes
    /// are stored once. `Validation` with code `bad_file` for an empty
    /// file, one over 20 MiB, of another kind, or a name over 200
    /// characters; nothing is written then.
    #[uniffi::method(default(entry = None, name = None))]
    pub fn attach(
        &self,
        record_id: String,
        bytes: Vec<u8>,
        entry: Option<String>,
        name: Option<String>,
    ) -> Result<AttachmentInfo, GridError> {
        let id = convert::record_id(&record_id, "record_id")?;
        let entry = entry.map(|e| convert::dot(&e, "entry")).transpose()?;
        self.with(|s| {
            let reference = s.attach(id, entry, name.as_deref(), &bytes)?;
            attached(s, id, &reference.hash)
        })
    }

    /// [`GridStore::attach`] of the file at `path` (read a piece at a
    /// time, never whole in memory). The name is not taken from the path.
    #[uniffi::method(default(entry = None, name = None))]
    pub fn attach_file(
        &self,
        record_id: String,
        path: String,
        entry: Option<String>,
        name: Option<String>,
    ) -> Result<AttachmentInfo, GridError> {
        let id = convert::record_id(&record_id, "record_id")?;
        let entry = entry.map(|e| convert::dot(&e, "entry")).transpose()?;
        self.with(|s| {
            let reference = s.attach_file(id, entry, name.as_deref(), Path::new(&path))?;
            attached(s, id, &reference.hash)
        })
    }

    /// The attachments record `record_id` references, in entry order:
    /// whether each is on this device (else `fetch_attachment`) and known
    /// to be on the server.
    pub fn attachments(&self, record_id: String) -> Result<Vec<AttachmentInfo>, GridError> {
        let id = convert::record_id(&record_id, "record_id")?;
        self.with(|s| Ok(s.attachments(id)?.into_iter().map(AttachmentInfo::from).collect()))
    }

    /// The bytes of an attachment on this device, checked against its
    /// hash. `Validation` with code `attachment_unavailable` when it is not
    /// here (fetch it first).
    pub fn read_attachment(&self, hash: String) -> Result<Vec<u8>, GridError> {
        let hash = content_hash(&hash)?;
        self.with(|s| s.read_attachment(&hash))
    }

    /// Writes a decrypted copy of an attachment on this device into `dir`
    /// (the app's cache directory, for a viewer), named by its hash with
    /// the media type's extension; returns its path. The copy is the app's
    /// to delete when the viewer is done.
    pub fn export_attachment(&self, hash: String, dir: String) -> Result<String, GridError> {
        let hash = content_hash(&hash)?;
        let path = self.with(|s| s.export_attachment(&hash, Path::new(&dir)))?;
        Ok(path.to_string_lossy().into_owned())
    }

    /// Downloads an attachment of record `record_id` from the server into
    /// the cache (resuming an interrupted download), then evicts the least
    /// recently opened files over the budget. On any network, also with
    /// `set_wifi_only(true)`: the user asked for it. Blocking: call it from
    /// a background thread; the store answers other calls meanwhile (a
    /// second fetch waits for the first). `Validation` with code `not_found` when
    /// the server does not have the file yet (its owner has not uploaded
    /// it: try again later) or the record is not one this device may see.
    pub fn fetch_attachment(&self, record_id: String, hash: String) -> Result<AttachmentInfo, GridError> {
        let id = convert::record_id(&record_id, "record_id")?;
        let hash = content_hash(&hash)?;
        let _one = self.fetching.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let transport = self.transport(&*self.lock()?)?;
        match gridsync_client_core::sync::fetch_shared(&Shared(self), transport.as_ref(), id, &hash) {
            Ok(info) => Ok(info.into()),
            Err(gridsync_client_core::Error::Rejected { body, .. })
                if body.code == gridsync_proto::ErrorCode::NotFound =>
            {
                Err(GridError::Validation {
                    code: body.code.as_str().to_owned(),
                    field: Some("hash".into()),
                    reason: body.message,
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Uploads attachments only on Wi-Fi (kept in the store). The app
    /// tells the network with `set_network`.
    pub fn set_wifi_only(&self, wifi_only: bool) -> Result<(), GridError> {
        self.with(|s| s.set_wifi_only(wifi_only))
    }

    /// Tells the store the network the handset is on now; call it on every
    /// change, and after opening the store (until then it is `Unknown`,
    /// and Wi-Fi-only uploads wait).
    pub fn set_network(&self, network: NetworkKind) -> Result<(), GridError> {
        self.with(|s| {
            s.set_network(network.into());
            Ok(())
        })
    }

    /// The byte budget of the cache of attachments fetched from others
    /// (kept in the store; 200 MiB at first). The least recently opened are
    /// evicted over it, now and after each fetch; this device's own files
    /// not yet uploaded never are.
    pub fn set_attachment_budget(&self, bytes: u64) -> Result<(), GridError> {
        self.with(|s| s.set_attachment_budget(bytes))
    }

    // ---- Damage and repair ---------------------------------------------

    /// Whether the store was found damaged (on open, or by a later call):
    /// it then refuses writes and syncs with `GridError.Damaged` and
    /// answers the reads it can, until `repair` is run.
    pub fn is_damaged(&self) -> Result<bool, GridError> {
        self.with(|s| Ok(s.is_damaged()))
    }

    /// Whether the store was rebuilt by a repair and has not yet pulled its
    /// records again (the next sync does): until then a daily report of a
    /// day it does not hold is refused (`Validation`, code `restoring`).
    pub fn is_restoring(&self) -> Result<bool, GridError> {
        self.with(|s| Ok(s.is_restoring()))
    }

    /// Repairs a damaged store: salvages the device's enrollment, unsent
    /// changes and refused writes into a fresh store, checks it and swaps
    /// it into place, keeping the damaged file aside; the store goes on
    /// with the fresh one. A sound store is left as it is
    /// (`repaired == false`). Blocking (it reads the whole file): call it
    /// from a background worker, with no sync running. Then sync: the
    /// unsent changes are sent first, then every record is pulled again.
    pub fn repair(&self) -> Result<RepairSummary, GridError> {
        let _no_sync = self.syncing.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut store = self.lock()?;
        Ok(store.repair(&self.key)?.into())
    }

    /// Asks the sync under way to stop before its next request: it then
    /// fails with `Cancelled`, keeping what it did. Never waits; no effect
    /// when no sync runs (the next one starts afresh).
    pub fn cancel_sync(&self) {
        self.cancel.store(true, Ordering::SeqCst);
    }
}

/// A content hash given as text.
fn content_hash(text: &str) -> Result<gridsync_proto::ContentHash, GridError> {
    text.parse()
        .map_err(|_| GridError::invalid("hash", "a content hash is 64 hexadecimal digits (a SHA-256)"))
}

/// The attachment just attached, as the record lists it.
fn attached(
    store: &Store,
    record: RecordId,
    hash: &gridsync_proto::ContentHash,
) -> Result<AttachmentInfo, gridsync_client_core::Error> {
    store
        .attachments(record)?
        .into_iter()
        .find(|a| a.reference.hash == *hash)
        .map(AttachmentInfo::from)
        .ok_or(gridsync_client_core::Error::AttachmentUnavailable("the record does not reference it"))
}

/// The store as a sync run takes it: locked for each piece of database
/// work, released while the run waits for the server.
struct Shared<'a>(&'a GridStore);

impl StoreAccess for Shared<'_> {
    fn with_store<T>(
        &self,
        f: impl FnOnce(&mut Store) -> gridsync_client_core::Result<T>,
    ) -> gridsync_client_core::Result<T> {
        f(&mut *self.0.lock_core()?)
    }
}

/// Repairs the store at `path` when `GridStore.open` itself fails with
/// `GridError.Damaged` (see `GridStore.repair`); no `GridStore` may be open
/// on `path`. `key` is the store's 32-byte key. Then open it again.
#[uniffi::export]
pub fn repair_store(path: String, key: Vec<u8>) -> Result<RepairSummary, GridError> {
    let (key, _) = keys(key)?;
    Ok(gridsync_client_core::doctor::repair(Path::new(&path), &key)?.into())
}

/// Whether a store file exists at `path` (e.g. after a wipe, it does not).
#[uniffi::export]
pub fn store_exists(path: String) -> bool {
    Path::new(&path).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn the_store_is_shared_between_threads() {
        assert_send_sync::<GridStore>();
    }

    fn new_store(dir: &tempfile::TempDir) -> Arc<GridStore> {
        let path = dir.path().join("h.db").display().to_string();
        GridStore::create(path, "http://127.0.0.1:9".into(), vec![7; 32], None).expect("create")
    }

    #[test]
    fn the_key_must_be_32_bytes_and_must_match() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("h.db").display().to_string();
        let e = GridStore::create(path.clone(), "http://127.0.0.1:9".into(), vec![1; 16], None)
            .expect_err("short");
        assert!(matches!(e, GridError::Validation { field: Some(f), .. } if f == "key"));
        let e = GridStore::create(path.clone(), "ftp://x".into(), vec![1; 32], None).expect_err("scheme");
        assert!(matches!(e, GridError::Validation { field: Some(f), .. } if f == "server_url"));
        let store = new_store(&dir);
        let device = store.device_id();
        drop(store);
        assert!(matches!(GridStore::open(path.clone(), vec![8; 32], None), Err(GridError::Storage { .. })));
        let reopened = GridStore::open(path, vec![7; 32], None).expect("open");
        assert_eq!(reopened.device_id(), device);
        let missing = dir.path().join("none.db").display().to_string();
        assert!(matches!(
            GridStore::open(missing.clone(), vec![7; 32], None),
            Err(GridError::Storage { .. })
        ));
        assert!(!store_exists(missing));
    }

    #[test]
    fn nothing_is_written_before_enrollment_and_nothing_personal_is_said() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = new_store(&dir);
        assert_eq!(store.enrolled_user().expect("user"), None);
        let dispute = NewDispute {
            source: "patrol".into(),
            category: "邻里纠纷".into(),
            summary: Some("张三与李四因排水沟争执".into()),
            risk: Some(2),
            parties: vec![crate::types::Party {
                name: "张三".into(),
                role: None,
                id_number: Some("620802199001011234".into()),
                phone: None,
                address: None,
            }],
            place: None,
            source_record: None,
            address: None,
            due: None,
        };
        let errors = [
            store.register_dispute(dispute).expect_err("not enrolled"),
            store.create_record("dispute".into(), r#"{"summary": "张三"}"#.into()).expect_err("not enrolled"),
            store.create_record("张三".into(), "{}".into()).expect_err("kind"),
            store.set_fields("张三".into(), "{}".into()).expect_err("id"),
            store.get_record("张三".into()).expect_err("id"),
            store
                .resolve_conflict(RecordId::generate(1).to_string(), "summary".into(), "\"张三\"".into())
                .expect_err("no record"),
        ];
        assert!(matches!(&errors[0], GridError::Auth { code, .. } if code == "not_enrolled"));
        for e in &errors {
            let shown = format!("{e} {e:?}");
            assert!(!shown.contains("张三") && !shown.contains("6208021990"), "{shown}");
        }
        assert_eq!(store.pending_changes().expect("pending"), 0);
        assert_eq!(store.get_record(RecordId::generate(1).to_string()).expect("none"), None);
        assert!(store.list_records(None, false).expect("list").is_empty());
        assert!(matches!(store.sync(None), Err(GridError::Auth { .. })));
    }

    /// Overwrites the root page of `table` in the closed store at `path`
    /// with garbage, leaving the file header intact.
    fn smash(path: &str, table: &str) {
        use std::io::{Seek, SeekFrom, Write};
        let conn = rusqlite::Connection::open(path).expect("open");
        let root: i64 = conn
            .query_row("SELECT rootpage FROM sqlite_master WHERE name = ?1", [table], |r| r.get(0))
            .expect("root page");
        drop(conn);
        let mut file = std::fs::OpenOptions::new().write(true).open(path).expect("open the file");
        file.seek(SeekFrom::Start((root as u64 - 1) * 4096)).expect("seek");
        file.write_all(&[0x5a; 4096]).expect("garbage");
    }

    #[test]
    fn a_damaged_store_refuses_writes_and_repairs_in_place() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("h.db").display().to_string();
        let device = new_store(&dir).device_id();
        smash(&path, "records");

        let store = GridStore::open(path.clone(), vec![7; 32], None).expect("a damaged store opens");
        assert!(store.is_damaged().expect("damaged"));
        let refused = store.create_record("visit".into(), "{}".into()).expect_err("refused");
        assert!(
            matches!(&refused, GridError::Damaged { reason } if reason.contains("gridsync doctor")),
            "{refused}"
        );
        assert!(matches!(store.sync(None), Err(GridError::Damaged { .. })));
        assert_eq!(store.pending_changes().expect("the outbox is readable"), 0);

        let repaired = store.repair().expect("repair");
        assert!(repaired.repaired && repaired.device_id == device, "{repaired:?}");
        assert_eq!(repaired.damaged_file.as_deref(), Some(format!("{path}.damaged-1").as_str()));
        assert!(!store.is_damaged().expect("sound") && store.is_restoring().expect("restoring"));
        assert_eq!(store.device_id(), device);
        assert!(store.list_records(None, false).expect("list").is_empty());
        assert!(!store.repair().expect("a sound store").repaired);
    }

    #[test]
    fn a_store_too_damaged_to_open_is_left_as_it_was() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("h.db").display().to_string();
        drop(new_store(&dir));
        smash(&path, "device");
        let refused = GridStore::open(path.clone(), vec![7; 32], None).expect_err("no identity");
        assert!(matches!(refused, GridError::Damaged { .. }), "{refused}");
        assert!(matches!(repair_store(path.clone(), vec![7; 32]), Err(GridError::Storage { .. })));
        assert!(matches!(repair_store(path.clone(), vec![7; 31]), Err(GridError::Validation { .. })));
        assert!(store_exists(path.clone()) && !store_exists(format!("{path}.damaged-1")));
    }

    #[test]
    fn a_poisoned_lock_reopens_the_store() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = new_store(&dir);
        let panicking = Arc::clone(&store);
        let joined = std::thread::spawn(move || {
            let _guard = panicking.store.lock().expect("not poisoned yet");
            panic!("a bug while the store is held");
        })
        .join();
        assert!(joined.is_err());
        assert!(store.store.is_poisoned());
        assert_eq!(store.pending_changes().expect("recovered"), 0);
        assert!(!store.store.is_poisoned());
        assert_eq!(store.enrolled_user().expect("still usable"), None);
    }
}

#[cfg(test)]
mod attachment_tests {
    use gridsync_proto::{Actor, Directory, EnrollResponse, Level, Place, Profile, Role};

    use super::*;
    use crate::transport::{Header, HttpAnswer, TransportError};

    /// Answers the enrollment as a server would for a worker in one grid.
    struct Enroller;

    impl ForeignTransport for Enroller {
        fn post(
            &self,
            url: String,
            _: String,
            _: Vec<Header>,
            _: Vec<u8>,
        ) -> Result<HttpAnswer, TransportError> {
            assert!(url.ends_with("/v1/enroll"), "{url}");
            let place = |code: &str, level, parent: Option<&str>| Place {
                code: code.into(),
                name: code.into(),
                level,
                parent: parent.map(Into::into),
            };
            let directory = Directory::new(
                [
                    place("530102", Level::Township, None),
                    place("530102001", Level::Village, Some("530102")),
                    place("530102001-01", Level::Grid, Some("530102001")),
                ],
                [],
            );
            let actor = Actor {
                user: "li".into(),
                role: Role::Worker,
                place: Some("530102001-01".into()),
                unit: None,
            };
            let profile = Profile::for_actor(actor, &directory, 1);
            let answer = EnrollResponse {
                user: "li".into(),
                role: Role::Worker,
                scope: "530102001-01".into(),
                server_time_ms: 1_800_000_000_000,
                profile: Some(profile),
            };
            Ok(HttpAnswer { status: 200, body: serde_json::to_vec(&answer).expect("json") })
        }
    }

    #[test]
    fn a_photo_is_attached_listed_read_and_exported_and_a_bad_file_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("h.db").display().to_string();
        let store =
            GridStore::create(path, "http://127.0.0.1:9".into(), vec![7; 32], Some(Arc::new(Enroller)))
                .expect("create");
        store.enroll("CODE".into()).expect("enroll");
        let record = store
            .record_household("household".into(), r#"{"door_plate": "东关村3号"}"#.into())
            .expect("household");
        let mut photo = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR".to_vec();
        photo.extend(std::iter::repeat_n(3u8, 10_000));
        let info = store.attach(record.clone(), photo.clone(), None, Some("门牌".into())).expect("attach");
        assert_eq!(
            (info.media.as_str(), info.size, info.local, info.uploaded),
            ("image/png", 10_016, true, false)
        );
        assert_eq!(store.attachments(record.clone()).expect("list"), vec![info.clone()]);
        assert_eq!(store.read_attachment(info.hash.clone()).expect("read"), photo);
        let out = tempfile::tempdir().expect("out");
        let copy =
            store.export_attachment(info.hash.clone(), out.path().display().to_string()).expect("export");
        assert!(copy.ends_with(".png"), "{copy}");
        assert_eq!(std::fs::read(&copy).expect("copy"), photo);
        store.set_wifi_only(true).expect("wifi only");
        store.set_network(NetworkKind::Cellular).expect("network");
        store.set_attachment_budget(1024).expect("budget");

        let refused = store.attach(record.clone(), "张三 530102199001011234".as_bytes().to_vec(), None, None);
        match refused {
            Err(GridError::Validation { code, field, reason }) => {
                assert_eq!((code.as_str(), field.as_deref()), ("bad_file", Some("file")));
                assert!(!reason.contains("张三"), "{reason}");
            }
            other => panic!("refused: {other:?}"),
        }
        let missing = store.read_attachment("00".repeat(32)).expect_err("not here");
        assert!(matches!(missing, GridError::Validation { code, .. } if code == "attachment_unavailable"));
        assert!(matches!(store.read_attachment("xyz".into()), Err(GridError::Validation { .. })));
    }
}
