//! (d) Scoped pull: a new device fetching its user's whole scope from the
//! server that (b) filled, over HTTP, with `gridsync-client-core`.
//!
//! The device is a real handset store (`Store::init`, encrypted, WAL +
//! `synchronous = FULL`), enrolled with a one-time code (`Store::enroll`),
//! that runs one `Store::sync_with`: an empty push, then pull pages until the
//! server says there is no more. Each page is planned by the server on a
//! reader (scope, budget, the log after the cursor) and recorded by its
//! writer (what the device now holds, a new cursor); the device applies it
//! in one transaction. The clock covers the whole sync run; a wrapper around
//! the HTTP transport times each request (the server's time per page, as
//! seen over loopback) and keeps the answers, which are decoded only after
//! the clock stops, to count what was sent.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context;
use gridsync_client_core::{HttpTransport, RecordFilter, Request, Store, StoreKey, SyncOptions, Transport};
use gridsync_proto::wire::{self, Limits};
use gridsync_proto::{Dot, PullResponse, RecordId};
use gridsync_server::Database;
use gridsync_server::operator::Operator;
use gridsync_server_core::clock::now_ms;
use gridsync_server_core::policy::scope::{self, ScopeSettings};
use gridsync_server_core::service::ServiceSettings;
use gridsync_server_core::storage::StorageExt;
use gridsync_server_core::{StorageError, directory};

use crate::deployment;
use crate::ingest::Server;

/// The level actix-http's compression middleware writes zstd at.
const ZSTD_LEVEL: i32 = 3;

/// What one device's first sync measured.
#[derive(Debug)]
pub(crate) struct Report {
    /// Pull pages.
    pub(crate) pages: u32,
    /// Records sent whole (rebuilt on the device), as snapshots or histories.
    pub(crate) records: u64,
    /// Of those, records sent as snapshots (protocol 3, ADR 0019).
    pub(crate) snapshots: u64,
    /// Records the device holds afterwards.
    pub(crate) held: u64,
    /// Changes received over all pages.
    pub(crate) changes: u64,
    /// Distinct changes among them (by dot and record).
    pub(crate) distinct: u64,
    /// Records in scope that the budget left out.
    pub(crate) withheld: u32,
    /// The whole sync run.
    pub(crate) elapsed: Duration,
    /// Round trip of each pull page (the server planning and recording it).
    pub(crate) server: Vec<Duration>,
    /// Bytes of the pages (the envelope, before transport compression).
    pub(crate) bytes: u64,
    /// Bytes of the pages compressed as they travel to client-core, which
    /// asks for zstd: zstd at level 3, as the server's compression
    /// middleware (actix-http's) writes it.
    pub(crate) wire_bytes: u64,
    /// Bytes of the pages gzip-compressed at the fast level, as they travel
    /// to a handset that takes only gzip.
    pub(crate) gzip_bytes: u64,
    /// The pages, for the wire-size measurement.
    pub(crate) pages_received: Vec<PullResponse>,
}

impl Report {
    /// Distinct changes per second over the whole sync run.
    pub(crate) fn change_rate(&self) -> f64 {
        self.distinct as f64 / self.elapsed.as_secs_f64()
    }

    /// Records per second over the whole sync run.
    pub(crate) fn record_rate(&self) -> f64 {
        self.records as f64 / self.elapsed.as_secs_f64()
    }

    /// Total time the server took over the pages.
    pub(crate) fn server_total(&self) -> Duration {
        self.server.iter().sum()
    }

    /// The median page round trip.
    pub(crate) fn server_p50(&self) -> Duration {
        let mut sorted = self.server.clone();
        sorted.sort_unstable();
        sorted.get(sorted.len().saturating_sub(1) / 2).copied().unwrap_or_default()
    }

    /// The slowest page round trip.
    pub(crate) fn server_max(&self) -> Duration {
        self.server.iter().max().copied().unwrap_or_default()
    }
}

/// One request as the transport saw it.
#[derive(Debug)]
struct Call {
    path: &'static str,
    took: Duration,
    answer: Vec<u8>,
}

/// An [`HttpTransport`] that times every request and keeps its answer.
#[derive(Debug)]
struct Timed {
    inner: HttpTransport,
    calls: Mutex<Vec<Call>>,
}

impl Transport for Timed {
    fn send(&self, request: Request) -> gridsync_client_core::Result<Vec<u8>> {
        let path = request.path;
        let start = Instant::now();
        let answer = self.inner.send(request)?;
        let took = start.elapsed();
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).push(Call {
            path,
            took,
            answer: answer.clone(),
        });
        Ok(answer)
    }
}

