//! A change as the server's log stores it (ADR 0022).
//!
//! A log row already names the change's record and device in columns of its
//! own (they are what the log is indexed by), so the body leaves them out:
//! 34 of a typical change's ~130 bytes. Two formats are read:
//!
//! * **format 1**, written before ADR 0022: the whole [`Change`] in
//!   postcard. Its first byte is always `0x10`, the length prefix of the
//!   record id's 16 bytes.
//! * **format 2**: the byte `0x02`, then postcard of the change's kind,
//!   counter, author, time and operation.
//!
//! Only format 2 is written. Whichever format a row holds, [`decode`] gives
//! the same [`Change`], so code that compares changes compares decoded ones.
//!
//! A backend may keep a change's author beside the row rather than in it
//! (the embedded one names the device and author of a row by one small
//! number, ADR 0024): [`split_author`] turns a format 2 body into the
//! author and the rest, a **format 3** body (the byte `0x03`, then the
//! format 2 body's kind and counter, then its time and operation), and
//! [`join_author`] gives the format 2 body back, byte for byte. Format 3
//! is only ever stored: [`decode`] does not read it.

use serde::{Deserialize, Serialize};

use super::{Change, Dot, Op};
use crate::hlc::Hlc;
use crate::ids::{ActorId, RecordId};
use crate::kind::RecordKind;

/// The first byte of a format 1 body: postcard's length prefix of a 16-byte
/// record id.
const FORMAT_1: u8 = 0x10;
/// The first byte of a format 2 body.
const FORMAT_2: u8 = 0x02;
/// The first byte of a format 3 body (format 2 without its author).
const FORMAT_3: u8 = 0x03;

/// What a format 2 body holds, borrowed for writing.
#[derive(Serialize)]
struct Parts<'a> {
    kind: RecordKind,
    counter: u64,
    author: &'a str,
    time: Hlc,
    op: &'a Op,
}

/// What a format 2 body holds, owned for reading.
#[derive(Deserialize)]
struct OwnedParts {
    kind: RecordKind,
    counter: u64,
    author: String,
    time: Hlc,
    op: Op,
}

/// Why a stored body does not decode. Each message names its cause and
/// none has a `source()`, so that a chain printer shows the cause once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogBodyError {
    /// The body is empty or starts with neither format's byte.
    #[error("a logged change has an unknown format")]
    UnknownFormat,
    /// The body's bytes do not decode as its format says.
    #[error("a logged change does not decode: {0}")]
    Malformed(postcard::Error),
    /// A format 1 body names another record or device than its log row.
    #[error("a logged change names another record or device than its log row")]
    Mismatch,
}

impl From<postcard::Error> for LogBodyError {
    fn from(e: postcard::Error) -> Self {
        LogBodyError::Malformed(e)
    }
}

/// The body to log for `change` (format 2): everything but its record and
/// device.
pub fn encode(change: &Change) -> Vec<u8> {
    let parts = Parts {
        kind: change.kind,
        counter: change.dot.counter,
        author: &change.author,
        time: change.time,
        op: &change.op,
    };
    postcard::to_extend(&parts, vec![FORMAT_2]).expect("writing into a Vec cannot fail")
}

/// The change a log row holds: its body, of either format, with the record
/// and device its row names.
pub fn decode(body: &[u8], record: RecordId, actor: ActorId) -> Result<Change, LogBodyError> {
    match body.first() {
        Some(&FORMAT_2) => {
            let parts: OwnedParts = postcard::from_bytes(&body[1..])?;
            Ok(Change {
                record,
                kind: parts.kind,
                dot: Dot { actor, counter: parts.counter },
                author: parts.author,
                time: parts.time,
                op: parts.op,
            })
        }
        Some(&FORMAT_1) => {
            let change: Change = postcard::from_bytes(body)?;
            if change.record != record || change.dot.actor != actor {
                return Err(LogBodyError::Mismatch);
            }
            Ok(change)
        }
        _ => Err(LogBodyError::UnknownFormat),
    }
}

/// How many bytes of a format 2 or 3 body's postcard (after its format
/// byte) are the kind and the counter, which come before the author.
fn kind_and_counter(parts: &[u8]) -> Result<usize, postcard::Error> {
    let (_, rest) = postcard::take_from_bytes::<RecordKind>(parts)?;
    let (_, rest) = postcard::take_from_bytes::<u64>(rest)?;
    Ok(parts.len() - rest.len())
}

/// A format 2 body's author, and the body without it (format 3); `None`
/// for a body of another format or one that does not decode that far.
pub fn split_author(body: &[u8]) -> Option<(&str, Vec<u8>)> {
    let parts = body.strip_prefix(&[FORMAT_2])?;
    let head = kind_and_counter(parts).ok()?;
    let (author, tail) = postcard::take_from_bytes::<&str>(&parts[head..]).ok()?;
    let mut out = Vec::with_capacity(1 + head + tail.len());
    out.push(FORMAT_3);
    out.extend_from_slice(&parts[..head]);
    out.extend_from_slice(tail);
    Some((author, out))
}

