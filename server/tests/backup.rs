//! `backup`, `restore`, `epoch` and `audit verify` with an expected head, as
//! run from a shell (ADR 0026): a backup is private and matches its
//! manifest; a restore keeps the replaced database aside and gives a new
//! epoch; a truncated or rewritten chain fails against its anchor; a restore
//! is refused while a server holds the data directory, and a backup that
//! does not match its manifest is refused, both changing nothing.

use std::path::Path;
use std::process::{Command, Output};

fn run(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gridsync-server"))
        .arg("--data")
        .arg(data)
        .args(args)
        .current_dir(data.parent().expect("a parent"))
        .output()
        .expect("the binary runs")
}

fn ok(data: &Path, args: &[&str]) -> String {
    let out = run(data, args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

fn fails(data: &Path, args: &[&str]) -> String {
    let out = run(data, args);
    assert!(!out.status.success(), "{args:?} should fail: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8(out.stderr).expect("utf-8")
}

/// The head `audit verify` prints: `ROWS:HASH`.
fn head(data: &Path) -> String {
    let verified = ok(data, &["audit", "verify"]);
    let head = verified.trim().rsplit(' ').next().expect("a head").to_owned();
    assert!(head.contains(':'), "{verified}");
    head
}

#[test]
fn a_backup_restores_with_a_new_epoch_and_anchors_the_audit_chain() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    ok(&data, &["demo", "--days", "2", "--villages", "1", "--grids", "1"]);
    let epoch_before = ok(&data, &["epoch", "show"]).trim().to_owned();
    assert_eq!(epoch_before.len(), 16, "{epoch_before}");

    let file = dir.path().join("backups").join("gridsync-1.db");
    std::fs::create_dir_all(file.parent().expect("a parent")).expect("mkdir");
    let json = ok(&data, &["backup", "--to", file.to_str().expect("utf-8"), "--json"]);
    let manifest: serde_json::Value = serde_json::from_str(&json).expect("the manifest as JSON");
    let written: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("backups/gridsync-1.db.manifest.json")).expect("manifest"),
    )
    .expect("JSON");
    assert_eq!(manifest, written, "the manifest printed is the one written");
    assert_eq!(manifest["server_epoch"], epoch_before.as_str());
    assert_eq!(manifest["bytes"].as_u64(), Some(std::fs::metadata(&file).expect("the copy").len()));
    assert!(manifest["log_position"].as_u64().expect("a position") > 0, "{manifest}");
    let anchored =
        format!("{}:{}", manifest["audit"]["rows"], manifest["audit"]["head"].as_str().expect("hex"));
    assert_eq!(head(&data), anchored, "the manifest's head is the database's");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).expect("the copy").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "only the owner reads a backup: {mode:o}");
    }
    let leftovers: Vec<_> = std::fs::read_dir(file.parent().expect("a parent"))
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(leftovers.len(), 2, "the copy and its manifest, no temporary file: {leftovers:?}");
    let manifest_arg = format!("{}.manifest.json", file.display());
    assert!(ok(&data, &["audit", "verify", "--manifest", &manifest_arg]).contains("holds the expected head"));

    // More happens after the backup; its head is noted.
    ok(&data, &["place", "add", "X-1", "--name", "新村", "--level", "village"]);
    ok(&data, &["place", "add", "X-2", "--name", "新村二", "--level", "village"]);
    let later = head(&data);

    // A restore is refused while a server holds the data directory.
    let serving = gridsync_server::backend::lock_data_dir(&data).expect("the serve lock");
    let refused = fails(&data, &["restore", "--from", file.to_str().expect("utf-8")]);
    assert!(refused.contains("already serving") && refused.contains("stop it first"), "{refused}");
    assert_eq!(ok(&data, &["epoch", "show"]).trim(), epoch_before, "nothing changed");
    drop(serving);

    // A copy that is not its manifest's is refused.
    let forged = dir.path().join("backups/forged.db");
    let mut bytes = std::fs::read(&file).expect("read");
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&forged, bytes).expect("write");
    std::fs::copy(&manifest_arg, format!("{}.manifest.json", forged.display())).expect("copy");
    let refused = fails(&data, &["restore", "--from", forged.to_str().expect("utf-8")]);
    assert!(
        refused.contains("does not match its manifest") && refused.contains("nothing was changed"),
        "{refused}"
    );
    let no_manifest = dir.path().join("backups/alone.db");
    std::fs::copy(&file, &no_manifest).expect("copy");
    assert!(fails(&data, &["restore", "--from", no_manifest.to_str().expect("utf-8")]).contains("manifest"));

    let restored = ok(&data, &["restore", "--from", file.to_str().expect("utf-8")]);
    assert!(restored.contains("new server epoch") && restored.contains("kept as"), "{restored}");
    let epoch_after = ok(&data, &["epoch", "show"]).trim().to_owned();
    assert_ne!(epoch_after, epoch_before, "a restore makes a new epoch");
    let kept: Vec<_> = std::fs::read_dir(&data)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("gridsync.db.replaced-"))
        .collect();
    assert_eq!(kept.len(), 1, "the replaced database is kept aside: {kept:?}");

    // The restored chain holds the backup's head (plus the restore's own row),
    // but not the head noted after the backup: its tail is gone.
    assert!(ok(&data, &["audit", "verify", "--manifest", &manifest_arg]).contains("holds the expected head"));
    let truncated = run(&data, &["audit", "verify", "--expect-head", &later]);
    assert_eq!(truncated.status.code(), Some(1));
    let said = String::from_utf8_lossy(&truncated.stderr);
    assert!(said.contains("TRUNCATED") && said.contains(&later), "{said}");
    // The database kept aside still holds it.
    let aside = dir.path().join("aside");
    std::fs::create_dir_all(&aside).expect("mkdir");
    std::fs::copy(data.join(&kept[0]), aside.join("gridsync.db")).expect("copy");
    assert!(ok(&aside, &["audit", "verify", "--expect-head", &later]).contains("holds the expected head"));

    // A head of another chain (or a rewritten one) diverges.
    let rows = later.split(':').next().expect("rows");
    let other = format!("{rows}:{}", "ab".repeat(32));
    let altered = fails(&aside, &["audit", "verify", "--expect-head", &other]);
    assert!(altered.contains("ALTERED"), "{altered}");
    let malformed = fails(&aside, &["audit", "verify", "--expect-head", "12"]);
    assert!(malformed.contains("ROWS:HASH"), "{malformed}");

    // A renewed epoch is another one again.
    let renewed = ok(&data, &["epoch", "renew"]);
    assert!(renewed.contains(&epoch_after), "{renewed}");
    assert_ne!(ok(&data, &["epoch", "show"]).trim(), epoch_after);
}

