//! The S3 blob store (`server/src/blobs/s3.rs`) against moto_server, a
//! local S3 look-alike from `tests/requirements.txt`: the blob-store
//! conformance suite, a 1 MiB file joined from four chunks (one `PUT`), a
//! 6 MiB file joined from 24 (a multipart upload), a multipart join whose
//! bytes are not their hash (aborted: nothing kept), discard leaving no
//! chunk in the bucket, and a server on the bucket ready on `/health`.
//!
//! moto_server is `GRIDSYNC_MOTO_SERVER`, or `.venv/bin/moto_server` at the
//! workspace's root; without it the test fails, saying how to install it.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use futures_util::TryStreamExt;
use gridsync_proto::{ActorId, ContentHash};
use gridsync_server::blobs::{self, AttachmentSettings, S3Blobs, S3Settings, StoreKind};
use gridsync_server_core::blobs::{BlobError, BlobStore, UploadKey, check_conformance};
use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;

/// The command that makes the virtual environment moto_server runs from
/// (README, Set up; `.ci/run` runs it).
const SETUP: &str = "python3 -m venv .venv && .venv/bin/pip install -r tests/requirements.txt";

/// How long moto_server may take to say it listens.
const STARTS_WITHIN: Duration = Duration::from_secs(60);

const CHUNK: usize = gridsync_proto::attachment::CHUNK_BYTES;

/// `GRIDSYNC_MOTO_SERVER`, or `.venv/bin/moto_server` at the workspace's root.
fn moto_server() -> PathBuf {
    match std::env::var_os("GRIDSYNC_MOTO_SERVER") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("the workspace")
            .join(".venv/bin/moto_server"),
    }
}

/// A moto_server on a free loopback port, killed when dropped.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Moto {
    fn start() -> Moto {
        let program = moto_server();
        assert!(
            program.exists(),
            "SETUP: moto_server is not at {}: from the workspace's root, run `{SETUP}` \
             (or point GRIDSYNC_MOTO_SERVER at a moto_server executable)",
            program.display()
        );
        let mut child = Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("moto_server starts");
        let stderr = child.stderr.take().expect("piped");
        let (tx, rx) = mpsc::channel();
        // Werkzeug says where it listens, then logs every request: read it
        // all, so that the pipe never fills.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(at) = line.find("Running on http://") {
                    let url = line[at + "Running on ".len()..].split_whitespace().next().unwrap_or_default();
                    let _ = tx.send(url.to_owned());
                }
            }
        });
        let endpoint = match rx.recv_timeout(STARTS_WITHIN) {
            Ok(url) => url,
            Err(e) => {
                let _ = child.kill();
                panic!("moto_server did not say where it listens within {STARTS_WITHIN:?}: {e}");
            }
        };
        Moto { child, endpoint }
    }

    /// Makes a bucket (moto takes unsigned requests).
    async fn bucket(&self, name: &str) {
        let answer = reqwest::Client::new()
            .put(format!("{}/{name}", self.endpoint))
            .send()
            .await
            .expect("moto answers");
        assert!(answer.status().is_success(), "create bucket: {}", answer.status());
    }

    fn settings(&self, bucket: &str, prefix: &str) -> S3Settings {
        S3Settings {
            endpoint: Some(self.endpoint.clone()),
            bucket: bucket.to_owned(),
            region: "us-east-1".into(),
            prefix: prefix.to_owned(),
            allow_http: true,
            virtual_hosted_style: false,
            access_key_id: Some("testing".into()),
            secret_access_key: Some("testing".into()),
        }
    }

    /// Every key in the bucket under `prefix`.
    async fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let store = AmazonS3Builder::new()
            .with_endpoint(&self.endpoint)
            .with_bucket_name(bucket)
            .with_region("us-east-1")
            .with_access_key_id("testing")
            .with_secret_access_key("testing")
            .with_allow_http(true)
            .build()
            .expect("a client");
        let listed: Vec<_> = store.list(Some(&Path::from(prefix))).try_collect().await.expect("list");
        listed.into_iter().map(|meta| meta.location.to_string()).collect()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn bytes(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| ((i / 7) % 251) as u8 ^ seed).collect()
}

