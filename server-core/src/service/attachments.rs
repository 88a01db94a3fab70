//! Attachments (ADR 0033): devices upload the files their records
//! reference, chunk by chunk, and fetch those of records they may see;
//! staff list and download them, each download audited.
//!
//! | operation | who | what is checked |
//! |---|---|---|
//! | [`Service::upload_status`] | a device | its user may see the record (one of the record's access keys is the user's, [`keys_of`]), the record references the file, the file is within the size limit and the device's daily allowance |
//! | [`Service::upload_chunk`] | a device | as above; the chunk's bytes match its hash, it starts at the acknowledged offset, it stays within the declared size; with the last chunk, the whole file's SHA-256 and media type (sniffed from its bytes) match the reference |
//! | [`Service::fetch_piece`] | a device | its user may see the record, the record references the file, the file is stored |
//! | [`Service::record_attachments`] | staff | may read, the record's place within their scope, and for a dispute a role that sees parties' names |
//! | [`Service::attachment_download`] | staff | as above; audited (`attachment.download`) |
//!
//! A record a device may not see and a record that does not exist are
//! refused alike (`not_found`), so that an id tells nothing of the records
//! it does not reach.
//!
//! **Durable before acknowledged.** A chunk is kept by the blob store
//! ([`crate::blobs::BlobStore::put_chunk`], durable) before its upload row
//! advances, and the row advances (by compare and set) before the device
//! is told. A server stopped between the two has a chunk it never
//! acknowledged: the device sends it again and it replaces the first. With
//! the last chunk the chunks are joined into the stored file before its row
//! is written; a server stopped between the two finishes the join when the
//! device next asks ([`Service::upload_status`] of an upload whose every
//! byte is acknowledged). A blob whose row was never written is never
//! served: every read goes through the row.

use std::collections::HashSet;

use gridsync_proto::access::access;
use gridsync_proto::attachment::{self, AttachmentRef, CHUNK_BYTES};
use gridsync_proto::wire::attachments::{FetchPiece, FetchRequest, UploadChunk, UploadQuery, UploadStatus};
use gridsync_proto::{
    ActorId, ContentHash, Date, Directory, ErrorCode, Media, RecordId, RecordKind, RecordState,
};
use serde::Serialize;

use super::sync::load_state;
use super::{Caller, Service};
use crate::audit::Event;
use crate::blobs::{BlobError, UploadKey};
use crate::error::{CoreError, CoreResult, StorageError};
use crate::metrics::{ATTACHMENT_BYTES_IN, ATTACHMENT_BYTES_OUT, ATTACHMENT_UPLOADS};
use crate::policy::{self, scope::keys_of};
use crate::storage::{ReadTx, StorageExt, StorageResult, StoredFile, UploadRow, User};

/// How long an unfinished upload is kept: a week without its last chunk
/// and it is dropped ([`Service::sweep_stale_uploads`]).
pub const STALE_UPLOAD_MS: u64 = 7 * 24 * 60 * 60 * 1000;

/// Most uploads one sweep drops.
pub const SWEEP_BATCH: usize = 1000;

/// One attachment of a record, as staff see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AttachmentLine {
    /// The SHA-256 of its bytes, hex: its id in the download's path.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its media type (`image/jpeg`, `application/pdf`, …).
    pub media: String,
    /// The name the worker gave it, if any.
    pub name: Option<String>,
    /// The entry of the record it belongs to (`DEVICE:COUNTER`), if any.
    pub entry: Option<String>,
    /// Whether the server holds it: `false` while it is still only on the
    /// phone that attached it.
    pub uploaded: bool,
    /// When it was stored (Unix ms), once uploaded.
    pub uploaded_ms: Option<u64>,
    /// Where staff download it: the admin API's path.
    pub href: String,
}

/// A file as staff download it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Download {
    /// Its media type.
    pub media: Media,
    /// The name the worker gave it, if any.
    pub name: Option<String>,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// What one read found for a device's request about a file.
struct Found {
    reference: AttachmentRef,
    upload: Option<UploadRow>,
    stored: Option<StoredFile>,
    /// Bytes the device had accepted today (0 when the day was not asked
    /// about: a fetch takes no allowance).
    today: u64,
}

