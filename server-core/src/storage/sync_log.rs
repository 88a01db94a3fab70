//! The sync log: every accepted change in log order, each record's merged
//! state, what each device holds, the pull cursors issued, and the access
//! index that files records under the keys of those who may see them.
//!
//! # Townships
//!
//! Every row that grows with the work belongs to a **township**
//! ([`crate::home`]): a record's rows (its changes, state, access rows and
//! report row) to the record's home, a device's rows (replicas, cursors) to
//! the device's home. Writes name the township of what they write; reads
//! name the township to look in where the caller knows it. A backend on one
//! node may ignore townships; a sharded one routes by them, and then finds
//! a row only in the township it was written to (or re-homed to with
//! [`SyncLogWrite::rehome_record`] or [`SyncLogWrite::rehome_place`]).

use gridsync_proto::change::log_body::{self, LogBodyError};
use gridsync_proto::{ActorId, Change, RecordId, RecordKind};

use super::StorageResult;

/// One change to append to the log.
#[derive(Debug, Clone, Copy)]
pub struct NewChange<'a> {
    /// Its record.
    pub record: RecordId,
    /// The record's home township.
    pub township: &'a str,
    /// The device that made it (its dot's actor).
    pub actor: ActorId,
    /// Its dot's counter.
    pub counter: u64,
    /// When the server received it (Unix ms).
    pub received_ms: u64,
    /// The change as the log stores it
    /// ([`gridsync_proto::change::log_body::encode`]: without its record and
    /// device, which the row holds).
    pub body: &'a [u8],
    /// Whether the device's clock was far off.
    pub clock_suspect: bool,
    /// The device's clock minus the server's, when the push arrived.
    pub clock_offset_ms: i64,
}

/// A change as the log holds it, borrowed from the backend while scanning.
#[derive(Debug, Clone, Copy)]
pub struct LogRow<'a> {
    /// Its log position.
    pub seq: u64,
    /// When the server received it.
    pub received_ms: u64,
    /// Whether the device's clock was far off.
    pub clock_suspect: bool,
    /// The change as the log stores it: decode it with
    /// [`LogRow::change`], which reads either format.
    pub body: &'a [u8],
    /// Its record.
    pub record: RecordId,
    /// The device that made it.
    pub actor: ActorId,
}

impl LogRow<'_> {
    /// The change this row holds.
    pub fn change(&self) -> Result<Change, LogBodyError> {
        log_body::decode(self.body, self.record, self.actor)
    }
}

/// The server's receipt of one change, without its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiptRow {
    /// Its record.
    pub record: RecordId,
    /// The device that made it (its dot's actor).
    pub actor: ActorId,
    /// Its dot's counter.
    pub counter: u64,
    /// When the server received it.
    pub received_ms: u64,
    /// Whether the device's clock was far off.
    pub clock_suspect: bool,
}

/// A record's merged state to save.
#[derive(Debug, Clone, Copy)]
pub struct SavedRecord<'a> {
    /// The record.
    pub id: RecordId,
    /// Its home township (already re-homed there if it moved).
    pub township: &'a str,
    /// Its kind.
    pub kind: RecordKind,
    /// Its state, as [`gridsync_proto::RecordState::to_bytes`].
    pub state: &'a [u8],
    /// Whether a field holds concurrent values.
    pub conflicted: bool,
    /// The log position of the last change that made it.
    pub updated_seq: u64,
}

/// What the server knows a device holds of one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplicaRow {
    /// The record.
    pub record: RecordId,
    /// The cursor whose page added it (0: the device made it itself).
    pub added_token: u64,
    /// The cursor whose page removed it, if one did.
    pub removed_token: Option<u64>,
    /// Whether the record must be sent whole again (a change of the device's was refused).
    pub rebuild: bool,
    /// The log position up to which the record was sent whole.
    pub sent_through: u64,
}

/// One row of the access index: a record filed under a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRow {
    /// The record.
    pub record: RecordId,
    /// Its home township, as written (empty from a backend that keeps none).
    pub township: String,
    /// Its last activity (trusted time, Unix ms).
    pub active_ms: i64,
    /// Whether it is an open dispute.
    pub open: bool,
    /// The log position of its last change (as filed with
    /// [`SyncLogWrite::file_access`]): a pull reads the log of only the
    /// records changed since the device's cursor (ADR 0020).
    pub updated_seq: u64,
}

