//! The filesystem blob store: attachment bytes in the data directory, the
//! embedded default (ADR 0033).
//!
//! ```text
//! <data>/blobs/                          0700
//!   files/<hh>/<hash hex>                0600, a whole file, named by its SHA-256
//!   uploads/<device hex>/<hash hex>/<offset, 20 digits>   0600, one chunk
//! ```
//!
//! Durable before acknowledged: every chunk and every joined file is
//! written under a temporary name (`.NAME.tmp-PID-N`), fsynced, renamed
//! into place, and its directory fsynced before the call answers; a
//! directory made on the way is fsynced into its parent. A crash leaves at
//! most a temporary file, never a chunk or a file cut short. Plain `std::fs`
//! on blocking threads (`spawn_blocking`), not object_store's
//! `LocalFileSystem`, which fsyncs only when asked and makes files with
//! the default modes (ADR 0033, addendum).
//!
//! A join reads the chunks one at a time through the running hash
//! ([`ContentHash::hasher`]), never the whole file into memory, and renames
//! the joined file into place only when its hash is its name.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use gridsync_proto::ContentHash;
use gridsync_server_core::blobs::{BlobError, BlobFuture, BlobStore, HEAD_BYTES, Joined, UploadKey};

/// Mode of the blob directories: the server's user only.
pub const DIR_MODE: u32 = 0o700;
/// Mode of chunks and files: the server's user only.
pub const FILE_MODE: u32 = 0o600;

/// The directory of whole files under the store's root.
pub const FILES_DIR: &str = "files";
/// The directory of uploads in progress under the store's root.
pub const UPLOADS_DIR: &str = "uploads";

/// How much of a chunk is read at once while joining.
const READ_BUFFER: usize = 64 * 1024;

/// Tells temporary names of one process apart.
static TEMPORARIES: AtomicU64 = AtomicU64::new(0);

/// Attachment bytes in a directory (`<data>/blobs`), fsynced before every
/// answer. Cheap to clone: it is a path.
#[derive(Debug, Clone)]
pub struct FsBlobs {
    root: PathBuf,
}