impl Service {
    /// Where `device`'s upload of a file stands: whole on the server (from
    /// any device: nothing to send), or how many bytes it acknowledged.
    pub async fn upload_status(&self, query: UploadQuery, user: String) -> CoreResult<UploadStatus> {
        let day = self.today_text()?;
        let found = self.find_for_device(user, query.device, query.record, query.hash, Some(day)).await?;
        let size = found.reference.size;
        self.check_file_size(size)?;
        if found.stored.is_some() {
            return Ok(UploadStatus { complete: true, received: size, size });
        }
        match found.upload {
            Some(upload) if upload.received >= size => {
                self.finish(query.device, query.record, &found.reference).await
            }
            Some(upload) => Ok(UploadStatus { complete: false, received: upload.received, size }),
            None => {
                self.check_allowance(found.today, size)?;
                Ok(UploadStatus { complete: false, received: 0, size })
            }
        }
    }

    /// Keeps one chunk of a file at the acknowledged offset, durably, and
    /// answers the new offset; with the last chunk, checks the whole file
    /// against its reference and stores it.
    pub async fn upload_chunk(&self, chunk: UploadChunk, user: String) -> CoreResult<UploadStatus> {
        let len = chunk.bytes.len() as u64;
        if chunk.bytes.is_empty() || chunk.bytes.len() > CHUNK_BYTES {
            return Err(CoreError::refused(
                ErrorCode::InvalidRequest,
                format!("bytes: a chunk holds 1 to {CHUNK_BYTES} bytes"),
            ));
        }
        if ContentHash::of(&chunk.bytes) != chunk.chunk_hash {
            return Err(CoreError::refused(
                ErrorCode::ChunkMismatch,
                "the chunk's bytes do not match its SHA-256: send the chunk again",
            ));
        }
        let day = self.today_text()?;
        let (device, record, hash, offset) = (chunk.device, chunk.record, chunk.hash, chunk.offset);
        let found = self.find_for_device(user, device, record, hash, Some(day.clone())).await?;
        let size = found.reference.size;
        self.check_file_size(size)?;
        let key = UploadKey { device, hash };
        if found.stored.is_some() {
            if found.upload.is_some() {
                self.drop_upload(key).await?;
            }
            return Ok(UploadStatus { complete: true, received: size, size });
        }
        let received = found.upload.map_or(0, |u| u.received);
        if offset != received {
            return Err(CoreError::refused(
                ErrorCode::UploadOffset,
                format!("offset: the server has acknowledged {received} bytes of this file: send from there"),
            ));
        }
        if offset + len > size {
            self.drop_upload(key).await?;
            metrics::counter!(ATTACHMENT_UPLOADS, "outcome" => "mismatch").increment(1);
            return Err(content_mismatch("the file is longer than its record's reference declares"));
        }
        if found.upload.is_none() {
            // The allowance is checked when an upload starts, for its whole
            // size, so that a device is not stopped halfway through a file.
            self.check_allowance(found.today, size)?;
        }
        self.blobs.put_chunk(key, offset, chunk.bytes).await.map_err(blob_failure)?;
        let started =
            UploadRow { device, hash, record, size, received: 0, started_ms: crate::clock::now_ms() };
        let moved = self
            .storage
            .write(move |tx, _| {
                tx.start_upload(&started)?;
                if !tx.advance_upload(device, hash, offset, offset + len)? {
                    return Ok(false);
                }
                tx.count_upload_bytes(device, &day, len)?;
                Ok(true)
            })
            .await?;
        if !moved {
            // Another request with the same chunk got there first.
            return Err(CoreError::refused(
                ErrorCode::UploadOffset,
                "offset: another request moved this upload on: ask for its status",
            ));
        }
        metrics::counter!(ATTACHMENT_BYTES_IN).increment(len);
        if offset + len == size {
            return self.finish(device, record, &found.reference).await;
        }
        Ok(UploadStatus { complete: false, received: offset + len, size })
    }

