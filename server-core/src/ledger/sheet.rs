//! A neutral sheet model: what every ledger table renders to, and what the
//! XLSX, CSV and JSON writers (`gridsync-server`'s `export`) read.
//!
//! A [`Sheet`] is, top to bottom:
//!
//! ```text
//! title lines        one text each, spanning the table (XLSX merges them)
//! header             `header_rows` rows of [`HeaderCell`]s; a group such as 化解 spans
//!                    its sub-columns, a lone column spans every header row
//! rows               typed [`Cell`]s, one per [`Column`], produced lazily
//! footer lines       one text each, e.g. 数据截至日志位置 N
//! ```
//!
//! Rows are an iterator, so a writer pulls one row at a time and a sheet of
//! any length is written in bounded memory. Every cell is [`Cell::Empty`] or
//! of its column's [`Kind`]; [`check_row`] says so for the writers.

use std::fmt;

use gridsync_proto::Date;
use gridsync_proto::date::DAY_MS;
use serde::{Deserialize, Serialize};

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Text.
    Text,
    /// A whole number (a count).
    Integer,
    /// A share with its numerator and denominator, shown as a percentage.
    Ratio,
    /// A calendar date in the deployment's time zone.
    Date,
    /// A moment, shown in the deployment's time zone.
    DateTime,
}

impl Kind {
    /// The name used in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Integer => "integer",
            Kind::Ratio => "ratio",
            Kind::Date => "date",
            Kind::DateTime => "date_time",
        }
    }
}

/// One column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    /// A stable machine name (`found`, `resolved_village`…), unique in the sheet.
    pub key: String,
    /// Its header text, in Chinese (the lowest header row's text for it).
    pub header: String,
    /// Its width, in characters of a Latin font (a Chinese character is two).
    pub width: u16,
    /// What its cells hold.
    pub kind: Kind,
}

impl Column {
    /// A column.
    pub fn new(key: &str, header: &str, width: u16, kind: Kind) -> Self {
        Self { key: key.to_owned(), header: header.to_owned(), width, kind }
    }
}

/// One cell of the header: its text and the rectangle it covers (a merged
/// range when it covers more than one cell). Rows count from the first
/// header row, columns from the first column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeaderCell {
    /// Its text.
    pub text: String,
    /// Its first header row.
    pub row: u16,
    /// Its first column.
    pub col: u16,
    /// How many header rows it covers (at least 1).
    pub rows: u16,
    /// How many columns it covers (at least 1).
    pub cols: u16,
}

/// A column or a group of columns under one header text, for [`header`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderNode {
    /// A column on its own: its header spans every header row.
    Column(Column),
    /// A group: its text spans its columns on the first header row, and
    /// each column's own header stands below it.
    Group(String, Vec<Column>),
}

/// The columns and the header cells of a one- or two-row header: two rows
/// as soon as there is a group. Returns `(columns, header cells, header rows)`.
pub fn header(nodes: Vec<HeaderNode>) -> (Vec<Column>, Vec<HeaderCell>, u16) {
    let depth: u16 = if nodes.iter().any(|n| matches!(n, HeaderNode::Group(..))) { 2 } else { 1 };
    let mut columns = Vec::new();
    let mut cells = Vec::new();
    for node in nodes {
        let col = u16::try_from(columns.len()).unwrap_or(u16::MAX);
        match node {
            HeaderNode::Column(column) => {
                cells.push(HeaderCell { text: column.header.clone(), row: 0, col, rows: depth, cols: 1 });
                columns.push(column);
            }
            HeaderNode::Group(text, members) => {
                let width = u16::try_from(members.len()).unwrap_or(u16::MAX);
                cells.push(HeaderCell { text, row: 0, col, rows: 1, cols: width });
                for (i, column) in members.into_iter().enumerate() {
                    let at = col.saturating_add(u16::try_from(i).unwrap_or(u16::MAX));
                    cells.push(HeaderCell { text: column.header.clone(), row: 1, col: at, rows: 1, cols: 1 });
                    columns.push(column);
                }
            }
        }
    }
    (columns, cells, depth)
}

