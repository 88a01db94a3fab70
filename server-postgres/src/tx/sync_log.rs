//! The sync log's SQL: `changes`, `records`, `record_access`, `replicas`,
//! `pull_tokens`, and the two upserts of a push (`devices`,
//! `daily_reports`). This is the ingest and pull path: one statement (one
//! round trip) per row written, a page's replica rows in one statement
//! each, ids and bodies read in place.
//!
//! In a write transaction every method first takes the write lock
//! ([`PgTx::write_lock`]): reads too, so that the duplicate-dot check of a
//! push ([`SyncLogRead::change_body`]) sees every change committed before
//! it, and log positions and pull tokens are drawn in commit order.
//!
//! Every statement names the township its rows live in (the distribution
//! column, ADR 0013), except the few that look a record up by id alone
//! ([`SyncLogRead::record_state`], the re-homing moves) or a device's rows
//! in every township (a reset page, which also sweeps rows a device left
//! under a home it no longer has).

use gridsync_proto::{ActorId, RecordId, RecordKind};
use gridsync_server_core::storage::{
    AccessRow, DailyReportRow, LogRow, NewChange, PullPage, ReceiptRow, ReplicaRow, SavedRecord,
    StorageResult, SyncLogRead, SyncLogWrite,
};

use super::{PgTx, actor_id, get, int, opt_uint, record_id, run, uint};
use crate::error::{Failure, corrupt};

