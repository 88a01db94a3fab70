//! The part of the `gridsync` command line that other code runs too: the
//! syntax of field values (`KEY=TEXT`, `KEY:=JSON`, [`values`]), which the
//! `cli_values` fuzz target and its corpus replay (`cli/tests/fuzz_corpus.rs`)
//! exercise through [`fuzzing`]. The commands themselves live in the binary.

pub mod values;

#[doc(hidden)]
pub mod fuzzing;
