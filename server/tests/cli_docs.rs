//! The documentation matches the binaries: every command that
//! `docs/CLI.md`, `docs/OPERATIONS.md` and `README.md` document for
//! `gridsync` (the device command line) and `gridsync-server` (the
//! operator's) exists, and its `--help` answers with exit code 0. The
//! documents are read when the test runs, so a command added to them is
//! checked too.
//!
//! A command is documented where a fenced code block's line or an inline
//! code span names `gridsync` or `gridsync-server` followed by words (`$
//! gridsync dispute step "$ID" escalate`, `` `gridsync-server --data DIR
//! enroll --user NAME` ``), and in the first column of a table headed
//! `Command` (`` `patrol start [--at MS]` ``), for `gridsync-server` under a
//! `##` heading that names the server, else for `gridsync`. Its command
//! path is the lowercase words after the binary and its global options
//! (`dispute step`), up to the first argument (`"$ID"`, `NAME`, `--json`);
//! `show|renew` stands for both. Each word of the path must be a
//! subcommand the binary lists, until a command that has none (its further
//! words are its own arguments, as in `new patrol`).
//!
//! `gridsync-server` is this package's binary; `gridsync` is built (or
//! found up to date) with the Cargo running the test, in the profile of the
//! test, into a target directory of its own under the tests' temporary
//! directory (`CARGO_TARGET_TMPDIR`): built into the main one, its
//! dependencies would be built with other features than the test's build
//! unifies and each build would undo the other.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The two binaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Bin {
    Device,
    Server,
}

impl Bin {
    fn name(self) -> &'static str {
        match self {
            Bin::Device => "gridsync",
            Bin::Server => "gridsync-server",
        }
    }
}

/// The documents checked, from the workspace's root.
const DOCUMENTS: [&str; 3] = ["docs/CLI.md", "docs/OPERATIONS.md", "README.md"];

/// A documented command: the binary and the words after it, as written.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Documented {
    bin: Bin,
    words: Vec<String>,
    at: String,
}

/// The workspace's root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace").to_owned()
}

/// The commands `text` documents; `at` names the document.
fn documented(text: &str, at: &str) -> Vec<Documented> {
    let mut found = Vec::new();
    let mut fenced = false;
    let mut section_bin = Bin::Device;
    let mut table_of_commands = false;
    let mut previous_was_table = false;
    for (n, line) in text.lines().enumerate() {
        let at = format!("{at}:{}", n + 1);
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") {
            fenced = !fenced;
            previous_was_table = false;
            continue;
        }
        if fenced {
            found.extend(mentions(line, &at));
            continue;
        }
        if let Some(heading) = trimmed.strip_prefix("## ") {
            section_bin = if heading.to_lowercase().contains("server") { Bin::Server } else { Bin::Device };
        }
        let spans = code_spans(line);
        for span in &spans {
            found.extend(mentions(span, &at));
        }
        let is_table = trimmed.starts_with('|');
        if is_table && !previous_was_table {
            let first = trimmed.trim_start_matches('|').split('|').next().unwrap_or_default();
            table_of_commands = first.trim() == "Command";
        } else if is_table && table_of_commands && !trimmed.starts_with("|---") {
            let first_cell = trimmed.trim_start_matches('|').trim_start();
            if let Some(span) = spans.first().filter(|_| first_cell.starts_with('`')) {
                let words = span.split_whitespace().map(str::to_owned).collect();
                found.push(Documented { bin: section_bin, words, at: at.clone() });
            }
        }
        previous_was_table = is_table;
    }
    found
}

/// The inline code spans of a line of prose.
fn code_spans(line: &str) -> Vec<String> {
    line.split('`').skip(1).step_by(2).map(str::to_owned).collect()
}

/// The commands a line of code names: `gridsync` or `gridsync-server` as a
/// word of its own (not `gridsync-cli`, not `gridsync:`), not a Cargo
/// package (`-p gridsync-server`), followed by words.
fn mentions(line: &str, at: &str) -> Vec<Documented> {
    // Up to a shell comment (`# gridsync limits logins …` in a config file).
    let tokens: Vec<&str> = line.split_whitespace().take_while(|t| !t.starts_with('#')).collect();
    let mut found = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        // `id=$(gridsync dispute new …)`, `` `gridsync sync` ``, `a && gridsync sync`.
        let name = token.rsplit(['(', '=', '`', '|', ';', '&']).next().unwrap_or_default();
        let bin = match name {
            "gridsync" => Bin::Device,
            "gridsync-server" => Bin::Server,
            _ => continue,
        };
        // An option's value (`cargo run -p gridsync-server`, `createdb --owner gridsync`).
        let option_value = i > 0 && tokens[i - 1].starts_with('-');
        if option_value || i + 1 == tokens.len() {
            continue;
        }
        let words = tokens[i + 1..].iter().map(|w| (*w).to_owned()).collect();
        found.push(Documented { bin, words, at: at.to_owned() });
    }
    found
}

