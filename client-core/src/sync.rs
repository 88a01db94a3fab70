//! One sync run: push the outbox, then pull what changed in the device's
//! scope.
//!
//! Shaped like application-services' `sync15`: each pulled page is staged,
//! merged by a pure function ([`pull::merge_page`], tested without a
//! database), and written in one transaction together with the new cursor.
//! The outbox is cleared only for what the server acknowledged.
//!
//! * **Push** ([`push`]): whole write groups, oldest first. The server
//!   accepts or refuses each group; a refused group leaves the outbox for
//!   the `rejected` table with the server's code, field and reason, where
//!   the user sees it ([`crate::Store::rejections`]). A push the server finds
//!   too large is split in halves until it fits; a single write larger than
//!   the server takes at all is set aside in `rejected` the same way, so it
//!   never blocks the writes after it. Any other refusal of the whole push
//!   ends the run with [`Error::Rejected`] and the outbox intact.
//! * **Pull** ([`pull`]): pages of what changed in scope. Records that left
//!   the scope are deleted, records sent whole (as the server's merged
//!   state, a [`gridsync_proto::Snapshot`], or as their history) replace
//!   the device's copy, with this device's unsent changes merged back in;
//!   the rest are merged; the server's receipt of every change is kept, and
//!   the user's profile is replaced when the server sends a newer one.
//!
//! A run takes the store only while it reads or writes the database
//! ([`StoreAccess`]): reading the outbox, applying a page, never across a
//! request, so a shared store ([`run_shared`]) answers the app's reads
//! while the run waits on the network.
//!
//! A store rebuilt by a repair ([`crate::doctor`]) pushes the salvaged
//! outbox first, then pulls every record in scope again: its first pull
//! presents a cursor no server issues, which the server answers as any
//! unknown cursor, with a `reset` and every record in scope whole (it
//! would count the records this device wrote as held from cursor 0); the
//! reset forgets the records the repair kept that have no unsent changes
//! left, and the pull's last page ends the restoring.
//!
//! * **Upload** ([`attachments`]): after push and pull, this device's
//!   attachment files the server does not have yet, of records whose
//!   changes it has acknowledged, oldest first, in chunks; see
//!   [`attachments`] for what stops the phase. The phase never fails a
//!   run whose text sync succeeded for a reason of the network: files
//!   left over are counted in [`SyncReport::uploads_deferred`].
//! * **A restored server** ([`restored`]): an answer whose server epoch is
//!   not the store's comes from a server restored from a backup. It is not
//!   applied: the store queues again what the server had acknowledged,
//!   drops what it holds from others, and the run pushes and pulls from the
//!   start.
//!
//! Interrupted anywhere, the next run completes the work: an unacknowledged
//! push is sent again and the server recognises its changes as duplicates; a
//! page not yet committed is fetched again from the unchanged cursor.

mod attachments;
mod pull;
mod push;
mod restored;

pub use attachments::fetch_shared;

use std::cell::RefCell;

use gridsync_proto::ErrorCode;
use gridsync_proto::wire::{self, Message};

use crate::error::{Error, Result};
use crate::store::Store;
use crate::transport::{Request, Transport};

/// Page sizes of a sync run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncOptions {
    /// Most changes per push (whole write groups, at least one).
    pub push_batch: usize,
    /// A push batch is closed once it holds this many bytes of changes.
    pub push_max_bytes: usize,
    /// Most changes per pull page (a record sent whole may exceed it).
    pub pull_page: u32,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self { push_batch: 500, push_max_bytes: 1024 * 1024, pull_page: 500 }
    }
}

/// What a sync run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SyncReport {
    /// Changes the server accepted from this device.
    pub pushed: u64,
    /// Changes the server already had (re-sent after an interruption).
    pub duplicates: u64,
    /// Write groups the server's rules refused (kept in `rejected`).
    pub refused: u64,
    /// Push requests sent.
    pub push_batches: u32,
    /// Changes from the server applied here.
    pub pulled: u64,
    /// Records sent whole and rebuilt here (from snapshots or histories).
    pub rebuilt: u64,
    /// Of those, records sent as snapshots (the server's merged state).
    pub snapshots: u64,
    /// Records deleted here because they left this device's scope.
    pub removed: u64,
    /// Pull pages fetched.
    pub pull_pages: u32,
    /// Pulled changes that could not merge and were skipped (a server bug;
    /// they stay in the server's log).
    pub skipped: u64,
    /// Records in scope that the device's budget leaves out.
    pub withheld: u32,
    /// The cursor after the run.
    pub cursor: u64,
    /// Changes the server had acknowledged, sent again because it was
    /// restored from a backup meanwhile (ADR 0026); those it still had
    /// count as duplicates.
    pub requeued: u64,
    /// Own attachment files the server now has whole (sent in this run, or
    /// found there already: not sent again).
    pub uploaded: u64,
    /// Attachment bytes sent and acknowledged in this run.
    pub uploaded_bytes: u64,
    /// Own attachment files left for a later run: transfers are for Wi-Fi
    /// only and the handset is not on Wi-Fi, the device is over its daily
    /// allowance (`quota_exceeded`), or the network failed during the
    /// upload phase. The text sync succeeded all the same.
    pub uploads_deferred: u64,
    /// Own attachment files the server refused in this run (it does not
    /// know the record or its reference, `not_found`; the file does not
    /// match its reference, `content_mismatch`; a chunk arrived damaged,
    /// `chunk_mismatch`). They are kept and tried again in later runs.
    pub upload_failed: u64,
}

