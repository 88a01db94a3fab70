//! The service layer: every server operation, once, as
//! `authorize → storage (one transaction) → audit`. The HTTP handlers and
//! the operator's command line both call it; neither holds a rule of its own.
//!
//! | module | operations |
//! |---|---|
//! | [`sync`] | push (ingest), pull (scoped pages), device request authentication, enrollment |
//! | [`attachments`] | devices' chunked uploads and fetches of attached files; staff lists and downloads |
//! | [`people`] | users, admin sessions, enrollment codes, devices |
//! | [`places`] | places and units: add, move, import from CSV, list |
//! | [`reports`] | reporting completeness (有事报信息、无事报平安) |
//! | [`disputes`] | the dispute desk: list, read, settle a conflict, take a step |
//! | [`ledgers`] | a place's month (table and register) and a quarter's rankings |
//! | [`locks`] | locked months and their corrections |
//! | [`trend`] | a place's resolution and reporting rates over months |
//! | [`audit_log`] | checking the audit chain (whole, or since the last check), reading it a page at a time |
//!
//! Every operation takes a [`Caller`]. The operator at the server's command
//! line ([`Caller::Operator`]) may do everything; staff on the admin API
//! ([`Caller::Staff`]) only what [`crate::policy`] allows within their
//! subtree. Changes are audited in their own transaction. Refusals of staff
//! requests are audited too, one row each (the refused transaction itself
//! left nothing); the operator's refusals are not, since they never left
//! the machine. Refusals of devices and anonymous clients are counted per
//! minute instead ([`crate::audit::refusals`]).

pub mod attachments;
pub mod audit_log;
pub mod disputes;
pub mod epoch;
pub mod feed;
pub mod health;
pub mod ledgers;
pub mod locks;
pub mod people;
pub mod places;
pub mod reports;
pub mod sync;
pub mod trend;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use gridsync_proto::ActorId;

use crate::audit::Event;
use crate::directory::DirectoryCache;
use crate::error::{CoreError, CoreResult, Refusal};
use crate::guard::{MemoryReplayGuard, ReplayGuard};
use crate::policy::{self, scope::ScopeSettings};
use crate::storage::{ReadTx, Storage, StorageExt, User};

/// What the service needs to know about the deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceSettings {
    /// What each device holds: its record budget and the replication window.
    pub scope: ScopeSettings,
    /// The deployment's time zone, minutes east of UTC (China: 480).
    pub utc_offset_minutes: i32,
    /// How much attachment data devices may upload.
    pub attachments: AttachmentLimits,
}

/// How much attachment data devices may upload (ADR 0033).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttachmentLimits {
    /// Largest file, in bytes (at most [`gridsync_proto::attachment::MAX_BYTES`]).
    pub max_file_bytes: u64,
    /// Most bytes of new uploads one device may start in one day (of the
    /// deployment's time zone).
    pub max_device_bytes_per_day: u64,
}

impl Default for AttachmentLimits {
    fn default() -> Self {
        Self {
            max_file_bytes: gridsync_proto::attachment::MAX_BYTES,
            // A day of heavy work: forty 5 MB photos.
            max_device_bytes_per_day: 200 * 1024 * 1024,
        }
    }
}

impl Default for ServiceSettings {
    fn default() -> Self {
        Self {
            scope: ScopeSettings::default(),
            utc_offset_minutes: gridsync_proto::date::CHINA_UTC_OFFSET_MINUTES,
            attachments: AttachmentLimits::default(),
        }
    }
}

/// Who asks for an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// The operator at the server's command line: may do everything.
    Operator,
    /// A staff member with a live admin session.
    Staff(User),
}

impl Caller {
    /// The name the audit log records: `cli` or `user:NAME`.
    pub fn audit_name(&self) -> String {
        match self {
            Caller::Operator => "cli".to_owned(),
            Caller::Staff(user) => format!("user:{}", user.name),
        }
    }

    /// The staff member, if the caller is one.
    pub fn user(&self) -> Option<&User> {
        match self {
            Caller::Operator => None,
            Caller::Staff(user) => Some(user),
        }
    }

    /// Whether `allowed` holds for a staff caller; the operator always passes.
    pub(crate) fn may(&self, allowed: impl FnOnce(&User) -> bool) -> bool {
        self.user().is_none_or(allowed)
    }