impl FsBlobs {
    /// The store rooted at `root` (usually `<data>/blobs`), creating it and
    /// its `files` and `uploads` directories (mode 0700) when missing, and
    /// taking group and other permissions off the root if it had them.
    pub fn open(root: impl Into<PathBuf>) -> io::Result<Self> {
        let root = root.into();
        make_dirs(&root.join(FILES_DIR))?;
        make_dirs(&root.join(UPLOADS_DIR))?;
        tighten(&root)?;
        Ok(Self { root })
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the whole file `hash` lives: `files/<first two hex digits>/<hex>`.
    pub fn file_path(&self, hash: ContentHash) -> PathBuf {
        let hex = hash.to_hex();
        self.root.join(FILES_DIR).join(&hex[..2]).join(hex)
    }

    /// The directory of an upload's chunks: `uploads/<device hex>/<hash hex>`.
    fn upload_dir(&self, upload: UploadKey) -> PathBuf {
        self.root
            .join(UPLOADS_DIR)
            .join(gridsync_proto::auth::hex(upload.device.as_bytes()))
            .join(upload.hash.to_hex())
    }

    /// Runs blocking file work off the async executor.
    fn blocking<T, F>(&self, work: F) -> BlobFuture<'_, T>
    where
        T: Send + 'static,
        F: FnOnce(FsBlobs) -> Result<T, BlobError> + Send + 'static,
    {
        let store = self.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || work(store))
                .await
                .map_err(|_| BlobError::Store("a blob store task did not finish".into()))?
        })
    }

    fn size_now(&self, hash: ContentHash) -> Result<Option<u64>, BlobError> {
        match fs::metadata(self.file_path(hash)) {
            Ok(metadata) => Ok(Some(metadata.len())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // No such file, as long as the store itself is there: a
                // blobs directory gone missing is a failure, not "absent".
                match fs::metadata(self.root.join(FILES_DIR)) {
                    Ok(dir) if dir.is_dir() => Ok(None),
                    Ok(_) => Err(store_error("the blobs directory is not a directory", None)),
                    Err(e) => Err(store_error("the blobs directory is unreadable", Some(e))),
                }
            }
            Err(e) => Err(store_error("cannot look at a file", Some(e))),
        }
    }

    fn read_now(&self, hash: ContentHash, offset: u64, len: usize) -> Result<Vec<u8>, BlobError> {
        let mut file = match File::open(self.file_path(hash)) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(BlobError::NotFound),
            Err(e) => return Err(store_error("cannot open a file", Some(e))),
        };
        let size = file.metadata().map_err(|e| store_error("cannot look at a file", Some(e)))?.len();
        let available = size.saturating_sub(offset);
        let wanted = usize::try_from(available).unwrap_or(usize::MAX).min(len);
        if wanted == 0 {
            return Ok(Vec::new());
        }
        file.seek(SeekFrom::Start(offset)).map_err(|e| store_error("cannot read a file", Some(e)))?;
        let mut out = Vec::with_capacity(wanted);
        file.take(wanted as u64)
            .read_to_end(&mut out)
            .map_err(|e| store_error("cannot read a file", Some(e)))?;
        Ok(out)
    }

    fn put_chunk_now(&self, upload: UploadKey, offset: u64, bytes: &[u8]) -> Result<(), BlobError> {
        let dir = self.upload_dir(upload);
        let mut tries = 0;
        loop {
            make_dirs(&dir).map_err(|e| store_error("cannot make an upload's directory", Some(e)))?;
            match write_durably(&dir, &chunk_name(offset), |file| file.write_all(bytes)) {
                // The device's directory was removed between the two by the
                // discard of its last other upload: make it again, once.
                Err(e) if e.kind() == io::ErrorKind::NotFound && tries == 0 => tries += 1,
                written => return written.map_err(|e| store_error("cannot keep a chunk", Some(e))),
            }
        }
    }

    fn join_now(&self, upload: UploadKey, size: u64) -> Result<Joined, BlobError> {
        let chunks = self.chunks(upload)?;
        tiling(&chunks, size)?;
        let target = self.file_path(upload.hash);
        let stored = self.size_now(upload.hash)?.is_some();
        let mut joining = Joining::new(size);
        if stored {
            // Already whole (from another device, or a join repeated):
            // answer what the chunks hold and leave the stored file be.
            for (offset, _) in &chunks {
                joining.add(&self.chunk_path(upload, *offset), &mut io::sink())?;
            }
            return joining.finish();
        }
        let dir = target.parent().expect("a file path has a parent").to_owned();
        make_dirs(&dir).map_err(|e| store_error("cannot make a files directory", Some(e)))?;
        let name = upload.hash.to_hex();
        let (tmp, mut file) =
            create_temporary(&dir, &name).map_err(|e| store_error("cannot write a file", Some(e)))?;
        let written = (|| {
            for (offset, _) in &chunks {
                joining.add(&self.chunk_path(upload, *offset), &mut file)?;
            }
            let joined = joining.finish()?;
            if joined.hash == upload.hash {
                file.sync_all().map_err(|e| store_error("cannot sync a file", Some(e)))?;
                rename_durably(&tmp, &target).map_err(|e| store_error("cannot keep a file", Some(e)))?;
            }
            Ok(joined)
        })();
        // Whatever happened, no temporary is left behind (after a rename
        // there is none to remove).
        let _ = fs::remove_file(&tmp);
        written
    }

    fn discard_now(&self, upload: UploadKey) -> Result<(), BlobError> {
        let dir = self.upload_dir(upload);
        match fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(store_error("cannot delete an upload's chunks", Some(e))),
        }
        // The device's directory goes with its last upload (failing is
        // fine: another upload of the device is in it).
        if let Some(device_dir) = dir.parent() {
            let _ = fs::remove_dir(device_dir);
        }
        sync_dir(&self.root.join(UPLOADS_DIR)).map_err(|e| store_error("cannot sync the uploads", Some(e)))
    }

    fn chunk_path(&self, upload: UploadKey, offset: u64) -> PathBuf {
        self.upload_dir(upload).join(chunk_name(offset))
    }

    /// The upload's chunks as (offset, length), in offset order; temporary
    /// files and anything else not named by an offset are not chunks.
    fn chunks(&self, upload: UploadKey) -> Result<Vec<(u64, u64)>, BlobError> {
        let entries = match fs::read_dir(self.upload_dir(upload)) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(store_error("cannot list an upload's chunks", Some(e))),
        };
        let mut chunks = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| store_error("cannot list an upload's chunks", Some(e)))?;
            let Some(offset) = entry.file_name().to_str().and_then(parse_chunk_name) else {
                continue;
            };
            let len = entry.metadata().map_err(|e| store_error("cannot look at a chunk", Some(e)))?.len();
            chunks.push((offset, len));
        }
        chunks.sort_unstable();
        Ok(chunks)
    }
}

impl BlobStore for FsBlobs {
    fn kind(&self) -> &'static str {
        "fs"
    }

    fn size(&self, hash: ContentHash) -> BlobFuture<'_, Option<u64>> {
        self.blocking(move |store| store.size_now(hash))
    }

    fn read(&self, hash: ContentHash, offset: u64, len: usize) -> BlobFuture<'_, Vec<u8>> {
        self.blocking(move |store| store.read_now(hash, offset, len))
    }

    fn put_chunk(&self, upload: UploadKey, offset: u64, bytes: Vec<u8>) -> BlobFuture<'_, ()> {
        self.blocking(move |store| store.put_chunk_now(upload, offset, &bytes))
    }

    fn join(&self, upload: UploadKey, size: u64) -> BlobFuture<'_, Joined> {
        self.blocking(move |store| store.join_now(upload, size))
    }

    fn discard(&self, upload: UploadKey) -> BlobFuture<'_, ()> {
        self.blocking(move |store| store.discard_now(upload))
    }
}