/// A pull page to record: the cursor it was planned from and what it sent.
#[derive(Debug, Clone, Copy)]
pub struct PullPage<'a> {
    /// The device.
    pub device: ActorId,
    /// The device's home township.
    pub township: &'a str,
    /// The cursor the device presented (0: none).
    pub presented: u64,
    /// The device starts afresh: forget everything it was thought to hold.
    pub reset: bool,
    /// Replica rows changed after the presented cursor: settle them first
    /// (rows added later are dropped, removals at or before it are final,
    /// later removals are undone).
    pub dirty: bool,
    /// The log position the new cursor covers.
    pub log_high: u64,
    /// The log position the records sent whole were sent up to.
    pub sent_through: u64,
    /// Records sent whole.
    pub adds: &'a [RecordId],
    /// Records the device must remove.
    pub removes: &'a [RecordId],
    /// When (Unix ms).
    pub now: u64,
}

/// Reads of the sync log.
pub trait SyncLogRead {
    /// The body of the change with this dot, if the log has it.
    fn change_body(
        &mut self,
        record: RecordId,
        township: &str,
        actor: ActorId,
        counter: u64,
    ) -> StorageResult<Option<Vec<u8>>>;

    /// A record's merged state (as [`gridsync_proto::RecordState::to_bytes`]),
    /// wherever it lives: the one lookup that does not name a township
    /// (a push names records, not places).
    fn record_state(&mut self, id: RecordId) -> StorageResult<Option<Vec<u8>>>;

    /// The merged states of those of `ids` that have one, wherever they
    /// live, each with the log position of its last update (as saved in
    /// [`SavedRecord::updated_seq`]), in any order: a page of snapshots
    /// reads its states in one call.
    fn record_states(
        &mut self,
        ids: &[RecordId],
        each: &mut dyn FnMut(RecordId, u64, &[u8]),
    ) -> StorageResult<()>;

    /// The receipts (no bodies) of the changes to `ids` at or below log
    /// position `upto`, wherever they live, in any order.
    fn receipts(
        &mut self,
        ids: &[RecordId],
        upto: u64,
        each: &mut dyn FnMut(ReceiptRow),
    ) -> StorageResult<()>;

    /// The safe high-water mark of the log: see the contract in
    /// [`crate::storage`] (guarantee 4). 0 for an empty log.
    fn high_water(&mut self) -> StorageResult<u64>;

    /// The server's epoch (never 0): made with the database, made anew
    /// when it is restored from a backup, sent in every pull page so that
    /// devices notice a restore (ADR 0026).
    fn server_epoch(&mut self) -> StorageResult<u64>;

    /// The log position a cursor issued to `device` (at home in
    /// `township`) covers, if it was issued.
    fn pull_token(&mut self, device: ActorId, township: &str, token: u64) -> StorageResult<Option<u64>>;

    /// Every replica row of `device` (at home in `township`).
    fn replicas(&mut self, device: ActorId, township: &str) -> StorageResult<Vec<ReplicaRow>>;

    /// Every record filed under `key` that is an open dispute or was active
    /// at or after `active_since`. A record may be passed twice. `township`:
    /// where the key's rows live ([`crate::home::of_key`]), `None` if they
    /// may lie in any township.
    fn access(
        &mut self,
        key: &str,
        township: Option<&str>,
        active_since: i64,
        each: &mut dyn FnMut(AccessRow),
    ) -> StorageResult<()>;

