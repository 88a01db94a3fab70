//! Attachments on the handset (ADR 0033): photos and PDFs attached to a
//! record, kept encrypted beside the store.
//!
//! * **Attaching** ([`Store::attach`], [`Store::attach_file`]): the media
//!   type is taken from the bytes ([`Media::sniff`]); an empty file, one
//!   larger than [`MAX_BYTES`], one of another kind and a name longer than
//!   [`MAX_NAME_CHARS`] are refused ([`Error::BadFile`]). The file is
//!   written, sealed with the store key in segments
//!   ([`sealed_file`]), to `STORE.attachments/NAME`, where `NAME` is a keyed
//!   hash of its content hash (the directory does not show which known
//!   photo a phone holds); it is durable (written aside, synced, renamed)
//!   before the record's `attachment` entry is committed, through the
//!   normal edit path, so the reference syncs with the record. The same
//!   bytes attached twice are stored once.
//! * **Uploading**: after each sync's push and pull ([`crate::sync`]).
//! * **Fetching** others' files on demand ([`crate::sync::fetch_shared`])
//!   into a cache with a byte budget ([`Store::set_attachment_budget`]):
//!   the least recently opened files are evicted first; the device's own
//!   files not yet uploaded never are.
//! * **Leaving**: a file goes with the last record this device holds that
//!   references it ([`prune`], after records leave the device), and with
//!   the store on a wipe. A repair keeps the directory; a file of a record
//!   pulled again after it is adopted back as this device's own, to be
//!   uploaded if the server lacks it.
//!
//! File names and contents never appear in logs or errors.

pub(crate) mod sealed_file;

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use gridsync_proto::attachment::{self, AttachmentRef, ContentHash, Media};
pub use gridsync_proto::attachment::{CHUNK_BYTES, MAX_BYTES, MAX_NAME_CHARS};
use gridsync_proto::{Dot, Edit, RecordId};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::crypto::Cipher;
use crate::error::{Error, Result};
use crate::store::{Store, now_ms};
use sealed_file::{SEGMENT_BYTES, Writer, ensure_dir, sync_dir};

/// The cache budget of a new store: 200 MiB of fetched files.
pub const DEFAULT_BUDGET_BYTES: u64 = 200 * 1024 * 1024;

/// The network the handset is on, as the app tells it
/// ([`Store::set_network`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkKind {
    /// Wi-Fi (or another unmetered link).
    Wifi,
    /// A mobile data connection.
    Cellular,
    /// No connection, or the app has not said: with
    /// [`Store::set_wifi_only`], uploads wait.
    #[default]
    Unknown,
}

/// An attachment of a record, as this device knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentInfo {
    /// The record's reference: hash, size, media type, name, entry.
    pub reference: AttachmentRef,
    /// The file is on this device whole (attached here, or fetched).
    pub local: bool,
    /// This device knows the server has it whole (it uploaded it, or
    /// fetched it from there).
    pub uploaded: bool,
}

/// What is sealed in an attachment's row.
#[derive(Serialize, Deserialize)]
pub(crate) struct Meta {
    pub(crate) hash: ContentHash,
    pub(crate) media: Media,
    /// A record referencing it (the one it was attached to, or fetched
    /// for): named in upload requests.
    pub(crate) record: RecordId,
}

/// Where an attachment's meta is sealed: bound to its file name.
fn meta_aad(name: &str) -> Vec<u8> {
    [&b"attachment:"[..], name.as_bytes()].concat()
}

pub(crate) fn seal_meta(cipher: &Cipher, name: &str, meta: &Meta) -> Result<Vec<u8>> {
    let plain = postcard::to_allocvec(meta).expect("encoding into a Vec cannot fail");
    cipher.seal(&meta_aad(name), &plain)
}

pub(crate) fn open_meta(cipher: &Cipher, name: &str, sealed: &[u8]) -> Result<Meta> {
    let plain = cipher.open(&meta_aad(name), sealed).map_err(|_| Error::Corrupt("attachment row"))?;
    postcard::from_bytes(&plain).map_err(|_| Error::Corrupt("attachment row"))
}

/// A file's name in the attachments directory (and its row's key).
pub(crate) fn file_name(cipher: &Cipher, hash: &ContentHash) -> String {
    cipher.keyed_name(&hash.0)
}

/// Suffix of a download in progress.
pub(crate) const PART: &str = ".part";
/// Suffix of a file being attached.
const TMP: &str = ".tmp";

/// One row of the `attachments` table.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) name: String,
    pub(crate) size: u64,
    pub(crate) own: bool,
    pub(crate) uploaded: bool,
}

