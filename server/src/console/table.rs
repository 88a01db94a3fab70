//! A ledger sheet ([`gridsync_server_core::ledger::sheet::Sheet`], what the
//! XLSX and CSV exports write) as an HTML table: the title lines as the
//! caption, the merged multi-row header with `rowspan`/`colspan`, typed
//! cells (numbers right-aligned, shares as percentages, times in the
//! deployment's zone), and the footer lines below.
//!
//! The sheets' texts are the official ledger's, in Chinese, in either
//! language of the console, as in the exported files.

use gridsync_server_core::ledger::sheet::{Cell, Kind, RowStyle, Sheet};
use maud::{Markup, html};

/// A window of the rows: skip `skip`, show at most `take`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    /// Rows skipped.
    pub(crate) skip: usize,
    /// Most rows shown.
    pub(crate) take: usize,
}

impl Window {
    /// Every row.
    pub(crate) const ALL: Window = Window { skip: 0, take: usize::MAX };
}

/// The sheet as a table with the given `id`, and how many rows it has.
pub(crate) fn render(sheet: Sheet<'_>, id: &str, window: Window) -> (Markup, usize) {
    let Sheet { title, columns, header, header_rows, rows, footer, .. } = sheet;
    let mut total = 0usize;
    let mut shown = Vec::new();
    for row in rows {
        if total >= window.skip && shown.len() < window.take {
            shown.push(row);
        }
        total += 1;
    }
    let classes: Vec<&str> = columns.iter().map(|c| cell_class(c.kind, c.width)).collect();
    let markup = html! {
        @for line in title.iter().take(1) { h3.sheet-title { (line) } }
        @for line in title.iter().skip(1) { p.muted { (line) } }
        div.scroll {
            table.sheet id=(id) {
                thead {
                    @for r in 0..header_rows {
                        tr {
                            @for cell in header.iter().filter(|c| c.row == r) {
                                th rowspan=(cell.rows) colspan=(cell.cols) scope="col" { (cell.text) }
                            }
                        }
                    }
                }
                tbody {
                    @for row in &shown {
                        tr class=(style_class(row.style)) {
                            @for (i, cell) in row.cells.iter().enumerate() {
                                td class=(classes.get(i).copied().unwrap_or("")) { (cell_text(cell)) }
                            }
                        }
                    }
                }
            }
        }
        @for line in &footer { p.muted { (line) } }
    };
    (markup, total)
}

/// A cell's class: numbers right-aligned; text kept at least as wide as
/// the column's width in the sheet (in three steps: the page's content
/// security policy allows no inline style).
fn cell_class(kind: Kind, width: u16) -> &'static str {
    match kind {
        Kind::Integer | Kind::Ratio => "num",
        Kind::Date | Kind::DateTime => "when",
        Kind::Text if width >= 24 => "text wide",
        Kind::Text if width >= 14 => "text mid",
        Kind::Text => "text",
    }
}

fn style_class(style: RowStyle) -> &'static str {
    match style {
        RowStyle::Body => "body",
        RowStyle::Subtotal => "subtotal",
        RowStyle::Total => "total",
    }
}

/// A cell as the CSV export writes it.
fn cell_text(cell: &Cell) -> String {
    match cell {
        Cell::Empty => String::new(),
        Cell::Text(s) => s.clone(),
        Cell::Int(n) => n.to_string(),
        Cell::Ratio(r) => r.percent_text().unwrap_or_default(),
        Cell::Date(d) => d.to_string(),
        Cell::DateTime(t) => t.local_text(),
    }
}

#[cfg(test)]
mod tests {
    use gridsync_server_core::ledger::sheet::{Column, HeaderNode, Ratio, Row, header};

    use super::*;

    #[test]
    fn a_sheet_renders_its_merged_header_and_typed_cells_escaped() {
        let (columns, cells, header_rows) = header(vec![
            HeaderNode::Column(Column::new("name", "单位", 10, Kind::Text)),
            HeaderNode::Group(
                "化解".into(),
                vec![
                    Column::new("n", "已化解", 8, Kind::Integer),
                    Column::new("r", "化解率", 8, Kind::Ratio),
                ],
            ),
        ]);
        let rows = vec![
            Row {
                style: RowStyle::Body,
                cells: vec![Cell::text("<东关村>"), Cell::Int(3), Cell::Ratio(Ratio::new(3, 4))],
            },
            Row { style: RowStyle::Total, cells: vec![Cell::text("合计"), Cell::Int(5), Cell::Empty] },
        ];
        let sheet = Sheet {
            name: "t".into(),
            title: vec!["标题".into()],
            columns,
            header: cells,
            header_rows,
            frozen_columns: 1,
            rows: Box::new(rows.into_iter()),
            footer: vec!["数据截至".into()],
        };
        let (markup, total) = render(sheet, "t", Window { skip: 1, take: 10 });
        let html = markup.into_string();
        assert_eq!(total, 2);
        assert!(html.contains(r#"<th rowspan="2" colspan="1" scope="col">单位</th>"#), "{html}");
        assert!(html.contains(r#"<th rowspan="1" colspan="2" scope="col">化解</th>"#), "{html}");
        assert!(!html.contains("东关村"), "the first row is skipped: {html}");
        assert!(html.contains(r#"<tr class="total">"#) && html.contains("数据截至"), "{html}");
        assert!(html.contains(r#"<td class="num">5</td>"#), "numbers are aligned: {html}");
    }

    #[test]
    fn cells_read_as_in_the_csv() {
        assert_eq!(cell_text(&Cell::Ratio(Ratio::new(1, 3))), "33.33%");
        assert_eq!(cell_text(&Cell::Ratio(Ratio::new(0, 0))), "");
        assert_eq!(cell_text(&Cell::text("<b>")), "<b>");
    }
}
