//! `gridsync-bench`: how close the server's ingest comes to what the disk
//! allows, how small the wire format is, and how fast a new device fetches
//! its scope, measured side by side in one run.
//!
//! * **(a)** the physical limit: the server's change-log rows inserted
//!   straight into SQLite with the server's durability (WAL +
//!   `synchronous = FULL`), one transaction per push-sized batch;
//! * **(b)** the real server ingesting the same write groups over HTTP from
//!   many concurrent signed devices, every group checked by the record
//!   rules, each push acknowledged after the durable commit, as a share of
//!   (a) (target: at least 60%, issue 13; 30% before);
//! * **(c)** bytes per change of the gridsync envelope against JSON of the
//!   same pushes (target: at most 40%), and of the pull pages of (d);
//! * **(d)** scoped pull: a township administrator's new device, and a grid
//!   worker's new device, fetching their whole scope with `client-core`
//!   from the server (b) filled (no target: figures and the ratio to (b));
//! * **(e)** the same ingest and township pull on PostgreSQL with 1, 2 and 4
//!   server instances;
//! * **(f)** with `--export`: the ledgers of every month of the last year
//!   and the quarters' rankings exported for the county, each timed with its
//!   peak memory (`export`);
//! * **(g)** with `--desk`: the dispute desk's list pages and one dispute in
//!   full over the county's disputes, and the console's ledgers page's
//!   reads (a month's ledgers, the 12-month trend), timed (`desk`);
//! * **city** with `--city N` (alone): N handsets of a city's grid workers,
//!   each enrolled with its own key, syncing a day's work at random moments
//!   of a window against the server in a process of its own: throughput,
//!   sync latency, the server's CPU time, peak memory and disk (`city`);
//! * **attachments** with `--attachments` (alone): photos uploaded by a
//!   handset and fetched by another, MB/s and the server's CPU per MB, beside
//!   the same bytes written in 256 KiB chunks, each fsynced (`attachments`).
//!
//! ```text
//! cargo run --release -p gridsync-bench -- --help
//! ```
//!
//! Missing a target is reported (`MISSED`), not an error; the exit status is
//! non-zero only when something fails (a refused group, a server that does
//! not hold what was sent, a pull that does not deliver the scope).

mod attachments;
mod city;
mod deployment;
mod desk;
mod export;
mod ingest;
mod pull;
mod pull_scale;
mod report;
mod sqlite_baseline;
mod wire_size;
mod workload;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, ensure};
use clap::Parser;
use gridsync_proto::Date;
use gridsync_proto::date::{CHINA_UTC_OFFSET_MINUTES, DAY_MS};
use gridsync_server_core::clock::now_ms;
use gridsync_server_core::ledger::Month;

use deployment::{Deployment, TOWNSHIP_ADMIN};
use report::{Pulls, Round};

