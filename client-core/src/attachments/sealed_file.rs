//! How an attachment file rests on the handset: encrypted with the store
//! key, in sealed segments, so that a file is never whole in memory while
//! it is written, uploaded or exported.
//!
//! A file is `MAGIC`, then segments, each `length (u32, little-endian) ‖
//! sealed value` ([`Cipher::seal`]) of at most [`SEGMENT_BYTES`] plain
//! bytes. Each segment is bound (associated data) to its index and to
//! whether it is the last: segments cannot be reordered, dropped or
//! appended to without detection, and a truncated file is refused. The
//! whole file's content hash is checked by the readers that need it
//! (reading, exporting, finishing a download); a file moved under another
//! name fails that check.
//!
//! A download in progress (`NAME.part`) holds only segments that are not
//! the last; it is resumed from its last whole segment.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use gridsync_proto::ContentHash;
use gridsync_proto::attachment::Hasher;

use crate::crypto::{Cipher, SEAL_OVERHEAD};
use crate::error::{Error, Result};

/// Plain bytes in one segment (64 KiB).
pub(crate) const SEGMENT_BYTES: usize = 64 * 1024;

/// The first bytes of every attachment file: format 1.
const MAGIC: &[u8; 6] = b"GSATT1";

/// Why a stored file does not read.
pub(crate) const DAMAGED_REASON: &str = "its stored copy is damaged";
const DAMAGED: Error = Error::AttachmentUnavailable(DAMAGED_REASON);

/// Where segment `index` is sealed, and whether it is the last.
fn segment_aad(index: u64, last: bool) -> [u8; 28] {
    let mut aad = [0u8; 28];
    aad[..19].copy_from_slice(b"attachment-segment:");
    aad[19..27].copy_from_slice(&index.to_be_bytes());
    aad[27] = u8::from(last);
    aad
}

/// Creates a file only its owner may read and write.
pub(crate) fn create_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Creates `dir` (only its owner may enter it) if it is missing.
pub(crate) fn ensure_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Makes renames and removals in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Writes an attachment file segment by segment.
pub(crate) struct Writer {
    file: File,
    path: PathBuf,
    index: u64,
    pending: Vec<u8>,
    hasher: Hasher,
    written: u64,
}

impl Writer {
    /// Starts a new file at `path` (replacing what is there).
    pub(crate) fn create(path: &Path) -> Result<Writer> {
        let mut file = create_private(path)?;
        file.write_all(MAGIC)?;
        Ok(Writer {
            file,
            path: path.to_owned(),
            index: 0,
            pending: Vec::with_capacity(SEGMENT_BYTES),
            hasher: ContentHash::hasher(),
            written: 0,
        })
    }

    /// Goes on with a download in progress at `path`: keeps its whole
    /// segments (none of them the last), drops a torn one at its end.
    /// Returns the writer, positioned after the bytes it holds, and those
    /// bytes' first [`SEGMENT_BYTES`] (for the media type). A missing or
    /// unreadable file starts afresh.
    pub(crate) fn resume(cipher: &Cipher, path: &Path) -> Result<(Writer, Vec<u8>)> {
        let mut head = Vec::new();
        let mut hasher = ContentHash::hasher();
        let (mut index, mut written, mut keep) = (0u64, 0u64, MAGIC.len() as u64);
        match File::open(path) {
            Ok(file) => {
                let mut reader = io::BufReader::new(file);
                let mut magic = [0u8; MAGIC.len()];
                if reader.read_exact(&mut magic).is_ok() && &magic == MAGIC {
                    while let Ok(Some(sealed)) = read_sealed(&mut reader) {
                        let Ok(plain) = cipher.open(&segment_aad(index, false), &sealed) else {
                            break;
                        };
                        if head.is_empty() {
                            head = plain.clone();
                        }
                        hasher.update(&plain);
                        written += plain.len() as u64;
                        index += 1;
                        keep += 4 + sealed.len() as u64;
                    }
                } else {
                    return Ok((Writer::create(path)?, Vec::new()));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Writer::create(path)?, Vec::new())),
            Err(e) => return Err(e.into()),
        }
        let mut file = OpenOptions::new().write(true).open(path)?;
        file.set_len(keep)?;
        file.seek(SeekFrom::End(0))?;
        let writer = Writer { file, path: path.to_owned(), index, pending: Vec::new(), hasher, written };
        Ok((writer, head))
    }

