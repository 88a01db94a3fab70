//! State-based bootstrap end to end (ADR 0019): a new device receives the
//! records in its scope as snapshots, ends with exactly what a device that
//! followed every change holds, and both stay identical under further
//! concurrent edits; and a sync does not hold a shared store while it waits
//! for the server (issue 13, item 5).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Mutex, MutexGuard};

use gridsync_client_core::sync::{StoreAccess, SyncObserver, SyncProgress, run_shared};
use gridsync_client_core::{Error, NewDispute, RecordFilter, Request, Store, SyncOptions, Transport};
use gridsync_proto::wire::{self, CONTENT_TYPE, Limits};
use gridsync_proto::{PullRequest, PullResponse, RecordId, RecordState, Role, Value};
use gridsync_tests::people::RawDevice;
use gridsync_tests::{Handset, Kind, TestServer, people};

gridsync_tests::matrix![
    a_new_device_bootstraps_from_snapshots_and_converges,
    a_sync_lets_go_of_the_store_while_it_waits_for_the_server,
    pull_pages_travel_zstd_compressed_to_a_device_that_takes_it
];

fn dispute(summary: &str) -> NewDispute {
    NewDispute {
        place: None,
        source: "patrol".into(),
        source_record: None,
        category: "邻里纠纷".into(),
        summary: Some(summary.into()),
        risk: None,
        parties: Vec::new(),
        address: None,
        due: None,
    }
}

fn states(store: &Store) -> Vec<RecordState> {
    let mut ids: Vec<RecordId> =
        store.list(&RecordFilter::default()).expect("lists").iter().map(|r| r.id()).collect();
    ids.sort();
    ids.into_iter().map(|id| store.get(id).expect("reads").expect("present")).collect()
}

fn a_new_device_bootstraps_from_snapshots_and_converges(kind: Kind) -> anyhow::Result<()> {
    let server = TestServer::start(kind)?;
    let mut worker = Handset::new(&server, "网格员 李")?;
    // The mediator's first device follows the work as it happens.
    let mut follower =
        Handset::enrolled(&server, "乡镇调解员 王", Role::TownshipAdmin, people::TOWNSHIP, None)?;
    let mut ids = Vec::new();
    for n in 0..12 {
        let id = worker.store.register_dispute(&dispute(&format!("第{n}起纠纷")))?;
        ids.push(id);
        worker.sync(&server)?;
        follower.sync(&server)?;
        worker.store.set(id, [("risk".into(), Value::Int(n % 3 + 1))])?;
        worker.store.set(id, [("summary".into(), Value::from(format!("第{n}起纠纷，已回访")))])?;
    }
    worker.sync(&server)?;
    follower.sync(&server)?;

    // The mediator's new device starts from nothing: snapshots.
    let mut fresh = Handset::enrolled(&server, "乡镇调解员 王", Role::TownshipAdmin, people::TOWNSHIP, None)?;
    let report = fresh.sync(&server)?;
    assert_eq!(report.snapshots, ids.len() as u64, "every dispute arrives as a snapshot: {report:?}");
    assert_eq!(report.pulled, 0, "no change is replayed: {report:?}");
    assert_eq!(states(&fresh.store), states(&follower.store), "snapshots give what the changes gave");
    for id in &ids {
        let view = fresh.store.view(*id)?.expect("present");
        let json = serde_json::to_value(&view)?;
        assert!(json.to_string().contains("received_ms\":1"), "receipts survive the bootstrap: {json}");
    }

    // Further concurrent edits, one field on both sides: a conflict everywhere.
    fresh.store.set(ids[0], [("risk".into(), Value::Int(3))])?;
    fresh.store.set(ids[1], [("summary".into(), Value::from("乡镇接手"))])?;
    worker.store.set(ids[0], [("risk".into(), Value::Int(1))])?;
    follower.store.set(ids[2], [("summary".into(), Value::from("已调解"))])?;
    for _ in 0..2 {
        worker.sync(&server)?;
        fresh.sync(&server)?;
        follower.sync(&server)?;
    }
    let everywhere = states(&follower.store);
    assert_eq!(states(&fresh.store), everywhere, "the bootstrapped device converges with the follower");
    assert!(
        everywhere.iter().any(|s| s.id() == ids[0] && s.in_conflict("risk")),
        "the concurrent edit conflicts"
    );
    let worker_view: Vec<RecordState> =
        states(&worker.store).into_iter().filter(|s| ids.contains(&s.id())).collect();
    assert_eq!(worker_view, everywhere.into_iter().filter(|s| ids.contains(&s.id())).collect::<Vec<_>>());
    Ok(())
}

/// A store shared as the FFI shares it.
struct Shared(Mutex<Store>);

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Store> {
        self.0.lock().expect("not poisoned")
    }
}

impl StoreAccess for Shared {
    fn with_store<T>(
        &self,
        f: impl FnOnce(&mut Store) -> gridsync_client_core::Result<T>,
    ) -> gridsync_client_core::Result<T> {
        f(&mut self.lock())
    }
}