/// Measures gridsync server ingest against raw SQLite, wire size against
/// JSON, and a new device's first pull.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Simulated devices pushing concurrently (one grid worker and one grid each).
    #[arg(long, default_value_t = 16)]
    devices: usize,
    /// Working days of changes per device (~71 changes in ~11 write groups a day).
    #[arg(long, default_value_t = 400)]
    days: u32,
    /// The last working day, YYYY-MM-DD (default: yesterday in China), so
    /// that the replication window sees realistic dates.
    #[arg(long)]
    last_day: Option<Date>,
    /// Most changes per push, in whole write groups; also the baseline's rows per transaction.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Most changes per pull page asked for in (d) (client-core's default).
    #[arg(long, default_value_t = 500)]
    pull_page: u32,
    /// Rounds (the first ones) that also run (d), the scoped pulls.
    #[arg(long, default_value_t = 1)]
    pull_rounds: usize,
    /// Seed of the workload generator.
    #[arg(long, default_value_t = 20_240_301)]
    seed: u64,
    /// Probability that a worker finds a new dispute on a given day.
    #[arg(long, default_value_t = 0.1)]
    dispute_rate: f64,
    /// Server HTTP worker threads (0: one per core, the server's default).
    #[arg(long, default_value_t = 0)]
    server_workers: usize,
    /// Rounds of (a), (a') and (b), back to back on fresh databases; the summary takes medians.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Threads of the simulated devices' shared async HTTP runtime.
    #[arg(long, default_value_t = 1)]
    client_threads: usize,
    /// PostgreSQL server for (e): the URL of a database there whose user may
    /// create databases; each measurement makes a fresh one and drops it.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    postgres: String,
    /// Server instances on one PostgreSQL database in (e), one measurement each.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4")]
    postgres_instances: Vec<usize>,
    /// Leave out (e), the PostgreSQL measurements.
    #[arg(long)]
    no_postgres: bool,
    /// Directory for the temporary databases (default: the system temp dir).
    /// Put it on the disk you want to measure.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// (f): after the first round, export every month of the last year for
    /// the county (XLSX), and the quarters' rankings, each timed with its
    /// peak memory. A county-year: --devices 64 --days 365 --dispute-rate 0.45.
    #[arg(long)]
    export: bool,
    /// (g): after the first round, time the dispute desk's list pages, one
    /// dispute in full, and the console's ledgers page's reads over the county.
    #[arg(long)]
    desk: bool,
    /// Keep round 1's server data directory as DIR (it must not exist), to
    /// time (g) again over it with --desk-only (with --city: the city's).
    #[arg(long, value_name = "DIR")]
    keep_data: Option<PathBuf>,
    /// Only (g), over the server data directory DATA kept by --keep-data,
    /// for the month before --last-day's; no workload, no other figure.
    #[arg(long, value_name = "DATA")]
    desk_only: Option<PathBuf>,
    /// Only (d), the township administrator's and the first worker's new
    /// devices' first syncs, over a copy of the server data directory DATA
    /// kept by --keep-data (same --devices); no workload, no other figure.
    #[arg(long, value_name = "DATA")]
    pull_only: Option<PathBuf>,
    /// City scale: N handsets (grid workers of a city, one grid each), each
    /// enrolled with its own key, sync one day's work at random moments of
    /// --city-window against the server in a process of its own. Runs
    /// alone: no other measurement. Quick: --city 200 --city-window 20.
    #[arg(long, value_name = "N")]
    city: Option<usize>,
    /// The city's window: each handset syncs once within it.
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    city_window: u64,
    /// Most of the city's handsets syncing at once (client connections).
    #[arg(long, default_value_t = 64)]
    city_concurrency: usize,
    /// Internal: the city's server over the data directory DATA, in a
    /// process of its own.
    #[arg(long, hide = true, value_name = "DATA")]
    city_server: Option<PathBuf>,
    /// Only the pull-scale measurement (`pull_scale`, issue 13 item 2): a
    /// grid worker's incremental pull in a deployment of
    /// --pull-scale-small grids and one of --pull-scale-large grids of the
    /// same per-grid activity, side by side; no other figure.
    #[arg(long)]
    pull_scale: bool,
    /// Grids of --pull-scale's small deployment.
    #[arg(long, default_value_t = 20)]
    pull_scale_small: usize,
    /// Grids of --pull-scale's large deployment.
    #[arg(long, default_value_t = 2_000)]
    pull_scale_large: usize,
    /// Patrols each grid starts and ends in --pull-scale.
    #[arg(long, default_value_t = 5)]
    pull_scale_records: usize,
    /// Timed repeats of --pull-scale's incremental pull (the median is kept).
    #[arg(long, default_value_t = 31)]
    pull_scale_repeats: usize,
    /// Only the attachments measurement (issue 16): a handset uploads
    /// --attachment-count photos of --attachment-mb MB to the server in its
    /// own process, a second one fetches them; MB/s and server CPU per MB
    /// each way beside 256 KiB chunks written and fsynced; no other figure.
    #[arg(long)]
    attachments: bool,
    /// Photos of --attachments.
    #[arg(long, default_value_t = 20)]
    attachment_count: usize,
    /// Each photo's size in --attachments, MB.
    #[arg(long, default_value_t = 5.0)]
    attachment_mb: f64,
    /// Internal: one export of (f), in a process of its own.
    #[arg(long, hide = true, num_args = 5, value_names = ["DATA", "WHAT", "PLACE", "PERIOD", "FILE"])]
    export_child: Option<Vec<String>>,
}

