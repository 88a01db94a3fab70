//! Sheets as an Excel workbook, with `rust_xlsxwriter`.
//!
//! Each sheet becomes a worksheet: its title lines merged across the
//! table, bold; its header cells merged as the model says (a group such as
//! 化解 over its sub-columns, a lone column over every header row), bold,
//! centred, wrapped, bordered; the title and header rows frozen, with the
//! sheet's leading columns; its columns' widths; then the rows, streamed,
//! and the footer lines merged below them.
//!
//! Cells keep their types: counts are numbers (format `0`), shares are
//! numbers with a percent format (`0.00%`; empty when there is nothing to
//! share), dates are dates (`yyyy-mm-dd`), moments are local date-times
//! (`yyyy-mm-dd hh:mm`), text is text (never a formula). Subtotal rows are
//! bold; total rows bold on a grey fill.
//!
//! Worksheets are written in constant-memory mode: each row goes to a
//! temporary file as soon as the next one starts, so memory does not grow
//! with the rows. That needs a writable temporary directory (the system's,
//! or [`Options::tempdir`]). The finished workbook is written to any
//! `Write + Send`: no `Seek` is needed. The document's creation time is the
//! book's `as_of_ms`, never the clock, and the archive's entries carry a
//! fixed date, so the same book gives byte-identical files.

use std::io::Write;
use std::path::PathBuf;

use gridsync_server_core::ledger::sheet::{Book, Cell, Column, Kind, Row, RowStyle, Sheet, check_row};
use rust_xlsxwriter::{
    Color, DocProperties, ExcelDateTime, Format, FormatAlign, FormatBorder, Workbook, Worksheet,
};

use super::ExportError;

/// How to write a workbook.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// Where the rows wait until the workbook is assembled (default: the
    /// system's temporary directory).
    pub tempdir: Option<PathBuf>,
}

/// Writes `book` as an XLSX workbook to `out`.
pub fn write<W: Write + Send>(book: Book<'_>, out: W) -> Result<(), ExportError> {
    write_with(book, out, &Options::default())
}

/// Writes `book` as an XLSX workbook to `out`, with `options`.
pub fn write_with<W: Write + Send>(book: Book<'_>, out: W, options: &Options) -> Result<(), ExportError> {
    let mut workbook = Workbook::new();
    if let Some(dir) = &options.tempdir {
        workbook.set_tempdir(dir)?;
    }
    let created = ExcelDateTime::from_timestamp(book.as_of_ms.div_euclid(1000))
        .or_else(|_| ExcelDateTime::from_ymd(1970, 1, 1))?;
    workbook.set_properties(
        &DocProperties::new().set_title(&book.title).set_author("gridsync").set_creation_datetime(&created),
    );
    let formats = Formats::new();
    for sheet in book.sheets {
        let worksheet = workbook.add_worksheet_with_constant_memory()?;
        write_sheet(worksheet, sheet, &formats)?;
    }
    workbook.save_to_writer(out)?;
    Ok(())
}

/// The cell formats, made once per workbook.
struct Formats {
    title: Format,
    subtitle: Format,
    header: Format,
    footer: Format,
    /// By row style, then by kind: text, integer, ratio, date, date-time.
    cells: [[Format; 5]; 3],
}

impl Formats {
    fn new() -> Self {
        let border = |f: Format| f.set_border(FormatBorder::Thin);
        let kinds = |style: RowStyle| {
            let base = || {
                let f = border(Format::new().set_align(FormatAlign::VerticalCenter));
                match style {
                    RowStyle::Body => f,
                    RowStyle::Subtotal => f.set_bold(),
                    RowStyle::Total => f.set_bold().set_background_color(Color::RGB(0xE7E6E6)),
                }
            };
            [
                base().set_text_wrap(),
                base().set_num_format("0"),
                base().set_num_format("0.00%"),
                base().set_num_format("yyyy-mm-dd").set_align(FormatAlign::Center),
                base().set_num_format("yyyy-mm-dd hh:mm").set_align(FormatAlign::Center),
            ]
        };
        Self {
            title: Format::new().set_bold().set_font_size(16).set_align(FormatAlign::Center),
            subtitle: Format::new().set_align(FormatAlign::Center),
            header: border(
                Format::new()
                    .set_bold()
                    .set_text_wrap()
                    .set_align(FormatAlign::Center)
                    .set_align(FormatAlign::VerticalCenter)
                    .set_background_color(Color::RGB(0xDDEBF7)),
            ),
            footer: Format::new().set_align(FormatAlign::Left),
            cells: [kinds(RowStyle::Body), kinds(RowStyle::Subtotal), kinds(RowStyle::Total)],
        }
    }

