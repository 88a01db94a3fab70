//! Sync: pushes merged into the log, scoped pull pages, device request
//! authentication and enrollment.
//!
//! A push is a list of write groups, each the changes one local write made
//! to one record. For each group, in order (`ingest`):
//! 1. recognise each change the server already has: a dot the record's
//!    merged state has seen (its causal context) or that this push carried
//!    before. Only those are read back from the log: the same change again
//!    is a duplicate (a re-sent group is acknowledged, not applied); another
//!    change under the same dot is `dot_reused`;
//! 2. merge the group into the record's state (kind, supersedes);
//! 3. check that every change names the pushing user as its author, and
//!    the result with the record rules for that user
//!    ([`gridsync_proto::check_group`]): a refused group is answered with its
//!    reason and leaves nothing, while the other groups go on;
//! 4. append the changes to the log, with the receipt time and whether the
//!    device's clock was far off.
//!
//! Steps 1–3 run for every group before step 4 (and the audit rows of
//! refused groups) writes anything, so a push refused whole returns before
//! its first write and runs without a savepoint of its own
//! ([`crate::storage::StorageExt::write_validated`]).
//!
//! Then the touched records' states, access keys and daily-report rows are
//! written once each, in the record's home township ([`crate::home`]);
//! a record whose home moved (a dispute escalated to the county, a patrol's
//! grid corrected) is re-homed first. Integrity failures (a reused dot, a merge error) are
//! the device's bug or an attack, not a rule: they refuse the whole push,
//! and the storage rolls all of it back.

pub mod auth;
pub mod pull;

use std::collections::{BTreeSet, HashMap};

use gridsync_proto::change::log_body;
use gridsync_proto::rules::RuleError;
use gridsync_proto::wire::Refusal as GroupRefusal;
use gridsync_proto::{
    Actor, ActorId, Change, Directory, ErrorCode, MergeError, PushRequest, PushResponse, RecordId,
    RecordKind, RecordState, Value, access, check_group,
};

use super::Service;
use crate::audit::Event;
use crate::error::{CoreError, CoreResult, Refusal, StorageError};
use crate::home;
use crate::storage::{DailyReportRow, NewChange, ReadTx, SavedRecord, StorageExt, WriteTx};

/// A device clock further than this from the server's is flagged.
pub const CLOCK_SUSPECT_MS: u64 = 10 * 60 * 1000;

impl Service {
    /// Validates a push by `user`'s device, applies every group the rules
    /// accept and logs them durably. Returns only after commit.
    pub async fn push(&self, push: PushRequest, user: String) -> CoreResult<PushResponse> {
        precheck(&push)?;
        let directory = self.directory.clone();
        // The last owner frees the push here, not on the writer thread.
        let push = std::sync::Arc::new(push);
        let job_push = std::sync::Arc::clone(&push);
        // The job writes nothing until it has decided to succeed (`ingest`).
        let answer = self
            .storage
            .write_validated(move |tx, now| {
                let push = &*job_push;
                let actor = tx.user(&user)?.ok_or_else(unknown_user)?.actor();
                let (_, dir) = directory.get(tx)?;
                let pusher = Pusher { home: home::of_actor(&dir, &actor), actor: &actor, dir: &dir, now };
                let outcome = ingest(tx, push, &pusher)?;
                // Positions rise in commit order: the push's last change is
                // the newest in the log (no `max(seq)` per push).
                let high_seq = match outcome.last_seq {
                    Some(seq) => seq,
                    None => tx.high_water()?,
                };
                Ok(PushResponse {
                    accepted: outcome.accepted,
                    duplicates: outcome.duplicates,
                    high_seq,
                    received_ms: now,
                    refused: outcome.refused,
                    epoch: tx.server_epoch()?,
                })
            })
            .await;
        count_push(&push, &answer);
        drop(push);
        answer
    }
}

/// Counts a push and its changes by outcome ([`crate::metrics`]).
fn count_push(push: &PushRequest, answer: &CoreResult<PushResponse>) {
    use crate::metrics::{PUSH_CHANGES, PUSH_GROUPS_REFUSED, PUSHES};
    metrics::counter!(PUSHES).increment(1);
    if let Ok(response) = answer {
        metrics::counter!(PUSH_CHANGES, "outcome" => "accepted").increment(response.accepted.into());
        metrics::counter!(PUSH_CHANGES, "outcome" => "duplicate").increment(response.duplicates.into());
        let group_len = |r: &GroupRefusal| push.groups.get(r.group as usize).map_or(0, Vec::len) as u64;
        let refused: u64 = response.refused.iter().map(group_len).sum();
        if refused > 0 {
            metrics::counter!(PUSH_CHANGES, "outcome" => "refused").increment(refused);
        }
        for refusal in &response.refused {
            metrics::counter!(PUSH_GROUPS_REFUSED, "code" => refusal.code.as_str()).increment(1);
        }
    }
}