/// What [`copy_files`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    /// Whole files now in the destination, from the source.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
    /// How many of them were written now (the others were there already).
    pub written: u64,
    /// Files of the source whose bytes are not their name: left out (each
    /// is logged by its hash).
    pub damaged: u64,
}

/// Copies the whole files of one `files/` directory into another (for
/// backup and restore): each checked against its name while it is read,
/// written under a temporary name (0600), fsynced, renamed into place and
/// its directory fsynced. A file the destination has (same name and size)
/// is not copied again; temporary files and other names are skipped.
pub fn copy_files(from: &Path, to: &Path) -> io::Result<Copied> {
    let mut copied = Copied::default();
    make_dirs(to)?;
    let mut shards: Vec<_> = fs::read_dir(from)?.collect::<Result<_, _>>()?;
    shards.sort_by_key(fs::DirEntry::file_name);
    for shard in shards {
        let shard_name = shard.file_name();
        let Some(shard_name) = shard_name.to_str().filter(|n| n.len() == 2) else { continue };
        if !shard.file_type()?.is_dir() {
            continue;
        }
        for entry in fs::read_dir(shard.path())? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(hash) = name.to_str().and_then(|n| n.parse::<ContentHash>().ok()) else { continue };
            if !name.to_str().is_some_and(|n| n.starts_with(shard_name)) || !entry.file_type()?.is_file() {
                continue;
            }
            let size = entry.metadata()?.len();
            let dir = to.join(shard_name);
            let target = dir.join(hash.to_hex());
            if fs::metadata(&target).is_ok_and(|m| m.is_file() && m.len() == size) {
                copied.files += 1;
                copied.bytes += size;
                continue;
            }
            make_dirs(&dir)?;
            let (tmp, mut out) = create_temporary(&dir, &hash.to_hex())?;
            let mut joining = Joining::new(size);
            let result = (|| {
                joining.add(&entry.path(), &mut out).map_err(|e| io::Error::other(e.to_string()))?;
                if joining.finish().ok().map(|joined| joined.hash) != Some(hash) {
                    return Ok(false);
                }
                out.sync_all()?;
                rename_durably(&tmp, &target)?;
                io::Result::Ok(true)
            })();
            let _ = fs::remove_file(&tmp);
            if result? {
                copied.files += 1;
                copied.bytes += size;
                copied.written += 1;
            } else {
                tracing::warn!(%hash, "an attachment's bytes are not its hash: not copied");
                copied.damaged += 1;
            }
        }
    }
    Ok(copied)
}

/// Checks that chunks (offset, length), in offset order, tile `0..size`:
/// the first at 0, each where the one before ended, the last ending at
/// `size`.
pub(crate) fn tiling(chunks: &[(u64, u64)], size: u64) -> Result<(), BlobError> {
    let mut end = 0u64;
    for (offset, len) in chunks {
        if *offset != end {
            return Err(BlobError::Incomplete("a gap or an overlap between chunks"));
        }
        end = end.checked_add(*len).ok_or(BlobError::Incomplete("not the declared size"))?;
    }
    if end != size {
        return Err(BlobError::Incomplete("not the declared size"));
    }
    Ok(())
}

/// A chunk's file name: its offset in 20 digits, so names sort as offsets.
pub(crate) fn chunk_name(offset: u64) -> String {
    format!("{offset:020}")
}

/// The offset a chunk's name holds; `None` for any other name.
pub(crate) fn parse_chunk_name(name: &str) -> Option<u64> {
    if name.len() == 20 && name.bytes().all(|b| b.is_ascii_digit()) { name.parse().ok() } else { None }
}

/// A file being joined: the running hash, the bytes so far, the head.
struct Joining {
    hasher: gridsync_proto::attachment::Hasher,
    size: u64,
    read: u64,
    head: Vec<u8>,
}

impl Joining {
    fn new(size: u64) -> Self {
        Self { hasher: ContentHash::hasher(), size, read: 0, head: Vec::with_capacity(HEAD_BYTES) }
    }

    /// Reads one chunk through the hash into `out`.
    fn add(&mut self, chunk: &Path, out: &mut dyn Write) -> Result<(), BlobError> {
        let mut input = File::open(chunk).map_err(|e| store_error("cannot read a chunk", Some(e)))?;
        let mut buffer = vec![0u8; READ_BUFFER];
        loop {
            let n = input.read(&mut buffer).map_err(|e| store_error("cannot read a chunk", Some(e)))?;
            if n == 0 {
                return Ok(());
            }
            self.update(&buffer[..n]);
            out.write_all(&buffer[..n]).map_err(|e| store_error("cannot write a file", Some(e)))?;
        }
    }

