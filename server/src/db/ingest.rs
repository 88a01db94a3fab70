//! Applying one push inside the writer's transaction.
//!
//! The steps for each change, in the order the device made them:
//! 1. look its dot up in the change log: the same bytes again are a
//!    duplicate (acknowledged, not applied); other bytes are `dot_reused`;
//! 2. check it against the record's merged state (kind, supersedes);
//! 3. merge it and append it to the log.
//!
//! Any refusal returns an error and the caller rolls the whole push back.

use std::collections::HashMap;

use gridsync_proto::{Change, ErrorCode, MergeError, PushRequest, RecordId, RecordState};
use rusqlite::{Connection, OptionalExtension, params};

use crate::db::WriteError;
use crate::error::ApiError;

/// What one push did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct IngestOutcome {
    pub(crate) accepted: u32,
    pub(crate) duplicates: u32,
}

/// Checks a push that needs no database: every change is valid and made by
/// the pushing device.
pub(crate) fn precheck(push: &PushRequest) -> Result<(), ApiError> {
    for (i, change) in push.changes.iter().enumerate() {
        if change.dot.actor != push.device {
            return Err(ApiError::new(
                ErrorCode::ActorMismatch,
                "a change in the push was made by another device than the one pushing",
            )
            .at(i));
        }
        change.validate().map_err(|e| ApiError::new(ErrorCode::InvalidChange, e.to_string()).at(i))?;
    }
    Ok(())
}

/// Applies a prechecked push. Runs on the writer, inside a savepoint.
pub(crate) fn ingest(tx: &Connection, push: &PushRequest, now_ms: u64) -> Result<IngestOutcome, WriteError> {
    let mut outcome = IngestOutcome::default();
    let mut states: HashMap<RecordId, RecordState> = HashMap::new();
    let mut last_seq = 0i64;
    let mut find =
        tx.prepare_cached("SELECT body FROM changes WHERE record = ?1 AND actor = ?2 AND counter = ?3")?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO changes (record, actor, counter, received_ms, body) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for (i, change) in push.changes.iter().enumerate() {
        let body = postcard::to_allocvec(change).expect("encoding into a Vec cannot fail");
        let key = params![change.record.as_bytes(), change.dot.actor.as_bytes(), change.dot.counter as i64];
        let existing: Option<Vec<u8>> = find.query_row(key, |r| r.get(0)).optional()?;
        if let Some(existing) = existing {
            if existing != body {
                return Err(ApiError::new(
                    ErrorCode::DotReused,
                    "a change reuses the identity of an earlier, different change",
                )
                .at(i)
                .into());
            }
            outcome.duplicates += 1;
            continue;
        }
        let state = match states.entry(change.record) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => e.insert(load_state(tx, change)?),
        };
        state.apply(change).map_err(|e| merge_refusal(e, i))?;
        insert.execute(params![
            change.record.as_bytes(),
            change.dot.actor.as_bytes(),
            change.dot.counter as i64,
            now_ms as i64,
            body
        ])?;
        last_seq = tx.last_insert_rowid();
        outcome.accepted += 1;
    }
    let mut save = tx.prepare_cached(
        "INSERT INTO records (id, kind, state, conflicted, updated_seq) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (id) DO UPDATE SET state = excluded.state, conflicted = excluded.conflicted,
                                        updated_seq = excluded.updated_seq",
    )?;
    for (id, state) in &states {
        save.execute(params![
            id.as_bytes(),
            state.kind().code(),
            state.to_bytes(),
            state.has_conflicts(),
            last_seq
        ])?;
    }
    tx.execute(
        "INSERT INTO devices (id, first_seen_ms, last_push_ms, changes) VALUES (?1, ?2, ?2, ?3)
         ON CONFLICT (id) DO UPDATE SET last_push_ms = excluded.last_push_ms,
                                        changes = changes + excluded.changes",
        params![push.device.as_bytes(), now_ms as i64, outcome.accepted],
    )?;
    Ok(outcome)
}

fn load_state(tx: &Connection, change: &Change) -> Result<RecordState, WriteError> {
    let stored: Option<Vec<u8>> = tx
        .prepare_cached("SELECT state FROM records WHERE id = ?1")?
        .query_row([change.record.as_bytes()], |r| r.get(0))
        .optional()?;
    match stored {
        None => Ok(RecordState::new(change.record, change.kind)),
        Some(bytes) => RecordState::from_bytes(&bytes)
            .map_err(|_| WriteError::Corrupt(format!("record {}", change.record))),
    }
}

fn merge_refusal(e: MergeError, index: usize) -> WriteError {
    let code = match e {
        MergeError::KindMismatch { .. } => ErrorCode::KindMismatch,
        MergeError::ForeignSupersedes { .. } | MergeError::WrongRecord => ErrorCode::InvalidChange,
    };
    ApiError::new(code, e.to_string()).at(index).into()
}
