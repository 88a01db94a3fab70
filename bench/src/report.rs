//! Printing: the header, one line per round and the summary with the
//! targets.

use std::path::Path;
use std::time::Duration;

use gridsync_proto::Date;
use gridsync_server_core::policy::scope::ScopeSettings;

use crate::deployment::TOWNSHIP;
use crate::wire_size::{self, Sizes};
use crate::workload::Stats;
use crate::{Args, ingest, pull, sqlite_baseline};

/// Ratio targets: (b) from issue 13 (it was 30% in the first brief), (c)
/// from the performance brief.
const INGEST_TARGET: f64 = 0.60;
const WIRE_TARGET: f64 = 0.40;
/// Samples of the fsync probe.
pub(crate) const FSYNC_SAMPLES: usize = 200;

/// (e): one PostgreSQL measurement.
#[derive(Debug)]
pub(crate) struct PgRun {
    /// Server instances sharing the database.
    pub(crate) instances: usize,
    /// (b) on PostgreSQL.
    pub(crate) b: ingest::Report,
    /// (d): the township administrator's new device.
    pub(crate) admin: pull::Report,
}

/// What one round measured.
#[derive(Debug)]
pub(crate) struct Round {
    /// (a): one push per commit.
    pub(crate) a: sqlite_baseline::Report,
    /// (a'): one push per device per commit.
    pub(crate) a_group: sqlite_baseline::Report,
    /// (b): the server's ingest.
    pub(crate) b: ingest::Report,
    /// (d), in the rounds that run it.
    pub(crate) pulls: Option<Pulls>,
    /// The replication budget and window in effect.
    pub(crate) scope: ScopeSettings,
}

/// (d): the two first syncs.
#[derive(Debug)]
pub(crate) struct Pulls {
    /// The township administrator's new device.
    pub(crate) admin: pull::Report,
    /// A worker's new device.
    pub(crate) worker: pull::Report,
}

/// The workload, counted.
#[derive(Debug)]
pub(crate) struct Workload {
    pub(crate) changes: u64,
    pub(crate) groups: u64,
    pub(crate) stats: Stats,
    pub(crate) first_day: Date,
    pub(crate) last_day: Date,
    pub(crate) device_days: u64,
}

pub(crate) fn workload(w: &Workload, pushes: usize, took: Duration) {
    let per_day = |n: u64| n as f64 / w.device_days.max(1) as f64;
    let s = &w.stats;
    println!(
        "workload:   {} to {}: {} changes ({:.1} per device-day) in {} write groups ({:.1} per device-day, \
         every one passing check_group), {} records, {} pushes; generated and checked in {:.1} s",
        w.first_day,
        w.last_day,
        w.changes,
        per_day(w.changes),
        w.groups,
        per_day(w.groups),
        s.records,
        pushes,
        took.as_secs_f64()
    );
    println!(
        "            {} patrols, {} visits ({} to special populations), {} daily reports ({} all_safe, {} has_items), \
         {} disputes ({} steps, {} mediation sessions, {} notes)",
        s.patrols,
        s.visits,
        s.special_visits,
        s.all_safe + s.with_items,
        s.all_safe,
        s.with_items,
        s.disputes,
        s.steps,
        s.mediations,
        s.notes
    );
    println!();
}

pub(crate) fn round(n: usize, of: usize, r: &Round, verified: bool) {
    println!(
        "round {n}/{of}: (a) {:>7.0} rows/s  (a') {:>7.0} rows/s  (b) {:>7.0} changes/s = {:>5.1}% of (a), \
         {:>5.1}% of (a')  [{:.1} + {:.1} + {:.1} s]  server: {} / {} changes, {} records, {} states: {}",
        r.a.rate(),
        r.a_group.rate(),
        r.b.rate(),
        r.b.rate() / r.a.rate() * 100.0,
        r.b.rate() / r.a_group.rate() * 100.0,
        r.a.elapsed.as_secs_f64(),
        r.a_group.elapsed.as_secs_f64(),
        r.b.elapsed.as_secs_f64(),
        r.b.server_changes,
        r.b.changes,
        r.b.server_records,
        r.b.states_checked,
        if verified { "ok" } else { "MISMATCH" }
    );
    let Some(p) = &r.pulls else { return };
    for (who, d) in [("township", &p.admin), ("worker", &p.worker)] {
        println!(
            "             (d) {who:<8} {:>6} records ({} as snapshots), {:>7} changes in {:>4} pages, {:.2} MiB on the wire, \
             {:>5.2} s: {:>6.0} changes/s = {:>5.1}% of (b); server per page p50 {:.1} ms",
            d.records,
            d.snapshots,
            d.distinct,
            d.pages,
            d.wire_bytes as f64 / 1_048_576.0,
            d.elapsed.as_secs_f64(),
            d.change_rate(),
            d.change_rate() / r.b.rate() * 100.0,
            ms(d.server_p50())
        );
    }
}