    fn update(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
        let room = HEAD_BYTES - self.head.len();
        self.head.extend_from_slice(&bytes[..bytes.len().min(room)]);
        self.read += bytes.len() as u64;
    }

    /// What was joined; a chunk replaced while it was read (so the bytes no
    /// longer add up to the size) is [`BlobError::Incomplete`].
    fn finish(self) -> Result<Joined, BlobError> {
        if self.read != self.size {
            return Err(BlobError::Incomplete("not the declared size"));
        }
        Ok(Joined { hash: self.hasher.finish(), size: self.read, head: self.head })
    }
}

/// A [`BlobError::Store`] saying what could not be done and the operating
/// system's reason (never a path: paths name hashes and devices).
fn store_error(what: &str, cause: Option<io::Error>) -> BlobError {
    match cause {
        Some(e) => BlobError::Store(format!("{what}: {}", e.kind())),
        None => BlobError::Store(what.to_owned()),
    }
}

/// Creates `dir` and its missing parents with [`DIR_MODE`], fsyncing each
/// new directory into its parent so that it survives a crash.
fn make_dirs(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        make_dirs(parent)?;
    }
    let mut builder = fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
    match builder.create(dir) {
        Ok(()) => {}
        // Made meanwhile by a concurrent call.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => return Ok(()),
        Err(e) => return Err(e),
    }
    match dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(parent) => sync_dir(parent),
        None => Ok(()),
    }
}

/// Takes group and other permissions off `dir`.
#[cfg(unix)]
fn tighten(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(dir)?.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        fs::set_permissions(dir, fs::Permissions::from_mode(mode & !0o077))?;
        tracing::warn!(mode = %format_args!("{mode:o}"), "the blobs directory was open to other users; now owner only");
    }
    Ok(())
}

#[cfg(not(unix))]
fn tighten(_: &Path) -> io::Result<()> {
    Ok(())
}

/// A new private file ([`FILE_MODE`]) in `dir` with a temporary name
/// for `name`: `.NAME.tmp-PID-N`.
fn create_temporary(dir: &Path, name: &str) -> io::Result<(PathBuf, File)> {
    let n = TEMPORARIES.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.tmp-{}-{n}", std::process::id()));
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, FILE_MODE);
    Ok((tmp.clone(), options.open(&tmp)?))
}

/// Writes `dir/name` durably: a temporary file filled by `fill`, fsynced,
/// renamed over `name` (replacing what was there), the directory fsynced.
fn write_durably(dir: &Path, name: &str, fill: impl FnOnce(&mut File) -> io::Result<()>) -> io::Result<()> {
    let (tmp, mut file) = create_temporary(dir, name)?;
    let written =
        fill(&mut file).and_then(|()| file.sync_all()).and_then(|()| rename_durably(&tmp, &dir.join(name)));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

/// Renames `from` to `to` and fsyncs `to`'s directory.
fn rename_durably(from: &Path, to: &Path) -> io::Result<()> {
    fs::rename(from, to)?;
    match to.parent() {
        Some(dir) => sync_dir(dir),
        None => Ok(()),
    }
}

/// Fsyncs a directory, so that the names made or renamed in it last.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_names_sort_as_offsets_and_nothing_else_is_a_chunk() {
        assert_eq!(chunk_name(262_144), "00000000000000262144");
        assert_eq!(parse_chunk_name(&chunk_name(u64::MAX)), Some(u64::MAX));
        assert_eq!(parse_chunk_name(".00000000000000262144.tmp-1-0"), None);
        assert_eq!(parse_chunk_name("262144"), None);
        assert!(chunk_name(9) < chunk_name(10));
    }

    #[test]
    fn chunks_must_tile_the_declared_size() {
        assert!(tiling(&[(0, 4), (4, 6)], 10).is_ok());
        assert!(tiling(&[], 0).is_ok());
        assert!(matches!(tiling(&[(4, 6)], 10), Err(BlobError::Incomplete(_))), "not from 0");
        assert!(matches!(tiling(&[(0, 4), (5, 5)], 10), Err(BlobError::Incomplete(_))), "a gap");
        assert!(matches!(tiling(&[(0, 5), (4, 6)], 10), Err(BlobError::Incomplete(_))), "an overlap");
        assert!(matches!(tiling(&[(0, 4), (4, 6)], 11), Err(BlobError::Incomplete(_))), "short");
        assert!(matches!(tiling(&[(0, u64::MAX), (u64::MAX, 2)], 1), Err(BlobError::Incomplete(_))));
    }
}
