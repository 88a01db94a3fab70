//! `--attachments`: what photos cost to move (issue 16, ADR 0033).
//!
//! The server runs in a process of its own (the city's
//! [`ServerProcess`](crate::city::server_child), its blobs in the default
//! filesystem store of its data directory) so that its CPU time is its
//! own. A grid worker's real handset store attaches `--attachment-count`
//! photos of `--attachment-mb` MB to a patrol, sends the records with
//! attachments held back (Wi-Fi only, on a mobile network), then, on
//! Wi-Fi, uploads them in the sync's upload phase: timed, with the
//! server's CPU time over it. A second device of the grid then fetches
//! each photo on demand: timed the same way. Beside them, in the same run
//! and on the same disk, the floor any durable store must pay: the same
//! bytes written in 256 KiB chunks, each fsynced (what the filesystem
//! store does per chunk at least).
//!
//! Figures: upload and download MB/s, server CPU ms per MB each way, and
//! the ratios of the upload and download rates to the baseline's.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use gridsync_client_core::attachments::NetworkKind;
use gridsync_client_core::{HttpTransport, Store, StoreKey};
use gridsync_proto::attachment::CHUNK_BYTES;
use gridsync_proto::{ContentHash, Level, Place, Role};
use gridsync_server::Database;
use gridsync_server::operator::Operator;
use gridsync_server_core::clock::now_ms;
use gridsync_server_core::service::ServiceSettings;

use crate::city::server_child::{ServerProcess, usage};

/// The shape of the measurement.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Params {
    /// Photos attached.
    pub(crate) count: usize,
    /// Each photo's size, bytes.
    pub(crate) bytes: usize,
    /// The server's HTTP workers (0: one per core).
    pub(crate) server_workers: usize,
}

/// One direction's figures.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Transfer {
    /// Bytes moved.
    pub(crate) bytes: u64,
    /// Wall time.
    pub(crate) took: Duration,
    /// The server's CPU time over it.
    pub(crate) server_cpu: Duration,
    /// The handsets' CPU time over it (this process: sealing, hashing,
    /// signing, HTTP).
    pub(crate) client_cpu: Duration,
}

impl Transfer {
    fn mb(&self) -> f64 {
        self.bytes as f64 / 1e6
    }

    /// MB per second.
    pub(crate) fn rate(&self) -> f64 {
        self.mb() / self.took.as_secs_f64().max(1e-9)
    }

    /// Server CPU milliseconds per MB.
    pub(crate) fn cpu_ms_per_mb(&self) -> f64 {
        self.server_cpu.as_secs_f64() * 1e3 / self.mb().max(1e-9)
    }

    /// Handset CPU milliseconds per MB.
    pub(crate) fn client_cpu_ms_per_mb(&self) -> f64 {
        self.client_cpu.as_secs_f64() * 1e3 / self.mb().max(1e-9)
    }
}

/// What the measurement found.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Figures {
    pub(crate) upload: Transfer,
    pub(crate) download: Transfer,
    /// The same bytes written in chunks, each fsynced.
    pub(crate) baseline: Transfer,
}

const GRID: &str = "530102001-01";

/// Runs the measurement in `dir`.
pub(crate) fn run(dir: &Path, params: &Params) -> anyhow::Result<Figures> {
    ensure!(params.count > 0 && params.bytes > 16, "attach at least one photo of more than 16 bytes");
    let data = dir.join("server");
    let codes = install(&data)?;
    let server = ServerProcess::start(&data, params.server_workers)?;
    let transport = HttpTransport::new(&server.url())?;

    let mut li = handset(dir, "li", &server.url(), &transport, &codes[0])?;
    let patrol = li.start_patrol(now_ms())?;
    let mut hashes = Vec::new();
    for i in 0..params.count {
        let photo = photo(params.bytes, i as u8);
        hashes.push(ContentHash::of(&photo));
        li.attach(patrol, None, None, &photo)?;
    }
    // The records first, the photos held back.
    li.set_wifi_only(true)?;
    li.set_network(NetworkKind::Cellular);
    let text = li.sync(&transport)?;
    ensure!(text.uploads_deferred == params.count as u64, "the photos wait for Wi-Fi: {text:?}");

    li.set_network(NetworkKind::Wifi);
    let (before, before_self) = (server.usage()?, usage("self")?);
    let started = Instant::now();
    let sent = li.sync(&transport)?;
    let took = started.elapsed();
    let server_cpu = server.usage()?.cpu.saturating_sub(before.cpu);
    let client_cpu = usage("self")?.cpu.saturating_sub(before_self.cpu);
    ensure!(sent.uploaded == params.count as u64, "every photo uploads: {sent:?}");
    let upload = Transfer { bytes: sent.uploaded_bytes, took, server_cpu, client_cpu };

    let mut wang = handset(dir, "wang", &server.url(), &transport, &codes[1])?;
    wang.sync(&transport)?;
    let (before, before_self) = (server.usage()?, usage("self")?);
    let started = Instant::now();
    for hash in &hashes {
        wang.fetch_attachment(&transport, patrol, hash)?;
    }
    let took = started.elapsed();
    let server_cpu = server.usage()?.cpu.saturating_sub(before.cpu);
    let client_cpu = usage("self")?.cpu.saturating_sub(before_self.cpu);
    let download = Transfer { bytes: (params.count * params.bytes) as u64, took, server_cpu, client_cpu };
    server.stop()?;

    let baseline = chunked_fsync(&dir.join("baseline"), params.count * params.bytes)?;
    Ok(Figures { upload, download, baseline })
}

