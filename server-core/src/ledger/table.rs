//! The monthly statistics table (清单化管理统计表): the figures of each line
//! and category, and the table as a sheet.
//!
//! Every dispute figure counts disputes, never steps, except
//! `mediation_sessions`. What each counts is in [`DisputeFigures`]; the
//! work figures (一日两巡五访 and the daily reports) are in [`WorkFigures`].

use std::collections::BTreeMap;

use gridsync_proto::{Directory, Hierarchy, Level};
use serde::{Deserialize, Serialize};

use super::AsOf;
use super::dispute::InPeriod;
use super::lines::LineKind;
use super::lock::LockStamp;
use super::period::Month;
use super::sheet::{Cell, Column, HeaderNode, Kind, Ratio, Row, RowStyle, Sheet, header};
use super::{as_of_line, period_line};

/// Patrols expected of a grid worker a day (一日两巡).
pub const PATROLS_PER_DAY: u64 = 2;
/// Household visits expected of a grid worker a day (五访).
pub const VISITS_PER_DAY: u64 = 5;

/// Escalations by the level they went to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalatedTo {
    /// To a village (or community).
    pub village: u64,
    /// To a township (or street).
    pub township: u64,
    /// To a county (or district).
    pub county: u64,
    /// To a city.
    pub city: u64,
}

/// Resolved disputes by the level of their owner when they were resolved:
/// "小事不出村、大事不出乡".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvedAt {
    /// Owned by a grid or a village.
    pub village: u64,
    /// Owned by a township.
    pub township: u64,
    /// Owned by a county or a city.
    pub county_or_above: u64,
}

/// The dispute figures of one line and category for a month. "Registered"
/// is the dispute's creation time; a dispute's state at a moment is read
/// from its applied steps dated before it (see [`super`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisputeFigures {
    /// 上月结转: registered before the month and not closed at its start.
    pub carried_over: u64,
    /// 本月排查: registered in the month.
    pub found: u64,
    /// 受理: disputes with an accept step in the month.
    pub accepted: u64,
    /// 调解: disputes with a mediate step in the month.
    pub mediated: u64,
    /// 调解场次: mediation sessions recorded in the month (entries, not
    /// disputes), on disputes carried over or found.
    pub mediation_sessions: u64,
    /// 转办部门: disputes transferred to a department in the month.
    pub transferred: u64,
    /// 销号: disputes carried over or found that are closed at the month's end.
    pub closed: u64,
    /// 上报: disputes escalated in the month.
    pub escalated: u64,
    /// The level each escalated dispute's last escalation of the month went to.
    pub escalated_to: EscalatedTo,
    /// 应化解, the resolution rate's denominator: disputes registered in the
    /// month, plus those registered before it that were not resolved
    /// (resolved, followed up or closed) at its start.
    pub pending: u64,
    /// 已化解, the numerator: the disputes of the denominator that are
    /// resolved at the month's end.
    pub resolved: u64,
    /// Where the resolved ones were resolved (sums to `resolved`).
    pub resolved_at: ResolvedAt,
    /// 月末未销号: carried over or found, and not closed at the month's end
    /// (so `carried_over + found = closed + open_at_end`); these are carried
    /// into the next month.
    pub open_at_end: u64,
    /// 月末未化解: registered before the month's end and not resolved at it
    /// (`pending - resolved`).
    pub unresolved_at_end: u64,
}

impl DisputeFigures {
    /// 化解率: `resolved` out of `pending`.
    pub fn resolution_rate(&self) -> Ratio {
        Ratio::new(self.resolved, self.pending)
    }

    /// Adds another line's or category's figures.
    pub fn add(&mut self, o: &DisputeFigures) {
        self.carried_over += o.carried_over;
        self.found += o.found;
        self.accepted += o.accepted;
        self.mediated += o.mediated;
        self.mediation_sessions += o.mediation_sessions;
        self.transferred += o.transferred;
        self.closed += o.closed;
        self.escalated += o.escalated;
        self.escalated_to.village += o.escalated_to.village;
        self.escalated_to.township += o.escalated_to.township;
        self.escalated_to.county += o.escalated_to.county;
        self.escalated_to.city += o.escalated_to.city;
        self.pending += o.pending;
        self.resolved += o.resolved;
        self.resolved_at.village += o.resolved_at.village;
        self.resolved_at.township += o.resolved_at.township;
        self.resolved_at.county_or_above += o.resolved_at.county_or_above;
        self.open_at_end += o.open_at_end;
        self.unresolved_at_end += o.unresolved_at_end;
    }