fn unknown_user() -> CoreError {
    CoreError::refused(ErrorCode::UnknownDevice, "this device's user is not known")
}

/// What one push did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct IngestOutcome {
    accepted: u32,
    duplicates: u32,
    refused: Vec<GroupRefusal>,
    /// The log position of the last change appended, if any was.
    last_seq: Option<u64>,
}

/// Checks a push that needs no database: every group is one record's, not
/// empty, and every change is valid and made by the pushing device.
pub fn precheck(push: &PushRequest) -> Result<(), Refusal> {
    for (i, change) in push.changes().enumerate() {
        if change.dot.actor != push.device {
            return Err(Refusal::new(
                ErrorCode::ActorMismatch,
                "a change in the push was made by another device than the one pushing",
            )
            .at(i));
        }
        change.validate().map_err(|e| Refusal::new(ErrorCode::InvalidChange, e.to_string()).at(i))?;
    }
    for group in &push.groups {
        let Some(first) = group.first() else {
            return Err(Refusal::new(ErrorCode::Malformed, "a push holds an empty write group"));
        };
        if group.iter().any(|c| c.record != first.record) {
            return Err(Refusal::new(ErrorCode::Malformed, "a write group changes more than one record"));
        }
    }
    Ok(())
}

/// Who pushes, and what the server knows at the time.
struct Pusher<'a> {
    actor: &'a Actor,
    /// The pushing device's home township.
    home: String,
    dir: &'a Directory,
    now: u64,
}

/// What a push changed, to be written once per record.
#[derive(Default)]
struct Written {
    states: HashMap<RecordId, Option<RecordState>>,
    /// Per record, where it was stored before this push (none: new).
    stored: HashMap<RecordId, Option<String>>,
    /// Per record, the townships this push appended its changes in.
    homes: HashMap<RecordId, BTreeSet<String>>,
    /// The changes this push appended, by dot, to recognise one sent twice.
    appended: HashMap<(RecordId, ActorId, u64), usize>,
    touched: BTreeSet<RecordId>,
    /// Per record, the earliest trusted time of its accepted changes.
    filed: HashMap<RecordId, u64>,
    /// Per record, the latest: when it was last worked on.
    latest: HashMap<RecordId, u64>,
    /// Per record, the log position of its last change.
    seqs: HashMap<RecordId, u64>,
    last_seq: u64,
}

/// What one write group of a push comes to, decided before anything of the
/// push is written.
enum Step {
    /// The rules refused it: its audit row and the rebuild are written.
    Refused { group: usize, record: RecordId, rule: RuleError },
    /// Its changes are appended in `township`, each with whether its device
    /// clock was suspect.
    Accepted { group: usize, township: String, suspects: Vec<bool> },
}