/// A transport whose first pull request waits, on the wire, until the test
/// lets it go: it says when it is waiting.
struct Held<T> {
    inner: T,
    first: AtomicBool,
    waiting: mpsc::Sender<()>,
    go: Mutex<mpsc::Receiver<()>>,
}

impl<T: Transport> Transport for Held<T> {
    fn send(&self, request: Request) -> Result<Vec<u8>, Error> {
        if request.path == "/v1/sync/pull" && self.first.swap(false, Ordering::SeqCst) {
            self.waiting.send(()).expect("the test listens");
            self.go.lock().expect("one sync").recv().expect("the test lets it go");
        }
        self.inner.send(request)
    }
}

struct Quiet;

impl SyncObserver for Quiet {
    fn progress(&self, _: &SyncProgress) {}
}

fn a_sync_lets_go_of_the_store_while_it_waits_for_the_server(kind: Kind) -> anyhow::Result<()> {
    let server = TestServer::start(kind)?;
    let mut worker = Handset::new(&server, "网格员 李")?;
    let id = worker.store.register_dispute(&dispute("院墙边界"))?;
    worker.sync(&server)?;

    let phone = Handset::new(&server, "网格员 李")?;
    let shared = Shared(Mutex::new(phone.store));
    let (waiting, waited) = mpsc::channel();
    let (go, gone) = mpsc::channel();
    let transport =
        Held { inner: server.transport(), first: AtomicBool::new(true), waiting, go: Mutex::new(gone) };
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let sync = scope.spawn(|| run_shared(&shared, &transport, &SyncOptions::default(), &Quiet));
        // The sync is on the network, waiting for its first page.
        waited.recv()?;
        {
            // The app reads and writes meanwhile: the store is free.
            let mut store =
                shared.0.try_lock().expect("a sync waiting for the server does not hold the store");
            assert!(store.list(&RecordFilter::default())?.is_empty(), "nothing pulled yet");
            store.register_dispute(&dispute("路灯损坏"))?;
        }
        go.send(())?;
        let report = sync.join().expect("the sync thread ends")?;
        assert!(report.snapshots >= 1, "the worker's dispute arrived: {report:?}");
        Ok(())
    })?;
    let store = shared.lock();
    assert!(store.get(id)?.is_some(), "the pulled dispute is there");
    assert!(store.pending()? > 0, "the write made during the sync waits for the next");
    Ok(())
}

/// A page of snapshots travels zstd-compressed to a device that asks for it
/// as client-core's transport does, and gzip-compressed to one that takes
/// only gzip (an app's own HTTP stack); both inflate to the same page.
fn pull_pages_travel_zstd_compressed_to_a_device_that_takes_it(kind: Kind) -> anyhow::Result<()> {
    let server = TestServer::start(kind)?;
    let mut worker = Handset::new(&server, "网格员 李")?;
    for n in 0..30 {
        worker.store.register_dispute(&dispute(&format!("第{n}起纠纷，双方因宅基地边界争执")))?;
    }
    worker.sync(&server)?;
    let code = people::code_for(&server, "网格员 李")?;
    let (device, _) = RawDevice::enroll(&server.url(), &code)?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    // No transparent inflation: the test sees the bytes as they travel.
    let http = reqwest::blocking::Client::builder().no_gzip().no_zstd().build()?;
    let pull = |accept: &str| -> anyhow::Result<(String, Vec<u8>)> {
        let request = PullRequest { device: device.id, cursor: 0, limit: 500, profile_version: 0 };
        let body = wire::encode(&request);
        let mut post = http
            .post(format!("{}/v1/sync/pull", server.url()))
            .header("content-type", CONTENT_TYPE)
            .header("accept-encoding", accept);
        for (name, value) in device.signer.headers("POST", "/v1/sync/pull", &body)? {
            post = post.header(name, value);
        }
        let answer = post.body(body).send()?;
        anyhow::ensure!(answer.status().is_success(), "pull refused: {}", answer.status());
        let encoding = answer.headers().get("content-encoding").map(|v| v.to_str().unwrap_or("?").to_owned());
        Ok((encoding.unwrap_or_default(), answer.bytes()?.to_vec()))
    };

    let (encoding, zstd_bytes) = pull(gridsync_client_core::transport::ACCEPT_ENCODING)?;
    assert_eq!(encoding, "zstd");
    let page: PullResponse = wire::decode(&zstd::decode_all(zstd_bytes.as_slice())?, &Limits::DEFAULT)?;
    assert_eq!(page.snapshots.len(), 30, "the worker's disputes, whole");

    let (encoding, gzip_bytes) = pull("gzip")?;
    assert_eq!(encoding, "gzip");
    let mut inflated = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gzip_bytes.as_slice()), &mut inflated)?;
    let again: PullResponse = wire::decode(&inflated, &Limits::DEFAULT)?;
    assert_eq!(again.snapshots, page.snapshots, "the same records either way");
    Ok(())
}
