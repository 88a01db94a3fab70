//! Corrections to a locked month: what the ledgers computed now say
//! differently from the locked ones, and why, shown beside the locked
//! figures and never merged into them.
//!
//! Three lists, each a sheet of [`Corrections::book`]:
//!
//! * [`FigureCorrection`]s: each count of the statistics table whose value
//!   now differs from the locked one (locked, now, difference). Shares
//!   (化解率…) are not listed: they follow their counts.
//! * [`DisputeCorrection`]s: each register row added, removed or changed,
//!   with the changed columns' locked and current values.
//! * [`LateRecord`]s: each record counted in the month that changed after
//!   the lock's log position, with its changes' authors and times and the
//!   [`Reason`]: recorded on a handset before the lock and received after
//!   it (迟到同步), or recorded after the lock (锁定后修改). A corrected
//!   dispute without such a record changed through the directory (a place
//!   renamed or moved) or the staff list.

use std::collections::{BTreeMap, HashMap, HashSet};

use gridsync_proto::{Date, Directory, RecordId, RecordKind, RecordState, Value};
use serde::Serialize;

use super::lines::Lines;
use super::lock::LockStamp;
use super::period::{Month, Period};
use super::sheet::{Book, Cell, Column, DateTime, HeaderNode, Kind, Row, RowStyle, Sheet, header};
use super::{AsOf, LedgerError, MonthTable, RegisterRow, as_of_line, period_line, register};

/// Why a locked month's figures are corrected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// 迟到同步: recorded on a handset before the month was locked, received
    /// by the server after (the handset was offline).
    LateSync,
    /// 锁定后修改: recorded after the month was locked.
    EditedAfterLock,
    /// 目录或人员变更: no record changed; a place or unit was renamed or
    /// moved, or a worker assigned elsewhere, since the lock.
    DirectoryChanged,
}

impl Reason {
    /// Its Chinese label.
    pub fn label(self) -> &'static str {
        match self {
            Reason::LateSync => "迟到同步（锁定前在手机上记录，锁定后到达）",
            Reason::EditedAfterLock => "锁定后修改",
            Reason::DirectoryChanged => "目录或人员变更",
        }
    }
}

/// One change of a record after the lock, as the log holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LateChange {
    /// When it was made, by the handset's hybrid clock (Unix ms).
    pub recorded_ms: i64,
    /// When the server received it (Unix ms).
    pub received_ms: i64,
    /// Who made it (the user name the handset knew).
    pub author: String,
}

/// A record counted in the month that changed after the lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LateRecord {
    /// The record.
    pub id: RecordId,
    /// Its kind.
    pub kind: RecordKind,
    /// The table line it counts in (a child place's code, or the place's own).
    pub line: String,
    /// That line's name.
    pub line_name: String,
    /// How many of its changes arrived after the lock.
    pub changes: u64,
    /// The earliest of them, by the handset's clock (Unix ms).
    pub first_recorded_ms: i64,
    /// When the last of them arrived (Unix ms).
    pub last_received_ms: i64,
    /// Who made them, each once, in order.
    pub authors: Vec<String>,
    /// Why: late sync when any of them was recorded before the lock.
    pub reason: Reason,
}

/// A count of the statistics table that now differs from the locked one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FigureCorrection {
    /// The line's place code.
    pub line: String,
    /// The line's name.
    pub line_name: String,
    /// The category (小计 for a line's subtotal, 全部 for the grand total).
    pub category: String,
    /// The column's key (`found`, `resolved`…).
    pub column: String,
    /// Its header, with its group (`化解/已化解`).
    pub header: String,
    /// The locked value.
    pub locked: i64,
    /// The value now.
    pub now: i64,
}

/// How a register row differs from the locked one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RowChange {
    /// On the ledger now, not on the locked one (新增).
    Added,
    /// On the locked ledger, not on it now (移出).
    Removed,
    /// On both, with columns changed (变更).
    Changed,
}

impl RowChange {
    fn label(self) -> &'static str {
        match self {
            RowChange::Added => "新增",
            RowChange::Removed => "移出",
            RowChange::Changed => "变更",
        }
    }
}

/// One column of a changed register row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    /// The column's key.
    pub column: String,
    /// Its header, with its group.
    pub header: String,
    /// The locked value, as text.
    pub locked: String,
    /// The value now, as text.
    pub now: String,
}

