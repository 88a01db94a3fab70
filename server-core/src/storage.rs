//! The storage seam: what a backend must provide, with typed params and
//! results, and what it must guarantee. SQLite (`gridsync-server-sqlite`) is
//! the embedded default; a second backend implements the same traits and
//! passes the same conformance suite (`gridsync_server_core::conformance`, feature
//! `conformance`).
//!
//! # Shape
//!
//! A backend is a [`Storage`]: it runs a unit of work in a **read snapshot**
//! ([`Storage::read_job`]) or in a **write transaction**
//! ([`Storage::write_job`]). The work sees the transaction through a family
//! of traits, one per concern, each with typed params and results:
//!
//! | trait | reads | writes |
//! |---|---|---|
//! | sync log | [`SyncLogRead`]: the change log, record states, replicas, pull cursors, the access index | [`SyncLogWrite`] |
//! | directory | [`DirectoryRead`]: places, units, the directory version | [`DirectoryWrite`] |
//! | identity | [`IdentityRead`]: users, devices, enrollment codes, sessions | [`IdentityWrite`] |
//! | audit | [`AuditRead`]: the hash-chained log | [`AuditWrite`] |
//! | reports | [`ReportRead`]: the daily-report rows | (written by the sync log) |
//! | ledgers | [`LedgerRead`]: locked months | [`LedgerWrite`] |
//! | stats | [`StatsRead`]: figures for monitoring, of bounded cost | |
//! | attachments | [`AttachmentRead`]: uploads in progress, stored files, bytes per device and day | [`AttachmentWrite`] |
//!
//! [`ReadTx`] is all the read traits, [`WriteTx`] all of them. The service
//! layer ([`crate::service`]) composes an operation from these calls:
//! authorize, change, audit, in one transaction. No SQL (nor any other
//! query language) exists outside a backend.
//!
//! # What a backend guarantees
//!
//! 1. **Durable before acknowledged.** [`Storage::write_job`] answers `Ok`
//!    only after the transaction is durably committed. When the work returns
//!    `Err`, nothing it wrote is kept, whatever else commits beside it.
//! 2. **Isolated write groups.** Jobs may be committed together (group
//!    commit), but each is all or nothing on its own: a refused job leaves
//!    no trace and does not disturb its neighbours, and a failed commit
//!    fails every job in it.
//! 3. **Snapshots.** A read job sees one consistent, committed state
//!    throughout, and every write acknowledged before it started. Reads do
//!    not wait for writes in flight (reports and pulls never hold up group
//!    commit).
//! 4. **A safe high-water mark.** [`SyncLogRead::high_water`] returns a log
//!    position `h` such that every change that will *ever* commit with a
//!    position `<= h` is already visible in the snapshot. A pull never
//!    hands out a cursor past `h`, so a change can never commit below a
//!    cursor a device already holds and be skipped for good. A backend with
//!    one writer (SQLite) meets this with the largest committed position;
//!    one with concurrent writers must hold back positions that in-flight
//!    transactions may still commit.
//! 5. **Positions rise.** Log positions are unique, positive and fit an
//!    `i64`; no position at or below a high-water mark already returned
//!    (guarantee 4) appears later.
//! 6. **One audit chain.** [`AuditWrite::append_audit`] links each row to
//!    the one before it in commit order, with [`crate::audit::link`].

mod attachments;
mod audit;
mod directory;
mod identity;
mod ledgers;
mod reports;
mod stats;
mod sync_log;

use std::any::Any;
use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;

pub use attachments::{AttachmentRead, AttachmentWrite, StoredFile, UploadRow};
pub use audit::{AuditRead, AuditRow, AuditWrite};
pub use directory::{DirectoryRead, DirectoryWrite};
pub use identity::{
    Device, DeviceKey, Enrollment, IdentityRead, IdentityWrite, NewDevice, NewEnrollment, NewSession,
    NewUser, User,
};
pub use ledgers::{LedgerRead, LedgerWrite, MonthLockHead, MonthLockRow};
pub use reports::{DailyReportRow, ReportRead};
pub use stats::{DeviceLastSync, StatsRead};
pub use sync_log::{
    AccessRow, LogRow, NewChange, PullPage, ReceiptRow, ReplicaRow, SavedRecord, SyncLogRead, SyncLogWrite,
};

use crate::error::{CoreError, StorageError};

/// A storage call's result.
pub type StorageResult<T> = Result<T, StorageError>;

/// A value crossing the seam type-erased (see [`StorageExt`]).
pub type Erased = Box<dyn Any + Send>;

/// Work run in a write transaction, at the transaction's time (Unix ms).
pub type WriteJob = Box<dyn FnOnce(&mut dyn WriteTx, u64) -> Result<Erased, CoreError> + Send>;