/// The format 2 body that [`split_author`] split into `author` and `body`,
/// written into `out` (cleared first). A body of another format is copied
/// as it is (format 1 and 2 hold their author; [`decode`] judges the rest).
pub fn join_author(body: &[u8], author: &str, out: &mut Vec<u8>) -> Result<(), LogBodyError> {
    out.clear();
    match body.split_first() {
        Some((&FORMAT_3, parts)) => {
            let head = kind_and_counter(parts)?;
            out.push(FORMAT_2);
            out.extend_from_slice(&parts[..head]);
            postcard::to_extend(author, std::mem::take(out))
                .map(|written| *out = written)
                .expect("writing into a Vec cannot fail");
            out.extend_from_slice(&parts[head..]);
            Ok(())
        }
        _ => {
            out.extend_from_slice(body);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::value::Value;

    fn change(op: Op) -> Change {
        Change {
            record: RecordId::from_bytes([7; 16]),
            kind: RecordKind::Dispute,
            dot: Dot { actor: ActorId::from_bytes([9; 16]), counter: 300 },
            author: "wang.fang".into(),
            time: Hlc { millis: 1_795_300_000_123, logical: 2 },
            op,
        }
    }

    fn ops() -> Vec<Op> {
        vec![
            Op::Create,
            Op::Set {
                field: "summary".into(),
                value: Value::Text("邻里因漏水纠纷".into()),
                supersedes: vec![Dot { actor: ActorId::from_bytes([3; 16]), counter: 4 }],
            },
            Op::Append {
                entry: "note".into(),
                body: BTreeMap::from([("text".to_owned(), Value::Text("已调解".into()))]),
            },
        ]
    }

    #[test]
    fn format_2_round_trips_without_the_record_and_device() {
        for op in ops() {
            let change = change(op);
            let body = encode(&change);
            assert_eq!(body[0], FORMAT_2);
            let full = postcard::to_allocvec(&change).expect("encode");
            assert_eq!(
                full.len() - body.len(),
                16 + 16 + 2 - 1,
                "two ids and their prefixes, one format byte"
            );
            assert_eq!(decode(&body, change.record, change.dot.actor), Ok(change));
        }
    }

    #[test]
    fn format_1_bodies_still_decode_and_must_match_their_row() {
        for op in ops() {
            let change = change(op);
            let body = postcard::to_allocvec(&change).expect("encode");
            assert_eq!(body[0], FORMAT_1, "a record id's length prefix leads a whole change");
            assert_eq!(decode(&body, change.record, change.dot.actor), Ok(change.clone()));
            let other = RecordId::from_bytes([8; 16]);
            assert_eq!(decode(&body, other, change.dot.actor), Err(LogBodyError::Mismatch));
        }
    }

    #[test]
    fn format_3_is_format_2_without_its_author_and_joins_back_byte_for_byte() {
        for op in ops() {
            let change = change(op);
            let body = encode(&change);
            let (author, bare) = split_author(&body).expect("a format 2 body splits");
            assert_eq!(author, "wang.fang");
            assert_eq!(bare[0], FORMAT_3);
            assert_eq!(body.len() - bare.len(), 1 + author.len(), "the author and its length");
            assert_eq!(decode(&bare, change.record, change.dot.actor), Err(LogBodyError::UnknownFormat));
            let mut joined = vec![9; 3];
            join_author(&bare, author, &mut joined).expect("joins");
            assert_eq!(joined, body);
        }
        let whole = postcard::to_allocvec(&change(Op::Create)).expect("encode");
        assert_eq!(split_author(&whole), None, "format 1 keeps its author");
        let mut out = Vec::new();
        join_author(&whole, "ignored", &mut out).expect("copied");
        assert_eq!(out, whole);
        assert_eq!(split_author(&[FORMAT_2, 1]), None, "cut short");
        join_author(&[7, 1], "x", &mut out).expect("copied");
        assert_eq!(out, [7, 1], "decode, not the join, judges an unknown format");
        assert!(matches!(join_author(&[FORMAT_3, 200], "x", &mut out), Err(LogBodyError::Malformed(_))));
    }

    #[test]
    fn bad_bodies_are_errors() {
        let (record, actor) = (RecordId::from_bytes([7; 16]), ActorId::from_bytes([9; 16]));
        assert_eq!(decode(&[], record, actor), Err(LogBodyError::UnknownFormat));
        assert_eq!(decode(&[0x03, 1, 2], record, actor), Err(LogBodyError::UnknownFormat));
        assert!(matches!(decode(&[FORMAT_2, 200], record, actor), Err(LogBodyError::Malformed(_))));
        let body = encode(&change(Op::Create));
        assert!(matches!(decode(&body[..body.len() - 1], record, actor), Err(LogBodyError::Malformed(_))));
    }
}
