//! `gridsync-server backup`, `restore` and `epoch renew` (ADR 0026).
//!
//! * **Backup** (embedded database): an online, consistent copy made with
//!   SQLite's `VACUUM INTO` from one read transaction while `serve` goes on
//!   committing ([`gridsync_server_sqlite::backup`]). It is written under a
//!   temporary name with mode 0600, checked (`integrity_check`, the audit
//!   chain walked), fsynced, renamed into place and its directory fsynced;
//!   then its [`Manifest`] (`FILE.manifest.json`, same care): when, the
//!   schema version, the server epoch, the log's last position, the audit
//!   chain's head (rows and last hash) and the file's size and SHA-256. The
//!   manifest is the audit chain's anchor outside the chain: `audit verify
//!   --manifest FILE.manifest.json` tells a truncated chain.
//! * **Restore** (embedded database): refused while a server holds the data
//!   directory's `serve.lock` (it takes the lock itself for the whole
//!   restore). The file must match its manifest (size, SHA-256), pass
//!   `integrity_check`, and its chain and facts must be the manifest's.
//!   It is staged beside the database, given a **new server epoch** and an
//!   audit row, and renamed into place; the replaced database is kept aside
//!   (`gridsync.db.replaced-MILLIS`), never deleted.
//! * **PostgreSQL**: `pg_dump` / `pg_restore` (docs/OPERATIONS.md), then
//!   `epoch renew` on the restored database; `backup` and `restore` say so.
//! * **Attachments** of the `fs` store: after the database copy (so every
//!   file the copy knows as whole is there), the whole files of
//!   `<data>/blobs/files` are copied into `FILE.blobs/files` beside it, each
//!   checked against its hash and fsynced (uploads in progress are not: a
//!   device resends them); the manifest counts them. A restore copies them
//!   back before the database is put in place. With the `s3` store the
//!   files stay in the bucket: its versioning is their backup.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use gridsync_server_core::audit::{Anchor, Event};
use gridsync_server_core::clock::now_ms;
use gridsync_server_core::service::epoch::{Renewal, new_epoch, show};
use gridsync_server_core::service::{Caller, ServiceSettings};
use gridsync_server_sqlite::DB_FILE;
use gridsync_server_sqlite::backup::{self as copy, Facts};
use serde::{Deserialize, Serialize};

use crate::backend::{Database, lock_data_dir};
use crate::blobs::AttachmentSettings;
use crate::blobs::fs::{FILES_DIR, copy_files};
use crate::operator::Operator;

/// What a manifest's `format` says.
pub const MANIFEST_FORMAT: &str = "gridsync-backup/1";
/// The largest manifest read.
const MAX_MANIFEST_BYTES: u64 = 64 * 1024;

/// What `backup` wrote beside the copy (`FILE.manifest.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`MANIFEST_FORMAT`].
    pub format: String,
    /// When the copy was made (Unix ms, the server's clock).
    pub created_ms: u64,
    /// The copy's file name (in the manifest's directory).
    pub file: String,
    /// The copy's size in bytes.
    pub bytes: u64,
    /// The copy's SHA-256 (hex).
    pub sha256: String,
    /// The copy's schema version.
    pub schema_version: u32,
    /// The server epoch of the copy (16 hex digits).
    pub server_epoch: String,
    /// The log's last position in the copy.
    pub log_position: u64,
    /// The audit chain's head in the copy.
    pub audit: AuditHead,
    /// The attachments copied beside it (`FILE.blobs`), if the data
    /// directory had any (older manifests have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blobs: Option<BlobsCopy>,
}

/// The attachments a backup holds beside its copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobsCopy {
    /// Their directory's name, in the manifest's directory (`FILE.blobs`).
    pub dir: String,
    /// How many files.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// The audit chain's head: its row count and its last row's hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditHead {
    /// Rows in the chain.
    pub rows: u64,
    /// The last row's hash (hex; empty for an empty chain).
    pub head: String,
}