/// A register row that differs from the locked one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DisputeCorrection {
    /// The dispute.
    pub id: RecordId,
    /// The table line's name.
    pub line_name: String,
    /// Added, removed or changed.
    pub change: RowChange,
    /// The columns that differ (every column for an added or removed row).
    pub fields: Vec<FieldChange>,
    /// Why: its late record's reason, or a directory change.
    pub reason: Reason,
}

/// A locked month's corrections.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Corrections {
    /// The place's code.
    pub place: String,
    /// Its name.
    pub place_name: String,
    /// The month.
    pub month: Month,
    /// The deployment's time zone, minutes east of UTC.
    pub utc_offset_minutes: i32,
    /// Where the locked figures come from.
    pub locked_as_of: AsOf,
    /// Who locked them, and when.
    pub stamp: LockStamp,
    /// Where the current figures come from.
    pub now: AsOf,
    /// The table's counts that differ.
    pub figures: Vec<FigureCorrection>,
    /// The register rows that differ.
    pub disputes: Vec<DisputeCorrection>,
    /// The records that changed after the lock.
    pub late: Vec<LateRecord>,
}

impl Corrections {
    /// Compares the locked ledgers with the ones computed now (both as the
    /// same reader reads them); `late` are the month's records changed
    /// since the lock ([`LateRecords`]), of which the disputes whose row
    /// did not change are left out.
    pub fn compare(
        locked: (&MonthTable, &[RegisterRow]),
        now: (&MonthTable, &[RegisterRow]),
        mut late: Vec<LateRecord>,
    ) -> Self {
        let (locked_table, locked_rows) = locked;
        let (now_table, now_rows) = now;
        let stamp = locked_table.locked.clone().unwrap_or(LockStamp {
            locked_ms: locked_table.as_of.time_ms,
            locked_by: String::new(),
            root: locked_table.place.clone(),
        });
        let reasons: HashMap<RecordId, Reason> = late.iter().map(|r| (r.id, r.reason)).collect();
        let disputes = row_changes(locked_table, locked_rows, now_table, now_rows, &reasons);
        let corrected: HashSet<RecordId> = disputes.iter().map(|d| d.id).collect();
        late.retain(|r| r.kind != RecordKind::Dispute || corrected.contains(&r.id));
        Self {
            place: locked_table.place.clone(),
            place_name: locked_table.place_name.clone(),
            month: locked_table.month,
            utc_offset_minutes: locked_table.utc_offset_minutes,
            locked_as_of: locked_table.as_of,
            stamp,
            now: now_table.as_of,
            figures: figure_changes(locked_table, now_table),
            disputes,
            late,
        }
    }

    /// Whether nothing differs.
    pub fn is_empty(&self) -> bool {
        self.figures.is_empty() && self.disputes.is_empty() && self.late.is_empty()
    }

