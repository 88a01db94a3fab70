//! The attachments' SQL: `attachment_uploads`, `attachment_files`,
//! `attachment_days`.

use gridsync_proto::{ActorId, ContentHash, Media};
use gridsync_server_core::storage::{AttachmentRead, AttachmentWrite, StorageResult, StoredFile, UploadRow};

use super::{PgTx, actor_id, get, int, record_id, run, uint};
use crate::error::corrupt;

impl AttachmentRead for PgTx<'_> {
    fn upload(&mut self, device: ActorId, hash: ContentHash) -> StorageResult<Option<UploadRow>> {
        run(|| {
            let row = self.row(
                "SELECT record, size, received, started_ms FROM attachment_uploads
                 WHERE device = $1 AND hash = $2",
                &[&device.as_bytes().as_slice(), &hash.0.as_slice()],
            )?;
            row.map(|row| {
                Ok(UploadRow {
                    device,
                    hash,
                    record: record_id(&row, 0, "an upload's record")?,
                    size: uint(&row, 1, "an upload's size")?,
                    received: uint(&row, 2, "an upload's acknowledged bytes")?,
                    started_ms: uint(&row, 3, "an upload's start")?,
                })
            })
            .transpose()
        })
    }

    fn stored_file(&mut self, hash: ContentHash) -> StorageResult<Option<StoredFile>> {
        run(|| {
            let row = self.row(
                "SELECT size, media, record, device, stored_ms FROM attachment_files WHERE hash = $1",
                &[&hash.0.as_slice()],
            )?;
            row.map(|row| {
                let media: String = get(&row, 1, "a stored file's media type")?;
                Ok(StoredFile {
                    hash,
                    size: uint(&row, 0, "a stored file's size")?,
                    media: media.parse::<Media>().map_err(|_| corrupt("a stored file's media type"))?,
                    record: record_id(&row, 2, "a stored file's record")?,
                    device: actor_id(&row, 3, "a stored file's uploader")?,
                    stored_ms: uint(&row, 4, "a stored file's time")?,
                })
            })
            .transpose()
        })
    }

    fn uploaded_bytes_on(&mut self, device: ActorId, day: &str) -> StorageResult<u64> {
        run(|| {
            let row = self.row(
                "SELECT bytes FROM attachment_days WHERE device = $1 AND day = $2",
                &[&device.as_bytes().as_slice(), &day],
            )?;
            row.map_or(Ok(0), |row| uint(&row, 0, "a device's bytes of a day"))
        })
    }

    fn uploads_started_by(&mut self, by_ms: u64, limit: usize) -> StorageResult<Vec<UploadRow>> {
        run(|| {
            let rows = self.rows(
                "SELECT device, hash, record, size, received, started_ms FROM attachment_uploads
                 WHERE started_ms <= $1 ORDER BY started_ms LIMIT $2",
                &[&int(by_ms), &i64::try_from(limit).unwrap_or(i64::MAX)],
            )?;
            rows.iter()
                .map(|row| {
                    let hash: &[u8] = get(row, 1, "an upload's hash")?;
                    Ok(UploadRow {
                        device: actor_id(row, 0, "an upload's device")?,
                        hash: ContentHash(
                            hash.try_into().map_err(|_| corrupt("an upload's hash is not 32 bytes"))?,
                        ),
                        record: record_id(row, 2, "an upload's record")?,
                        size: uint(row, 3, "an upload's size")?,
                        received: uint(row, 4, "an upload's acknowledged bytes")?,
                        started_ms: uint(row, 5, "an upload's start")?,
                    })
                })
                .collect()
        })
    }
}

impl AttachmentWrite for PgTx<'_> {
    fn start_upload(&mut self, row: &UploadRow) -> StorageResult<bool> {
        run(|| {
            let added = self.execute(
                "INSERT INTO attachment_uploads (device, hash, record, size, received, started_ms)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (device, hash) DO NOTHING",
                &[
                    &row.device.as_bytes().as_slice(),
                    &row.hash.0.as_slice(),
                    &row.record.as_bytes().as_slice(),
                    &int(row.size),
                    &int(row.received),
                    &int(row.started_ms),
                ],
            )?;
            Ok(added == 1)
        })
    }

    fn advance_upload(
        &mut self,
        device: ActorId,
        hash: ContentHash,
        from: u64,
        to: u64,
    ) -> StorageResult<bool> {
        run(|| {
            let moved = self.execute(
                "UPDATE attachment_uploads SET received = $4
                 WHERE device = $1 AND hash = $2 AND received = $3",
                &[&device.as_bytes().as_slice(), &hash.0.as_slice(), &int(from), &int(to)],
            )?;
            Ok(moved == 1)
        })
    }

    fn drop_upload(&mut self, device: ActorId, hash: ContentHash) -> StorageResult<bool> {
        run(|| {
            let dropped = self.execute(
                "DELETE FROM attachment_uploads WHERE device = $1 AND hash = $2",
                &[&device.as_bytes().as_slice(), &hash.0.as_slice()],
            )?;
            Ok(dropped == 1)
        })
    }

    fn count_upload_bytes(&mut self, device: ActorId, day: &str, bytes: u64) -> StorageResult<()> {
        run(|| {
            self.execute(
                "INSERT INTO attachment_days (device, day, bytes) VALUES ($1, $2, $3)
                 ON CONFLICT (device, day) DO UPDATE SET bytes = attachment_days.bytes + excluded.bytes",
                &[&device.as_bytes().as_slice(), &day, &int(bytes)],
            )?;
            Ok(())
        })
    }

    fn put_stored_file(&mut self, file: &StoredFile) -> StorageResult<bool> {
        run(|| {
            let added = self.execute(
                "INSERT INTO attachment_files (hash, size, media, record, device, stored_ms)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (hash) DO NOTHING",
                &[
                    &file.hash.0.as_slice(),
                    &int(file.size),
                    &file.media.mime(),
                    &file.record.as_bytes().as_slice(),
                    &file.device.as_bytes().as_slice(),
                    &int(file.stored_ms),
                ],
            )?;
            Ok(added == 1)
        })
    }
}
