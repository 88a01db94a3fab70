//! The wire format: a versioned envelope around postcard-encoded messages.
//!
//! ```text
//! +------+------+---------+------+---------------------------+
//! | 'G'  | 'S'  | version | type | postcard body             |
//! +------+------+---------+------+---------------------------+
//! ```
//!
//! Every message starts with the magic `GS`, the protocol version (4) and a
//! message-type byte, so a peer can refuse what it does not speak before
//! reading the body. Decoding enforces [`Limits`]: the whole message size
//! before anything is read, the nesting depth of values while reading, and
//! the number of changes afterwards. Trailing bytes are an error. Encoding
//! is deterministic, but decoding is not one-to-one (postcard accepts
//! over-long varints), so the server compares changes by their re-encoding,
//! never by the bytes received.
//!
//! Forward compatibility lives in the data model, not in the envelope: field
//! names and entry kinds are open strings and record kinds are open numbers,
//! so what a newer handset writes passes through an older server unchanged.
//! A change to the shape of a message is a new protocol version.
//!
//! Version 2 (scoped replication) added write groups and per-group
//! refusals to pushes, the device's clock to pushes and the server's clock
//! flag to logged changes, and server-issued cursors, record removals,
//! rebuilds and the user's profile to pulls. Version 1 is refused with
//! `unsupported_version`: a version 1 device would pull records outside its
//! user's scope.
//!
//! Version 3 (state-based bootstrap, ADR 0019) added [`Snapshot`]s to pull
//! pages: records sent whole travel as their merged state instead of their
//! history. Only [`PullResponse`] changed shape, so each message type names
//! the versions its body is valid in ([`Message::FIRST_VERSION`],
//! [`Message::LAST_VERSION`]): a server decodes a version 2 push or pull
//! request and answers it in version 2 (a pull page as [`v2::PullResponse`],
//! records sent whole as their history), so handsets not yet updated keep
//! syncing. Any other version is refused with `unsupported_version`.
//!
//! Version 4 (backups and restores, ADR 0026) added the server's
//! [`PullResponse::epoch`]: a number made when the server's database is
//! created and made anew when it is restored from a backup. A handset that
//! sees the epoch change re-sends what it had sent since and pulls from the
//! start, so nothing the restored server lost stays lost. Only the
//! answers changed shape: a version 3 pull is answered as a
//! [`v3::PullResponse`], a version 2 one as a [`v2::PullResponse`], and a
//! push in either as a [`v3::PushResponse`].

pub mod attachments;
pub mod v2;
pub mod v3;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::change::Change;
use crate::error::ErrorCode;
use crate::ids::{ActorId, RecordId};
use crate::profile::Profile;
use crate::snapshot::Snapshot;

/// The first two bytes of every message.
pub const MAGIC: [u8; 2] = *b"GS";
/// The protocol version this build speaks (and sends).
pub const PROTOCOL_VERSION: u8 = 4;
/// The oldest protocol version this build still answers (a server answers
/// an older handset in the version it asked in).
pub const OLDEST_VERSION: u8 = 2;
/// The HTTP content type of gridsync messages.
pub const CONTENT_TYPE: &str = "application/x-gridsync";
/// Message bodies at least this large travel gzip-compressed
/// (`Content-Encoding: gzip`); smaller ones gain nothing from it.
pub const COMPRESS_MIN_BYTES: usize = 256;
const HEADER_LEN: usize = 4;

/// The message-type byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum MessageType {
    /// [`PushRequest`].
    PushRequest = 1,
    /// [`PushResponse`].
    PushResponse = 2,
    /// [`PullRequest`].
    PullRequest = 3,
    /// [`PullResponse`].
    PullResponse = 4,
    /// [`attachments::UploadQuery`].
    UploadQuery = 5,
    /// [`attachments::UploadChunk`].
    UploadChunk = 6,
    /// [`attachments::UploadStatus`].
    UploadStatus = 7,
    /// [`attachments::FetchRequest`].
    FetchRequest = 8,
    /// [`attachments::FetchPiece`].
    FetchPiece = 9,
}

/// A message that travels in the envelope.
pub trait Message: Serialize + DeserializeOwned {
    /// Its type byte.
    const TYPE: MessageType;
    /// The oldest protocol version in which its body has this shape.
    const FIRST_VERSION: u8 = OLDEST_VERSION;
    /// The newest protocol version in which its body has this shape; it is
    /// encoded in this version.
    const LAST_VERSION: u8 = PROTOCOL_VERSION;
}