    /// The corrections as a workbook: the table's counts, the register's
    /// rows, the late records.
    pub fn book(&self) -> Book<'_> {
        Book {
            title: format!("{}{}矛盾纠纷一表一帐更正", self.place_name, self.month.label()),
            as_of_ms: self.now.time_ms,
            sheets: vec![self.figures_sheet(), self.disputes_sheet(), self.late_sheet()],
        }
    }

    fn footer(&self) -> Vec<String> {
        vec![
            format!("锁定数：{}", as_of_line(self.locked_as_of, self.utc_offset_minutes)),
            format!("现数：{}", as_of_line(self.now, self.utc_offset_minutes)),
            self.stamp.line(self.utc_offset_minutes),
        ]
    }

    fn sheet<'a>(&self, name: &str, nodes: Vec<HeaderNode>, rows: Vec<Row>, extra: &[&str]) -> Sheet<'a> {
        let (columns, header, header_rows) = header(nodes);
        let mut footer = self.footer();
        footer.extend(extra.iter().map(|s| (*s).to_owned()));
        Sheet {
            name: name.to_owned(),
            title: vec![format!("{}{}", self.place_name, name), period_line(self.month, &self.place)],
            columns,
            header,
            header_rows,
            frozen_columns: 1,
            rows: Box::new(rows.into_iter()),
            footer,
        }
    }

    fn figures_sheet<'a>(&self) -> Sheet<'a> {
        let rows = self
            .figures
            .iter()
            .map(|f| Row {
                style: RowStyle::Body,
                cells: vec![
                    Cell::text(f.line_name.as_str()),
                    Cell::text(f.line.as_str()),
                    Cell::text(f.category.as_str()),
                    Cell::text(f.header.as_str()),
                    Cell::Int(f.locked),
                    Cell::Int(f.now),
                    Cell::Int(f.now.saturating_sub(f.locked)),
                ],
            })
            .collect();
        let nodes = vec![
            col("line_name", "单位", 24, Kind::Text),
            col("line", "代码", 16, Kind::Text),
            col("category", "纠纷类别", 14, Kind::Text),
            col("figure", "项目", 24, Kind::Text),
            col("locked", "锁定数", 10, Kind::Integer),
            col("now", "现数", 10, Kind::Integer),
            col("difference", "差额", 10, Kind::Integer),
        ];
        self.sheet("统计表更正", nodes, rows, &["比率（化解率、完成率、报送率）随其分子、分母更正，不另列。"])
    }

    fn disputes_sheet<'a>(&self) -> Sheet<'a> {
        let mut rows = Vec::new();
        for d in &self.disputes {
            for f in &d.fields {
                rows.push(Row {
                    style: RowStyle::Body,
                    cells: vec![
                        Cell::text(d.id.to_string()),
                        Cell::text(d.line_name.as_str()),
                        Cell::text(d.change.label()),
                        Cell::text(f.header.as_str()),
                        Cell::text(f.locked.as_str()),
                        Cell::text(f.now.as_str()),
                        Cell::text(d.reason.label()),
                    ],
                });
            }
        }
        let nodes = vec![
            col("id", "编号", 38, Kind::Text),
            col("line_name", "所属单位", 20, Kind::Text),
            col("change", "变化", 8, Kind::Text),
            col("field", "项目", 16, Kind::Text),
            col("locked", "锁定值", 30, Kind::Text),
            col("now", "现值", 30, Kind::Text),
            col("reason", "原因", 30, Kind::Text),
        ];
        self.sheet("台帐更正", nodes, rows, &[])
    }

    fn late_sheet<'a>(&self) -> Sheet<'a> {
        let offset = self.utc_offset_minutes;
        let rows = self
            .late
            .iter()
            .map(|r| Row {
                style: RowStyle::Body,
                cells: vec![
                    Cell::text(r.id.to_string()),
                    Cell::text(kind_label(r.kind)),
                    Cell::text(r.line_name.as_str()),
                    Cell::count(r.changes),
                    Cell::DateTime(DateTime::new(r.first_recorded_ms, offset)),
                    Cell::DateTime(DateTime::new(r.last_received_ms, offset)),
                    Cell::text(r.authors.join("、")),
                    Cell::text(r.reason.label()),
                ],
            })
            .collect();
        let nodes = vec![
            col("id", "编号", 38, Kind::Text),
            col("kind", "类型", 8, Kind::Text),
            col("line_name", "所属单位", 20, Kind::Text),
            col("changes", "锁定后修改次数", 10, Kind::Integer),
            col("first_recorded", "手机记录时间", 17, Kind::DateTime),
            col("last_received", "到达服务器时间", 17, Kind::DateTime),
            col("authors", "记录人", 20, Kind::Text),
            col("reason", "原因", 30, Kind::Text),
        ];
        self.sheet("锁定后到达的记录", nodes, rows, &[])
    }
}

fn col(key: &str, text: &str, width: u16, kind: Kind) -> HeaderNode {
    HeaderNode::Column(Column::new(key, text, width, kind))
}

fn kind_label(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::Dispute => "矛盾纠纷",
        RecordKind::Patrol => "巡查",
        RecordKind::Visit => "走访",
        RecordKind::DailyReport => "日报",
        _ => "其他",
    }
}