impl Manifest {
    /// The audit chain's head as an [`Anchor`] for `audit verify`.
    pub fn anchor(&self) -> Anchor {
        Anchor { rows: self.audit.rows, head: self.audit.head.clone() }
    }
}

/// What `backup` did.
#[derive(Debug, Clone)]
pub struct Made {
    /// The copy's manifest.
    pub manifest: Manifest,
    /// Where the manifest was written.
    pub manifest_path: PathBuf,
    /// How long the copy took, checks included.
    pub took: Duration,
    /// Attachments left out because their bytes are not their hash
    /// (damaged on disk; each is logged).
    pub damaged_blobs: u64,
}

/// What `restore` did.
#[derive(Debug, Clone)]
pub struct Restored {
    /// The restored copy's manifest.
    pub manifest: Manifest,
    /// The server's new epoch.
    pub epoch: u64,
    /// Where the replaced database was kept (none when there was none).
    pub kept: Option<PathBuf>,
    /// How many attachments were copied back into `<data>/blobs` (the
    /// others it holds were there already).
    pub blobs_written: u64,
}

/// The attachments' directory beside the copy `file`: `FILE.blobs`.
pub fn blobs_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".blobs");
    PathBuf::from(name)
}

/// The manifest's path for the copy `file`: `FILE.manifest.json`.
pub fn manifest_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".manifest.json");
    PathBuf::from(name)
}

/// Reads a manifest (at most 64 KiB; its content is never echoed).
pub fn read_manifest(path: &Path) -> anyhow::Result<Manifest> {
    let file = File::open(path).with_context(|| format!("cannot read the manifest {}", path.display()))?;
    let mut text = String::new();
    file.take(MAX_MANIFEST_BYTES + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("{} is not a gridsync backup manifest", path.display()))?;
    if text.len() as u64 > MAX_MANIFEST_BYTES {
        bail!("{} is not a gridsync backup manifest (larger than 64 KiB)", path.display());
    }
    let manifest: Manifest = serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "{} is not a gridsync backup manifest ({} at line {}, column {})",
            path.display(),
            e.classify_kind(),
            e.line(),
            e.column()
        )
    })?;
    if manifest.format != MANIFEST_FORMAT {
        bail!("{} is not a gridsync backup manifest of format {MANIFEST_FORMAT}", path.display());
    }
    Ok(manifest)
}

/// What a serde_json error is, without the input.
trait Classify {
    fn classify_kind(&self) -> &'static str;
}

impl Classify for serde_json::Error {
    fn classify_kind(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "unreadable",
            serde_json::error::Category::Syntax => "not JSON",
            serde_json::error::Category::Data => "a field is missing or of the wrong type",
            serde_json::error::Category::Eof => "cut short",
        }
    }
}

/// `backup --to FILE`: an online, consistent copy of the embedded database
/// and its manifest.
pub fn backup(database: &Database, to: &Path) -> anyhow::Result<Made> {
    let data_dir = match database {
        Database::Embedded { data_dir } => data_dir,
        Database::Postgres { .. } => bail!(
            "backup copies the embedded database; a PostgreSQL database is backed up with pg_dump \
             (see docs/OPERATIONS.md: note `audit verify`'s head first, and after pg_restore run \
             `gridsync-server --database URL epoch renew`)"
        ),
    };
    let source = data_dir.join(DB_FILE);
    if !source.is_file() {
        bail!("no server database in {}", data_dir.display());
    }
    if to.is_dir() {
        bail!("--to names a directory ({}): give the file to write", to.display());
    }
    let started = Instant::now();
    let tmp = temporary(to)?;
    let made = (|| {
        create_private(&tmp)?;
        copy::copy_online(&source, &tmp).context("the copy failed")?;
        fsync(&tmp)?;
        let facts = copy::inspect(&tmp).context("the copy does not check out")?;
        let (bytes, sha256) = digest(&tmp)?;
        let file = to.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let manifest = manifest_of(&facts, file, bytes, sha256);
        rename_durably(&tmp, to)?;
        anyhow::Ok(manifest)
    })();
    let mut damaged_blobs = 0;
    let manifest = match made {
        Ok(manifest) => manifest,
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
    };
    let mut manifest = manifest;
    let files = AttachmentSettings::fs_root(data_dir).join(FILES_DIR);
    if files.is_dir() {
        let beside = blobs_path(to);
        let copied = copy_files(&files, &beside.join(FILES_DIR))
            .with_context(|| format!("cannot copy the attachments into {}", beside.display()))?;
        damaged_blobs = copied.damaged;
        let dir = beside.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        manifest.blobs = Some(BlobsCopy { dir, files: copied.files, bytes: copied.bytes });
    }
    let manifest_path = manifest_path(to);
    let text = serde_json::to_string_pretty(&manifest)? + "\n";
    write_durably(&manifest_path, text.as_bytes())?;
    Ok(Made { manifest, manifest_path, took: started.elapsed(), damaged_blobs })
}

