//! The filesystem blob store (`server/src/blobs/fs.rs`): the blob-store
//! conformance suite, and what it promises beyond it: a chunk sent again
//! replaces the one kept, a join whose bytes are not their hash keeps
//! nothing (no file, no temporary), and nothing is readable by other users.

use std::path::{Path, PathBuf};

use gridsync_proto::{ActorId, ContentHash};
use gridsync_server::blobs::{self, AttachmentSettings, FsBlobs};
use gridsync_server_core::blobs::{BlobError, BlobStore, UploadKey, check_conformance};

fn bytes(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8 ^ seed).collect()
}

/// Every regular file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test]
async fn the_filesystem_store_conforms() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FsBlobs::open(dir.path().join("blobs")).expect("open");
    check_conformance(&store).await;
    // Discarded uploads leave no chunk behind, and no temporary anywhere.
    assert!(files_under(&dir.path().join("blobs/uploads")).is_empty());
    let kept = files_under(&dir.path().join("blobs/files"));
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(!kept[0].file_name().expect("name").to_string_lossy().starts_with('.'));
}

#[tokio::test]
async fn a_chunk_sent_again_replaces_the_one_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FsBlobs::open(dir.path()).expect("open");
    let file = bytes(300_000, 7);
    let upload = UploadKey { device: ActorId::random(), hash: ContentHash::of(&file) };
    // A first try cut short, then the whole chunk.
    store.put_chunk(upload, 0, file[..1000].to_vec()).await.expect("short chunk");
    store.put_chunk(upload, 0, file[..262_144].to_vec()).await.expect("chunk again");
    store.put_chunk(upload, 262_144, file[262_144..].to_vec()).await.expect("last chunk");
    let joined = store.join(upload, file.len() as u64).await.expect("join");
    assert_eq!((joined.hash, joined.size), (upload.hash, file.len() as u64));
    assert_eq!(store.read(upload.hash, 0, file.len()).await.expect("read"), file);
    let hex = upload.hash.to_hex();
    assert_eq!(store.file_path(upload.hash), dir.path().join("files").join(&hex[..2]).join(&hex));
}

#[tokio::test]
async fn a_join_that_does_not_hash_to_its_name_keeps_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FsBlobs::open(dir.path()).expect("open");
    let file = bytes(50_000, 3);
    let lie = UploadKey { device: ActorId::random(), hash: ContentHash::of(b"another photo") };
    store.put_chunk(lie, 0, file[..20_000].to_vec()).await.expect("chunk");
    store.put_chunk(lie, 20_000, file[20_000..].to_vec()).await.expect("chunk");
    let joined = store.join(lie, file.len() as u64).await.expect("join");
    assert_eq!(joined.hash, ContentHash::of(&file));
    assert_eq!(store.size(lie.hash).await.expect("size"), None);
    assert!(matches!(store.read(lie.hash, 0, 10).await, Err(BlobError::NotFound)));
    assert!(files_under(&dir.path().join("files")).is_empty(), "not even a temporary file");
    // The chunks stay for the service to discard.
    assert_eq!(files_under(&dir.path().join("uploads")).len(), 2);
    store.discard(lie).await.expect("discard");
    assert!(files_under(&dir.path().join("uploads")).is_empty());
}

#[tokio::test]
async fn two_devices_uploading_one_file_do_not_share_chunks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FsBlobs::open(dir.path()).expect("open");
    let file = bytes(10_000, 9);
    let hash = ContentHash::of(&file);
    let (a, b) =
        (UploadKey { device: ActorId::random(), hash }, UploadKey { device: ActorId::random(), hash });
    store.put_chunk(a, 0, file.clone()).await.expect("a's chunk");
    store.put_chunk(b, 0, vec![0; 10_000]).await.expect("b's bad chunk");
    assert_ne!(store.join(b, 10_000).await.expect("b joins").hash, hash);
    assert_eq!(store.join(a, 10_000).await.expect("a joins").hash, hash);
    // Joining again once the file is stored leaves it as it is.
    assert_eq!(store.join(a, 10_000).await.expect("again").hash, hash);
    assert_eq!(store.read(hash, 0, 20_000).await.expect("read"), file);
}

