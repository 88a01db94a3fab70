//! The `push` and `import` fuzz targets' corpora, replayed on stable on the
//! SQLite backend: every committed seed (`fuzz/corpus/<target>`) and every
//! input that once broke an invariant (`fuzz/regressions/<target>`) goes
//! through the same code the fuzzer runs
//! ([`gridsync_server_core::fuzzing::Bench`]), each on a fresh copy of the
//! town's store.

use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use gridsync_server_core::Storage;
use gridsync_server_core::fuzzing::{Bench, Opened, import};
use gridsync_server_sqlite::SqliteStorage;

fn open(dir: &Path) -> Opened {
    let (storage, writer) = SqliteStorage::open(dir).expect("the store opens");
    (Arc::new(storage) as Arc<dyn Storage>, Box::new(move || writer.join()))
}

static BENCH: LazyLock<Bench> = LazyLock::new(|| Bench::new(open));

fn fuzz_dir(kind: &str, target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz").join(kind).join(target)
}

/// The files of a corpus directory, by name (none if it does not exist).
fn inputs(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<(String, Vec<u8>)> = entries
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != "README.md"))
        .map(|p| (p.display().to_string(), std::fs::read(&p).expect("a corpus file reads")))
        .collect();
    files.sort();
    files
}

fn replay(target: &str, run: impl Fn(&[u8])) {
    let seeds = inputs(&fuzz_dir("corpus", target));
    assert!(!seeds.is_empty(), "the {target} seed corpus is committed");
    for (name, data) in seeds.iter().chain(&inputs(&fuzz_dir("regressions", target))) {
        eprintln!("{name}");
        run(data);
    }
}

#[test]
fn every_push_seed_and_regression_replays() {
    replay("push", |data| BENCH.push(data));
}

#[test]
fn every_import_seed_and_regression_replays() {
    replay("import", |data| BENCH.import(data));
}

/// The import seeds are committed as [`import::seeds`] lists them; set
/// `GRIDSYNC_WRITE_SEEDS=1` to write them after a change.
#[test]
fn the_listed_import_seeds_are_committed() {
    let dir = fuzz_dir("corpus", "import");
    let write = std::env::var_os("GRIDSYNC_WRITE_SEEDS").is_some();
    for (name, bytes) in import::seeds() {
        let path = dir.join(format!("seed-{name}"));
        if write {
            std::fs::create_dir_all(&dir).expect("the corpus directory");
            std::fs::write(&path, &bytes).expect("a seed writes");
        }
        let committed = std::fs::read(&path).unwrap_or_default();
        assert!(committed == bytes, "{} is stale: run with GRIDSYNC_WRITE_SEEDS=1", path.display());
    }
}