    /// A piece of a stored file, for a device that may see a record
    /// referencing it.
    pub async fn fetch_piece(&self, request: FetchRequest, user: String) -> CoreResult<FetchPiece> {
        let found = self.find_for_device(user, request.device, request.record, request.hash, None).await?;
        let stored = found.stored.ok_or_else(not_uploaded)?;
        if request.offset > stored.size {
            return Err(CoreError::refused(
                ErrorCode::InvalidRequest,
                format!("offset: the file has {} bytes", stored.size),
            ));
        }
        let bytes = self.blobs.read(stored.hash, request.offset, CHUNK_BYTES).await.map_err(blob_failure)?;
        metrics::counter!(ATTACHMENT_BYTES_OUT, "to" => "device").increment(bytes.len() as u64);
        Ok(FetchPiece { size: stored.size, media: stored.media, offset: request.offset, bytes })
    }

    /// The attachments of a record, for staff who may read it, with whether
    /// each is on the server yet.
    pub async fn record_attachments(&self, caller: &Caller, id: RecordId) -> CoreResult<Vec<AttachmentLine>> {
        let (caller2, cache) = (caller.clone(), self.directory.clone());
        let read = self
            .storage
            .read(move |tx| {
                let (_, dir) = cache.get(tx)?;
                let state = staff_record(tx, &caller2, &dir, id)?;
                Ok(lines_of(tx, &state)?)
            })
            .await;
        self.audited(caller, "attachment.list", id.to_string(), read).await
    }

    /// One attachment of a record, whole, for staff who may read the
    /// record. Audited (`attachment.download`), refusals too.
    pub async fn attachment_download(
        &self,
        caller: &Caller,
        id: RecordId,
        hash: ContentHash,
    ) -> CoreResult<Download> {
        let (caller2, cache) = (caller.clone(), self.directory.clone());
        let read = self
            .storage
            .read(move |tx| {
                let (_, dir) = cache.get(tx)?;
                let state = staff_record(tx, &caller2, &dir, id)?;
                let reference =
                    attachment::of_record(&state).into_iter().find(|r| r.hash == hash).ok_or_else(|| {
                        CoreError::refused(ErrorCode::NotFound, "the record has no such attachment")
                    })?;
                let stored = tx.stored_file(hash)?.ok_or_else(not_uploaded)?;
                Ok((reference, stored))
            })
            .await;
        let target = format!("{id}/{}", hash.to_hex());
        let (reference, stored) = self.audited(caller, "attachment.download", target.clone(), read).await?;
        let bytes = self.read_whole(&stored).await?;
        metrics::counter!(ATTACHMENT_BYTES_OUT, "to" => "staff").increment(bytes.len() as u64);
        let detail = format!("bytes={}", bytes.len());
        self.audit(Event::new(caller.audit_name(), "attachment.download", target, "ok").detail(detail))
            .await?;
        Ok(Download { media: stored.media, name: reference.name, bytes })
    }

    /// Drops the uploads started more than `max_age_ms` ago and never
    /// finished (their rows, then their chunks), at most [`SWEEP_BATCH`] a
    /// call; answers how many. A device that comes back to one later is
    /// told to start it again (its status says 0 bytes acknowledged).
    pub async fn sweep_stale_uploads(&self, max_age_ms: u64) -> CoreResult<u64> {
        let before = crate::clock::now_ms().saturating_sub(max_age_ms);
        let stale = self.storage.read(move |tx| Ok(tx.uploads_started_by(before, SWEEP_BATCH)?)).await?;
        for upload in &stale {
            self.drop_upload(UploadKey { device: upload.device, hash: upload.hash }).await?;
        }
        if !stale.is_empty() {
            tracing::info!(uploads = stale.len(), "abandoned attachment uploads dropped");
        }
        Ok(stale.len() as u64)
    }

    /// Reads a stored file whole, a chunk at a time.
    async fn read_whole(&self, stored: &StoredFile) -> CoreResult<Vec<u8>> {
        let mut bytes = Vec::with_capacity(usize::try_from(stored.size).unwrap_or(0));
        while (bytes.len() as u64) < stored.size {
            let piece =
                self.blobs.read(stored.hash, bytes.len() as u64, CHUNK_BYTES).await.map_err(blob_failure)?;
            if piece.is_empty() {
                return Err(StorageError::corrupt("a stored file is shorter than its row says").into());
            }
            bytes.extend_from_slice(&piece);
        }
        Ok(bytes)
    }

