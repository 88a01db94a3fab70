//! Sheets as one JSON document, written row by row.
//!
//! The shape (version 1) is stable: fields are added, never renamed or
//! given another meaning, without a new `version`.
//!
//! ```json
//! {
//!   "format": "gridsync-ledger",
//!   "version": 1,
//!   "title": "崆峒区2026年12月矛盾纠纷一表一帐",
//!   "as_of_ms": 1798732800000,
//!   "sheets": [
//!     {
//!       "name": "清单化管理统计表",
//!       "title": ["崆峒区矛盾纠纷清单化管理统计表", "统计期间：…"],
//!       "columns": [{"key": "found", "header": "本月排查", "width": 8, "kind": "integer"}, …],
//!       "header": [{"text": "化解", "row": 0, "col": 15, "rows": 1, "cols": 6}, …],
//!       "header_rows": 2,
//!       "frozen_columns": 3,
//!       "rows": [
//!         {"style": "body", "cells": ["第1镇", "620802100", "邻里纠纷", 3, …, {"numerator": 4, "denominator": 5}, …]},
//!         …
//!       ],
//!       "footer": ["数据截至日志位置 4242（…）", …]
//!     }
//!   ]
//! }
//! ```
//!
//! A row's `style` is `body`, `subtotal` or `total`. Its `cells` follow the
//! columns, each `null` when empty or else by the column's `kind`: `text` a
//! string; `integer` a number; `ratio` an object with `numerator` and
//! `denominator` (no share when the denominator is 0); `date` a
//! `YYYY-MM-DD` string; `date_time` an RFC 3339 string with milliseconds
//! and the deployment's offset (`2026-12-01T08:30:00.000+08:00`).
//! [`read`] reads a document back into [`SheetData`].

use std::io::{Read, Write};

use gridsync_proto::Date;
use gridsync_server_core::ledger::sheet::{
    Book, Cell, Column, DateTime, HeaderCell, Kind, Ratio, Row, RowStyle, SheetData, check_row,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ExportError;

/// The document's `format`.
pub const FORMAT: &str = "gridsync-ledger";
/// The document's `version`.
pub const VERSION: u32 = 1;

fn cell(cell: &Cell) -> Value {
    match cell {
        Cell::Empty => Value::Null,
        Cell::Text(t) => Value::from(t.as_str()),
        Cell::Int(n) => Value::from(*n),
        Cell::Ratio(r) => json!({"numerator": r.numerator, "denominator": r.denominator}),
        Cell::Date(d) => Value::from(d.to_string()),
        Cell::DateTime(t) => Value::from(t.rfc3339()),
    }
}

/// Writes `book` to `out` as one JSON document; returns `out`.
pub fn write<W: Write>(book: Book<'_>, mut out: W) -> Result<W, ExportError> {
    write!(out, "{{\"format\":\"{FORMAT}\",\"version\":{VERSION},\"title\":")?;
    serde_json::to_writer(&mut out, &book.title)?;
    write!(out, ",\"as_of_ms\":{},\"sheets\":[", book.as_of_ms)?;
    for (i, sheet) in book.sheets.into_iter().enumerate() {
        out.write_all(if i == 0 { b"\n{\"name\":" } else { b",\n{\"name\":" })?;
        serde_json::to_writer(&mut out, &sheet.name)?;
        out.write_all(b",\"title\":")?;
        serde_json::to_writer(&mut out, &sheet.title)?;
        out.write_all(b",\"columns\":")?;
        serde_json::to_writer(&mut out, &sheet.columns)?;
        out.write_all(b",\"header\":")?;
        serde_json::to_writer(&mut out, &sheet.header)?;
        write!(
            out,
            ",\"header_rows\":{},\"frozen_columns\":{},\"rows\":[",
            sheet.header_rows, sheet.frozen_columns
        )?;
        for (n, row) in sheet.rows.enumerate() {
            check_row(&sheet.name, &sheet.columns, &row)?;
            out.write_all(if n == 0 { b"\n" } else { b",\n" })?;
            let cells: Vec<Value> = row.cells.iter().map(cell).collect();
            serde_json::to_writer(&mut out, &json!({"style": row.style, "cells": cells}))?;
        }
        out.write_all(b"],\"footer\":")?;
        serde_json::to_writer(&mut out, &sheet.footer)?;
        out.write_all(b"}")?;
    }
    out.write_all(b"]}\n")?;
    Ok(out)
}

/// A JSON export read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadBook {
    /// The document's title.
    pub title: String,
    /// When the data was taken (Unix ms).
    pub as_of_ms: i64,
    /// The sheets with their rows.
    pub sheets: Vec<SheetData>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBook {
    format: String,
    version: u32,
    title: String,
    as_of_ms: i64,
    sheets: Vec<RawSheet>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSheet {
    name: String,
    title: Vec<String>,
    columns: Vec<Column>,
    header: Vec<HeaderCell>,
    header_rows: u16,
    frozen_columns: u16,
    rows: Vec<RawRow>,
    footer: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRow {
    style: RowStyle,
    cells: Vec<Value>,
}

fn read_cell(value: Value, kind: Kind) -> Option<Cell> {
    Some(match (kind, value) {
        (_, Value::Null) => Cell::Empty,
        (Kind::Text, Value::String(t)) => Cell::Text(t),
        (Kind::Integer, Value::Number(n)) => Cell::Int(n.as_i64()?),
        (Kind::Ratio, value @ Value::Object(_)) => Cell::Ratio(serde_json::from_value::<Ratio>(value).ok()?),
        (Kind::Date, Value::String(d)) => Cell::Date(d.parse::<Date>().ok()?),
        (Kind::DateTime, Value::String(t)) => Cell::DateTime(DateTime::parse_rfc3339(&t)?),
        _ => return None,
    })
}

/// Reads a JSON export back (the whole document, into memory).
pub fn read<R: Read>(input: R) -> Result<ReadBook, ExportError> {
    let raw: RawBook = serde_json::from_reader(input)?;
    if raw.format != FORMAT || raw.version != VERSION {
        return Err(ExportError::NotAnExport(format!("format {:?} version {}", raw.format, raw.version)));
    }
    let mut sheets = Vec::with_capacity(raw.sheets.len());
    for s in raw.sheets {
        let mut rows = Vec::with_capacity(s.rows.len());
        for (n, r) in s.rows.into_iter().enumerate() {
            if r.cells.len() != s.columns.len() {
                return Err(ExportError::NotAnExport(format!(
                    "sheet {}: row {n} has the wrong width",
                    s.name
                )));
            }
            let cells = r
                .cells
                .into_iter()
                .zip(&s.columns)
                .map(|(v, c)| {
                    read_cell(v, c.kind).ok_or_else(|| {
                        ExportError::NotAnExport(format!(
                            "sheet {}: row {n}: column {} does not read",
                            s.name, c.key
                        ))
                    })
                })
                .collect::<Result<Vec<Cell>, ExportError>>()?;
            rows.push(Row { style: r.style, cells });
        }
        sheets.push(SheetData {
            name: s.name,
            title: s.title,
            columns: s.columns,
            header: s.header,
            header_rows: s.header_rows,
            frozen_columns: s.frozen_columns,
            rows,
            footer: s.footer,
        });
    }
    Ok(ReadBook { title: raw.title, as_of_ms: raw.as_of_ms, sheets })
}