pub(crate) fn summary(args: &Args, rounds: &[Round], c: &wire_size::Report, c_pull: &Sizes) {
    let Some(r0) = rounds.first() else { return };
    let med = |f: &dyn Fn(&Round) -> f64| median(rounds.iter().map(f));
    let spread = |f: &dyn Fn(&Round) -> f64| {
        let v: Vec<f64> = rounds.iter().map(f).collect();
        let (lo, hi) = v.iter().fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(*x), hi.max(*x)));
        format!("{lo:.0}..{hi:.0}")
    };
    let ratio_b = med(&|r| r.b.rate() / r.a.rate());
    let ratio_c = c.pushes.sent_ratio();
    let ratio_c_random = c.random_text.sent_ratio();
    let mut latencies: Vec<Duration> = rounds.iter().flat_map(|r| r.b.latencies.iter().copied()).collect();
    latencies.sort_unstable();

    println!();
    println!("results (median of {} rounds; per-round range in brackets):", rounds.len());
    println!(
        "(a)  sqlite batched insert:    {:>8.0} rows/s     [{}] ({} rows in {} transactions of <= {} rows, \
         WAL + synchronous=FULL)",
        med(&|r| r.a.rate()),
        spread(&|r| r.a.rate()),
        r0.a.rows,
        r0.a.transactions,
        args.batch
    );
    println!(
        "(a') same, {:>2} pushes/commit:  {:>8.0} rows/s     [{}] (reference only: the largest group the \
         server's group commit can form when all {} devices have a push waiting)",
        args.devices,
        med(&|r| r.a_group.rate()),
        spread(&|r| r.a_group.rate()),
        args.devices
    );
    println!(
        "(b)  server ingest over HTTP: {:>8.0} changes/s  = {:.1}% of (a) [target >= {:.0}%] {}   ({:.1}% of (a'))",
        med(&|r| r.b.rate()),
        ratio_b * 100.0,
        INGEST_TARGET * 100.0,
        verdict(ratio_b >= INGEST_TARGET),
        med(&|r| r.b.rate() / r.a_group.rate()) * 100.0
    );
    if ratio_b < INGEST_TARGET {
        println!(
            "     MISSED by {:.1} percentage points: (b) would need {:.0} changes/s",
            (INGEST_TARGET - ratio_b) * 100.0,
            med(&|r| r.a.rate()) * INGEST_TARGET
        );
    }
    println!(
        "     [{} changes/s] {} changes in {} groups in {} pushes from {} concurrent devices per round; push round \
         trip p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        spread(&|r| r.b.rate()),
        r0.b.changes,
        r0.b.groups,
        r0.b.pushes,
        args.devices,
        ms(quantile(&latencies, 0.5)),
        ms(quantile(&latencies, 0.99)),
        ms(quantile(&latencies, 1.0))
    );
    println!(
        "     verified in every round: no group refused; Inspector finds {} changes = {} sent, {} records = {} \
         created, {} sampled states (every dispute) equal to the devices'; {} daily_reports rows = {} \
         device-days; {} access-index rows",
        r0.b.server_changes,
        r0.b.changes,
        r0.b.server_records,
        r0.b.server_records,
        r0.b.states_checked,
        r0.b.report_rows,
        r0.b.report_rows,
        r0.b.access_rows
    );
    wire(args, r0, c, c_pull, ratio_c, ratio_c_random);
    scoped_pull(args, rounds, r0);
}