/// A device sends its unsent changes, oldest first, in write groups: the
/// changes one local write made to one record. The server accepts or
/// refuses each group whole.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PushRequest {
    /// The sending device.
    pub device: ActorId,
    /// The device's own wall clock when it sent the push (Unix ms, not
    /// corrected): the server compares it with its own to flag devices
    /// whose clock is far off.
    pub sent_ms: u64,
    /// The groups, in the order the device wrote them.
    pub groups: Vec<Vec<Change>>,
}

impl PushRequest {
    /// Every change, group after group.
    pub fn changes(&self) -> impl Iterator<Item = &Change> {
        self.groups.iter().flatten()
    }
}

/// The server has durably stored every group it accepted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PushResponse {
    /// Changes new to the server, now in its log.
    pub accepted: u32,
    /// Changes it already had (a re-sent batch): acknowledged, not applied twice.
    pub duplicates: u32,
    /// The server's newest log sequence number after this push.
    pub high_seq: u64,
    /// When the server received the push (Unix ms, server clock).
    pub received_ms: u64,
    /// Groups the server's rules refused. Nothing of them was kept; every
    /// other group was.
    pub refused: Vec<Refusal>,
    /// The server's epoch ([`PullResponse::epoch`]). A device that synced
    /// in another epoch takes none of this answer's refusals to heart
    /// (the server may lack what they build on): it re-sends what it sent
    /// since, then these groups again (ADR 0026).
    pub epoch: u64,
}

/// Why the server refused one group of a push.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Refusal {
    /// The group's position in the push, from 0.
    pub group: u32,
    /// The stable code.
    pub code: ErrorCode,
    /// The field, entry or attribute concerned.
    pub field: Option<String>,
    /// The rule broken, for people (never the values).
    pub message: String,
}

/// A device asks for what changed in its scope since its cursor.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PullRequest {
    /// The asking device; its own changes are not sent back.
    pub device: ActorId,
    /// The cursor of the last page the device applied (0 at first). It is
    /// the server's to interpret: send back what it gave.
    pub cursor: u64,
    /// Most changes wanted in this page (the server may send fewer, or more
    /// to deliver one record's whole history at once).
    pub limit: u32,
    /// The [`Profile::version`] the device holds (0: none).
    pub profile_version: u64,
}

/// One change as the server logged it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LoggedChange {
    /// The server's sequence number for it.
    pub seq: u64,
    /// When the server received it (Unix milliseconds, server clock).
    pub received_ms: u64,
    /// The device's clock was far off the server's when it sent this: its
    /// time is shown, not trusted.
    pub clock_suspect: bool,
    /// The change.
    pub change: Change,
}

/// One page of what changed in a device's scope.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PullResponse {
    /// The cursor was not one the server issued to this device (the server
    /// was restored from a backup, say): drop every record without unsent
    /// changes, then take what follows.
    pub reset: bool,
    /// Records that left the device's scope: delete them.
    pub removed: Vec<RecordId>,
    /// Records whose whole history is in `changes`: replace them (they
    /// entered the scope, or the server refused a change to them).
    pub rebuild: Vec<RecordId>,
    /// Records sent whole as their merged state (they entered the scope, the
    /// device starts afresh, or the server refused a change to them):
    /// replace them, keeping this device's unsent changes. Later pages send
    /// only their changes after this page.
    pub snapshots: Vec<Snapshot>,
    /// Changes in sequence order.
    pub changes: Vec<LoggedChange>,
    /// Records in scope the device's budget leaves out.
    pub withheld: u32,
    /// The user's profile, when it differs from the version the device sent.
    pub profile: Option<Profile>,
    /// The cursor to store once this page is applied, and to send next time.
    pub cursor: u64,
    /// Whether more waits after `cursor`.
    pub more: bool,
    /// The server's epoch: made with its database, made anew whenever the
    /// database is restored from a backup (never 0). A device that synced
    /// in another epoch re-sends what it sent since and pulls from the
    /// start (ADR 0026), before it applies anything of this page.
    pub epoch: u64,
}

impl Message for PushRequest {
    const TYPE: MessageType = MessageType::PushRequest;
}
impl Message for PushResponse {
    const TYPE: MessageType = MessageType::PushResponse;
    const FIRST_VERSION: u8 = 4;
}
impl Message for PullRequest {
    const TYPE: MessageType = MessageType::PullRequest;
}
impl Message for PullResponse {
    const TYPE: MessageType = MessageType::PullResponse;
    const FIRST_VERSION: u8 = 4;
}

/// Bounds applied while decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest whole message, header included.
    pub max_bytes: usize,
    /// Most changes (and record snapshots) in one push or pull page.
    pub max_changes: usize,
}

