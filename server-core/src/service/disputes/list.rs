//! The desk's list: one line per dispute, the filters, and the pages.
//!
//! A line holds what the desk sorts and filters by and nothing personal
//! (no parties, no summary, no address). Pages run newest first by record
//! id (a UUIDv7, ordered by registration time, then random bits): a total
//! order that a newly registered dispute only ever extends at the front, so
//! a cursor (`before`: the last id of the previous page) never repeats or
//! skips a dispute that was listed, whatever is registered meanwhile.

use gridsync_proto::dispute::REGISTERED_AT;
use gridsync_proto::{
    Date, Directory, Hierarchy, Lifecycle, RecordId, RecordKind, RecordState, Stage, Value,
};
use serde::Serialize;

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
        self.stage.is_none_or(|s| s == line.stage)
            && self.category.as_deref().is_none_or(|c| c.trim() == line.category)
            && self.risk.is_none_or(|r| Some(r) == line.risk)
            && self.owner.as_deref().is_none_or(|o| o == line.owner)
            && self.overdue.is_none_or(|o| o == line.overdue)
            && self.flagged.is_none_or(|f| f == line.flagged)
            && self.in_conflict.is_none_or(|c| c == !line.conflicts.is_empty())
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

/// Collects the matching lines, then cuts the page.
#[derive(Debug)]
pub(crate) struct Collector<'q> {
    query: &'q DisputeQuery,
    today: Date,
    /// Matching lines with their ids, in any order.
    found: Vec<(RecordId, DisputeLine)>,
}

impl<'q> Collector<'q> {
    pub(crate) fn new(query: &'q DisputeQuery, today: Date) -> Self {
        Self { query, today, found: Vec::new() }
    }

    /// Considers one dispute.
    pub(crate) fn add(&mut self, dir: &Directory, record: &RecordState) {
        let Some(lifecycle) = Lifecycle::of(record) else { return };
        if !self.query.owns(dir, &lifecycle.state.owner) {
            return;
        }
        if let Some(line) = DisputeLine::of(record, &lifecycle, self.today)
            && self.query.matches(&line)
        {
            self.found.push((record.id(), line));
        }
    }

    /// The page: the total, then the lines after the cursor, newest first.
    pub(crate) fn finish(mut self, as_of: u64) -> DisputePage {
        let total = self.found.len();
        self.found.sort_unstable_by(|a, b| b.0.cmp(&a.0));
        let size = self.query.page_size();
        let start = match self.query.before {
            Some(before) => self.found.partition_point(|(id, _)| *id >= before),
            None => 0,
        };
        let rest = &mut self.found[start..];
        let more = rest.len() > size;
        let items: Vec<DisputeLine> = rest.iter_mut().take(size).map(|(_, line)| line.clone()).collect();
        let next = more.then(|| items.last().map(|l| l.id.clone())).flatten();
        DisputePage { total, items, next, as_of }
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
    fn pages_follow_the_cursor_newest_first() {
        let query = DisputeQuery { limit: 2, ..DisputeQuery::default() };
        let ids: Vec<RecordId> = (1..=5).map(|ms| RecordId::generate(ms * 1000)).collect();
        let collect = |q: &DisputeQuery| {
            let mut c = Collector::new(q, date("2026-12-03"));
            for id in &ids {
                c.found.push((*id, line(&id.to_string(), Stage::Found)));
            }
            c.finish(7)
        };
        let first = collect(&query);
        assert_eq!((first.total, first.as_of), (5, 7));
        let shown: Vec<&str> = first.items.iter().map(|l| l.id.as_str()).collect();
        assert_eq!(shown, [ids[4].to_string(), ids[3].to_string()]);
        let mut seen = shown.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let mut next = first.next;
        while let Some(cursor) = next {
            let page = collect(&DisputeQuery { before: Some(cursor.parse().expect("id")), ..query.clone() });
            assert_eq!(page.total, 5);
            seen.extend(page.items.iter().map(|l| l.id.clone()));
            next = page.next;
        }
        let mut expected: Vec<String> = ids.iter().rev().map(ToString::to_string).collect();
        assert_eq!(seen, expected);
        expected.clear();
        assert_eq!(DisputeQuery { limit: 0, ..query.clone() }.page_size(), DEFAULT_PAGE);
        assert_eq!(DisputeQuery { limit: 10_000, ..query }.page_size(), MAX_PAGE);
    }
}