/// The counts of two tables that differ, in the table's order.
fn figure_changes(locked: &MonthTable, now: &MonthTable) -> Vec<FigureCorrection> {
    let locked_sheet = locked.sheet();
    let headers = locked_sheet.flat_headers();
    let columns = locked_sheet.columns.clone();
    let key = |row: &Row| (row.style, text_of(&row.cells[1]), text_of(&row.cells[2]));
    let locked_rows: Vec<Row> = locked_sheet.rows.collect();
    let now_rows: Vec<Row> = now.sheet().rows.collect();
    let now_by_key: HashMap<_, &Row> = now_rows.iter().map(|r| (key(r), r)).collect();
    let locked_keys: HashSet<_> = locked_rows.iter().map(key).collect();
    let mut out = Vec::new();
    let mut push = |row: &Row, other: Option<&Row>, locked_side: bool| {
        for (c, column) in columns.iter().enumerate().skip(3) {
            if column.kind != Kind::Integer {
                continue;
            }
            let value = |r: Option<&Row>| match r.and_then(|r| r.cells.get(c)) {
                Some(Cell::Int(n)) => *n,
                _ => 0,
            };
            let (l, n) =
                if locked_side { (value(Some(row)), value(other)) } else { (value(other), value(Some(row))) };
            if l != n {
                out.push(FigureCorrection {
                    line: text_of(&row.cells[1]),
                    line_name: text_of(&row.cells[0]),
                    category: text_of(&row.cells[2]),
                    column: column.key.clone(),
                    header: headers[c].clone(),
                    locked: l,
                    now: n,
                });
            }
        }
    };
    for row in &locked_rows {
        push(row, now_by_key.get(&key(row)).copied(), true);
    }
    // Lines or categories that only exist now (a new category's first dispute).
    for row in now_rows.iter().filter(|r| !locked_keys.contains(&key(r))) {
        push(row, None, false);
    }
    out
}

/// The register rows that differ, by dispute id.
fn row_changes(
    locked_table: &MonthTable,
    locked: &[RegisterRow],
    now_table: &MonthTable,
    now: &[RegisterRow],
    reasons: &HashMap<RecordId, Reason>,
) -> Vec<DisputeCorrection> {
    let locked_sheet = register::sheet(&locked_table.register_head(), locked.iter().cloned());
    let headers = locked_sheet.flat_headers();
    let columns = locked_sheet.columns.clone();
    // Row cells without the row number (column 0), which shifts with the rows before it.
    let cells = |table: &MonthTable, rows: &[RegisterRow]| -> BTreeMap<RecordId, (String, Vec<Cell>)> {
        let sheet = register::sheet(&table.register_head(), rows.iter().cloned());
        rows.iter()
            .zip(sheet.rows)
            .map(|(r, row)| (r.id, (r.line_name.clone(), row.cells.into_iter().skip(1).collect())))
            .collect()
    };
    let (before, after) = (cells(locked_table, locked), cells(now_table, now));
    let mut out = Vec::new();
    let mut ids: Vec<RecordId> = before.keys().chain(after.keys()).copied().collect();
    ids.sort_unstable();
    ids.dedup();
    for id in ids {
        let (change, line_name, old, new) = match (before.get(&id), after.get(&id)) {
            (Some((_, old)), Some((_, new))) if old == new => continue,
            (Some((line, old)), Some((_, new))) => (RowChange::Changed, line, Some(old), Some(new)),
            (Some((line, old)), None) => (RowChange::Removed, line, Some(old), None),
            (None, Some((line, new))) => (RowChange::Added, line, None, Some(new)),
            (None, None) => continue,
        };
        let at = |side: Option<&Vec<Cell>>, c: usize| side.and_then(|s| s.get(c)).map(Cell::plain_text);
        let fields = (1..columns.len())
            .filter_map(|c| {
                let (l, n) = (at(old, c - 1), at(new, c - 1));
                (l != n).then(|| FieldChange {
                    column: columns[c].key.clone(),
                    header: headers[c].clone(),
                    locked: l.unwrap_or_default(),
                    now: n.unwrap_or_default(),
                })
            })
            .collect();
        out.push(DisputeCorrection {
            id,
            line_name: line_name.clone(),
            change,
            fields,
            reason: reasons.get(&id).copied().unwrap_or(Reason::DirectoryChanged),
        });
    }
    out
}

fn text_of(cell: &Cell) -> String {
    cell.plain_text()
}

/// Picks, among the records changed after a lock, those counted in the
/// locked month of a place, and says why each changed.
#[derive(Debug)]
pub struct LateRecords {
    lines: Lines,
    period: Period,
    offset: i32,
    locked_ms: i64,
    disputes: HashSet<RecordId>,
    out: Vec<LateRecord>,
}