impl Limits {
    /// The defaults: 4 MiB and 1,000 changes, a night's work for one worker.
    pub const DEFAULT: Limits = Limits { max_bytes: 4 * 1024 * 1024, max_changes: 1_000 };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A message that cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Larger than [`Limits::max_bytes`].
    #[error("message of {size} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// The message size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// Shorter than the header, or not starting with the magic.
    #[error("not a gridsync message")]
    BadMagic,
    /// A protocol version this build does not speak.
    #[error(
        "protocol version {0} is not supported for this message (this peer speaks versions {OLDEST_VERSION} to {PROTOCOL_VERSION})"
    )]
    UnsupportedVersion(u8),
    /// Another message type than expected.
    #[error("expected message type {expected}, got {got}")]
    WrongType {
        /// The expected type byte.
        expected: u8,
        /// The type byte found.
        got: u8,
    },
    /// The body does not decode.
    #[error("message body is malformed: {0}")]
    Malformed(String),
    /// More changes than [`Limits::max_changes`].
    #[error("{count} changes exceed the limit of {max} per message")]
    TooManyChanges {
        /// Changes in the message.
        count: usize,
        /// The limit.
        max: usize,
    },
}

impl WireError {
    /// The stable error code for this failure.
    pub fn code(&self) -> ErrorCode {
        match self {
            WireError::TooLarge { .. } => ErrorCode::PayloadTooLarge,
            WireError::BadMagic | WireError::Malformed(_) => ErrorCode::Malformed,
            WireError::UnsupportedVersion(_) => ErrorCode::UnsupportedVersion,
            WireError::WrongType { .. } => ErrorCode::WrongMessageType,
            WireError::TooManyChanges { .. } => ErrorCode::TooManyChanges,
        }
    }
}

/// Encodes a message in its envelope, in the newest version its shape has
/// ([`Message::LAST_VERSION`]: this build's, but for the older shapes of [`v2`]).
pub fn encode<M: Message>(message: &M) -> Vec<u8> {
    encode_as(M::LAST_VERSION, message)
}

/// Encodes a message in its envelope as protocol `version`: the answer to a
/// request that came in `version` carries it back. A version outside the
/// message's ([`Message::FIRST_VERSION`]..=[`Message::LAST_VERSION`]) is
/// clamped into it.
pub fn encode_as<M: Message>(version: u8, message: &M) -> Vec<u8> {
    let version = version.clamp(M::FIRST_VERSION, M::LAST_VERSION);
    let header = vec![MAGIC[0], MAGIC[1], version, M::TYPE as u8];
    postcard::to_extend(message, header).expect("encoding into a Vec cannot fail")
}

/// Decodes a message of type `M`, enforcing `limits`.
pub fn decode<M: Message + ChangeCount>(bytes: &[u8], limits: &Limits) -> Result<M, WireError> {
    decode_versioned(bytes, limits).map(|(_, message)| message)
}

/// Decodes a message of type `M` in any version whose body has its shape,
/// enforcing `limits`; returns the version it came in, to answer in.
pub fn decode_versioned<M: Message + ChangeCount>(
    bytes: &[u8],
    limits: &Limits,
) -> Result<(u8, M), WireError> {
    if bytes.len() > limits.max_bytes {
        return Err(WireError::TooLarge { size: bytes.len(), max: limits.max_bytes });
    }
    if bytes.len() < HEADER_LEN || bytes[..2] != MAGIC {
        return Err(WireError::BadMagic);
    }
    let version = bytes[2];
    if !(M::FIRST_VERSION..=M::LAST_VERSION).contains(&version) {
        return Err(WireError::UnsupportedVersion(version));
    }
    if bytes[3] != M::TYPE as u8 {
        return Err(WireError::WrongType { expected: M::TYPE as u8, got: bytes[3] });
    }
    let (message, rest) = postcard::take_from_bytes::<M>(&bytes[HEADER_LEN..])
        .map_err(|e| WireError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(WireError::Malformed(format!("{} trailing bytes", rest.len())));
    }
    let count = message.change_count();
    if count > limits.max_changes {
        return Err(WireError::TooManyChanges { count, max: limits.max_changes });
    }
    Ok((version, message))
}

/// Compresses an encoded message for `Content-Encoding: gzip`.
///
/// Compression is part of the transport, not of the message: the receiver
/// decompresses (enforcing [`Limits::max_bytes`] on the decompressed size,
/// so a small bomb cannot expand without bound) and then [`decode`]s.
pub fn gzip(message: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder =
        flate2::write::GzEncoder::new(Vec::with_capacity(message.len() / 2), flate2::Compression::fast());
    encoder.write_all(message).expect("writing into a Vec cannot fail");
    encoder.finish().expect("writing into a Vec cannot fail")
}

