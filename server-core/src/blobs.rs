//! The blob-store seam: where the bytes of attachments live (ADR 0033).
//!
//! Attachments are stored content-addressed, by the SHA-256 of their bytes
//! ([`ContentHash`]), apart from the database: the database keeps what is
//! known about each file and each upload (the storage seam's attachment
//! traits), a [`BlobStore`] keeps the bytes. The embedded default keeps
//! them in the data directory; a deployment that scales out keeps them in
//! an S3-compatible object store (both in `gridsync-server`, on the
//! `object_store` crate). [`MemoryBlobs`] is for tests.
//!
//! An upload arrives in chunks, each kept durably on its own
//! ([`BlobStore::put_chunk`]) before the device is told it arrived, so an
//! upload interrupted at any point resumes from the last acknowledged
//! chunk, whichever server process the next request reaches. With the last
//! chunk the chunks are joined into the stored file ([`BlobStore::join`]),
//! its hash computed on the way; a file whose bytes do not hash to its name
//! is never kept.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use gridsync_proto::{ActorId, ContentHash};

/// A blob-store call's future.
pub type BlobFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, BlobError>> + Send + 'a>>;

/// Why a blob store failed. Never carries file content; a path or key only
/// as far as it names a hash.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// No stored file (or no upload) by that name.
    #[error("no such blob")]
    NotFound,
    /// The chunks of an upload do not join up: a gap, an overlap, or not
    /// the declared size.
    #[error("the upload's chunks do not make a whole file ({0})")]
    Incomplete(&'static str),
    /// The store failed (disk, network, permissions).
    #[error("blob store failure: {0}")]
    Store(String),
}

/// One device's upload of one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UploadKey {
    /// The uploading device: two devices uploading the same file do not
    /// share (or spoil) each other's chunks.
    pub device: ActorId,
    /// The file's declared hash.
    pub hash: ContentHash,
}

/// What joining an upload's chunks produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joined {
    /// The SHA-256 of the joined bytes. When it is not the upload's hash,
    /// nothing was stored.
    pub hash: ContentHash,
    /// The joined size.
    pub size: u64,
    /// The first bytes of the file (up to 4 KiB), to check its media type.
    pub head: Vec<u8>,
}

/// How many leading bytes [`Joined::head`] keeps.
pub const HEAD_BYTES: usize = 4096;

/// Where attachment bytes live. Object-safe; every call is async.
pub trait BlobStore: Debug + Send + Sync + 'static {
    /// The store's name for logs and `/health`, e.g. `fs` or `s3`.
    fn kind(&self) -> &'static str;

    /// The size of the stored file `hash`, or `None` if there is none.
    fn size(&self, hash: ContentHash) -> BlobFuture<'_, Option<u64>>;

    /// `len` bytes of the stored file `hash` from `offset` (fewer at its
    /// end, none past it). [`BlobError::NotFound`] if there is no such file.
    fn read(&self, hash: ContentHash, offset: u64, len: usize) -> BlobFuture<'_, Vec<u8>>;

    /// Keeps one chunk of an upload at `offset`, durably before it answers;
    /// a chunk already kept at that offset is replaced.
    fn put_chunk(&self, upload: UploadKey, offset: u64, bytes: Vec<u8>) -> BlobFuture<'_, ()>;

    /// Joins the upload's chunks, in offset order, into the stored file
    /// `upload.hash`, hashing on the way. The chunks must start at 0, leave
    /// no gap and add up to `size` ([`BlobError::Incomplete`] otherwise).
    /// The file is kept only if its hash is `upload.hash`; either way the
    /// chunks are left for [`BlobStore::discard`]. Joining a file that is
    /// already stored leaves the stored one as it is.
    fn join(&self, upload: UploadKey, size: u64) -> BlobFuture<'_, Joined>;

    /// Deletes the upload's chunks (none is fine).
    fn discard(&self, upload: UploadKey) -> BlobFuture<'_, ()>;
}

/// A blob store in this process's memory, for tests.
#[derive(Debug, Default)]
pub struct MemoryBlobs {
    state: Mutex<MemoryState>,
}

#[derive(Debug, Default)]
struct MemoryState {
    files: BTreeMap<ContentHash, Vec<u8>>,
    chunks: BTreeMap<UploadKey, BTreeMap<u64, Vec<u8>>>,
}

impl MemoryBlobs {
    fn state(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How many uploads have chunks kept.
    pub fn uploads_in_progress(&self) -> usize {
        self.state().chunks.len()
    }
}

impl BlobStore for MemoryBlobs {
    fn kind(&self) -> &'static str {
        "memory"
    }

