//! The records that cross the boundary: typed inputs for field work and
//! disputes (mirroring `gridsync-client-core`'s, with ids and dates as
//! text), and what queries and syncs report back.
//!
//! Fields with a default may be left out in Kotlin, Swift and Python.

use gridsync_client_core as core;
use gridsync_client_core::{Conflict, Receipt, Rejection, SyncPhase as CorePhase, SyncProgress, SyncReport};
use gridsync_proto::{Dot, Profile};

use crate::convert;
use crate::error::GridError;

/// Who the device is enrolled for.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Enrolled {
    /// The user name (the author of the device's changes).
    pub user: String,
    /// Their role: `worker`, `township_admin`, `county_admin`,
    /// `administrator`, `department` or `auditor`.
    pub role: String,
    /// The place they are assigned to (a grid, village, township…); `None`
    /// for the whole deployment.
    pub place: Option<String>,
    /// The department they belong to (department users).
    pub unit: Option<String>,
}

impl From<&Profile> for Enrolled {
    fn from(p: &Profile) -> Self {
        Enrolled {
            user: p.actor.user.clone(),
            role: p.actor.role.name().to_owned(),
            place: p.actor.place.clone(),
            unit: p.actor.unit.clone(),
        }
    }
}

/// A position from the handset's location service.
#[derive(Debug, Clone, Copy, PartialEq, uniffi::Record)]
pub struct Gps {
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
    /// Accuracy radius, metres.
    pub accuracy_m: f64,
    /// The platform reported a mock (simulated) location.
    #[uniffi(default)]
    pub mock: bool,
    /// When the fix was taken (Unix ms), if known.
    #[uniffi(default)]
    pub time_ms: Option<u64>,
}

impl From<Gps> for core::Gps {
    fn from(g: Gps) -> Self {
        core::Gps { lat: g.lat, lon: g.lon, accuracy_m: g.accuracy_m, mock: g.mock, time_ms: g.time_ms }
    }
}

/// A household or place visit (走访).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Visit {
    /// When (Unix ms).
    pub visited_ms: u64,
    /// Who was visited: `general`, or a special population such as
    /// `severe_mental_illness` (the list is in `docs/CLI.md`).
    pub person_category: String,
    /// Why: `routine`, `special_population`, `dispute_check`, …
    pub purpose: String,
    /// The grid; the user's own when `None`.
    #[uniffi(default)]
    pub grid: Option<String>,
    /// The household's base-information record id, if it has one.
    #[uniffi(default)]
    pub household: Option<String>,
    /// Or the address visited.
    #[uniffi(default)]
    pub address: Option<String>,
    /// What came of it.
    #[uniffi(default)]
    pub result: Option<String>,
    /// When to follow up (`YYYY-MM-DD`).
    #[uniffi(default)]
    pub follow_up_due: Option<String>,
    /// Where the worker stood.
    #[uniffi(default)]
    pub gps: Option<Gps>,
}

impl Visit {
    pub(crate) fn into_core(self) -> Result<core::Visit, GridError> {
        Ok(core::Visit {
            grid: self.grid,
            household: convert::record_id_opt(self.household.as_deref(), "household")?,
            address: self.address,
            visited_ms: self.visited_ms,
            person_category: self.person_category,
            purpose: self.purpose,
            result: self.result,
            follow_up_due: convert::date_opt(self.follow_up_due.as_deref(), "follow_up_due")?,
            gps: self.gps.map(Into::into),
        })
    }
}

/// A party to a dispute. Personal data: sealed in the store, never logged,
/// never in an error.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Party {
    /// Their name.
    pub name: String,
    /// `applicant`, `respondent` or `other`.
    #[uniffi(default)]
    pub role: Option<String>,
    /// Their ID number.
    #[uniffi(default)]
    pub id_number: Option<String>,
    /// Their phone.
    #[uniffi(default)]
    pub phone: Option<String>,
    /// Their address.
    #[uniffi(default)]
    pub address: Option<String>,
}

impl From<Party> for core::Party {
    fn from(p: Party) -> Self {
        core::Party { name: p.name, role: p.role, id_number: p.id_number, phone: p.phone, address: p.address }
    }
}

