//! The writer thread: the only connection that writes, with group commit.
//!
//! Work arrives as [`Job`]s over a channel. The writer takes every job that
//! is waiting (up to [`MAX_GROUP`]), runs each inside its own savepoint of
//! one transaction (a job that fails, or panics, rolls back alone), commits
//! once, and only then answers every job. Under load many jobs share one
//! `fsync`; alone, a job waits for nobody.

use std::panic::{AssertUnwindSafe, catch_unwind};

use gridsync_server_core::storage::{Erased, WriteJob};
use gridsync_server_core::{CoreError, StorageError, StorageErrorKind};
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
        commit_group(&mut conn, &mut group, clock());
    }
    tracing::debug!("writer stopped: no more work can arrive");
}

/// Runs `group` (emptying it) in one transaction at `now`, and answers
/// every job once the commit is known.
fn commit_group(conn: &mut Connection, group: &mut Vec<Job>, now: u64) {
    let size = group.len();
    let mut replies = Vec::with_capacity(size);
    let mut answers = Vec::with_capacity(size);
    let mut works = Vec::with_capacity(size);
    for job in group.drain(..) {
        replies.push(job.reply);
        works.push(job.work);
    }
    let committed = (|| -> rusqlite::Result<()> {
        let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for work in works {
            let sp = tx.savepoint()?;
            let answer = catch_unwind(AssertUnwindSafe(|| work(&mut SqliteTx::new(&sp), now)))
                .unwrap_or_else(|_| {
                    tracing::error!("a write job panicked; its writes were rolled back");
                    Err(StorageError::new(StorageErrorKind::Other, "a write job panicked").into())
                });
            if answer.is_ok() {
                sp.commit()?;
            } else {
                // Rolls back to the savepoint and releases it; a failure
                // here fails the group rather than keep the job's writes.
                sp.finish()?;
            }
            answers.push(answer);
        }
        tx.commit()
    })();
    match committed {
        Ok(()) => {
            for (reply, answer) in replies.into_iter().zip(answers) {
                // A caller that hung up gets nothing; what it wrote is kept.
                let _ = reply.send(answer);
            }
        }
        Err(e) => {
            let error = storage_error(&e);
            tracing::error!(error = %error, jobs = size, "commit failed; nothing of these jobs was kept");
            let error = StorageError::new(error.kind, format!("the commit failed: {}", error.message));
            for reply in replies {
                let _ = reply.send(Err(error.clone().into()));
            }
        }
    }
}