    /// Counts one dispute's month.
    pub(crate) fn count(&mut self, f: &InPeriod<'_>, dir: &Directory) {
        let one = |b: bool| u64::from(b);
        self.carried_over += one(f.carried);
        self.found += one(f.found);
        self.accepted += one(f.accepted);
        self.mediated += one(f.mediated);
        self.mediation_sessions += f.sessions;
        self.transferred += one(!f.transfers.is_empty());
        self.closed += one(f.closed);
        self.escalated += one(f.escalated);
        match f.escalated_to.and_then(|to| dir.level(to)) {
            Some(Level::Village) => self.escalated_to.village += 1,
            Some(Level::Township) => self.escalated_to.township += 1,
            Some(Level::County) => self.escalated_to.county += 1,
            Some(Level::City) => self.escalated_to.city += 1,
            Some(Level::Grid) | None => {}
        }
        self.pending += one(f.pending);
        self.resolved += one(f.resolved);
        match f.resolved_by.and_then(|owner| dir.level(owner)) {
            Some(Level::Grid | Level::Village) => self.resolved_at.village += 1,
            Some(Level::Township) => self.resolved_at.township += 1,
            Some(Level::County | Level::City) => self.resolved_at.county_or_above += 1,
            None => {}
        }
        self.open_at_end += one(f.open_at_end);
        self.unresolved_at_end += one(f.unresolved_at_end);
    }
}

/// The work figures of one line for a month, from the daily completeness
/// figures given to the ledger and the patrol and visit records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkFigures {
    /// 在岗人日: one per active grid worker per day given, as the daily
    /// completeness figures list them (also the number of reports due).
    pub worker_days: u64,
    /// 巡查: patrol records whose `started_ms` lies in the month, by their grid.
    pub patrols: u64,
    /// 走访: visit records whose `visited_ms` lies in the month, by their grid.
    pub visits: u64,
    /// Daily reports filed on time.
    pub reports_on_time: u64,
    /// Daily reports filed late.
    pub reports_late: u64,
    /// Daily reports not filed.
    pub reports_missing: u64,
}

impl WorkFigures {
    /// 应巡查: two patrols per worker-day.
    pub fn expected_patrols(&self) -> u64 {
        self.worker_days * PATROLS_PER_DAY
    }

    /// 应走访: five visits per worker-day.
    pub fn expected_visits(&self) -> u64 {
        self.worker_days * VISITS_PER_DAY
    }

    /// 巡查完成率: patrols out of the expected ones (may pass 100%).
    pub fn patrol_rate(&self) -> Ratio {
        Ratio::new(self.patrols, self.expected_patrols())
    }

    /// 走访完成率: visits out of the expected ones (may pass 100%).
    pub fn visit_rate(&self) -> Ratio {
        Ratio::new(self.visits, self.expected_visits())
    }

    /// 已报: reports filed, on time or late.
    pub fn reports_filed(&self) -> u64 {
        self.reports_on_time + self.reports_late
    }

    /// 报送率: reports filed out of those due.
    pub fn report_rate(&self) -> Ratio {
        Ratio::new(self.reports_filed(), self.worker_days)
    }

    /// 按时率: reports filed on time out of those due (a missing report is
    /// not on time).
    pub fn on_time_rate(&self) -> Ratio {
        Ratio::new(self.reports_on_time, self.worker_days)
    }

    /// Adds another line's figures.
    pub fn add(&mut self, o: &WorkFigures) {
        self.worker_days += o.worker_days;
        self.patrols += o.patrols;
        self.visits += o.visits;
        self.reports_on_time += o.reports_on_time;
        self.reports_late += o.reports_late;
        self.reports_missing += o.reports_missing;
    }
}

/// One line of the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableLine {
    /// The place's code.
    pub code: String,
    /// Its name (the own line: the place's name and 本级).
    pub name: String,
    /// A child place or the place itself.
    pub kind: LineKind,
    /// The dispute figures of each category present, by category.
    pub categories: BTreeMap<String, DisputeFigures>,
    /// The work figures.
    pub work: WorkFigures,
}

