//! Writing the ledgers: a [`Book`] of sheets (the neutral model of
//! [`gridsync_server_core::ledger::sheet`]) as XLSX, CSV or JSON, to any
//! [`std::io::Write`].
//!
//! | format | writer | layout |
//! |---|---|---|
//! | XLSX | [`xlsx::write`] | one worksheet per sheet: merged title lines, a merged multi-row header frozen in view, column widths, numbers as numbers, shares as percentages, dates as dates; rows streamed through temporary files (constant-memory mode), so the output needs only `Write + Send` (no `Seek`) and a writable temporary directory |
//! | CSV | [`csv::write_sheet`], [`csv::write_book`] | one file per sheet, UTF-8 with a BOM, CRLF; title lines, one flat header row, the rows, footer lines |
//! | JSON | [`json::write`], read back with [`json::read`] | one document: the book, each sheet with its columns, header cells, typed rows and footer |
//!
//! Each writer pulls the sheets' rows one at a time and holds none of them:
//! a county's year streams in bounded memory. The same book gives the same
//! bytes in every format: nothing depends on the clock or on the machine
//! (the XLSX creation time is the book's `as_of_ms`).
//!
//! A row that does not fit its sheet's columns
//! ([`gridsync_server_core::ledger::sheet::check_row`]) stops the export with
//! [`ExportError::Shape`]: a bug in the ledger, never silently written.

pub mod csv;
mod files;
pub mod json;
pub mod xlsx;

pub use files::write_files;

use std::fmt;
use std::str::FromStr;

use gridsync_server_core::ledger::sheet::ShapeError;

pub use gridsync_server_core::ledger::sheet::{Book, Sheet, SheetData};

/// The formats the ledgers export to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// An Excel workbook (opens in Excel and WPS).
    Xlsx,
    /// CSV files, one per sheet.
    Csv,
    /// One JSON document.
    Json,
}

impl Format {
    /// Every format.
    pub const ALL: [Format; 3] = [Format::Xlsx, Format::Csv, Format::Json];

    /// The name used on the command line, and the file extension.
    pub fn name(self) -> &'static str {
        match self {
            Format::Xlsx => "xlsx",
            Format::Csv => "csv",
            Format::Json => "json",
        }
    }

    /// The media type of a file in this format.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Json => "application/json",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| "unknown format; expected xlsx, csv or json".to_owned())
    }
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Writing the output failed.
    #[error("writing the export: {0}")]
    Io(#[from] std::io::Error),
    /// The XLSX library refused (a sheet name, a limit, the temporary directory).
    #[error("writing the workbook: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    /// Writing CSV failed.
    #[error("writing CSV: {0}")]
    Csv(#[from] ::csv::Error),
    /// Writing or reading JSON failed.
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A row does not fit its sheet.
    #[error(transparent)]
    Shape(#[from] ShapeError),
    /// A JSON export that does not read back (not this format, or damaged).
    #[error("not a ledger export: {0}")]
    NotAnExport(String),
}
