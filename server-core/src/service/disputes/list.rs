//! The desk's list: one line per dispute, the filters, and the pages.
//!
//! A line holds what the desk sorts and filters by and nothing personal
//! (no parties, no summary, no address). Pages run newest first by record
//! id (a UUIDv7, ordered by registration time, then random bits): a total
//! order that a newly registered dispute only ever extends at the front, so
//! a cursor (`before`: the last id of the previous page) never repeats or
//! skips a dispute that was listed, whatever is registered meanwhile.

use std::collections::BTreeMap;

use gridsync_proto::dispute::REGISTERED_AT;
use gridsync_proto::{
    Date, Directory, Hierarchy, Lifecycle, RecordId, RecordKind, RecordState, Stage, Value,
};
use serde::Serialize;

use crate::error::{CoreResult, StorageError};
use crate::storage::ReadTx;

/// Most lines one page holds.
pub const MAX_PAGE: usize = 500;
/// Lines in a page when the caller names no limit.
pub const DEFAULT_PAGE: usize = 50;

/// Which disputes to list, and which page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DisputeQuery {
    /// Disputes owned within this place (the caller must be allowed to read it).
    pub place: String,
    /// Only this stage.
    pub stage: Option<Stage>,
    /// Only this category (as recorded, compared after trimming).
    pub category: Option<String>,
    /// Only this risk level (1 to 4).
    pub risk: Option<i64>,
    /// Only disputes owned by exactly this place.
    pub owner: Option<String>,
    /// Only overdue disputes (`Some(true)`), or only those that are not.
    pub overdue: Option<bool>,
    /// Only flagged disputes (a clash overrode a step nobody acknowledged), or only unflagged ones.
    pub flagged: Option<bool>,
    /// Only disputes with a field in conflict, or only those without.
    pub in_conflict: Option<bool>,
    /// The page starts after this dispute (the previous page's `next`).
    pub before: Option<RecordId>,
    /// Most lines (1 to [`MAX_PAGE`]; 0 means [`DEFAULT_PAGE`]).
    pub limit: usize,
}

/// One dispute in the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DisputeLine {
    /// Record id.
    pub id: String,
    /// Category (`未分类` when none was recorded).
    pub category: String,
    /// Lifecycle stage.
    pub stage: Stage,
    /// The place that owns it now.
    pub owner: String,
    /// The department handling it after a transfer.
    pub handler: Option<String>,
    /// Where it was registered (its first owner).
    pub registered_at: String,
    /// When it was registered (the creating device's hybrid time, Unix ms).
    pub registered_ms: u64,
    /// Risk level, 1 (low) to 4.
    pub risk: Option<i64>,
    /// The date it is due to be settled by (`YYYY-MM-DD`), if one was set.
    pub due: Option<String>,
    /// Past its due date and not yet resolved ([`is_overdue`]).
    pub overdue: bool,
    /// A clash overrode a step that nobody has acknowledged yet.
    pub flagged: bool,
    /// Fields whose live values differ, by name.
    pub conflicts: Vec<String>,
    /// Steps in its history (applied, overridden and waiting).
    pub steps: usize,
    /// The time of its latest step (hybrid time, Unix ms).
    pub last_step_ms: Option<u64>,
}

/// One page of the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DisputePage {
    /// How many disputes match the filters, on every page together.
    pub total: usize,
    /// The lines of this page, newest first.
    pub items: Vec<DisputeLine>,
    /// The cursor of the next page (`before=`), if more lines follow.
    pub next: Option<String>,
    /// The log position the list was read at.
    pub as_of: u64,
}

/// Whether a dispute at `stage`, due on `due`, is overdue `today`: it is
/// not yet resolved (found, accepted, mediating, or with a department) and
/// its due date has passed (the due day itself still counts as in time).
/// A dispute without a due date is never overdue. ADR 0016 records the rule.
pub fn is_overdue(stage: Stage, due: Option<Date>, today: Date) -> bool {
    !stage.is_resolved() && due.is_some_and(|due| due < today)
}

