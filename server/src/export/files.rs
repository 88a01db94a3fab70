//! Writing a book to files: each file is written under a temporary name
//! beside its destination and renamed into place once complete, so an
//! interrupted export never leaves a half-written ledger behind. Files are
//! created readable by their owner only (a ledger names people).

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::{Book, ExportError, Format, csv, json, xlsx};

/// Writes `book` in `format` to `out`: the file for XLSX and JSON, a
/// directory (created if missing) holding one file per sheet for CSV.
/// Returns the files written.
pub fn write_files(book: Book<'_>, format: Format, out: &Path) -> Result<Vec<PathBuf>, ExportError> {
    match format {
        Format::Xlsx => {
            let dir = parent(out);
            let options = xlsx::Options { tempdir: Some(dir.to_owned()) };
            atomically(out, |w| xlsx::write_with(book, w, &options))?;
            Ok(vec![out.to_owned()])
        }
        Format::Json => {
            atomically(out, |w| json::write(book, w).map(drop))?;
            Ok(vec![out.to_owned()])
        }
        Format::Csv => {
            fs::create_dir_all(out)?;
            let mut written = Vec::new();
            for (i, sheet) in book.sheets.into_iter().enumerate() {
                let path = out.join(csv::file_name(i + 1, &sheet));
                atomically(&path, |w| csv::write_sheet(sheet, w).map(drop))?;
                written.push(path);
            }
            Ok(written)
        }
    }
}

/// The directory a file goes in (the current one for a bare name).
fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Runs `write` into a temporary file beside `path` (mode 0600) and renames
/// it to `path` when it succeeded.
fn atomically(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<&mut fs::File>) -> Result<(), ExportError>,
) -> Result<(), ExportError> {
    let mut file = tempfile::NamedTempFile::new_in(parent(path))?;
    {
        let mut out = BufWriter::new(file.as_file_mut());
        write(&mut out)?;
        out.flush()?;
    }
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| ExportError::Io(e.error))?;
    Ok(())
}
