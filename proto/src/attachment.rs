//! Attachments: photos and documents attached to a record (ADR 0033).
//!
//! A file is referenced from its record by an `attachment` entry
//! ([`ENTRY`]) holding its content hash (SHA-256), size and media type; the
//! entry syncs with the record like any other, so the text of a record
//! never waits for its photos. The bytes travel apart, after the record's
//! changes: uploaded in chunks of at most [`CHUNK_BYTES`] that the server
//! acknowledges one by one (an interrupted upload resumes from the last
//! acknowledged chunk), and downloaded on demand by devices that may see
//! the record (see [`crate::wire::attachments`]).
//!
//! The media type is taken from the bytes ([`Media::sniff`]), never from a
//! file name, on the handset when a file is attached and again on the
//! server when the upload completes.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::change::Dot;
use crate::record::Entry;
use crate::value::Value;

/// The entry kind that references an attachment.
pub const ENTRY: &str = "attachment";

/// Largest upload or download chunk (256 KiB): small enough to get through
/// a weak rural link between drops, large enough that a 5 MB photo takes
/// twenty requests.
pub const CHUNK_BYTES: usize = 256 * 1024;

/// Largest attachment the record rules accept (20 MiB). A server may set
/// a lower limit of its own.
pub const MAX_BYTES: u64 = 20 * 1024 * 1024;

/// Longest attachment name (the file's name as the user chose it), in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// The SHA-256 of a file's bytes: its name on the server and on handsets.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ContentHash(pub [u8; 32]);

impl ContentHash {
    /// The hash of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
        let mut out = [0u8; 32];
        out.copy_from_slice(digest.as_ref());
        Self(out)
    }

    /// A running hash, for files read a piece at a time.
    pub fn hasher() -> Hasher {
        Hasher(ring::digest::Context::new(&ring::digest::SHA256))
    }

    /// 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        crate::auth::hex(&self.0)
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentHash({})", self.to_hex())
    }
}

/// Why text is not a content hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a content hash is 64 hexadecimal digits (a SHA-256)")]
pub struct ParseHashError;

impl FromStr for ContentHash {
    type Err = ParseHashError;

    fn from_str(text: &str) -> Result<Self, ParseHashError> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(text, &mut out).map_err(|_| ParseHashError)?;
        Ok(Self(out))
    }
}

/// A running SHA-256 ([`ContentHash::hasher`]).
pub struct Hasher(ring::digest::Context);

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Hasher")
    }
}

impl Hasher {
    /// Adds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The hash of everything added.
    pub fn finish(self) -> ContentHash {
        let mut out = [0u8; 32];
        out.copy_from_slice(self.0.finish().as_ref());
        ContentHash(out)
    }
}

/// The kinds of file a record may carry: photos of a scene, a hazard, a
/// door plate; scanned or signed documents (调解协议书).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Media {
    /// `image/jpeg`.
    Jpeg,
    /// `image/png`.
    Png,
    /// `image/webp`.
    Webp,
    /// `image/heic` (iPhone photos).
    Heic,
    /// `application/pdf`.
    Pdf,
}

impl Media {
    /// Every media type accepted.
    pub const ALL: [Media; 5] = [Media::Jpeg, Media::Png, Media::Webp, Media::Heic, Media::Pdf];

    /// The MIME type, as it appears in a record and in HTTP.
    pub fn mime(self) -> &'static str {
        match self {
            Media::Jpeg => "image/jpeg",
            Media::Png => "image/png",
            Media::Webp => "image/webp",
            Media::Heic => "image/heic",
            Media::Pdf => "application/pdf",
        }
    }

    /// The usual file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Media::Jpeg => "jpg",
            Media::Png => "png",
            Media::Webp => "webp",
            Media::Heic => "heic",
            Media::Pdf => "pdf",
        }
    }

    /// Whether it is a photo (shown inline) rather than a document.
    pub fn is_image(self) -> bool {
        !matches!(self, Media::Pdf)
    }

    /// The media type of a file from its first bytes (a few hundred are
    /// plenty), or `None` when it is none of [`Media::ALL`].
    pub fn sniff(head: &[u8]) -> Option<Media> {
        let found = infer::get(head)?;
        match found.mime_type() {
            // HEIC is the HEIF container with HEVC images.
            "image/heif" => Some(Media::Heic),
            mime => Self::ALL.into_iter().find(|m| m.mime() == mime),
        }
    }
}

impl fmt::Display for Media {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.mime())
    }
}

/// Why text is not an accepted media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the media type must be one of image/jpeg, image/png, image/webp, image/heic, application/pdf")]
pub struct ParseMediaError;

impl FromStr for Media {
    type Err = ParseMediaError;

    fn from_str(text: &str) -> Result<Self, ParseMediaError> {
        Self::ALL.into_iter().find(|m| m.mime().eq_ignore_ascii_case(text)).ok_or(ParseMediaError)
    }
}

/// The MIME names accepted, for the record rules.
pub(crate) const MEDIA_NAMES: &[&str] =
    &["image/jpeg", "image/png", "image/webp", "image/heic", "application/pdf"];