/// How many changes a message carries, for [`Limits::max_changes`].
pub trait ChangeCount {
    /// The number of changes.
    fn change_count(&self) -> usize;
}

impl ChangeCount for PushRequest {
    fn change_count(&self) -> usize {
        self.groups.iter().map(Vec::len).sum()
    }
}
impl ChangeCount for PullResponse {
    fn change_count(&self) -> usize {
        self.changes.len() + self.snapshots.len()
    }
}
impl ChangeCount for PushResponse {
    fn change_count(&self) -> usize {
        0
    }
}
impl ChangeCount for PullRequest {
    fn change_count(&self) -> usize {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pull() -> PullRequest {
        PullRequest { device: ActorId::from_bytes([7; 16]), cursor: 42, limit: 500, profile_version: 3 }
    }

    #[test]
    fn gzip_round_trips() {
        use std::io::Read;
        let bytes = encode(&pull());
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&gzip(&bytes)[..]).read_to_end(&mut back).expect("gunzip");
        assert_eq!(back, bytes);
    }

    #[test]
    fn envelope_round_trip() {
        let bytes = encode(&pull());
        assert_eq!(&bytes[..4], b"GS\x04\x03");
        assert_eq!(decode::<PullRequest>(&bytes, &Limits::DEFAULT), Ok(pull()));
        // A version 2 request has the same body, and is answered in version 2.
        let old = encode_as(2, &pull());
        assert_eq!(&old[..4], b"GS\x02\x03");
        assert_eq!(decode_versioned::<PullRequest>(&old, &Limits::DEFAULT), Ok((2, pull())));
    }

    #[test]
    fn a_pull_page_is_read_only_in_the_version_of_its_shape() {
        let page = PullResponse {
            reset: false,
            removed: vec![],
            rebuild: vec![],
            snapshots: vec![],
            changes: vec![],
            withheld: 0,
            profile: None,
            cursor: 7,
            more: false,
            epoch: 99,
        };
        let bytes = encode(&page);
        assert_eq!(bytes[2], 4);
        let three = encode(&v3::PullResponse::from(page.clone()));
        assert_eq!(three[2], 3);
        assert_eq!(decode::<PullResponse>(&three, &Limits::DEFAULT), Err(WireError::UnsupportedVersion(3)));
        assert_eq!(
            decode::<v3::PullResponse>(&bytes, &Limits::DEFAULT),
            Err(WireError::UnsupportedVersion(4))
        );
        let old = v2::PullResponse::try_from(page.clone()).expect("no snapshots");
        let old_bytes = encode(&old);
        assert_eq!(old_bytes[2], 2);
        let limits = Limits::DEFAULT;
        assert_eq!(decode::<PullResponse>(&old_bytes, &limits), Err(WireError::UnsupportedVersion(2)));
        assert_eq!(decode::<v2::PullResponse>(&bytes, &limits), Err(WireError::UnsupportedVersion(4)));
        assert_eq!(decode::<v2::PullResponse>(&old_bytes, &limits), Ok(old));
        let five = [&b"GS\x05\x03"[..], &bytes[4..]].concat();
        assert_eq!(
            decode::<PullRequest>(&five, &limits).map_err(|e| e.code()),
            Err(ErrorCode::UnsupportedVersion)
        );
    }

    #[test]
    fn refuses_bad_envelopes_with_the_right_code() {
        let good = encode(&pull());
        let limits = Limits::DEFAULT;
        let mut v2 = good.clone();
        v2[2] = 1;
        assert_eq!(decode::<PullRequest>(&v2, &limits), Err(WireError::UnsupportedVersion(1)));
        assert_eq!(decode::<PullRequest>(b"GS", &limits), Err(WireError::BadMagic));
        assert_eq!(decode::<PullRequest>(b"{\"json\":1}", &limits), Err(WireError::BadMagic));
        let wrong = decode::<PushRequest>(&good, &limits).expect_err("wrong type");
        assert_eq!(wrong.code(), ErrorCode::WrongMessageType);
        let truncated = decode::<PullRequest>(&good[..good.len() - 1], &limits).expect_err("short");
        assert_eq!(truncated.code(), ErrorCode::Malformed);
        let mut trailing = good.clone();
        trailing.push(0);
        assert_eq!(
            decode::<PullRequest>(&trailing, &limits).map_err(|e| e.code()),
            Err(ErrorCode::Malformed)
        );
        let tiny = Limits { max_bytes: 8, max_changes: 1 };
        assert_eq!(
            decode::<PullRequest>(&good, &tiny).map_err(|e| e.code()),
            Err(ErrorCode::PayloadTooLarge)
        );
    }
}
