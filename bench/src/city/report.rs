//! Printing the city's run: what was built, the timeline of the load, the
//! figures and the targets of issue 13 item 6.

use std::time::Duration;

use gridsync_proto::{Level, Place};

use super::Options;
use super::enroll::Took;
use super::handset::Synced;
use super::load::{self, Load};
use super::server_child::{ServerProcess, Usage};
use crate::ingest::Held;
use crate::report::{machine, ms, quantile, verdict};
use crate::workload::Stats;

/// Handsets of the throughput target.
const TARGET_HANDSETS: usize = 10_000;
/// The window of the throughput target.
const TARGET_WINDOW: Duration = Duration::from_secs(600);
/// The p99 sync latency target.
const TARGET_P99: Duration = Duration::from_millis(500);
/// The server's peak memory target, bytes (150 MB).
const TARGET_PEAK_BYTES: u64 = 150_000_000;
/// Most disk bytes per record, as a multiple of the record's JSON.
const TARGET_DISK_PER_JSON: f64 = 3.0;
/// Tables and indexes printed, the largest.
const TABLE_ROWS: usize = 8;
/// Rows of the printed timeline, at most.
const TIMELINE_ROWS: usize = 12;

/// The city and its day's work.
#[derive(Debug)]
pub(crate) struct City {
    /// Its places.
    pub(crate) places: Vec<Place>,
    /// Changes made.
    pub(crate) changes: u64,
    /// Write groups made.
    pub(crate) groups: u64,
    /// What was recorded.
    pub(crate) stats: Stats,
    /// Bytes of the records as JSON documents ([`super::sizes::record_json`]).
    pub(crate) json_bytes: u64,
    /// Generating and checking it took.
    pub(crate) generated: Duration,
}