impl TableLine {
    /// The dispute figures over every category.
    pub fn disputes(&self) -> DisputeFigures {
        let mut out = DisputeFigures::default();
        for f in self.categories.values() {
            out.add(f);
        }
        out
    }
}

/// The monthly statistics table of a place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonthTable {
    /// The place's code.
    pub place: String,
    /// Its name.
    pub place_name: String,
    /// The month.
    pub month: Month,
    /// The deployment's time zone, minutes east of UTC.
    pub utc_offset_minutes: i32,
    /// Where the figures come from.
    pub as_of: AsOf,
    /// Whether the reader sees the parties' names (for the register).
    pub names_shown: bool,
    /// Who locked the month and when, for a locked month ([`super::lock`]).
    pub locked: Option<LockStamp>,
    /// The lines: child places by code, then the place's own line.
    pub lines: Vec<TableLine>,
}

impl MonthTable {
    /// The line of `code`.
    pub fn line(&self, code: &str) -> Option<&TableLine> {
        self.lines.iter().find(|l| l.code == code)
    }

    /// Each category's figures over every line.
    pub fn total_by_category(&self) -> BTreeMap<String, DisputeFigures> {
        let mut out: BTreeMap<String, DisputeFigures> = BTreeMap::new();
        for line in &self.lines {
            for (category, f) in &line.categories {
                out.entry(category.clone()).or_default().add(f);
            }
        }
        out
    }

    /// The dispute figures over every line and category.
    pub fn total_disputes(&self) -> DisputeFigures {
        let mut out = DisputeFigures::default();
        for line in &self.lines {
            out.add(&line.disputes());
        }
        out
    }

    /// The work figures over every line.
    pub fn total_work(&self) -> WorkFigures {
        let mut out = WorkFigures::default();
        for line in &self.lines {
            out.add(&line.work);
        }
        out
    }

    /// The table as a sheet: for each line, a row per category and its
    /// subtotal (小计, with the work figures); then a total row per category
    /// and the grand total (合计).
    pub fn sheet(&self) -> Sheet<'_> {
        let (columns, header, header_rows) = header(table_columns());
        let mut rows = Vec::new();
        for line in &self.lines {
            for (category, f) in &line.categories {
                rows.push(table_row(RowStyle::Body, &line.name, &line.code, category, f, None));
            }
            rows.push(table_row(
                RowStyle::Subtotal,
                &line.name,
                &line.code,
                "小计",
                &line.disputes(),
                Some(&line.work),
            ));
        }
        for (category, f) in self.total_by_category() {
            rows.push(table_row(RowStyle::Total, "合计", &self.place, &category, &f, None));
        }
        let (disputes, work) = (self.total_disputes(), self.total_work());
        rows.push(table_row(RowStyle::Total, "合计", &self.place, "全部", &disputes, Some(&work)));
        Sheet {
            name: "清单化管理统计表".to_owned(),
            title: vec![
                format!("{}矛盾纠纷清单化管理统计表", self.place_name),
                period_line(self.month, &self.place),
            ],
            columns,
            header,
            header_rows,
            frozen_columns: 3,
            rows: Box::new(rows.into_iter()),
            footer: [as_of_line(self.as_of, self.utc_offset_minutes)]
                .into_iter()
                .chain(self.locked.as_ref().map(|l| l.line(self.utc_offset_minutes)))
                .chain([
                "本月排查：本月登记的纠纷；上月结转：本月前登记、月初未销号的纠纷；应化解 = 本月排查 + 月初未化解的结转纠纷；化解率 = 已化解 ÷ 应化解。".to_owned(),
                "各阶段按办理步骤的时间（设备混合逻辑时钟）计；化解层级按化解时的责任单位计，网格计入村级。".to_owned(),
                format!(
                    "一日两巡五访：每名在岗网格员每日巡查 {PATROLS_PER_DAY} 次、走访 {VISITS_PER_DAY} 户；按时率 = 按时报送 ÷ 应报。"
                ),
            ])
            .collect(),
        }
    }
}

fn int(key: &str, text: &str) -> Column {
    Column::new(key, text, 8, Kind::Integer)
}