/// A dispute as first registered (矛盾纠纷登记).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct NewDispute {
    /// `patrol`, `visit`, `walk_in`, `hotline` or `assigned`.
    pub source: String,
    /// What sort of dispute, e.g. 邻里纠纷.
    pub category: String,
    /// What it is about.
    #[uniffi(default)]
    pub summary: Option<String>,
    /// Risk level, 1 (一般) to 4 (特别重大).
    #[uniffi(default)]
    pub risk: Option<i64>,
    /// The parties.
    #[uniffi(default)]
    pub parties: Vec<Party>,
    /// Where it happened; the user's own place when `None`.
    #[uniffi(default)]
    pub place: Option<String>,
    /// The patrol or visit that found it (record id).
    #[uniffi(default)]
    pub source_record: Option<String>,
    /// The address.
    #[uniffi(default)]
    pub address: Option<String>,
    /// When it should be settled by (`YYYY-MM-DD`).
    #[uniffi(default)]
    pub due: Option<String>,
}

impl NewDispute {
    pub(crate) fn into_core(self) -> Result<core::NewDispute, GridError> {
        Ok(core::NewDispute {
            place: self.place,
            source: self.source,
            source_record: convert::record_id_opt(self.source_record.as_deref(), "source_record")?,
            category: self.category,
            summary: self.summary,
            risk: self.risk,
            parties: self.parties.into_iter().map(Into::into).collect(),
            address: self.address,
            due: convert::date_opt(self.due.as_deref(), "due")?,
        })
    }
}

/// The details a dispute step may carry besides its action.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct StepDetails {
    /// Transfer and assistance: the department (unit code).
    #[uniffi(default)]
    pub unit: Option<String>,
    /// The letter's number (文号).
    #[uniffi(default)]
    pub letter_number: Option<String>,
    /// The department's receipt when it signs for a transfer (回执).
    #[uniffi(default)]
    pub receipt: Option<String>,
    /// Reason, outcome or remark (`resolve` and `request_closure` need one).
    #[uniffi(default)]
    pub note: Option<String>,
    /// `acknowledge`: the overridden step ids (`DEVICE:COUNTER`); all
    /// unacknowledged ones when empty.
    #[uniffi(default)]
    pub acknowledges: Vec<String>,
}

impl StepDetails {
    pub(crate) fn into_core(self) -> Result<core::StepDetails, GridError> {
        let acknowledges: Result<Vec<Dot>, GridError> =
            self.acknowledges.iter().map(|d| convert::dot(d, "acknowledges")).collect();
        Ok(core::StepDetails {
            unit: self.unit,
            letter_number: self.letter_number,
            receipt: self.receipt,
            note: self.note,
            acknowledges: acknowledges?,
        })
    }
}

/// A mediation session (调解).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Mediation {
    /// When (Unix ms).
    pub time_ms: u64,
    /// `agreed`, `partly_agreed`, `failed` or `adjourned`.
    pub outcome: String,
    /// Where.
    #[uniffi(default)]
    pub place: Option<String>,
    /// Who took part.
    #[uniffi(default)]
    pub participants: Option<String>,
    /// What was said and agreed.
    #[uniffi(default)]
    pub note: Option<String>,
}

impl From<Mediation> for core::Mediation {
    fn from(m: Mediation) -> Self {
        core::Mediation {
            time_ms: m.time_ms,
            outcome: m.outcome,
            place: m.place,
            participants: m.participants,
            note: m.note,
        }
    }
}

/// One field in conflict: concurrent edits that nobody has resolved yet.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ConflictInfo {
    /// The record id.
    pub record: String,
    /// Its kind name.
    pub kind: String,
    /// The field.
    pub field: String,
    /// Every competing value, oldest first.
    pub values: Vec<CandidateInfo>,
}

/// One competing value of a field in conflict.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CandidateInfo {
    /// The value as JSON text.
    pub value_json: String,
    /// The device that wrote it.
    pub device: String,
    /// Its author, as that device knew them.
    pub author: String,
    /// The device's hybrid time of the edit, Unix ms.
    pub time_ms: u64,
    /// When the server received it (server clock), once known.
    pub received_ms: Option<u64>,
}

impl ConflictInfo {
    pub(crate) fn of(c: &Conflict, receipt: impl Fn(&Dot) -> Option<Receipt>) -> Self {
        ConflictInfo {
            record: c.record.to_string(),
            kind: c.kind.name(),
            field: c.field.clone(),
            values: c
                .values
                .iter()
                .map(|v| CandidateInfo {
                    value_json: convert::value_json(&v.value),
                    device: v.stamp.device().to_string(),
                    author: v.stamp.author.clone(),
                    time_ms: v.stamp.time.millis,
                    received_ms: receipt(&v.stamp.dot).map(|r| r.received_ms),
                })
                .collect(),
        }
    }
}