/// Uploads `file` in protocol-sized chunks under `upload`.
async fn upload_chunks(store: &dyn BlobStore, upload: UploadKey, file: &[u8]) {
    for (n, chunk) in file.chunks(CHUNK).enumerate() {
        store.put_chunk(upload, (n * CHUNK) as u64, chunk.to_vec()).await.expect("chunk");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_s3_store_conforms_and_joins_large_files_against_moto() {
    // The test's own HTTP clients need the process's TLS provider, as the
    // server's do (S3Blobs::new installs it).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let moto = Moto::start();
    moto.bucket("gridsync").await;

    // The conformance suite, through the settings as `serve` opens them.
    let settings = AttachmentSettings {
        store: StoreKind::S3,
        s3: moto.settings("gridsync", "conformance"),
        ..AttachmentSettings::default()
    };
    let unused = tempfile::tempdir().expect("tempdir");
    let store = blobs::open(&settings, unused.path()).expect("the S3 store");
    assert_eq!(store.kind(), "s3");
    check_conformance(store.as_ref()).await;
    assert!(moto.keys("gridsync", "conformance/uploads").await.is_empty(), "discard deletes the chunks");
    assert!(!unused.path().join("blobs").exists(), "the S3 store leaves the data directory alone");

    let store = S3Blobs::new(&moto.settings("gridsync", "county-1/large")).expect("the S3 store");
    assert_eq!(store.part_bytes(), 5 * 1024 * 1024);
    let device = ActorId::random();

    // 1 MiB in four chunks, the last chunk sent twice: one PUT.
    let photo = bytes(1024 * 1024, 0x5a);
    let upload = UploadKey { device, hash: ContentHash::of(&photo) };
    upload_chunks(&store, upload, &photo).await;
    store.put_chunk(upload, (3 * CHUNK) as u64, photo[3 * CHUNK..].to_vec()).await.expect("again");
    let joined = store.join(upload, photo.len() as u64).await.expect("join");
    assert_eq!((joined.hash, joined.size, joined.head.len()), (upload.hash, photo.len() as u64, 4096));
    assert_eq!(store.read(upload.hash, 0, photo.len() + 1).await.expect("read"), photo);
    assert_eq!(store.read(upload.hash, 700_000, 10).await.expect("a piece"), photo[700_000..700_010]);
    store.discard(upload).await.expect("discard");

    // 6 MiB in 24 chunks: a multipart upload of two parts.
    let scan = bytes(6 * 1024 * 1024, 0xa5);
    let upload = UploadKey { device, hash: ContentHash::of(&scan) };
    upload_chunks(&store, upload, &scan).await;
    // A gap is refused before anything is written.
    let short = scan.len() as u64 + 1;
    assert!(matches!(store.join(upload, short).await, Err(BlobError::Incomplete(_))));
    let joined = store.join(upload, scan.len() as u64).await.expect("join");
    assert_eq!((joined.hash, joined.size), (upload.hash, scan.len() as u64));
    assert_eq!(store.size(upload.hash).await.expect("size"), Some(scan.len() as u64));
    let tail = store.read(upload.hash, scan.len() as u64 - 100_000, 200_000).await.expect("tail");
    assert_eq!(tail, scan[scan.len() - 100_000..]);
    store.discard(upload).await.expect("discard");

    // 6 MiB whose bytes are not its name: the multipart upload is aborted.
    let lie = UploadKey { device, hash: ContentHash::of(b"not these bytes") };
    upload_chunks(&store, lie, &scan).await;
    let joined = store.join(lie, scan.len() as u64).await.expect("join");
    assert_eq!(joined.hash, ContentHash::of(&scan));
    assert_eq!(store.size(lie.hash).await.expect("size"), None);
    assert!(matches!(store.read(lie.hash, 0, 1).await, Err(BlobError::NotFound)));
    store.discard(lie).await.expect("discard");

    // A server configured for the bucket names it on /health, ready (the
    // server runs its own runtime: started and stopped off this one).
    let s3 = moto.settings("gridsync", "served");
    tokio::task::spawn_blocking(move || {
        let data = tempfile::tempdir().expect("tempdir");
        let mut settings =
            gridsync_server::Settings::new(data.path(), "127.0.0.1:0".parse().expect("an address"));
        settings.attachments.store = StoreKind::S3;
        settings.attachments.s3 = s3;
        let running = gridsync_server::Running::start(settings).expect("the server starts");
        let answer = reqwest::blocking::get(format!("{}/health", running.url())).expect("an answer");
        assert_eq!(answer.status().as_u16(), 200);
        let body: serde_json::Value = answer.json().expect("JSON");
        assert_eq!((&body["status"], &body["blobs"]), (&"ok".into(), &"s3".into()), "{body}");
        assert!(!data.path().join("blobs").exists(), "no blobs directory with the S3 store");
    })
    .await
    .expect("the server's check");

    let mut keys = moto.keys("gridsync", "county-1").await;
    keys.sort();
    let mut expected =
        [&photo, &scan].map(|f| format!("county-1/large/files/{}", ContentHash::of(f).to_hex())).to_vec();
    expected.sort();
    assert_eq!(keys, expected, "two files and no chunk left");
}
