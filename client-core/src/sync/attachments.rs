//! Moving attachment files (ADR 0033, `gridsync_proto::wire::attachments`).
//!
//! **Upload**, the last phase of a sync run: this device's own files the
//! server is not known to have whole, of records with no unsent changes
//! (so the server knows the reference), oldest first. For each, an
//! [`UploadQuery`]: a file the server has whole (uploaded before, or by
//! another device) is marked uploaded and not sent; otherwise chunks of at
//! most [`CHUNK_BYTES`] go from the offset the server acknowledged, read
//! and decrypted a segment at a time, never compressed. An `upload_offset`
//! refusal asks for the status again, once per chunk.
//!
//! What ends the phase early, with the run still a success (the text sync
//! is done; the files left are counted in
//! [`SyncReport::uploads_deferred`] and go in a later run): transfers
//! limited to Wi-Fi ([`crate::Store::set_wifi_only`]) while the handset is
//! not on Wi-Fi ([`crate::Store::set_network`]); `quota_exceeded`; a
//! network failure, another refusal of the request, or an answer that is
//! not a gridsync message. A file the server refuses (`not_found`,
//! `content_mismatch`, `chunk_mismatch`, `payload_too_large`) or whose stored copy no longer
//! reads is left, counted in [`SyncReport::upload_failed`], and the phase
//! goes on with the next. A cancel, a wipe order and damage end the run
//! with their error as anywhere else.
//!
//! **Fetch** ([`fetch_shared`]), on the user's request (so on any network,
//! Wi-Fi only or not): pieces from the offset of what a download in
//! progress holds (kept encrypted, resumed after an interruption), then
//! the whole checked against the record's reference (hash, media type from
//! the bytes) before it joins the cache, whose budget is then enforced.

use gridsync_proto::attachment::{self, CHUNK_BYTES, ContentHash, Media};
use gridsync_proto::wire::attachments::{
    FETCH_PATH, FetchPiece, FetchRequest, STATUS_PATH, UPLOAD_PATH, UploadChunk, UploadQuery, UploadStatus,
};
use gridsync_proto::wire::{self, Limits};
use gridsync_proto::{ActorId, ErrorCode, RecordId};
use rusqlite::params;

use super::{
    StoreAccess, SyncObserver, SyncPhase, SyncProgress, SyncReport, Unobserved, call, call_uncompressed,
};
use crate::attachments::sealed_file::{self, SEGMENT_BYTES, Writer, ensure_dir, sync_dir};
use crate::attachments::{
    AttachmentInfo, Meta, NetworkKind, PART, enforce_budget, file_name, insert_row, load_row, open_meta,
};
use crate::error::{Error, Result};
use crate::store::Store;
use crate::transport::Transport;

/// An own file to upload.
struct Pending {
    name: String,
    hash: ContentHash,
    record: RecordId,
    size: u64,
}

/// What the upload phase set out to do.
struct Plan {
    device: ActorId,
    files: Vec<Pending>,
    /// Transfers are for Wi-Fi only, and the handset is not on Wi-Fi.
    wait_for_wifi: bool,
    to_push: u64,
}

fn plan(store: &Store) -> Result<Plan> {
    let wait_for_wifi = store.wifi_only()? && store.network != NetworkKind::Wifi;
    let unsent = super::unsent_records(&store.conn, &store.cipher)?;
    let mut stmt = store.conn.prepare_cached(
        "SELECT name, size, meta FROM attachments WHERE own = 1 AND uploaded = 0 ORDER BY added_ms, name",
    )?;
    let mut rows = stmt.query([])?;
    let mut files = Vec::new();
    while let Some(row) = rows.next()? {
        let name: String = row.get(0)?;
        let meta = open_meta(&store.cipher, &name, &row.get::<_, Vec<u8>>(2)?)?;
        if unsent.contains(&meta.record) {
            // The server does not know the reference yet: after the record's push.
            continue;
        }
        files.push(Pending {
            name,
            hash: meta.hash,
            record: meta.record,
            size: row.get::<_, i64>(1)? as u64,
        });
    }
    Ok(Plan { device: store.device.actor, files, wait_for_wifi, to_push: store.pending()? })
}

/// What to do after a file's upload failed.
enum Next {
    /// Leave this file, go on with the next.
    Skip,
    /// End the phase; the run still succeeds.
    Stop,
}