/// A write the server refused, kept until the user dismisses it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RejectionInfo {
    /// Its id on this device, for `dismiss_rejection`.
    pub id: i64,
    /// The record id.
    pub record: String,
    /// Its kind name.
    pub kind: String,
    /// The server's stable code (`out_of_scope`, `forbidden`, …).
    pub code: String,
    /// The field, entry or attribute concerned.
    pub field: Option<String>,
    /// The server's reason (never the values).
    pub message: String,
    /// When the refusal arrived (device clock, Unix ms).
    pub refused_ms: u64,
    /// How many changes the refused write held.
    pub changes: u32,
    /// What became of the record on this device: `rebuilt` (from the
    /// server's copy), `kept` (the server never accepted it; kept as it
    /// was) or `removed` (it left the user's scope).
    pub outcome: String,
    /// The refused edits with their values, to redo them: a JSON array of
    /// `{"op": "set", "field", "value"}`, `{"op": "append", "entry",
    /// "body"}` and `{"op": "create"}` (as `gridsync rejected --json`'s
    /// `edits`).
    pub edits_json: String,
}

impl From<&Rejection> for RejectionInfo {
    fn from(r: &Rejection) -> Self {
        RejectionInfo {
            id: r.id,
            record: r.record.to_string(),
            kind: r.kind.name(),
            code: r.code.as_str().to_owned(),
            field: r.field.clone(),
            message: r.message.clone(),
            refused_ms: r.refused_ms,
            changes: u32::try_from(r.changes.len()).unwrap_or(u32::MAX),
            outcome: r.outcome.name().to_owned(),
            // Plain JSON values always encode.
            edits_json: serde_json::to_string(&r.edits()).unwrap_or_else(|_| "[]".to_owned()),
        }
    }
}

/// What a repair of a damaged store did (`GridStore.repair`,
/// `repair_store`): counts only, never record content.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RepairSummary {
    /// Whether the store was repaired: `false` for a sound store, left as
    /// it was (the counts are then zero).
    pub repaired: bool,
    /// Whether this finished a repair that had been interrupted.
    pub resumed: bool,
    /// Where the damaged store was kept aside (`STORE.damaged-N`); the app
    /// may offer to send it for analysis, or delete it later.
    pub damaged_file: Option<String>,
    /// The device id, kept.
    pub device_id: String,
    /// Whether the enrollment was salvaged; if not, enroll again.
    pub enrollment: bool,
    /// Whether the user's profile was salvaged (if not, the next sync brings it).
    pub profile: bool,
    /// Whether a pinned township CA was salvaged.
    pub pinned_ca: bool,
    /// Unsent changes salvaged: the next sync sends them first.
    pub unsent_changes: u64,
    /// The writes they form.
    pub unsent_writes: u64,
    /// Unsent changes found but lost (unreadable, or part of a write that is not whole).
    pub lost_changes: u64,
    /// Refused writes salvaged.
    pub rejections: u64,
    /// Refused writes found but unreadable.
    pub lost_rejections: u64,
    /// Records with unsent changes kept to be seen before the next sync.
    pub records_kept: u64,
    /// Records the damaged store still showed; all come back at the next sync.
    pub records_found: u64,
}

impl From<gridsync_client_core::RepairReport> for RepairSummary {
    fn from(r: gridsync_client_core::RepairReport) -> Self {
        RepairSummary {
            repaired: r.repaired,
            resumed: r.resumed,
            damaged_file: r.damaged_file.map(|p| p.to_string_lossy().into_owned()),
            device_id: r.device_id,
            enrollment: r.enrollment,
            profile: r.profile,
            pinned_ca: r.pinned_ca,
            unsent_changes: r.unsent_changes,
            unsent_writes: r.unsent_groups,
            lost_changes: r.lost_changes,
            rejections: r.rejections,
            lost_rejections: r.lost_rejections,
            records_kept: r.records_kept,
            records_found: r.records_found,
        }
    }
}

/// What a sync run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct SyncSummary {
    /// Changes the server accepted from this device.
    pub pushed: u64,
    /// Changes the server already had (re-sent after an interruption).
    pub duplicates: u64,
    /// Writes the server's rules refused (see `rejections()`).
    pub refused: u64,
    /// Push requests sent.
    pub push_batches: u32,
    /// Changes from the server applied here.
    pub pulled: u64,
    /// Records sent whole and rebuilt here.
    pub rebuilt: u64,
    /// Of those, records sent as the server's merged state (a snapshot).
    pub snapshots: u64,
    /// Records deleted here because they left this device's scope.
    pub removed: u64,
    /// Pull pages fetched.
    pub pull_pages: u32,
    /// Pulled changes that could not merge and were skipped.
    pub skipped: u64,
    /// Records in scope that the device's budget leaves out.
    pub withheld: u32,
    /// The server cursor after the run.
    pub cursor: u64,
    /// Changes still waiting to be sent after the run.
    pub pending: u64,
    /// Own attachment files the server now has whole (sent in this run, or
    /// found there already).
    pub uploaded: u64,
    /// Attachment bytes sent and acknowledged in this run.
    pub uploaded_bytes: u64,
    /// Own attachment files left for a later sync (Wi-Fi only and not on
    /// Wi-Fi, over the daily allowance, or the network failed meanwhile).
    pub uploads_deferred: u64,
    /// Own attachment files the server refused in this run; kept and
    /// tried again later.
    pub upload_failed: u64,
}