/// The options of a command's help that take a value (`--data <DIR>`).
fn options_with_values(help: &str) -> BTreeSet<String> {
    help.lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let option = line.split_whitespace().find(|w| w.starts_with("--"))?;
            let option = option.trim_end_matches(',');
            line.contains(&format!("{option} <")).then(|| option.to_owned())
        })
        .collect()
}

/// The subcommands a help lists under `Commands:`.
fn subcommands(help: &str) -> BTreeSet<String> {
    help.lines()
        .skip_while(|l| l.trim() != "Commands:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect()
}

/// Whether `word` can be a subcommand's name: lowercase letters, digits and
/// hyphens, starting with a letter.
fn is_command_word(word: &str) -> bool {
    word.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && word.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The command paths `words` name, after the binary's global options
/// (skipped with their values, and `[...]` groups of them): `a|b`
/// alternatives give one path each; no path when the first word is not a
/// command's (`KIND list`, `"$@"`).
fn paths(words: &[String], global_values: &BTreeSet<String>) -> Vec<Vec<String>> {
    let mut i = 0;
    let mut bracket = 0_i32;
    while i < words.len() {
        let word = words[i].as_str();
        if bracket > 0 || word.starts_with('[') {
            bracket += word.matches('[').count() as i32 - word.matches(']').count() as i32;
            i += 1;
        } else if word.starts_with('-') {
            let takes_value = !word.contains('=') && global_values.contains(word);
            i += if takes_value { 2 } else { 1 };
        } else {
            break;
        }
    }
    let mut out: Vec<Vec<String>> = vec![Vec::new()];
    for word in &words[i.min(words.len())..] {
        let word = word.trim_end_matches([')', ';', '`']);
        let alternatives: Vec<&str> = word.split('|').collect();
        if alternatives.iter().any(|w| !is_command_word(w)) {
            break;
        }
        out = out
            .into_iter()
            .flat_map(|path| {
                alternatives.iter().map(move |w| {
                    let mut path = path.clone();
                    path.push((*w).to_owned());
                    path
                })
            })
            .collect();
    }
    out.retain(|path| !path.is_empty());
    out
}

/// `bin ARGS --help` (`bin help ARGS…` for clap's own `help`, which takes
/// no `--help`): exit code, stdout.
fn help(bin: &Path, args: &[String]) -> (Option<i32>, String) {
    let asks_help = args.first().is_none_or(|first| first != "help");
    let out = Command::new(bin)
        .args(args)
        .args(asks_help.then_some("--help"))
        .env_remove("GRIDSYNC_STORE")
        .env_remove("GRIDSYNC_DATA")
        .output()
        .expect("the binary runs");
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The newest modification time of the files under `dir`.
fn newest(dir: &Path) -> std::time::SystemTime {
    let mut latest = std::time::SystemTime::UNIX_EPOCH;
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let time = if path.is_dir() {
            newest(&path)
        } else {
            entry.metadata().and_then(|m| m.modified()).unwrap_or(std::time::SystemTime::UNIX_EPOCH)
        };
        latest = latest.max(time);
    }
    latest
}

/// The `gridsync` binary: the one `cargo test --workspace` built beside
/// this test (in the same profile) when it is newer than the sources it is
/// built from; else built by the Cargo running this test, in a target
/// directory of its own (a `cargo test -p gridsync-server` alone).
fn device_binary() -> PathBuf {
    let me = std::env::current_exe().expect("the test's path");
    let profile_dir = me.parent().and_then(Path::parent).expect("target/PROFILE/deps/TEST");
    let sibling = profile_dir.join(format!("gridsync{}", std::env::consts::EXE_SUFFIX));
    let built = std::fs::metadata(&sibling).and_then(|m| m.modified()).ok();
    let sources = ["cli", "client-core", "proto", "sql-support"]
        .iter()
        .map(|c| newest(&root().join(c).join("src")))
        .max()
        .unwrap_or(std::time::SystemTime::UNIX_EPOCH);
    if built.is_some_and(|built| built >= sources) {
        return sibling;
    }
    let release = profile_dir.file_name().is_some_and(|p| p == "release");
    let target_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-docs-target");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .current_dir(root())
        .args(["build", "--quiet", "-p", "gridsync-cli", "--bin", "gridsync", "--target-dir"])
        .arg(&target_dir)
        .env_remove("CARGO_TARGET_DIR");
    if release {
        build.arg("--release");
    }
    let status = build.status().expect("cargo runs");
    assert!(status.success(), "building gridsync failed: {status}");
    let profile = if release { "release" } else { "debug" };
    let bin = target_dir.join(profile).join(format!("gridsync{}", std::env::consts::EXE_SUFFIX));
    assert!(bin.is_file(), "{} was not built", bin.display());
    bin
}

#[test]
fn every_documented_command_has_a_working_help() {
    let mut commands = Vec::new();
    for document in DOCUMENTS {
        let text = std::fs::read_to_string(root().join(document)).expect("the document");
        commands.extend(documented(&text, document));
    }
    let bins =
        [(Bin::Device, device_binary()), (Bin::Server, PathBuf::from(env!("CARGO_BIN_EXE_gridsync-server")))];
    let mut checked: BTreeSet<(Bin, Vec<String>)> = BTreeSet::new();
    let mut wrong = Vec::new();
    for (bin, path) in &bins {
        let (code, top) = help(path, &[]);
        assert_eq!(code, Some(0), "{} --help", bin.name());
        let globals = options_with_values(&top);
        for doc in commands.iter().filter(|c| c.bin == *bin) {
            for words in paths(&doc.words, &globals) {
                if !checked.insert((*bin, words.clone())) {
                    continue;
                }
                if let Err(why) = check(path, &top, &words) {
                    wrong.push(format!("{}: `{} {}`: {why}", doc.at, bin.name(), words.join(" ")));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "documented commands the binaries do not have:\n{}", wrong.join("\n"));
    // The documents name commands of both binaries, through every kind of mention.
    for (bin, expected) in [
        (Bin::Device, &["sync"][..]),
        (Bin::Device, &["dispute", "step"]),
        (Bin::Device, &["patrol", "checkpoint"]),
        (Bin::Server, &["device", "list"]),
        (Bin::Server, &["enroll"]),
        (Bin::Server, &["epoch", "renew"]),
    ] {
        let expected: Vec<String> = expected.iter().map(|w| (*w).to_owned()).collect();
        assert!(
            checked.iter().any(|(b, words)| *b == bin && words.starts_with(&expected)),
            "`{} {}` was not found in the documents: {checked:?}",
            bin.name(),
            expected.join(" ")
        );
    }
}

/// Checks one command path: each word a listed subcommand of the one before
/// (until a command without subcommands), and `--help` exits 0 with a usage
/// line naming the command.
fn check(bin: &Path, top: &str, words: &[String]) -> Result<(), String> {
    let mut listed = subcommands(top);
    let mut depth = 0;
    while depth < words.len() && !listed.is_empty() {
        if !listed.contains(&words[depth]) {
            return Err(format!("`{}` is not one of {listed:?}", words[depth]));
        }
        depth += 1;
        let (code, text) = help(bin, &words[..depth]);
        if code != Some(0) {
            return Err(format!("`--help` exits with {code:?}"));
        }
        let name = bin.file_stem().and_then(|n| n.to_str()).unwrap_or_default();
        let usage = format!("{name} {}", words[..depth].join(" "));
        if words[0] != "help" && !text.contains(&usage) {
            return Err(format!("its help does not show the usage `{usage}`:\n{text}"));
        }
        listed = subcommands(&text);
    }
    if depth == 0 {
        return Err("the binary has no commands".into());
    }
    Ok(())
}

#[test]
fn mentions_are_found_in_code_blocks_spans_and_tables() {
    let text = "\
## Commands
```console
$ patrol=$(gridsync --store w.db patrol start)
$ cargo build -p gridsync-server -p gridsync-cli
gridsync: enrolled as li
```
Run `gridsync-server --data DIR epoch show|renew` or `gridsync help COMMAND`.

| Command | What |
|---|---|
| `dispute step ID ACTION` | a step |

## The server's lists
| Command | Columns |
|---|---|
| `user list` | NAME |
";
    let found = documented(text, "t.md");
    let globals: BTreeSet<String> = ["--store", "--data"].iter().map(|s| (*s).to_owned()).collect();
    let mut all: Vec<(Bin, Vec<String>)> =
        found.iter().flat_map(|d| paths(&d.words, &globals).into_iter().map(move |p| (d.bin, p))).collect();
    all.sort();
    let words = |w: &[&str]| w.iter().map(|w| (*w).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        all,
        vec![
            (Bin::Device, words(&["dispute", "step"])),
            (Bin::Device, words(&["help"])),
            (Bin::Device, words(&["patrol", "start"])),
            (Bin::Server, words(&["epoch", "renew"])),
            (Bin::Server, words(&["epoch", "show"])),
            (Bin::Server, words(&["user", "list"])),
        ]
    );
}