/// How an error of one file's upload bears on the phase; `Err` ends the run.
fn judge(e: Error) -> Result<Next> {
    match e {
        Error::Rejected { body, .. } => Ok(match body.code {
            ErrorCode::NotFound
            | ErrorCode::ContentMismatch
            | ErrorCode::ChunkMismatch
            | ErrorCode::UploadOffset
            // Larger than this server takes (its operator set a lower
            // limit): the files after it still go.
            | ErrorCode::PayloadTooLarge => Next::Skip,
            code => {
                tracing::info!(%code, "attachment uploads wait for a later sync");
                Next::Stop
            }
        }),
        Error::AttachmentUnavailable(_) => Ok(Next::Skip),
        Error::Network(_) | Error::Protocol(_) => Ok(Next::Stop),
        other => Err(other),
    }
}

/// The upload phase; returns the bytes it set out to upload.
pub(super) fn upload<A: StoreAccess + ?Sized>(
    access: &A,
    transport: &dyn Transport,
    observer: &dyn SyncObserver,
    report: &mut SyncReport,
) -> Result<u64> {
    let plan = access.with_store(|store| plan(store))?;
    if plan.files.is_empty() {
        return Ok(0);
    }
    if plan.wait_for_wifi {
        report.uploads_deferred += plan.files.len() as u64;
        tracing::info!(files = plan.files.len(), "attachment uploads wait for Wi-Fi");
        return Ok(0);
    }
    let to_upload: u64 = plan.files.iter().map(|f| f.size).sum();
    let progress = |report: &SyncReport| {
        observer.progress(&SyncProgress {
            phase: SyncPhase::Uploading,
            pushed: report.pushed,
            to_push: plan.to_push,
            pulled: report.pulled,
            pages: report.pull_pages,
            uploaded_bytes: report.uploaded_bytes,
            to_upload_bytes: to_upload,
        });
    };
    for (i, file) in plan.files.iter().enumerate() {
        match upload_one(access, transport, observer, plan.device, file, report, &progress) {
            Ok(()) => {
                report.uploaded += 1;
                progress(report);
            }
            Err(e) => match judge(e)? {
                Next::Skip => report.upload_failed += 1,
                Next::Stop => {
                    report.uploads_deferred += (plan.files.len() - i) as u64;
                    break;
                }
            },
        }
    }
    if report.upload_failed > 0 {
        tracing::warn!(
            files = report.upload_failed,
            "the server refused attachment uploads; they are tried again later"
        );
    }
    // Own files the server now has join what the cache may evict.
    access.with_store(|store| enforce_budget(&store.conn, &store.attachments_dir(), None))?;
    Ok(to_upload)
}

/// Uploads one file from where the server stands, or marks it uploaded.
fn upload_one<A: StoreAccess + ?Sized>(
    access: &A,
    transport: &dyn Transport,
    observer: &dyn SyncObserver,
    device: ActorId,
    file: &Pending,
    report: &mut SyncReport,
    progress: &dyn Fn(&SyncReport),
) -> Result<()> {
    let query = UploadQuery { device, record: file.record, hash: file.hash };
    let ask = || -> Result<UploadStatus> {
        let answer = call(access, transport, observer, STATUS_PATH, &query)?;
        Ok(wire::decode(&answer, &Limits::DEFAULT)?)
    };
    let mut status = ask()?;
    let mut asked_again = false;
    while !status.complete {
        let offset = status.received;
        if status.size != file.size || offset >= file.size {
            // The server's reference is not this file's.
            return Err(Error::AttachmentUnavailable("the server's reference does not match"));
        }
        let bytes = access.with_store(|store| {
            let path = store.attachments_dir().join(&file.name);
            sealed_file::read_range(&store.cipher, &path, offset, CHUNK_BYTES)
        })?;
        if bytes.is_empty() {
            return Err(Error::AttachmentUnavailable("its stored copy is damaged"));
        }
        let mut chunk = UploadChunk {
            device,
            record: file.record,
            hash: file.hash,
            offset,
            chunk_hash: ContentHash::of(&bytes),
            bytes,
        };
        let sent = call_uncompressed(access, transport, observer, UPLOAD_PATH, &chunk);
        sealed_file::wipe(&mut chunk.bytes);
        let next: UploadStatus = match sent {
            Ok(answer) => wire::decode(&answer, &Limits::DEFAULT)?,
            Err(Error::Rejected { body, .. }) if body.code == ErrorCode::UploadOffset && !asked_again => {
                asked_again = true;
                status = ask()?;
                continue;
            }
            Err(e) => return Err(e),
        };
        let acknowledged = if next.complete { file.size } else { next.received };
        if !next.complete && acknowledged <= offset {
            // No progress: the server's answer makes no sense for this file.
            return Err(Error::AttachmentUnavailable("the server did not take the chunk"));
        }
        report.uploaded_bytes += acknowledged.saturating_sub(offset);
        asked_again = false;
        status = next;
        progress(report);
    }
    access.with_store(|store| {
        store.conn.execute("UPDATE attachments SET uploaded = 1 WHERE name = ?1", params![file.name])?;
        Ok(())
    })
}

