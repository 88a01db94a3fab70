//! The operator's list commands as aligned text: a header line, then one
//! line per row, columns padded to the widest cell by its width on a
//! terminal (a Chinese character takes two columns), two spaces between
//! columns, no padding after the last one.

use unicode_width::UnicodeWidthStr;

/// The lines of a table: `header` first, then `rows` (each as many cells as
/// the header has columns), aligned.
pub fn aligned(header: &[&str], rows: &[Vec<String>]) -> Vec<String> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.width()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.width());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut text = String::new();
        let last = widths.len().saturating_sub(1);
        for (i, (cell, width)) in cells.zip(&widths).enumerate() {
            if i > 0 {
                text.push_str("  ");
            }
            text.push_str(cell);
            if i < last {
                text.extend(std::iter::repeat_n(' ', width.saturating_sub(cell.width())));
            }
        }
        text.truncate(text.trim_end().len());
        text
    };
    let mut lines = Vec::with_capacity(rows.len() + 1);
    lines.push(line(&mut header.iter().copied()));
    lines.extend(rows.iter().map(|row| line(&mut row.iter().map(String::as_str))));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_on_a_terminal_with_chinese_names() {
        let rows = vec![
            vec!["G1".to_owned(), "第三网格".to_owned(), "grid".to_owned()],
            vec!["5301.02".to_owned(), "城关镇".to_owned(), "township".to_owned()],
        ];
        let lines = aligned(&["CODE", "NAME", "LEVEL"], &rows);
        assert_eq!(lines[0], "CODE     NAME      LEVEL");
        assert_eq!(lines[1], "G1       第三网格  grid");
        assert_eq!(lines[2], "5301.02  城关镇    township");
    }
}