impl SyncLogRead for PgTx<'_> {
    fn change_body(
        &mut self,
        record: RecordId,
        township: &str,
        actor: ActorId,
        counter: u64,
    ) -> StorageResult<Option<Vec<u8>>> {
        run(|| {
            self.write_lock()?;
            let row = self.row(
                "SELECT body FROM changes
                 WHERE township = $4 AND record = $1 AND actor = $2 AND counter = $3",
                &[&record.as_bytes().as_slice(), &actor.as_bytes().as_slice(), &int(counter), &township],
            )?;
            row.map(|r| get(&r, 0, "a change's body")).transpose()
        })
    }

    fn record_state(&mut self, id: RecordId) -> StorageResult<Option<Vec<u8>>> {
        run(|| {
            self.write_lock()?;
            let row = self.row("SELECT state FROM records WHERE id = $1", &[&id.as_bytes().as_slice()])?;
            row.map(|r| get(&r, 0, "a record's state")).transpose()
        })
    }

    /// One statement for the whole list (`= ANY`), by id alone like
    /// [`SyncLogRead::record_state`].
    fn record_states(
        &mut self,
        ids: &[RecordId],
        each: &mut dyn FnMut(RecordId, u64, &[u8]),
    ) -> StorageResult<()> {
        run(|| {
            self.write_lock()?;
            let keys: Vec<&[u8]> = ids.iter().map(|id| id.as_bytes().as_slice()).collect();
            self.each_row("SELECT id, updated_seq, state FROM records WHERE id = ANY($1)", &[&keys], |row| {
                let id = record_id(row, 0, "a record id")?;
                each(id, uint(row, 1, "a record's last update")?, get(row, 2, "a record's state")?);
                Ok(true)
            })
        })
    }

    /// One statement for the whole list (`= ANY`), through the
    /// `(record, seq)` index; bodies are not read.
    fn receipts(
        &mut self,
        ids: &[RecordId],
        upto: u64,
        each: &mut dyn FnMut(ReceiptRow),
    ) -> StorageResult<()> {
        run(|| {
            self.write_lock()?;
            let keys: Vec<&[u8]> = ids.iter().map(|id| id.as_bytes().as_slice()).collect();
            self.each_row(
                "SELECT record, actor, counter, received_ms, clock_suspect FROM changes
                 WHERE record = ANY($1) AND seq <= $2 ORDER BY record, actor, counter",
                &[&keys, &int(upto)],
                |row| {
                    each(ReceiptRow {
                        record: record_id(row, 0, "a change's record")?,
                        actor: actor_id(row, 1, "a change's device")?,
                        counter: uint(row, 2, "a change's counter")?,
                        received_ms: uint(row, 3, "a change's receipt time")?,
                        clock_suspect: get(row, 4, "a change's clock flag")?,
                    });
                    Ok(true)
                },
            )
        })
    }

    /// The largest log position of the snapshot. Safe (guarantee 4 of the
    /// seam) because positions are drawn only under the write lock, in
    /// commit order, and PostgreSQL makes a transaction visible before it
    /// releases its locks: once a position is visible, every transaction
    /// that drew a lower one has committed (or rolled back, leaving a gap
    /// that nothing fills), and every later one draws a higher one.
    fn high_water(&mut self) -> StorageResult<u64> {
        run(|| {
            self.write_lock()?;
            let row = self.one("SELECT coalesce(max(seq), 0) FROM changes", &[])?;
            uint(&row, 0, "the largest log position")
        })
    }

    fn server_epoch(&mut self) -> StorageResult<u64> {
        run(|| {
            let row = self.row("SELECT value FROM meta WHERE key = 'server_epoch'", &[])?;
            let row = row.ok_or_else(|| corrupt("the server epoch is missing"))?;
            Some(uint(&row, 0, "the server epoch")?)
                .filter(|e| *e > 0)
                .ok_or_else(|| corrupt("the server epoch is 0"))
        })
    }

    fn pull_token(&mut self, device: ActorId, township: &str, token: u64) -> StorageResult<Option<u64>> {
        run(|| {
            self.write_lock()?;
            let row = self.row(
                "SELECT log_high FROM pull_tokens WHERE township = $3 AND token = $1 AND device = $2",
                &[&int(token), &device.as_bytes().as_slice(), &township],
            )?;
            row.map(|r| uint(&r, 0, "a pull token's log position")).transpose()
        })
    }

    fn replicas(&mut self, device: ActorId, township: &str) -> StorageResult<Vec<ReplicaRow>> {
        run(|| {
            self.write_lock()?;
            let rows = self.rows(
                "SELECT record, added_token, removed_token, rebuild, sent_through FROM replicas
                 WHERE township = $2 AND device = $1",
                &[&device.as_bytes().as_slice(), &township],
            )?;
            rows.iter()
                .map(|row| {
                    Ok(ReplicaRow {
                        record: record_id(row, 0, "a replica's record")?,
                        added_token: uint(row, 1, "a replica's added token")?,
                        removed_token: opt_uint(row, 2, "a replica's removed token")?,
                        rebuild: get(row, 3, "a replica's rebuild flag")?,
                        sent_through: uint(row, 4, "a replica's sent-through position")?,
                    })
                })
                .collect()
        })
    }

    /// With a township, one township's rows (`$3 IS NULL` is a constant
    /// the planner folds, so each shape keeps its index).
    fn access(
        &mut self,
        key: &str,
        township: Option<&str>,
        active_since: i64,
        each: &mut dyn FnMut(AccessRow),
    ) -> StorageResult<()> {
        run(|| {
            self.write_lock()?;
            let mut pass = |row: &tokio_postgres::Row, open: Option<bool>| -> Result<bool, Failure> {
                each(AccessRow {
                    record: record_id(row, 0, "a record in the access index")?,
                    township: get::<String>(row, 1, "a record's township")?,
                    active_ms: get(row, 2, "a record's activity time")?,
                    open: match open {
                        Some(open) => open,
                        None => get(row, 4, "a record's open flag")?,
                    },
                    updated_seq: uint(row, 3, "a record's last change")?,
                });
                Ok(true)
            };
            match township {
                Some(township) => {
                    self.each_row(
                        "SELECT record, township, active_ms, updated_seq, open FROM record_access
                         WHERE township = $3 AND key = $1 AND active_ms >= $2",
                        &[&key, &active_since, &township],
                        |row| pass(row, None),
                    )?;
                    self.each_row(
                        "SELECT record, township, active_ms, updated_seq FROM record_access
                         WHERE township = $2 AND key = $1 AND open",
                        &[&key, &township],
                        |row| pass(row, Some(true)),
                    )
                }
                None => {
                    self.each_row(
                        "SELECT record, township, active_ms, updated_seq, open FROM record_access
                         WHERE key = $1 AND active_ms >= $2",
                        &[&key, &active_since],
                        |row| pass(row, None),
                    )?;
                    self.each_row(
                        "SELECT record, township, active_ms, updated_seq FROM record_access WHERE key = $1 AND open",
                        &[&key],
                        |row| pass(row, Some(true)),
                    )
                }
            }
        })
    }

    fn history(
        &mut self,
        record: RecordId,
        township: &str,
        upto: u64,
        each: &mut dyn FnMut(LogRow<'_>),
    ) -> StorageResult<()> {
        run(|| {
            self.write_lock()?;
            self.each_row(
                "SELECT seq, received_ms, clock_suspect, body, actor FROM changes
                 WHERE township = $3 AND record = $1 AND seq <= $2 ORDER BY seq",
                &[&record.as_bytes().as_slice(), &int(upto), &township],
                |row| {
                    each(LogRow {
                        seq: uint(row, 0, "a log position")?,
                        received_ms: uint(row, 1, "a change's receipt time")?,
                        clock_suspect: get(row, 2, "a change's clock flag")?,
                        body: get(row, 3, "a change's body")?,
                        record,
                        actor: actor_id(row, 4, "a change's device")?,
                    });
                    Ok(true)
                },
            )
        })
    }

    /// One statement for every record: a lateral range of the
    /// `(record, seq)` index per record.
    fn changes_of(
        &mut self,
        records: &[(RecordId, u64)],
        townships: Option<&[String]>,
        upto: u64,
        per_record: usize,
        each: &mut dyn FnMut(LogRow<'_>),
    ) -> StorageResult<()> {
        run(|| {
            if records.is_empty() {
                return Ok(());
            }
            self.write_lock()?;
            let ids: Vec<&[u8]> = records.iter().map(|(r, _)| r.as_bytes().as_slice()).collect();
            let afters: Vec<i64> = records.iter().map(|(_, a)| int(*a)).collect();
            let limit = i64::try_from(per_record).unwrap_or(i64::MAX);
            let upto = int(upto);
            let (sql, params): (&str, Vec<&(dyn tokio_postgres::types::ToSql + Sync)>) = match &townships {
                Some(townships) => (
                    "SELECT c.seq, c.received_ms, c.clock_suspect, c.body, w.record, c.actor
                     FROM unnest($1::bytea[], $2::bigint[]) AS w(record, after)
                     CROSS JOIN LATERAL (
                         SELECT seq, received_ms, clock_suspect, body, actor FROM changes
                         WHERE township = ANY($5) AND record = w.record AND seq > w.after AND seq <= $3
                         ORDER BY seq LIMIT $4) AS c",
                    vec![&ids, &afters, &upto, &limit, townships],
                ),
                None => (
                    "SELECT c.seq, c.received_ms, c.clock_suspect, c.body, w.record, c.actor
                     FROM unnest($1::bytea[], $2::bigint[]) AS w(record, after)
                     CROSS JOIN LATERAL (
                         SELECT seq, received_ms, clock_suspect, body, actor FROM changes
                         WHERE record = w.record AND seq > w.after AND seq <= $3
                         ORDER BY seq LIMIT $4) AS c",
                    vec![&ids, &afters, &upto, &limit],
                ),
            };
            self.each_row(sql, &params, |row| {
                each(LogRow {
                    seq: uint(row, 0, "a log position")?,
                    received_ms: uint(row, 1, "a change's receipt time")?,
                    clock_suspect: get(row, 2, "a change's clock flag")?,
                    body: get(row, 3, "a change's body")?,
                    record: record_id(row, 4, "a change's record")?,
                    actor: actor_id(row, 5, "a change's device")?,
                });
                Ok(true)
            })
        })
    }

    fn scan(
        &mut self,
        after: u64,
        upto: u64,
        max_rows: usize,
        townships: Option<&[String]>,
        each: &mut dyn FnMut(LogRow<'_>) -> bool,
    ) -> StorageResult<()> {
        run(|| {
            self.write_lock()?;
            let limit = i64::try_from(max_rows).unwrap_or(i64::MAX);
            let (after, upto) = (int(after), int(upto));
            let (sql, params): (&str, Vec<&(dyn tokio_postgres::types::ToSql + Sync)>) = match &townships {
                Some(townships) => (
                    "SELECT seq, received_ms, clock_suspect, body, record, actor FROM changes
                     WHERE township = ANY($4) AND seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3",
                    vec![&after, &upto, &limit, townships],
                ),
                None => (
                    "SELECT seq, received_ms, clock_suspect, body, record, actor FROM changes
                     WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3",
                    vec![&after, &upto, &limit],
                ),
            };
            self.each_row(sql, &params, |row| {
                // Most of the log is other scopes': the body is lent in
                // place, and copied only by whoever sends it.
                Ok(each(LogRow {
                    seq: uint(row, 0, "a log position")?,
                    received_ms: uint(row, 1, "a change's receipt time")?,
                    clock_suspect: get(row, 2, "a change's clock flag")?,
                    body: get(row, 3, "a change's body")?,
                    record: record_id(row, 4, "a change's record")?,
                    actor: actor_id(row, 5, "a change's device")?,
                }))
            })
        })
    }

    fn change_count(&mut self) -> StorageResult<u64> {
        run(|| {
            self.write_lock()?;
            let row = self.one("SELECT count(*) FROM changes", &[])?;
            uint(&row, 0, "the change count")
        })
    }

    fn record_count(&mut self) -> StorageResult<u64> {
        run(|| {
            self.write_lock()?;
            let row = self.one("SELECT count(*) FROM records", &[])?;
            uint(&row, 0, "the record count")
        })
    }

    fn records_of_kind(&mut self, kind: RecordKind) -> StorageResult<Vec<Vec<u8>>> {
        run(|| {
            self.write_lock()?;
            let rows = self
                .rows("SELECT state FROM records WHERE kind = $1 ORDER BY id", &[&i32::from(kind.code())])?;
            rows.iter().map(|row| get(row, 0, "a record's state")).collect()
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
            self.write_lock()?;
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            self.each_row(
                "SELECT updated_seq, state FROM records
                 WHERE kind = $1 AND updated_seq > $2 AND updated_seq <= $3 ORDER BY updated_seq, id LIMIT $4",
                &[&i32::from(kind.code()), &int(after), &int(upto), &limit],
                |row| {
                    each(uint(row, 0, "a record's last update")?, get(row, 1, "a record's state")?);
                    Ok(true)
                },
            )
        })
    }

    fn each_record(&mut self, kind: RecordKind, each: &mut dyn FnMut(&[u8]) -> bool) -> StorageResult<()> {
        run(|| {
            self.write_lock()?;
            self.each_row(
                "SELECT state FROM records WHERE kind = $1 ORDER BY id",
                &[&i32::from(kind.code())],
                |row| Ok(each(get(row, 0, "a record's state")?)),
            )
        })
    }
}

impl SyncLogWrite for PgTx<'_> {
    fn set_server_epoch(&mut self, epoch: u64) -> StorageResult<()> {
        run(|| {
            let epoch = i64::try_from(epoch)
                .ok()
                .filter(|e| *e > 0)
                .ok_or_else(|| corrupt("a server epoch out of range"))?;
            self.execute(
                "INSERT INTO meta (key, value) VALUES ('server_epoch', $1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[&epoch],
            )?;
            Ok(())
        })
    }

    /// The position is drawn from `changes.seq`'s identity under the write
    /// lock, so positions rise in commit order (guarantee 5).
    fn append_change(&mut self, change: &NewChange<'_>) -> StorageResult<u64> {
        run(|| {
            self.write_lock()?;
            let row = self.one(
                "INSERT INTO changes
                     (record, actor, counter, received_ms, body, clock_suspect, clock_offset_ms, township)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING seq",
                &[
                    &change.record.as_bytes().as_slice(),
                    &change.actor.as_bytes().as_slice(),
                    &int(change.counter),
                    &int(change.received_ms),
                    &change.body,
                    &change.clock_suspect,
                    &change.clock_offset_ms,
                    &change.township,
                ],
            )?;
            uint(&row, 0, "a new log position")
        })
    }

    fn save_record(&mut self, record: &SavedRecord<'_>) -> StorageResult<()> {
        run(|| {
            self.write_lock()?;
            self.execute(
                "INSERT INTO records (id, kind, state, conflicted, updated_seq, township)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (township, id) DO UPDATE SET state = EXCLUDED.state, conflicted = EXCLUDED.conflicted,
                                                updated_seq = EXCLUDED.updated_seq",
                &[
                    &record.id.as_bytes().as_slice(),
                    &i32::from(record.kind.code()),
                    &record.state,
                    &record.conflicted,
                    &int(record.updated_seq),
                    &record.township,
                ],
            )?;
            Ok(())
        })
    }

    /// Reads the record's rows (their keys) once; when their keys are
    /// exactly `keys`, only their activity (the larger of old and new) and
    /// open flag move, else they are replaced (one statement for all the
    /// new keys).
    fn file_access(
        &mut self,
        record: RecordId,
        township: &str,
        keys: &[String],
        active_ms: u64,
        open: bool,
        updated_seq: u64,
    ) -> StorageResult<()> {
        run(|| {
            self.write_lock()?;
            let id = record.as_bytes().as_slice();
            let existing = self.rows(
                "SELECT key, active_ms, updated_seq FROM record_access WHERE township = $2 AND record = $1",
                &[&id, &township],
            )?;
            let (mut filed, mut active) = (Vec::with_capacity(existing.len()), int(active_ms));
            let mut seq = int(updated_seq);
            for row in &existing {
                filed.push(get::<&str>(row, 0, "an access key")?);
                active = active.max(get(row, 1, "a record's activity time")?);
                seq = seq.max(get(row, 2, "a record's last change")?);
            }
            filed.sort_unstable();
            let mut wanted: Vec<&str> = keys.iter().map(String::as_str).collect();
            wanted.sort_unstable();
            wanted.dedup();
            if wanted == filed {
                self.execute(
                    "UPDATE record_access SET active_ms = $2, open = $3, updated_seq = $5
                     WHERE township = $4 AND record = $1",
                    &[&id, &active, &open, &township, &seq],
                )?;
                return Ok(());
            }
            if !existing.is_empty() {
                self.execute(
                    "DELETE FROM record_access WHERE township = $2 AND record = $1",
                    &[&id, &township],
                )?;
            }
            if !wanted.is_empty() {
                self.execute(
                    "INSERT INTO record_access (key, record, active_ms, open, township, updated_seq)
                     SELECT key, $2, $3, $4, $5, $6 FROM unnest($1::text[]) AS key",
                    &[&wanted, &id, &active, &open, &township, &seq],
                )?;
            }
            Ok(())
        })
    }

    fn hold(&mut self, device: ActorId, township: &str, record: RecordId) -> StorageResult<()> {
        run(|| {
            self.write_lock()?;
            self.execute(
                "INSERT INTO replicas (device, record, added_token, township) VALUES ($1, $2, 0, $3)
                 ON CONFLICT DO NOTHING",
                &[&device.as_bytes().as_slice(), &record.as_bytes().as_slice(), &township],
            )?;
            Ok(())
        })
    }

    fn mark_rebuild(&mut self, device: ActorId, township: &str, record: RecordId) -> StorageResult<()> {
        run(|| {
            self.write_lock()?;
            self.execute(
                "UPDATE replicas SET rebuild = true WHERE township = $3 AND device = $1 AND record = $2",
                &[&device.as_bytes().as_slice(), &record.as_bytes().as_slice(), &township],
            )?;
            Ok(())
        })
    }

    fn note_push(&mut self, device: ActorId, now: u64, changes: u32) -> StorageResult<()> {
        run(|| {
            self.write_lock()?;
            self.execute(
                "INSERT INTO devices (id, first_seen_ms, last_push_ms, changes) VALUES ($1, $2, $2, $3)
                 ON CONFLICT (id) DO UPDATE SET last_push_ms = EXCLUDED.last_push_ms,
                                                changes = devices.changes + EXCLUDED.changes",
                &[&device.as_bytes().as_slice(), &int(now), &i64::from(changes)],
            )?;
            Ok(())
        })
    }

    fn save_daily_report(&mut self, row: &DailyReportRow, township: &str) -> StorageResult<()> {
        run(|| {
            self.write_lock()?;
            self.execute(
                "INSERT INTO daily_reports (worker, date, record, grid, status, filed_ms, received_ms, township)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (township, worker, date) DO UPDATE SET grid = EXCLUDED.grid, status = EXCLUDED.status,
                     filed_ms = least(daily_reports.filed_ms, EXCLUDED.filed_ms),
                     received_ms = least(daily_reports.received_ms, EXCLUDED.received_ms)",
                &[
                    &row.worker,
                    &row.date,
                    &row.record.as_bytes().as_slice(),
                    &row.grid,
                    &row.status,
                    &int(row.filed_ms),
                    &int(row.received_ms),
                    &township,
                ],
            )?;
            Ok(())
        })
    }

    /// Copies the rows under their new township, then deletes the old ones:
    /// a distributed table's distribution column cannot be updated in
    /// place, and this is the same on one node.
    fn rehome_record(&mut self, record: RecordId, to: &str) -> StorageResult<()> {
        run(|| {
            self.write_lock()?;
            self.rehome(&[record.as_bytes().as_slice()], to)
        })
    }

    fn rehome_place(&mut self, key: &str, to: &str) -> StorageResult<u64> {
        run(|| {
            self.write_lock()?;
            let rows = self.rows(
                "SELECT DISTINCT record FROM record_access WHERE key = $1 AND township <> $2",
                &[&key, &to],
            )?;
            let records: Vec<&[u8]> =
                rows.iter().map(|r| get(r, 0, "a record in the access index")).collect::<Result<_, _>>()?;
            if !records.is_empty() {
                self.rehome(&records, to)?;
            }
            Ok(records.len() as u64)
        })
    }

    /// The page's cursor is the new `pull_tokens` row's token, drawn from
    /// the identity under the write lock: above every token issued before,
    /// deleted ones too. Removals and additions are one statement each.
    fn record_pull_page(&mut self, page: &PullPage<'_>) -> StorageResult<u64> {
        run(|| {
            self.write_lock()?;
            let (d, home) = (page.device.as_bytes().as_slice(), page.township);
            let t = int(page.presented);
            if page.reset {
                // Every township: rows left under a home the device had before go too.
                self.execute("DELETE FROM replicas WHERE device = $1", &[&d])?;
                self.execute("DELETE FROM pull_tokens WHERE device = $1", &[&d])?;
            } else if page.dirty {
                self.execute(
                    "DELETE FROM replicas WHERE township = $3 AND device = $1 AND added_token > $2",
                    &[&d, &t, &home],
                )?;
                self.execute(
                    "DELETE FROM replicas WHERE township = $3 AND device = $1 AND removed_token <= $2",
                    &[&d, &t, &home],
                )?;
                self.execute(
                    "UPDATE replicas SET removed_token = NULL
                     WHERE township = $3 AND device = $1 AND removed_token > $2",
                    &[&d, &t, &home],
                )?;
            }
            let row = self.one(
                "INSERT INTO pull_tokens (device, log_high, issued_ms, township) VALUES ($1, $2, $3, $4)
                 RETURNING token",
                &[&d, &int(page.log_high), &int(page.now), &home],
            )?;
            let token: i64 = get(&row, 0, "a new pull token")?;
            if !page.removes.is_empty() {
                let removes: Vec<&[u8]> = page.removes.iter().map(|r| r.as_bytes().as_slice()).collect();
                self.execute(
                    "UPDATE replicas SET removed_token = $3
                     WHERE township = $4 AND device = $1 AND record = ANY($2::bytea[])",
                    &[&d, &removes, &token, &home],
                )?;
            }
            if !page.adds.is_empty() {
                let adds: Vec<&[u8]> = page.adds.iter().map(|r| r.as_bytes().as_slice()).collect();
                self.execute(
                    "INSERT INTO replicas (device, record, added_token, removed_token, rebuild, sent_through, township)
                     SELECT DISTINCT $1::bytea, record, $3::bigint, NULL::bigint, false, $4::bigint, $5::text
                     FROM unnest($2::bytea[]) AS record
                     ON CONFLICT (township, device, record) DO UPDATE
                         SET added_token = EXCLUDED.added_token, removed_token = NULL, rebuild = false,
                             sent_through = EXCLUDED.sent_through",
                    &[&d, &adds, &token, &int(page.sent_through), &home],
                )?;
            }
            // Keep the presented cursor (the device re-presents it if this
            // page is lost) and the new one; older and abandoned cursors go.
            self.execute(
                "DELETE FROM pull_tokens WHERE township = $4 AND device = $1 AND token <> $2 AND token <> $3",
                &[&d, &t, &token, &home],
            )?;
            u64::try_from(token).map_err(|_| crate::error::corrupt("a new pull token is negative"))
        })
    }
}

/// The tables whose rows follow a record's home, with their columns.
const RECORD_TABLES: &[(&str, &str)] = &[
    ("changes", "seq, record, actor, counter, received_ms, body, clock_suspect, clock_offset_ms"),
    ("records", "id, kind, state, conflicted, updated_seq"),
    ("record_access", "key, record, active_ms, open"),
    ("daily_reports", "worker, date, record, grid, status, filed_ms, received_ms"),
];

impl PgTx<'_> {
    /// Moves every row of `records` that lies outside township `to` there.
    fn rehome(&mut self, records: &[&[u8]], to: &str) -> Result<(), Failure> {
        for (table, columns) in RECORD_TABLES {
            let id = if *table == "records" { "id" } else { "record" };
            self.execute(
                &format!(
                    "INSERT INTO {table} ({columns}, township)
                     SELECT {columns}, $2 FROM {table} WHERE {id} = ANY($1::bytea[]) AND township <> $2"
                ),
                &[&records, &to],
            )?;
            self.execute(
                &format!("DELETE FROM {table} WHERE {id} = ANY($1::bytea[]) AND township <> $2"),
                &[&records, &to],
            )?;
        }
        Ok(())
    }
}