fn wire(args: &Args, r0: &Round, c: &wire_size::Report, c_pull: &Sizes, ratio_c: f64, ratio_c_random: f64) {
    println!(
        "(c)  wire: {:.1} B/change sent vs JSON {:.1} B/change = {:.1}% [target <= {:.0}%] {}",
        c.pushes.sent_per_change(),
        c.pushes.json_per_change(),
        ratio_c * 100.0,
        WIRE_TARGET * 100.0,
        verdict(ratio_c <= WIRE_TARGET)
    );
    println!(
        "     sent = envelope gzip-compressed as client-core sends it; uncompressed envelope {:.1} B/change \
         = {:.1}% of JSON; JSON gzip-compressed {:.1} B/change (sent = {:.1}% of that)",
        c.pushes.postcard_per_change(),
        c.pushes.ratio() * 100.0,
        c.pushes.json_gzip_per_change(),
        c.pushes.sent as f64 / c.pushes.json_gzip.max(1) as f64 * 100.0
    );
    println!(
        "     worst case, every text replaced by random CJK characters: {:.1} B/change sent vs JSON {:.1} \
         B/change = {:.1}% [target <= {:.0}%] {}",
        c.random_text.sent_per_change(),
        c.random_text.json_per_change(),
        ratio_c_random * 100.0,
        WIRE_TARGET * 100.0,
        verdict(ratio_c_random <= WIRE_TARGET)
    );
    println!(
        "     whole pushes of <= {} changes ({:.1} B/change actually sent in (b)); free text (authors and text \
         values, the same bytes in both) is {:.1} B/change; without it: {:.1} B vs {:.1} B = {:.1}%",
        args.batch,
        r0.b.body_bytes as f64 / r0.b.changes.max(1) as f64,
        c.pushes.text_per_change(),
        c.pushes.postcard_per_change() - c.pushes.text_per_change(),
        c.pushes.json_per_change() - c.pushes.text_per_change(),
        c.pushes.structure_ratio() * 100.0
    );
    for (op, s) in &c.by_op {
        println!(
            "     {op:<7} {:>7} changes alone: {:>6.1} B vs JSON {:>6.1} B = {:>5.1}%  (free text {:.1} B)",
            s.changes,
            s.postcard_per_change(),
            s.json_per_change(),
            s.ratio() * 100.0,
            s.text_per_change()
        );
    }
    if c_pull.changes == 0 {
        // A bootstrap sends snapshots, not changes: (d) gives their bytes.
        println!("     pull pages of (d), township: no changes (records sent as snapshots, sized in (d))");
        return;
    }
    println!(
        "     pull pages of (d), township: {:.1} B/change sent vs JSON {:.1} B/change = {:.1}% (uncompressed \
         {:.1}%; {} changes in {} B of envelope)",
        c_pull.sent_per_change(),
        c_pull.json_per_change(),
        c_pull.sent_ratio() * 100.0,
        c_pull.ratio() * 100.0,
        c_pull.changes,
        c_pull.postcard
    );
}

fn scoped_pull(args: &Args, rounds: &[Round], r0: &Round) {
    let with: Vec<(&Round, &Pulls)> =
        rounds.iter().filter_map(|r| r.pulls.as_ref().map(|p| (r, p))).collect();
    let Some((_, p0)) = with.first() else { return };
    let med = |f: &dyn Fn(&Round, &Pulls) -> f64| median(with.iter().map(|(r, p)| f(r, p)));
    let range = |f: &dyn Fn(&Round, &Pulls) -> f64| {
        let v: Vec<f64> = with.iter().map(|(r, p)| f(r, p)).collect();
        let (lo, hi) = v.iter().fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(*x), hi.max(*x)));
        format!("{lo:.0}..{hi:.0}")
    };
    let log = r0.b.server_changes;
    let (ad, wk) = (&p0.admin, &p0.worker);
    println!(
        "(d)  scoped pull (median of {} round(s)), township administrator's new device (scope {TOWNSHIP}: {} \
         grids), first sync with client-core, pages of <= {} changes:",
        with.len(),
        args.devices,
        args.pull_page
    );
    println!(
        "     budget {} records, window {} days (of last activity, by the work's trusted time): {} records sent, \
         {} withheld of {} in scope",
        r0.scope.budget,
        r0.scope.window_ms / 86_400_000,
        ad.records,
        ad.withheld,
        ad.records + u64::from(ad.withheld)
    );
    println!(
        "     {} records as snapshots; {} distinct changes ({:.1}% of the log), {} received ({:.1}% of them more \
         than once), in {} pages, {:.1} MB of envelope, {:.2} MiB on the wire (zstd; {:.2} MiB with gzip)",
        ad.snapshots,
        ad.distinct,
        ad.distinct as f64 / log.max(1) as f64 * 100.0,
        ad.changes,
        (ad.changes - ad.distinct) as f64 / ad.changes.max(1) as f64 * 100.0,
        ad.pages,
        ad.bytes as f64 / 1e6,
        ad.wire_bytes as f64 / 1_048_576.0,
        ad.gzip_bytes as f64 / 1_048_576.0
    );
    println!(
        "     {:.1} s: {:.0} records/s, {:.0} changes/s = {:.1}% of (b) [{} changes/s]; server per page p50 {:.1} ms, \
         max {:.1} ms, {:.1} s in all = {:.0}% of the sync (the rest: the handset applying pages)",
        med(&|_, p| p.admin.elapsed.as_secs_f64()),
        med(&|_, p| p.admin.record_rate()),
        med(&|_, p| p.admin.change_rate()),
        med(&|r, p| p.admin.change_rate() / r.b.rate()) * 100.0,
        range(&|_, p| p.admin.change_rate()),
        med(&|_, p| ms(p.admin.server_p50())),
        med(&|_, p| ms(p.admin.server_max())),
        med(&|_, p| p.admin.server_total().as_secs_f64()),
        med(&|_, p| p.admin.server_total().as_secs_f64() / p.admin.elapsed.as_secs_f64()) * 100.0
    );
    println!(
        "(d)  a worker's new device (one grid): {} records ({} as snapshots), {} changes = {:.1}% of the log ({} \
         received, {} withheld), {} pages, {:.2} MiB on the wire, {:.2} s: {:.0} changes/s = {:.1}% of (b); \
         server per page p50 {:.1} ms",
        wk.records,
        wk.snapshots,
        wk.distinct,
        wk.distinct as f64 / log.max(1) as f64 * 100.0,
        wk.changes,
        wk.withheld,
        wk.pages,
        wk.wire_bytes as f64 / 1_048_576.0,
        med(&|_, p| p.worker.elapsed.as_secs_f64()),
        med(&|_, p| p.worker.change_rate()),
        med(&|r, p| p.worker.change_rate() / r.b.rate()) * 100.0,
        med(&|_, p| ms(p.worker.server_p50()))
    );
}

