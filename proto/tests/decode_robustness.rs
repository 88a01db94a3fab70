//! Decoding hostile or corrupt bytes never panics and fails with the right code.
//!
//! Arbitrary byte strings and mutations (bit flips, truncations, insertions,
//! removals) of valid messages and stored states are fed to
//! `wire::decode::<PushRequest>`, `wire::decode::<PullResponse>` and
//! `RecordState::from_bytes`. Errors must carry the code the envelope calls
//! for; whatever decodes must re-encode stably and merge without panicking.
//! Changes that decode but break the rules (NaN, bad names, ...) are refused
//! by `Change::validate`.

use std::collections::BTreeMap;

use gridsync_proto::change::{MAX_AUTHOR_LEN, MAX_ENTRY_ATTRS, MAX_NAME_LEN, MAX_TEXT_LEN};
use gridsync_proto::value::MAX_DEPTH;
use gridsync_proto::wire::{self, ChangeCount, Limits, Message};
use gridsync_proto::{
    ActorId, Change, Dot, ErrorCode, Hlc, InvalidChange, LoggedChange, Op, PullResponse, PushRequest,
    RecordId, RecordKind, RecordState, Value,
};
use proptest::prelude::*;
use proptest::sample::Index;

const DEVICE: ActorId = ActorId::from_bytes([0x5a; 16]);
const RECORD: RecordId = RecordId::from_bytes([0x01; 16]);
/// Small enough that mutated samples hit both limits.
const TIGHT: Limits = Limits { max_bytes: 340, max_changes: 2 };

fn change(counter: u64, op: Op) -> Change {
    let time = Hlc::from_millis(1_700_000_000_000 + counter);
    let dot = Dot { actor: DEVICE, counter };
    Change { record: RECORD, kind: RecordKind::Dispute, dot, author: "worker".into(), time, op }
}

fn set(counter: u64, field: &str, value: Value, supersedes: Vec<Dot>) -> Change {
    change(counter, Op::Set { field: field.into(), value, supersedes })
}

fn append(counter: u64, entry: &str, body: Vec<(String, Value)>) -> Change {
    change(counter, Op::Append { entry: entry.into(), body: body.into_iter().collect() })
}

fn push_bytes(changes: Vec<Change>) -> Vec<u8> {
    wire::encode(&PushRequest { device: DEVICE, sent_ms: 1_700_000_000_000, groups: vec![changes] })
}

fn sample_changes() -> Vec<Change> {
    let value = Value::Map(BTreeMap::from([
        ("gps".into(), Value::List(vec![Value::Float(25.04), Value::Float(102.7)])),
        ("who".into(), Value::from("王五")),
        ("ok".into(), Value::Bool(true)),
        ("n".into(), Value::Int(-7)),
        ("none".into(), Value::Null),
    ]));
    let first = Dot { actor: DEVICE, counter: 2 };
    vec![
        change(1, Op::Create),
        set(2, "party", value, vec![]),
        set(3, "party", "x".into(), vec![first]),
        append(4, "note", vec![("text".into(), Value::from("调解"))]),
    ]
}

fn sample_push() -> Vec<u8> {
    push_bytes(sample_changes())
}

fn sample_pull() -> Vec<u8> {
    let logged = |(change, seq)| LoggedChange {
        seq,
        received_ms: 1_700_000_100_000,
        clock_suspect: seq == 11,
        change,
    };
    let changes = sample_changes().into_iter().zip(10..).map(logged).collect();
    wire::encode(&PullResponse {
        reset: false,
        removed: vec![RecordId::from_bytes([9; 16])],
        rebuild: vec![RECORD],
        snapshots: vec![],
        changes,
        withheld: 0,
        profile: None,
        cursor: 13,
        more: false,
        epoch: 5,
    })
}

fn sample_state() -> Vec<u8> {
    let state = RecordState::from_changes(RECORD, RecordKind::Dispute, &sample_changes());
    state.expect("applies").to_bytes()
}

/// The code the envelope alone decides, if any.
fn envelope_code<M: Message>(bytes: &[u8], limits: &Limits) -> Option<ErrorCode> {
    if bytes.len() > limits.max_bytes {
        Some(ErrorCode::PayloadTooLarge)
    } else if bytes.len() < 4 || bytes[..2] != wire::MAGIC {
        Some(ErrorCode::Malformed)
    } else if !(M::FIRST_VERSION..=M::LAST_VERSION).contains(&bytes[2]) {
        Some(ErrorCode::UnsupportedVersion)
    } else if bytes[3] != M::TYPE as u8 {
        Some(ErrorCode::WrongMessageType)
    } else {
        None
    }
}

