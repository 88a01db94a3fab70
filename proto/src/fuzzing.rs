//! What the `wire` fuzz target runs (`fuzz/fuzz_targets/wire.rs`), kept in
//! the crate so the same code replays the committed corpus in a plain
//! `cargo test` (`proto/tests/fuzz_corpus.rs`). Not an API: hidden from the
//! docs, and it panics, which is how a fuzz case reports a broken invariant.
//!
//! [`decoders`] hands one input to every decoder a peer runs on bytes it did
//! not make: each message type of the envelope in every protocol version it
//! has, the JSON [`ErrorBody`], the log bodies of the server's log (all three
//! formats), stored record states and snapshots. For each, the input must be
//! refused with an error or decode; what decodes must re-encode to bytes that
//! decode again to the same bytes (encoding is deterministic, decoding is
//! not one-to-one: over-long varints are accepted), and the changes it holds
//! must go through [`Change::validate`] and, when valid, merge into a record
//! state without panicking, as the server would merge them.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::change::log_body;
use crate::wire::{self, ChangeCount, Limits, Message, v2, v3};
use crate::{
    ActorId, Change, ErrorBody, Hierarchy, Profile, PullRequest, PullResponse, PushRequest, PushResponse,
    RecordId, RecordState, Snapshot,
};

/// The record and device a fuzzed log body's row names.
const ROW_RECORD: RecordId = RecordId::from_bytes([0x10; 16]);
const ROW_ACTOR: ActorId = ActorId::from_bytes([0x20; 16]);

/// Limits small enough that the fuzzer meets them, but that every seed fits.
const LIMITS: Limits = Limits { max_bytes: 64 * 1024, max_changes: 64 };

/// Runs every decoder on `data`; panics when one breaks an invariant.
pub fn decoders(data: &[u8]) {
    envelope::<PushRequest>(data, |push| merge(push.changes()));
    envelope::<PushResponse>(data, |_| ());
    envelope::<PullRequest>(data, |_| ());
    envelope::<PullResponse>(data, |page| {
        merge(page.changes.iter().map(|c| &c.change));
        page.snapshots.iter().for_each(snapshot_invariants);
        page.profile.iter().for_each(profile_invariants);
    });
    envelope::<v3::PushResponse>(data, |_| ());
    envelope::<v3::PullResponse>(data, |page| {
        merge(page.changes.iter().map(|c| &c.change));
        page.snapshots.iter().for_each(snapshot_invariants);
        page.profile.iter().for_each(profile_invariants);
    });
    envelope::<v2::PullResponse>(data, |page| merge(page.changes.iter().map(|c| &c.change)));
    error_body(data);
    log_body(data);
    record_state(data);
    postcard_value::<Snapshot>(data, snapshot_invariants);
    postcard_value::<Change>(data, |c| merge(std::iter::once(c)));
}

/// One message type of the envelope: decoded in whatever version it came
/// in, re-encoded in that version, decoded again to the same bytes.
fn envelope<M: Message + ChangeCount>(data: &[u8], then: impl FnOnce(&M)) {
    let Ok((version, message)) = wire::decode_versioned::<M>(data, &LIMITS) else {
        return;
    };
    assert!((M::FIRST_VERSION..=M::LAST_VERSION).contains(&version), "decoded in version {version}");
    assert!(message.change_count() <= LIMITS.max_changes, "the change limit holds");
    let again = wire::encode_as(version, &message);
    assert_eq!(again[..4], data[..4], "the header is kept");
    let (back_version, back) = wire::decode_versioned::<M>(&again, &Limits::DEFAULT)
        .unwrap_or_else(|e| panic!("a re-encoded message decodes: {e}"));
    assert_eq!(back_version, version);
    assert_eq!(wire::encode_as(version, &back), again, "encoding is deterministic");
    then(&message);
}

/// Validates each change as the server's precheck does, then merges the
/// valid ones into one state per record as its ingest does: an error is
/// fine, a panic is not.
fn merge<'a>(changes: impl Iterator<Item = &'a Change>) {
    let mut states: Vec<RecordState> = Vec::new();
    for change in changes {
        if change.validate().is_err() {
            continue;
        }
        let state = match states.iter_mut().position(|s| s.id() == change.record) {
            Some(i) => &mut states[i],
            None => {
                states.push(RecordState::new(change.record, change.kind));
                states.last_mut().expect("just pushed")
            }
        };
        let _ = state.check(change);
        let _ = state.apply(change);
    }
    for state in &states {
        let bytes = state.to_bytes();
        let back = RecordState::from_bytes(&bytes).expect("a merged state decodes");
        assert_eq!(back.to_bytes(), bytes, "a merged state round-trips");
        let _ = crate::RecordView::from(state);
    }
}