impl DisputeLine {
    /// The line of a dispute record; `None` for another kind or a dispute
    /// whose registration has not arrived.
    pub fn of(record: &RecordState, lifecycle: &Lifecycle, today: Date) -> Option<Self> {
        if record.kind() != RecordKind::Dispute {
            return None;
        }
        let text = |field: &str| match record.value(field) {
            Some(Value::Text(t)) => Some(t.trim().to_owned()),
            _ => None,
        };
        let due = text("due");
        let state = &lifecycle.state;
        Some(Self {
            id: record.id().to_string(),
            category: text("category")
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| crate::ledger::NO_CATEGORY.to_owned()),
            stage: state.stage,
            owner: state.owner.clone(),
            handler: state.handler.clone(),
            registered_at: text(REGISTERED_AT)?,
            registered_ms: record.created().map_or(0, |c| c.time.millis),
            risk: match record.value("risk") {
                Some(Value::Int(r)) => Some(*r),
                _ => None,
            },
            overdue: is_overdue(state.stage, due.as_deref().and_then(|d| d.parse().ok()), today),
            due,
            flagged: lifecycle.flagged(),
            conflicts: record.conflicts().map(|(field, _)| field.to_owned()).collect(),
            steps: lifecycle.steps.len(),
            last_step_ms: lifecycle.steps.iter().map(|s| s.time.millis).max(),
        })
    }
}

impl DisputeQuery {
    /// Whether a line passes every filter (the place is checked by [`Self::owns`]).
    pub fn matches(&self, line: &DisputeLine) -> bool {
        self.matches_at(line, line.overdue)
    }

    /// [`Self::matches`], with the line's overdue state as judged now.
    fn matches_at(&self, line: &DisputeLine, overdue: bool) -> bool {
        self.overdue.is_none_or(|o| o == overdue)
            && self.stage.is_none_or(|s| s == line.stage)
            && self.category.as_deref().is_none_or(|c| c.trim() == line.category)
            && self.risk.is_none_or(|r| Some(r) == line.risk)
            && self.owner.as_deref().is_none_or(|o| o == line.owner)
            && self.flagged.is_none_or(|f| f == line.flagged)
            && self.in_conflict.is_none_or(|c| c != line.conflicts.is_empty())
    }

    /// Whether `owner` lies within the listed place.
    pub fn owns(&self, dir: &Directory, owner: &str) -> bool {
        dir.is_within(owner, Some(&self.place))
    }

    /// The page's size: [`DEFAULT_PAGE`] for 0, at most [`MAX_PAGE`].
    pub fn page_size(&self) -> usize {
        if self.limit == 0 { DEFAULT_PAGE } else { self.limit.min(MAX_PAGE) }
    }
}

/// Every dispute's line, kept in the service's memory and brought up to
/// date from the log before each list: only the disputes saved after the
/// position it last read ([`crate::storage::SyncLogRead::records_updated`],
/// by the position of each record's last update) are read and folded again.
/// A restart (or a restore, which needs one) starts it afresh.
#[derive(Debug, Default)]
pub(crate) struct DisputeIndex {
    /// The log position read up to.
    high: u64,
    /// Each dispute's line (its `overdue` is set when a page is cut) and due date.
    lines: BTreeMap<RecordId, (DisputeLine, Option<Date>)>,
}

impl DisputeIndex {
    /// Reads the disputes saved after the last position read, up to the
    /// snapshot's safe high-water mark; answers the position the index now
    /// stands at (a newer snapshot may have brought it further already).
    pub(crate) fn catch_up(&mut self, tx: &mut dyn ReadTx, today: Date) -> CoreResult<u64> {
        let high = tx.high_water()?;
        if high > self.high {
            let (lines, mut corrupt) = (&mut self.lines, false);
            tx.records_updated(RecordKind::Dispute, self.high, high, usize::MAX, &mut |_, bytes| {
                let Ok(record) = RecordState::from_bytes(bytes) else {
                    corrupt = true;
                    return;
                };
                let line = Lifecycle::of(&record).and_then(|l| DisputeLine::of(&record, &l, today));
                match line {
                    Some(line) => {
                        let due = line.due.as_deref().and_then(|d| d.parse().ok());
                        lines.insert(record.id(), (line, due));
                    }
                    None => {
                        lines.remove(&record.id());
                    }
                }
            })?;
            if corrupt {
                return Err(StorageError::corrupt("a dispute's state").into());
            }
            self.high = high;
        }
        Ok(self.high)
    }