/// A share: `numerator` out of `denominator`. With a zero denominator there
/// is no share (a writer leaves the cell empty, or shows the counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Ratio {
    /// How many.
    pub numerator: u64,
    /// Out of how many.
    pub denominator: u64,
}

impl Ratio {
    /// `numerator` out of `denominator`.
    pub fn new(numerator: u64, denominator: u64) -> Self {
        Self { numerator, denominator }
    }

    /// The share as a number (1.0 is 100%), if the denominator is not zero.
    pub fn value(self) -> Option<f64> {
        (self.denominator > 0).then(|| self.numerator as f64 / self.denominator as f64)
    }

    /// Compares two shares exactly (no rounding): `None` when either has a
    /// zero denominator.
    pub fn cmp_exact(self, other: Ratio) -> Option<std::cmp::Ordering> {
        if self.denominator == 0 || other.denominator == 0 {
            return None;
        }
        let left = u128::from(self.numerator) * u128::from(other.denominator);
        let right = u128::from(other.numerator) * u128::from(self.denominator);
        Some(left.cmp(&right))
    }

    /// The share as a percentage with two decimals (`95.40%`), rounded half
    /// up in integer arithmetic; `None` with a zero denominator.
    pub fn percent_text(self) -> Option<String> {
        if self.denominator == 0 {
            return None;
        }
        let basis_points = (u128::from(self.numerator) * 20_000 + u128::from(self.denominator))
            / (2 * u128::from(self.denominator));
        Some(format!("{}.{:02}%", basis_points / 100, basis_points % 100))
    }
}

/// A moment and the time zone it is shown in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DateTime {
    /// Unix time, milliseconds.
    pub unix_ms: i64,
    /// Minutes east of UTC to show it in.
    pub offset_minutes: i32,
}

impl DateTime {
    /// `unix_ms` shown at `offset_minutes` east of UTC.
    pub fn new(unix_ms: i64, offset_minutes: i32) -> Self {
        Self { unix_ms, offset_minutes }
    }

    /// The local date, if it is within the calendar.
    pub fn date(self) -> Option<Date> {
        Date::of_millis(self.unix_ms, self.offset_minutes)
    }

    /// The local time of day: hours, minutes, seconds.
    pub fn time_of_day(self) -> (u8, u8, u8) {
        let local = self.unix_ms.saturating_add(i64::from(self.offset_minutes) * 60_000);
        let secs = local.rem_euclid(DAY_MS) / 1000;
        // Each part is below 24 or 60, so the casts cannot truncate.
        ((secs / 3600) as u8, (secs / 60 % 60) as u8, (secs % 60) as u8)
    }

    /// `YYYY-MM-DD HH:MM`, local (what CSV and texts show).
    pub fn local_text(self) -> String {
        let (h, m, _) = self.time_of_day();
        match self.date() {
            Some(d) => format!("{d} {h:02}:{m:02}"),
            None => String::new(),
        }
    }

    /// RFC 3339 with the offset, to the millisecond
    /// (`2026-12-01T08:30:00.000+08:00`).
    pub fn rfc3339(self) -> String {
        let (h, m, s) = self.time_of_day();
        let milli = self.unix_ms.rem_euclid(1000);
        let sign = if self.offset_minutes < 0 { '-' } else { '+' };
        let off = self.offset_minutes.unsigned_abs();
        match self.date() {
            Some(d) => format!("{d}T{h:02}:{m:02}:{s:02}.{milli:03}{sign}{:02}:{:02}", off / 60, off % 60),
            None => String::new(),
        }
    }