/// Decodes `bytes` as `M` and checks the outcome; returns the message if any.
fn decode_checked<M>(bytes: &[u8], limits: &Limits) -> Result<Option<M>, TestCaseError>
where
    M: Message + ChangeCount + PartialEq + std::fmt::Debug,
{
    let result = wire::decode::<M>(bytes, limits);
    match (envelope_code::<M>(bytes, limits), result) {
        (Some(code), result) => {
            prop_assert_eq!(result.map_err(|e| e.code()), Err(code));
            Ok(None)
        }
        (None, Err(e)) => {
            let allowed = [ErrorCode::Malformed, ErrorCode::TooManyChanges];
            prop_assert!(allowed.contains(&e.code()), "{e} has code {}", e.code());
            prop_assert!(!e.to_string().is_empty());
            Ok(None)
        }
        (None, Ok(message)) => {
            prop_assert!(message.change_count() <= limits.max_changes);
            // Whatever was accepted has one canonical encoding, no longer
            // than the input, which decodes to the same message.
            let canonical = wire::encode(&message);
            prop_assert!(canonical.len() <= bytes.len());
            let again = wire::decode::<M>(&canonical, limits);
            prop_assert_eq!(again.as_ref(), Ok(&message));
            Ok(Some(message))
        }
    }
}

/// Whatever decoded changes say, merging them must not panic.
fn exercise(changes: &[Change]) {
    for c in changes {
        let mut state = RecordState::new(c.record, c.kind);
        let fresh = state.apply(c);
        assert!(fresh.is_ok(), "a change applies to a fresh state of its record");
        if c.validate().is_ok() {
            let once = state.clone();
            assert_eq!(state.apply(c), Ok(gridsync_proto::Applied::Duplicate));
            assert_eq!(state, once);
        }
        assert_eq!(RecordState::from_bytes(&state.to_bytes()), Ok(state));
    }
}

/// Feeds `bytes` to every decoder.
fn decode_everything(bytes: &[u8]) -> Result<(), TestCaseError> {
    for limits in [Limits::DEFAULT, TIGHT] {
        if let Some(push) = decode_checked::<PushRequest>(bytes, &limits)? {
            exercise(&push.changes().cloned().collect::<Vec<_>>());
        }
        if let Some(pull) = decode_checked::<PullResponse>(bytes, &limits)? {
            let changes: Vec<Change> = pull.changes.into_iter().map(|l| l.change).collect();
            exercise(&changes);
        }
    }
    if let Ok(state) = RecordState::from_bytes(bytes) {
        // Merging normalizes whatever was stored; once is enough.
        let mut merged = state.clone();
        merged.merge(&state).expect("same record");
        let once = merged.clone();
        merged.merge(&state).expect("same record");
        prop_assert_eq!(&merged, &once);
        prop_assert_eq!(RecordState::from_bytes(&state.to_bytes()), Ok(state));
    }
    Ok(())
}

#[derive(Debug, Clone)]
enum Mutation {
    FlipBit(Index, u8),
    Overwrite(Index, u8),
    Insert(Index, u8),
    Remove(Index),
    Truncate(Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<Index>(), 0u8..8).prop_map(|(i, bit)| Mutation::FlipBit(i, bit)),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Overwrite(i, b)),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        1 => any::<Index>().prop_map(Mutation::Remove),
        1 => any::<Index>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = bytes.len();
        match *m {
            Mutation::Insert(i, b) => bytes.insert(i.index(len + 1), b),
            _ if len == 0 => {}
            Mutation::FlipBit(i, bit) => bytes[i.index(len)] ^= 1 << bit,
            Mutation::Overwrite(i, b) => bytes[i.index(len)] = b,
            Mutation::Remove(i) => {
                bytes.remove(i.index(len));
            }
            Mutation::Truncate(i) => bytes.truncate(i.index(len)),
        }
    }
    bytes
}

