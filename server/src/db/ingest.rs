//! Applying one push inside the writer's transaction.
//!
//! A push is a list of write groups, each the changes one local write made
//! to one record. For each group, in order:
//! 1. look each dot up in the change log: the same bytes again are a
//!    duplicate (a re-sent group is acknowledged, not applied); other bytes
//!    are `dot_reused`;
//! 2. merge the group into the record's state (kind, supersedes);
//! 3. check that every change names the pushing user as its author, and
//!    the result with the record rules for that user
//!    ([`gridsync_proto::check_group`]): a refused group is answered with its
//!    reason and leaves nothing, while the other groups go on;
//! 4. append the changes to the log, with the receipt time and whether the
//!    device's clock was far off.
//!
//! Then the touched records' states, access keys and daily-report rows are
//! written once each. Integrity failures (a reused dot, a merge error) are
//! the device's bug or an attack, not a rule: they refuse the whole push,
//! and the caller rolls all of it back.

use std::collections::{BTreeSet, HashMap};

use gridsync_proto::rules::RuleError;
use gridsync_proto::wire::Refusal;
use gridsync_proto::{
    Actor, Change, Directory, ErrorCode, MergeError, PushRequest, RecordId, RecordKind, RecordState, Value,
    access, check_group,
};
use rusqlite::{Connection, OptionalExtension, params};

use crate::audit::{self, Event};
use crate::db::WriteError;
use crate::error::ApiError;
use crate::scope;

/// A device clock further than this from the server's is flagged.
pub const CLOCK_SUSPECT_MS: u64 = 10 * 60 * 1000;

/// What one push did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct IngestOutcome {
    pub(crate) accepted: u32,
    pub(crate) duplicates: u32,
    pub(crate) refused: Vec<Refusal>,
}

/// Checks a push that needs no database: every group is one record's, not
/// empty, and every change is valid and made by the pushing device.
pub(crate) fn precheck(push: &PushRequest) -> Result<(), ApiError> {
    for (i, change) in push.changes().enumerate() {
        if change.dot.actor != push.device {
            return Err(ApiError::new(
                ErrorCode::ActorMismatch,
                "a change in the push was made by another device than the one pushing",
            )
            .at(i));
        }
        change.validate().map_err(|e| ApiError::new(ErrorCode::InvalidChange, e.to_string()).at(i))?;
    }
    for group in &push.groups {
        let Some(first) = group.first() else {
            return Err(ApiError::new(ErrorCode::Malformed, "a push holds an empty write group"));
        };
        if group.iter().any(|c| c.record != first.record) {
            return Err(ApiError::new(ErrorCode::Malformed, "a write group changes more than one record"));
        }
    }
    Ok(())
}

/// Who pushes, and what the server knows at the time.
pub(crate) struct Pusher<'a> {
    pub(crate) actor: &'a Actor,
    pub(crate) dir: &'a Directory,
    pub(crate) now: u64,
}

/// Applies a prechecked push. Runs on the writer, inside a savepoint.
pub(crate) fn ingest(
    tx: &Connection,
    push: &PushRequest,
    who: &Pusher<'_>,
) -> Result<IngestOutcome, WriteError> {
    let now = who.now;
    let offset = push.sent_ms as i64 - now as i64;
    let push_suspect = offset.unsigned_abs() > CLOCK_SUSPECT_MS;
    let mut outcome = IngestOutcome::default();
    let mut states: HashMap<RecordId, Option<RecordState>> = HashMap::new();
    let mut touched: BTreeSet<RecordId> = BTreeSet::new();
    let mut filed: HashMap<RecordId, u64> = HashMap::new();
    let mut latest: HashMap<RecordId, u64> = HashMap::new();
    let mut last_seq = 0i64;
    let mut find =
        tx.prepare_cached("SELECT body FROM changes WHERE record = ?1 AND actor = ?2 AND counter = ?3")?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO changes (record, actor, counter, received_ms, body, clock_suspect, clock_offset_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    let mut index = 0usize;
    for (g, group) in push.groups.iter().enumerate() {
        let first_index = index;
        index += group.len();
        let record = group[0].record;
        let mut bodies = Vec::with_capacity(group.len());
        let mut seen = 0usize;
        for (i, change) in group.iter().enumerate() {
            let body = postcard::to_allocvec(change).expect("encoding into a Vec cannot fail");
            let key =
                params![change.record.as_bytes(), change.dot.actor.as_bytes(), change.dot.counter as i64];
            if let Some(existing) = find.query_row(key, |r| r.get::<_, Vec<u8>>(0)).optional()? {
                if existing != body {
                    return Err(ApiError::new(
                        ErrorCode::DotReused,
                        "a change reuses the identity of an earlier, different change",
                    )
                    .at(first_index + i)
                    .into());
                }
                seen += 1;
            }
            bodies.push(body);
        }
        if seen == group.len() {
            outcome.duplicates += seen as u32;
            continue;
        }
        if seen > 0 {
            return Err(ApiError::new(
                ErrorCode::InvalidChange,
                "a write group mixes changes the server has with new ones",
            )
            .at(first_index)
            .into());
        }
        let before = match states.get(&record) {
            Some(state) => state.clone(),
            None => load_state(tx, record)?,
        };
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
            let event = Event::new(
                format!("device:{}", push.device),
                "sync.group_refused",
                record.to_string(),
                rule.code.as_str(),
            )
            .detail(rule.field.as_deref().map(|f| format!("field={f}")).unwrap_or_default());
            audit::append(tx, now, &event)?;
            outcome.refused.push(refusal(g, rule));
            tx.prepare_cached("UPDATE replicas SET rebuild = 1 WHERE device = ?1 AND record = ?2")?
                .execute(params![push.device.as_bytes(), record.as_bytes()])?;
            states.insert(record, before);
            continue;
        }
        let (mut earliest, mut last) = (u64::MAX, 0);
        for (change, body) in group.iter().zip(bodies) {
            let suspect = push_suspect || change.time.millis > now.saturating_add(CLOCK_SUSPECT_MS);
            let trusted = trusted_time(change, now, suspect);
            earliest = earliest.min(trusted);
            last = last.max(trusted);
            insert.execute(params![
                change.record.as_bytes(),
                change.dot.actor.as_bytes(),
                change.dot.counter as i64,
                now as i64,
                body,
                suspect,
                offset
            ])?;
            last_seq = tx.last_insert_rowid();
        }
        outcome.accepted += group.len() as u32;
        let first_filed = filed.entry(record).or_insert(u64::MAX);
        *first_filed = (*first_filed).min(earliest);
        let active = latest.entry(record).or_insert(0);
        *active = (*active).max(last);
        states.insert(record, Some(after));
        touched.insert(record);
    }
    let written = Written {
        states: &states,
        touched: &touched,
        filed: &filed,
        latest: &latest,
        last_seq,
        accepted: outcome.accepted,
    };
    save_touched(tx, push, &written, now)?;
    Ok(outcome)
}

