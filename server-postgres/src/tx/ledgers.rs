//! The ledgers' SQL: `month_locks`, filed by the place's township.

use gridsync_server_core::storage::{LedgerRead, LedgerWrite, MonthLockHead, MonthLockRow, StorageResult};
use tokio_postgres::Row;

use super::{PgTx, get, int, run, uint};
use crate::error::Failure;

impl LedgerRead for PgTx<'_> {
    fn month_lock(
        &mut self,
        place: &str,
        township: &str,
        month: &str,
    ) -> StorageResult<Option<MonthLockRow>> {
        run(|| {
            let row = self.row(
                "SELECT place, month, root, as_of_seq, as_of_ms, locked_ms, locked_by, body FROM month_locks
                 WHERE township = $1 AND place = $2 AND month = $3",
                &[&township, &place, &month],
            )?;
            row.map(|row| {
                Ok(MonthLockRow {
                    head: head(&row)?,
                    township: township.to_owned(),
                    body: get(&row, 7, "a locked month's ledgers")?,
                })
            })
            .transpose()
        })
    }

    fn month_locks(&mut self) -> StorageResult<Vec<MonthLockHead>> {
        run(|| {
            let rows = self.rows(
                "SELECT place, month, root, as_of_seq, as_of_ms, locked_ms, locked_by FROM month_locks
                 WHERE root = place ORDER BY month, place",
                &[],
            )?;
            rows.iter().map(head).collect()
        })
    }
}

/// A lock's head from the columns `place, month, root, as_of_seq, as_of_ms, locked_ms, locked_by`.
fn head(row: &Row) -> Result<MonthLockHead, Failure> {
    Ok(MonthLockHead {
        place: get(row, 0, "a locked month's place")?,
        month: get(row, 1, "a locked month's month")?,
        root: get(row, 2, "a locked month's root")?,
        as_of_position: uint(row, 3, "a locked month's position")?,
        as_of_ms: get(row, 4, "a locked month's time")?,
        locked_ms: get(row, 5, "a locked month's lock time")?,
        locked_by: get(row, 6, "a locked month's locker")?,
    })
}

impl LedgerWrite for PgTx<'_> {
    fn put_month_lock(&mut self, row: &MonthLockRow) -> StorageResult<bool> {
        run(|| {
            let stored = self.execute(
                "INSERT INTO month_locks
                     (township, place, month, root, as_of_seq, as_of_ms, locked_ms, locked_by, body)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
                &[
                    &row.township,
                    &row.head.place,
                    &row.head.month,
                    &row.head.root,
                    &int(row.head.as_of_position),
                    &row.head.as_of_ms,
                    &row.head.locked_ms,
                    &row.head.locked_by,
                    &row.body,
                ],
            )?;
            Ok(stored == 1)
        })
    }
}
