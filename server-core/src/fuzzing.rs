//! What the `push` and `import` fuzz targets run (`fuzz/fuzz_targets`),
//! written against the [`Storage`] seam like the [`crate::conformance`]
//! suite, so the fuzz targets and the corpus replay of a backend's tests
//! (`server-sqlite/tests/fuzz_corpus.rs`) run the same code: the fuzzer
//! with nightly and libFuzzer, the replay in a plain `cargo test`. Not an
//! API (feature `fuzzing`); a case panics when an invariant breaks.
//!
//! Each case runs on a store of its own, copied from a template that a
//! [`Bench`] sets up once through the service, as the operator would
//! ([`town`]): places, users and enrolled devices with fixed names and ids,
//! so that an input means the same thing in every run.
//!
//! * [`Bench::push`]: a sequence of pushes (and pulls) by those devices,
//!   built from the input with [`arbitrary`] ([`push`]): writes made the way
//!   a handset makes them, retries, forged and tampered changes. After each
//!   push the log and the record states are checked against what the answer
//!   says ([`push::check`]).
//! * [`Bench::import`]: a places or units CSV imported by the operator or
//!   an administrator of part of the hierarchy ([`import`]): all or nothing.
//!
//! A case's store lives in a temporary directory under `/dev/shm` when the
//! machine has one (commits there cost no disk flush), else under the
//! system's temporary directory.

pub mod import;
pub mod push;
pub mod town;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::Storage;
use crate::service::{Service, ServiceSettings};

/// A storage opened in a directory, and how to close it once every handle
/// to the storage is dropped (join a writer thread, say).
pub type Opened = (Arc<dyn Storage>, Box<dyn FnOnce() + Send>);

/// Opens (creating when empty) a backend's storage in a directory.
pub type Open = fn(&Path) -> Opened;

/// Fresh stores for fuzz cases: a template set up once, copied per case.
#[derive(Debug)]
pub struct Bench {
    template: tempfile::TempDir,
    open: Open,
    runtime: tokio::runtime::Runtime,
}

impl Bench {
    /// Sets up the template store with [`town::build`].
    pub fn new(open: Open) -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a Tokio runtime starts");
        let template = scratch_dir();
        let (storage, close) = open(template.path());
        let service = Service::new(storage.clone(), ServiceSettings::default());
        runtime.block_on(town::build(&service));
        drop(service);
        drop(storage);
        close();
        Self { template, open, runtime }
    }

    /// Runs one push case (see [`push`]). Inputs that do not make a plan
    /// are skipped.
    pub fn push(&self, data: &[u8]) {
        let Some(plan) = push::Plan::from_bytes(data) else { return };
        self.case(|service| push::run(service, plan));
    }

    /// Runs one import case (see [`import`]).
    pub fn import(&self, data: &[u8]) {
        let Some(case) = import::Case::from_bytes(data) else { return };
        self.case(|service| import::run(service, case));
    }

    /// Runs `case` on a copy of the template, then closes the copy.
    fn case<F: Future<Output = ()>>(&self, case: impl FnOnce(Service) -> F) {
        let dir = scratch_dir();
        copy_files(self.template.path(), dir.path());
        let (storage, close) = (self.open)(dir.path());
        let service = Service::new(storage.clone(), ServiceSettings::default());
        drop(storage);
        self.runtime.block_on(case(service));
        close();
    }
}

/// A temporary directory for a store.
fn scratch_dir() -> tempfile::TempDir {
    let shm = PathBuf::from("/dev/shm");
    let root = if shm.is_dir() { shm } else { std::env::temp_dir() };
    tempfile::Builder::new().prefix("gridsync-fuzz-").tempdir_in(root).expect("a temporary directory")
}

/// Copies every file of `from` (not its subdirectories) into `to`.
fn copy_files(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("the template directory reads") {
        let path = entry.expect("a template entry").path();
        if path.is_file() {
            let name = path.file_name().expect("a file name");
            std::fs::copy(&path, to.join(name)).expect("a template file copies");
        }
    }
}
