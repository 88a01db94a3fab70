//! Format 1 of a stored locked month: the register rows before they
//! counted attachments (ADR 0033). Read, never written: a month locked then
//! opens with no attachments counted, as it stood.

use gridsync_proto::{RecordId, Stage};
use serde::Deserialize;

use super::super::register::StageDates;
use super::super::{MonthTable, RegisterRow};
use super::{LockedMonth, LockedRow};

/// [`LockedMonth`] in format 1.
#[derive(Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
pub(super) struct LockedMonthV1 {
    table: MonthTable,
    rows: Vec<LockedRowV1>,
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
struct LockedRowV1 {
    row: RegisterRowV1,
    masked_parties: String,
}

/// [`RegisterRow`] in format 1: its fields in their order, without
/// `attachments`.
#[derive(Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
struct RegisterRowV1 {
    id: RecordId,
    line: String,
    line_name: String,
    line_position: u32,
    registered_at: String,
    registered_at_name: String,
    registered_ms: i64,
    category: String,
    source: Option<String>,
    parties: String,
    summary: Option<String>,
    risk: Option<i64>,
    stages: StageDates,
    owner: String,
    owner_name: String,
    handler: Option<String>,
    handler_name: Option<String>,
    cooperating: Vec<String>,
    stage: Stage,
    mediation_sessions: u64,
    steps: Vec<String>,
    carried_over: bool,
    carried_forward: bool,
}

impl From<LockedMonthV1> for LockedMonth {
    fn from(old: LockedMonthV1) -> Self {
        let rows = old
            .rows
            .into_iter()
            .map(|locked| {
                let r = locked.row;
                LockedRow {
                    row: RegisterRow {
                        id: r.id,
                        line: r.line,
                        line_name: r.line_name,
                        line_position: r.line_position,
                        registered_at: r.registered_at,
                        registered_at_name: r.registered_at_name,
                        registered_ms: r.registered_ms,
                        category: r.category,
                        source: r.source,
                        parties: r.parties,
                        summary: r.summary,
                        risk: r.risk,
                        stages: r.stages,
                        owner: r.owner,
                        owner_name: r.owner_name,
                        handler: r.handler,
                        handler_name: r.handler_name,
                        cooperating: r.cooperating,
                        stage: r.stage,
                        mediation_sessions: r.mediation_sessions,
                        attachments: 0,
                        steps: r.steps,
                        carried_over: r.carried_over,
                        carried_forward: r.carried_forward,
                    },
                    masked_parties: locked.masked_parties,
                }
            })
            .collect();
        LockedMonth { table: old.table, rows }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{AsOf, LockStamp, Month};

    fn row_v1(n: u8) -> RegisterRowV1 {
        RegisterRowV1 {
            id: RecordId::from_bytes([n; 16]),
            line: "620802100201".into(),
            line_name: "东关村".into(),
            line_position: 0,
            registered_at: "620802100201-01".into(),
            registered_at_name: "东关村第一网格".into(),
            registered_ms: 1_795_000_000_000,
            category: "邻里纠纷".into(),
            source: Some("patrol".into()),
            parties: "张三（申请人）".into(),
            summary: Some("宅基地边界".into()),
            risk: Some(2),
            stages: StageDates { accepted: Some(1_795_000_100_000), ..StageDates::default() },
            owner: "620802100201".into(),
            owner_name: "东关村".into(),
            handler: None,
            handler_name: None,
            cooperating: vec!["司法所".into()],
            stage: Stage::Mediating,
            mediation_sessions: 2,
            steps: vec!["2026-11-20 10:00 受理（li）".into()],
            carried_over: false,
            carried_forward: true,
        }
    }

    #[test]
    fn a_month_locked_in_format_1_opens_with_no_attachments_counted() {
        let table = MonthTable {
            place: "620802100".into(),
            place_name: "城关镇".into(),
            month: Month::new(2026, 11).expect("a month"),
            utc_offset_minutes: 480,
            as_of: AsOf { log_position: 7, time_ms: 1_795_000_200_000 },
            names_shown: true,
            locked: Some(LockStamp {
                locked_ms: 1_795_000_300_000,
                locked_by: "wang".into(),
                root: "620802".into(),
            }),
            lines: Vec::new(),
        };
        let old = LockedMonthV1 {
            table: table.clone(),
            rows: vec![
                LockedRowV1 { row: row_v1(1), masked_parties: "张*（申请人）".into() },
                LockedRowV1 { row: row_v1(2), masked_parties: "张*（申请人）".into() },
            ],
        };
        let stored = postcard::to_extend(&old, vec![1]).expect("encodes");
        let opened = LockedMonth::decode(&stored).expect("a format 1 month opens");
        assert_eq!(opened.table, table);
        assert_eq!(opened.rows.len(), 2);
        let row = &opened.rows[1].row;
        assert_eq!((row.id, row.mediation_sessions, row.attachments), (RecordId::from_bytes([2; 16]), 2, 0));
        assert_eq!((row.stage, row.carried_forward), (Stage::Mediating, true));
        assert_eq!(row.steps, ["2026-11-20 10:00 受理（li）"]);
        assert_eq!(opened.rows[1].masked_parties, "张*（申请人）");
        // Written again, it is format 2 and reads back the same.
        let again = opened.encode();
        assert_eq!(again[0], 2);
        assert_eq!(LockedMonth::decode(&again).expect("format 2 opens"), opened);
    }
}
