//! **(f)** ledger exports: after the first round's ingest, every month of
//! the workload's last year exported for the county (the monthly table and
//! the dispute register, XLSX) and each of the year's quarters ranked, each
//! in a process of its own (this binary, called back with
//! `--export-child`), timed, with its peak resident memory (`VmHWM`, read
//! from `/proc` while it runs).
//!
//! Then the last month that has ended is locked for the county (its
//! ledgers and those of every place below it, in one pass), exported again
//! from the lock, and its corrections computed against the records now.
//!
//! A county-year: `--devices 64 --days 365 --dispute-rate 0.45` gives
//! some 190,000 records and 10,000 disputes.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use gridsync_proto::Date;
use gridsync_server::export::{self, Book, Format};
use gridsync_server::operator::Operator;
use gridsync_server_core::ledger::{Month, Quarter};
use gridsync_server_core::service::Caller;

/// How often the child's peak memory is read.
const POLL: Duration = Duration::from_millis(5);

/// One export, measured.
#[derive(Debug, Clone)]
pub(crate) struct Exported {
    /// `month 2026-11` or `ranking 2026-Q4`.
    pub(crate) what: String,
    /// Rows written (register rows, or ranking entries).
    pub(crate) rows: u64,
    /// Bytes of the file.
    pub(crate) bytes: u64,
    /// Wall time of the child process.
    pub(crate) elapsed: Duration,
    /// Its peak resident memory, KiB.
    pub(crate) peak_kib: u64,
}

/// Exports each month from `first` to `last` and each quarter they touch,
/// for `place`, from the data directory `data`, into `out`.
pub(crate) fn run(
    data: &Path,
    place: &str,
    first: Date,
    last: Date,
    out: &Path,
) -> anyhow::Result<Vec<Exported>> {
    let month_of =
        |d: Date| -> anyhow::Result<Month> { d.to_string()[..7].parse().map_err(anyhow::Error::msg) };
    let (mut month, end) = (month_of(first)?, month_of(last)?);
    let mut quarters: Vec<Quarter> = Vec::new();
    let mut done = Vec::new();
    loop {
        done.push(child(data, "month", place, &month.to_string(), out)?);
        let quarter = Quarter::new(month.first_day().ymd().0, month.first_day().ymd().1.div_ceil(3))
            .context("a quarter")?;
        if !quarters.contains(&quarter) {
            quarters.push(quarter);
        }
        if month == end {
            break;
        }
        month = month.next();
    }
    for quarter in quarters {
        done.push(child(data, "ranking", place, &quarter.to_string(), out)?);
    }
    // The last month that has ended: the month before the last day's.
    let ended = month_of(month_of(last)?.first_day().previous().context("a day before")?)?;
    if ended >= month_of(first)? {
        let period = ended.to_string();
        done.push(child(data, "lock", place, &period, out)?);
        let mut locked = child(data, "month", place, &period, out)?;
        locked.what = format!("month {period} (locked)");
        done.push(locked);
        done.push(child(data, "corrections", place, &period, out)?);
    }
    Ok(done)
}

/// Runs one export in a child process and measures it.
fn child(data: &Path, what: &str, place: &str, period: &str, out: &Path) -> anyhow::Result<Exported> {
    let file = out.join(format!("{what}-{period}.xlsx"));
    let started = Instant::now();
    let mut process = Command::new(std::env::current_exe()?)
        .arg("--export-child")
        .args([data.as_os_str(), what.as_ref(), place.as_ref(), period.as_ref(), file.as_os_str()])
        .stdout(Stdio::piped())
        .spawn()?;
    let status_file = PathBuf::from(format!("/proc/{}/status", process.id()));
    let mut peak_kib = 0;
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(&status_file) {
            peak_kib = peak_kib.max(vm_hwm(&text).unwrap_or(0));
        }
        if let Some(status) = process.try_wait()? {
            break status;
        }
        std::thread::sleep(POLL);
    };
    let elapsed = started.elapsed();
    let mut said = String::new();
    std::io::Read::read_to_string(&mut process.stdout.take().context("the child's output")?, &mut said)?;
    if !status.success() {
        bail!("exporting {what} {period} failed: {status}");
    }
    let rows = said.trim().parse().with_context(|| format!("the child said {said:?}"))?;
    Ok(Exported {
        what: format!("{what} {period}"),
        rows,
        // A lock writes no file.
        bytes: std::fs::metadata(&file).map_or(0, |m| m.len()),
        elapsed,
        peak_kib,
    })
}

/// `VmHWM` of a `/proc/PID/status`, KiB.
fn vm_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The child: exports one month or quarter, locks a month or exports its
/// corrections, and prints the rows written (places locked for a lock).
pub(crate) fn child_main(args: &[String]) -> anyhow::Result<()> {
    let [data, what, place, period, file] = args else { bail!("--export-child DATA WHAT PLACE PERIOD FILE") };
    let op = Operator::open_default(Path::new(data))?;
    let rows = match what.as_str() {
        "month" => {
            let month: Month = period.parse().map_err(anyhow::Error::msg)?;
            let ledgers = op.run(op.service().month_ledgers(&Caller::Operator, place, month))?;
            export::write_files(ledgers.book(), Format::Xlsx, Path::new(file))?;
            ledgers.rows.len()
        }
        "lock" => {
            let month: Month = period.parse().map_err(anyhow::Error::msg)?;
            let lock = op.run(op.service().lock_month(&Caller::Operator, place, month))?;
            usize::try_from(lock.places_locked)?
        }
        "corrections" => {
            let month: Month = period.parse().map_err(anyhow::Error::msg)?;
            let corrections = op.run(op.service().month_corrections(&Caller::Operator, place, month))?;
            export::write_files(corrections.book(), Format::Xlsx, Path::new(file))?;
            corrections.figures.len() + corrections.disputes.len() + corrections.late.len()
        }
        _ => {
            let quarter: Quarter = period.parse().map_err(anyhow::Error::msg)?;
            let rankings = op.run(op.service().quarter_rankings(&Caller::Operator, place, quarter))?;
            let book = Book {
                title: format!("{}{}排名", rankings.place_name, quarter.label()),
                as_of_ms: rankings.as_of.time_ms,
                sheets: rankings.sheets(),
            };
            export::write_files(book, Format::Xlsx, Path::new(file))?;
            rankings.townships_by_found.entries.len() + rankings.departments_by_found.entries.len()
        }
    };
    println!("{rows}");
    Ok(())
}
