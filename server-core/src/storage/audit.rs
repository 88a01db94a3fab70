//! The hash-chained audit log (see [`crate::audit`]).

use super::StorageResult;
pub use crate::audit::AuditRow;
use crate::audit::{ChainCheck, ChainProgress, Checkpoint, Event, Verdict, link};

/// Reads of the audit log.
pub trait AuditRead {
    /// The last row's position and hash, if any.
    fn audit_head(&mut self) -> StorageResult<Option<(u64, Vec<u8>)>>;

    /// Every row in order, until `each` answers `false`.
    fn audit_rows(&mut self, each: &mut dyn FnMut(AuditRow) -> bool) -> StorageResult<()>;

    /// The rows whose position is below `before`, newest first, until
    /// `each` answers `false` (for paging through the log from its end).
    fn audit_rows_before(&mut self, before: u64, each: &mut dyn FnMut(AuditRow) -> bool)
    -> StorageResult<()>;

    /// The rows whose position is from `first` to `last` (both included),
    /// in order, until `each` answers `false`.
    fn audit_rows_between(
        &mut self,
        first: u64,
        last: u64,
        each: &mut dyn FnMut(AuditRow) -> bool,
    ) -> StorageResult<()>;

    /// Walks the whole chain from the first row ([`ChainCheck`]).
    fn verify_chain(&mut self) -> StorageResult<Verdict> {
        let mut check = ChainCheck::default();
        self.audit_rows(&mut |row| check.push(row))?;
        Ok(check.finish())
    }

    /// Checks the rows after a verified prefix `from`, up to the head as
    /// this transaction sees it (rows appended meanwhile are left for the
    /// next check). The checkpoint's own row is read again: if it changed,
    /// or the log is now shorter than the prefix, the chain is broken there.
    fn verify_chain_since(&mut self, from: &Checkpoint) -> StorageResult<ChainProgress> {
        let last = self.audit_head()?.map_or(0, |(seq, _)| seq);
        if last < from.seq {
            let broken =
                Verdict::Broken { seq: (last + 1) as i64, reason: "rows verified before are missing" };
            return Ok(ChainProgress { reached: Err(broken), checked: 0 });
        }
        let changed = Verdict::Broken { seq: from.seq as i64, reason: "a row verified before was changed" };
        let mut check = ChainCheck::resume(from);
        let (mut anchored, mut moved, mut checked) = (from.seq == 0, false, 0);
        self.audit_rows_between(from.seq.max(1), last, &mut |row| {
            if !anchored {
                anchored = true;
                moved = row.seq != from.seq || row.hash != from.hash;
                return !moved;
            }
            checked += 1;
            check.push(row)
        })?;
        let reached = if moved || !anchored {
            Err(changed)
        } else if let Some(broken) = check.broken() {
            Err(broken.clone())
        } else if check.checkpoint().seq < last {
            let seq = (check.checkpoint().seq + 1) as i64;
            Err(Verdict::Broken { seq, reason: "a row is missing before this one" })
        } else {
            Ok(check.checkpoint())
        };
        Ok(ChainProgress { reached, checked })
    }
}

/// Writes of the audit log.
pub trait AuditWrite: AuditRead {
    /// Stores a row as given. Backends refuse updates and deletes of rows.
    fn insert_audit_row(&mut self, row: &AuditRow) -> StorageResult<()>;

