//! The server under load, in a process of its own, so that its CPU time,
//! its peak memory and its disk are its own and not the simulated
//! handsets'.
//!
//! The bench calls itself back with the hidden `--city-server DATA`: the
//! child runs the real server ([`gridsync_server::Running`]: actix HTTP
//! workers, the service layer, the embedded SQLite storage with its writer
//! thread) on a free loopback port over the data directory `DATA`, prints
//! `listening ADDR` on its standard output once it accepts connections,
//! and stops gracefully (in-flight requests finish, queued writes commit)
//! when its standard input closes: when the parent says so, or when the
//! parent dies. The parent waits for that line, reads the child's figures
//! from `/proc`, and kills it if it does not end in time.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use gridsync_server::{Running, Settings};

/// The first line of the child's standard output, before its address.
const READY: &str = "listening ";
/// How long a graceful stop may take before the child is killed.
const STOP_GRACE: Duration = Duration::from_secs(60);
/// How often a stopping child is checked for its end.
const STOP_POLL: Duration = Duration::from_millis(20);
/// Clock ticks per second of `/proc/PID/stat`'s times (`USER_HZ`, which
/// Linux fixes at 100 for user space on every architecture).
const USER_HZ: f64 = 100.0;

/// The child: serves `data` with `workers` HTTP workers (0: one per core)
/// until standard input closes.
pub(crate) fn child_main(data: &Path, workers: usize) -> anyhow::Result<()> {
    let mut settings = Settings::new(data, "127.0.0.1:0".parse()?);
    settings.workers = workers;
    let running = Running::start(settings).context("cannot start the server")?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{READY}{}", running.addr()).and_then(|()| stdout.flush())?;
    // Until the parent closes the pipe (or dies).
    std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink())?;
    running.stop();
    Ok(())
}

/// The server's process, as the parent holds it.
#[derive(Debug)]
pub(crate) struct ServerProcess {
    child: Child,
    /// Closed to stop the server.
    stdin: Option<ChildStdin>,
    /// Where it listens.
    pub(crate) addr: SocketAddr,
}

/// A process's resource use, from `/proc`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Usage {
    /// User plus system CPU time so far.
    pub(crate) cpu: Duration,
    /// Resident memory now, KiB (`VmRSS`).
    pub(crate) rss_kib: u64,
    /// Peak resident memory so far, KiB (`VmHWM`).
    pub(crate) peak_kib: u64,
}

impl ServerProcess {
    /// Starts the server over `data` in a child process and waits until it
    /// says where it listens.
    pub(crate) fn start(data: &Path, workers: usize) -> anyhow::Result<Self> {
        let mut child = Command::new(std::env::current_exe().context("cannot find the bench's binary")?)
            .arg("--city-server")
            .arg(data)
            .args(["--server-workers", &workers.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context("cannot start the server process")?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        // From here on, `Drop` ends the child if anything fails.
        let mut process = Self { child, stdin, addr: SocketAddr::from(([127, 0, 0, 1], 0)) };
        let mut line = String::new();
        BufReader::new(stdout.context("the server's output")?)
            .read_line(&mut line)
            .context("cannot read the server's first line")?;
        let Some(addr) = line.trim_end().strip_prefix(READY) else {
            bail!("the server process did not start (it said {line:?})");
        };
        process.addr = addr.parse().with_context(|| format!("the server said {line:?}"))?;
        Ok(process)
    }

    /// The server's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its base URL.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Its resource use so far.
    pub(crate) fn usage(&self) -> anyhow::Result<Usage> {
        usage(&self.pid().to_string())
    }

    /// Stops the server gracefully (closing its standard input) and waits
    /// for it to end; a server that has not ended within a minute is
    /// killed, and that is an error.
    pub(crate) fn stop(mut self) -> anyhow::Result<ExitStatus> {
        drop(self.stdin.take());
        let asked = Instant::now();
        while asked.elapsed() < STOP_GRACE {
            if let Some(status) = self.child.try_wait()? {
                ensure!(status.success(), "the server process failed: {status}");
                return Ok(status);
            }
            std::thread::sleep(STOP_POLL);
        }
        bail!("the server did not stop within {} s; killed", STOP_GRACE.as_secs())
    }
}

impl Drop for ServerProcess {
    /// Kills a child that is still running (after an error, or a stop that
    /// timed out) and reaps it.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Resource use of the process `pid` (a number, or `self`).
pub(crate) fn usage(pid: &str) -> anyhow::Result<Usage> {
    let read = |file: &str| -> anyhow::Result<String> {
        let mut text = String::new();
        std::fs::File::open(format!("/proc/{pid}/{file}"))
            .and_then(|mut f| f.read_to_string(&mut text))
            .with_context(|| format!("cannot read /proc/{pid}/{file}"))?;
        Ok(text)
    };
    let stat = read("stat")?;
    // Fields after the command name, which is in parentheses and may hold
    // spaces: `state` is field 3, `utime` 14 and `stime` 15.
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("").split_whitespace().collect();
    let ticks = |n: usize| -> anyhow::Result<u64> {
        fields
            .get(n - 3)
            .and_then(|f| f.parse().ok())
            .with_context(|| format!("field {n} of /proc/{pid}/stat"))
    };
    let cpu = Duration::from_secs_f64((ticks(14)? + ticks(15)?) as f64 / USER_HZ);
    let status = read("status")?;
    let kib = |key: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    Ok(Usage { cpu, rss_kib: kib("VmRSS:"), peak_kib: kib("VmHWM:") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_its_own_usage() {
        let u = usage("self").expect("/proc/self");
        assert!(u.rss_kib > 0 && u.peak_kib >= u.rss_kib);
    }
}
