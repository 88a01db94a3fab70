//! The classified dispute ledger (排查调处分类台帐): one row per dispute
//! open at some point of the month (registered in it, or carried into it
//! not yet closed), as it stood at the month's end.
//!
//! Rows come out of [`super::MonthLedger::add`] one dispute at a time, in
//! the order the records are given. Their canonical order is
//! [`RegisterRow::key`]: the table's line order (child places by code, the
//! place's own line last), then the registration place's code, then the
//! dispute's id. [`sort`] puts buffered rows in it; a caller that feeds
//! records already in that order can stream the rows straight to a writer.

use gridsync_proto::dispute::StepStatus;
use gridsync_proto::{Action, Directory, RecordId, Stage};
use serde::{Deserialize, Serialize};

use super::dispute::{Dispute, InPeriod, Move};
use super::lines::{LineHead, place_name, unit_name};
use super::lock::LockStamp;
use super::mask::{self, Disclosure};
use super::period::Month;
use super::sheet::{Cell, Column, DateTime, HeaderNode, Kind, Row, RowStyle, Sheet, header};
use super::{AsOf, as_of_line, labels, period_line};

/// When a dispute passed each stage, as of the month's end (Unix ms, the
/// steps' hybrid clock times).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageDates {
    /// The first accept step.
    pub accepted: Option<i64>,
    /// The first mediate step.
    pub mediated: Option<i64>,
    /// The last escalation.
    pub escalated: Option<i64>,
    /// The last transfer to a department.
    pub transferred: Option<i64>,
    /// The step that first left it resolved (resolve, or a confirmed closure
    /// after a department's handling).
    pub resolved: Option<i64>,
    /// The last follow-up visit.
    pub followed_up: Option<i64>,
    /// Its closure (close or confirm closure).
    pub closed: Option<i64>,
}

impl StageDates {
    fn of(moves: &[Move]) -> Self {
        let first = |a: Action| moves.iter().find(|m| m.action == a).map(|m| m.ms);
        let last = |a: Action| moves.iter().rev().find(|m| m.action == a).map(|m| m.ms);
        Self {
            accepted: first(Action::Accept),
            mediated: first(Action::Mediate),
            escalated: last(Action::Escalate),
            transferred: last(Action::Transfer),
            resolved: moves.iter().find(|m| m.after.stage.is_resolved()).map(|m| m.ms),
            followed_up: last(Action::FollowUp),
            closed: moves.iter().find(|m| m.after.stage == Stage::Closed).map(|m| m.ms),
        }
    }
}

/// One dispute's row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterRow {
    /// The dispute.
    pub id: RecordId,
    /// The table line it counts in (a child place's code, or the place's own).
    pub line: String,
    /// That line's name.
    pub line_name: String,
    /// The line's position in the table (for [`RegisterRow::key`]).
    pub line_position: u32,
    /// Where it was registered (its first owner).
    pub registered_at: String,
    /// That place's name.
    pub registered_at_name: String,
    /// When it was registered (Unix ms, its creation's hybrid clock time).
    pub registered_ms: i64,
    /// Its category (未分类 if none).
    pub category: String,
    /// Where it came from (`patrol`, `visit`…), if recorded.
    pub source: Option<String>,
    /// The parties, masked for the reader ([`mask::parties`]).
    pub parties: String,
    /// Its summary, for readers who see names; `None` otherwise.
    pub summary: Option<String>,
    /// Its risk level (1–4), if recorded.
    pub risk: Option<i64>,
    /// When it passed each stage.
    pub stages: StageDates,
    /// Its owner at the month's end.
    pub owner: String,
    /// That place's name.
    pub owner_name: String,
    /// The department handling it at the month's end.
    pub handler: Option<String>,
    /// That department's name.
    pub handler_name: Option<String>,
    /// Departments cooperating at the month's end (assistance letters), by name.
    pub cooperating: Vec<String>,
    /// Its stage at the month's end.
    pub stage: Stage,
    /// Mediation sessions recorded before the month's end.
    pub mediation_sessions: u64,
    /// Files (photos, signed agreements) attached before the month's end;
    /// staff who may read the dispute open them from its page in the
    /// console or the admin API (`/v1/admin/records/{id}/attachments`).
    /// Months locked before attachments existed read as none.
    #[serde(default)]
    pub attachments: u64,
    /// Its steps dated before the month's end in lifecycle order, one text
    /// each (overridden ones marked), then those waiting for an earlier step.
    pub steps: Vec<String>,
    /// 上月结转: registered before the month.
    pub carried_over: bool,
    /// 转下月: not closed at the month's end, so on next month's ledger too.
    pub carried_forward: bool,
}