/// A profile a device received: the directory it builds must answer
/// every question about itself without looping or panicking.
fn profile_invariants(profile: &Profile) {
    let dir = profile.directory();
    let _ = dir.check();
    let _ = profile.actor.level(&dir);
    let _ = profile.actor.rank(&dir);
    let _ = profile.actor.at_centre(&dir);
    for place in &profile.places {
        let _ = profile.actor.covers(&dir, &place.code);
        let _ = dir.is_within(&place.code, profile.actor.place.as_deref());
        let _ = dir.view_for(Some(&place.code));
    }
}

fn snapshot_invariants(snapshot: &Snapshot) {
    let _ = snapshot.latest_time();
    for dot in snapshot.shown_dots() {
        let _ = snapshot.receipt(&dot);
    }
}

/// The JSON error body every error response carries: a newer server's codes
/// read as `unknown`, and what decodes writes back to JSON that decodes to
/// the same body.
fn error_body(data: &[u8]) {
    let Ok(body) = serde_json::from_slice::<ErrorBody>(data) else {
        return;
    };
    let json = serde_json::to_vec(&body).expect("an error body encodes");
    let back: ErrorBody = serde_json::from_slice(&json).expect("an encoded error body decodes");
    assert_eq!(back, body);
    let _ = body.code.is_retryable();
}

/// A body of the server's log, of any format: decoded for a row, and split
/// into author and format 3 body and joined back.
fn log_body(data: &[u8]) {
    let decoded = log_body::decode(data, ROW_RECORD, ROW_ACTOR);
    if let Ok(change) = &decoded {
        assert_eq!((change.record, change.dot.actor), (ROW_RECORD, ROW_ACTOR), "the row names them");
        let body = log_body::encode(change);
        let back = log_body::decode(&body, ROW_RECORD, ROW_ACTOR).expect("an encoded body decodes");
        assert_eq!(log_body::encode(&back), body, "a log body round-trips");
    }
    if let Some((author, bare)) = log_body::split_author(data) {
        let mut joined = Vec::new();
        log_body::join_author(&bare, author, &mut joined).expect("a split body joins");
        let rejoined = log_body::decode(&joined, ROW_RECORD, ROW_ACTOR).map(|c| log_body::encode(&c));
        assert_eq!(rejoined, decoded.map(|c| log_body::encode(&c)), "joining keeps the change");
        if decoded_is_canonical(data) {
            assert_eq!(joined, data, "a canonical body joins back byte for byte");
        }
    }
    let mut out = Vec::new();
    let _ = log_body::join_author(data, "fuzz", &mut out);
}

/// Whether `data` is a log body exactly as [`log_body::encode`] writes it.
fn decoded_is_canonical(data: &[u8]) -> bool {
    log_body::decode(data, ROW_RECORD, ROW_ACTOR).is_ok_and(|c| log_body::encode(&c) == data)
}

/// A stored record state, of either format.
fn record_state(data: &[u8]) {
    let Ok(state) = RecordState::from_bytes(data) else {
        return;
    };
    let bytes = state.to_bytes();
    let back = RecordState::from_bytes(&bytes).expect("an encoded state decodes");
    assert_eq!(back.to_bytes(), bytes, "a state round-trips");
    let _ = crate::RecordView::from(&state);
    let _ = state.conflicts().count();
    let mut merged = RecordState::new(state.id(), state.kind());
    let _ = merged.merge(&state);
}

/// A value postcard-encoded on its own.
fn postcard_value<T: Serialize + DeserializeOwned>(data: &[u8], then: impl FnOnce(&T)) {
    let Ok(value) = postcard::from_bytes::<T>(data) else {
        return;
    };
    let bytes = postcard::to_allocvec(&value).expect("encoding into a Vec cannot fail");
    let back: T = postcard::from_bytes(&bytes).expect("an encoded value decodes");
    assert_eq!(postcard::to_allocvec(&back).expect("encodes"), bytes, "a value round-trips");
    then(&value);
}

/// Encoded examples of every input [`decoders`] reads, for the seed
/// corpus: `(file name, bytes)`.
pub fn seeds() -> Vec<(String, Vec<u8>)> {
    seed::all()
}

mod seed;
