//! The `wire` fuzz target's corpus, replayed on stable: every committed seed
//! (`fuzz/corpus/wire`) and every input that once broke an invariant
//! (`fuzz/regressions/wire`) goes through the same code the fuzzer runs
//! ([`gridsync_proto::fuzzing::decoders`]).

use std::path::{Path, PathBuf};

use gridsync_proto::fuzzing;

fn fuzz_dir(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz").join(kind).join("wire")
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

#[test]
fn every_seed_and_regression_replays() {
    let seeds = inputs(&fuzz_dir("corpus"));
    assert!(seeds.len() >= fuzzing::seeds().len(), "the seed corpus is committed");
    for (name, data) in seeds.iter().chain(&inputs(&fuzz_dir("regressions"))) {
        eprintln!("{name}");
        fuzzing::decoders(data);
    }
}

/// The generated seeds are committed as they are generated; set
/// `GRIDSYNC_WRITE_SEEDS=1` to write them after a wire change.
#[test]
fn the_generated_seeds_are_committed() {
    let dir = fuzz_dir("corpus");
    let write = std::env::var_os("GRIDSYNC_WRITE_SEEDS").is_some();
    for (name, bytes) in fuzzing::seeds() {
        let path = dir.join(format!("seed-{name}"));
        if write {
            std::fs::create_dir_all(&dir).expect("the corpus directory");
            std::fs::write(&path, &bytes).expect("a seed writes");
        }
        let committed = std::fs::read(&path).unwrap_or_default();
        assert!(committed == bytes, "{} is stale: run with GRIDSYNC_WRITE_SEEDS=1", path.display());
    }
}

/// Short, malformed inputs of every prefix of the seeds: the cheap part of
/// what the fuzzer tries first.
#[test]
fn every_prefix_of_every_seed_is_refused_or_decoded() {
    for (_, bytes) in fuzzing::seeds() {
        for end in 0..bytes.len() {
            fuzzing::decoders(&bytes[..end]);
        }
    }
}
