//! The load: every handset syncs at its own moment of the window, at most
//! `concurrency` at once, all on one async runtime; meanwhile the server's
//! CPU time and memory are sampled once a second from `/proc`.
//!
//! A dispatcher walks the handsets in the order of their moments, sleeps
//! until each one's, takes a free client slot (waiting if all are busy:
//! the handset's *lag*) and spawns its [`handset::sync`]. The first failed
//! sync (a refused push, an error answer) ends the run with its error.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::handset::{self, Handset, Synced};
use super::server_child::{self, ServerProcess, Usage};

/// How often the server's resource use is sampled.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// How to run the load.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    /// Most handsets syncing at once.
    pub(crate) concurrency: usize,
    /// Threads of the handsets' runtime.
    pub(crate) client_threads: usize,
    /// Most changes asked per pull page.
    pub(crate) pull_page: u32,
}

/// The server's and the bench's resource use at one moment of the load.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    /// Since the start of the window.
    pub(crate) at: Duration,
    /// Syncs finished by then.
    pub(crate) done: usize,
    /// The server's.
    pub(crate) server: Usage,
    /// The bench's own CPU time (the handsets, the dispatcher).
    pub(crate) client_cpu: Duration,
}

/// What the load measured.
#[derive(Debug)]
pub(crate) struct Load {
    /// One per handset, in the order they finished.
    pub(crate) synced: Vec<Synced>,
    /// From the start of the window to the end of the last sync.
    pub(crate) elapsed: Duration,
    /// The samples, the first at the start and the last at the end.
    pub(crate) timeline: Vec<Sample>,
}

/// Runs `handsets` (sorted by their moment) against `server`.
pub(crate) fn run(server: &ServerProcess, handsets: Vec<Handset>, options: &Options) -> anyhow::Result<Load> {
    // reqwest is built with `rustls-no-provider`: pick ring, as client-core does.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(options.client_threads.max(1))
        .enable_all()
        .build()
        .context("cannot start the handsets' runtime")?;
    let progress = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(handsets.len() as u64);
        bar.set_style(
            ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} syncs  {msg}")
                .context("the progress bar's template")?
                .progress_chars("=> "),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let pid = server.pid().to_string();
    let base = Arc::new(server.url());
    let options = *options;
    let start = Instant::now();
    let timeline = Arc::new(Mutex::new(Vec::new()));
    let sample = {
        let (timeline, progress) = (timeline.clone(), progress.clone());
        move || -> anyhow::Result<()> {
            let point = Sample {
                at: start.elapsed(),
                done: progress.position() as usize,
                server: server_child::usage(&pid)?,
                client_cpu: server_child::usage("self")?.cpu,
            };
            let mut timeline = timeline.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(last) = timeline.last() {
                let busy = cpu_share(last, &point);
                progress.set_message(format!(
                    "server: {:.0}% CPU, {:.0} MiB",
                    100.0 * busy,
                    point.server.rss_kib as f64 / 1024.0
                ));
            }
            timeline.push(point);
            Ok(())
        }
    };
    let result = runtime.block_on(async {
        sample()?;
        let sampler = {
            let sample = sample.clone();
            tokio::spawn(every(SAMPLE_EVERY, sample))
        };
        let synced = dispatch(handsets, base, &options, start, &progress).await;
        sampler.abort();
        let synced = synced?;
        let elapsed = start.elapsed();
        sample()?;
        anyhow::Ok((synced, elapsed))
    });
    progress.finish_and_clear();
    let (synced, elapsed) = result?;
    let timeline = std::mem::take(&mut *timeline.lock().unwrap_or_else(|p| p.into_inner()));
    Ok(Load { synced, elapsed, timeline })
}

/// Starts each handset's sync at its moment, with at most
/// `options.concurrency` running, and collects them.
async fn dispatch(
    handsets: Vec<Handset>,
    base: Arc<String>,
    options: &Options,
    start: Instant,
    progress: &ProgressBar,
) -> anyhow::Result<Vec<Synced>> {
    let slots = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let mut running = JoinSet::new();
    let mut synced = Vec::with_capacity(handsets.len());
    for handset in handsets {
        tokio::time::sleep_until(tokio::time::Instant::from_std(start + handset.at)).await;
        let slot = slots.clone().acquire_owned().await.context("the client slots closed")?;
        let lag = start.elapsed().saturating_sub(handset.at);
        let (base, progress, page) = (base.clone(), progress.clone(), options.pull_page);
        running.spawn(async move {
            let result = handset::sync(handset, &base, page, lag).await;
            drop(slot);
            progress.inc(1);
            result
        });
        while let Some(done) = running.try_join_next() {
            synced.push(done.context("a handset's task panicked")??);
        }
    }
    while let Some(done) = running.join_next().await {
        synced.push(done.context("a handset's task panicked")??);
    }
    Ok(synced)
}

/// Runs `work` every `period` (the first time after one period) until it fails.
async fn every(period: Duration, work: impl Fn() -> anyhow::Result<()>) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(period);
    tick.tick().await;
    loop {
        tick.tick().await;
        work()?;
    }
}

/// The server's CPU time between two samples, as a share of one core.
pub(crate) fn cpu_share(from: &Sample, to: &Sample) -> f64 {
    let wall = to.at.saturating_sub(from.at).as_secs_f64();
    if wall <= 0.0 { 0.0 } else { to.server.cpu.saturating_sub(from.server.cpu).as_secs_f64() / wall }
}