pub(crate) fn load_row(conn: &Connection, name: &str) -> Result<Option<Row>> {
    Ok(conn
        .prepare_cached("SELECT size, own, uploaded FROM attachments WHERE name = ?1")?
        .query_row([name], |r| {
            Ok(Row {
                name: name.to_owned(),
                size: r.get::<_, i64>(0)? as u64,
                own: r.get(1)?,
                uploaded: r.get(2)?,
            })
        })
        .optional()?)
}

/// A new file that is whole in the directory: its row.
pub(crate) fn insert_row(
    conn: &Connection,
    cipher: &Cipher,
    name: &str,
    size: u64,
    own: bool,
    meta: &Meta,
) -> Result<()> {
    let now = now_ms() as i64;
    conn.prepare_cached(
        "INSERT INTO attachments (name, size, own, uploaded, added_ms, opened_ms, meta)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
    )?
    .execute(params![name, size as i64, own, !own, now, seal_meta(cipher, name, meta)?])?;
    Ok(())
}

/// A file read from its source into the directory, not yet under its name.
struct Ingested {
    tmp: PathBuf,
    hash: ContentHash,
    size: u64,
    media: Media,
}

/// Reads until `buf` is full or the source ends; returns how much was read.
fn fill(source: &mut dyn Read, buf: &mut [u8]) -> Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match source.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(n)
}