/// `restore --from FILE`: puts a verified backup in place of the embedded
/// database, with a new server epoch, keeping the replaced database aside.
pub fn restore(database: &Database, from: &Path) -> anyhow::Result<Restored> {
    let data_dir = match database {
        Database::Embedded { data_dir } => data_dir,
        Database::Postgres { .. } => bail!(
            "restore puts a backup of the embedded database in place; a PostgreSQL database is \
             restored with pg_restore, after which `gridsync-server --database URL epoch renew` gives \
             it a new server epoch so that devices re-send what it lost (see docs/OPERATIONS.md)"
        ),
    };
    if !from.is_file() {
        bail!("no backup file {}", from.display());
    }
    fs::create_dir_all(data_dir).with_context(|| format!("cannot create {}", data_dir.display()))?;
    let _serving = lock_data_dir(data_dir)?;
    let manifest = read_manifest(&manifest_path(from))?;
    let refuse = |why: String| {
        anyhow::anyhow!("{} does not match its manifest: {why}; nothing was changed", from.display())
    };
    let (bytes, sha256) = digest(from)?;
    if bytes != manifest.bytes || sha256 != manifest.sha256 {
        return Err(refuse(format!(
            "{bytes} bytes with SHA-256 {sha256}, the manifest says {} bytes with {}",
            manifest.bytes, manifest.sha256
        )));
    }
    copy::check_file(from).with_context(|| format!("{} cannot be restored", from.display()))?;

    let staged = data_dir.join(format!("{DB_FILE}.restoring"));
    for stale in [staged.clone(), wal_of(&staged, "-wal"), wal_of(&staged, "-shm")] {
        let _ = fs::remove_file(stale);
    }
    let result = (|| {
        copy_private(from, &staged)?;
        copy::upgrade(&staged).context("the backup's schema cannot be upgraded")?;
        let facts =
            copy::inspect(&staged).with_context(|| format!("{} cannot be restored", from.display()))?;
        check_facts(&manifest, &facts, &staged).map_err(refuse)?;
        let blobs_written = restore_blobs(&manifest, from, data_dir).map_err(refuse)?;
        let epoch = new_epoch()?;
        let event = Event::new("cli", "server.restore", manifest.file.clone(), "ok").detail(format!(
            "backup of epoch {} at log position {} with {} audit rows; new epoch {}",
            manifest.server_epoch,
            manifest.log_position,
            manifest.audit.rows,
            show(epoch)
        ));
        copy::renew(&staged, epoch, now_ms(), &event)
            .context("cannot give the restored database its epoch")?;
        fsync(&staged)?;
        anyhow::Ok((epoch, blobs_written))
    })();
    let (epoch, blobs_written) = match result {
        Ok(done) => done,
        Err(e) => {
            let _ = fs::remove_file(&staged);
            return Err(e);
        }
    };
    let current = data_dir.join(DB_FILE);
    let mut kept = None;
    if current.exists() {
        match copy::fold_wal(&current) {
            Ok(()) => {}
            Err(copy::BackupError::InUse) => {
                let _ = fs::remove_file(&staged);
                bail!(
                    "the database in {} is in use by another gridsync-server command: let it finish, \
                     then restore; nothing was changed",
                    data_dir.display()
                );
            }
            // A damaged database (the reason for many a restore) is moved
            // aside as it is, with its WAL.
            Err(e) => tracing::warn!(error = %e, "the replaced database's WAL could not be folded in"),
        }
        let aside = data_dir.join(format!("{DB_FILE}.replaced-{}", now_ms()));
        fs::rename(&current, &aside).with_context(|| format!("cannot move {} aside", current.display()))?;
        for suffix in ["-wal", "-shm"] {
            let side = wal_of(&current, suffix);
            if side.exists() {
                let _ = fs::rename(&side, wal_of(&aside, suffix));
            }
        }
        kept = Some(aside);
    }
    for suffix in ["-wal", "-shm"] {
        // Empty: the staged copy left WAL mode with its WAL folded in.
        let _ = fs::remove_file(wal_of(&staged, suffix));
    }
    rename_durably(&staged, &current)?;
    Ok(Restored { manifest, epoch, kept, blobs_written })
}