/// When a change happened, as far as the server trusts the device: its
/// clock, unless that is suspect or claims a time after the receipt.
pub(crate) fn trusted_time(change: &Change, received_ms: u64, suspect: bool) -> u64 {
    if suspect { received_ms } else { change.time.millis.min(received_ms) }
}

/// What a push changed, to be written once per record.
struct Written<'a> {
    states: &'a HashMap<RecordId, Option<RecordState>>,
    touched: &'a BTreeSet<RecordId>,
    /// Per record, the earliest trusted time of its accepted changes.
    filed: &'a HashMap<RecordId, u64>,
    /// Per record, the latest: when it was last worked on.
    latest: &'a HashMap<RecordId, u64>,
    last_seq: i64,
    accepted: u32,
}

/// Writes each touched record's state, access keys and report row once, and
/// notes that the pushing device holds them.
fn save_touched(tx: &Connection, push: &PushRequest, w: &Written<'_>, now: u64) -> Result<(), WriteError> {
    let mut save = tx.prepare_cached(
        "INSERT INTO records (id, kind, state, conflicted, updated_seq) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (id) DO UPDATE SET state = excluded.state, conflicted = excluded.conflicted,
                                        updated_seq = excluded.updated_seq",
    )?;
    let mut holds = tx.prepare_cached(
        "INSERT INTO replicas (device, record, added_token) VALUES (?1, ?2, 0) ON CONFLICT DO NOTHING",
    )?;
    for id in w.touched {
        let Some(Some(state)) = w.states.get(id) else { continue };
        save.execute(params![
            id.as_bytes(),
            state.kind().code(),
            state.to_bytes(),
            state.has_conflicts(),
            w.last_seq
        ])?;
        scope::index(tx, *id, &access::access(state), w.latest.get(id).copied().unwrap_or(now))?;
        holds.execute(params![push.device.as_bytes(), id.as_bytes()])?;
        if state.kind() == RecordKind::DailyReport {
            save_daily_report(tx, state, w.filed.get(id).copied().unwrap_or(now), now)?;
        }
    }
    tx.prepare_cached(
        "INSERT INTO devices (id, first_seen_ms, last_push_ms, changes) VALUES (?1, ?2, ?2, ?3)
         ON CONFLICT (id) DO UPDATE SET last_push_ms = excluded.last_push_ms,
                                        changes = changes + excluded.changes",
    )?
    .execute(params![push.device.as_bytes(), now as i64, w.accepted])?;
    Ok(())
}

/// Keeps the report's row for completeness: what it says now, and when it
/// was first filed.
fn save_daily_report(
    tx: &Connection,
    state: &RecordState,
    filed_ms: u64,
    now: u64,
) -> Result<(), WriteError> {
    let text = |field: &str| match state.value(field) {
        Some(Value::Text(t)) => t.clone(),
        _ => String::new(),
    };
    tx.prepare_cached(
        "INSERT INTO daily_reports (worker, date, record, grid, status, filed_ms, received_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (worker, date) DO UPDATE SET grid = excluded.grid, status = excluded.status,
             filed_ms = min(filed_ms, excluded.filed_ms), received_ms = min(received_ms, excluded.received_ms)",
    )?
    .execute(params![
        text("worker"),
        text("date"),
        state.id().as_bytes(),
        text("grid"),
        text("status"),
        filed_ms as i64,
        now as i64
    ])?;
    Ok(())
}

fn refusal(group: usize, rule: RuleError) -> Refusal {
    Refusal { group: group as u32, code: rule.code, field: rule.field, message: rule.message }
}

pub(crate) fn load_state(tx: &Connection, id: RecordId) -> Result<Option<RecordState>, WriteError> {
    let stored: Option<Vec<u8>> = tx
        .prepare_cached("SELECT state FROM records WHERE id = ?1")?
        .query_row([id.as_bytes()], |r| r.get(0))
        .optional()?;
    stored
        .map(|bytes| RecordState::from_bytes(&bytes).map_err(|_| WriteError::Corrupt(format!("record {id}"))))
        .transpose()
}

fn merge_refusal(e: MergeError, index: usize) -> WriteError {
    let code = match e {
        MergeError::KindMismatch { .. } => ErrorCode::KindMismatch,
        MergeError::ForeignSupersedes { .. } | MergeError::WrongRecord => ErrorCode::InvalidChange,
    };
    ApiError::new(code, e.to_string()).at(index).into()
}