    /// Reads what [`DateTime::rfc3339`] writes (an offset is required; the
    /// milliseconds may be left out).
    pub fn parse_rfc3339(text: &str) -> Option<DateTime> {
        let (date, rest) = text.split_once('T')?;
        let date: Date = date.parse().ok()?;
        let split = rest.rfind(['+', '-'])?;
        let (time, offset) = rest.split_at(split);
        let sign = if offset.starts_with('-') { -1 } else { 1 };
        let (oh, om) = offset[1..].split_once(':')?;
        let offset_minutes = sign * (oh.parse::<i32>().ok()? * 60 + om.parse::<i32>().ok()?);
        let (hms, milli) = match time.split_once('.') {
            Some((hms, ms)) if ms.len() == 3 => (hms, ms.parse::<i64>().ok()?),
            Some(_) => return None,
            None => (time, 0),
        };
        let mut parts = hms.split(':').map(|p| p.parse::<i64>().ok());
        let (h, m, s) = (parts.next()??, parts.next()??, parts.next()??);
        if parts.next().is_some() || h > 23 || m > 59 || s > 59 || offset_minutes.abs() > 18 * 60 {
            return None;
        }
        let unix_ms = date.start_ms(offset_minutes) + ((h * 60 + m) * 60 + s) * 1000 + milli;
        Some(DateTime { unix_ms, offset_minutes })
    }
}

/// One cell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Cell {
    /// Nothing (a figure that does not apply to the line).
    Empty,
    /// Text.
    Text(String),
    /// A whole number.
    Int(i64),
    /// A share.
    Ratio(Ratio),
    /// A calendar date.
    Date(Date),
    /// A moment.
    DateTime(DateTime),
}

impl Cell {
    /// A text cell.
    pub fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into())
    }

    /// A count.
    pub fn count(n: impl Into<u64>) -> Cell {
        Cell::Int(i64::try_from(n.into()).unwrap_or(i64::MAX))
    }

    /// The cell as plain text, as a CSV file or a message shows it:
    /// counts in digits, shares as percentages (empty without a
    /// denominator), dates and moments in the deployment's time zone.
    pub fn plain_text(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(t) => t.clone(),
            Cell::Int(n) => n.to_string(),
            Cell::Ratio(r) => r.percent_text().unwrap_or_default(),
            Cell::Date(d) => d.to_string(),
            Cell::DateTime(t) => t.local_text(),
        }
    }

    /// The kind of the cell, `None` for an empty one.
    pub fn kind(&self) -> Option<Kind> {
        match self {
            Cell::Empty => None,
            Cell::Text(_) => Some(Kind::Text),
            Cell::Int(_) => Some(Kind::Integer),
            Cell::Ratio(_) => Some(Kind::Ratio),
            Cell::Date(_) => Some(Kind::Date),
            Cell::DateTime(_) => Some(Kind::DateTime),
        }
    }
}

/// How a row stands out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RowStyle {
    /// An ordinary line.
    Body,
    /// A place's subtotal over its categories.
    Subtotal,
    /// A total line.
    Total,
}

/// One row: a cell per column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    /// How it stands out.
    pub style: RowStyle,
    /// Its cells, one per column.
    pub cells: Vec<Cell>,
}

/// A row that does not fit its sheet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    /// The row has another number of cells than the sheet has columns.
    #[error("sheet {sheet}: a row has {cells} cells for {columns} columns")]
    Width {
        /// The sheet.
        sheet: String,
        /// Cells in the row.
        cells: usize,
        /// Columns of the sheet.
        columns: usize,
    },
    /// A cell is not of its column's kind.
    #[error("sheet {sheet}: column {column} holds {kind} values, not {found}")]
    Kind {
        /// The sheet.
        sheet: String,
        /// The column's key.
        column: String,
        /// The column's kind.
        kind: &'static str,
        /// The cell's kind.
        found: &'static str,
    },
}

/// Checks that `row` fits `columns`: one cell per column, each empty or of
/// the column's kind.
pub fn check_row(sheet: &str, columns: &[Column], row: &Row) -> Result<(), ShapeError> {
    if row.cells.len() != columns.len() {
        return Err(ShapeError::Width {
            sheet: sheet.to_owned(),
            cells: row.cells.len(),
            columns: columns.len(),
        });
    }
    for (cell, column) in row.cells.iter().zip(columns) {
        if let Some(kind) = cell.kind()
            && kind != column.kind
        {
            return Err(ShapeError::Kind {
                sheet: sheet.to_owned(),
                column: column.key.clone(),
                kind: column.kind.name(),
                found: kind.name(),
            });
        }
    }
    Ok(())
}