/// With the `fs` attachment store, a backup copies the whole attachment
/// files beside the database copy (not uploads in progress, not a file
/// whose bytes are not its name), and a restore brings them back; a backup
/// missing some of its manifest's attachments is refused.
#[test]
fn a_backup_carries_the_attachments_and_a_restore_brings_them_back() {
    use gridsync_proto::{ActorId, ContentHash};
    use gridsync_server::blobs::FsBlobs;
    use gridsync_server_core::blobs::{BlobStore, UploadKey};

    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    ok(&data, &["demo", "--days", "1", "--villages", "1", "--grids", "1"]);
    let store = FsBlobs::open(data.join("blobs")).expect("the store");
    let photo: Vec<u8> = (0..300_000u32).map(|i| (i % 241) as u8).collect();
    let agreement = b"%PDF-1.7\n signed mediation agreement".to_vec();
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
    let device = ActorId::random();
    runtime.block_on(async {
        for file in [&photo, &agreement] {
            let upload = UploadKey { device, hash: ContentHash::of(file) };
            store.put_chunk(upload, 0, file.clone()).await.expect("chunk");
            store.join(upload, file.len() as u64).await.expect("join");
            store.discard(upload).await.expect("discard");
        }
        // An upload in progress is not backed up.
        let pending = UploadKey { device, hash: ContentHash::of(b"pending") };
        store.put_chunk(pending, 0, b"pend".to_vec()).await.expect("chunk");
    });
    // A file damaged on disk: its bytes are no longer its name.
    let damaged = ContentHash::of(b"damaged");
    let damaged_path = store.file_path(damaged);
    std::fs::create_dir_all(damaged_path.parent().expect("a parent")).expect("mkdir");
    std::fs::write(&damaged_path, b"bit rot").expect("write");

    let file = dir.path().join("backups/gs.db");
    std::fs::create_dir_all(file.parent().expect("a parent")).expect("mkdir");
    let out = run(&data, &["backup", "--to", file.to_str().expect("utf-8"), "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("1 attachment files in the data directory are damaged"), "{said}");
    let manifest: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let bytes = (photo.len() + agreement.len()) as u64;
    assert_eq!(manifest["blobs"], serde_json::json!({ "dir": "gs.db.blobs", "files": 2, "bytes": bytes }));
    let copied = dir.path().join("backups/gs.db.blobs/files");
    for file in [&photo, &agreement] {
        let hex = ContentHash::of(file).to_hex();
        let path = copied.join(&hex[..2]).join(&hex);
        assert_eq!(&std::fs::read(&path).expect("copied"), file);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).expect("copied").permissions().mode() & 0o777, 0o600);
        }
    }
    assert!(
        !copied.join(&damaged.to_hex()[..2]).join(damaged.to_hex()).exists(),
        "the damaged file is left out"
    );
    assert!(!dir.path().join("backups/gs.db.blobs/uploads").exists(), "uploads in progress are not copied");

    // The attachments are lost; the restore brings them back.
    std::fs::remove_dir_all(data.join("blobs")).expect("lost");
    let restored = ok(&data, &["restore", "--from", file.to_str().expect("utf-8")]);
    assert!(restored.contains("attachments: 2 files copied back"), "{restored}");
    let store = FsBlobs::open(data.join("blobs")).expect("the store");
    runtime.block_on(async {
        for file in [&photo, &agreement] {
            let back = store.read(ContentHash::of(file), 0, file.len()).await.expect("restored");
            assert_eq!(&back, file);
        }
    });

    // A backup whose attachments directory lacks one is refused.
    let hex = ContentHash::of(&agreement).to_hex();
    std::fs::remove_file(copied.join(&hex[..2]).join(&hex)).expect("remove");
    let refused = fails(&data, &["restore", "--from", file.to_str().expect("utf-8")]);
    assert!(
        refused.contains("holds 1 whole files (0 damaged), the manifest 2")
            && refused.contains("nothing was changed"),
        "{refused}"
    );
}