    /// A record's changes up to position `upto`, in log order.
    fn history(
        &mut self,
        record: RecordId,
        township: &str,
        upto: u64,
        each: &mut dyn FnMut(LogRow<'_>),
    ) -> StorageResult<()>;

    /// The changes to each of `records` after its own position (the pair's
    /// second member) and at or below `upto`: record by record (in any
    /// order of records), each record's in log order, at most `per_record`
    /// of each. With `townships`, only rows filed in one of those townships
    /// need be passed (a backend may pass others too); without, every row.
    ///
    /// Through the changes' per-record index: a pull reads the log of the
    /// records its device holds, never the rest of the log (ADR 0020).
    fn changes_of(
        &mut self,
        records: &[(RecordId, u64)],
        townships: Option<&[String]>,
        upto: u64,
        per_record: usize,
        each: &mut dyn FnMut(LogRow<'_>),
    ) -> StorageResult<()>;

    /// The log after position `after` up to `upto`, in order, at most
    /// `max_rows` rows, until `each` answers `false`. With `townships`, the
    /// rows of those townships at least (a backend may pass others too);
    /// without, every row.
    fn scan(
        &mut self,
        after: u64,
        upto: u64,
        max_rows: usize,
        townships: Option<&[String]>,
        each: &mut dyn FnMut(LogRow<'_>) -> bool,
    ) -> StorageResult<()>;

    /// How many changes the log holds.
    fn change_count(&mut self) -> StorageResult<u64>;

    /// How many records have a merged state.
    fn record_count(&mut self) -> StorageResult<u64>;

    /// The merged states of every record of `kind`, by id.
    fn records_of_kind(&mut self, kind: RecordKind) -> StorageResult<Vec<Vec<u8>>>;

    /// The merged state of every record of `kind`, by id, one at a time
    /// (lent in place: a county-year is read in bounded memory), until
    /// `each` answers `false`.
    fn each_record(&mut self, kind: RecordKind, each: &mut dyn FnMut(&[u8]) -> bool) -> StorageResult<()>;

    /// The merged states of the records of `kind` last updated after log
    /// position `after` and at or before `upto`, by (last update, id), at
    /// most `limit` of them, each with its last update's position.
    fn records_updated(
        &mut self,
        kind: RecordKind,
        after: u64,
        upto: u64,
        limit: usize,
        each: &mut dyn FnMut(u64, &[u8]),
    ) -> StorageResult<()>;
}

/// Writes of the sync log.
pub trait SyncLogWrite {
    /// Appends a change; returns its log position.
    fn append_change(&mut self, change: &NewChange<'_>) -> StorageResult<u64>;

    /// Replaces the server's epoch ([`SyncLogRead::server_epoch`]; never 0):
    /// the database was restored from a backup.
    fn set_server_epoch(&mut self, epoch: u64) -> StorageResult<()>;

    /// Saves a record's merged state.
    fn save_record(&mut self, record: &SavedRecord<'_>) -> StorageResult<()>;

    /// Files `record` under exactly `keys` (encoded access keys), active at
    /// `active_ms` or later if it already was, open or not, and last changed
    /// at log position `updated_seq` (or later, if its rows say so). A
    /// backend should rewrite its rows only when the keys change.
    fn file_access(
        &mut self,
        record: RecordId,
        township: &str,
        keys: &[String],
        active_ms: u64,
        open: bool,
        updated_seq: u64,
    ) -> StorageResult<()>;

    /// [`SyncLogWrite::file_access`] for a record saved for the first time
    /// in this transaction, which has no rows yet: a backend may insert
    /// them without looking for old ones.
    fn file_new_access(
        &mut self,
        record: RecordId,
        township: &str,
        keys: &[String],
        active_ms: u64,
        open: bool,
        updated_seq: u64,
    ) -> StorageResult<()> {
        self.file_access(record, township, keys, active_ms, open, updated_seq)
    }

    /// Notes that `device` (at home in `township`) holds `record` because
    /// it made it (added at cursor 0), unless it is noted already.
    fn hold(&mut self, device: ActorId, township: &str, record: RecordId) -> StorageResult<()>;

    /// Asks for `record` to be sent whole to `device` (at home in
    /// `township`) again.
    fn mark_rebuild(&mut self, device: ActorId, township: &str, record: RecordId) -> StorageResult<()>;

    /// Counts an accepted push of `changes` changes by `device` at `now`
    /// (the device is created if unknown).
    fn note_push(&mut self, device: ActorId, now: u64, changes: u32) -> StorageResult<()>;

    /// Saves a daily report's row: what it says now, and the earliest filed
    /// and received times of all its saves.
    fn save_daily_report(&mut self, row: &super::DailyReportRow, township: &str) -> StorageResult<()>;

    /// Moves every row of `record` (changes, state, access rows, report
    /// row) that lies in another township to `to`: its home moved.
    fn rehome_record(&mut self, record: RecordId, to: &str) -> StorageResult<()>;

    /// Moves every record filed under the place key `key` to township `to`
    /// (the directory moved the place into another township); returns how
    /// many records moved.
    fn rehome_place(&mut self, key: &str, to: &str) -> StorageResult<u64>;

    /// Records a planned pull page and issues its cursor (a new token, above
    /// every token issued before). Keeps the presented cursor and the new
    /// one; drops the device's older cursors.
    fn record_pull_page(&mut self, page: &PullPage<'_>) -> StorageResult<u64>;
}
