//! `--pull-scale`: what a grid worker's incremental pull costs as the
//! deployment grows (issue 13 item 2, ADR 0020).
//!
//! Two deployments of the same per-grid activity, one of `--pull-scale-small`
//! grids and one of `--pull-scale-large` (default 20 and 2,000), measured
//! side by side in one run, in process (the service over the SQLite
//! storage, no HTTP):
//!
//! 1. every grid's worker starts `--pull-scale-records` patrols in their
//!    grid (3 changes each) and pushes them; the first worker's second
//!    device (a tablet) pulls its scope (the patrols, sent whole);
//! 2. every grid's worker ends each of their patrols (2 changes each), a
//!    push per grid, interleaved in the log with every other grid's;
//! 3. the tablet's incremental pull: one page from the cursor of step 1,
//!    planned and recorded by the service, timed `--pull-scale-repeats`
//!    times (the same cursor is presented again each time, so every repeat
//!    plans the same page), the two deployments in turns so that both see
//!    the same machine; the figure is the median.
//!
//! The target: the large deployment's pull within 2× of the small one's.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use gridsync_proto::edit::Author;
use gridsync_proto::{
    ActorId, Change, Edit, HlcClock, PullRequest, PullResponse, PushRequest, RecordId, RecordKind,
    RecordState, Value, make_group,
};
use gridsync_server::Database;
use gridsync_server::operator::Operator;
use gridsync_server_core::StorageExt;
use gridsync_server_core::clock::now_ms;
use gridsync_server_core::service::ServiceSettings;
use tokio::task::JoinSet;

use crate::deployment::{Deployment, Seat};

/// The shape of the measurement.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Params {
    /// Grids of the small deployment.
    pub(crate) small: usize,
    /// Grids of the large deployment.
    pub(crate) large: usize,
    /// Patrols per grid.
    pub(crate) records: usize,
    /// Timed repeats of the incremental pull.
    pub(crate) repeats: usize,
    /// Most changes per pull page asked for.
    pub(crate) page: u32,
}

/// One deployment's figures.
#[derive(Debug)]
pub(crate) struct Figure {
    /// Grids.
    pub(crate) grids: usize,
    /// Changes in the log.
    pub(crate) log: u64,
    /// Changes the incremental pull sent.
    pub(crate) sent: usize,
    /// The incremental pull's median time.
    pub(crate) median: Duration,
    /// Its fastest time.
    pub(crate) min: Duration,
    /// Filling the deployment.
    pub(crate) fill: Duration,
}

/// Pushes at once while filling a deployment (the writer commits them in
/// groups).
const IN_FLIGHT: usize = 64;

/// Fills both deployments in `dir`, each on a fresh database, then times
/// their incremental pulls in turns (small, large, small, …), so that both
/// see the same machine.
pub(crate) fn run(dir: &Path, params: &Params) -> anyhow::Result<(Figure, Figure)> {
    let small = prepare(&dir.join("small"), params.small, params)?;
    let large = prepare(&dir.join("large"), params.large, params)?;
    let (mut small_times, mut large_times) = (Vec::new(), Vec::new());
    for _ in 0..params.repeats.max(1) {
        small_times.push(small.time(params)?);
        large_times.push(large.time(params)?);
    }
    Ok((small.figure(small_times), large.figure(large_times)))
}

/// A grid worker's device making patrols in its grid.
struct Worker {
    seat: Seat,
    device: ActorId,
    clock: HlcClock,
    states: Vec<RecordState>,
}

impl Worker {
    fn group(&mut self, index: Option<usize>, edits: Vec<Edit>) -> anyhow::Result<Vec<Change>> {
        let now = now_ms();
        let create = index.is_none();
        let state = match index {
            Some(i) => &mut self.states[i],
            None => {
                self.states.push(RecordState::new(RecordId::generate(now), RecordKind::Patrol));
                self.states.last_mut().expect("just pushed")
            }
        };
        let mut author =
            Author { device: self.device, name: &self.seat.user, clock: &mut self.clock, now_ms: now };
        Ok(make_group(state, &mut author, create, edits)?)
    }

    fn push(&self, groups: Vec<Vec<Change>>) -> PushRequest {
        PushRequest { device: self.device, sent_ms: now_ms(), groups }
    }
}

fn set(field: &str, value: Value) -> Edit {
    Edit::Set(field.into(), value)
}

/// Pushes every worker's request, [`IN_FLIGHT`] at a time; every change
/// must be accepted.
fn push_all(op: &Operator, pushes: Vec<(PushRequest, String)>) -> anyhow::Result<()> {
    op.block_on(async {
        let mut running = JoinSet::new();
        for (push, user) in pushes {
            if running.len() >= IN_FLIGHT {
                running.join_next().await.context("a push task")???;
            }
            let service = op.service().clone();
            let expected: usize = push.groups.iter().map(Vec::len).sum();
            running.spawn(async move {
                let answer = service.push(push, user).await?;
                ensure!(
                    answer.refused.is_empty() && answer.accepted as usize == expected,
                    "a push was not accepted whole: {answer:?}"
                );
                anyhow::Ok(())
            });
        }
        while let Some(done) = running.join_next().await {
            done.context("a push task")??;
        }
        anyhow::Ok(())
    })
}