fn noise() -> impl Strategy<Value = Vec<u8>> {
    let bytes = prop::collection::vec(any::<u8>(), 0..400);
    // Half behind a valid envelope, so the body decoder is reached.
    (any::<bool>(), 1u8..=4, bytes).prop_map(|(envelope, kind, body)| match envelope {
        true => [&[b'G', b'S', wire::PROTOCOL_VERSION, kind][..], &body].concat(),
        false => body,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in noise()) {
        decode_everything(&bytes)?;
    }

    #[test]
    fn mutated_messages_never_panic(
        which in 0..3usize,
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let valid = [sample_push, sample_pull, sample_state][which]();
        decode_everything(&mutate(valid, &mutations))?;
    }
}

#[test]
fn the_unmutated_samples_decode() {
    let push: PushRequest = wire::decode(&sample_push(), &Limits::DEFAULT).expect("push");
    assert_eq!(push.groups, [sample_changes()]);
    let pull: PullResponse = wire::decode(&sample_pull(), &Limits::DEFAULT).expect("pull");
    assert_eq!(pull.changes.len(), 4);
    assert!(sample_push().len() <= TIGHT.max_bytes && sample_pull().len() > TIGHT.max_bytes);
    assert!(RecordState::from_bytes(&sample_state()).is_ok());
    let code = |bytes: &[u8]| wire::decode::<PushRequest>(bytes, &TIGHT).map_err(|e| e.code());
    assert_eq!(code(&sample_push()), Err(ErrorCode::TooManyChanges));
    let big = push_bytes(vec![sample_changes()[1].clone(); 4]);
    assert!(big.len() > TIGHT.max_bytes);
    assert_eq!(code(&big), Err(ErrorCode::PayloadTooLarge));
}

/// Encodes `change` in a push, decodes it again and validates what came out.
fn validate_decoded(change: Change) -> Result<(), InvalidChange> {
    let bytes = push_bytes(vec![change.clone()]);
    let push: PushRequest = wire::decode(&bytes, &Limits::DEFAULT).expect("decoding does not validate");
    assert_eq!(push.groups, [vec![change]]);
    push.groups[0][0].validate()
}

#[test]
fn decoded_changes_that_break_the_rules_are_refused() {
    let long_name = "名".repeat(MAX_NAME_LEN / 3 + 1);
    assert!(long_name.len() > MAX_NAME_LEN && long_name.chars().count() < MAX_NAME_LEN);
    let odd_nan = Value::Float(f64::from_bits(0x7ff8_0000_dead_beef));
    let attrs = |n| (0..n).map(|i| (format!("a{i}"), Value::Null)).collect();
    let itself = change(1, Op::Create).dot;
    let inf = Value::Float(f64::NEG_INFINITY);
    let not_finite = vec![
        set(1, "gps", Value::Float(f64::NAN), vec![]),
        set(1, "gps", Value::List(vec![Value::Int(1), odd_nan]), vec![]),
        append(1, "n", vec![("at".into(), Value::Map([("x".into(), inf)].into()))]),
    ];
    let bad_name = vec![
        set(1, &long_name, Value::Null, vec![]),
        set(1, "", Value::Null, vec![]),
        append(1, &"e".repeat(MAX_NAME_LEN + 1), vec![]),
        append(1, "note", vec![(long_name.clone(), Value::Null)]),
    ];
    let refused = |reason: InvalidChange, changes: Vec<Change>| {
        for bad in changes {
            assert_eq!(validate_decoded(bad), Err(reason.clone()));
        }
    };
    refused(InvalidChange::NotFinite, not_finite);
    refused(InvalidChange::BadName, bad_name);
    let long_text = Value::Text("x".repeat(MAX_TEXT_LEN + 1));
    refused(InvalidChange::TextTooLong, vec![set(1, "t", long_text, vec![])]);
    let crowded = append(1, "note", attrs(MAX_ENTRY_ATTRS + 1));
    refused(InvalidChange::TooManyAttributes, vec![crowded]);
    refused(InvalidChange::ZeroCounter, vec![change(0, Op::Create)]);
    let selfish = set(1, "f", Value::Null, vec![itself]);
    refused(InvalidChange::BadSupersedes, vec![selfish]);
    let mut chatty = change(1, Op::Create);
    chatty.author = "a".repeat(MAX_AUTHOR_LEN + 1);
    assert_eq!(validate_decoded(chatty), Err(InvalidChange::AuthorTooLong));
    // At the limits everything is still accepted.
    let name = "n".repeat(MAX_NAME_LEN);
    let big = set(1, &name, Value::Float(f64::MAX), vec![]);
    assert_eq!(validate_decoded(big), Ok(()));
    assert_eq!(validate_decoded(append(1, &name, attrs(MAX_ENTRY_ATTRS))), Ok(()));
}

#[test]
fn nesting_beyond_the_limit_is_refused_while_decoding() {
    let nested = |depth| (0..depth).fold(Value::Int(1), |v, _| Value::List(vec![v]));
    let push = |depth| push_bytes(vec![set(1, "deep", nested(depth), vec![])]);
    let ok: PushRequest = wire::decode(&push(MAX_DEPTH), &Limits::DEFAULT).expect("at the limit");
    assert_eq!(ok.groups[0][0].validate(), Ok(()));
    let err = wire::decode::<PushRequest>(&push(MAX_DEPTH + 1), &Limits::DEFAULT);
    assert_eq!(err.map_err(|e| e.code()), Err(ErrorCode::Malformed));
}