    fn cell(&self, style: RowStyle, kind: Kind) -> &Format {
        let s = match style {
            RowStyle::Body => 0,
            RowStyle::Subtotal => 1,
            RowStyle::Total => 2,
        };
        let k = match kind {
            Kind::Text => 0,
            Kind::Integer => 1,
            Kind::Ratio => 2,
            Kind::Date => 3,
            Kind::DateTime => 4,
        };
        &self.cells[s][k]
    }
}

/// A full-width line (title or footer): merged across the columns.
fn line(ws: &mut Worksheet, row: u32, columns: u16, text: &str, format: &Format) -> Result<(), ExportError> {
    if columns > 1 {
        ws.merge_range(row, 0, row, columns - 1, text, format)?;
    } else {
        ws.write_string_with_format(row, 0, text, format)?;
    }
    Ok(())
}

/// Excel's paper size code of A4.
const A4: u8 = 9;

fn write_sheet(ws: &mut Worksheet, sheet: Sheet<'_>, formats: &Formats) -> Result<(), ExportError> {
    ws.set_name(&sheet.name)?;
    let width =
        u16::try_from(sheet.columns.len()).map_err(|_| rust_xlsxwriter::XlsxError::RowColumnLimitError)?;
    for (i, column) in (0u16..).zip(&sheet.columns) {
        ws.set_column_width(i, f64::from(column.width))?;
    }
    let mut row: u32 = 0;
    for (i, text) in sheet.title.iter().enumerate() {
        line(ws, row, width, text, if i == 0 { &formats.title } else { &formats.subtitle })?;
        row += 1;
    }
    // Header rows in order (constant-memory mode writes rows in order; a
    // cell spanning rows writes ahead into the next).
    let header_top = row;
    for hr in 0..sheet.header_rows {
        let mut cells: Vec<_> = sheet.header.iter().filter(|h| h.row == hr).collect();
        cells.sort_by_key(|h| h.col);
        for h in cells {
            let (r, c) = (header_top + u32::from(h.row), h.col);
            if h.rows > 1 || h.cols > 1 {
                let last_row = r + u32::from(h.rows) - 1;
                ws.merge_range(r, c, last_row, c + h.cols - 1, &h.text, &formats.header)?;
            } else {
                ws.write_string_with_format(r, c, &h.text, &formats.header)?;
            }
        }
    }
    row = header_top + u32::from(sheet.header_rows);
    ws.set_freeze_panes(row, sheet.frozen_columns)?;
    // Printed as township offices file them: A4 landscape, one page wide,
    // the header repeated on every page.
    ws.set_paper_size(A4);
    ws.set_landscape();
    ws.set_print_fit_to_pages(1, 0);
    if sheet.header_rows > 0 {
        ws.set_repeat_rows(header_top, row - 1)?;
    }
    for r in sheet.rows {
        check_row(&sheet.name, &sheet.columns, &r)?;
        write_row(ws, row, &sheet.columns, &r, formats)?;
        row += 1;
    }
    for text in &sheet.footer {
        line(ws, row, width, text, &formats.footer)?;
        row += 1;
    }
    Ok(())
}

fn write_row(
    ws: &mut Worksheet,
    row: u32,
    columns: &[Column],
    r: &Row,
    formats: &Formats,
) -> Result<(), ExportError> {
    for ((col, cell), column) in (0u16..).zip(&r.cells).zip(columns) {
        let format = formats.cell(r.style, column.kind);
        match cell {
            Cell::Empty => {
                ws.write_blank(row, col, format)?;
            }
            Cell::Text(text) => {
                ws.write_string_with_format(row, col, text, format)?;
            }
            // Counts stay far below 2^53, where f64 is exact.
            Cell::Int(n) => {
                ws.write_number_with_format(row, col, *n as f64, format)?;
            }
            Cell::Ratio(ratio) => match ratio.value() {
                Some(v) => {
                    ws.write_number_with_format(row, col, v, format)?;
                }
                None => {
                    ws.write_blank(row, col, format)?;
                }
            },
            Cell::Date(date) => {
                let (y, m, d) = date.ymd();
                let value = u16::try_from(y)
                    .map_err(|_| rust_xlsxwriter::XlsxError::DateTimeRangeError(date.to_string()))
                    .and_then(|y| ExcelDateTime::from_ymd(y, m, d))?;
                ws.write_datetime_with_format(row, col, &value, format)?;
            }
            Cell::DateTime(moment) => match moment.date() {
                Some(date) => {
                    let (y, m, d) = date.ymd();
                    let (h, mi, s) = moment.time_of_day();
                    let value = u16::try_from(y)
                        .map_err(|_| rust_xlsxwriter::XlsxError::DateTimeRangeError(date.to_string()))
                        .and_then(|y| ExcelDateTime::from_ymd(y, m, d))
                        .and_then(|d| d.and_hms(u16::from(h), mi, f64::from(s)))?;
                    ws.write_datetime_with_format(row, col, &value, format)?;
                }
                None => {
                    ws.write_blank(row, col, format)?;
                }
            },
        }
    }
    Ok(())
}