    /// Plain bytes taken so far.
    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    /// Adds plain bytes; whole segments are sealed and written as they fill.
    pub(crate) fn push(&mut self, cipher: &Cipher, mut bytes: &[u8]) -> Result<()> {
        self.hasher.update(bytes);
        self.written += bytes.len() as u64;
        while !bytes.is_empty() {
            let room = SEGMENT_BYTES - self.pending.len();
            if room == 0 {
                // A full segment is written only once more bytes follow:
                // the last one must be sealed as the last.
                self.seal_pending(cipher, false)?;
                continue;
            }
            let take = room.min(bytes.len());
            self.pending.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
        }
        Ok(())
    }

    /// Writes what is buffered as a segment that is not the last, and
    /// makes it durable: a download can resume from here.
    pub(crate) fn checkpoint(&mut self, cipher: &Cipher) -> Result<()> {
        if !self.pending.is_empty() {
            self.seal_pending(cipher, false)?;
        }
        self.file.sync_data()?;
        Ok(())
    }

    /// Seals the last segment and makes the file durable; returns the
    /// content hash of everything pushed.
    pub(crate) fn finish(mut self, cipher: &Cipher) -> Result<(PathBuf, ContentHash)> {
        self.seal_pending(cipher, true)?;
        self.file.sync_all()?;
        let hasher = std::mem::replace(&mut self.hasher, ContentHash::hasher());
        Ok((std::mem::take(&mut self.path), hasher.finish()))
    }

    fn seal_pending(&mut self, cipher: &Cipher, last: bool) -> Result<()> {
        let mut sealed = cipher.seal(&segment_aad(self.index, last), &self.pending)?;
        wipe(&mut self.pending);
        self.pending.clear();
        let len = u32::try_from(sealed.len()).expect("a segment is far below 4 GiB");
        self.file.write_all(&len.to_le_bytes())?;
        self.file.write_all(&sealed)?;
        sealed.clear();
        self.index += 1;
        Ok(())
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        wipe(&mut self.pending);
    }
}

/// Overwrites plain bytes no longer needed.
pub(crate) fn wipe(bytes: &mut [u8]) {
    bytes.fill(0);
    std::hint::black_box(bytes);
}

/// Reads one `length ‖ sealed` record; `None` at a clean end.
fn read_sealed(reader: &mut impl Read) -> Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    match reader.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let len = u32::from_le_bytes(len) as usize;
    if !(SEAL_OVERHEAD..=SEGMENT_BYTES + SEAL_OVERHEAD).contains(&len) {
        return Err(DAMAGED);
    }
    let mut sealed = vec![0u8; len];
    reader.read_exact(&mut sealed).map_err(|_| DAMAGED)?;
    Ok(Some(sealed))
}

/// Reads a whole attachment file segment by segment.
pub(crate) struct Reader {
    reader: io::BufReader<File>,
    index: u64,
    done: bool,
}