impl RegisterRow {
    /// The canonical order: line position, registration place, id.
    pub fn key(&self) -> (u32, &str, RecordId) {
        (self.line_position, &self.registered_at, self.id)
    }

    /// Builds the row of a dispute on the books.
    pub(crate) fn build(
        d: &Dispute,
        f: &InPeriod<'_>,
        line: (&LineHead, usize),
        dir: &Directory,
        disclosure: Disclosure,
        end_ms: i64,
        offset: i32,
    ) -> Self {
        let steps = d
            .steps
            .iter()
            .filter(|s| s.ms < end_ms)
            .map(|s| {
                let mut line =
                    format!("{} {}", DateTime::new(s.ms, offset).local_text(), labels::action(s.action));
                if let Some(to) = &s.to {
                    line.push('→');
                    line.push_str(&place_name(dir, to));
                } else if let Some(unit) = &s.unit {
                    line.push('→');
                    line.push_str(&unit_name(dir, unit));
                }
                line.push_str(&format!("（{}）", s.author));
                match s.status {
                    StepStatus::Applied => {}
                    StepStatus::Overridden => line.push_str("〔被覆盖〕"),
                    StepStatus::Waiting => line.push_str("〔待前序步骤〕"),
                }
                line
            })
            .collect();
        let end = f.end;
        Self {
            id: d.id,
            line: line.0.code.clone(),
            line_name: line.0.name.clone(),
            line_position: u32::try_from(line.1).unwrap_or(u32::MAX),
            registered_at: d.registered_at.clone(),
            registered_at_name: place_name(dir, &d.registered_at),
            registered_ms: d.registered_ms,
            category: d.category.clone(),
            source: d.fields.source.clone(),
            parties: mask::parties(d.fields.parties.as_ref(), disclosure),
            summary: if disclosure == Disclosure::Names { d.fields.summary.clone() } else { None },
            risk: d.fields.risk,
            stages: StageDates::of(&d.moves[..f.end_cut]),
            owner: end.owner.clone(),
            owner_name: place_name(dir, &end.owner),
            handler: end.handler.clone(),
            handler_name: end.handler.as_deref().map(|u| unit_name(dir, u)),
            cooperating: d.cooperating(end_ms).into_iter().map(|u| unit_name(dir, u)).collect(),
            stage: end.stage,
            mediation_sessions: u64::try_from(d.mediations.iter().filter(|t| **t < end_ms).count())
                .unwrap_or(u64::MAX),
            attachments: u64::try_from(d.attachments.iter().filter(|t| **t < end_ms).count())
                .unwrap_or(u64::MAX),
            steps,
            carried_over: f.carried,
            carried_forward: f.open_at_end,
        }
    }
}

/// Puts rows in their canonical order ([`RegisterRow::key`]).
pub fn sort(rows: &mut [RegisterRow]) {
    rows.sort_by(|a, b| a.key().cmp(&b.key()));
}

/// What the register's sheet says around its rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterHead {
    /// The place's code.
    pub place: String,
    /// Its name.
    pub place_name: String,
    /// The month.
    pub month: Month,
    /// The deployment's time zone, minutes east of UTC.
    pub utc_offset_minutes: i32,
    /// Where the rows come from.
    pub as_of: AsOf,
    /// Whether the reader sees names.
    pub names_shown: bool,
    /// Who locked the month and when, for a locked month.
    pub locked: Option<LockStamp>,
}

/// The register as a sheet over `rows` (numbered 1, 2, … as they come:
/// give them in their canonical order).
pub fn sheet<'a>(head: &RegisterHead, rows: impl Iterator<Item = RegisterRow> + 'a) -> Sheet<'a> {
    sheet_from(head, rows, 1)
}

