//! The sync log's SQL: `changes`, `records`, `record_access`, `replicas`,
//! `pull_tokens`, and the two upserts of a push (`devices`, `daily_reports`).
//! This is the benchmarked ingest and pull path: one statement per row
//! written, ids and bodies read in place.

use gridsync_proto::change::log_body;
use gridsync_proto::{ActorId, RecordId, RecordKind};
use gridsync_server_core::storage::{
    AccessRow, DailyReportRow, LogRow, NewChange, PullPage, ReceiptRow, ReplicaRow, SavedRecord,
    StorageResult, SyncLogRead, SyncLogWrite,
};
use rusqlite::{OptionalExtension, params};

use super::{SqliteTx, actor_id, blob, logged_body, record_id, run};
use crate::error::corrupt;

impl SyncLogRead for SqliteTx<'_> {
    fn change_body(
        &mut self,
        record: RecordId,
        _township: &str,
        actor: ActorId,
        counter: u64,
    ) -> StorageResult<Option<Vec<u8>>> {
        run(|| {
            let mut stmt = self.conn.prepare_cached(
                "SELECT c.body, o.author FROM changes c JOIN origins o ON o.key = c.origin
                 WHERE c.record = (SELECT key FROM records WHERE id = ?1) AND o.actor = ?2 AND c.counter = ?3",
            )?;
            let mut rows = stmt.query(params![record.as_bytes(), actor.as_bytes(), counter as i64])?;
            let Some(row) = rows.next()? else { return Ok(None) };
            let mut body = Vec::new();
            logged_body(row, 0, 1, &mut body)?;
            Ok(Some(body))
        })
    }

    fn record_state(&mut self, id: RecordId) -> StorageResult<Option<Vec<u8>>> {
        run(|| {
            Ok(self
                .conn
                .prepare_cached("SELECT state FROM records WHERE id = ?1 AND state IS NOT NULL")?
                .query_row([id.as_bytes()], |r| r.get(0))
                .optional()?)
        })
    }

    /// One indexed lookup per record: in-process, a statement costs less
    /// than building an `IN` list.
    fn record_states(
        &mut self,
        ids: &[RecordId],
        each: &mut dyn FnMut(RecordId, u64, &[u8]),
    ) -> StorageResult<()> {
        run(|| {
            let mut stmt = self.conn.prepare_cached(
                "SELECT updated_seq, state FROM records WHERE id = ?1 AND state IS NOT NULL",
            )?;
            for id in ids {
                let mut rows = stmt.query([id.as_bytes()])?;
                if let Some(row) = rows.next()? {
                    let seq: i64 = row.get(0)?;
                    each(*id, seq as u64, blob(row, 1, "a record's state")?);
                }
            }
            Ok(())
        })
    }

    /// Through `changes_record`, in log order: no body is read into memory.
    fn receipts(
        &mut self,
        ids: &[RecordId],
        upto: u64,
        each: &mut dyn FnMut(ReceiptRow),
    ) -> StorageResult<()> {
        run(|| {
            let mut stmt = self.conn.prepare_cached(
                "SELECT o.actor, c.counter, c.received_ms, c.clock_suspect
                 FROM changes c JOIN origins o ON o.key = c.origin
                 WHERE c.record = (SELECT key FROM records WHERE id = ?1) AND c.seq <= ?2",
            )?;
            for id in ids {
                let mut rows = stmt.query(params![id.as_bytes(), i64::try_from(upto).unwrap_or(i64::MAX)])?;
                while let Some(row) = rows.next()? {
                    each(ReceiptRow {
                        record: *id,
                        actor: actor_id(row, 0, "a change's device")?,
                        counter: row.get::<_, i64>(1)? as u64,
                        received_ms: row.get::<_, i64>(2)? as u64,
                        clock_suspect: row.get(3)?,
                    });
                }
            }
            Ok(())
        })
    }

    /// The largest committed log position. Safe (guarantee 4 of the seam)
    /// because SQLite has a single writer: no transaction can be in flight
    /// beside this snapshot holding a lower position that commits later, and
    /// `AUTOINCREMENT` never hands a position out twice.
    fn high_water(&mut self) -> StorageResult<u64> {
        run(|| {
            let high: i64 = self
                .conn
                .prepare_cached("SELECT coalesce(max(seq), 0) FROM changes")?
                .query_row([], |r| r.get(0))?;
            Ok(high as u64)
        })
    }

    fn server_epoch(&mut self) -> StorageResult<u64> {
        run(|| {
            let epoch: Option<i64> = self
                .conn
                .prepare_cached("SELECT value FROM meta WHERE key = 'server_epoch'")?
                .query_row([], |r| r.get(0))
                .optional()?;
            epoch.filter(|e| *e > 0).map(|e| e as u64).ok_or_else(|| corrupt("the server epoch is missing"))
        })
    }

    fn pull_token(&mut self, device: ActorId, _township: &str, token: u64) -> StorageResult<Option<u64>> {
        run(|| {
            let high: Option<i64> = self
                .conn
                .prepare_cached("SELECT log_high FROM pull_tokens WHERE token = ?1 AND device = ?2")?
                .query_row(params![token as i64, device.as_bytes()], |r| r.get(0))
                .optional()?;
            Ok(high.map(|h| h as u64))
        })
    }

    fn replicas(&mut self, device: ActorId, _township: &str) -> StorageResult<Vec<ReplicaRow>> {
        run(|| {
            let mut stmt = self.conn.prepare_cached(
                "SELECT record, added_token, removed_token, rebuild, sent_through FROM replicas WHERE device = ?1",
            )?;
            let mut rows = stmt.query([device.as_bytes()])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(ReplicaRow {
                    record: record_id(row, 0, "a replica's record")?,
                    added_token: row.get::<_, i64>(1)? as u64,
                    removed_token: row.get::<_, Option<i64>>(2)?.map(|t| t as u64),
                    rebuild: row.get(3)?,
                    sent_through: row.get::<_, i64>(4)? as u64,
                });
            }
            Ok(out)
        })
    }

    fn access(
        &mut self,
        key: &str,
        _township: Option<&str>,
        active_since: i64,
        each: &mut dyn FnMut(AccessRow),
    ) -> StorageResult<()> {
        run(|| {
            let mut recent = self.conn.prepare_cached(
                "SELECT record, active_ms, open, updated_seq FROM record_access
                 WHERE key = ?1 AND active_ms >= ?2",
            )?;
            let mut rows = recent.query(params![key, active_since])?;
            while let Some(row) = rows.next()? {
                let record = record_id(row, 0, "a record in the access index")?;
                each(AccessRow {
                    record,
                    township: String::new(),
                    active_ms: row.get(1)?,
                    open: row.get(2)?,
                    updated_seq: row.get::<_, i64>(3)? as u64,
                });
            }
            let mut open = self.conn.prepare_cached(
                "SELECT record, active_ms, updated_seq FROM record_access WHERE key = ?1 AND open = 1",
            )?;
            let mut rows = open.query([key])?;
            while let Some(row) = rows.next()? {
                let record = record_id(row, 0, "a record in the access index")?;
                each(AccessRow {
                    record,
                    township: String::new(),
                    active_ms: row.get(1)?,
                    open: true,
                    updated_seq: row.get::<_, i64>(2)? as u64,
                });
            }
            Ok(())
        })
    }

    fn history(
        &mut self,
        record: RecordId,
        _township: &str,
        upto: u64,
        each: &mut dyn FnMut(LogRow<'_>),
    ) -> StorageResult<()> {
        run(|| {
            let mut stmt = self.conn.prepare_cached(
                "SELECT c.seq, c.received_ms, c.clock_suspect, c.body, o.actor, o.author
                 FROM changes c JOIN origins o ON o.key = c.origin
                 WHERE c.record = (SELECT key FROM records WHERE id = ?1) AND c.seq <= ?2 ORDER BY c.seq",
            )?;
            let mut rows = stmt.query(params![record.as_bytes(), upto as i64])?;
            let mut body = Vec::new();
            while let Some(row) = rows.next()? {
                each(LogRow {
                    seq: row.get::<_, i64>(0)? as u64,
                    received_ms: row.get::<_, i64>(1)? as u64,
                    clock_suspect: row.get(2)?,
                    body: logged_body(row, 3, 5, &mut body)?,
                    record,
                    actor: actor_id(row, 4, "a change's device")?,
                });
            }
            Ok(())
        })
    }

    /// One range of the per-record index (`changes_record`) per record.
    fn changes_of(
        &mut self,
        records: &[(RecordId, u64)],
        _townships: Option<&[String]>,
        upto: u64,
        per_record: usize,
        each: &mut dyn FnMut(LogRow<'_>),
    ) -> StorageResult<()> {
        run(|| {
            let mut stmt = self.conn.prepare_cached(
                "SELECT c.seq, c.received_ms, c.clock_suspect, c.body, o.actor, o.author
                 FROM changes c JOIN origins o ON o.key = c.origin
                 WHERE c.record = (SELECT key FROM records WHERE id = ?1) AND c.seq > ?2 AND c.seq <= ?3
                 ORDER BY c.seq LIMIT ?4",
            )?;
            let limit = i64::try_from(per_record).unwrap_or(i64::MAX);
            let mut body = Vec::new();
            for (record, after) in records {
                let mut rows = stmt.query(params![record.as_bytes(), *after as i64, upto as i64, limit])?;
                while let Some(row) = rows.next()? {
                    each(LogRow {
                        seq: row.get::<_, i64>(0)? as u64,
                        received_ms: row.get::<_, i64>(1)? as u64,
                        clock_suspect: row.get(2)?,
                        body: logged_body(row, 3, 5, &mut body)?,
                        record: *record,
                        actor: actor_id(row, 4, "a change's device")?,
                    });
                }
            }
            Ok(())
        })
    }

    fn scan(
        &mut self,
        after: u64,
        upto: u64,
        max_rows: usize,
        _townships: Option<&[String]>,
        each: &mut dyn FnMut(LogRow<'_>) -> bool,
    ) -> StorageResult<()> {
        run(|| {
            let mut stmt = self.conn.prepare_cached(
                "SELECT c.seq, c.received_ms, c.clock_suspect, c.body, r.id, o.actor, o.author
                 FROM changes c JOIN records r ON r.key = c.record JOIN origins o ON o.key = c.origin
                 WHERE c.seq > ?1 AND c.seq <= ?2 ORDER BY c.seq LIMIT ?3",
            )?;
            let limit = i64::try_from(max_rows).unwrap_or(i64::MAX);
            let mut rows = stmt.query(params![after as i64, upto as i64, limit])?;
            let mut body = Vec::new();
            while let Some(row) = rows.next()? {
                let go_on = each(LogRow {
                    seq: row.get::<_, i64>(0)? as u64,
                    received_ms: row.get::<_, i64>(1)? as u64,
                    clock_suspect: row.get(2)?,
                    body: logged_body(row, 3, 6, &mut body)?,
                    record: record_id(row, 4, "a change's record")?,
                    actor: actor_id(row, 5, "a change's device")?,
                });
                if !go_on {
                    break;
                }
            }
            Ok(())
        })
    }

    fn change_count(&mut self) -> StorageResult<u64> {
        run(|| {
            let n: i64 =
                self.conn.prepare_cached("SELECT count(*) FROM changes")?.query_row([], |r| r.get(0))?;
            Ok(n as u64)
        })
    }

    fn record_count(&mut self) -> StorageResult<u64> {
        run(|| {
            let n: i64 = self
                .conn
                .prepare_cached("SELECT count(*) FROM records WHERE state IS NOT NULL")?
                .query_row([], |r| r.get(0))?;
            Ok(n as u64)
        })
    }

    fn records_of_kind(&mut self, kind: RecordKind) -> StorageResult<Vec<Vec<u8>>> {
        run(|| {
            let mut stmt = self.conn.prepare_cached(
                "SELECT state FROM records WHERE kind = ?1 AND state IS NOT NULL ORDER BY id",
            )?;
            let rows = stmt.query_map([kind.code()], |r| r.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn records_updated(
        &mut self,
        kind: RecordKind,
        after: u64,
        upto: u64,
        limit: usize,
        each: &mut dyn FnMut(u64, &[u8]),
    ) -> StorageResult<()> {
        run(|| {
            let mut stmt = self.conn.prepare_cached(
                "SELECT updated_seq, state FROM records
                 WHERE kind = ?1 AND updated_seq > ?2 AND updated_seq <= ?3 AND state IS NOT NULL
                 ORDER BY updated_seq, id LIMIT ?4",
            )?;
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let mut rows = stmt.query(params![kind.code(), after as i64, upto as i64, limit])?;
            while let Some(row) = rows.next()? {
                let seq: i64 = row.get(0)?;
                each(seq as u64, blob(row, 1, "a record's state")?);
            }
            Ok(())
        })
    }

    fn each_record(&mut self, kind: RecordKind, each: &mut dyn FnMut(&[u8]) -> bool) -> StorageResult<()> {
        run(|| {
            let mut stmt = self.conn.prepare_cached(
                "SELECT state FROM records WHERE kind = ?1 AND state IS NOT NULL ORDER BY id",
            )?;
            let mut rows = stmt.query([kind.code()])?;
            while let Some(row) = rows.next()? {
                if !each(blob(row, 0, "a record's state")?) {
                    break;
                }
            }
            Ok(())
        })
    }
}

impl SyncLogWrite for SqliteTx<'_> {
    fn set_server_epoch(&mut self, epoch: u64) -> StorageResult<()> {
        run(|| {
            let epoch = i64::try_from(epoch)
                .ok()
                .filter(|e| *e > 0)
                .ok_or_else(|| corrupt("a server epoch out of range"))?;
            self.conn
                .prepare_cached("INSERT INTO meta (key, value) VALUES ('server_epoch', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value")?
                .execute([epoch])?;
            Ok(())
        })
    }

    /// The row names its record, and its device and author, by their keys
    /// (schema v7, ADR 0024), and its body leaves the author out (format 3):
    /// a record new to the server gets its `records` row here, which
    /// [`SyncLogWrite::save_record`] fills in.
    fn append_change(&mut self, change: &NewChange<'_>) -> StorageResult<u64> {
        run(|| {
            let record = self.record_key(change.record)?;
            let split = log_body::split_author(change.body);
            let (author, body) = split.as_ref().map_or(("", change.body), |(a, b)| (*a, b.as_slice()));
            let origin = self.origin_key(change.actor, author)?;
            self.conn
                .prepare_cached(
                    "INSERT INTO changes (record, origin, counter, received_ms, body, clock_suspect, clock_offset_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?
                .execute(params![
                    record,
                    origin,
                    change.counter as i64,
                    change.received_ms as i64,
                    body,
                    change.clock_suspect,
                    change.clock_offset_ms
                ])?;
            Ok(self.conn.last_insert_rowid() as u64)
        })
    }

    fn save_record(&mut self, record: &SavedRecord<'_>) -> StorageResult<()> {
        run(|| {
            self.conn
                .prepare_cached(
                    "INSERT INTO records (id, kind, state, conflicted, updated_seq) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, state = excluded.state,
                                                    conflicted = excluded.conflicted,
                                                    updated_seq = excluded.updated_seq",
                )?
                .execute(params![
                    record.id.as_bytes(),
                    record.kind.code(),
                    record.state,
                    record.conflicted,
                    record.updated_seq as i64
                ])?;
            Ok(())
        })
    }

    /// One statement when the keys stay (the common case): the record's
    /// rows take the new activity, open flag and last change (activity and
    /// last change never go back) and name their keys in the same
    /// statement (`UPDATE … RETURNING`). When the keys differ, the rows are
    /// replaced, keeping the latest activity and last change; a new record
    /// only has its rows inserted.
    fn file_access(
        &mut self,
        record: RecordId,
        _township: &str,
        keys: &[String],
        active_ms: u64,
        open: bool,
        updated_seq: u64,
    ) -> StorageResult<()> {
        run(|| {
            let id = record.as_bytes();
            let mut touch = self.conn.prepare_cached(
                "UPDATE record_access SET active_ms = max(active_ms, ?2), open = ?3,
                                          updated_seq = max(updated_seq, ?4)
                 WHERE record = ?1 RETURNING key, active_ms, updated_seq",
            )?;
            let rows = touch.query_map(params![id, active_ms as i64, open, updated_seq as i64], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
            })?;
            let (mut filed, mut active, mut seq) = (Vec::new(), active_ms as i64, updated_seq as i64);
            for row in rows {
                let (key, was, was_seq) = row?;
                filed.push(key);
                active = active.max(was);
                seq = seq.max(was_seq);
            }
            filed.sort_unstable();
            let mut wanted: Vec<&str> = keys.iter().map(String::as_str).collect();
            wanted.sort_unstable();
            if wanted.iter().copied().eq(filed.iter().map(String::as_str)) {
                return Ok(());
            }
            if !filed.is_empty() {
                self.conn.prepare_cached("DELETE FROM record_access WHERE record = ?1")?.execute([id])?;
            }
            Ok(insert_access(self.conn, record, keys, active, open, seq)?)
        })
    }

    /// Inserts only: a record saved for the first time has no rows.
    fn file_new_access(
        &mut self,
        record: RecordId,
        _township: &str,
        keys: &[String],
        active_ms: u64,
        open: bool,
        updated_seq: u64,
    ) -> StorageResult<()> {
        run(|| Ok(insert_access(self.conn, record, keys, active_ms as i64, open, updated_seq as i64)?))
    }

    fn hold(&mut self, device: ActorId, _township: &str, record: RecordId) -> StorageResult<()> {
        run(|| {
            self.conn
                .prepare_cached(
                    "INSERT INTO replicas (device, record, added_token) VALUES (?1, ?2, 0) ON CONFLICT DO NOTHING",
                )?
                .execute(params![device.as_bytes(), record.as_bytes()])?;
            Ok(())
        })
    }

    fn mark_rebuild(&mut self, device: ActorId, _township: &str, record: RecordId) -> StorageResult<()> {
        run(|| {
            self.conn
                .prepare_cached("UPDATE replicas SET rebuild = 1 WHERE device = ?1 AND record = ?2")?
                .execute(params![device.as_bytes(), record.as_bytes()])?;
            Ok(())
        })
    }

    fn note_push(&mut self, device: ActorId, now: u64, changes: u32) -> StorageResult<()> {
        run(|| {
            self.conn
                .prepare_cached(
                    "INSERT INTO devices (id, first_seen_ms, last_push_ms, changes) VALUES (?1, ?2, ?2, ?3)
                     ON CONFLICT (id) DO UPDATE SET last_push_ms = excluded.last_push_ms,
                                                    changes = changes + excluded.changes",
                )?
                .execute(params![device.as_bytes(), now as i64, changes])?;
            Ok(())
        })
    }

    fn save_daily_report(&mut self, row: &DailyReportRow, _township: &str) -> StorageResult<()> {
        run(|| {
            self.conn
                .prepare_cached(
                    "INSERT INTO daily_reports (worker, date, record, grid, status, filed_ms, received_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT (worker, date) DO UPDATE SET grid = excluded.grid, status = excluded.status,
                         filed_ms = min(filed_ms, excluded.filed_ms),
                         received_ms = min(received_ms, excluded.received_ms)",
                )?
                .execute(params![
                    row.worker,
                    row.date,
                    row.record.as_bytes(),
                    row.grid,
                    row.status,
                    row.filed_ms as i64,
                    row.received_ms as i64
                ])?;
            Ok(())
        })
    }

    /// The page's cursor is the new `pull_tokens` row's id: `AUTOINCREMENT`
    /// makes it larger than every token issued before, deleted ones too.
    // One node holds every township: rows need not move.
    fn rehome_record(&mut self, _record: RecordId, _to: &str) -> StorageResult<()> {
        Ok(())
    }

    fn rehome_place(&mut self, _key: &str, _to: &str) -> StorageResult<u64> {
        Ok(0)
    }

    fn record_pull_page(&mut self, page: &PullPage<'_>) -> StorageResult<u64> {
        run(|| {
            let conn = self.conn;
            let d = page.device.as_bytes();
            let t = page.presented as i64;
            if page.reset {
                conn.prepare_cached("DELETE FROM replicas WHERE device = ?1")?.execute([d])?;
                conn.prepare_cached("DELETE FROM pull_tokens WHERE device = ?1")?.execute([d])?;
            } else if page.dirty {
                conn.prepare_cached("DELETE FROM replicas WHERE device = ?1 AND added_token > ?2")?
                    .execute(params![d, t])?;
                conn.prepare_cached("DELETE FROM replicas WHERE device = ?1 AND removed_token <= ?2")?
                    .execute(params![d, t])?;
                conn.prepare_cached(
                    "UPDATE replicas SET removed_token = NULL WHERE device = ?1 AND removed_token > ?2",
                )?
                .execute(params![d, t])?;
            }
            conn.prepare_cached("INSERT INTO pull_tokens (device, log_high, issued_ms) VALUES (?1, ?2, ?3)")?
                .execute(params![d, page.log_high as i64, page.now as i64])?;
            let token = conn.last_insert_rowid();
            let mut remove = conn
                .prepare_cached("UPDATE replicas SET removed_token = ?3 WHERE device = ?1 AND record = ?2")?;
            for record in page.removes {
                remove.execute(params![d, record.as_bytes(), token])?;
            }
            let mut add = conn.prepare_cached(
                "INSERT INTO replicas (device, record, added_token, removed_token, rebuild, sent_through)
                 VALUES (?1, ?2, ?3, NULL, 0, ?4)
                 ON CONFLICT (device, record) DO UPDATE
                     SET added_token = ?3, removed_token = NULL, rebuild = 0, sent_through = ?4",
            )?;
            for record in page.adds {
                add.execute(params![d, record.as_bytes(), token, page.sent_through as i64])?;
            }
            // Keep the presented cursor (the device re-presents it if this
            // page is lost) and the new one; older and abandoned cursors go.
            conn.prepare_cached("DELETE FROM pull_tokens WHERE device = ?1 AND token <> ?2 AND token <> ?3")?
                .execute(params![d, t, token])?;
            Ok(token as u64)
        })
    }
}

#[cfg(test)]
mod tests;

/// Files `record` under each of `keys`, as rows it does not have yet.
fn insert_access(
    conn: &rusqlite::Connection,
    record: RecordId,
    keys: &[String],
    active_ms: i64,
    open: bool,
    updated_seq: i64,
) -> rusqlite::Result<()> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO record_access (key, record, active_ms, open, updated_seq) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for key in keys {
        insert.execute(params![key, record.as_bytes(), active_ms, open, updated_seq])?;
    }
    Ok(())
}