fn main() -> anyhow::Result<()> {
    // Server errors go to stderr (RUST_LOG=... for more).
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
    let args = Args::parse();
    if let Some(child) = &args.export_child {
        return export::child_main(child);
    }
    if let Some(data) = &args.city_server {
        return city::server_main(data, args.server_workers);
    }
    ensure!(
        args.devices > 0 && args.days > 0 && args.batch > 0 && args.rounds > 0 && args.pull_page > 0,
        "devices, days, batch, pull page and rounds must be positive"
    );
    ensure!((0.0..=1.0).contains(&args.dispute_rate), "dispute rate must be between 0 and 1");
    let yesterday = Date::of_millis(now_ms() as i64 - DAY_MS, CHINA_UTC_OFFSET_MINUTES);
    let last_day = args.last_day.or(yesterday).context("cannot tell today's date")?;
    let (year, month, _) = last_day.ymd();
    // The last whole month, as an admin opens it early the next one.
    let desk_month = Month::new(year, month).context("the workload's last month")?.previous();
    if let Some(handsets) = args.city {
        return city::run(&city::Options {
            handsets,
            window: std::time::Duration::from_secs(args.city_window),
            concurrency: args.city_concurrency,
            client_threads: args.client_threads,
            server_workers: args.server_workers,
            batch: args.batch,
            pull_page: args.pull_page,
            day: last_day,
            seed: args.seed,
            dispute_rate: args.dispute_rate,
            dir: args.dir.clone().unwrap_or_else(std::env::temp_dir),
            keep_data: args.keep_data.clone(),
        });
    }
    if let Some(data) = &args.desk_only {
        let desk = desk::run(data, deployment::COUNTY, desk_month)?;
        desk::report(&desk, desk.disputes);
        return Ok(());
    }
    if let Some(data) = &args.pull_only {
        return pull::only(data, &Deployment::new(args.devices), args.pull_page, args.server_workers);
    }
    let base = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let tmp = tempfile::Builder::new()
        .prefix("gridsync-bench-")
        .tempdir_in(&base)
        .with_context(|| format!("cannot create a temporary directory in {}", base.display()))?;
    if args.attachments {
        ensure!(args.attachment_mb > 0.0 && args.attachment_mb <= 20.0, "--attachment-mb: 0 to 20 (MB)");
        let params = attachments::Params {
            count: args.attachment_count,
            bytes: (args.attachment_mb * 1e6) as usize,
            server_workers: args.server_workers,
        };
        let figures = attachments::run(tmp.path(), &params)?;
        attachments::report(&params, &figures);
        return Ok(());
    }
    if args.pull_scale {
        let params = pull_scale::Params {
            small: args.pull_scale_small,
            large: args.pull_scale_large,
            records: args.pull_scale_records,
            repeats: args.pull_scale_repeats,
            page: args.pull_page,
        };
        let (small, large) = pull_scale::run(tmp.path(), &params)?;
        pull_scale::report(&small, &large);
        return Ok(());
    }

    report::header(&args, &base);
    report::fsync("disk before", &sqlite_baseline::fsync_probe(tmp.path(), report::FSYNC_SAMPLES)?);

    let generated = Instant::now();
    let deployment = Deployment::new(args.devices);
    let params =
        workload::Params { days: args.days, last_day, seed: args.seed, dispute_rate: args.dispute_rate };
    let mut work = workload::Workload::generate(&params, &deployment)?;
    let samples = std::mem::take(&mut work.samples);
    let users: Vec<String> = work.devices.iter().map(|d| d.user.clone()).collect();
    // The first worker's grid, for the worker's pull in (d): every change to
    // its records is that worker's.
    let grid_records = {
        let ids: std::collections::HashSet<_> = work.devices[0].groups.iter().map(|g| g[0].record).collect();
        ids.len() as u64
    };
    let summary = report::Workload {
        changes: work.change_count(),
        groups: work.group_count(),
        stats: work.stats,
        first_day: work.first_day,
        last_day,
        device_days: args.devices as u64 * u64::from(args.days),
    };
    let mut pushes = work.into_pushes(args.batch);
    let push_count: usize = pushes.iter().map(Vec::len).sum();
    report::workload(&summary, push_count, generated.elapsed());

    // (a), (a') and (b) back to back in every round, on fresh databases,
    // so that each (b)/(a) ratio compares measurements taken under the
    // same disk conditions; the summary takes medians. (d) pulls from the
    // server (b) filled, in the first `pull_rounds` rounds.
    let rows = sqlite_baseline::batches(&pushes);
    let options =
        ingest::Options { server_workers: args.server_workers, client_threads: args.client_threads };
    let expected =
        ingest::Expected { records: summary.stats.records, reports: summary.device_days, samples: &samples };
    let mut rounds: Vec<Round> = Vec::with_capacity(args.rounds);
    let mut pull_pages = Vec::new();
    for n in 1..=args.rounds {
        let dir = tempfile::tempdir_in(tmp.path())?;
        let a = sqlite_baseline::run(&dir.path().join("a"), &rows, 1)?;
        let a_group = sqlite_baseline::run(&dir.path().join("a-group"), &rows, args.devices)?;
        let server = ingest::Server::start(&dir.path().join("b"), &deployment, &options)?;
        let b = ingest::run(&server, &mut pushes, &users, &expected, &options)?;
        let verified = b.verified(&expected);
        let pulls = if n <= args.pull_rounds {
            let mut admin = pull::run(&server, dir.path(), TOWNSHIP_ADMIN, args.pull_page)?;
            let pages = std::mem::take(&mut admin.pages_received);
            if pull_pages.is_empty() {
                pull_pages = pages;
            }
            let worker = pull::run(&server, dir.path(), &users[0], args.pull_page)?;
            Some(Pulls { admin, worker })
        } else {
            None
        };
        let scope = server.scope;
        let data = dir.path().join("b").join("server-data");
        // What the server's own scope rules put on each device, budget aside.
        let expected_scope = match &pulls {
            Some(_) => Some((
                pull::in_scope(server.database(), TOWNSHIP_ADMIN, &scope)?,
                pull::in_scope(server.database(), &users[0], &scope)?,
            )),
            None => None,
        };
        server.stop();
        if args.export && n == 1 {
            let first = Date::of_millis(
                last_day.start_ms(CHINA_UTC_OFFSET_MINUTES) - 364 * DAY_MS,
                CHINA_UTC_OFFSET_MINUTES,
            )
            .context("a date a year back")?;
            let exported =
                export::run(&data, deployment::COUNTY, first.max(summary.first_day), last_day, dir.path())?;
            report::exports(&exported, &summary);
        }
        if args.desk && n == 1 {
            let desk = desk::run(&data, deployment::COUNTY, desk_month)?;
            desk::report(&desk, summary.stats.disputes);
        }
        if let Some(keep) = args.keep_data.as_ref().filter(|_| n == 1) {
            std::fs::rename(&data, keep).or_else(|_| copy_dir(&data, keep)).with_context(|| {
                format!("cannot keep the server data as {} (it must not exist)", keep.display())
            })?;
            println!("     server data of round 1 kept in {}", keep.display());
        }
        drop(dir);
        let round = Round { a, a_group, b, pulls, scope };
        report::round(n, args.rounds, &round, verified);
        ensure!(verified, "the server's database does not hold what was sent");
        if let (Some(p), Some((admin_scope, worker_scope))) = (&round.pulls, expected_scope) {
            // The whole scope (open disputes and what was active in the
            // window), or as much of it as the budget allows.
            ensure!(
                p.admin.records + u64::from(p.admin.withheld) == admin_scope
                    && p.admin.held == p.admin.records,
                "the township administrator's device did not get its scope"
            );
            ensure!(
                p.worker.records + u64::from(p.worker.withheld) == worker_scope
                    && p.worker.held == p.worker.records
                    && worker_scope <= grid_records,
                "the worker's new device did not get its grid"
            );
        }
        rounds.push(round);
    }
    drop(rows);

    // (e): the same ingest and the township's first sync on PostgreSQL,
    // with 1, 2 and 4 server instances sharing the database.
    let mut postgres = Vec::new();
    if !args.no_postgres {
        for &instances in &args.postgres_instances {
            let dir = tempfile::tempdir_in(tmp.path())?;
            let server = ingest::Server::start_postgres(&args.postgres, instances, &deployment, &options)?;
            let b = ingest::run(&server, &mut pushes, &users, &expected, &options)?;
            let verified = b.verified(&expected);
            let mut admin = pull::run(&server, dir.path(), TOWNSHIP_ADMIN, args.pull_page)?;
            admin.pages_received.clear();
            let admin_scope = pull::in_scope(server.database(), TOWNSHIP_ADMIN, &server.scope)?;
            server.stop();
            let run = report::PgRun { instances, b, admin };
            report::postgres_run(&run, rounds.first(), verified);
            ensure!(verified, "the PostgreSQL database does not hold what was sent");
            ensure!(
                run.admin.records + u64::from(run.admin.withheld) == admin_scope
                    && run.admin.held == run.admin.records,
                "the township administrator's device did not get its scope from PostgreSQL"
            );
            postgres.push(run);
        }
    }
    report::fsync("disk after", &sqlite_baseline::fsync_probe(tmp.path(), report::FSYNC_SAMPLES)?);

    let c = wire_size::measure(&pushes, args.seed)?;
    let c_pull = wire_size::measure_pull(&pull_pages)?;
    report::summary(&args, &rounds, &c, &c_pull);
    report::postgres_summary(&args, &rounds, &postgres);
    Ok(())
}

/// Copies a directory's files (the server's data directory is flat but for
/// its lock file) when a rename across file systems fails.
pub(crate) fn copy_dir(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name()))?;
        }
    }
    Ok(())
}