fn pull(op: &Operator, request: PullRequest, user: &str) -> anyhow::Result<PullResponse> {
    op.run(op.service().pull(request, user.to_owned()))
}

/// A filled deployment and the pull to time.
struct Prepared {
    op: Operator,
    request: PullRequest,
    user: String,
    grids: usize,
    log: u64,
    fill: Duration,
    /// Changes the pull sends.
    sent: usize,
}

impl Prepared {
    /// One incremental pull, timed; it must send the grid's day.
    fn time(&self, params: &Params) -> anyhow::Result<Duration> {
        let clock = Instant::now();
        let page = pull(&self.op, self.request.clone(), &self.user)?;
        let took = clock.elapsed();
        ensure!(
            !page.more && page.snapshots.is_empty() && page.changes.len() == 2 * params.records,
            "the worker's incremental pull did not send its grid's day: {} changes, more {}",
            page.changes.len(),
            page.more
        );
        Ok(took)
    }

    fn figure(&self, mut times: Vec<Duration>) -> Figure {
        times.sort();
        Figure {
            grids: self.grids,
            log: self.log,
            sent: self.sent,
            median: times[times.len() / 2],
            min: times[0],
            fill: self.fill,
        }
    }
}

fn prepare(dir: &Path, grids: usize, params: &Params) -> anyhow::Result<Prepared> {
    let started = Instant::now();
    let deployment = Deployment::new(grids);
    let database = Database::Embedded { data_dir: dir.join("server-data") };
    deployment.install(&database)?;
    let op = Operator::open(&database, ServiceSettings::default())?;
    let mut workers: Vec<Worker> = deployment
        .seats
        .iter()
        .map(|seat| Worker {
            seat: seat.clone(),
            device: ActorId::random(),
            clock: HlcClock::default(),
            states: Vec::new(),
        })
        .collect();

    // 1. Every grid's patrols; the tablet takes its scope.
    let mut pushes = Vec::with_capacity(grids);
    for w in &mut workers {
        let mut groups = Vec::with_capacity(params.records);
        for _ in 0..params.records {
            let started = Value::Int(now_ms() as i64);
            groups.push(w.group(
                None,
                vec![set("grid", Value::Text(w.seat.grid.clone())), set("started_ms", started)],
            )?);
        }
        pushes.push((w.push(groups), w.seat.user.clone()));
    }
    push_all(&op, pushes)?;
    let user = workers[0].seat.user.clone();
    let tablet = ActorId::random();
    let (mut cursor, mut profile_version) = (0, 0);
    for _ in 0..100 {
        let page =
            pull(&op, PullRequest { device: tablet, cursor, limit: params.page, profile_version }, &user)?;
        cursor = page.cursor;
        if let Some(profile) = &page.profile {
            profile_version = profile.version;
        }
        if !page.more {
            break;
        }
    }

    // 2. Every grid's day: each patrol ended, one push per grid.
    let mut pushes = Vec::with_capacity(grids);
    for w in &mut workers {
        let mut groups = Vec::with_capacity(params.records);
        for i in 0..params.records {
            let ended = Value::Int(now_ms() as i64 + 1);
            groups.push(w.group(
                Some(i),
                vec![set("ended_ms", ended), set("summary", Value::Text("巡查正常".into()))],
            )?);
        }
        pushes.push((w.push(groups), w.seat.user.clone()));
    }
    push_all(&op, pushes)?;
    let log = op.run(op.service().storage().read(|tx| Ok(tx.change_count()?)))?;
    let fill = started.elapsed();

    let request = PullRequest { device: tablet, cursor, limit: params.page, profile_version };
    Ok(Prepared { op, request, user, grids, log, fill, sent: 2 * params.records })
}

/// Prints both deployments' figures and the ratio.
pub(crate) fn report(small: &Figure, large: &Figure) {
    println!(
        "pull scale: a grid worker's incremental pull (one page, planned and recorded), by deployment size"
    );
    for f in [small, large] {
        println!(
            "  {:>5} grids: log {:>7} changes, pull sent {:>3} changes: median {:>8.2} ms (min {:>8.2} ms); filled in {:.1} s",
            f.grids,
            f.log,
            f.sent,
            f.median.as_secs_f64() * 1e3,
            f.min.as_secs_f64() * 1e3,
            f.fill.as_secs_f64()
        );
    }
    let ratio = large.median.as_secs_f64() / small.median.as_secs_f64();
    let verdict = if ratio <= 2.0 { "met" } else { "MISSED" };
    println!(
        "  ratio {} grids / {} grids: {ratio:.2}× (target: at most 2×: {verdict})",
        large.grids, small.grids
    );
}