    /// Appends `event` at `time_ms`, linked to the row before it. Call in
    /// the transaction of the action it records.
    fn append_audit(&mut self, time_ms: u64, event: &Event) -> StorageResult<()> {
        let (seq, prev) = match self.audit_head()? {
            Some((seq, hash)) => (seq + 1, hash),
            None => (1, crate::audit::GENESIS.to_vec()),
        };
        let hash = link(&prev, seq, time_ms, event);
        self.insert_audit_row(&AuditRow { seq, time_ms, event: event.clone(), prev_hash: prev, hash })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{ChainMemory, GENESIS};

    /// An audit log in memory, which a test may tamper with.
    #[derive(Default)]
    struct Rows(Vec<AuditRow>);

    impl Rows {
        fn append(&mut self, n: u64) {
            for _ in 0..n {
                let (seq, prev) =
                    self.0.last().map_or((1, GENESIS.to_vec()), |r| (r.seq + 1, r.hash.clone()));
                let event = Event::new("cli", "test.append", format!("t{seq}"), "ok");
                let hash = link(&prev, seq, 1_000 + seq, &event);
                self.0.push(AuditRow { seq, time_ms: 1_000 + seq, event, prev_hash: prev, hash });
            }
        }

        /// Edits row `seq`'s outcome in place, as someone with the file might.
        fn tamper(&mut self, seq: u64) {
            self.0[seq as usize - 1].event.outcome = "forged".into();
        }
    }

    impl AuditRead for Rows {
        fn audit_head(&mut self) -> StorageResult<Option<(u64, Vec<u8>)>> {
            Ok(self.0.last().map(|r| (r.seq, r.hash.clone())))
        }

        fn audit_rows(&mut self, each: &mut dyn FnMut(AuditRow) -> bool) -> StorageResult<()> {
            self.audit_rows_between(0, u64::MAX, each)
        }

        fn audit_rows_before(
            &mut self,
            before: u64,
            each: &mut dyn FnMut(AuditRow) -> bool,
        ) -> StorageResult<()> {
            for row in self.0.iter().rev().filter(|r| r.seq < before) {
                if !each(row.clone()) {
                    break;
                }
            }
            Ok(())
        }

        fn audit_rows_between(
            &mut self,
            first: u64,
            last: u64,
            each: &mut dyn FnMut(AuditRow) -> bool,
        ) -> StorageResult<()> {
            for row in self.0.iter().filter(|r| (first..=last).contains(&r.seq)) {
                if !each(row.clone()) {
                    break;
                }
            }
            Ok(())
        }
    }

    /// One check as the service makes it: from the memory, remembered.
    fn check(rows: &mut Rows, memory: &mut ChainMemory) -> crate::audit::ChainReport {
        match memory.start() {
            Err(remembered) => remembered,
            Ok(from) => memory.record(rows.verify_chain_since(&from).expect("reads")),
        }
    }

    fn intact(rows: u64) -> impl Fn(&Verdict) -> bool {
        move |v| matches!(v, Verdict::Intact { rows: r, .. } if *r == rows)
    }

    #[test]
    fn each_check_reads_only_the_rows_appended_since_the_last() {
        let (mut rows, mut memory) = (Rows::default(), ChainMemory::default());
        let empty = check(&mut rows, &mut memory);
        assert_eq!((empty.verdict, empty.checked), (Checkpoint::default().verdict(), 0));
        rows.append(5);
        let first = check(&mut rows, &mut memory);
        assert!(intact(5)(&first.verdict) && first.checked == 5, "{first:?}");
        let again = check(&mut rows, &mut memory);
        assert!(intact(5)(&again.verdict) && again.checked == 0, "nothing new: {again:?}");
        rows.append(3);
        let more = check(&mut rows, &mut memory);
        assert!(intact(8)(&more.verdict) && more.checked == 3, "{more:?}");
        assert_eq!(more.verdict, rows.verify_chain().expect("reads"), "the same verdict as a whole walk");
    }

    #[test]
    fn a_row_tampered_after_the_verified_prefix_is_found_and_remembered() {
        let (mut rows, mut memory) = (Rows::default(), ChainMemory::default());
        rows.append(5);
        assert!(intact(5)(&check(&mut rows, &mut memory).verdict));
        rows.append(4);
        rows.tamper(7);
        let found = check(&mut rows, &mut memory);
        let broken = Verdict::Broken { seq: 7, reason: "its content was changed" };
        assert_eq!((&found.verdict, found.remembered), (&broken, false));
        rows.append(2);
        let later = check(&mut rows, &mut memory);
        assert_eq!((&later.verdict, later.remembered, later.checked), (&broken, true, 0), "remembered");
        memory.forget();
        assert_eq!(check(&mut rows, &mut memory).verdict, broken, "found again from the first row");
    }

    #[test]
    fn a_changed_checkpoint_row_or_a_shorter_log_breaks_the_chain() {
        let (mut rows, mut memory) = (Rows::default(), ChainMemory::default());
        rows.append(5);
        check(&mut rows, &mut memory);
        // Row 3 rewritten with every hash after it: the checkpoint's hash moves.
        rows.tamper(3);
        let tail: Vec<AuditRow> = rows.0.drain(2..).collect();
        for mut row in tail {
            row.prev_hash = rows.0.last().map(|r| r.hash.clone()).expect("a row before");
            row.hash = link(&row.prev_hash, row.seq, row.time_ms, &row.event);
            rows.0.push(row);
        }
        rows.append(1);
        let rewritten = check(&mut rows, &mut memory).verdict;
        assert_eq!(rewritten, Verdict::Broken { seq: 5, reason: "a row verified before was changed" });

        let (mut rows, mut memory) = (Rows::default(), ChainMemory::default());
        rows.append(5);
        check(&mut rows, &mut memory);
        rows.0.truncate(3);
        let cut = check(&mut rows, &mut memory).verdict;
        assert_eq!(cut, Verdict::Broken { seq: 4, reason: "rows verified before are missing" });

        let (mut rows, mut memory) = (Rows::default(), ChainMemory::default());
        rows.append(3);
        check(&mut rows, &mut memory);
        rows.append(3);
        rows.0.remove(4); // row 5 deleted
        let gap = check(&mut rows, &mut memory).verdict;
        assert_eq!(gap, Verdict::Broken { seq: 6, reason: "a row is missing before this one" });
    }
}
