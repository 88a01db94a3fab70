//! The attachments' SQL: `attachment_uploads`, `attachment_files`,
//! `attachment_days`.

use gridsync_proto::{ActorId, ContentHash, Media};
use gridsync_server_core::storage::{AttachmentRead, AttachmentWrite, StorageResult, StoredFile, UploadRow};
use rusqlite::{OptionalExtension, params};

use super::{SqliteTx, actor_id, record_id, run};
use crate::error::{Failure, corrupt};

impl AttachmentRead for SqliteTx<'_> {
    fn upload(&mut self, device: ActorId, hash: ContentHash) -> StorageResult<Option<UploadRow>> {
        run(|| {
            let mut stmt = self.conn.prepare_cached(
                "SELECT record, size, received, started_ms FROM attachment_uploads
                 WHERE device = ?1 AND hash = ?2",
            )?;
            let mut rows = stmt.query(params![device.as_bytes(), &hash.0[..]])?;
            let Some(row) = rows.next()? else { return Ok(None) };
            Ok(Some(UploadRow {
                device,
                hash,
                record: record_id(row, 0, "an upload's record")?,
                size: uint(row.get(1)?, "an upload's size")?,
                received: uint(row.get(2)?, "an upload's acknowledged bytes")?,
                started_ms: uint(row.get(3)?, "an upload's start")?,
            }))
        })
    }

    fn stored_file(&mut self, hash: ContentHash) -> StorageResult<Option<StoredFile>> {
        run(|| {
            let mut stmt = self.conn.prepare_cached(
                "SELECT size, media, record, device, stored_ms FROM attachment_files WHERE hash = ?1",
            )?;
            let mut rows = stmt.query([&hash.0[..]])?;
            let Some(row) = rows.next()? else { return Ok(None) };
            let media: String = row.get(1)?;
            Ok(Some(StoredFile {
                hash,
                size: uint(row.get(0)?, "a stored file's size")?,
                media: media.parse::<Media>().map_err(|_| corrupt("a stored file's media type"))?,
                record: record_id(row, 2, "a stored file's record")?,
                device: actor_id(row, 3, "a stored file's uploader")?,
                stored_ms: uint(row.get(4)?, "a stored file's time")?,
            }))
        })
    }

    fn uploaded_bytes_on(&mut self, device: ActorId, day: &str) -> StorageResult<u64> {
        run(|| {
            let bytes: Option<i64> = self
                .conn
                .prepare_cached("SELECT bytes FROM attachment_days WHERE device = ?1 AND day = ?2")?
                .query_row(params![device.as_bytes(), day], |r| r.get(0))
                .optional()?;
            uint(bytes.unwrap_or(0), "a device's bytes of a day")
        })
    }

    fn uploads_started_by(&mut self, by_ms: u64, limit: usize) -> StorageResult<Vec<UploadRow>> {
        run(|| {
            let mut stmt = self.conn.prepare_cached(
                "SELECT device, hash, record, size, received, started_ms FROM attachment_uploads
                 WHERE started_ms <= ?1 ORDER BY started_ms LIMIT ?2",
            )?;
            let mut rows = stmt.query(params![int(by_ms), i64::try_from(limit).unwrap_or(i64::MAX)])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(Self::upload_row(row)?);
            }
            Ok(out)
        })
    }
}

impl SqliteTx<'_> {
    /// An upload row from the columns `device, hash, record, size, received, started_ms`.
    fn upload_row(row: &rusqlite::Row<'_>) -> Result<UploadRow, Failure> {
        let hash: [u8; 32] = super::blob(row, 1, "an upload's hash")?
            .try_into()
            .map_err(|_| corrupt("an upload's hash is not 32 bytes"))?;
        Ok(UploadRow {
            device: actor_id(row, 0, "an upload's device")?,
            hash: ContentHash(hash),
            record: record_id(row, 2, "an upload's record")?,
            size: uint(row.get(3)?, "an upload's size")?,
            received: uint(row.get(4)?, "an upload's acknowledged bytes")?,
            started_ms: uint(row.get(5)?, "an upload's start")?,
        })
    }
}

impl AttachmentWrite for SqliteTx<'_> {
    fn start_upload(&mut self, row: &UploadRow) -> StorageResult<bool> {
        run(|| {
            let added = self
                .conn
                .prepare_cached(
                    "INSERT INTO attachment_uploads (device, hash, record, size, received, started_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (device, hash) DO NOTHING",
                )?
                .execute(params![
                    row.device.as_bytes(),
                    &row.hash.0[..],
                    row.record.as_bytes(),
                    int(row.size),
                    int(row.received),
                    int(row.started_ms)
                ])?;
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
            let moved = self
                .conn
                .prepare_cached(
                    "UPDATE attachment_uploads SET received = ?4
                     WHERE device = ?1 AND hash = ?2 AND received = ?3",
                )?
                .execute(params![device.as_bytes(), &hash.0[..], int(from), int(to)])?;
            Ok(moved == 1)
        })
    }

    fn drop_upload(&mut self, device: ActorId, hash: ContentHash) -> StorageResult<bool> {
        run(|| {
            let dropped = self
                .conn
                .prepare_cached("DELETE FROM attachment_uploads WHERE device = ?1 AND hash = ?2")?
                .execute(params![device.as_bytes(), &hash.0[..]])?;
            Ok(dropped == 1)
        })
    }

    fn count_upload_bytes(&mut self, device: ActorId, day: &str, bytes: u64) -> StorageResult<()> {
        run(|| {
            self.conn
                .prepare_cached(
                    "INSERT INTO attachment_days (device, day, bytes) VALUES (?1, ?2, ?3)
                     ON CONFLICT (device, day) DO UPDATE SET bytes = bytes + excluded.bytes",
                )?
                .execute(params![device.as_bytes(), day, int(bytes)])?;
            Ok(())
        })
    }

    fn put_stored_file(&mut self, file: &StoredFile) -> StorageResult<bool> {
        run(|| {
            let added = self
                .conn
                .prepare_cached(
                    "INSERT INTO attachment_files (hash, size, media, record, device, stored_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (hash) DO NOTHING",
                )?
                .execute(params![
                    &file.hash.0[..],
                    int(file.size),
                    file.media.mime(),
                    file.record.as_bytes(),
                    file.device.as_bytes(),
                    int(file.stored_ms)
                ])?;
            Ok(added == 1)
        })
    }
}

/// A stored non-negative integer as a `u64`.
fn uint(value: i64, what: &str) -> Result<u64, Failure> {
    u64::try_from(value).map_err(|_| corrupt(format!("{what} is negative")))
}

/// A `u64` for an `INTEGER` column (saturating: the seam's values fit).
fn int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