pub(crate) fn fsync(label: &str, sorted: &[Duration]) {
    println!(
        "{label:<11} 4 KiB write + fdatasync: p50 {:.2} ms, p90 {:.2} ms, max {:.2} ms ({} samples)",
        ms(quantile(sorted, 0.5)),
        ms(quantile(sorted, 0.9)),
        ms(quantile(sorted, 1.0)),
        sorted.len()
    );
}

/// The `q`-quantile of sorted durations (nearest rank).
pub(crate) fn quantile(sorted: &[Duration], q: f64) -> Duration {
    let last = sorted.len().saturating_sub(1);
    sorted.get(((last as f64) * q).round() as usize).copied().unwrap_or_default()
}

/// The median (the lower middle for an even count).
fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    v.get(v.len().saturating_sub(1) / 2).copied().unwrap_or(0.0)
}

/// `met` or `MISSED`.
pub(crate) fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}

/// Milliseconds.
pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

pub(crate) fn header(args: &Args, dir: &Path) {
    machine();
    println!(
        "parameters: {} devices x {} days, push batch {} changes, {} rounds ((d) in {}, pull page {} changes), \
         seed {}, dispute rate {}/day, server HTTP workers {}, client runtime threads {}",
        args.devices,
        args.days,
        args.batch,
        args.rounds,
        args.pull_rounds.min(args.rounds),
        args.pull_page,
        args.seed,
        args.dispute_rate,
        if args.server_workers == 0 {
            "auto (1 per core)".to_owned()
        } else {
            args.server_workers.to_string()
        },
        args.client_threads
    );
    println!("databases:  {} (SQLite WAL + synchronous=FULL, as the server)", dir.display());
    if !args.no_postgres {
        println!(
            "            (e) on PostgreSQL at {} with {:?} server instance(s)",
            gridsync_server_postgres::redacted(&args.postgres),
            args.postgres_instances
        );
    }
}

/// The bench's version, a warning for a debug build, and the machine.
pub(crate) fn machine() {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, m)| m.trim()))
        .unwrap_or("unknown CPU");
    let vm =
        cpuinfo.lines().any(|l| l.starts_with("flags") && l.split_whitespace().any(|f| f == "hypervisor"));
    println!("gridsync-bench {}", env!("CARGO_PKG_VERSION"));
    if cfg!(debug_assertions) {
        println!("WARNING: debug build; the figures mean nothing. Run with --release.");
    }
    println!(
        "machine:    {cores} cores (available_parallelism), {model}{}, {}/{}",
        if vm { ", virtual machine" } else { "" },
        std::env::consts::OS,
        std::env::consts::ARCH
    );
}