/// Applies a prechecked push inside the write transaction, in two passes:
/// every group is looked up, merged and checked first, and only then is
/// anything written, so that a push refused whole (a reused dot, a merge
/// error) returns before its first write and the storage need not keep a
/// savepoint per push ([`crate::storage::StorageExt::write_validated`]).
fn ingest(tx: &mut dyn WriteTx, push: &PushRequest, who: &Pusher<'_>) -> CoreResult<IngestOutcome> {
    let now = who.now;
    let offset = push.sent_ms as i64 - now as i64;
    let push_suspect = offset.unsigned_abs() > CLOCK_SUSPECT_MS;
    let mut outcome = IngestOutcome::default();
    let mut w = Written::default();
    let mut steps = Vec::with_capacity(push.groups.len());
    let mut index = 0usize;
    for (g, group) in push.groups.iter().enumerate() {
        let first_index = index;
        index += group.len();
        let record = group[0].record;
        let before = match w.states.get(&record) {
            Some(state) => state.clone(),
            None => {
                let stored = load_state(tx, record)?;
                w.stored.insert(record, stored.as_ref().map(|s| home::of_record(who.dir, s)));
                stored
            }
        };
        // This push's changes are remembered by dot; the state has seen
        // every change logged before, which lie where it was stored.
        let stored_home = w.stored.get(&record).cloned().flatten();
        let mut seen = 0usize;
        for (i, change) in group.iter().enumerate() {
            let dot = (change.record, change.dot.actor, change.dot.counter);
            // Whether the server has a change under this dot, and if so
            // whether it is this one.
            let same = match w.appended.get(&dot) {
                Some(&g) => Some(group_change(push, g, change) == change),
                None if before.as_ref().is_some_and(|s| s.context().contains(&change.dot)) => {
                    Some(logged_change(tx, stored_home.as_deref().unwrap_or_default(), change)? == *change)
                }
                None => None,
            };
            if let Some(same) = same {
                if !same {
                    return Err(Refusal::new(
                        ErrorCode::DotReused,
                        "a change reuses the identity of an earlier, different change",
                    )
                    .at(first_index + i)
                    .into());
                }
                seen += 1;
            }
        }
        if seen == group.len() {
            outcome.duplicates += seen as u32;
            continue;
        }
        if seen > 0 {
            return Err(Refusal::new(
                ErrorCode::InvalidChange,
                "a write group mixes changes the server has with new ones",
            )
            .at(first_index)
            .into());
        }
        let mut after = before.clone().unwrap_or_else(|| RecordState::new(record, group[0].kind));
        for (i, change) in group.iter().enumerate() {
            after.apply(change).map_err(|e| merge_refusal(e, first_index + i))?;
        }
        let checked = if group.iter().any(|c| c.author != who.actor.user) {
            Err(RuleError::new(
                ErrorCode::Forbidden,
                Some("author"),
                "a change names another author than the user of the device that pushed it",
            ))
        } else {
            check_group(before.as_ref(), &after, group, who.actor, who.dir)
        };
        if let Err(rule) = checked {
            steps.push(Step::Refused { group: g, record, rule });
            w.states.insert(record, before);
            continue;
        }
        let township = home::of_record(who.dir, &after);
        let (mut earliest, mut last) = (u64::MAX, 0);
        let mut suspects = Vec::with_capacity(group.len());
        for change in group {
            let suspect = push_suspect || change.time.millis > now.saturating_add(CLOCK_SUSPECT_MS);
            let trusted = trusted_time(change, now, suspect);
            earliest = earliest.min(trusted);
            last = last.max(trusted);
            suspects.push(suspect);
            w.appended.insert((change.record, change.dot.actor, change.dot.counter), g);
        }
        w.homes.entry(record).or_default().insert(township.clone());
        outcome.accepted += group.len() as u32;
        let first_filed = w.filed.entry(record).or_insert(u64::MAX);
        *first_filed = (*first_filed).min(earliest);
        let active = w.latest.entry(record).or_insert(0);
        *active = (*active).max(last);
        w.states.insert(record, Some(after));
        w.touched.insert(record);
        steps.push(Step::Accepted { group: g, township, suspects });
    }

    // Nothing was written above; from here on only the storage can fail.
    for step in steps {
        match step {
            Step::Refused { group, record, rule } => {
                let event = Event::new(
                    format!("device:{}", push.device),
                    "sync.group_refused",
                    record.to_string(),
                    rule.code.as_str(),
                )
                .detail(rule.field.as_deref().map(|f| format!("field={f}")).unwrap_or_default());
                tx.append_audit(now, &event)?;
                tx.mark_rebuild(push.device, &who.home, record)?;
                outcome.refused.push(GroupRefusal {
                    group: group as u32,
                    code: rule.code,
                    field: rule.field,
                    message: rule.message,
                });
            }
            Step::Accepted { group, township, suspects } => {
                for (change, suspect) in push.groups[group].iter().zip(&suspects) {
                    w.last_seq = tx.append_change(&NewChange {
                        record: change.record,
                        township: &township,
                        actor: change.dot.actor,
                        counter: change.dot.counter,
                        received_ms: now,
                        body: &log_body::encode(change),
                        clock_suspect: *suspect,
                        clock_offset_ms: offset,
                    })?;
                }
                w.seqs.insert(push.groups[group][0].record, w.last_seq);
            }
        }
    }
    save_touched(tx, push, who, &w, outcome.accepted)?;
    outcome.last_seq = (outcome.accepted > 0).then_some(w.last_seq);
    Ok(outcome)
}

/// When a change happened, as far as the server trusts the device: its
/// clock, unless that is suspect or claims a time after the receipt.
pub fn trusted_time(change: &Change, received_ms: u64, suspect: bool) -> u64 {
    if suspect { received_ms } else { change.time.millis.min(received_ms) }
}

/// Writes each touched record's state, access keys and report row once, and
/// notes that the pushing device holds them.
fn save_touched(
    tx: &mut dyn WriteTx,
    push: &PushRequest,
    who: &Pusher<'_>,
    w: &Written,
    accepted: u32,
) -> CoreResult<()> {
    let now = who.now;
    for id in &w.touched {
        let Some(Some(state)) = w.states.get(id) else { continue };
        // One fold of a dispute's lifecycle gives its keys and its home.
        let access = access::access(state);
        let township = home::of_access(who.dir, &access);
        let stored = w.stored.get(id).into_iter().flatten();
        if stored.chain(w.homes.get(id).into_iter().flatten()).any(|h| *h != township) {
            tx.rehome_record(*id, &township)?;
        }
        let bytes = state.to_bytes();
        tx.save_record(&SavedRecord {
            id: *id,
            township: &township,
            kind: state.kind(),
            state: &bytes,
            conflicted: state.has_conflicts(),
            updated_seq: w.last_seq,
        })?;
        let keys: Vec<String> = access.keys.iter().map(|k| k.encode()).collect();
        let active = w.latest.get(id).copied().unwrap_or(now);
        let seq = w.seqs.get(id).copied().unwrap_or(w.last_seq);
        if w.stored.get(id).is_some_and(Option::is_some) {
            tx.file_access(*id, &township, &keys, active, access.open, seq)?;
        } else {
            tx.file_new_access(*id, &township, &keys, active, access.open, seq)?;
        }
        tx.hold(push.device, &who.home, *id)?;
        if state.kind() == RecordKind::DailyReport {
            let row = daily_report_row(state, w.filed.get(id).copied().unwrap_or(now), now);
            tx.save_daily_report(&row, &township)?;
        }
    }
    tx.note_push(push.device, now, accepted)?;
    Ok(())
}