impl Reader {
    /// Opens the file at `path`.
    pub(crate) fn open(path: &Path) -> Result<Reader> {
        let file = match File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Error::AttachmentUnavailable("it is not on this device"));
            }
            Err(e) => return Err(e.into()),
        };
        let mut reader = io::BufReader::new(file);
        let mut magic = [0u8; MAGIC.len()];
        reader.read_exact(&mut magic).map_err(|_| DAMAGED)?;
        if &magic != MAGIC {
            return Err(DAMAGED);
        }
        Ok(Reader { reader, index: 0, done: false })
    }

    /// The next segment's plain bytes; `None` after the last.
    pub(crate) fn next_segment(&mut self, cipher: &Cipher) -> Result<Option<Vec<u8>>> {
        if self.done {
            return match read_sealed(&mut self.reader) {
                Ok(None) => Ok(None),
                _ => Err(DAMAGED),
            };
        }
        let sealed = read_sealed(&mut self.reader)?.ok_or(DAMAGED)?;
        let plain = match cipher.open(&segment_aad(self.index, false), &sealed) {
            Ok(plain) => plain,
            Err(_) => {
                let plain = cipher.open(&segment_aad(self.index, true), &sealed).map_err(|_| DAMAGED)?;
                self.done = true;
                plain
            }
        };
        self.index += 1;
        Ok(Some(plain))
    }

    /// Skips to plain offset `offset` without decrypting the segments
    /// before it; returns the rest of the segment that holds it (empty at
    /// the end of the file).
    pub(crate) fn skip_to(&mut self, cipher: &Cipher, offset: u64) -> Result<Vec<u8>> {
        let mut at = 0u64;
        loop {
            let mut len = [0u8; 4];
            match self.reader.read_exact(&mut len) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    // The end of the file (its last segment was skipped unread).
                    self.done = true;
                    return if at == offset { Ok(Vec::new()) } else { Err(DAMAGED) };
                }
                Err(e) => return Err(e.into()),
            }
            let sealed_len = u32::from_le_bytes(len) as usize;
            let plain_len = sealed_len.checked_sub(SEAL_OVERHEAD).ok_or(DAMAGED)? as u64;
            if at + plain_len <= offset && plain_len > 0 {
                self.reader.seek_relative(sealed_len as i64)?;
                self.index += 1;
                at += plain_len;
                continue;
            }
            // This segment holds `offset`: put its length back and read it.
            self.reader.seek_relative(-4)?;
            let mut plain = self.next_segment(cipher)?.ok_or(DAMAGED)?;
            let skip = usize::try_from(offset - at).map_err(|_| DAMAGED)?;
            if skip > plain.len() {
                return Err(DAMAGED);
            }
            wipe(&mut plain[..skip]);
            return Ok(plain.split_off(skip));
        }
    }
}

/// Reads the whole file at `path` into memory, checking it is `hash`.
pub(crate) fn read_whole(cipher: &Cipher, path: &Path, hash: &ContentHash, size: u64) -> Result<Vec<u8>> {
    let mut reader = Reader::open(path)?;
    let mut out = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    let mut hasher = ContentHash::hasher();
    while let Some(mut plain) = reader.next_segment(cipher)? {
        hasher.update(&plain);
        out.extend_from_slice(&plain);
        wipe(&mut plain);
    }
    if hasher.finish() != *hash {
        wipe(&mut out);
        return Err(DAMAGED);
    }
    Ok(out)
}

/// Decrypts the file at `path` into `out`, segment by segment, checking
/// it is `hash`.
pub(crate) fn copy_out(cipher: &Cipher, path: &Path, hash: &ContentHash, out: &mut impl Write) -> Result<()> {
    let mut reader = Reader::open(path)?;
    let mut hasher = ContentHash::hasher();
    while let Some(mut plain) = reader.next_segment(cipher)? {
        hasher.update(&plain);
        out.write_all(&plain)?;
        wipe(&mut plain);
    }
    if hasher.finish() != *hash {
        return Err(DAMAGED);
    }
    Ok(())
}