/// One line per PostgreSQL measurement, as it finishes, beside SQLite's
/// first round.
pub(crate) fn postgres_run(run: &PgRun, sqlite: Option<&Round>, verified: bool) {
    let (b, d) = (&run.b, &run.admin);
    let vs = |pg: f64, lite: Option<f64>| {
        lite.map_or(String::new(), |l| format!(" = {:>5.1}% of SQLite", pg / l * 100.0))
    };
    println!(
        "(e) postgres x{}: (b) {:>7.0} changes/s{}  [{:.1} s]  server: {} / {} changes, {} records, {} states: {}",
        run.instances,
        b.rate(),
        vs(b.rate(), sqlite.map(|r| r.b.rate())),
        b.elapsed.as_secs_f64(),
        b.server_changes,
        b.changes,
        b.server_records,
        b.states_checked,
        if verified { "ok" } else { "MISMATCH" }
    );
    println!(
        "                 (d) township {:>6} records, {:>7} changes in {:>4} pages, {:>5.1} s: {:>6.0} changes/s{}; \
         server per page p50 {:.1} ms",
        d.records,
        d.distinct,
        d.pages,
        d.elapsed.as_secs_f64(),
        d.change_rate(),
        vs(d.change_rate(), sqlite.and_then(|r| r.pulls.as_ref()).map(|p| p.admin.change_rate())),
        ms(d.server_p50())
    );
}

/// (e) beside the SQLite medians.
pub(crate) fn postgres_summary(args: &Args, rounds: &[Round], runs: &[PgRun]) {
    if runs.is_empty() {
        return;
    }
    let lite_b = median(rounds.iter().map(|r| r.b.rate()));
    let lite_d = median(rounds.iter().filter_map(|r| r.pulls.as_ref()).map(|p| p.admin.change_rate()));
    println!(
        "(e)  PostgreSQL ({}), the same pushes from {} devices (device i to instance i mod N), then the \
         township's first sync; one fresh database per line:",
        gridsync_server_postgres::redacted(&args.postgres),
        args.devices
    );
    println!(
        "     instances | (b) changes/s | vs SQLite (b) | push p50 / p99 ms | (d) township s | (d) changes/s | vs SQLite (d)"
    );
    for run in runs {
        let mut latencies = run.b.latencies.clone();
        latencies.sort_unstable();
        println!(
            "     {:>9} | {:>13.0} | {:>12.1}% | {:>7.1} / {:>7.1} | {:>14.1} | {:>13.0} | {:>12.1}%",
            run.instances,
            run.b.rate(),
            run.b.rate() / lite_b * 100.0,
            ms(quantile(&latencies, 0.5)),
            ms(quantile(&latencies, 0.99)),
            run.admin.elapsed.as_secs_f64(),
            run.admin.change_rate(),
            run.admin.change_rate() / lite_d.max(f64::MIN_POSITIVE) * 100.0
        );
    }
    println!(
        "     verified on every line: no group refused, every change and record on the database, sampled states \
         equal, one daily_reports row per device-day, the township's device holds its whole scope (budget aside)"
    );
}

/// (f): each export with its time and peak memory, then the year's totals.
pub(crate) fn exports(done: &[crate::export::Exported], workload: &Workload) {
    println!(
        "(f)  ledger exports of county {} (XLSX), each in its own process, over {} records ({} disputes):",
        crate::deployment::COUNTY,
        workload.stats.records,
        workload.stats.disputes
    );
    println!(
        "     {:<24} | {:>6} | {:>10} | {:>8} | {:>12}",
        "export", "rows", "bytes", "seconds", "peak RSS MiB"
    );
    for e in done {
        println!(
            "     {:<24} | {:>6} | {:>10} | {:>8.2} | {:>12.1}",
            e.what,
            e.rows,
            e.bytes,
            e.elapsed.as_secs_f64(),
            e.peak_kib as f64 / 1024.0
        );
    }
    let total: f64 = done.iter().map(|e| e.elapsed.as_secs_f64()).sum();
    let peak = done.iter().map(|e| e.peak_kib).max().unwrap_or(0) as f64 / 1024.0;
    let rows: u64 = done.iter().map(|e| e.rows).sum();
    println!(
        "     all {} exports: {rows} rows in {total:.1} s; the largest peak RSS {peak:.1} MiB",
        done.len()
    );
}