/// What the run measured.
#[derive(Debug)]
pub(crate) struct Figures {
    /// The load.
    pub(crate) load: Load,
    /// The server's use when it was ready.
    pub(crate) server_start: Usage,
    /// The server's use after the last sync.
    pub(crate) server_end: Usage,
    /// Bytes of the data directory before the server started.
    pub(crate) disk_before: u64,
    /// Bytes of it after the last sync, the server still running.
    pub(crate) disk_running: u64,
    /// Bytes of it after the server stopped.
    pub(crate) disk_after: u64,
    /// Its files and their bytes, the server running.
    pub(crate) files_running: Vec<(String, u64)>,
    /// Its files and their bytes after the server stopped.
    pub(crate) files_after: Vec<(String, u64)>,
    /// Bytes of it once the WAL is checkpointed into the database.
    pub(crate) disk_checkpointed: u64,
    /// The database's tables and indexes and their bytes, largest first.
    pub(crate) tables: Vec<(String, u64)>,
    /// What the server holds.
    pub(crate) held: Held,
    /// Sampled records whose state was to be checked.
    pub(crate) samples: u64,
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The machine and the parameters.
pub(crate) fn header(o: &Options) {
    machine();
    println!(
        "city:       {} handsets, one day ({}) each, synced at random moments of a {} s window, \
         at most {} at once; push batch {} changes, pull page {} changes, seed {}, dispute rate {}/day, \
         server HTTP workers {}, client runtime threads {}",
        o.handsets,
        o.day,
        o.window.as_secs_f64(),
        o.concurrency,
        o.batch,
        o.pull_page,
        o.seed,
        o.dispute_rate,
        if o.server_workers == 0 { "auto (1 per core)".to_owned() } else { o.server_workers.to_string() },
        o.client_threads
    );
    println!("data:       {} (SQLite WAL + synchronous=FULL, the server's default)", o.dir.display());
}

/// The directory and the workload.
pub(crate) fn city(c: &City, o: &Options) {
    let count = |level| c.places.iter().filter(|p| p.level == level).count();
    let per = |n: u64| n as f64 / o.handsets as f64;
    println!(
        "directory:  1 city, {} counties, {} townships, {} villages, {} grids (one worker and one handset each)",
        count(Level::County),
        count(Level::Township),
        count(Level::Village),
        count(Level::Grid)
    );
    println!(
        "workload:   {} changes ({:.1} per handset) in {} write groups ({:.1} per handset, every one \
         passing check_group), {} records ({} disputes); records as JSON {:.0} bytes each; \
         generated and checked in {:.1} s",
        c.changes,
        per(c.changes),
        c.groups,
        per(c.groups),
        c.stats.records,
        c.stats.disputes,
        c.json_bytes as f64 / c.stats.records.max(1) as f64,
        c.generated.as_secs_f64()
    );
}

/// The setup before the server started.
pub(crate) fn setup(took: &Took, handsets: usize, disk: u64) {
    println!(
        "setup:      places imported in {:.1} s; {handsets} workers added, codes issued and handsets enrolled \
         in {:.1} s ({:.0}/s), through the service on the database before the server starts; \
         data directory {:.1} MiB",
        took.places.as_secs_f64(),
        took.people.as_secs_f64(),
        handsets as f64 / took.people.as_secs_f64(),
        disk as f64 / 1_048_576.0
    );
}

/// The server process.
pub(crate) fn server(server: &ServerProcess, u: &Usage) {
    println!(
        "server:     process {} (this binary with --city-server: gridsync_server::Running, embedded SQLite) \
         on {}; ready after {:.2} s CPU, {:.1} MiB resident",
        server.pid(),
        server.url(),
        u.cpu.as_secs_f64(),
        mib(u.rss_kib)
    );
}

/// The timeline, the figures and the targets. Returns whether the server
/// holds exactly what was sent.
pub(crate) fn results(f: &Figures, c: &City, o: &Options) -> bool {
    timeline(&f.load);
    let synced = &f.load.synced;
    let n = synced.len();
    let sum = |g: fn(&Synced) -> u64| synced.iter().map(g).sum::<u64>();
    let sorted = |g: fn(&Synced) -> Duration| {
        let mut v: Vec<Duration> = synced.iter().map(g).collect();
        v.sort_unstable();
        v
    };
    let (latency, push, lag) = (sorted(|s| s.latency), sorted(|s| s.push_time), sorted(|s| s.lag));
    let elapsed = f.load.elapsed.as_secs_f64();
    let changes = sum(|s| s.changes);
    println!(
        "throughput: {} syncs in {elapsed:.1} s (the last ended {:.1} s after the window's start): \
         {:.1} syncs/s, {:.0} changes/s",
        n,
        elapsed,
        n as f64 / elapsed,
        changes as f64 / elapsed
    );
    println!(
        "syncs:      {} pushes ({} changes, {:.1} KiB sent as gzip), {} pull pages ({} changes, {} snapshots, \
         {:.1} KiB received)",
        sum(|s| u64::from(s.pushes)),
        changes,
        sum(|s| s.push_bytes) as f64 / 1024.0,
        sum(|s| u64::from(s.pages)),
        sum(|s| s.pulled_changes),
        sum(|s| s.pulled_snapshots),
        sum(|s| s.pull_bytes) as f64 / 1024.0
    );
    let q = |v: &[Duration], x| ms(quantile(v, x));
    println!(
        "latency:    sync (pushes + pulls) p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms; \
         of which pushes p50 {:.1} ms, p99 {:.1} ms; start lag (no free client) p99 {:.1} ms, max {:.1} ms",
        q(&latency, 0.5),
        q(&latency, 0.95),
        q(&latency, 0.99),
        q(&latency, 1.0),
        q(&push, 0.5),
        q(&push, 0.99),
        q(&lag, 0.99),
        q(&lag, 1.0)
    );
    let (s0, s1) = (&f.server_start, &f.server_end);
    let load_cpu = s1.cpu.saturating_sub(s0.cpu).as_secs_f64();
    let client_cpu = match (f.load.timeline.first(), f.load.timeline.last()) {
        (Some(a), Some(b)) => b.client_cpu.saturating_sub(a.client_cpu).as_secs_f64(),
        _ => 0.0,
    };
    println!(
        "server:     {:.1} CPU-seconds over the load ({:.1}% of one core; {:.2} ms per sync, {:.1} µs per \
         change), {:.1} in all; peak resident memory (VmHWM) {:.1} MiB ({:.1} MB), {:.1} MiB at the end",
        load_cpu,
        100.0 * load_cpu / elapsed,
        1e3 * load_cpu / n.max(1) as f64,
        1e6 * load_cpu / changes.max(1) as f64,
        s1.cpu.as_secs_f64(),
        mib(s1.peak_kib),
        s1.peak_kib as f64 * 1024.0 / 1e6,
        mib(s1.rss_kib)
    );
    println!(
        "handsets:   the bench's own CPU over the load {client_cpu:.1} s (the same 2 cores as the server)"
    );
    let grown = f.disk_checkpointed.saturating_sub(f.disk_before);
    let records = c.stats.records.max(1);
    let per_record = grown as f64 / records as f64;
    let json = c.json_bytes as f64 / records as f64;
    let mb = |b: u64| b as f64 / 1_048_576.0;
    println!(
        "disk:       data directory {:.1} MiB before the load; {:.1} MiB at its end (server running), {:.1} MiB \
         after the server stopped; {:.1} MiB once its WAL is checkpointed: {:.1} MiB for the day, {:.0} bytes \
         per change, {per_record:.0} bytes per record ({:.2}x the record's JSON, {json:.0} bytes)",
        mb(f.disk_before),
        mb(f.disk_running),
        mb(f.disk_after),
        mb(f.disk_checkpointed),
        mb(grown),
        grown as f64 / changes.max(1) as f64,
        per_record / json
    );
    let list = |files: &[(String, u64)]| {
        files.iter().map(|(name, bytes)| format!("{name} {:.1}", mb(*bytes))).collect::<Vec<_>>().join(", ")
    };
    println!("            files (MiB) at the load's end: {}", list(&f.files_running));
    println!("            files (MiB) after the stop:    {}", list(&f.files_after));
    let top: Vec<_> = f.tables.iter().take(TABLE_ROWS).cloned().collect();
    println!("            tables and indexes (MiB), checkpointed: {}", list(&top));
    println!(
        "            per record: {}",
        top.iter()
            .take(4)
            .map(|(name, bytes)| format!("{name} {:.0} B", *bytes as f64 / records as f64))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let h = &f.held;
    let verified = h.changes == c.changes
        && changes == c.changes
        && h.records == c.stats.records
        && h.report_rows == o.handsets as u64
        && h.states_checked == f.samples;
    println!(
        "verified:   {} (the server holds {} changes of {} sent, {} records of {}, {} daily reports of {}; \
         {} sampled states equal the handsets'; {} access rows)",
        if verified { "yes" } else { "NO" },
        h.changes,
        c.changes,
        h.records,
        c.stats.records,
        h.report_rows,
        o.handsets,
        h.states_checked,
        h.access_rows
    );

    println!("targets (issue 13 item 6, on this machine):");
    let window_end = o.window + TARGET_P99;
    let within = f.load.elapsed <= window_end;
    let scale = o.handsets >= TARGET_HANDSETS && o.window <= TARGET_WINDOW;
    println!(
        "  {:<7} 10,000 handsets each sync a day's work within 10 minutes: {} handsets in a {} s window, \
         the last done at {elapsed:.1} s{}",
        if scale { verdict(within) } else { "n/a" },
        o.handsets,
        o.window.as_secs_f64(),
        if scale { String::new() } else { " (a smaller city than the target's)".to_owned() }
    );
    let p99 = quantile(&latency, 0.99);
    let by = |x: f64, target: f64| {
        if x <= target { String::new() } else { format!(", {:.1}x the target", x / target) }
    };
    println!(
        "  {:<7} p99 sync latency under 500 ms: {:.1} ms{}",
        verdict(p99 < TARGET_P99),
        ms(p99),
        by(ms(p99), ms(TARGET_P99))
    );
    let peak = s1.peak_kib * 1024;
    println!(
        "  {:<7} server peak RSS under 150 MB: {:.1} MB{}",
        verdict(peak < TARGET_PEAK_BYTES),
        peak as f64 / 1e6,
        by(peak as f64, TARGET_PEAK_BYTES as f64)
    );
    println!(
        "  {:<7} disk per record at most 3x its JSON: {:.2}x{}",
        verdict(per_record <= TARGET_DISK_PER_JSON * json),
        per_record / json,
        by(per_record / json, TARGET_DISK_PER_JSON)
    );
    verified
}

/// The server's CPU and memory over the load, in at most
/// [`TIMELINE_ROWS`] rows.
fn timeline(load: &Load) {
    let points = &load.timeline;
    if points.len() < 2 {
        return;
    }
    let step = (points.len() - 1).div_ceil(TIMELINE_ROWS).max(1);
    println!("timeline:   t (s) | syncs done | server CPU (share of one core) | server RSS MiB | bench CPU");
    let mut last = &points[0];
    for (i, p) in points.iter().enumerate().skip(1) {
        if i % step != 0 && i != points.len() - 1 {
            continue;
        }
        let wall = p.at.saturating_sub(last.at).as_secs_f64().max(1e-9);
        println!(
            "            {:>5.0} | {:>10} | {:>29.0}% | {:>14.1} | {:>8.0}%",
            p.at.as_secs_f64(),
            p.done,
            100.0 * load::cpu_share(last, p),
            mib(p.server.rss_kib),
            100.0 * p.client_cpu.saturating_sub(last.client_cpu).as_secs_f64() / wall
        );
        last = p;
    }
}
