//! The writer thread: the only connection that writes, with group commit.
//!
//! Work arrives as [`Job`]s over a channel. The writer takes every job that
//! is waiting (up to [`MAX_GROUP`]), runs them in one transaction, commits
//! once, and only then answers every job. Under load many jobs share one
//! `fsync`; alone, a job waits for nobody.
//!
//! A job runs inside its own savepoint (one that fails, or panics, rolls
//! back alone), unless it was sent through
//! [`gridsync_server_core::Storage::write_job_validated`]: such a job (a
//! push) writes nothing before it has decided to succeed, and is spared the
//! savepoint. If one fails anyway, the writer sees whether it wrote
//! (SQLite's count of changed rows, and whether the transaction is still
//! open): if not, it fails alone; if so, the transaction is rolled back, the
//! jobs that ran in it fail with a `busy` error (retry), and the jobs after
//! it go on in a new transaction. Nothing of a failed job is ever kept.
//!
//! The writer reports its queue (jobs taken plus jobs waiting, when a group
//! starts; jobs waiting, when it ends), each group's time and its number of
//! jobs through the `metrics` facade
//! ([`gridsync_server_core::metrics::WRITER_QUEUE`] and after).

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use ::metrics::{gauge, histogram};
use gridsync_server_core::storage::{Erased, WriteJob};
use gridsync_server_core::{CoreError, StorageError, StorageErrorKind, metrics};
use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use crate::error::storage_error;
use crate::tx::SqliteTx;

/// Most jobs committed together in one transaction.
pub(super) const MAX_GROUP: usize = 64;

/// A job's answer.
pub(super) type Answer = Result<Erased, CoreError>;

/// A write job and where its answer goes.
pub(super) struct Job {
    /// The work.
    pub(super) work: WriteJob,
    /// Whether the job runs in a savepoint of its own (false: it was sent
    /// as validated).
    pub(super) savepoint: bool,
    /// Answered once the group's fate is known.
    pub(super) reply: oneshot::Sender<Answer>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").finish_non_exhaustive()
    }
}

/// The writer thread's loop; ends when every sender is dropped. `clock`
/// gives the time of each group (Unix ms), read once per group.
pub(super) fn run(mut conn: Connection, mut rx: mpsc::Receiver<Job>, clock: fn() -> u64) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while let Some(first) = rx.blocking_recv() {
        group.push(first);
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let (jobs, started) = (group.len(), Instant::now());
        gauge!(metrics::WRITER_QUEUE).set((jobs + rx.len()) as f64);
        commit_group(&mut conn, &mut group, clock());
        histogram!(metrics::WRITER_COMMIT_SECONDS).record(started.elapsed().as_secs_f64());
        histogram!(metrics::WRITER_GROUP_JOBS).record(jobs as f64);
        gauge!(metrics::WRITER_QUEUE).set(rx.len() as f64);
    }
    tracing::debug!("writer stopped: no more work can arrive");
}

/// Runs `group` (emptying it) at `now`: in one transaction unless a job
/// without a savepoint fails after writing, and answers every job once the
/// fate of its transaction is known.
fn commit_group(conn: &mut Connection, group: &mut Vec<Job>, now: u64) {
    let mut pending: VecDeque<Job> = group.drain(..).collect();
    while !pending.is_empty() {
        commit_some(conn, &mut pending, now);
    }
}

/// Runs one job on `conn` (inside the writer's transaction or a savepoint
/// of it), turning a panic into an error.
fn run_job(work: WriteJob, conn: &Connection, now: u64) -> Answer {
    catch_unwind(AssertUnwindSafe(|| work(&mut SqliteTx::new(conn), now))).unwrap_or_else(|_| {
        tracing::error!("a write job panicked; its writes were rolled back");
        Err(StorageError::new(StorageErrorKind::Other, "a write job panicked").into())
    })
}

/// Runs jobs from the front of `pending` in one transaction, commits, and
/// answers them; stops early (rolling back, failing what ran) when a job
/// without a savepoint fails after writing, leaving the rest in `pending`.
fn commit_some(conn: &mut Connection, pending: &mut VecDeque<Job>, now: u64) {
    let mut replies = Vec::with_capacity(pending.len());
    let mut answers = Vec::with_capacity(pending.len());
    let mut abandoned = false;
    let committed = (|| -> rusqlite::Result<()> {
        let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        while let Some(job) = pending.pop_front() {
            replies.push(job.reply);
            if job.savepoint {
                let sp = tx.savepoint()?;
                let answer = run_job(job.work, &sp, now);
                if answer.is_ok() {
                    sp.commit()?;
                } else {
                    // Rolls back to the savepoint and releases it; a failure
                    // here fails the group rather than keep the job's writes.
                    sp.finish()?;
                }
                answers.push(answer);
            } else {
                let before = tx.total_changes();
                let answer = run_job(job.work, &tx, now);
                let wrote = answer.is_err() && (tx.total_changes() != before || tx.is_autocommit());
                answers.push(answer);
                if wrote {
                    abandoned = true;
                    // Dropping the transaction rolls it back.
                    return Ok(());
                }
            }
        }
        tx.commit()
    })();
    match committed {
        Ok(()) if abandoned => {
            let failed = answers.len() - 1;
            tracing::error!(
                jobs = failed,
                "a write job failed after writing; the jobs before it in its transaction were rolled back"
            );
            let retry =
                StorageError::new(StorageErrorKind::Busy, "another write of the same commit failed: retry");
            // What succeeded was rolled back: it fails, to be retried; a
            // failure (the last job's among them) keeps its own answer.
            for (reply, answer) in replies.into_iter().zip(answers) {
                let _ = reply.send(answer.and_then(|_| Err(retry.clone().into())));
            }
        }
        Ok(()) => {
            for (reply, answer) in replies.into_iter().zip(answers) {
                // A caller that hung up gets nothing; what it wrote is kept.
                let _ = reply.send(answer);
            }
        }
        Err(e) => {
            let error = storage_error(&e);
            tracing::error!(error = %error, jobs = replies.len(), "commit failed; nothing of these jobs was kept");
            let error = StorageError::new(error.kind, format!("the commit failed: {}", error.message));
            for reply in replies {
                let _ = reply.send(Err(error.clone().into()));
            }
        }
    }
}