    /// Refuses with `forbidden` unless [`Caller::may`].
    pub(crate) fn require(&self, allowed: impl FnOnce(&User) -> bool) -> CoreResult<()> {
        if self.may(allowed) { Ok(()) } else { Err(CoreError::forbidden()) }
    }

    /// Refuses a `place` the directory does not know (`unknown_place`), then
    /// a staff member who may not read it (`forbidden`): one who may not
    /// read reports ([`policy::may_read`]), whose scope does not hold it, or
    /// whom `also` refuses.
    pub(crate) fn require_reader_of(
        &self,
        dir: &gridsync_proto::Directory,
        place: &str,
        also: impl FnOnce(&User) -> bool,
    ) -> CoreResult<()> {
        use gridsync_proto::Hierarchy;
        if dir.place(place).is_none() {
            return Err(Refusal::new(gridsync_proto::ErrorCode::UnknownPlace, "no such place")
                .field("place")
                .into());
        }
        self.require(|who| policy::may_read(who) && policy::within(dir, place, &who.scope) && also(who))
    }
}

/// The service: a storage backend, the directory cache, the replay guard
/// and the per-device paging state of pulls. Cheap to clone.
#[derive(Clone)]
pub struct Service {
    storage: Arc<dyn Storage>,
    directory: Arc<DirectoryCache>,
    replay: Arc<dyn ReplayGuard>,
    settings: ServiceSettings,
    paging: Arc<Mutex<HashMap<ActorId, sync::pull::Paging>>>,
    /// The dispute desk's lines, brought up to date before each list.
    disputes: Arc<Mutex<disputes::list::DisputeIndex>>,
    /// What the ledgers read of the records, brought up to date before each
    /// live month (held before the snapshot: see [`ledgers::index`]).
    ledger_index: Arc<tokio::sync::RwLock<ledgers::index::LedgerIndex>>,
    /// How far the audit chain is verified (or where it broke), so that a
    /// check reads only the rows appended since ([`Service::audit_chain`]).
    /// Held across the check's read, so checks run one at a time and each
    /// snapshot is at least as new as the last.
    chain: Arc<tokio::sync::Mutex<crate::audit::ChainMemory>>,
    /// The last readiness probe ([`Service::readiness`]), held across the
    /// next one so that callers share it.
    readiness: Arc<tokio::sync::Mutex<health::LastProbe>>,
    /// The refusals of the open minute ([`crate::audit::refusals`]).
    refusals: Arc<Mutex<crate::audit::refusals::RefusalTally>>,
    started_ms: u64,
    /// Where attachment bytes live ([`crate::blobs`]).
    blobs: Arc<dyn crate::blobs::BlobStore>,
}