    /// The reference of `hash` in `record`, for a device of `user`, with
    /// what the database knows of the file and, given a `day`, what the
    /// device uploaded that day: one snapshot.
    async fn find_for_device(
        &self,
        user: String,
        device: ActorId,
        record: RecordId,
        hash: ContentHash,
        day: Option<String>,
    ) -> CoreResult<Found> {
        let cache = self.directory.clone();
        self.storage
            .read(move |tx| {
                let actor = tx
                    .user(&user)?
                    .ok_or_else(|| {
                        CoreError::refused(ErrorCode::UnknownDevice, "this device's user is not known")
                    })?
                    .actor();
                let (_, dir) = cache.get(tx)?;
                let state = load_state(tx, record)?.ok_or_else(no_reference)?;
                let keys: HashSet<String> = keys_of(&actor, &dir).into_iter().collect();
                if !access(&state).keys.iter().any(|k| keys.contains(&k.encode())) {
                    return Err(no_reference());
                }
                let reference = attachment::of_record(&state)
                    .into_iter()
                    .find(|r| r.hash == hash)
                    .ok_or_else(no_reference)?;
                Ok(Found {
                    reference,
                    upload: tx.upload(device, hash)?,
                    stored: tx.stored_file(hash)?,
                    today: match &day {
                        Some(day) => tx.uploaded_bytes_on(device, day)?,
                        None => 0,
                    },
                })
            })
            .await
    }

    /// Joins an upload whose every byte is acknowledged, checks it against
    /// its reference and stores it (or drops it: `content_mismatch`).
    async fn finish(
        &self,
        device: ActorId,
        record: RecordId,
        reference: &AttachmentRef,
    ) -> CoreResult<UploadStatus> {
        let key = UploadKey { device, hash: reference.hash };
        let size = reference.size;
        let joined = match self.blobs.join(key, size).await {
            Ok(joined) => joined,
            Err(BlobError::Incomplete(why)) => {
                tracing::warn!(why, "an upload's chunks do not join up; dropped");
                self.drop_upload(key).await?;
                metrics::counter!(ATTACHMENT_UPLOADS, "outcome" => "mismatch").increment(1);
                return Err(content_mismatch(
                    "the chunks received do not make the declared file: send it again",
                ));
            }
            Err(e) => return Err(blob_failure(e)),
        };
        let mismatch = if joined.hash != reference.hash || joined.size != size {
            Some("the file's bytes do not match its record's SHA-256")
        } else if Media::sniff(&joined.head) != Some(reference.media) {
            Some("the file's bytes are not of the media type its record declares")
        } else {
            None
        };
        if let Some(why) = mismatch {
            self.drop_upload(key).await?;
            metrics::counter!(ATTACHMENT_UPLOADS, "outcome" => "mismatch").increment(1);
            return Err(content_mismatch(why));
        }
        let (hash, media) = (reference.hash, reference.media);
        let stored = self
            .storage
            .write(move |tx, now| {
                let file = StoredFile { hash, size, media, record, device, stored_ms: now };
                let stored = tx.put_stored_file(&file)?;
                tx.drop_upload(device, hash)?;
                Ok(stored)
            })
            .await?;
        let outcome = if stored { "stored" } else { "deduplicated" };
        metrics::counter!(ATTACHMENT_UPLOADS, "outcome" => outcome).increment(1);
        self.discard_chunks(key).await;
        Ok(UploadStatus { complete: true, received: size, size })
    }

    /// Forgets an upload: its row, then its chunks.
    async fn drop_upload(&self, key: UploadKey) -> CoreResult<()> {
        self.storage.write(move |tx, _| Ok(tx.drop_upload(key.device, key.hash)?)).await?;
        self.discard_chunks(key).await;
        Ok(())
    }