/// Why a fetched file is not kept.
const NOT_ITS_REFERENCE: Error =
    Error::AttachmentUnavailable("the server's copy does not match its reference");

/// Fetches a file `record` references from the server into the cache
/// (see the [module documentation](self)), on a store shared with other
/// threads: the store is taken for database and file work only, never
/// while a request is on the network. A file already here is not fetched
/// again. The server answers `not_found` for a file its owner has not
/// uploaded yet ([`Error::Rejected`]; try again later).
pub fn fetch_shared<A: StoreAccess + ?Sized>(
    access: &A,
    transport: &dyn Transport,
    record: RecordId,
    hash: &ContentHash,
) -> Result<AttachmentInfo> {
    let (device, reference, name, dir, here) = access.with_store(|store| {
        store.writable()?;
        let state = store.get(record)?.ok_or(Error::NotFound(record))?;
        let reference = attachment::of_record(&state)
            .into_iter()
            .find(|r| r.hash == *hash)
            .ok_or(Error::AttachmentUnavailable("the record does not reference it"))?;
        let name = file_name(&store.cipher, hash);
        let here = store.watch(load_row(&store.conn, &name))?;
        Ok((store.device.actor, reference, name, store.attachments_dir(), here))
    })?;
    if let Some(row) = here {
        return Ok(AttachmentInfo { reference, local: true, uploaded: !row.own || row.uploaded });
    }
    let part = dir.join(format!("{name}{PART}"));
    let (mut writer, mut head) = access.with_store(|store| {
        ensure_dir(&dir)?;
        Writer::resume(&store.cipher, &part)
    })?;
    let size = reference.size;
    while writer.written() < size {
        let offset = writer.written();
        let request = FetchRequest { device, record, hash: *hash, offset };
        let answer = call(access, transport, &Unobserved, FETCH_PATH, &request)?;
        let mut piece: FetchPiece = wire::decode(&answer, &Limits::DEFAULT)?;
        drop(answer);
        let fits = piece.offset == offset
            && piece.size == size
            && piece.media == reference.media
            && !piece.bytes.is_empty()
            && piece.bytes.len() <= CHUNK_BYTES
            && offset + piece.bytes.len() as u64 <= size;
        if !fits {
            drop(writer);
            let _ = std::fs::remove_file(&part);
            return Err(NOT_ITS_REFERENCE);
        }
        if head.len() < SEGMENT_BYTES {
            let take = (SEGMENT_BYTES - head.len()).min(piece.bytes.len());
            head.extend_from_slice(&piece.bytes[..take]);
        }
        let last = offset + piece.bytes.len() as u64 == size;
        access.with_store(|store| {
            writer.push(&store.cipher, &piece.bytes)?;
            if !last {
                writer.checkpoint(&store.cipher)?;
            }
            Ok(())
        })?;
        sealed_file::wipe(&mut piece.bytes);
    }
    let info = access.with_store(|store| {
        let (path, got) = writer.finish(&store.cipher)?;
        if got != reference.hash || Media::sniff(&head) != Some(reference.media) {
            let _ = std::fs::remove_file(&path);
            return Err(NOT_ITS_REFERENCE);
        }
        std::fs::rename(&path, dir.join(&name))?;
        sync_dir(&dir)?;
        let meta = Meta { hash: reference.hash, media: reference.media, record };
        store.conn.execute("DELETE FROM attachments WHERE name = ?1", [&name])?;
        insert_row(&store.conn, &store.cipher, &name, size, false, &meta)?;
        enforce_budget(&store.conn, &dir, Some(&name))?;
        Ok(AttachmentInfo { reference: reference.clone(), local: true, uploaded: true })
    });
    sealed_file::wipe(&mut head);
    info
}