/// Enrolls a new device for `user` in a fresh store under `dir` and runs
/// its first sync against `server`, `page` changes per pull page.
pub(crate) fn run(server: &Server, dir: &Path, user: &str, page: u32) -> anyhow::Result<Report> {
    let code = deployment::enrollment_code(server.database(), user)?;
    let path = dir.join(format!("{user}.handset.db"));
    let key = StoreKey::from_bytes([0x5a; 32]);
    let mut store =
        Store::init(&path, &server.url(), "bench", &key).context("cannot create a handset store")?;
    let transport = Timed { inner: HttpTransport::new(&server.url())?, calls: Mutex::new(Vec::new()) };
    store.enroll(&transport, &code).with_context(|| format!("cannot enroll a device for {user}"))?;
    transport.calls.lock().unwrap_or_else(|p| p.into_inner()).clear();

    let options = SyncOptions { pull_page: page, ..SyncOptions::default() };
    let start = Instant::now();
    let sync =
        store.sync_with(&transport, &options).with_context(|| format!("{user}'s first sync failed"))?;
    let elapsed = start.elapsed();

    let held = store.list(&RecordFilter::default())?.len() as u64;
    let calls = transport.calls.into_inner().unwrap_or_else(|p| p.into_inner());
    let limits = Limits { max_bytes: usize::MAX, max_changes: usize::MAX };
    let mut server_times = Vec::new();
    let mut pages = Vec::new();
    let (mut bytes, mut wire_bytes, mut gzip_bytes) = (0, 0, 0);
    for call in calls.into_iter().filter(|c| c.path == "/v1/sync/pull") {
        server_times.push(call.took);
        bytes += call.answer.len() as u64;
        wire_bytes += zstd::bulk::compress(&call.answer, ZSTD_LEVEL).context("zstd")?.len() as u64;
        gzip_bytes += wire::gzip(&call.answer).len() as u64;
        pages.push(
            wire::decode::<PullResponse>(&call.answer, &limits).context("a pull page does not decode")?,
        );
    }
    let changes = pages.iter().map(|p| p.changes.len() as u64).sum();
    let distinct: HashSet<(RecordId, Dot)> =
        pages.iter().flat_map(|p| &p.changes).map(|l| (l.change.record, l.change.dot)).collect();
    let snapshots: u64 = pages.iter().map(|p| p.snapshots.len() as u64).sum();
    let records = pages.iter().map(|p| p.rebuild.len() as u64).sum::<u64>() + snapshots;
    anyhow::ensure!(sync.pull_pages as usize == pages.len(), "the pages counted do not add up");
    Ok(Report {
        pages: sync.pull_pages,
        records,
        snapshots,
        held,
        changes,
        distinct: distinct.len() as u64,
        withheld: sync.withheld,
        elapsed,
        server: server_times,
        bytes,
        wire_bytes,
        gzip_bytes,
        pages_received: pages,
    })
}

/// How many records the server's scope rules put on a device of `user`,
/// budget aside: open disputes and what was active within the window.
pub(crate) fn in_scope(database: &Database, user: &str, settings: &ScopeSettings) -> anyhow::Result<u64> {
    let op = Operator::open(database, ServiceSettings::default())?;
    let user = user.to_owned();
    let settings = *settings;
    op.run(op.service().storage().read(move |tx| {
        let actor = tx.user(&user)?.ok_or_else(|| StorageError::corrupt("a bench user"))?.actor();
        let dir = directory::load(tx)?;
        Ok(scope::count(tx, &actor, &dir, &settings, now_ms())?)
    }))
}

/// `--pull-only`: (d) alone over a copy of a kept server data directory:
/// the township administrator's new device, then the first worker's, each
/// with a new store, timed and checked as in a full run.
pub(crate) fn only(
    kept: &Path,
    deployment: &deployment::Deployment,
    page: u32,
    workers: usize,
) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let data = tmp.path().join("server-data");
    crate::copy_dir(kept, &data).with_context(|| format!("cannot copy {}", kept.display()))?;
    let options = crate::ingest::Options { server_workers: workers, client_threads: 1 };
    let server = Server::open(data, deployment, &options)?;
    let worker = &deployment.seats.first().context("no seat")?.user;
    for user in [deployment::TOWNSHIP_ADMIN, worker.as_str()] {
        let report = run(&server, tmp.path(), user, page)?;
        let in_scope = in_scope(server.database(), user, &server.scope)?;
        anyhow::ensure!(
            report.records + u64::from(report.withheld) == in_scope && report.held == report.records,
            "{user}'s new device did not get its scope"
        );
        println!(
            "(d) {user}: {} records ({} as snapshots, {} withheld) in {} pages, {:.1} MB of envelope, {:.2} MiB \
             on the wire (zstd; {:.2} MiB with gzip), {:.2} s; server per page p50 {:.1} ms, {:.2} s in all",
            report.records,
            report.snapshots,
            report.withheld,
            report.pages,
            report.bytes as f64 / 1e6,
            report.wire_bytes as f64 / 1_048_576.0,
            report.gzip_bytes as f64 / 1_048_576.0,
            report.elapsed.as_secs_f64(),
            report.server_p50().as_secs_f64() * 1e3,
            report.server_total().as_secs_f64(),
        );
    }
    server.stop();
    Ok(())
}