/// The plain bytes of the file at `path` from `offset`, at most `max`.
pub(crate) fn read_range(cipher: &Cipher, path: &Path, offset: u64, max: usize) -> Result<Vec<u8>> {
    let mut reader = Reader::open(path)?;
    let mut out = reader.skip_to(cipher, offset)?;
    while out.len() < max {
        let Some(mut plain) = reader.next_segment(cipher)? else { break };
        out.extend_from_slice(&plain);
        wipe(&mut plain);
    }
    if out.len() > max {
        wipe(&mut out[max..]);
        out.truncate(max);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::StoreKey;

    fn cipher() -> Cipher {
        Cipher::new(&StoreKey::from_bytes([9; 32]))
    }

    fn written(c: &Cipher, path: &Path, plain: &[u8], pieces: usize) -> ContentHash {
        let mut w = Writer::create(path).expect("create");
        for piece in plain.chunks(pieces.max(1)) {
            w.push(c, piece).expect("push");
        }
        w.finish(c).expect("finish").1
    }

    #[test]
    fn files_round_trip_in_segments_and_read_from_any_offset() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = cipher();
        for len in [1usize, SEGMENT_BYTES - 1, SEGMENT_BYTES, SEGMENT_BYTES + 1, 3 * SEGMENT_BYTES + 77] {
            let plain: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            let path = dir.path().join(format!("f{len}"));
            let hash = written(&c, &path, &plain, 10_000);
            assert_eq!(hash, ContentHash::of(&plain));
            assert_eq!(read_whole(&c, &path, &hash, len as u64).expect("read"), plain);
            for offset in [0, 1, SEGMENT_BYTES - 1, SEGMENT_BYTES, len - 1, len] {
                if offset > len {
                    continue;
                }
                let got = read_range(&c, &path, offset as u64, 100_000).expect("range");
                let want = &plain[offset..len.min(offset + 100_000)];
                assert_eq!(got, want, "len {len} offset {offset}");
            }
            if len >= 64 {
                let on_disk = fs::read(&path).expect("read");
                assert!(!on_disk.windows(64).any(|w| w == &plain[..64]));
            }
        }
    }

    #[test]
    fn truncated_reordered_or_foreign_files_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = cipher();
        let plain = vec![5u8; 2 * SEGMENT_BYTES + 10];
        let path = dir.path().join("f");
        let hash = written(&c, &path, &plain, 4096);
        let bytes = fs::read(&path).expect("read");
        // Cut after the first segment: no last segment.
        let cut = MAGIC.len() + 4 + SEGMENT_BYTES + SEAL_OVERHEAD;
        fs::write(&path, &bytes[..cut]).expect("write");
        assert!(read_whole(&c, &path, &hash, 0).is_err());
        // Another key.
        fs::write(&path, &bytes).expect("write");
        let other = Cipher::new(&StoreKey::from_bytes([1; 32]));
        assert!(read_whole(&other, &path, &hash, 0).is_err());
        // Another hash expected.
        assert!(read_whole(&c, &path, &ContentHash::of(b"x"), 0).is_err());
        assert!(read_whole(&c, &path, &hash, 0).is_ok());
    }

    #[test]
    fn a_download_resumes_from_its_last_whole_segment() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = cipher();
        let plain: Vec<u8> = (0..3 * SEGMENT_BYTES).map(|i| (i % 13) as u8).collect();
        let path = dir.path().join("f.part");
        let mut w = Writer::create(&path).expect("create");
        w.push(&c, &plain[..SEGMENT_BYTES + 5]).expect("push");
        w.checkpoint(&c).expect("checkpoint");
        drop(w);
        // A torn write at the end is dropped.
        let mut f = OpenOptions::new().append(true).open(&path).expect("open");
        f.write_all(&[1, 2, 3]).expect("tear");
        drop(f);
        let (mut w, head) = Writer::resume(&c, &path).expect("resume");
        assert_eq!(w.written(), SEGMENT_BYTES as u64 + 5);
        assert_eq!(head, &plain[..SEGMENT_BYTES]);
        w.push(&c, &plain[SEGMENT_BYTES + 5..]).expect("push");
        let (_, hash) = w.finish(&c).expect("finish");
        assert_eq!(hash, ContentHash::of(&plain));
        assert_eq!(read_whole(&c, &path, &hash, 0).expect("read"), plain);
    }
}