/// The rows of a sheet, produced lazily.
pub type Rows<'a> = Box<dyn Iterator<Item = Row> + 'a>;

/// One table, ready to write: its rows are produced as the writer asks.
pub struct Sheet<'a> {
    /// The sheet's name (the XLSX tab, the CSV file's stem): at most 31
    /// characters, none of `[]:*?/\`.
    pub name: String,
    /// Title lines above the header.
    pub title: Vec<String>,
    /// The columns.
    pub columns: Vec<Column>,
    /// The header's cells.
    pub header: Vec<HeaderCell>,
    /// How many rows the header has.
    pub header_rows: u16,
    /// How many leading columns stay in view when scrolling sideways.
    pub frozen_columns: u16,
    /// The rows.
    pub rows: Rows<'a>,
    /// Footer lines below the rows.
    pub footer: Vec<String>,
}

impl fmt::Debug for Sheet<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sheet")
            .field("name", &self.name)
            .field("title", &self.title)
            .field("columns", &self.columns.len())
            .field("header_rows", &self.header_rows)
            .field("footer", &self.footer)
            .finish_non_exhaustive()
    }
}

impl<'a> Sheet<'a> {
    /// Reads every row into memory (for tests and small tables).
    pub fn collect(self) -> SheetData {
        SheetData {
            name: self.name,
            title: self.title,
            columns: self.columns,
            header: self.header,
            header_rows: self.header_rows,
            frozen_columns: self.frozen_columns,
            rows: self.rows.collect(),
            footer: self.footer,
        }
    }

    /// The text that a flat (one-row) header shows for each column: the
    /// header texts covering it, top to bottom, joined by `/` (`化解/村级`).
    pub fn flat_headers(&self) -> Vec<String> {
        flat_headers(&self.columns, &self.header)
    }
}

/// The flat header of `columns` under `header` (see [`Sheet::flat_headers`]).
pub fn flat_headers(columns: &[Column], header: &[HeaderCell]) -> Vec<String> {
    (0..columns.len())
        .map(|c| {
            let mut covering: Vec<&HeaderCell> = header
                .iter()
                .filter(|h| usize::from(h.col) <= c && c < usize::from(h.col) + usize::from(h.cols))
                .collect();
            covering.sort_by_key(|h| h.row);
            covering.into_iter().map(|h| h.text.as_str()).collect::<Vec<_>>().join("/")
        })
        .collect()
}

/// A sheet with its rows in memory: what [`Sheet::collect`] gives and what
/// a JSON export reads back into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SheetData {
    /// See [`Sheet::name`].
    pub name: String,
    /// See [`Sheet::title`].
    pub title: Vec<String>,
    /// See [`Sheet::columns`].
    pub columns: Vec<Column>,
    /// See [`Sheet::header`].
    pub header: Vec<HeaderCell>,
    /// See [`Sheet::header_rows`].
    pub header_rows: u16,
    /// See [`Sheet::frozen_columns`].
    pub frozen_columns: u16,
    /// The rows.
    pub rows: Vec<Row>,
    /// See [`Sheet::footer`].
    pub footer: Vec<String>,
}

impl SheetData {
    /// A lazy sheet over a copy of these rows.
    pub fn to_sheet(&self) -> Sheet<'_> {
        Sheet {
            name: self.name.clone(),
            title: self.title.clone(),
            columns: self.columns.clone(),
            header: self.header.clone(),
            header_rows: self.header_rows,
            frozen_columns: self.frozen_columns,
            rows: Box::new(self.rows.iter().cloned()),
            footer: self.footer.clone(),
        }
    }
}