/// [`sheet`] over a window of the register's rows whose first row is number
/// `first_number` (序号) of the whole register.
pub fn sheet_from<'a>(
    head: &RegisterHead,
    rows: impl Iterator<Item = RegisterRow> + 'a,
    first_number: usize,
) -> Sheet<'a> {
    let (columns, header, header_rows) = header(register_columns());
    let offset = head.utc_offset_minutes;
    let rows = rows.enumerate().map(move |(i, row)| register_row(first_number + i, &row, offset));
    Sheet {
        name: "排查调处分类台帐".to_owned(),
        title: vec![
            format!("{}矛盾纠纷排查调处分类台帐", head.place_name),
            period_line(head.month, &head.place),
        ],
        columns,
        header,
        header_rows,
        frozen_columns: 2,
        rows: Box::new(rows),
        footer: [as_of_line(head.as_of, offset)]
            .into_iter()
            .chain(head.locked.as_ref().map(|l| l.line(offset)))
            .chain([
                if head.names_shown {
                    "不含当事人身份证号、电话。".to_owned()
                } else {
                    "当事人姓名已脱敏，不含身份证号、电话及简要情况。".to_owned()
                },
                "各阶段日期、责任单位、承办部门和状态均为月末情况；转下月：月末未销号，列入下月台帐。"
                    .to_owned(),
            ])
            .collect(),
    }
}

fn register_columns() -> Vec<HeaderNode> {
    let col = |key: &str, text: &str, width: u16, kind: Kind| {
        HeaderNode::Column(Column::new(key, text, width, kind))
    };
    let date = |key: &str, text: &str| Column::new(key, text, 11, Kind::Date);
    vec![
        col("number", "序号", 6, Kind::Integer),
        col("id", "编号", 38, Kind::Text),
        col("line", "所属单位", 20, Kind::Text),
        col("registered_at", "登记单位", 20, Kind::Text),
        col("category", "纠纷类别", 14, Kind::Text),
        col("source", "来源", 10, Kind::Text),
        col("parties", "当事人", 30, Kind::Text),
        col("summary", "简要情况", 40, Kind::Text),
        col("risk", "风险等级", 8, Kind::Integer),
        col("registered", "登记时间", 17, Kind::DateTime),
        HeaderNode::Group(
            "办理时间".to_owned(),
            vec![
                date("accepted", "受理"),
                date("mediated", "调解"),
                date("escalated", "上报"),
                date("transferred", "转办"),
                date("resolved", "化解"),
                date("followed_up", "回访"),
                date("closed", "销号"),
            ],
        ),
        col("owner", "责任单位", 20, Kind::Text),
        col("handler", "承办部门", 20, Kind::Text),
        col("cooperating", "协办部门", 20, Kind::Text),
        col("stage", "月末状态", 12, Kind::Text),
        col("mediation_sessions", "调解次数", 8, Kind::Integer),
        col("attachments", "附件数", 8, Kind::Integer),
        col("carried_over", "上月结转", 8, Kind::Text),
        col("carried_forward", "转下月", 8, Kind::Text),
        col("steps", "办理过程", 80, Kind::Text),
    ]
}

fn register_row(number: usize, r: &RegisterRow, offset: i32) -> Row {
    let date = |ms: Option<i64>| match ms.and_then(|t| DateTime::new(t, offset).date()) {
        Some(d) => Cell::Date(d),
        None => Cell::Empty,
    };
    let opt = |t: Option<&String>| t.map_or(Cell::Empty, |t| Cell::text(t.as_str()));
    Row {
        style: RowStyle::Body,
        cells: vec![
            Cell::count(u64::try_from(number).unwrap_or(u64::MAX)),
            Cell::text(r.id.to_string()),
            Cell::text(r.line_name.as_str()),
            Cell::text(r.registered_at_name.as_str()),
            Cell::text(r.category.as_str()),
            r.source.as_deref().map_or(Cell::Empty, |s| Cell::text(labels::source(s))),
            Cell::text(r.parties.as_str()),
            opt(r.summary.as_ref()),
            r.risk.map_or(Cell::Empty, Cell::Int),
            Cell::DateTime(DateTime::new(r.registered_ms, offset)),
            date(r.stages.accepted),
            date(r.stages.mediated),
            date(r.stages.escalated),
            date(r.stages.transferred),
            date(r.stages.resolved),
            date(r.stages.followed_up),
            date(r.stages.closed),
            Cell::text(r.owner_name.as_str()),
            opt(r.handler_name.as_ref()),
            Cell::text(r.cooperating.join("、")),
            Cell::text(labels::stage(r.stage)),
            Cell::count(r.mediation_sessions),
            Cell::count(r.attachments),
            Cell::text(labels::yes_no(r.carried_over)),
            Cell::text(labels::yes_no(r.carried_forward)),
            Cell::text(r.steps.join("；")),
        ],
    }
}