/// A record's reference to an attached file: what an `attachment` entry holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttachmentRef {
    /// The SHA-256 of the bytes.
    pub hash: ContentHash,
    /// The size in bytes (1 to [`MAX_BYTES`]).
    pub size: u64,
    /// The media type, taken from the bytes.
    pub media: Media,
    /// The name the user gave it or the file had, if any (at most
    /// [`MAX_NAME_CHARS`] characters).
    pub name: Option<String>,
    /// The entry of the record it belongs to (a note, a mediation session,
    /// a patrol finding), if it belongs to one rather than the whole record.
    pub of_entry: Option<Dot>,
}

/// Entry attributes.
const HASH: &str = "sha256";
const SIZE: &str = "size";
const MEDIA: &str = "media";
const NAME: &str = "name";
const OF_ENTRY: &str = "entry";

impl AttachmentRef {
    /// The body of the `attachment` entry that references the file.
    pub fn to_entry_body(&self) -> BTreeMap<String, Value> {
        let mut body = BTreeMap::from([
            (HASH.to_owned(), Value::Text(self.hash.to_hex())),
            (SIZE.to_owned(), Value::Int(i64::try_from(self.size).unwrap_or(i64::MAX))),
            (MEDIA.to_owned(), Value::Text(self.media.mime().to_owned())),
        ]);
        if let Some(name) = &self.name {
            body.insert(NAME.to_owned(), Value::Text(name.clone()));
        }
        if let Some(dot) = self.of_entry {
            body.insert(OF_ENTRY.to_owned(), Value::Text(format_dot(dot)));
        }
        body
    }

    /// The reference an entry holds, if it is an `attachment` entry with a
    /// readable body (the record rules make sure every accepted one is).
    pub fn from_entry(entry: &Entry) -> Option<Self> {
        if entry.entry != ENTRY {
            return None;
        }
        Self::from_body(&entry.body)
    }

    /// The reference an `attachment` entry's body holds.
    pub fn from_body(body: &BTreeMap<String, Value>) -> Option<Self> {
        let text = |name: &str| match body.get(name) {
            Some(Value::Text(t)) => Some(t.as_str()),
            _ => None,
        };
        let hash = text(HASH)?.parse().ok()?;
        let size = match body.get(SIZE) {
            Some(Value::Int(n)) => u64::try_from(*n).ok()?,
            _ => return None,
        };
        let media = text(MEDIA)?.parse().ok()?;
        let name = text(NAME).map(str::to_owned);
        let of_entry = match text(OF_ENTRY) {
            Some(t) => Some(parse_dot(t)?),
            None => None,
        };
        Some(Self { hash, size, media, name, of_entry })
    }
}

/// An entry's dot as text: `device:counter`.
pub fn format_dot(dot: Dot) -> String {
    format!("{}:{}", dot.actor, dot.counter)
}

/// Parses [`format_dot`] text.
pub fn parse_dot(text: &str) -> Option<Dot> {
    let (actor, counter) = text.rsplit_once(':')?;
    Some(Dot { actor: actor.parse().ok()?, counter: counter.parse().ok()? })
}

/// Every attachment a record references, in entry order, once per hash.
pub fn of_record(state: &crate::record::RecordState) -> Vec<AttachmentRef> {
    let mut seen = std::collections::HashSet::new();
    state
        .entries()
        .into_iter()
        .filter_map(AttachmentRef::from_entry)
        .filter(|a| seen.insert(a.hash))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::ActorId;

    #[test]
    fn hashes_print_and_parse_as_hex() {
        let hash = ContentHash::of(b"abc");
        assert_eq!(hash.to_hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(hash.to_hex().parse::<ContentHash>(), Ok(hash));
        assert_eq!(hash.to_hex().to_uppercase().parse::<ContentHash>(), Ok(hash));
        assert!("ba78".parse::<ContentHash>().is_err());
        assert!("é".repeat(32).parse::<ContentHash>().is_err());
        let mut running = ContentHash::hasher();
        running.update(b"a");
        running.update(b"bc");
        assert_eq!(running.finish(), hash);
    }

    #[test]
    fn media_types_come_from_the_bytes() {
        assert_eq!(Media::sniff(b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00"), Some(Media::Jpeg));
        assert_eq!(Media::sniff(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), Some(Media::Png));
        assert_eq!(Media::sniff(b"%PDF-1.7\n"), Some(Media::Pdf));
        assert_eq!(Media::sniff(b"RIFF\x00\x00\x00\x00WEBPVP8 "), Some(Media::Webp));
        assert_eq!(Media::sniff(b"MZ\x90\x00"), None);
        assert_eq!(Media::sniff(b"plain text"), None);
        assert_eq!("IMAGE/JPEG".parse::<Media>(), Ok(Media::Jpeg));
        assert_eq!(Media::ALL.map(Media::mime), *<&[&str; 5]>::try_from(MEDIA_NAMES).expect("five"));
    }

    #[test]
    fn a_reference_round_trips_through_its_entry_body() {
        let reference = AttachmentRef {
            hash: ContentHash::of(b"photo"),
            size: 5_000_000,
            media: Media::Jpeg,
            name: Some("现场照片.jpg".into()),
            of_entry: Some(Dot { actor: ActorId::random(), counter: 7 }),
        };
        assert_eq!(AttachmentRef::from_body(&reference.to_entry_body()), Some(reference.clone()));
        let bare = AttachmentRef { name: None, of_entry: None, ..reference };
        assert_eq!(AttachmentRef::from_body(&bare.to_entry_body()), Some(bare));
    }
}