/// Where a sync run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncPhase {
    /// Sending the outbox.
    Pushing,
    /// Receiving pages.
    Pulling,
    /// Uploading this device's attachment files.
    Uploading,
    /// Done.
    Finished,
}

/// Progress of a sync run, reported after each request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncProgress {
    /// Where the run is.
    pub phase: SyncPhase,
    /// Changes sent and acknowledged so far.
    pub pushed: u64,
    /// Changes still in the outbox.
    pub to_push: u64,
    /// Changes received so far.
    pub pulled: u64,
    /// Pull pages received so far.
    pub pages: u32,
    /// Attachment bytes uploaded and acknowledged so far.
    pub uploaded_bytes: u64,
    /// Attachment bytes this run set out to upload (of the files it asks
    /// the server about; a file the server has already is not sent).
    pub to_upload_bytes: u64,
}

/// Watches a sync run: told of progress after each request, and asked
/// before each request whether to stop.
pub trait SyncObserver {
    /// Progress after a request.
    fn progress(&self, progress: &SyncProgress);
    /// Whether the run should stop now (checked before each request).
    fn cancelled(&self) -> bool {
        false
    }
}

/// The records with changes still in the outbox.
pub(crate) fn unsent_records(
    conn: &rusqlite::Connection,
    cipher: &crate::crypto::Cipher,
) -> Result<std::collections::HashSet<gridsync_proto::RecordId>> {
    Ok(pull::pending_by_record(conn, cipher)?.into_keys().collect())
}

/// An observer that watches nothing.
struct Unobserved;

impl SyncObserver for Unobserved {
    fn progress(&self, _: &SyncProgress) {}
}

/// How a sync run reaches the store: it takes the store for each piece of
/// database work (read the outbox, acknowledge a push, apply a page) and
/// lets go of it before every request.
pub trait StoreAccess {
    /// Runs `f` on the store, holding it for `f`'s duration only.
    fn with_store<T>(&self, f: impl FnOnce(&mut Store) -> Result<T>) -> Result<T>;
}

/// A store its caller lends for the whole run.
struct Held<'a>(RefCell<&'a mut Store>);

impl StoreAccess for Held<'_> {
    fn with_store<T>(&self, f: impl FnOnce(&mut Store) -> Result<T>) -> Result<T> {
        f(&mut self.0.borrow_mut())
    }
}

/// Runs one sync.
pub fn run(store: &mut Store, transport: &dyn Transport, options: &SyncOptions) -> Result<SyncReport> {
    run_observed(store, transport, options, &Unobserved)
}

/// Runs one sync, reporting to `observer`.
pub fn run_observed(
    store: &mut Store,
    transport: &dyn Transport,
    options: &SyncOptions,
    observer: &dyn SyncObserver,
) -> Result<SyncReport> {
    run_shared(&Held(RefCell::new(store)), transport, options, observer)
}

/// Fetches an attachment into the store's cache ([`fetch_shared`]).
pub(crate) fn fetch(
    store: &mut Store,
    transport: &dyn Transport,
    record: gridsync_proto::RecordId,
    hash: &gridsync_proto::ContentHash,
) -> Result<crate::attachments::AttachmentInfo> {
    fetch_shared(&Held(RefCell::new(store)), transport, record, hash)
}

