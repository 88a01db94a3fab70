//! The writer thread: the only connection that writes, with group commit.
//!
//! Work arrives as [`Job`]s over a channel. The writer takes every job that
//! is waiting (up to [`MAX_GROUP`]), runs each inside its own savepoint (a
//! refused job rolls back alone), commits once, and only then delivers every
//! answer. Under load many jobs share one `fsync`; alone, a job waits for
//! nobody.

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use crate::error::ApiError;

/// Most jobs committed together in one transaction.
const MAX_GROUP: usize = 64;

/// Delivers a job's answer once the transaction's fate is known (`true`: committed).
type Deliver = Box<dyn FnOnce(bool) + Send>;

/// A unit of work: runs on the writer's connection inside a savepoint, at
/// the given time; says whether to keep its writes and how to answer.
pub(crate) type Job = Box<dyn FnOnce(&Connection, u64) -> (bool, Deliver) + Send>;

/// Why a write did not complete.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Refused: the client must change its request. Nothing is kept.
    #[error(transparent)]
    Refused(#[from] ApiError),
    /// The database failed. Nothing is kept.
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Stored data does not decode.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl WriteError {
    /// The answer for the client; server faults are logged, not disclosed.
    pub fn into_api(self) -> ApiError {
        match self {
            WriteError::Refused(api) => api,
            other => {
                tracing::error!(error = %other, "write failed inside the writer");
                ApiError::internal()
            }
        }
    }
}

/// Wraps typed work as a [`Job`] and returns the receiver of its answer.
pub(crate) fn job<T, F>(work: F) -> (Job, oneshot::Receiver<Result<T, ApiError>>)
where
    T: Send + 'static,
    F: FnOnce(&Connection, u64) -> Result<T, WriteError> + Send + 'static,
{
    let (reply, answer) = oneshot::channel();
    let job: Job = Box::new(move |conn, now| {
        let result = work(conn, now).map_err(WriteError::into_api);
        let keep = result.is_ok();
        let deliver: Deliver = Box::new(move |committed| {
            let result = match result {
                Ok(_) if !committed => Err(ApiError::internal()),
                other => other,
            };
            // A client that hung up gets nothing; what it sent is stored
            // and a re-send is recognised.
            let _ = reply.send(result);
        });
        (keep, deliver)
    });
    (job, answer)
}

/// The writer thread's loop; ends when every sender is dropped.
pub(crate) fn run(mut conn: Connection, mut rx: mpsc::Receiver<Job>, clock: fn() -> u64) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while let Some(first) = rx.blocking_recv() {
        group.push(first);
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        commit_group(&mut conn, group.drain(..), clock());
    }
    tracing::debug!("writer stopped: no more work can arrive");
}

fn commit_group(conn: &mut Connection, group: impl ExactSizeIterator<Item = Job>, now: u64) {
    let size = group.len();
    let mut deliveries = Vec::with_capacity(size);
    let committed = (|| -> rusqlite::Result<()> {
        let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for job in group {
            let sp = tx.savepoint()?;
            let (keep, deliver) = job(&sp, now);
            if keep {
                sp.commit()?;
            } // else dropping the savepoint rolls it back
            deliveries.push(deliver);
        }
        tx.commit()
    })();
    if let Err(e) = &committed {
        tracing::error!(error = %e, jobs = size, "commit failed; nothing of these jobs was kept");
    }
    for deliver in deliveries {
        deliver(committed.is_ok());
    }
}
