//! **(g)** the dispute desk: after the first round's ingest, pages of the
//! county's dispute list (`Service::list_disputes`) with the console's
//! usual filters, and one dispute in full (`Service::dispute`), each timed
//! in-process over the data directory (b) filled: the first list after the
//! service starts (which reads every dispute into the desk's index) once,
//! then every case after one warm-up, [`REPEATS`] runs, as min and median.
//!
//! Then the ledgers over the county: a month's ledgers whole
//! (`Service::month_ledgers`: the table and the register, as the exports
//! read them), the first after the start (which reads every record into the
//! ledgers' index) once, then warm; and the console's ledgers page's two
//! reads, the month with one page of the register (`Service::month_page`)
//! and the 12-month trend (`Service::ledger_trend`).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use gridsync_proto::{RecordId, Stage};
use gridsync_server::operator::Operator;
use gridsync_server_core::ledger::Month;
use gridsync_server_core::service::Caller;
use gridsync_server_core::service::disputes::DisputeQuery;
use gridsync_server_core::service::ledgers::RowWindow;

/// Timed runs of each case.
pub(crate) const REPEATS: usize = 5;

/// One case, measured.
#[derive(Debug, Clone)]
pub(crate) struct Timed {
    /// What was asked.
    pub(crate) what: String,
    /// How many disputes matched (the list's total; 1 for a detail).
    pub(crate) total: usize,
    /// Lines in the answer.
    pub(crate) lines: usize,
    /// The fastest run.
    pub(crate) min: Duration,
    /// The median run.
    pub(crate) median: Duration,
}

/// Times `work` [`REPEATS`] times after a warm-up.
fn time<T>(mut work: impl FnMut() -> anyhow::Result<T>) -> anyhow::Result<(T, Duration, Duration)> {
    let mut last = work()?;
    let mut runs = Vec::with_capacity(REPEATS);
    for _ in 0..REPEATS {
        let started = Instant::now();
        last = work()?;
        runs.push(started.elapsed());
    }
    runs.sort();
    Ok((last, runs[0], runs[REPEATS / 2]))
}

/// Months in the console's chart.
const TREND_MONTHS: u8 = 12;

/// Measures the desk over the server data in `data`, for `place`, and the
/// console's ledgers page for `month`.
pub(crate) fn run(data: &Path, place: &str, month: Month) -> anyhow::Result<Desk> {
    let op = Operator::open_default(data)?;
    let list = |query: DisputeQuery| op.run(op.service().list_disputes(&Caller::Operator, query));
    let base = DisputeQuery { place: place.to_owned(), limit: 50, ..DisputeQuery::default() };
    // The first list after a start reads and folds every dispute once.
    let started = Instant::now();
    let first = list(base.clone())?;
    let cold = started.elapsed();
    let mut out = vec![Timed {
        what: "first list after a start (cold)".to_owned(),
        total: first.total,
        lines: first.items.len(),
        min: cold,
        median: cold,
    }];
    // A page deep in the list: the cursor of the tenth page.
    let mut deep = base.clone();
    for _ in 0..9 {
        let page = list(deep.clone())?;
        let Some(next) = page.next else { break };
        deep.before = Some(next.parse::<RecordId>().map_err(anyhow::Error::msg)?);
    }
    let cases = [
        ("first page of 50, no filter", base.clone()),
        ("tenth page (cursor)", deep),
        ("stage = mediating", DisputeQuery { stage: Some(Stage::Mediating), ..base.clone() }),
        ("overdue", DisputeQuery { overdue: Some(true), ..base.clone() }),
        ("in conflict", DisputeQuery { in_conflict: Some(true), ..base.clone() }),
        ("risk 4, page of 500", DisputeQuery { risk: Some(4), limit: 500, ..base.clone() }),
    ];
    for (what, query) in cases {
        let (page, min, median) = time(|| list(query.clone()))?;
        out.push(Timed { what: what.to_owned(), total: page.total, lines: page.items.len(), min, median });
    }
    let id: RecordId =
        first.items.first().context("the county has disputes")?.id.parse().map_err(anyhow::Error::msg)?;
    let (detail, min, median) = time(|| op.run(op.service().dispute(&Caller::Operator, id)))?;
    let steps = detail.lifecycle.map_or(0, |l| l.steps.len());
    out.push(Timed { what: format!("one dispute in full ({steps} steps)"), total: 1, lines: 1, min, median });

    // The ledgers page: its month (total = register rows, lines = table lines).
    let ledgers = || op.run(op.service().month_ledgers(&Caller::Operator, place, month));
    let (rss_before, started) = (resident_bytes(), Instant::now());
    let first = ledgers()?;
    let cold = started.elapsed();
    let index_bytes = resident_bytes().zip(rss_before).map(|(after, before)| after.saturating_sub(before));
    let (rows, lines) = (first.rows.len(), first.table.lines.len());
    out.push(Timed {
        what: format!("ledgers {month}, first after a start"),
        total: rows,
        lines,
        min: cold,
        median: cold,
    });
    let (_, min, median) = time(ledgers)?;
    out.push(Timed { what: format!("ledgers {month}"), total: rows, lines, min, median });
    // What the console's page asks for: the table and 100 register rows.
    let window = RowWindow { skip: 0, take: 100 };
    let page = || op.run(op.service().month_page(&Caller::Operator, place, month, window));
    let (shown, min, median) = time(page)?;
    out.push(Timed {
        what: format!("ledgers {month}, a page of 100 rows"),
        total: shown.total_rows,
        lines: shown.rows.len(),
        min,
        median,
    });
    let trend = || op.run(op.service().ledger_trend(&Caller::Operator, place, month, TREND_MONTHS));
    let (points, min, median) = time(trend)?;
    out.push(Timed {
        what: format!("{TREND_MONTHS}-month trend to {month}"),
        total: points.len(),
        lines: points.len(),
        min,
        median,
    });
    let disputes = first_list_total(&out);
    Ok(Desk { timed: out, index_bytes, disputes })
}

/// What (g) measured.
#[derive(Debug, Clone)]
pub(crate) struct Desk {
    /// Each case.
    pub(crate) timed: Vec<Timed>,
    /// How much the process's resident memory grew at the first ledgers
    /// read (the ledgers' index), where the system tells.
    pub(crate) index_bytes: Option<u64>,
    /// The county's disputes (the unfiltered list's total).
    pub(crate) disputes: u64,
}

/// The unfiltered list's total: the first case's.
fn first_list_total(timed: &[Timed]) -> u64 {
    timed.first().map_or(0, |t| t.total as u64)
}

/// This process's resident set size (Linux: `/proc/self/status`).
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Prints the figures.
pub(crate) fn report(desk: &Desk, disputes: u64) {
    println!(
        "(g)  the dispute desk and the ledgers page over the county's {disputes} disputes, in-process, min / median of {REPEATS}:"
    );
    println!("     {:<36} | {:>6} | {:>5} | {:>8} | {:>8}", "case", "total", "lines", "min ms", "med ms");
    for t in &desk.timed {
        println!(
            "     {:<36} | {:>6} | {:>5} | {:>8.1} | {:>8.1}",
            t.what,
            t.total,
            t.lines,
            t.min.as_secs_f64() * 1e3,
            t.median.as_secs_f64() * 1e3
        );
    }
    if let Some(bytes) = desk.index_bytes {
        println!(
            "     the ledgers' index: resident memory grew {:.1} MiB at its first read",
            bytes as f64 / 1048576.0
        );
    }
}
