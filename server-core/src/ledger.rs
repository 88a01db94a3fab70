//! The merged ledgers (一表一帐) as a pure computation: no storage, no I/O.
//!
//! The centres are judged on these (月调度分析, 季通报排名):
//!
//! * [`MonthTable`], the monthly statistics table (清单化管理统计表) of a
//!   place: one line per child place and the place's own line (本级), each
//!   by dispute category, with a subtotal per line and totals;
//! * [`RegisterRow`]s, the classified dispute ledger (排查调处分类台帐): one
//!   row per dispute open at some point of the month, as it stood at the
//!   month's end;
//! * [`Rankings`], townships and departments ranked per quarter by disputes
//!   found (排查量) and by resolution rate (化解率);
//! * [`sheet`], a neutral sheet model every table renders to, which the
//!   XLSX, CSV and JSON writers of `gridsync-server` read.
//!
//! # Feeding it
//!
//! The caller reads the records on one snapshot (as of one log position,
//! [`AsOf`]) and feeds them one at a time, in any order; memory is bounded
//! by the number of lines and categories, never by the number of records.
//!
//! ```no_run
//! # use gridsync_proto::{Directory, RecordState, Role};
//! # use gridsync_server_core::ledger::{self, AsOf, Month, MonthLedger, MonthParams};
//! # use gridsync_server_core::service::reports::Completeness;
//! # fn demo(dir: &Directory, records: Vec<RecordState>, days: Vec<Completeness>) -> Result<(), ledger::LedgerError> {
//! let params = MonthParams {
//!     place: "620802".into(),
//!     month: Month::new(2026, 12).expect("a month"),
//!     utc_offset_minutes: 480,
//!     reader: Role::CountyAdmin,
//!     as_of: AsOf { log_position: 1234, time_ms: 1_798_732_800_000 },
//! };
//! let mut month = MonthLedger::new(dir, params)?;
//! let mut rows = Vec::new();
//! for record in &records {
//!     rows.extend(month.add(record)); // disputes, patrols, visits
//! }
//! for day in &days {
//!     month.add_completeness(day)?; // service::reports::daily, one per day
//! }
//! let table = month.finish();
//! ledger::register::sort(&mut rows);
//! let book = table.book(rows.into_iter()); // → gridsync-server's export writers
//! # let _ = book; Ok(()) }
//! ```
//!
//! A register row comes back from [`MonthLedger::add`] at once, so a caller
//! that feeds disputes in the register's order ([`RegisterRow::key`]) can
//! write rows as they come; otherwise it buffers one month's rows and
//! [`register::sort`]s them. Same inputs, same output, in the same order.
//!
//! # What is counted, and when
//!
//! * A dispute belongs to the line of the place where it was **registered**
//!   (`registered_at`, its first owner), whoever owns it later: a village's
//!   dispute escalated to the county still counts for the village's
//!   township. It is registered at its creation's hybrid clock time.
//! * Its **state at a moment** is read from its lifecycle, the fold of all
//!   its steps ([`gridsync_proto::Lifecycle`]): the registered state with
//!   the longest run of applied stage-changing steps dated before the
//!   moment applied, each step dated by its **hybrid logical clock** time.
//!   Stage dates are those steps' times. Applied stage-changing steps
//!   follow each other causally, so the run is what the dispute went
//!   through, and a state read this way never goes backwards: a dispute
//!   closed or resolved at a month's end is so at every later one.
//! * **Months** run from local midnight of their first day to the next
//!   month's, at the deployment's `utc_offset_minutes` east of UTC
//!   ([`Month::period`]); quarters from their first month's start.
//! * The figures are defined on [`DisputeFigures`], [`WorkFigures`] and
//!   [`RankFigures`]; ties in rankings on [`ranking`]; who sees which
//!   personal data on [`mask`]. See also `docs/adr/0014-ledgers.md`.

pub mod correction;
mod dispute;
pub mod labels;
mod lines;
pub mod lock;
pub mod mask;
mod month;
pub mod period;
pub mod ranking;
pub mod register;
pub mod sheet;
pub mod table;

use gridsync_proto::{Date, Role};
use serde::{Deserialize, Serialize};

pub use correction::{Corrections, LateRecords, Reason};
pub(crate) use dispute::{Dispute, NO_CATEGORY};
pub use lines::LineKind;
pub use lock::{LockStamp, LockedMonth, SubtreeMonths};
pub use month::MonthLedger;
pub(crate) use month::{Rows, WorkTally};
pub use period::{Month, Period, Quarter};
pub use ranking::{QuarterRanking, RankBy, RankEntry, RankFigures, Ranked, Ranking, Rankings};
pub use register::{RegisterHead, RegisterRow, StageDates};
pub use sheet::{Book, Cell, Sheet};
pub use table::{DisputeFigures, EscalatedTo, MonthTable, ResolvedAt, TableLine, WorkFigures};

/// Where the figures come from: the log position the records were read at,
/// and the time of that position (e.g. when the server received its
/// change). Printed under every table, and the XLSX creation time, so the
/// same data gives the same bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AsOf {
    /// The log position.
    pub log_position: u64,
    /// Its time, Unix ms.
    pub time_ms: i64,
}

/// What a monthly table and register are for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthParams {
    /// The place (village, township, county or city).
    pub place: String,
    /// The month.
    pub month: Month,
    /// The deployment's time zone, minutes east of UTC.
    pub utc_offset_minutes: i32,
    /// The reader's role, which decides the parties' masking ([`mask`]).
    pub reader: Role,
    /// Where the records come from.
    pub as_of: AsOf,
}

/// What quarterly rankings are for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarterParams {
    /// The place whose townships and departments are ranked (county or city).
    pub place: String,
    /// The quarter.
    pub quarter: Quarter,
    /// The deployment's time zone, minutes east of UTC.
    pub utc_offset_minutes: i32,
    /// Where the records come from.
    pub as_of: AsOf,
}

/// Inputs a ledger refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    /// The place is not in the directory.
    #[error("no such place: {0}")]
    UnknownPlace(String),
    /// Daily completeness figures of another place.
    #[error("the daily figures are for {got}, the ledger for {expected}")]
    OtherPlace {
        /// The ledger's place.
        expected: String,
        /// The figures' place.
        got: String,
    },
    /// Daily completeness figures of a day outside the month.
    #[error("{0} is not in the ledger's month")]
    OutsideMonth(Date),
    /// The same day's completeness figures given twice.
    #[error("the daily figures of {0} were given twice")]
    DayTwice(Date),
}

/// `统计期间：2026年12月（2026-12-01 至 2026-12-31）　单位代码：620802`.
fn period_line(month: Month, place: &str) -> String {
    format!("统计期间：{}（{} 至 {}）　单位代码：{place}", month.label(), month.first_day(), month.last_day())
}

/// `数据截至日志位置 1234（2027-01-01 08:00，UTC+08:00）`.
fn as_of_line(as_of: AsOf, offset: i32) -> String {
    let sign = if offset < 0 { '-' } else { '+' };
    let off = offset.unsigned_abs();
    format!(
        "数据截至日志位置 {}（{}，UTC{sign}{:02}:{:02}）",
        as_of.log_position,
        sheet::DateTime::new(as_of.time_ms, offset).local_text(),
        off / 60,
        off % 60
    )
}
