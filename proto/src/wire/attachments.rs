//! The attachment messages (protocol version 4 and later): resumable,
//! chunked uploads and on-demand downloads of the files records reference
//! ([`crate::attachment`]). They travel like the sync messages: signed
//! `POST`s of `application/x-gridsync` envelopes.
//!
//! | path | request → answer |
//! |---|---|
//! | `/v1/attachments/status` | [`UploadQuery`] → [`UploadStatus`] |
//! | `/v1/attachments/upload` | [`UploadChunk`] → [`UploadStatus`] |
//! | `/v1/attachments/fetch`  | [`FetchRequest`] → [`FetchPiece`] |
//!
//! Every request names the record that references the file: the server
//! serves and takes only files referenced by a record the device may see,
//! and takes each file's declared size and media type from that reference.
//!
//! **Upload.** A device asks for the status of a file it holds; the
//! answer says whether the server has it whole (then nothing is sent:
//! another device, or an earlier run, uploaded it) and otherwise how many
//! bytes of it it has acknowledged. The device sends the rest in chunks of
//! at most [`crate::attachment::CHUNK_BYTES`], each at the offset the
//! server acknowledged last and with its own SHA-256; the server keeps a
//! chunk durably before it answers with the new offset. With the last
//! chunk the server checks the whole file against the reference (its
//! SHA-256, and its media type from the bytes) and stores it. A chunk at
//! another offset than the acknowledged one is refused with
//! `upload_offset` (the device asks for the status again); a chunk whose
//! bytes do not match its hash with `chunk_mismatch`; a file whose whole
//! does not match its reference with `content_mismatch` (its partial
//! upload is dropped).
//!
//! **Download.** A device asks for a piece of a file at an offset; the
//! answer carries at most [`crate::attachment::CHUNK_BYTES`] of it and its
//! whole size, so an interrupted download resumes from the bytes it has.

use serde::{Deserialize, Serialize};

use super::{ChangeCount, Message, MessageType};
use crate::attachment::{ContentHash, Media};
use crate::ids::{ActorId, RecordId};

/// Path of [`UploadQuery`].
pub const STATUS_PATH: &str = "/v1/attachments/status";
/// Path of [`UploadChunk`].
pub const UPLOAD_PATH: &str = "/v1/attachments/upload";
/// Path of [`FetchRequest`].
pub const FETCH_PATH: &str = "/v1/attachments/fetch";

/// Where an upload of a file stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadQuery {
    /// The asking device.
    pub device: ActorId,
    /// A record referencing the file, that the device may see.
    pub record: RecordId,
    /// The file.
    pub hash: ContentHash,
}

/// One chunk of a file, at the offset the server acknowledged last.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadChunk {
    /// The sending device.
    pub device: ActorId,
    /// A record referencing the file, that the device may see.
    pub record: RecordId,
    /// The file.
    pub hash: ContentHash,
    /// Where the chunk starts in the file.
    pub offset: u64,
    /// The SHA-256 of `bytes`.
    pub chunk_hash: ContentHash,
    /// The chunk: 1 to [`crate::attachment::CHUNK_BYTES`] bytes.
    #[serde(with = "serde_bytes")]
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for UploadChunk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadChunk")
            .field("device", &self.device)
            .field("record", &self.record)
            .field("hash", &self.hash)
            .field("offset", &self.offset)
            .field("len", &self.bytes.len())
            .finish_non_exhaustive()
    }
}

/// The server's side of an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadStatus {
    /// The server holds the whole file: nothing more to send.
    pub complete: bool,
    /// Bytes of the file the server has acknowledged from this device
    /// (its size when `complete`): the next chunk starts here.
    pub received: u64,
    /// The file's size, as its record's reference declares it.
    pub size: u64,
}

/// A piece of a file a record the device may see references.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchRequest {
    /// The asking device.
    pub device: ActorId,
    /// A record referencing the file, that the device may see.
    pub record: RecordId,
    /// The file.
    pub hash: ContentHash,
    /// The first byte wanted.
    pub offset: u64,
}

/// A piece of a file.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchPiece {
    /// The file's whole size.
    pub size: u64,
    /// Its media type.
    pub media: Media,
    /// Where `bytes` start.
    pub offset: u64,
    /// At most [`crate::attachment::CHUNK_BYTES`] bytes from `offset`
    /// (empty at the end of the file).
    #[serde(with = "serde_bytes")]
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for FetchPiece {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FetchPiece")
            .field("size", &self.size)
            .field("media", &self.media)
            .field("offset", &self.offset)
            .field("len", &self.bytes.len())
            .finish()
    }
}

macro_rules! attachment_message {
    ($($ty:ident),*) => {$(
        impl Message for $ty {
            const TYPE: MessageType = MessageType::$ty;
            const FIRST_VERSION: u8 = 4;
        }
        impl ChangeCount for $ty {
            fn change_count(&self) -> usize {
                0
            }
        }
    )*};
}

attachment_message!(UploadQuery, UploadChunk, UploadStatus, FetchRequest, FetchPiece);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Limits, decode, encode};

    #[test]
    fn a_chunk_of_the_largest_size_fits_the_default_limits_and_round_trips() {
        let bytes: Vec<u8> = (0..crate::attachment::CHUNK_BYTES).map(|i| i as u8).collect();
        let chunk = UploadChunk {
            device: ActorId::random(),
            record: RecordId::generate(1_700_000_000_000),
            hash: ContentHash::of(b"whole"),
            offset: 262_144,
            chunk_hash: ContentHash::of(&bytes),
            bytes,
        };
        let encoded = encode(&chunk);
        // The bytes travel as one run, not a number per byte.
        assert!(encoded.len() < crate::attachment::CHUNK_BYTES + 200, "{}", encoded.len());
        assert_eq!(decode::<UploadChunk>(&encoded, &Limits::DEFAULT), Ok(chunk));
        let status = UploadStatus { complete: false, received: 7, size: 9 };
        assert_eq!(decode::<UploadStatus>(&encode(&status), &Limits::DEFAULT), Ok(status));
        assert!(decode::<FetchPiece>(&encode(&status), &Limits::DEFAULT).is_err());
    }
}
