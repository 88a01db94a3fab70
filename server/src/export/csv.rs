//! Sheets as CSV: one file per sheet, UTF-8 with a byte-order mark (so
//! Excel and WPS read the Chinese text right), records ended by CRLF.
//!
//! A file holds, in order:
//!
//! 1. each title line, as a record of one field;
//! 2. one header record: for each column, the header texts above it joined
//!    by `/` (`化解/已化解`), since CSV cannot merge cells;
//! 3. the rows, one record each, as many fields as columns;
//! 4. each footer line, as a record of one field.
//!
//! Records therefore differ in length: read with a flexible reader, or
//! skip the title lines (the sheet's `title.len()`) and stop at the first
//! record of one field after the rows. Cells: counts as digits; shares as
//! percentages with two decimals (`95.40%`, empty when there is nothing to
//! share); dates `YYYY-MM-DD`; moments `YYYY-MM-DD HH:MM`, local; empty
//! cells empty. Text that a spreadsheet would take for a formula (starting
//! with `=`, `+`, `-` or `@`) is written with a leading `'`.

use std::io::Write;

use gridsync_server_core::ledger::sheet::{Book, Cell, Sheet, check_row};

use super::ExportError;

/// The byte-order mark every file starts with.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The file name of the `index`-th sheet (from 1): `01-清单化管理统计表.csv`.
pub fn file_name(index: usize, sheet: &Sheet<'_>) -> String {
    let name: String = sheet
        .name
        .chars()
        .map(|c| if matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|') { '_' } else { c })
        .collect();
    format!("{index:02}-{name}.csv")
}

/// A cell as CSV text.
fn field(cell: &Cell) -> String {
    match cell {
        Cell::Text(t) if t.starts_with(['=', '+', '-', '@']) => format!("'{t}"),
        other => other.plain_text(),
    }
}

/// Writes one sheet to `out` as one CSV file; returns `out`.
pub fn write_sheet<W: Write>(sheet: Sheet<'_>, mut out: W) -> Result<W, ExportError> {
    out.write_all(BOM)?;
    let mut csv =
        ::csv::WriterBuilder::new().flexible(true).terminator(::csv::Terminator::CRLF).from_writer(out);
    for line in &sheet.title {
        csv.write_record([line])?;
    }
    csv.write_record(sheet.flat_headers())?;
    for row in sheet.rows {
        check_row(&sheet.name, &sheet.columns, &row)?;
        csv.write_record(row.cells.iter().map(field))?;
    }
    for line in &sheet.footer {
        csv.write_record([line])?;
    }
    csv.into_inner().map_err(|e| ExportError::Io(e.into_error()))
}

/// Writes every sheet of `book` to its own file: `open` is called with each
/// [`file_name`] and gives the writer. Returns the names, in order.
pub fn write_book<W: Write>(
    book: Book<'_>,
    mut open: impl FnMut(&str) -> std::io::Result<W>,
) -> Result<Vec<String>, ExportError> {
    let mut names = Vec::with_capacity(book.sheets.len());
    for (i, sheet) in book.sheets.into_iter().enumerate() {
        let name = file_name(i + 1, &sheet);
        let mut out = write_sheet(sheet, open(&name)?)?;
        out.flush()?;
        names.push(name);
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use gridsync_server_core::ledger::sheet::{DateTime, Ratio};

    use super::*;

    #[test]
    fn cells_are_plain_text_and_formulas_are_defused() {
        assert_eq!(field(&Cell::Int(-3)), "-3");
        assert_eq!(field(&Cell::Ratio(Ratio::new(954, 1000))), "95.40%");
        assert_eq!(field(&Cell::Ratio(Ratio::new(0, 0))), "");
        assert_eq!(field(&Cell::text("=HYPERLINK(\"x\")")), "'=HYPERLINK(\"x\")");
        assert_eq!(field(&Cell::text("-")), "'-");
        assert_eq!(field(&Cell::text("张*")), "张*");
        assert_eq!(field(&Cell::DateTime(DateTime::new(1_796_054_400_000, 480))), "2026-12-01 00:00");
    }
}