fn rate(key: &str, text: &str) -> Column {
    Column::new(key, text, 10, Kind::Ratio)
}

fn table_columns() -> Vec<HeaderNode> {
    let group = |text: &str, cols: Vec<Column>| HeaderNode::Group(text.to_owned(), cols);
    vec![
        HeaderNode::Column(Column::new("place_name", "单位", 24, Kind::Text)),
        HeaderNode::Column(Column::new("place_code", "代码", 16, Kind::Text)),
        HeaderNode::Column(Column::new("category", "纠纷类别", 16, Kind::Text)),
        group("纠纷排查", vec![int("carried_over", "上月结转"), int("found", "本月排查")]),
        group(
            "调处",
            vec![
                int("accepted", "受理"),
                int("mediated", "调解"),
                int("mediation_sessions", "调解场次"),
                int("transferred", "转办部门"),
                int("closed", "销号"),
            ],
        ),
        group(
            "上报",
            vec![
                int("escalated", "上报件数"),
                int("escalated_village", "至村"),
                int("escalated_township", "至乡镇"),
                int("escalated_county", "至县区"),
                int("escalated_city", "至市"),
            ],
        ),
        group(
            "化解",
            vec![
                int("pending", "应化解"),
                int("resolved", "已化解"),
                rate("resolution_rate", "化解率"),
                int("resolved_village", "村级化解"),
                int("resolved_township", "乡镇化解"),
                int("resolved_county", "县级及以上"),
            ],
        ),
        group("月末", vec![int("open_at_end", "未销号"), int("unresolved_at_end", "未化解")]),
        group(
            "一日两巡五访",
            vec![
                int("worker_days", "在岗人日"),
                int("patrols", "巡查"),
                int("patrols_expected", "应巡查"),
                rate("patrol_rate", "巡查完成率"),
                int("visits", "走访"),
                int("visits_expected", "应走访"),
                rate("visit_rate", "走访完成率"),
            ],
        ),
        group(
            "日报",
            vec![
                int("reports_due", "应报"),
                int("reports_filed", "已报"),
                int("reports_on_time", "按时"),
                int("reports_late", "迟报"),
                int("reports_missing", "漏报"),
                rate("report_rate", "报送率"),
                rate("on_time_rate", "按时率"),
            ],
        ),
    ]
}

fn table_row(
    style: RowStyle,
    name: &str,
    code: &str,
    category: &str,
    f: &DisputeFigures,
    work: Option<&WorkFigures>,
) -> Row {
    let mut cells = vec![
        Cell::text(name),
        Cell::text(code),
        Cell::text(category),
        Cell::count(f.carried_over),
        Cell::count(f.found),
        Cell::count(f.accepted),
        Cell::count(f.mediated),
        Cell::count(f.mediation_sessions),
        Cell::count(f.transferred),
        Cell::count(f.closed),
        Cell::count(f.escalated),
        Cell::count(f.escalated_to.village),
        Cell::count(f.escalated_to.township),
        Cell::count(f.escalated_to.county),
        Cell::count(f.escalated_to.city),
        Cell::count(f.pending),
        Cell::count(f.resolved),
        Cell::Ratio(f.resolution_rate()),
        Cell::count(f.resolved_at.village),
        Cell::count(f.resolved_at.township),
        Cell::count(f.resolved_at.county_or_above),
        Cell::count(f.open_at_end),
        Cell::count(f.unresolved_at_end),
    ];
    match work {
        Some(w) => cells.extend([
            Cell::count(w.worker_days),
            Cell::count(w.patrols),
            Cell::count(w.expected_patrols()),
            Cell::Ratio(w.patrol_rate()),
            Cell::count(w.visits),
            Cell::count(w.expected_visits()),
            Cell::Ratio(w.visit_rate()),
            Cell::count(w.worker_days),
            Cell::count(w.reports_filed()),
            Cell::count(w.reports_on_time),
            Cell::count(w.reports_late),
            Cell::count(w.reports_missing),
            Cell::Ratio(w.report_rate()),
            Cell::Ratio(w.on_time_rate()),
        ]),
        None => cells.extend(std::iter::repeat_n(Cell::Empty, 14)),
    }
    Row { style, cells }
}