/// `epoch renew`: a new server epoch, for a database restored by other
/// means (pg_restore).
pub fn renew_epoch(database: &Database) -> anyhow::Result<Renewal> {
    if let Database::Embedded { data_dir } = database
        && !data_dir.join(DB_FILE).exists()
    {
        bail!("no server database in {}", data_dir.display());
    }
    let operator = Operator::open(database, ServiceSettings::default())?;
    operator.run(operator.service().renew_epoch(&Caller::Operator, "renewed by the operator"))
}

/// Copies the backup's attachments (if its manifest has any) into
/// `<data>/blobs/files`, each checked against its hash; refused when the
/// backup's directory lacks some the manifest counts. Returns how many were
/// written (the others were there).
fn restore_blobs(manifest: &Manifest, from: &Path, data_dir: &Path) -> Result<u64, String> {
    let Some(expected) = &manifest.blobs else { return Ok(0) };
    let beside = from.with_file_name(&expected.dir).join(FILES_DIR);
    if !beside.is_dir() {
        return Err(format!("its attachments directory {} is missing", beside.display()));
    }
    let into = AttachmentSettings::fs_root(data_dir).join(FILES_DIR);
    let copied =
        copy_files(&beside, &into).map_err(|e| format!("its attachments cannot be copied back ({e})"))?;
    if copied.files < expected.files || copied.damaged > 0 {
        return Err(format!(
            "its attachments directory holds {} whole files ({} damaged), the manifest {}",
            copied.files, copied.damaged, expected.files
        ));
    }
    Ok(copied.written)
}

/// Whether the staged copy holds what the manifest says.
fn check_facts(manifest: &Manifest, facts: &Facts, staged: &Path) -> Result<(), String> {
    if facts.audit_rows < manifest.audit.rows {
        return Err(format!(
            "its audit chain has {} rows, the manifest {}",
            facts.audit_rows, manifest.audit.rows
        ));
    }
    if manifest.audit.rows > 0 {
        let at = copy::audit_hash_at(staged, manifest.audit.rows).map_err(|e| e.to_string())?;
        if at.as_deref().map(gridsync_proto::auth::hex).as_deref() != Some(manifest.audit.head.as_str()) {
            return Err(format!("its audit chain's row {} is not the manifest's head", manifest.audit.rows));
        }
    }
    if facts.schema_version == manifest.schema_version {
        if show(facts.server_epoch) != manifest.server_epoch {
            return Err(format!(
                "its server epoch is {}, the manifest's {}",
                show(facts.server_epoch),
                manifest.server_epoch
            ));
        }
        if facts.log_position != manifest.log_position {
            return Err(format!(
                "its log ends at {}, the manifest's at {}",
                facts.log_position, manifest.log_position
            ));
        }
    }
    Ok(())
}