#[cfg(unix)]
#[tokio::test]
async fn directories_are_0700_and_files_0600() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
    let data = tempfile::tempdir().expect("tempdir");
    let settings = AttachmentSettings::default();
    let store = blobs::open(&settings, data.path()).expect("open");
    assert_eq!(store.kind(), "fs");
    let root = data.path().join(blobs::BLOBS_DIR);
    let file = bytes(5_000, 1);
    let upload = UploadKey { device: ActorId::random(), hash: ContentHash::of(&file) };
    store.put_chunk(upload, 0, file.clone()).await.expect("chunk");
    let chunks = files_under(&root.join("uploads"));
    assert_eq!(chunks.len(), 1);
    assert_eq!(mode(&chunks[0]), 0o600, "{}", chunks[0].display());
    store.join(upload, 5_000).await.expect("join");
    let kept = files_under(&root.join("files"));
    assert_eq!(kept.len(), 1);
    assert_eq!(mode(&kept[0]), 0o600);
    let mut dirs = vec![root.clone(), root.join("files"), root.join("uploads")];
    dirs.extend(kept[0].parent().map(Path::to_owned));
    dirs.extend(chunks[0].ancestors().skip(1).take(2).map(Path::to_owned));
    for dir in dirs {
        assert_eq!(mode(&dir), 0o700, "{}", dir.display());
    }

    // A blobs directory left open to others is tightened on open.
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    FsBlobs::open(&root).expect("open again");
    assert_eq!(mode(&root), 0o700);
}

#[tokio::test]
async fn a_missing_blobs_directory_is_a_failure_not_an_absent_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FsBlobs::open(dir.path().join("blobs")).expect("open");
    std::fs::remove_dir_all(dir.path().join("blobs")).expect("remove");
    let hash = ContentHash::of(b"x");
    assert!(matches!(store.size(hash).await, Err(BlobError::Store(_))));
}

/// `/health` names the blob store, and a store that does not answer makes
/// the server not ready (the first `/health` is the first probe).
#[test]
fn health_names_the_store_and_fails_without_it() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let loopback = "127.0.0.1:0".parse().expect("an address");
    let data = tempfile::tempdir().expect("tempdir");
    let running = gridsync_server::Running::start(gridsync_server::Settings::new(data.path(), loopback))
        .expect("the server starts");
    let answer = reqwest::blocking::get(format!("{}/health", running.url())).expect("an answer");
    assert_eq!(answer.status().as_u16(), 200);
    let body: serde_json::Value = answer.json().expect("JSON");
    assert_eq!((&body["status"], &body["blobs"]), (&"ok".into(), &"fs".into()), "{body}");
    assert!(data.path().join("blobs/files").is_dir() && data.path().join("blobs/uploads").is_dir());
    drop(running);

    let other = tempfile::tempdir().expect("tempdir");
    let running = gridsync_server::Running::start(gridsync_server::Settings::new(other.path(), loopback))
        .expect("the server starts");
    std::fs::remove_dir_all(other.path().join("blobs")).expect("the blobs directory goes");
    let answer = reqwest::blocking::get(format!("{}/health", running.url())).expect("an answer");
    assert_eq!(answer.status().as_u16(), 503);
    let body: serde_json::Value = answer.json().expect("JSON");
    assert_eq!((&body["reason"], &body["blobs"]), (&"blobs_unavailable".into(), &"fs".into()), "{body}");
    drop(running);

    // Limits out of bounds are refused before anything is opened.
    let mut settings = gridsync_server::Settings::new(data.path().join("other"), loopback);
    settings.attachments.max_file_mb = 50;
    let err = gridsync_server::Running::start(settings).expect_err("refused").to_string();
    assert!(err.contains("attachments.max_file_mb is 50: give 1 to 20"), "{err}");
    assert!(!data.path().join("other").exists());
}

/// A chunk resent while the first send is still being written (two server
/// workers, one flaky link) leaves one whole chunk, never a mix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sends_of_one_chunk_leave_one_whole_chunk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = std::sync::Arc::new(FsBlobs::open(dir.path()).expect("open"));
    let file = bytes(200_000, 4);
    let upload = UploadKey { device: ActorId::random(), hash: ContentHash::of(&file) };
    let sends: Vec<_> = (0..8)
        .map(|_| {
            let (store, file) = (store.clone(), file.clone());
            tokio::spawn(async move { store.put_chunk(upload, 0, file).await })
        })
        .collect();
    for send in sends {
        send.await.expect("a task").expect("kept");
    }
    assert_eq!(files_under(&dir.path().join("uploads")).len(), 1, "one chunk, no temporary");
    assert_eq!(store.join(upload, file.len() as u64).await.expect("join").hash, upload.hash);
}