/// A township with one grid and its two workers; their enrollment codes.
fn install(data: &Path) -> anyhow::Result<Vec<String>> {
    let op = Operator::open(&Database::Embedded { data_dir: data.to_owned() }, ServiceSettings::default())?;
    let place = |code: &str, name: &str, level, parent: Option<&str>| Place {
        code: code.into(),
        name: name.into(),
        level,
        parent: parent.map(Into::into),
    };
    op.add_place(&place("530102", "城关镇", Level::Township, None))?;
    op.add_place(&place("530102001", "东关村", Level::Village, Some("530102")))?;
    op.add_place(&place(GRID, "东关村第一网格", Level::Grid, Some("530102001")))?;
    let mut codes = Vec::new();
    for user in ["li", "wang"] {
        op.add_user(user, Role::Worker, Some(GRID), None, None)?;
        codes.push(op.issue_code(user, 3_600_000, "http://127.0.0.1:8080")?.code);
    }
    Ok(codes)
}

/// A new handset store of `user`, enrolled with `code`.
fn handset(
    dir: &Path,
    user: &str,
    url: &str,
    transport: &HttpTransport,
    code: &str,
) -> anyhow::Result<Store> {
    let path = dir.join(format!("{user}.db"));
    let mut store = Store::init(&path, url, user, &StoreKey::generate()?)?;
    store.enroll(transport, code).with_context(|| format!("cannot enroll {user}'s handset"))?;
    Ok(store)
}

/// A JPEG-looking photo: random-looking bytes (photos do not compress).
fn photo(len: usize, seed: u8) -> Vec<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15_u64 ^ u64::from(seed);
    let mut bytes: Vec<u8> = (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    bytes[..11].copy_from_slice(b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00");
    bytes
}

/// `total` bytes written to a file in chunks of [`CHUNK_BYTES`], each
/// fsynced before the next.
fn chunked_fsync(path: &Path, total: usize) -> anyhow::Result<Transfer> {
    let chunk = photo(CHUNK_BYTES, 0xA5);
    let mut file = std::fs::File::create(path)?;
    let started = Instant::now();
    let mut written = 0;
    while written < total {
        let n = chunk.len().min(total - written);
        file.write_all(&chunk[..n])?;
        file.sync_data()?;
        written += n;
    }
    let took = started.elapsed();
    std::fs::remove_file(path)?;
    Ok(Transfer { bytes: total as u64, took, server_cpu: Duration::ZERO, client_cpu: Duration::ZERO })
}

/// Prints the figures.
pub(crate) fn report(params: &Params, f: &Figures) {
    println!(
        "attachments: {} photos of {:.1} MB, one handset uploading, one fetching, server in its own process",
        params.count,
        params.bytes as f64 / 1e6
    );
    println!(
        "{:<34} {:>8} {:>8} {:>17} {:>18}",
        "", "MB/s", "seconds", "server CPU ms/MB", "handset CPU ms/MB"
    );
    for (name, t) in [("upload (sync's upload phase)", f.upload), ("download (fetch on demand)", f.download)]
    {
        println!(
            "{name:<34} {:>8.1} {:>8.2} {:>17.1} {:>18.1}",
            t.rate(),
            t.took.as_secs_f64(),
            t.cpu_ms_per_mb(),
            t.client_cpu_ms_per_mb()
        );
    }
    let b = &f.baseline;
    println!(
        "{:<34} {:>8.1} {:>8.2} {:>17} {:>18}",
        "baseline: 256 KiB chunks + fsync",
        b.rate(),
        b.took.as_secs_f64(),
        "-",
        "-"
    );
    println!(
        "ratios: upload {:.2}× the baseline's rate, download {:.2}×",
        f.upload.rate() / f.baseline.rate().max(1e-9),
        f.download.rate() / f.baseline.rate().max(1e-9)
    );
}