fn manifest_of(facts: &Facts, file: String, bytes: u64, sha256: String) -> Manifest {
    Manifest {
        format: MANIFEST_FORMAT.to_owned(),
        created_ms: now_ms(),
        file,
        bytes,
        sha256,
        schema_version: facts.schema_version,
        server_epoch: show(facts.server_epoch),
        log_position: facts.log_position,
        audit: AuditHead {
            rows: facts.audit_rows,
            head: if facts.audit_rows == 0 {
                String::new()
            } else {
                gridsync_proto::auth::hex(&facts.audit_head)
            },
        },
        blobs: None,
    }
}

/// A temporary name beside `to`: `.NAME.tmp-PID`.
fn temporary(to: &Path) -> anyhow::Result<PathBuf> {
    let name = to.file_name().with_context(|| format!("--to names no file: {}", to.display()))?;
    let mut tmp = std::ffi::OsString::from(".");
    tmp.push(name);
    tmp.push(format!(".tmp-{}", std::process::id()));
    Ok(to.with_file_name(tmp))
}

/// Creates an empty file readable by its owner only (0600); refused if it exists.
fn create_private(path: &Path) -> anyhow::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).with_context(|| format!("cannot create {}", path.display()))
}

/// Copies `from` into a new private file `to`, fsynced.
fn copy_private(from: &Path, to: &Path) -> anyhow::Result<()> {
    let mut out = create_private(to)?;
    let mut input = File::open(from).with_context(|| format!("cannot read {}", from.display()))?;
    std::io::copy(&mut input, &mut out).with_context(|| format!("cannot write {}", to.display()))?;
    out.sync_all().with_context(|| format!("cannot sync {}", to.display()))
}

/// Writes `bytes` to `path` durably: a private temporary file, fsynced,
/// renamed into place, the directory fsynced.
fn write_durably(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = temporary(path)?;
    let written = (|| {
        let mut file = create_private(&tmp)?;
        file.write_all(bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
        file.sync_all().with_context(|| format!("cannot sync {}", tmp.display()))?;
        rename_durably(&tmp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

/// Renames `from` to `to` and fsyncs the directory, so the rename survives a crash.
fn rename_durably(from: &Path, to: &Path) -> anyhow::Result<()> {
    fs::rename(from, to).with_context(|| format!("cannot rename {} to {}", from.display(), to.display()))?;
    let dir = to.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot sync the directory {}", dir.display()))
}

fn fsync(path: &Path) -> anyhow::Result<()> {
    File::open(path).and_then(|f| f.sync_all()).with_context(|| format!("cannot sync {}", path.display()))
}

/// A file's size and SHA-256 (hex).
fn digest(path: &Path) -> anyhow::Result<(u64, String)> {
    let mut file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let (mut buf, mut bytes) = (vec![0u8; 1 << 20], 0u64);
    loop {
        let n = file.read(&mut buf).with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        ctx.update(&buf[..n]);
        bytes += n as u64;
    }
    Ok((bytes, gridsync_proto::auth::hex(ctx.finish().as_ref())))
}

/// `PATH-wal` or `PATH-shm`.
fn wal_of(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_sits_beside_the_copy_and_a_bad_one_is_refused_without_echo() {
        assert_eq!(manifest_path(Path::new("/b/gs-1.db")), PathBuf::from("/b/gs-1.db.manifest.json"));
        assert_eq!(
            temporary(Path::new("/b/gs.db")).expect("a file").file_name().expect("a name").to_string_lossy(),
            format!(".gs.db.tmp-{}", std::process::id())
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let bad = dir.path().join("m.json");
        fs::write(&bad, "secret-line-1\n").expect("write");
        let err = read_manifest(&bad).expect_err("not JSON").to_string();
        assert!(err.contains("not a gridsync backup manifest") && !err.contains("secret"), "{err}");
        fs::write(&bad, "{\"format\":\"other\"}").expect("write");
        assert!(read_manifest(&bad).is_err());
    }
}
