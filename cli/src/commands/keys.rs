//! The store key (from a key file, the environment or `STORE.key`) and
//! opening the store with it.

use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use gridsync_client_core::{Error as StoreError, Store, StoreKey};

/// The environment variable that may hold the store key, as 64 hexadecimal digits.
pub(crate) const KEY_ENV: &str = "GRIDSYNC_STORE_KEY";

/// Where the store key comes from. (No `Debug`: it may hold the key.)
pub(crate) enum KeySource {
    /// `--key-file FILE`.
    File(PathBuf),
    /// The environment variable [`KEY_ENV`].
    Env(OsString),
    /// `STORE.key` next to the store (may not exist yet).
    Default(PathBuf),
}

impl KeySource {
    /// `--key-file`, else the environment, else the default file.
    pub(crate) fn find(key_file: Option<PathBuf>, store: &Path) -> Self {
        match (key_file, std::env::var_os(KEY_ENV)) {
            (Some(file), _) => KeySource::File(file),
            (None, Some(hex)) if !hex.is_empty() => KeySource::Env(hex),
            _ => KeySource::Default(default_key_file(store)),
        }
    }

    /// Reads the key. `None` only for a default file that does not exist.
    pub(crate) fn read(&self) -> Result<Option<StoreKey>> {
        match self {
            KeySource::File(file) => read_key_file(file).map(Some),
            KeySource::Env(hex) => {
                let key = hex.to_str().ok_or(StoreError::KeyFormat).and_then(StoreKey::from_hex);
                Ok(Some(key.with_context(|| format!("{KEY_ENV} does not hold a store key"))?))
            }
            KeySource::Default(file) if file.exists() => read_key_file(file).map(Some),
            KeySource::Default(_) => Ok(None),
        }
    }
}

/// `STORE.key`: the store's path with `.key` appended.
pub(crate) fn default_key_file(store: &Path) -> PathBuf {
    let mut name = store.as_os_str().to_owned();
    name.push(".key");
    PathBuf::from(name)
}

/// Reads a key file; the error names the file, never its content.
fn read_key_file(file: &Path) -> Result<StoreKey> {
    let text =
        fs::read_to_string(file).with_context(|| format!("cannot read the key file {}", file.display()))?;
    StoreKey::from_hex(&text)
        .with_context(|| format!("the key file {} does not hold a store key", file.display()))
}

/// Writes a new random key to `file`, readable by its owner only; fails if
/// the file exists (a key is never overwritten).
pub(crate) fn create_key_file(file: &Path) -> Result<StoreKey> {
    let key = StoreKey::generate()?;
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let write = || -> std::io::Result<()> {
        let mut f = options.open(file)?;
        f.write_all(format!("{}\n", key.to_hex()).as_bytes())?;
        // On disk before the store that needs it.
        f.sync_all()?;
        #[cfg(unix)]
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    };
    write().with_context(|| format!("cannot create the key file {}", file.display()))?;
    Ok(key)
}

/// Opens an existing store with its key; never creates a file.
pub(crate) fn open(path: &Path, keys: &KeySource) -> Result<Store> {
    let key = key_for(path, keys)?;
    Store::open(path, &key).with_context(|| format!("cannot open the store at {}", path.display()))
}

/// The key of the existing store at `path`.
pub(crate) fn key_for(path: &Path, keys: &KeySource) -> Result<StoreKey> {
    if !path.exists() && !gridsync_client_core::doctor::interrupted(path) {
        bail!(
            "no store at {}; create one with `gridsync --store {} init --server URL --code CODE`",
            path.display(),
            path.display()
        );
    }
    let Some(key) = keys.read()? else {
        let default = default_key_file(path);
        bail!(
            "no store key: pass --key-file FILE, set {KEY_ENV} to the key's 64 hexadecimal digits, \
             or keep the key in {}",
            default.display()
        );
    };
    Ok(key)
}
