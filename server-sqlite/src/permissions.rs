//! Who may read the data directory: only the server's own user. The
//! database holds residents' names and ID numbers, so the directory is kept
//! at mode 0700 and the database with its `-wal` and `-shm` files at 0600,
//! set when they are created and tightened on every open of an existing
//! directory (with a warning naming what was looser).
//!
//! Only Unix file modes are handled; elsewhere nothing is changed.

use std::io;
use std::path::{Path, PathBuf};

use crate::DB_FILE;

/// Mode of the data directory.
pub const DIR_MODE: u32 = 0o700;
/// Mode of the database and its `-wal` and `-shm` files.
pub const FILE_MODE: u32 = 0o600;

/// The database and the files SQLite keeps beside it.
fn database_files(data_dir: &Path) -> [PathBuf; 3] {
    [DB_FILE.to_owned(), format!("{DB_FILE}-wal"), format!("{DB_FILE}-shm")].map(|name| data_dir.join(name))
}

/// Creates the data directory (mode 0700) and, when it has none, an empty
/// database file (mode 0600) for SQLite to fill, so that no file of the
/// database is ever created readable by others.
pub(crate) fn create(data_dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
    builder.create(data_dir)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, FILE_MODE);
    match options.open(data_dir.join(DB_FILE)) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Takes group and other permissions away from the data directory and the
/// database files that exist (leaving the owner's as they are: 0700 and
/// 0600 for files made here); returns those that had any, each with the
/// mode it had.
#[cfg(unix)]
pub(crate) fn tighten(data_dir: &Path) -> io::Result<Vec<(PathBuf, u32)>> {
    use std::os::unix::fs::PermissionsExt;
    let mut tightened = Vec::new();
    for path in std::iter::once(data_dir.to_owned()).chain(database_files(data_dir)) {
        let metadata = match std::fs::metadata(&path) {
            Ok(metadata) => metadata,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let had = metadata.permissions().mode() & 0o7777;
        if had & 0o077 != 0 {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(had & !0o077))?;
            tightened.push((path, had));
        }
    }
    Ok(tightened)
}

/// Nothing to do without Unix modes.
#[cfg(not(unix))]
pub(crate) fn tighten(_data_dir: &Path) -> io::Result<Vec<(PathBuf, u32)>> {
    Ok(Vec::new())
}

/// [`tighten`], with a warning for each file that was open to others.
pub(crate) fn tighten_and_warn(data_dir: &Path) -> io::Result<()> {
    for (path, had) in tighten(data_dir)? {
        tracing::warn!(
            path = %path.display(),
            mode = %format_args!("{had:o}"),
            "the data directory or database was readable by other users; permissions tightened to owner only"
        );
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).expect("metadata").permissions().mode() & 0o777
    }

    #[test]
    fn a_new_directory_is_private_and_an_open_one_is_tightened() {
        let parent = tempfile::tempdir().expect("tempdir");
        let data = parent.path().join("data");
        create(&data).expect("create");
        assert_eq!(mode(&data), DIR_MODE);
        assert_eq!(mode(&data.join(DB_FILE)), FILE_MODE);
        assert!(tighten(&data).expect("tighten").is_empty(), "nothing to tighten on a fresh directory");

        // An older deployment: world-readable directory and database.
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        std::fs::set_permissions(data.join(DB_FILE), std::fs::Permissions::from_mode(0o644)).expect("chmod");
        std::fs::write(data.join(format!("{DB_FILE}-wal")), b"").expect("wal");
        std::fs::set_permissions(data.join(format!("{DB_FILE}-wal")), std::fs::Permissions::from_mode(0o664))
            .expect("chmod");
        let tightened = tighten(&data).expect("tighten");
        let names: Vec<(String, u32)> = tightened
            .iter()
            .map(|(p, had)| (p.file_name().expect("name").to_string_lossy().into_owned(), *had))
            .collect();
        assert_eq!(
            names,
            [("data".to_owned(), 0o755), (DB_FILE.to_owned(), 0o644), (format!("{DB_FILE}-wal"), 0o664)]
        );
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join(DB_FILE)), 0o600);
        assert_eq!(mode(&data.join(format!("{DB_FILE}-wal"))), 0o600);
        assert!(tighten(&data).expect("again").is_empty(), "tightened once for all");
    }
}