/// Runs one sync on a store shared with other threads, taking it through
/// `access` only for database work: reads and writes from other threads
/// go on while the run waits for the server. Runs on one store must not
/// overlap (the caller serialises them).
pub fn run_shared<A: StoreAccess + ?Sized>(
    access: &A,
    transport: &dyn Transport,
    options: &SyncOptions,
    observer: &dyn SyncObserver,
) -> Result<SyncReport> {
    // Enrolled, not wiped, not damaged: a damaged store neither pushes
    // (its outbox may be incomplete) nor pulls (nothing is written to it).
    access.with_store(|store| store.writable().and_then(|()| store.signer().map(|_| ())))?;
    let mut report = SyncReport::default();
    // Once more after an answer from a restored server ([`restored`]).
    let mut restarts = 0;
    loop {
        let exchanged = push::push(access, transport, options, observer, &mut report, &mut restarts)
            .and_then(|()| pull::pull(access, transport, options, observer, &mut report, &mut restarts));
        match exchanged {
            Ok(true) => continue,
            Ok(false) => break,
            Err(e) => {
                if e.is_damage() {
                    // Whatever statement found the damage, the store refuses from now on.
                    let _ = access.with_store(|store| store.watch(Err::<(), _>(Error::Damaged)));
                }
                return Err(e);
            }
        }
    }
    let to_upload_bytes = attachments::upload(access, transport, observer, &mut report).inspect_err(|e| {
        if e.is_damage() {
            let _ = access.with_store(|store| store.watch(Err::<(), _>(Error::Damaged)));
        }
    })?;
    let (cursor, to_push) = access.with_store(|store| Ok((store.device.cursor, store.pending()?)))?;
    report.cursor = cursor;
    observer.progress(&SyncProgress {
        phase: SyncPhase::Finished,
        pushed: report.pushed,
        to_push,
        pulled: report.pulled,
        pages: report.pull_pages,
        uploaded_bytes: report.uploaded_bytes,
        to_upload_bytes,
    });
    tracing::info!(
        pushed = report.pushed,
        duplicates = report.duplicates,
        refused = report.refused,
        pulled = report.pulled,
        snapshots = report.snapshots,
        removed = report.removed,
        uploaded = report.uploaded,
        uploads_deferred = report.uploads_deferred,
        upload_failed = report.upload_failed,
        "sync finished"
    );
    Ok(report)
}

/// Sends one message: encoded, compressed when worth it, signed over the
/// bytes as sent ([`send`]).
fn call<A: StoreAccess + ?Sized, M: Message>(
    access: &A,
    transport: &dyn Transport,
    observer: &dyn SyncObserver,
    path: &'static str,
    message: &M,
) -> Result<Vec<u8>> {
    send(access, transport, observer, path, message, true)
}

/// Sends one message, never compressed: an attachment chunk (photos and
/// PDFs do not compress; gzip would only cost the handset time).
fn call_uncompressed<A: StoreAccess + ?Sized, M: Message>(
    access: &A,
    transport: &dyn Transport,
    observer: &dyn SyncObserver,
    path: &'static str,
    message: &M,
) -> Result<Vec<u8>> {
    send(access, transport, observer, path, message, false)
}

/// Sends one message: encoded, compressed when `compress` and worth it,
/// signed over the bytes as sent. A `stale_timestamp` answer corrects the device's clock
/// offset from the server's time and retries once; a `device_wiped` answer
/// erases the store before the error is reported. The store is taken only
/// to sign, never while the request is on the network.
fn send<A: StoreAccess + ?Sized, M: Message>(
    access: &A,
    transport: &dyn Transport,
    observer: &dyn SyncObserver,
    path: &'static str,
    message: &M,
    compress: bool,
) -> Result<Vec<u8>> {
    if observer.cancelled() {
        return Err(Error::Cancelled);
    }
    let encoded = wire::encode(message);
    let gzip = compress && encoded.len() >= wire::COMPRESS_MIN_BYTES;
    let body = if gzip { wire::gzip(&encoded) } else { encoded };
    let mut corrected = false;
    loop {
        let mut headers = access.with_store(|store| store.signer()?.headers("POST", path, &body))?;
        if gzip {
            headers.push(("content-encoding", "gzip".to_owned()));
        }
        let request = Request { path, content_type: wire::CONTENT_TYPE, headers, body: body.clone() };
        match transport.send(request) {
            Err(Error::Rejected { body: refusal, .. }) if refusal.code == ErrorCode::DeviceWiped => {
                access.with_store(|store| store.wipe())?;
                return Err(Error::Wiped);
            }
            Err(Error::Rejected { body: refusal, .. })
                if refusal.code == ErrorCode::StaleTimestamp
                    && !corrected
                    && refusal.server_time_ms.is_some() =>
            {
                let server_time = refusal.server_time_ms.unwrap_or_default();
                access.with_store(|store| {
                    store.signer()?.correct_clock(server_time);
                    Ok(())
                })?;
                corrected = true;
            }
            other => return other,
        }
    }
}