impl fmt::Debug for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Service")
            .field("storage", &self.storage)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Service {
    /// A service over `storage`, with replay protection in this process's memory.
    pub fn new(storage: Arc<dyn Storage>, settings: ServiceSettings) -> Self {
        Self::with_replay_guard(storage, settings, Arc::new(MemoryReplayGuard::default()))
    }

    /// A service whose replay guard is shared elsewhere (e.g. by several processes).
    pub fn with_replay_guard(
        storage: Arc<dyn Storage>,
        settings: ServiceSettings,
        replay: Arc<dyn ReplayGuard>,
    ) -> Self {
        Self {
            storage,
            directory: Arc::default(),
            replay,
            settings,
            paging: Arc::default(),
            disputes: Arc::default(),
            ledger_index: Arc::new(tokio::sync::RwLock::new(ledgers::index::LedgerIndex::new(
                settings.utc_offset_minutes,
            ))),
            chain: Arc::default(),
            readiness: Arc::default(),
            refusals: Arc::default(),
            started_ms: crate::clock::now_ms(),
            blobs: Arc::new(crate::blobs::NoBlobs),
        }
    }

    /// The service with attachment bytes kept in `blobs`.
    pub fn with_blobs(mut self, blobs: Arc<dyn crate::blobs::BlobStore>) -> Self {
        self.blobs = blobs;
        self
    }

    /// Where attachment bytes live.
    pub fn blobs(&self) -> &Arc<dyn crate::blobs::BlobStore> {
        &self.blobs
    }

    /// The storage backend.
    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    /// The deployment's settings.
    pub fn settings(&self) -> ServiceSettings {
        self.settings
    }

    /// The directory cache.
    pub fn directory(&self) -> &Arc<DirectoryCache> {
        &self.directory
    }

    /// Whether the database answers reads. Blocking. For reads and
    /// writes, see [`Service::readiness`].
    pub fn healthy(&self) -> bool {
        self.storage.healthy()
    }

    /// The figures of the scrape-time gauges ([`crate::metrics`]), read in
    /// one snapshot: open conflicts, devices by last-sync age and the
    /// database's size. Each read is of bounded cost ([`crate::storage::StatsRead`]).
    pub async fn vitals(&self) -> CoreResult<crate::metrics::Vitals> {
        self.storage
            .read(|tx| {
                let now = crate::clock::now_ms();
                let last_syncs: Vec<Option<u64>> =
                    tx.device_last_syncs()?.into_iter().filter(|d| d.active).map(|d| d.last_ms).collect();
                Ok(crate::metrics::Vitals {
                    conflicts_open: tx.open_conflicts()?,
                    devices: crate::metrics::Vitals::count_devices(&last_syncs, now),
                    database_bytes: tx.database_bytes()?,
                })
            })
            .await
    }

    /// Appends one event to the audit log, durably.
    pub async fn audit(&self, event: Event) -> CoreResult<()> {
        self.storage.write(move |tx, now| Ok(tx.append_audit(now, &event)?)).await
    }

    /// Audits a refused request, counted with the others of its requester,
    /// action, target and code this minute ([`crate::audit::refusals`]):
    /// the first is appended at once, the repeats when the minute closes.
    /// A failure to append is logged, never the caller's.
    pub async fn audit_refusal(&self, event: Event) {
        let due = self.tally().record(event, crate::clock::now_ms());
        self.append_all(due).await;
    }

    /// Appends the summaries of refused requests whose minute has closed
    /// (`all`: also the open minute's, as on shutdown). The server calls it
    /// every few seconds and when it stops.
    pub async fn close_refusals(&self, all: bool) {
        let now = (!all).then(crate::clock::now_ms);
        let due = self.tally().close(now);
        self.append_all(due).await;
    }

    fn tally(&self) -> std::sync::MutexGuard<'_, crate::audit::refusals::RefusalTally> {
        self.refusals.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn append_all(&self, events: Vec<Event>) {
        if events.is_empty() {
            return;
        }
        let appended = self
            .storage
            .write(move |tx, now| {
                for event in &events {
                    tx.append_audit(now, event)?;
                }
                Ok(())
            })
            .await;
        if let Err(e) = appended {
            tracing::error!(error = %e, "cannot audit refused requests");
        }
    }

    /// A listing for `caller`, who must be allowed to read
    /// ([`crate::policy::may_read`]; a refusal is audited as `action`):
    /// `work` reads it on one snapshot, given the caller and the directory
    /// cache.
    pub(crate) async fn listing<T, F>(&self, caller: &Caller, action: &'static str, work: F) -> CoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn ReadTx, &Caller, &DirectoryCache) -> CoreResult<T> + Send + 'static,
    {
        let allowed = caller.require(crate::policy::may_read);
        if let Err(refusal) = allowed {
            return self.audited(caller, action, "", Err(refusal)).await;
        }
        let (caller, cache) = (caller.clone(), self.directory.clone());
        self.storage.read(move |tx| work(tx, &caller, &cache)).await
    }

    /// Passes `result` through; when it is a refusal of a staff request,
    /// audits it first as `action` on `target`, one row each (refusals of
    /// requests from devices and anonymous clients are counted instead:
    /// [`Service::audit_refusal`]).
    pub(crate) async fn audited<T>(
        &self,
        caller: &Caller,
        action: &'static str,
        target: impl Into<String>,
        result: CoreResult<T>,
    ) -> CoreResult<T> {
        if let (Err(refusal), Caller::Staff(_)) = (&result, caller) {
            // One row each: a staff member is known and answerable, and an
            // auditor reads every refused action of theirs, not a count.
            let event = Event::new(caller.audit_name(), action, target, refusal.audit_outcome());
            if let Err(e) = self.audit(event).await {
                tracing::error!(error = %e, "cannot audit a refused request");
            }
        }
        result
    }
}
