//! City scale (issue 13, item 6): `gridsync-bench --city N`.
//!
//! N handsets, each a grid worker (网格员) with a grid of their own in a
//! city's directory ([`places`]), each enrolled with a key of its own,
//! sync one day's work (~70 changes in ~11 write groups, from the
//! [`crate::workload`] generator: the day before `--last-day`'s default,
//! yesterday in China) at a random moment of a window (`--city-window`,
//! 600 s by default), at most `--city-concurrency` at once, all on one async
//! runtime ([`load`]). A sync ([`handset`]) is the handset's pushes, each
//! signed as `client-core` signs them and sent after the previous
//! acknowledgement, then pull pages from cursor 0 until the server says
//! there is no more: what a handset does on its first evening after
//! enrollment. Its latency is from its first request to its last answer.
//!
//! The city's places, users, codes and enrollments are written into a
//! fresh data directory **before the server starts**, through the service
//! layer on the database directly, as the operator's command line does
//! ([`enroll`]): setting up 10,000 handsets takes none of the server's
//! measured time, CPU or memory.
//!
//! The server runs in **a process of its own** ([`server_child`]: this
//! binary called back with `--city-server`), the real `gridsync-server`
//! with its embedded SQLite on a loopback port, so that its CPU time
//! (`utime + stime`), its peak resident memory (`VmHWM`) and the bytes of
//! its data directory are its own. Afterwards the server is stopped and
//! [`crate::ingest::inspect`] must find in its database exactly the
//! changes sent, the records made, one daily report per handset and the
//! merged state of every dispute and every 50th other record equal to the
//! handset's; a refused push or a lost change fails the run. Missing a
//! target is printed `MISSED`, not an error.
//!
//! ```text
//! cargo run --release -p gridsync-bench -- --city 200 --city-window 20
//! ```

mod enroll;
mod handset;
mod load;
mod places;
mod report;
pub(crate) mod server_child;
mod sizes;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use gridsync_proto::Date;
use gridsync_server::Database;
use gridsync_server_sqlite::DB_FILE;

use crate::ingest;
use crate::workload::{self, Rng, Workload};
use handset::Handset;
use server_child::ServerProcess;

pub(crate) use server_child::child_main as server_main;

/// What to run.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// Handsets (grid workers, grids).
    pub(crate) handsets: usize,
    /// The window within which each syncs once.
    pub(crate) window: Duration,
    /// Most handsets syncing at once.
    pub(crate) concurrency: usize,
    /// Threads of the handsets' runtime.
    pub(crate) client_threads: usize,
    /// Server HTTP workers (0: one per core).
    pub(crate) server_workers: usize,
    /// Most changes per push.
    pub(crate) batch: usize,
    /// Most changes asked per pull page.
    pub(crate) pull_page: u32,
    /// The working day synced.
    pub(crate) day: Date,
    /// Seed of the workload and of the moments.
    pub(crate) seed: u64,
    /// Probability that a worker finds a new dispute that day.
    pub(crate) dispute_rate: f64,
    /// Where the server's data directory goes (a temporary one in it).
    pub(crate) dir: PathBuf,
    /// Keep the server's data directory as this (it must not exist).
    pub(crate) keep_data: Option<PathBuf>,
}

/// Runs the city and prints its figures.
pub(crate) fn run(options: &Options) -> anyhow::Result<()> {
    ensure!(options.handsets > 0 && options.concurrency > 0, "the city needs handsets and client slots");
    let tmp = tempfile::Builder::new()
        .prefix("gridsync-bench-city-")
        .tempdir_in(&options.dir)
        .with_context(|| format!("cannot create a temporary directory in {}", options.dir.display()))?;
    let data = tmp.path().join("server-data");
    report::header(options);

    let generated = Instant::now();
    let deployment = places::city(options.handsets);
    let params = workload::Params {
        days: 1,
        last_day: options.day,
        seed: options.seed,
        dispute_rate: options.dispute_rate,
    };
    let mut work = Workload::generate(&params, &deployment)?;
    let samples = std::mem::take(&mut work.samples);
    let (records, json_bytes) = sizes::records_json(&work)?;
    let devices: Vec<_> = work.devices.iter().map(|d| d.actor).collect();
    let city = report::City {
        places: deployment.places.clone(),
        changes: work.change_count(),
        groups: work.group_count(),
        stats: work.stats,
        json_bytes,
        generated: generated.elapsed(),
    };
    ensure!(records == city.stats.records, "the workload's records do not add up");
    let pushes = work.into_pushes(options.batch);
    report::city(&city, options);

    let (enrolled, took) = enroll::install(&data, &deployment, &devices)?;
    drop(deployment);
    // Measured as the end is: the WAL copied into the database and emptied.
    drop(sizes::checkpoint(&data.join(DB_FILE))?);
    let disk_before = sizes::dir_bytes(&data)?;
    report::setup(&took, options.handsets, disk_before);

    // Each handset's moment, uniform over the window, from the seed.
    let mut rng = Rng::new(options.seed ^ 0x5EED_C17E);
    let window_ns = options.window.as_nanos() as f64;
    let mut handsets: Vec<Handset> = enrolled
        .into_iter()
        .zip(pushes)
        .enumerate()
        .map(|(index, (enrolled, pushes))| {
            let share = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            Handset { index, enrolled, pushes, at: Duration::from_nanos((share * window_ns) as u64) }
        })
        .collect();
    handsets.sort_by_key(|h| h.at);

    let server = ServerProcess::start(&data, options.server_workers)?;
    let started = server.usage()?;
    report::server(&server, &started);
    let load_options = load::Options {
        concurrency: options.concurrency,
        client_threads: options.client_threads,
        pull_page: options.pull_page,
    };
    let load = load::run(&server, handsets, &load_options)?;
    let ended = server.usage()?;
    let disk_running = sizes::dir_bytes(&data)?;
    let files_running = sizes::files(&data)?;
    server.stop()?;
    let disk_after = sizes::dir_bytes(&data)?;
    let files_after = sizes::files(&data)?;
    let tables = sizes::checkpoint_and_tables(&data.join(DB_FILE))?;
    let disk_checkpointed = sizes::dir_bytes(&data)?;

    let held = ingest::inspect(&Database::Embedded { data_dir: data.clone() }, &samples)?;
    let figures = report::Figures {
        load,
        server_start: started,
        server_end: ended,
        disk_before,
        disk_running,
        disk_after,
        files_running,
        files_after,
        disk_checkpointed,
        tables,
        held,
        samples: samples.len() as u64,
    };
    let verified = report::results(&figures, &city, options);
    if let Some(keep) = &options.keep_data {
        std::fs::rename(&data, keep).or_else(|_| crate::copy_dir(&data, keep)).with_context(|| {
            format!("cannot keep the server data as {} (it must not exist)", keep.display())
        })?;
        println!("            server data kept in {}", keep.display());
    }
    drop(tmp);
    ensure!(verified, "the server's database does not hold what the handsets sent");
    Ok(())
}
