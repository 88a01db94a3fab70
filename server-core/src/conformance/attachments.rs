//! Attachments through the service (ADR 0033): a chunked upload resumes
//! from the acknowledged offset, refuses a chunk elsewhere or with a wrong
//! hash, is stored whole once and deduplicated, is fetched by a device of
//! the same grid and refused to one of another; a whole that does not match
//! its reference is dropped; the daily allowance holds.

use std::sync::Arc;

use gridsync_proto::attachment::{AttachmentRef, CHUNK_BYTES, ENTRY};
use gridsync_proto::wire::attachments::{FetchRequest, UploadChunk, UploadQuery, UploadStatus};
use gridsync_proto::{ContentHash, Edit, ErrorCode, Media, RecordId, RecordKind, Value};

use super::fixture::{GRID_A, GRID_B, Handset, Town, now_ms, set};
use crate::blobs::MemoryBlobs;
use crate::error::CoreResult;
use crate::service::attachments::STALE_UPLOAD_MS;
use crate::service::{AttachmentLimits, Caller, Service, ServiceSettings};
use crate::storage::{Storage, StorageExt};

/// A JPEG-looking file of `len` bytes whose content depends on `seed`.
fn photo(len: usize, seed: u8) -> Vec<u8> {
    let mut bytes: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect();
    bytes[..11].copy_from_slice(b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00");
    bytes
}

/// A patrol of `grid` referencing `file` (declared as `media`), pushed.
async fn patrol_with(
    svc: &Service,
    handset: &mut Handset,
    grid: &str,
    file: &[u8],
    media: Media,
) -> RecordId {
    let now = now_ms();
    let id = RecordId::generate(now);
    let reference = AttachmentRef {
        hash: ContentHash::of(file),
        size: file.len() as u64,
        media,
        name: None,
        of_entry: None,
    };
    let edits = vec![
        set("grid", Value::Text(grid.into())),
        set("started_ms", Value::Int(now as i64)),
        Edit::Append(ENTRY.into(), reference.to_entry_body()),
    ];
    let group = handset.write(id, RecordKind::Patrol, edits, now);
    handset.push_ok(svc, vec![group]).await;
    id
}

fn query(handset: &Handset, record: RecordId, file: &[u8]) -> UploadQuery {
    UploadQuery { device: handset.device, record, hash: ContentHash::of(file) }
}

fn chunk(handset: &Handset, record: RecordId, file: &[u8], offset: usize, len: usize) -> UploadChunk {
    let bytes = file[offset..(offset + len).min(file.len())].to_vec();
    UploadChunk {
        device: handset.device,
        record,
        hash: ContentHash::of(file),
        offset: offset as u64,
        chunk_hash: ContentHash::of(&bytes),
        bytes,
    }
}

fn code<T: std::fmt::Debug>(result: CoreResult<T>) -> ErrorCode {
    result.expect_err("refused").code().expect("a refusal, not a failure")
}

/// Uploads, resumes, dedups, fetches and refuses, through the service
/// over the backend's rows and a blob store in memory.
pub async fn attachments_upload_resume_and_stay_in_scope(storage: Arc<dyn Storage>) {
    let town = Town::new(storage.clone()).await;
    let blobs = Arc::new(MemoryBlobs::default());
    let svc = &town.service.clone().with_blobs(blobs.clone());
    let mut wa = town.worker("wa", GRID_A).await;
    let wa2 = town.worker("wa2", GRID_A).await;
    let wb = town.worker("wb", GRID_B).await;
    let file = photo(2 * CHUNK_BYTES + 1000, 1);
    let record = patrol_with(svc, &mut wa, GRID_A, &file, Media::Jpeg).await;
    let size = file.len() as u64;

    let status = svc.upload_status(query(&wa, record, &file), "wa".into()).await.expect("status");
    assert_eq!(status, UploadStatus { complete: false, received: 0, size });
    // A chunk whose bytes are not its hash, and a chunk at the wrong offset.
    let mut bad = chunk(&wa, record, &file, 0, CHUNK_BYTES);
    bad.bytes[100] ^= 1;
    assert_eq!(code(svc.upload_chunk(bad, "wa".into()).await), ErrorCode::ChunkMismatch);
    let ahead = chunk(&wa, record, &file, CHUNK_BYTES, CHUNK_BYTES);
    assert_eq!(code(svc.upload_chunk(ahead, "wa".into()).await), ErrorCode::UploadOffset);

    let first =
        svc.upload_chunk(chunk(&wa, record, &file, 0, CHUNK_BYTES), "wa".into()).await.expect("chunk");
    assert_eq!(first, UploadStatus { complete: false, received: CHUNK_BYTES as u64, size });
    // Interrupted here: the status says where to resume, and the same
    // chunk sent again is refused rather than counted twice.
    let resumed = svc.upload_status(query(&wa, record, &file), "wa".into()).await.expect("status");
    assert_eq!(resumed.received, CHUNK_BYTES as u64, "resumes from the acknowledged chunk");
    let again = chunk(&wa, record, &file, 0, CHUNK_BYTES);
    assert_eq!(code(svc.upload_chunk(again, "wa".into()).await), ErrorCode::UploadOffset);
    // A device of another grid cannot reach the record at all.
    assert_eq!(code(svc.upload_status(query(&wb, record, &file), "wb".into()).await), ErrorCode::NotFound);
    let fetch =
        |h: &Handset, offset| FetchRequest { device: h.device, record, hash: ContentHash::of(&file), offset };
    assert_eq!(
        code(svc.fetch_piece(fetch(&wa2, 0), "wa2".into()).await),
        ErrorCode::NotFound,
        "not uploaded"
    );

    let second = chunk(&wa, record, &file, CHUNK_BYTES, CHUNK_BYTES);
    svc.upload_chunk(second, "wa".into()).await.expect("second chunk");
    let last = chunk(&wa, record, &file, 2 * CHUNK_BYTES, CHUNK_BYTES);
    let done = svc.upload_chunk(last, "wa".into()).await.expect("last chunk");
    assert_eq!(done, UploadStatus { complete: true, received: size, size });
    assert_eq!(blobs.uploads_in_progress(), 0, "the chunks are discarded once joined");

    // Another device of the grid asks: nothing to send (dedup); it fetches.
    let dedup = svc.upload_status(query(&wa2, record, &file), "wa2".into()).await.expect("status");
    assert!(dedup.complete, "a file on the server is not sent again");
    let mut fetched = Vec::new();
    while (fetched.len() as u64) < size {
        let piece = svc.fetch_piece(fetch(&wa2, fetched.len() as u64), "wa2".into()).await.expect("piece");
        assert_eq!((piece.size, piece.media), (size, Media::Jpeg));
        assert!(piece.bytes.len() <= CHUNK_BYTES && !piece.bytes.is_empty());
        fetched.extend(piece.bytes);
    }
    assert_eq!(fetched, file, "the fetched bytes are the uploaded ones");
    assert_eq!(code(svc.fetch_piece(fetch(&wb, 0), "wb".into()).await), ErrorCode::NotFound);

    // Staff: a township admin lists and downloads, audited; a worker of
    // another grid is refused.
    let lines = svc.record_attachments(&Caller::Operator, record).await.expect("list");
    assert_eq!(lines.len(), 1);
    assert!(lines[0].uploaded && lines[0].size == size && lines[0].media == "image/jpeg");
    let download =
        svc.attachment_download(&Caller::Operator, record, ContentHash::of(&file)).await.expect("download");
    assert_eq!(download.bytes, file);
    let other = storage.read(|tx| Ok(tx.user("wb")?)).await.expect("read").expect("wb");
    let refused = svc.attachment_download(&Caller::Staff(other), record, ContentHash::of(&file)).await;
    assert_eq!(code(refused), ErrorCode::Forbidden);
    let audited = storage
        .read(|tx| {
            let mut rows = Vec::new();
            tx.audit_rows(&mut |row| {
                rows.push((row.event.action.clone(), row.event.outcome.clone()));
                true
            })?;
            Ok(rows)
        })
        .await
        .expect("audit");
    assert!(
        audited.contains(&("attachment.download".to_owned(), "ok".to_owned())),
        "the download is audited"
    );
    assert!(
        audited.contains(&("attachment.download".to_owned(), "forbidden".to_owned())),
        "the refused download is audited"
    );

    // An upload abandoned halfway: swept once it is older than the age
    // given, and the device is then told to start again.
    let half = photo(2 * CHUNK_BYTES, 7);
    let record = patrol_with(svc, &mut wa, GRID_A, &half, Media::Jpeg).await;
    svc.upload_chunk(chunk(&wa, record, &half, 0, CHUNK_BYTES), "wa".into()).await.expect("chunk");
    assert_eq!(blobs.uploads_in_progress(), 1);
    assert_eq!(svc.sweep_stale_uploads(STALE_UPLOAD_MS).await.expect("sweep"), 0, "not a week old");
    assert_eq!(svc.sweep_stale_uploads(0).await.expect("sweep"), 1, "older than no time at all");
    assert_eq!(blobs.uploads_in_progress(), 0, "its chunks are gone");
    let status = svc.upload_status(query(&wa, record, &half), "wa".into()).await.expect("status");
    assert_eq!(status.received, 0, "the device starts it again");
}

/// A whole that does not match its reference is dropped; the per-file
/// limit and the daily allowance refuse before any byte is taken.
pub async fn attachments_mismatch_and_limits_refuse(storage: Arc<dyn Storage>) {
    let town = Town::new(storage.clone()).await;
    let limits = AttachmentLimits {
        max_file_bytes: 3 * CHUNK_BYTES as u64,
        max_device_bytes_per_day: 4 * CHUNK_BYTES as u64,
    };
    let settings = ServiceSettings { attachments: limits, ..ServiceSettings::default() };
    let blobs = Arc::new(MemoryBlobs::default());
    let svc = &Service::new(storage.clone(), settings).with_blobs(blobs.clone());
    let mut wa = town.worker("wa", GRID_A).await;

    // Declared a PNG, but the bytes are a JPEG: the hash matches, the media
    // type does not.
    let file = photo(1000, 2);
    let record = patrol_with(svc, &mut wa, GRID_A, &file, Media::Png).await;
    let refused = svc.upload_chunk(chunk(&wa, record, &file, 0, 1000), "wa".into()).await;
    assert_eq!(code(refused), ErrorCode::ContentMismatch);
    let status = svc.upload_status(query(&wa, record, &file), "wa".into()).await.expect("status");
    assert_eq!((status.complete, status.received), (false, 0), "the mismatched upload was dropped");
    assert_eq!(blobs.uploads_in_progress(), 0);

    let large = photo(3 * CHUNK_BYTES + 1, 3);
    let record = patrol_with(svc, &mut wa, GRID_A, &large, Media::Jpeg).await;
    let refused = svc.upload_status(query(&wa, record, &large), "wa".into()).await;
    assert_eq!(code(refused), ErrorCode::PayloadTooLarge);

    // 1000 bytes counted today already; two files of 2 chunks fit, a third does not.
    for seed in [4, 5] {
        let file = photo(2 * CHUNK_BYTES - 600, seed);
        let record = patrol_with(svc, &mut wa, GRID_A, &file, Media::Jpeg).await;
        for offset in [0, CHUNK_BYTES] {
            svc.upload_chunk(chunk(&wa, record, &file, offset, CHUNK_BYTES), "wa".into())
                .await
                .expect("chunk");
        }
    }
    let file = photo(CHUNK_BYTES, 6);
    let record = patrol_with(svc, &mut wa, GRID_A, &file, Media::Jpeg).await;
    let refused = svc.upload_chunk(chunk(&wa, record, &file, 0, CHUNK_BYTES), "wa".into()).await;
    assert_eq!(code(refused), ErrorCode::QuotaExceeded);
    assert_eq!(
        code(svc.upload_status(query(&wa, record, &file), "wa".into()).await),
        ErrorCode::QuotaExceeded
    );
}