    /// The page `query` asks for, newest first, with the total that match.
    pub(crate) fn page(&self, dir: &Directory, query: &DisputeQuery, today: Date) -> DisputePage {
        // Whether a line passes, and whether it is overdue today.
        let passes = |line: &DisputeLine, due: &Option<Date>| {
            let overdue = is_overdue(line.stage, *due, today);
            (query.owns(dir, &line.owner) && query.matches_at(line, overdue)).then_some(overdue)
        };
        let total = self.lines.values().filter(|(line, due)| passes(line, due).is_some()).count();
        let size = query.page_size();
        let after_cursor = match query.before {
            Some(before) => self.lines.range(..before),
            None => self.lines.range(..),
        };
        let mut items: Vec<DisputeLine> = after_cursor
            .rev()
            .filter_map(|(_, (line, due))| {
                passes(line, due).map(|overdue| DisputeLine { overdue, ..line.clone() })
            })
            .take(size + 1)
            .collect();
        let more = items.len() > size;
        items.truncate(size);
        let next = more.then(|| items.last().map(|l| l.id.clone())).flatten();
        DisputePage { total, items, next, as_of: self.high }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> Date {
        s.parse().expect("a date")
    }

    #[test]
    fn overdue_means_unresolved_and_past_the_due_day() {
        let today = date("2026-12-03");
        assert!(is_overdue(Stage::Mediating, Some(date("2026-12-02")), today));
        assert!(!is_overdue(Stage::Mediating, Some(today), today), "the due day is still in time");
        assert!(!is_overdue(Stage::Resolved, Some(date("2026-11-01")), today));
        assert!(!is_overdue(Stage::Closed, Some(date("2026-11-01")), today));
        assert!(is_overdue(Stage::Handling, Some(date("2026-11-01")), today));
        assert!(!is_overdue(Stage::Found, None, today));
    }

    fn line(id: &str, stage: Stage) -> DisputeLine {
        DisputeLine {
            id: id.into(),
            category: "婚姻家庭".into(),
            stage,
            owner: "530102001".into(),
            handler: None,
            registered_at: "530102001".into(),
            registered_ms: 1,
            risk: Some(2),
            due: None,
            overdue: false,
            flagged: false,
            conflicts: vec![],
            steps: 0,
            last_step_ms: None,
        }
    }

    #[test]
    fn every_filter_narrows() {
        let mut l = line("a", Stage::Found);
        let all = DisputeQuery::default();
        assert!(all.matches(&l));
        let q = |f: fn(&mut DisputeQuery)| {
            let mut q = DisputeQuery::default();
            f(&mut q);
            q
        };
        assert!(!q(|q| q.stage = Some(Stage::Closed)).matches(&l));
        assert!(q(|q| q.category = Some(" 婚姻家庭 ".into())).matches(&l));
        assert!(!q(|q| q.risk = Some(4)).matches(&l));
        assert!(!q(|q| q.owner = Some("530102".into())).matches(&l));
        assert!(!q(|q| q.overdue = Some(true)).matches(&l));
        assert!(!q(|q| q.flagged = Some(true)).matches(&l));
        assert!(!q(|q| q.in_conflict = Some(true)).matches(&l));
        l.conflicts.push("risk".into());
        assert!(q(|q| q.in_conflict = Some(true)).matches(&l));
        assert!(!q(|q| q.in_conflict = Some(false)).matches(&l));
    }

    #[test]
    fn pages_follow_the_cursor_newest_first_and_overdue_is_judged_today() {
        let dir = Directory::new(
            [gridsync_proto::Place {
                code: "530102001".into(),
                name: "东关村".into(),
                level: gridsync_proto::Level::Village,
                parent: None,
            }],
            [],
        );
        let query = DisputeQuery { place: "530102001".into(), limit: 2, ..DisputeQuery::default() };
        let ids: Vec<RecordId> = (1..=5).map(|ms| RecordId::generate(ms * 1000)).collect();
        let mut index = DisputeIndex { high: 7, ..DisputeIndex::default() };
        for id in &ids {
            index.lines.insert(*id, (line(&id.to_string(), Stage::Found), Some(date("2026-12-02"))));
        }
        let today = date("2026-12-03");
        let first = index.page(&dir, &query, today);
        assert_eq!((first.total, first.as_of), (5, 7));
        assert!(first.items.iter().all(|l| l.overdue));
        let mut seen: Vec<String> = first.items.iter().map(|l| l.id.clone()).collect();
        let mut next = first.next;
        while let Some(cursor) = next {
            let after = DisputeQuery { before: Some(cursor.parse().expect("id")), ..query.clone() };
            let page = index.page(&dir, &after, today);
            assert_eq!(page.total, 5);
            seen.extend(page.items.iter().map(|l| l.id.clone()));
            next = page.next;
        }
        let expected: Vec<String> = ids.iter().rev().map(ToString::to_string).collect();
        assert_eq!(seen, expected);
        let in_time = DisputeQuery { overdue: Some(true), ..query.clone() };
        assert_eq!(index.page(&dir, &in_time, date("2026-12-02")).total, 0, "the due day itself is in time");
        let elsewhere = DisputeQuery { place: "530103".into(), ..query.clone() };
        assert_eq!(index.page(&dir, &elsewhere, today).total, 0);
        assert_eq!(DisputeQuery { limit: 0, ..query.clone() }.page_size(), DEFAULT_PAGE);
        assert_eq!(DisputeQuery { limit: 10_000, ..query }.page_size(), MAX_PAGE);
    }
}
