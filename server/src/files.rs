//! Reading the files an operator names (`--config`, `place import`, `unit
//! import`, the TLS certificate and key): only regular files, only up to a
//! bound, and never echoing their content in an error.
//!
//! A path may name anything: `/dev/zero` (endless), a FIFO (blocks until a
//! writer comes), a directory, or `/etc/shadow` (secret). [`read_bounded`]
//! refuses what is not a regular file before opening it, checks again on
//! the opened file, and stops reading one byte past the bound.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use anyhow::{Context, bail};

/// Largest settings file read (`--config`).
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;
/// Largest CSV file read by `place import` and `unit import` (the admin
/// API takes the same).
pub const MAX_CSV_BYTES: u64 = 16 * 1024 * 1024;
/// Largest PEM file read (a certificate chain or a private key).
pub const MAX_PEM_BYTES: u64 = 1024 * 1024;

/// Reads the regular file at `path`, at most `max` bytes. `what` names it in
/// errors ("settings file", "CSV file"), which hold the path and what is
/// wrong, never the content.
pub fn read_bounded(path: &Path, max: u64, what: &str) -> anyhow::Result<Vec<u8>> {
    let shown = path.display();
    let metadata = std::fs::metadata(path).with_context(|| format!("cannot read {what} {shown}"))?;
    if !metadata.is_file() {
        bail!("{what} {shown} is not a regular file");
    }
    if metadata.len() > max {
        bail!("{what} {shown} is larger than {max} bytes");
    }
    let file = File::open(path).with_context(|| format!("cannot read {what} {shown}"))?;
    // The path may have been swapped between the two looks: check the file
    // actually opened.
    let opened = file.metadata().with_context(|| format!("cannot read {what} {shown}"))?;
    if !opened.is_file() {
        bail!("{what} {shown} is not a regular file");
    }
    let mut bytes = Vec::with_capacity(usize::try_from(opened.len().min(max)).unwrap_or(0));
    file.take(max + 1).read_to_end(&mut bytes).with_context(|| format!("cannot read {what} {shown}"))?;
    if bytes.len() as u64 > max {
        bail!("{what} {shown} is larger than {max} bytes");
    }
    Ok(bytes)
}

/// [`read_bounded`] for a text file: it must be UTF-8.
pub fn read_text(path: &Path, max: u64, what: &str) -> anyhow::Result<String> {
    String::from_utf8(read_bounded(path, max, what)?)
        .map_err(|_| anyhow::anyhow!("{what} {} is not UTF-8 text", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_within_the_bound_are_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("places.csv");
        std::fs::write(&file, "code,name\n").expect("write");
        assert_eq!(read_text(&file, 100, "CSV file").expect("read"), "code,name\n");

        let err = read_bounded(&file, 4, "CSV file").expect_err("too large").to_string();
        assert!(err.contains("larger than 4 bytes") && !err.contains("code"), "{err}");
        let err = read_bounded(dir.path(), 100, "CSV file").expect_err("a directory").to_string();
        assert!(err.contains("not a regular file"), "{err}");
        let err = read_bounded(Path::new("/dev/zero"), 100, "CSV file").expect_err("a device").to_string();
        assert!(err.contains("/dev/zero is not a regular file"), "{err}");
        let err = read_bounded(&dir.path().join("none"), 100, "CSV file").expect_err("missing").to_string();
        assert!(err.starts_with("cannot read CSV file"), "{err}");

        std::fs::write(&file, [0xff, 0xfe, b'a']).expect("write");
        let err = read_text(&file, 100, "CSV file").expect_err("not UTF-8").to_string();
        assert!(err.ends_with("is not UTF-8 text"), "{err}");
    }
}