/// Logs one write group the server authored itself (ADR 0016) like a
/// device's accepted group: its changes appended in the record's new home,
/// the record re-homed if its home moved, its state and access rows saved.
/// `before` is the stored state the group was made on (checked by the
/// caller with the record rules); `after` the state with the group applied.
/// No device holds the server's actor, so no replica row is written and no
/// push is counted, and no daily-report row is written (the desk writes only
/// disputes). Returns the log position of the last change.
pub(crate) fn log_authored(
    tx: &mut dyn WriteTx,
    dir: &Directory,
    before: &RecordState,
    after: &RecordState,
    group: &[Change],
    now: u64,
) -> CoreResult<u64> {
    let access = access::access(after);
    let township = home::of_access(dir, &access);
    let mut last_seq = 0;
    for change in group {
        let body = log_body::encode(change);
        last_seq = tx.append_change(&NewChange {
            record: change.record,
            township: &township,
            actor: change.dot.actor,
            counter: change.dot.counter,
            received_ms: now,
            body: &body,
            clock_suspect: false,
            clock_offset_ms: 0,
        })?;
    }
    if home::of_record(dir, before) != township {
        tx.rehome_record(after.id(), &township)?;
    }
    let bytes = after.to_bytes();
    tx.save_record(&SavedRecord {
        id: after.id(),
        township: &township,
        kind: after.kind(),
        state: &bytes,
        conflicted: after.has_conflicts(),
        updated_seq: last_seq,
    })?;
    let keys: Vec<String> = access.keys.iter().map(|k| k.encode()).collect();
    tx.file_access(after.id(), &township, &keys, now, access.open, last_seq)?;
    Ok(last_seq)
}

/// The report's row for completeness: what it says now, and when it was
/// first filed.
fn daily_report_row(state: &RecordState, filed_ms: u64, now: u64) -> DailyReportRow {
    let text = |field: &str| match state.value(field) {
        Some(Value::Text(t)) => t.clone(),
        _ => String::new(),
    };
    DailyReportRow {
        worker: text("worker"),
        date: text("date"),
        record: state.id(),
        grid: text("grid"),
        status: text("status"),
        filed_ms,
        received_ms: now,
    }
}

/// The change of write group `group` with `change`'s dot.
fn group_change<'p>(push: &'p PushRequest, group: usize, change: &Change) -> &'p Change {
    let same = push.groups[group].iter().find(|c| c.dot == change.dot && c.record == change.record);
    same.expect("the group appended this dot")
}

/// The logged change with `change`'s dot, which the record's state (stored
/// in `township`) has seen: the log holds every change a state was built
/// from, so a missing or unreadable one is corruption.
fn logged_change(tx: &mut dyn WriteTx, township: &str, change: &Change) -> CoreResult<Change> {
    let (record, actor) = (change.record, change.dot.actor);
    let corrupt =
        || StorageError::corrupt(format!("change {}:{} of record {record}", actor, change.dot.counter));
    let body = tx.change_body(record, township, actor, change.dot.counter)?.ok_or_else(corrupt)?;
    Ok(log_body::decode(&body, record, actor).map_err(|_| corrupt())?)
}

/// A record's merged state, if it has one.
pub fn load_state(tx: &mut (impl ReadTx + ?Sized), id: RecordId) -> CoreResult<Option<RecordState>> {
    tx.record_state(id)?
        .map(|bytes| {
            RecordState::from_bytes(&bytes).map_err(|_| StorageError::corrupt(format!("record {id}")).into())
        })
        .transpose()
}

fn merge_refusal(e: MergeError, index: usize) -> CoreError {
    let code = match e {
        MergeError::KindMismatch { .. } => ErrorCode::KindMismatch,
        MergeError::ForeignSupersedes { .. } | MergeError::WrongRecord => ErrorCode::InvalidChange,
    };
    Refusal::new(code, e.to_string()).at(index).into()
}