/// A workbook: sheets and what describes them.
#[derive(Debug)]
pub struct Book<'a> {
    /// The document's title.
    pub title: String,
    /// When the data was taken (Unix ms): the document's creation time in
    /// an XLSX, so that the same data gives the same bytes. Never "now".
    pub as_of_ms: i64,
    /// The sheets, in order.
    pub sheets: Vec<Sheet<'a>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_make_a_two_row_header_and_lone_columns_span_it() {
        let (columns, cells, rows) = header(vec![
            HeaderNode::Column(Column::new("place", "单位", 16, Kind::Text)),
            HeaderNode::Group(
                "化解".into(),
                vec![
                    Column::new("village", "村级", 8, Kind::Integer),
                    Column::new("township", "乡镇级", 8, Kind::Integer),
                ],
            ),
        ]);
        assert_eq!(rows, 2);
        assert_eq!(columns.len(), 3);
        assert_eq!(cells[0], HeaderCell { text: "单位".into(), row: 0, col: 0, rows: 2, cols: 1 });
        assert_eq!(cells[1], HeaderCell { text: "化解".into(), row: 0, col: 1, rows: 1, cols: 2 });
        assert_eq!(cells[3], HeaderCell { text: "乡镇级".into(), row: 1, col: 2, rows: 1, cols: 1 });
        assert_eq!(flat_headers(&columns, &cells), ["单位", "化解/村级", "化解/乡镇级"]);
    }

    #[test]
    fn ratios_compare_exactly_and_round_half_up() {
        assert_eq!(Ratio::new(1, 2).cmp_exact(Ratio::new(2, 4)), Some(std::cmp::Ordering::Equal));
        assert_eq!(Ratio::new(2, 3).cmp_exact(Ratio::new(666, 1000)), Some(std::cmp::Ordering::Greater));
        assert_eq!(Ratio::new(1, 0).cmp_exact(Ratio::new(1, 1)), None);
        assert_eq!(Ratio::new(2, 3).percent_text().as_deref(), Some("66.67%"));
        assert_eq!(Ratio::new(1, 8).percent_text().as_deref(), Some("12.50%"));
        assert_eq!(Ratio::new(1, 80_000).percent_text().as_deref(), Some("0.00%"));
        assert_eq!(Ratio::new(0, 0).percent_text(), None);
    }

    #[test]
    fn moments_show_in_local_time() {
        // 2026-12-01T00:30+08:00.
        let t = DateTime::new(1_796_054_400_000 + 30 * 60_000, 480);
        assert_eq!(t.local_text(), "2026-12-01 00:30");
        assert_eq!(t.rfc3339(), "2026-12-01T00:30:00.000+08:00");
        assert_eq!(DateTime::new(t.unix_ms, 0).rfc3339(), "2026-11-30T16:30:00.000+00:00");
        assert_eq!(DateTime::new(t.unix_ms + 7, -90).rfc3339(), "2026-11-30T15:00:00.007-01:30");
        for moment in [t, DateTime::new(t.unix_ms + 59_999, -90), DateTime::new(12_345, 0)] {
            assert_eq!(DateTime::parse_rfc3339(&moment.rfc3339()), Some(moment));
        }
        assert_eq!(DateTime::parse_rfc3339("2026-12-01T00:30:00+08:00"), Some(t));
        for bad in
            ["2026-12-01", "2026-12-01T00:30:00", "2026-12-01T24:00:00+08:00", "2026-12-01T00:30+08:00"]
        {
            assert_eq!(DateTime::parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn rows_must_fit_their_columns() {
        let columns = vec![Column::new("n", "数", 6, Kind::Integer)];
        assert!(check_row("s", &columns, &Row { style: RowStyle::Body, cells: vec![Cell::Int(1)] }).is_ok());
        assert!(check_row("s", &columns, &Row { style: RowStyle::Body, cells: vec![Cell::Empty] }).is_ok());
        let wrong = Row { style: RowStyle::Body, cells: vec![Cell::text("x")] };
        assert!(matches!(check_row("s", &columns, &wrong), Err(ShapeError::Kind { .. })));
        assert!(matches!(
            check_row("s", &columns, &Row { style: RowStyle::Body, cells: vec![] }),
            Err(ShapeError::Width { .. })
        ));
    }
}