/// Work run in a read snapshot.
pub type ReadJob = Box<dyn FnOnce(&mut dyn ReadTx) -> Result<Erased, CoreError> + Send>;

/// A future a backend returns.
pub type StorageFuture = Pin<Box<dyn Future<Output = Result<Erased, CoreError>> + Send>>;

/// Every read a transaction offers.
pub trait ReadTx:
    SyncLogRead + DirectoryRead + IdentityRead + AuditRead + ReportRead + LedgerRead + StatsRead + AttachmentRead
{
}

impl<
    T: SyncLogRead
        + DirectoryRead
        + IdentityRead
        + AuditRead
        + ReportRead
        + LedgerRead
        + StatsRead
        + AttachmentRead
        + ?Sized,
> ReadTx for T
{
}

/// Every read and write a write transaction offers.
pub trait WriteTx:
    ReadTx + SyncLogWrite + DirectoryWrite + IdentityWrite + AuditWrite + LedgerWrite + AttachmentWrite
{
}

impl<
    T: ReadTx
        + SyncLogWrite
        + DirectoryWrite
        + IdentityWrite
        + AuditWrite
        + LedgerWrite
        + AttachmentWrite
        + ?Sized,
> WriteTx for T
{
}

/// A storage backend. Object-safe: the service holds an `Arc<dyn Storage>`;
/// call it through the typed [`StorageExt`].
pub trait Storage: Debug + Send + Sync + 'static {
    /// Runs `job` in one write transaction and answers once it is durably
    /// committed (or, if the job failed, rolled back). Jobs may share a
    /// commit; each is all or nothing.
    fn write_job(&self, job: WriteJob) -> StorageFuture;

    /// [`Storage::write_job`] for a job that writes nothing before it has
    /// decided to succeed: every refusal it can answer comes before its
    /// first write, so only a storage failure can interrupt its writes. A
    /// backend may then spare the job its own savepoint (SQLite's writer
    /// does), provided that it still keeps nothing of a job that fails
    /// after writing (failing, if it must, the jobs that share its commit).
    /// By default the same as [`Storage::write_job`].
    fn write_job_validated(&self, job: WriteJob) -> StorageFuture {
        self.write_job(job)
    }

    /// Runs `job` in one consistent read snapshot, off the async executor.
    fn read_job(&self, job: ReadJob) -> StorageFuture;

    /// Whether the database answers. Blocking: call it off the executor.
    fn healthy(&self) -> bool;

    /// The backend's name for logs and the health answer, e.g. `sqlite`.
    fn backend(&self) -> &'static str;
}

/// Typed calls over a [`Storage`].
pub trait StorageExt {
    /// [`Storage::write_job`] with a typed result.
    fn write<T, F>(&self, work: F) -> impl Future<Output = Result<T, CoreError>> + Send
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn WriteTx, u64) -> Result<T, CoreError> + Send + 'static;

    /// [`Storage::write_job_validated`] with a typed result: `work` must
    /// write nothing before it has decided to succeed.
    fn write_validated<T, F>(&self, work: F) -> impl Future<Output = Result<T, CoreError>> + Send
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn WriteTx, u64) -> Result<T, CoreError> + Send + 'static;

    /// [`Storage::read_job`] with a typed result.
    fn read<T, F>(&self, work: F) -> impl Future<Output = Result<T, CoreError>> + Send
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn ReadTx) -> Result<T, CoreError> + Send + 'static;
}

impl<S: Storage + ?Sized> StorageExt for S {
    fn write<T, F>(&self, work: F) -> impl Future<Output = Result<T, CoreError>> + Send
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn WriteTx, u64) -> Result<T, CoreError> + Send + 'static,
    {
        let future = self.write_job(Box::new(move |tx, now| work(tx, now).map(|t| Box::new(t) as Erased)));
        async move { future.await.map(unerase) }
    }

    fn write_validated<T, F>(&self, work: F) -> impl Future<Output = Result<T, CoreError>> + Send
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn WriteTx, u64) -> Result<T, CoreError> + Send + 'static,
    {
        let future =
            self.write_job_validated(Box::new(move |tx, now| work(tx, now).map(|t| Box::new(t) as Erased)));
        async move { future.await.map(unerase) }
    }

    fn read<T, F>(&self, work: F) -> impl Future<Output = Result<T, CoreError>> + Send
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn ReadTx) -> Result<T, CoreError> + Send + 'static,
    {
        let future = self.read_job(Box::new(move |tx| work(tx).map(|t| Box::new(t) as Erased)));
        async move { future.await.map(unerase) }
    }
}

fn unerase<T: 'static>(value: Erased) -> T {
    *value.downcast::<T>().expect("a backend returns the value its job made")
}
