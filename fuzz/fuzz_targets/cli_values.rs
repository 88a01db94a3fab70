//! The device CLI's value arguments (`KEY=TEXT`, `KEY:=JSON`, ids, dates),
//! one per line ([`fuzzing::parse_arguments`]).
//!
//! The two modules are the CLI's own source files, compiled in here rather
//! than through the `gridsync-cli` package, whose other dependencies (the
//! handset store, its HTTP client and TLS) the parser does not use; the
//! same files make `gridsync_cli::{values, fuzzing}`, which
//! `cli/tests/fuzz_corpus.rs` replays the corpus through.
#![no_main]

#[path = "../../cli/src/values.rs"]
#[allow(dead_code)]
mod values;

#[path = "../../cli/src/fuzzing.rs"]
#[allow(dead_code)]
mod fuzzing;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzzing::parse_arguments(data));
