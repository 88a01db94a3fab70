//! The ledgers' SQL: `month_locks`.

use gridsync_server_core::storage::{LedgerRead, LedgerWrite, MonthLockHead, MonthLockRow, StorageResult};
use rusqlite::{OptionalExtension, params};

use super::{SqliteTx, run};

impl LedgerRead for SqliteTx<'_> {
    fn month_lock(
        &mut self,
        place: &str,
        _township: &str,
        month: &str,
    ) -> StorageResult<Option<MonthLockRow>> {
        run(|| {
            let row = self
                .conn
                .prepare_cached(
                    "SELECT root, as_of_seq, as_of_ms, locked_ms, locked_by, body FROM month_locks
                     WHERE place = ?1 AND month = ?2",
                )?
                .query_row(params![place, month], |row| {
                    Ok(MonthLockRow {
                        head: MonthLockHead {
                            place: place.to_owned(),
                            month: month.to_owned(),
                            root: row.get(0)?,
                            as_of_position: row.get::<_, i64>(1)? as u64,
                            as_of_ms: row.get(2)?,
                            locked_ms: row.get(3)?,
                            locked_by: row.get(4)?,
                        },
                        township: String::new(),
                        body: row.get(5)?,
                    })
                })
                .optional()?;
            Ok(row)
        })
    }

    fn month_locks(&mut self) -> StorageResult<Vec<MonthLockHead>> {
        run(|| {
            let mut stmt = self.conn.prepare_cached(
                "SELECT place, month, root, as_of_seq, as_of_ms, locked_ms, locked_by FROM month_locks
                 WHERE root = place ORDER BY month, place",
            )?;
            let rows = stmt.query_map([], |row| {
                Ok(MonthLockHead {
                    place: row.get(0)?,
                    month: row.get(1)?,
                    root: row.get(2)?,
                    as_of_position: row.get::<_, i64>(3)? as u64,
                    as_of_ms: row.get(4)?,
                    locked_ms: row.get(5)?,
                    locked_by: row.get(6)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }
}

impl LedgerWrite for SqliteTx<'_> {
    fn put_month_lock(&mut self, row: &MonthLockRow) -> StorageResult<bool> {
        run(|| {
            let stored = self
                .conn
                .prepare_cached(
                    "INSERT INTO month_locks (place, month, root, as_of_seq, as_of_ms, locked_ms, locked_by, body)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (place, month) DO NOTHING",
                )?
                .execute(params![
                    row.head.place,
                    row.head.month,
                    row.head.root,
                    row.head.as_of_position as i64,
                    row.head.as_of_ms,
                    row.head.locked_ms,
                    row.head.locked_by,
                    row.body
                ])?;
            Ok(stored == 1)
        })
    }
}