    fn size(&self, hash: ContentHash) -> BlobFuture<'_, Option<u64>> {
        let size = self.state().files.get(&hash).map(|f| f.len() as u64);
        Box::pin(async move { Ok(size) })
    }

    fn read(&self, hash: ContentHash, offset: u64, len: usize) -> BlobFuture<'_, Vec<u8>> {
        let read = match self.state().files.get(&hash) {
            None => Err(BlobError::NotFound),
            Some(file) => {
                let start = usize::try_from(offset).unwrap_or(usize::MAX).min(file.len());
                Ok(file[start..start.saturating_add(len).min(file.len())].to_vec())
            }
        };
        Box::pin(async move { read })
    }

    fn put_chunk(&self, upload: UploadKey, offset: u64, bytes: Vec<u8>) -> BlobFuture<'_, ()> {
        self.state().chunks.entry(upload).or_default().insert(offset, bytes);
        Box::pin(async { Ok(()) })
    }

    fn join(&self, upload: UploadKey, size: u64) -> BlobFuture<'_, Joined> {
        let mut state = self.state();
        let chunks = state.chunks.get(&upload).cloned().unwrap_or_default();
        let joined = join_in_memory(&chunks, size).map(|bytes| {
            let joined = Joined {
                hash: ContentHash::of(&bytes),
                size: bytes.len() as u64,
                head: bytes[..bytes.len().min(HEAD_BYTES)].to_vec(),
            };
            if joined.hash == upload.hash {
                state.files.entry(upload.hash).or_insert(bytes);
            }
            joined
        });
        Box::pin(async move { joined })
    }

    fn discard(&self, upload: UploadKey) -> BlobFuture<'_, ()> {
        self.state().chunks.remove(&upload);
        Box::pin(async { Ok(()) })
    }
}

/// Joins chunks keyed by offset, checking that they tile `0..size`.
pub fn join_in_memory(chunks: &BTreeMap<u64, Vec<u8>>, size: u64) -> Result<Vec<u8>, BlobError> {
    let mut out = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    for (offset, bytes) in chunks {
        if *offset != out.len() as u64 {
            return Err(BlobError::Incomplete("a gap or an overlap between chunks"));
        }
        out.extend_from_slice(bytes);
    }
    if out.len() as u64 != size {
        return Err(BlobError::Incomplete("not the declared size"));
    }
    Ok(out)
}

/// The place of a server without a blob store: every call fails, saying
/// so. A server always configures one; a [`crate::Service`] built without
/// one (tests of other things) has this.
#[derive(Debug, Default)]
pub struct NoBlobs;

impl NoBlobs {
    fn refuse<T: Send + 'static>() -> BlobFuture<'static, T> {
        Box::pin(async { Err(BlobError::Store("no blob store is configured".into())) })
    }
}

impl BlobStore for NoBlobs {
    fn kind(&self) -> &'static str {
        "none"
    }
    fn size(&self, _: ContentHash) -> BlobFuture<'_, Option<u64>> {
        Self::refuse()
    }
    fn read(&self, _: ContentHash, _: u64, _: usize) -> BlobFuture<'_, Vec<u8>> {
        Self::refuse()
    }
    fn put_chunk(&self, _: UploadKey, _: u64, _: Vec<u8>) -> BlobFuture<'_, ()> {
        Self::refuse()
    }
    fn join(&self, _: UploadKey, _: u64) -> BlobFuture<'_, Joined> {
        Self::refuse()
    }
    fn discard(&self, _: UploadKey) -> BlobFuture<'_, ()> {
        Self::refuse()
    }
}

#[cfg(any(test, feature = "conformance"))]
/// The behaviour every [`BlobStore`] must show, for each implementation's
/// tests: chunks replaced at their offset, joined in order, a wrong hash
/// never stored, gaps refused, reads clipped at the end.
pub async fn check_conformance(store: &dyn BlobStore) {
    let device = ActorId::random();
    let bytes: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    let hash = ContentHash::of(&bytes);
    let upload = UploadKey { device, hash };
    assert_eq!(store.size(hash).await.expect("size"), None);
    assert!(matches!(store.read(hash, 0, 10).await, Err(BlobError::NotFound)));
    store.put_chunk(upload, 0, vec![0; 4096]).await.expect("chunk");
    // Replaced at its offset: a resent chunk.
    store.put_chunk(upload, 0, bytes[..4096].to_vec()).await.expect("chunk again");
    assert!(matches!(store.join(upload, bytes.len() as u64).await, Err(BlobError::Incomplete(_))));
    store.put_chunk(upload, 4096, bytes[4096..].to_vec()).await.expect("last chunk");
    let joined = store.join(upload, bytes.len() as u64).await.expect("join");
    assert_eq!((joined.hash, joined.size), (hash, bytes.len() as u64));
    assert_eq!(joined.head, bytes[..HEAD_BYTES]);
    store.discard(upload).await.expect("discard");
    store.discard(upload).await.expect("discard twice");
    assert_eq!(store.size(hash).await.expect("size"), Some(bytes.len() as u64));
    assert_eq!(store.read(hash, 9_990, 100).await.expect("tail"), bytes[9_990..]);
    assert_eq!(store.read(hash, 20_000, 100).await.expect("past the end"), Vec::<u8>::new());
    // A file whose bytes are not its name is not kept.
    let lie = UploadKey { device, hash: ContentHash::of(b"something else") };
    store.put_chunk(lie, 0, bytes[..100].to_vec()).await.expect("chunk");
    let joined = store.join(lie, 100).await.expect("join");
    assert_ne!(joined.hash, lie.hash);
    assert_eq!(store.size(lie.hash).await.expect("size"), None);
    store.discard(lie).await.expect("discard");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_memory_store_conforms() {
        let store = MemoryBlobs::default();
        check_conformance(&store).await;
        assert_eq!(store.uploads_in_progress(), 0);
    }
}