impl LateRecords {
    /// For `place`'s `month` locked at `locked_ms`; `disputes` are the
    /// disputes on its locked or current register.
    pub fn new(
        dir: &Directory,
        place: &str,
        month: Month,
        utc_offset_minutes: i32,
        locked_ms: i64,
        disputes: impl IntoIterator<Item = RecordId>,
    ) -> Result<Self, LedgerError> {
        let lines = Lines::new(dir, place).ok_or_else(|| LedgerError::UnknownPlace(place.to_owned()))?;
        Ok(Self {
            lines,
            period: month.period(utc_offset_minutes),
            offset: utc_offset_minutes,
            locked_ms,
            disputes: disputes.into_iter().collect(),
            out: Vec::new(),
        })
    }

    /// The table line a record changed after the lock counts in, if it
    /// counts in the month at all: a dispute on either register, a patrol,
    /// visit or daily report of the month within the place.
    pub fn line_of(&self, record: &RecordState) -> Option<usize> {
        let text = |field: &str| match record.value(field) {
            Some(Value::Text(t)) => Some(t.as_str()),
            _ => None,
        };
        let int = |field: &str| match record.value(field) {
            Some(Value::Int(n)) => Some(*n),
            _ => None,
        };
        let (place, at) = match record.kind() {
            RecordKind::Dispute if self.disputes.contains(&record.id()) => {
                (super::dispute::registered_at(record)?, None)
            }
            RecordKind::Patrol => (text("grid")?, int("started_ms")),
            RecordKind::Visit => (text("grid")?, int("visited_ms")),
            RecordKind::DailyReport => {
                let date: Date = text("date")?.parse().ok()?;
                (text("grid")?, Some(date.start_ms(self.offset)))
            }
            _ => return None,
        };
        if at.is_some_and(|t| !self.period.contains(t)) {
            return None;
        }
        self.lines.line_of(place)
    }

    /// Adds a record of line `line` with its changes after the lock;
    /// `existed` says whether it had changes before. A patrol, visit or
    /// daily report that existed counts the same as at the lock and is
    /// passed over, as is an empty list of changes. (A dispute is kept
    /// only if its register row changed: [`Corrections::compare`].)
    pub fn add(&mut self, record: &RecordState, line: usize, changes: &[LateChange], existed: bool) {
        if existed && record.kind() != RecordKind::Dispute {
            return;
        }
        let (Some(first), Some(last)) =
            (changes.iter().map(|c| c.recorded_ms).min(), changes.iter().map(|c| c.received_ms).max())
        else {
            return;
        };
        let mut authors: Vec<String> = Vec::new();
        for c in changes {
            if !authors.contains(&c.author) {
                authors.push(c.author.clone());
            }
        }
        let head = &self.lines.heads[line];
        self.out.push(LateRecord {
            id: record.id(),
            kind: record.kind(),
            line: head.code.clone(),
            line_name: head.name.clone(),
            changes: u64::try_from(changes.len()).unwrap_or(u64::MAX),
            first_recorded_ms: first,
            last_received_ms: last,
            authors,
            reason: if first < self.locked_ms { Reason::LateSync } else { Reason::EditedAfterLock },
        });
    }