/// Checks and seals a file from `source` into a temporary file in `dir`,
/// a segment at a time.
fn ingest(cipher: &Cipher, dir: &Path, source: &mut dyn Read) -> Result<Ingested> {
    let mut buf = vec![0u8; SEGMENT_BYTES];
    let n = fill(source, &mut buf)?;
    if n == 0 {
        return Err(Error::BadFile("the file is empty"));
    }
    let media = Media::sniff(&buf[..n])
        .ok_or(Error::BadFile("it is not a photo (JPEG, PNG, WebP, HEIC) or a PDF"))?;
    ensure_dir(dir)?;
    let mut random = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut random)
        .map_err(|_| Error::Crypto("cannot make a file name"))?;
    let tmp = dir.join(format!("{}{TMP}", random.iter().map(|b| format!("{b:02x}")).collect::<String>()));
    let written = (|| {
        let mut writer = Writer::create(&tmp)?;
        let mut n = n;
        while n > 0 {
            writer.push(cipher, &buf[..n])?;
            if writer.written() > MAX_BYTES {
                return Err(Error::BadFile("it is larger than 20 MiB"));
            }
            n = fill(source, &mut buf)?;
        }
        let size = writer.written();
        let (_, hash) = writer.finish(cipher)?;
        Ok((hash, size))
    })();
    sealed_file::wipe(&mut buf);
    match written {
        Ok((hash, size)) => Ok(Ingested { tmp, hash, size, media }),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

impl Store {
    /// Where this store's attachment files are: `STORE.attachments/`.
    pub fn attachments_dir(&self) -> PathBuf {
        let mut name = self.path().as_os_str().to_owned();
        name.push(".attachments");
        PathBuf::from(name)
    }

    /// Attaches a file to `record` (optionally to one of its entries:
    /// `of_entry`), under `name` if given; returns the reference added.
    /// See the [module documentation](self). The same file attached to the
    /// same record again, with the same name and entry, adds nothing.
    pub fn attach(
        &mut self,
        record: RecordId,
        of_entry: Option<Dot>,
        name: Option<&str>,
        bytes: &[u8],
    ) -> Result<AttachmentRef> {
        if bytes.len() as u64 > MAX_BYTES {
            return Err(Error::BadFile("it is larger than 20 MiB"));
        }
        self.attach_from(record, of_entry, name, &mut &bytes[..])
    }

    /// [`Store::attach`] of the file at `path`, read a segment at a time
    /// (never whole in memory). The name, if none is given, is not taken
    /// from the path: file names on a phone are often personal.
    pub fn attach_file(
        &mut self,
        record: RecordId,
        of_entry: Option<Dot>,
        name: Option<&str>,
        path: &Path,
    ) -> Result<AttachmentRef> {
        let mut file = fs::File::open(path)?;
        if file.metadata()?.len() > MAX_BYTES {
            return Err(Error::BadFile("it is larger than 20 MiB"));
        }
        self.attach_from(record, of_entry, name, &mut file)
    }

    fn attach_from(
        &mut self,
        record: RecordId,
        of_entry: Option<Dot>,
        name: Option<&str>,
        source: &mut dyn Read,
    ) -> Result<AttachmentRef> {
        self.writable()?;
        let name = name.map(str::trim).filter(|n| !n.is_empty());
        if name.is_some_and(|n| n.chars().count() > MAX_NAME_CHARS) {
            return Err(Error::BadFile("its name is longer than 200 characters"));
        }
        let state = self.get(record)?.ok_or(Error::NotFound(record))?;
        let dir = self.attachments_dir();
        let file = ingest(&self.cipher, &dir, source)?;
        let reference = AttachmentRef {
            hash: file.hash,
            size: file.size,
            media: file.media,
            name: name.map(str::to_owned),
            of_entry,
        };
        let stored = self.keep_own(&dir, file, record);
        let new = self.watch(stored)?;
        let held = state.entries().into_iter().filter_map(AttachmentRef::from_entry).any(|r| r == reference);
        if !held {
            let entry = Edit::Append(attachment::ENTRY.to_owned(), reference.to_entry_body());
            if let Err(e) = self.edit(record, [entry]) {
                if new {
                    // Nothing references the file: it goes, as if never attached.
                    self.drop_file(&file_name(&self.cipher, &reference.hash));
                }
                return Err(e);
            }
        }
        Ok(reference)
    }

    /// Puts an ingested file under its name (unless the same bytes are
    /// there already) and records it as this device's own; `true` if it
    /// was not here before.
    fn keep_own(&mut self, dir: &Path, file: Ingested, record: RecordId) -> Result<bool> {
        let name = file_name(&self.cipher, &file.hash);
        let existing = load_row(&self.conn, &name)?;
        let target = dir.join(&name);
        if existing.is_some() && target.exists() {
            fs::remove_file(&file.tmp)?;
            // Known already: fetched from the server (which has it), or attached before.
            self.conn.execute("UPDATE attachments SET own = 1 WHERE name = ?1", [&name])?;
            return Ok(false);
        }
        fs::rename(&file.tmp, &target)?;
        sync_dir(dir)?;
        let meta = Meta { hash: file.hash, media: file.media, record };
        self.conn.execute("DELETE FROM attachments WHERE name = ?1", [&name])?;
        insert_row(&self.conn, &self.cipher, &name, file.size, true, &meta)?;
        Ok(true)
    }

    /// Forgets a file and deletes it; best effort (a store that cannot
    /// write keeps it, and the next prune takes it).
    fn drop_file(&self, name: &str) {
        if self.writable().is_err() {
            return;
        }
        let dropped = self
            .conn
            .execute("DELETE FROM attachments WHERE name = ?1", [name])
            .map_err(Error::from)
            .and_then(|_| remove_quietly(&self.attachments_dir().join(name)));
        if let Err(e) = dropped {
            tracing::warn!(error = %e, "could not delete an attachment file");
        }
    }

    /// After reading a file failed: a fetched copy that no longer reads is
    /// dropped, so that it can be fetched again. Own files are kept.
    fn after_read<T>(&self, row: &Row, read: Result<T>) -> Result<T> {
        if let Err(Error::AttachmentUnavailable(why)) = &read
            && *why == sealed_file::DAMAGED_REASON
            && !row.own
        {
            tracing::warn!("a fetched attachment no longer reads; it is dropped, to be fetched again");
            self.drop_file(&row.name);
        }
        read
    }

    /// The attachments `record` references, in entry order, and whether
    /// each is on this device and known to be on the server.
    pub fn attachments(&self, record: RecordId) -> Result<Vec<AttachmentInfo>> {
        self.live()?;
        let state = self.get(record)?.ok_or(Error::NotFound(record))?;
        let mut out = Vec::new();
        for reference in attachment::of_record(&state) {
            let name = file_name(&self.cipher, &reference.hash);
            let row = self.watch(load_row(&self.conn, &name))?;
            let (local, uploaded) = match row {
                Some(row) => (true, !row.own || row.uploaded),
                None => (false, false),
            };
            out.push(AttachmentInfo { reference, local, uploaded });
        }
        Ok(out)
    }

    /// Fetches a file `record` references from the server into the cache,
    /// resuming a download interrupted before; see
    /// [`crate::sync::fetch_shared`]. Then [`Store::read_attachment`] reads it.
    pub fn fetch_attachment(
        &mut self,
        transport: &dyn crate::Transport,
        record: RecordId,
        hash: &ContentHash,
    ) -> Result<AttachmentInfo> {
        crate::sync::fetch(self, transport, record, hash)
    }

    /// The row and sealed meta of a file held here whole.
    fn held(&self, hash: &ContentHash) -> Result<(Row, Meta)> {
        let name = file_name(&self.cipher, hash);
        let found = self
            .conn
            .prepare_cached("SELECT meta FROM attachments WHERE name = ?1")
            .and_then(|mut s| s.query_row([&name], |r| r.get::<_, Vec<u8>>(0)).optional());
        let sealed = self.watch(found.map_err(Error::from))?;
        let sealed = sealed.ok_or(Error::AttachmentUnavailable("it is not on this device"))?;
        let meta = self.watch(open_meta(&self.cipher, &name, &sealed))?;
        let row = self
            .watch(load_row(&self.conn, &name))?
            .ok_or(Error::AttachmentUnavailable("it is not on this device"))?;
        Ok((row, meta))
    }

    /// Notes that a file was opened now (the cache keeps recent ones).
    /// Best effort: a store that cannot write still reads.
    fn opened(&self, name: &str) {
        if self.writable().is_ok()
            && let Err(e) = self.conn.execute(
                "UPDATE attachments SET opened_ms = ?1 WHERE name = ?2",
                params![now_ms() as i64, name],
            )
        {
            tracing::warn!(error = %e, "could not note when an attachment was opened");
        }
    }

    /// A file held here, whole in memory, checked against its hash.
    pub fn read_attachment(&self, hash: &ContentHash) -> Result<Vec<u8>> {
        self.live()?;
        let (row, meta) = self.held(hash)?;
        let path = self.attachments_dir().join(&row.name);
        let read = sealed_file::read_whole(&self.cipher, &path, &meta.hash, row.size);
        let bytes = self.after_read(&row, read)?;
        self.opened(&row.name);
        Ok(bytes)
    }

    /// Writes a decrypted copy of a file held here into `dir` (a directory
    /// the app gives, for a viewer), as `HASH.EXT` by its media type;
    /// returns its path. The copy is the app's to delete.
    pub fn export_attachment(&self, hash: &ContentHash, dir: &Path) -> Result<PathBuf> {
        self.live()?;
        let (row, meta) = self.held(hash)?;
        let source = self.attachments_dir().join(&row.name);
        let target = dir.join(format!("{}.{}", meta.hash.to_hex(), meta.media.extension()));
        let tmp = dir.join(format!("{}.{}{TMP}", meta.hash.to_hex(), meta.media.extension()));
        let copied = (|| -> Result<()> {
            let mut out = io::BufWriter::new(sealed_file::create_private(&tmp)?);
            sealed_file::copy_out(&self.cipher, &source, &meta.hash, &mut out)?;
            let file = out.into_inner().map_err(|e| e.into_error())?;
            file.sync_all()?;
            fs::rename(&tmp, &target)?;
            Ok(())
        })();
        if copied.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        self.after_read(&row, copied)?;
        self.opened(&row.name);
        Ok(target)
    }

    /// Transfers attachments (uploads after a sync) only on Wi-Fi. Kept in
    /// the store. Fetching a file ([`crate::sync::fetch_shared`]) is the
    /// user's own request and goes on any network.
    pub fn set_wifi_only(&mut self, wifi_only: bool) -> Result<()> {
        self.writable()?;
        let set = self.conn.execute("UPDATE device SET attach_wifi_only = ?1 WHERE id = 1", [wifi_only]);
        self.watch(set.map_err(Error::from)).map(drop)
    }

    /// Whether attachments upload only on Wi-Fi.
    pub fn wifi_only(&self) -> Result<bool> {
        self.live()?;
        let found = self.conn.query_row("SELECT attach_wifi_only FROM device WHERE id = 1", [], |r| r.get(0));
        self.watch(found.map_err(Error::from))
    }

    /// Tells the store which network the handset is on now (not kept: the
    /// app tells it again after a restart; until then it is
    /// [`NetworkKind::Unknown`]).
    pub fn set_network(&mut self, network: NetworkKind) {
        self.network = network;
    }

    /// The network the app said the handset is on.
    pub fn network(&self) -> NetworkKind {
        self.network
    }

    /// Sets the byte budget of the cache of fetched files, and evicts the
    /// least recently opened files over it now. Kept in the store.
    pub fn set_attachment_budget(&mut self, bytes: u64) -> Result<()> {
        self.writable()?;
        let budget = i64::try_from(bytes).unwrap_or(i64::MAX);
        let set = self.conn.execute("UPDATE device SET attach_budget = ?1 WHERE id = 1", [budget]);
        self.watch(set.map_err(Error::from))?;
        let dir = self.attachments_dir();
        let evicted = enforce_budget(&self.conn, &dir, None);
        self.watch(evicted)
    }

    /// The byte budget of the cache of fetched files.
    pub fn attachment_budget(&self) -> Result<u64> {
        self.live()?;
        let found =
            self.conn.query_row("SELECT attach_budget FROM device WHERE id = 1", [], |r| r.get::<_, i64>(0));
        Ok(self.watch(found.map_err(Error::from))?.max(0) as u64)
    }

    /// Bytes of attachment files held here (own and fetched).
    pub fn attachment_bytes(&self) -> Result<u64> {
        self.live()?;
        let found =
            self.conn.query_row("SELECT coalesce(sum(size), 0) FROM attachments", [], |r| r.get::<_, i64>(0));
        Ok(self.watch(found.map_err(Error::from))? as u64)
    }
}

/// Evicts the least recently opened files the cache may drop (fetched
/// ones, and own ones the server has) until those left fit the budget;
/// `keep` (the file just fetched) is not evicted.
pub(crate) fn enforce_budget(conn: &Connection, dir: &Path, keep: Option<&str>) -> Result<()> {
    let budget: i64 = conn.query_row("SELECT attach_budget FROM device WHERE id = 1", [], |r| r.get(0))?;
    let evictable: Vec<(String, i64)> = conn
        .prepare_cached(
            "SELECT name, size FROM attachments WHERE own = 0 OR uploaded = 1 ORDER BY opened_ms, added_ms",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut total: i64 = evictable.iter().map(|(_, size)| size).sum();
    let mut evicted = 0;
    for (name, size) in evictable {
        if total <= budget {
            break;
        }
        if keep == Some(name.as_str()) {
            continue;
        }
        conn.prepare_cached("DELETE FROM attachments WHERE name = ?1")?.execute([&name])?;
        remove_quietly(&dir.join(&name))?;
        total -= size;
        evicted += 1;
    }
    if evicted > 0 {
        tracing::info!(evicted, "attachments evicted from the cache to fit its budget");
    }
    Ok(())
}

/// Removes a file; one already gone is fine.
pub(crate) fn remove_quietly(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e.into()),
        _ => Ok(()),
    }
}