    /// Deletes an upload's chunks; a failure only leaves them behind (they
    /// are replaced by the next upload of the file), so it is logged.
    async fn discard_chunks(&self, key: UploadKey) {
        if let Err(e) = self.blobs.discard(key).await {
            tracing::warn!(error = %e, "cannot delete an upload's chunks");
        }
    }

    /// Refuses a file larger than the deployment takes.
    fn check_file_size(&self, size: u64) -> CoreResult<()> {
        let max = self.settings.attachments.max_file_bytes;
        if size > max {
            return Err(CoreError::refused(
                ErrorCode::PayloadTooLarge,
                format!("size: this server takes files of at most {max} bytes; this one has {size}"),
            ));
        }
        Ok(())
    }

    /// Refuses an upload of `size` bytes that would take the device past
    /// its daily allowance, having accepted `today` bytes already.
    fn check_allowance(&self, today: u64, size: u64) -> CoreResult<()> {
        let max = self.settings.attachments.max_device_bytes_per_day;
        if today.saturating_add(size) > max {
            return Err(CoreError::refused(
                ErrorCode::QuotaExceeded,
                format!(
                    "this device has uploaded {today} of its {max} bytes allowed today; the file is sent \
                     tomorrow"
                ),
            ));
        }
        Ok(())
    }

    /// Today in the deployment's time zone, `YYYY-MM-DD`.
    fn today_text(&self) -> CoreResult<String> {
        let now = i64::try_from(crate::clock::now_ms()).unwrap_or(i64::MAX);
        Date::of_millis(now, self.settings.utc_offset_minutes).map(|d| d.to_string()).ok_or_else(|| {
            StorageError::new(crate::StorageErrorKind::Other, "the clock is out of range").into()
        })
    }
}

/// The attachments `state` references, with whether each is stored.
pub(crate) fn lines_of(tx: &mut dyn ReadTx, state: &RecordState) -> StorageResult<Vec<AttachmentLine>> {
    let mut lines = Vec::new();
    for reference in attachment::of_record(state) {
        let stored = tx.stored_file(reference.hash)?;
        let sha256 = reference.hash.to_hex();
        lines.push(AttachmentLine {
            href: format!("/v1/admin/records/{}/attachments/{sha256}", state.id()),
            sha256,
            size: reference.size,
            media: reference.media.mime().to_owned(),
            name: reference.name,
            entry: reference.of_entry.map(attachment::format_dot),
            uploaded: stored.is_some(),
            uploaded_ms: stored.map(|s| s.stored_ms),
        });
    }
    Ok(lines)
}

/// The record `id`, for staff who may read it: may read at all, the
/// record's place within their scope, a dispute only for roles that see
/// parties' names. The role is checked first, so a role that may not read
/// learns nothing of the id.
fn staff_record(
    tx: &mut dyn ReadTx,
    caller: &Caller,
    dir: &Directory,
    id: RecordId,
) -> CoreResult<RecordState> {
    caller.require(policy::may_read)?;
    let state =
        load_state(tx, id)?.ok_or_else(|| CoreError::refused(ErrorCode::NotFound, "no such record"))?;
    let place = crate::home::filed_place(&state);
    let dispute = state.kind() == RecordKind::Dispute;
    caller.require(|who: &User| {
        place.as_deref().is_some_and(|p| policy::within(dir, p, &who.scope))
            && (!dispute || policy::sees_party_names(who.role))
    })?;
    Ok(state)
}

/// The refusal of a record the device may not see, does not exist, or does
/// not reference the file: alike, so that it tells nothing.
fn no_reference() -> CoreError {
    CoreError::refused(ErrorCode::NotFound, "no record this device may see references this file")
}

/// The refusal of a file not on the server yet.
fn not_uploaded() -> CoreError {
    CoreError::refused(
        ErrorCode::NotFound,
        "this file is not uploaded yet: it arrives after the phone that attached it syncs",
    )
}

fn content_mismatch(why: &str) -> CoreError {
    CoreError::refused(ErrorCode::ContentMismatch, why)
}

/// A blob store failure: the server's, retried later by the device.
fn blob_failure(e: BlobError) -> CoreError {
    StorageError::unavailable(e.to_string()).into()
}