    /// The late records, by line, kind and id.
    pub fn finish(self) -> Vec<LateRecord> {
        let position: HashMap<&str, usize> =
            self.lines.heads.iter().enumerate().map(|(i, h)| (h.code.as_str(), i)).collect();
        let mut out = self.out;
        out.sort_by_key(|r| (position.get(r.line.as_str()).copied(), r.kind.code(), r.id));
        out
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use gridsync_proto::Stage;

    use super::*;
    use crate::ledger::register::StageDates;
    use crate::ledger::table::{DisputeFigures, TableLine, WorkFigures};
    use crate::ledger::{LineKind, Month};

    const T: i64 = 1_795_000_000_000;

    fn table(position: u64, categories: &[(&str, u64, u64)], patrols: u64) -> MonthTable {
        let categories: BTreeMap<String, DisputeFigures> = categories
            .iter()
            .map(|&(c, found, resolved)| {
                (
                    c.to_owned(),
                    DisputeFigures { found, pending: found, resolved, ..DisputeFigures::default() },
                )
            })
            .collect();
        MonthTable {
            place: "620802100".into(),
            place_name: "城关镇".into(),
            month: Month::new(2026, 11).expect("a month"),
            utc_offset_minutes: 480,
            as_of: AsOf { log_position: position, time_ms: T + position as i64 },
            names_shown: true,
            locked: (position == 10).then(|| LockStamp {
                locked_ms: T + 100,
                locked_by: "wang".into(),
                root: "620802".into(),
            }),
            lines: vec![TableLine {
                code: "620802100201".into(),
                name: "东关村".into(),
                kind: LineKind::Child,
                categories,
                work: WorkFigures { patrols, ..WorkFigures::default() },
            }],
        }
    }

    fn row(n: u8, stage: Stage, resolved: Option<i64>) -> RegisterRow {
        RegisterRow {
            id: RecordId::from_bytes([n; 16]),
            line: "620802100201".into(),
            line_name: "东关村".into(),
            line_position: 0,
            registered_at: "620802100201-01".into(),
            registered_at_name: "东关村第一网格".into(),
            registered_ms: T,
            category: "邻里纠纷".into(),
            source: None,
            parties: "张三（申请人）".into(),
            summary: None,
            risk: None,
            stages: StageDates { resolved, ..StageDates::default() },
            owner: "620802100201".into(),
            owner_name: "东关村".into(),
            handler: None,
            handler_name: None,
            cooperating: Vec::new(),
            stage,
            mediation_sessions: 0,
            attachments: 0,
            steps: Vec::new(),
            carried_over: false,
            carried_forward: true,
        }
    }

    fn late(n: u8, reason: Reason) -> LateRecord {
        LateRecord {
            id: RecordId::from_bytes([n; 16]),
            kind: RecordKind::Dispute,
            line: "620802100201".into(),
            line_name: "东关村".into(),
            changes: 1,
            first_recorded_ms: T,
            last_received_ms: T + 200,
            authors: vec!["li".into()],
            reason,
        }
    }

    #[test]
    fn counts_rows_and_reasons_are_compared_one_by_one() {
        let locked = table(10, &[("邻里纠纷", 2, 0)], 5);
        let locked_rows = vec![row(1, Stage::Mediating, None), row(2, Stage::Found, None)];
        let now = table(20, &[("邻里纠纷", 2, 1), ("婚恋家庭", 1, 0)], 6);
        let now_rows = vec![row(1, Stage::Resolved, Some(T + 50)), row(3, Stage::Found, None)];
        // Dispute 4 changed after the lock without changing its row.
        let late = vec![
            late(1, Reason::LateSync),
            late(3, Reason::EditedAfterLock),
            late(4, Reason::EditedAfterLock),
        ];
        let c = Corrections::compare((&locked, &locked_rows), (&now, &now_rows), late);

        let figure = |category: &str, column: &str| {
            c.figures
                .iter()
                .find(|f| f.line == "620802100201" && f.category == category && f.column == column)
                .map(|f| (f.locked, f.now))
        };
        assert_eq!(figure("邻里纠纷", "resolved"), Some((0, 1)));
        assert_eq!(figure("邻里纠纷", "found"), None, "an unchanged count is not listed");
        assert_eq!(figure("婚恋家庭", "found"), Some((0, 1)), "a category that only exists now");
        assert_eq!(figure("小计", "patrols"), Some((5, 6)));
        assert!(c.figures.iter().all(|f| f.column != "resolution_rate"), "shares follow their counts");

        let changes: Vec<(u8, RowChange, Reason)> =
            c.disputes.iter().map(|d| (d.id.as_bytes()[0], d.change, d.reason)).collect();
        assert_eq!(
            changes,
            [
                (1, RowChange::Changed, Reason::LateSync),
                (2, RowChange::Removed, Reason::DirectoryChanged),
                (3, RowChange::Added, Reason::EditedAfterLock),
            ]
        );
        let fields: Vec<&str> = c.disputes[0].fields.iter().map(|f| f.column.as_str()).collect();
        assert_eq!(fields, ["resolved", "stage"]);
        assert_eq!(c.disputes[0].fields[1].locked, "调解中");
        let late: Vec<u8> = c.late.iter().map(|r| r.id.as_bytes()[0]).collect();
        assert_eq!(late, [1, 3], "a dispute whose row did not change is left out");
        assert_eq!((c.locked_as_of.log_position, c.now.log_position), (10, 20));
        assert_eq!(c.stamp.locked_by, "wang");

        let book = c.book();
        assert_eq!(book.sheets.len(), 3);
        for sheet in book.sheets {
            let columns = sheet.columns.clone();
            for r in sheet.rows {
                crate::ledger::sheet::check_row("corrections", &columns, &r)
                    .expect("cells fit their columns");
            }
        }
    }
}