impl SyncSummary {
    pub(crate) fn of(r: &SyncReport, pending: u64) -> Self {
        SyncSummary {
            pushed: r.pushed,
            duplicates: r.duplicates,
            refused: r.refused,
            push_batches: r.push_batches,
            pulled: r.pulled,
            rebuilt: r.rebuilt,
            snapshots: r.snapshots,
            removed: r.removed,
            pull_pages: r.pull_pages,
            skipped: r.skipped,
            withheld: r.withheld,
            cursor: r.cursor,
            pending,
            uploaded: r.uploaded,
            uploaded_bytes: r.uploaded_bytes,
            uploads_deferred: r.uploads_deferred,
            upload_failed: r.upload_failed,
        }
    }
}

/// Where a sync run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum SyncPhase {
    /// Sending the outbox.
    Pushing,
    /// Receiving pages.
    Pulling,
    /// Uploading this device's attachment files.
    Uploading,
    /// Done.
    Finished,
}

/// Progress of a sync run, reported after each request.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncProgressInfo {
    /// Where the run is.
    pub phase: SyncPhase,
    /// Changes sent and acknowledged so far.
    pub pushed: u64,
    /// Changes still in the outbox.
    pub to_push: u64,
    /// Changes received so far.
    pub pulled: u64,
    /// Pull pages received so far.
    pub pages: u32,
    /// Attachment bytes uploaded and acknowledged so far.
    pub uploaded_bytes: u64,
    /// Attachment bytes the run set out to upload.
    pub to_upload_bytes: u64,
}

impl From<&SyncProgress> for SyncProgressInfo {
    fn from(p: &SyncProgress) -> Self {
        SyncProgressInfo {
            phase: match p.phase {
                CorePhase::Pushing => SyncPhase::Pushing,
                CorePhase::Pulling => SyncPhase::Pulling,
                CorePhase::Uploading => SyncPhase::Uploading,
                CorePhase::Finished => SyncPhase::Finished,
            },
            pushed: p.pushed,
            to_push: p.to_push,
            pulled: p.pulled,
            pages: p.pages,
            uploaded_bytes: p.uploaded_bytes,
            to_upload_bytes: p.to_upload_bytes,
        }
    }
}

/// An attachment of a record: a photo or PDF it references.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AttachmentInfo {
    /// The SHA-256 of its bytes, 64 hex digits: how the calls name it.
    pub hash: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its media type (`image/jpeg`, `image/png`, `image/webp`,
    /// `image/heic`, `application/pdf`).
    pub media: String,
    /// The name it was given, if any.
    pub name: Option<String>,
    /// The entry of the record it belongs to (`device:counter`), if any.
    pub entry: Option<String>,
    /// The file is on this device (attached here, or fetched).
    pub local: bool,
    /// This device knows the server has it whole.
    pub uploaded: bool,
}

impl From<core::AttachmentInfo> for AttachmentInfo {
    fn from(a: core::AttachmentInfo) -> Self {
        let r = a.reference;
        AttachmentInfo {
            hash: r.hash.to_hex(),
            size: r.size,
            media: r.media.mime().to_owned(),
            name: r.name,
            entry: r.of_entry.map(gridsync_proto::attachment::format_dot),
            local: a.local,
            uploaded: a.uploaded,
        }
    }
}

/// The network the handset is on, as the app tells it (`set_network`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum NetworkKind {
    /// Wi-Fi (or another unmetered link).
    Wifi,
    /// Mobile data.
    Cellular,
    /// No connection, or not known.
    Unknown,
}

impl From<NetworkKind> for core::NetworkKind {
    fn from(n: NetworkKind) -> Self {
        match n {
            NetworkKind::Wifi => core::NetworkKind::Wifi,
            NetworkKind::Cellular => core::NetworkKind::Cellular,
            NetworkKind::Unknown => core::NetworkKind::Unknown,
        }
    }
}
