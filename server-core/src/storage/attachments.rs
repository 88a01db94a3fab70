//! What the database knows of attachments (ADR 0033): each device's upload
//! in progress, each stored file, and each device's bytes accepted per day.
//! The bytes themselves live in a [`crate::blobs::BlobStore`].

use gridsync_proto::{ActorId, ContentHash, Media, RecordId};

use super::StorageResult;

/// One device's upload of one file, in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadRow {
    /// The uploading device.
    pub device: ActorId,
    /// The file's declared hash.
    pub hash: ContentHash,
    /// The record whose reference the upload answers.
    pub record: RecordId,
    /// The declared size (the reference's).
    pub size: u64,
    /// Bytes acknowledged so far, from the start: the next chunk's offset.
    pub received: u64,
    /// When the upload began (Unix ms).
    pub started_ms: u64,
}

/// A file stored whole, its bytes checked against their reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredFile {
    /// The SHA-256 of its bytes: its name in the blob store.
    pub hash: ContentHash,
    /// Its size.
    pub size: u64,
    /// Its media type, as sniffed from its bytes.
    pub media: Media,
    /// The record whose reference the upload answered.
    pub record: RecordId,
    /// The device that uploaded it.
    pub device: ActorId,
    /// When it was stored (Unix ms).
    pub stored_ms: u64,
}

/// Reads of attachment rows.
pub trait AttachmentRead {
    /// `device`'s upload of `hash`, if one is in progress.
    fn upload(&mut self, device: ActorId, hash: ContentHash) -> StorageResult<Option<UploadRow>>;

    /// The stored file `hash`, if it is stored whole.
    fn stored_file(&mut self, hash: ContentHash) -> StorageResult<Option<StoredFile>>;

    /// Bytes of chunks `device` had accepted on `day` (`YYYY-MM-DD` of the
    /// deployment's time zone): what its daily allowance is counted by.
    fn uploaded_bytes_on(&mut self, device: ActorId, day: &str) -> StorageResult<u64>;

    /// Uploads in progress started at `by_ms` or before, oldest first, at
    /// most `limit`: the abandoned ones a sweep drops.
    fn uploads_started_by(&mut self, by_ms: u64, limit: usize) -> StorageResult<Vec<UploadRow>>;
}

/// Writes of attachment rows.
pub trait AttachmentWrite {
    /// Records an upload unless `device` already has one of `row.hash`;
    /// answers whether it recorded it.
    fn start_upload(&mut self, row: &UploadRow) -> StorageResult<bool>;

    /// Moves `device`'s upload of `hash` from `from` acknowledged bytes to
    /// `to`, only if it stands at `from` (compare and set: of two requests
    /// racing with the same chunk, one moves it); answers whether it moved.
    fn advance_upload(
        &mut self,
        device: ActorId,
        hash: ContentHash,
        from: u64,
        to: u64,
    ) -> StorageResult<bool>;

    /// Forgets `device`'s upload of `hash`; answers whether there was one.
    fn drop_upload(&mut self, device: ActorId, hash: ContentHash) -> StorageResult<bool>;

    /// Adds `bytes` to what `device` had accepted on `day`.
    fn count_upload_bytes(&mut self, device: ActorId, day: &str, bytes: u64) -> StorageResult<()>;

    /// Records a stored file unless one of its hash is recorded (the first
    /// upload stays its uploader); answers whether it recorded it.
    fn put_stored_file(&mut self, file: &StoredFile) -> StorageResult<bool>;
}