/// After records left the device: drops the files (and rows) no record it
/// holds references any longer, own or fetched, and what attaching or
/// fetching left behind; adopts a whole file a record references that has
/// no row (a store rebuilt by a repair keeps the directory) as this
/// device's own, to be uploaded if the server lacks it. Returns how many
/// files were dropped.
pub(crate) fn prune(conn: &Connection, cipher: &Cipher, dir: &Path) -> Result<u64> {
    let mut referenced: HashMap<String, (AttachmentRef, RecordId)> = HashMap::new();
    let mut stmt = conn.prepare("SELECT id, state FROM records")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let id = RecordId::from_slice(&row.get::<_, Vec<u8>>(0)?).ok_or(Error::Corrupt("record id"))?;
        let state = crate::store::sealed::open_state(cipher, id, &row.get::<_, Vec<u8>>(1)?)?;
        for reference in attachment::of_record(&state) {
            referenced.entry(file_name(cipher, &reference.hash)).or_insert((reference, id));
        }
    }
    drop(rows);
    drop(stmt);
    let names: Vec<String> = conn
        .prepare("SELECT name FROM attachments")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut dropped = 0u64;
    for name in &names {
        if !referenced.contains_key(name) {
            conn.prepare_cached("DELETE FROM attachments WHERE name = ?1")?.execute([name])?;
            dropped += 1;
        }
    }
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(dropped),
        Err(e) => return Err(e.into()),
    };
    let mut removed_any = false;
    for entry in entries {
        let entry = entry?;
        let file = entry.file_name();
        let Some(file) = file.to_str() else { continue };
        let (base, whole) = match file.strip_suffix(PART) {
            Some(base) => (base, false),
            None => (file, true),
        };
        let keep = match referenced.get(base) {
            Some((reference, record)) if whole => {
                if load_row(conn, base)?.is_none() {
                    let meta = Meta { hash: reference.hash, media: reference.media, record: *record };
                    insert_row(conn, cipher, base, reference.size, true, &meta)?;
                    tracing::info!("an attachment file kept by a repair was adopted back");
                }
                true
            }
            Some(_) => true,
            None => false,
        };
        if !keep {
            remove_quietly(&entry.path())?;
            removed_any = true;
        }
    }
    if removed_any {
        sync_dir(dir)?;
    }
    if dropped > 0 {
        tracing::info!(dropped, "attachments no record on this device references were deleted");
    }
    Ok(dropped)
}
