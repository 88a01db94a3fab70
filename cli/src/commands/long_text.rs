//! Long text arguments — notes, summaries, results — given on the command
//! line, as `-` for standard input, or as `--…-file FILE`. Every source is
//! read with a bound and held to [`MAX_CHARS`] characters.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// The most characters a long text argument takes: the longest text the
/// record rules accept anywhere (a note). Fields with a shorter limit (a
/// checkpoint's note, a summary) are then held to it by the rules.
pub(crate) const MAX_CHARS: usize = 20_000;

/// The most bytes read for [`MAX_CHARS`] characters of UTF-8.
const MAX_BYTES: u64 = MAX_CHARS as u64 * 4;

/// The text of the argument `--NAME TEXT` / `--NAME-file FILE` (or, for
/// `note`'s positional, `TEXT` / `--text-file FILE`): `inline` as given,
/// standard input when it is `-`, or the file's content. A text read from
/// standard input or a file loses one trailing line break. Errors name the
/// argument and never show the text.
pub(crate) fn resolve(name: &str, inline: Option<String>, file: Option<PathBuf>) -> Result<Option<String>> {
    let (shown, text) = match (inline, file) {
        (Some(text), _) if text == "-" => (format!("{} -", argument(name)), read_stdin(name)?),
        (Some(text), _) => (argument(name), text),
        (None, Some(path)) if path.as_os_str() == "-" => (format!("--{name}-file -"), read_stdin(name)?),
        (None, Some(path)) => (format!("--{name}-file {}", path.display()), read_file(name, &path)?),
        (None, None) => return Ok(None),
    };
    let chars = text.chars().count();
    if chars > MAX_CHARS {
        bail!(
            "{shown}: the text is {} characters long; at most {} are taken: shorten it",
            group(chars),
            group(MAX_CHARS)
        );
    }
    Ok(Some(text))
}

/// How an inline value of the argument is named: `TEXT` for `note`'s
/// positional, else `--NAME`.
fn argument(name: &str) -> String {
    if name == "text" { "TEXT".to_owned() } else { format!("--{name}") }
}

/// Standard input, bounded.
fn read_stdin(name: &str) -> Result<String> {
    let shown = format!("{} - (standard input)", argument(name));
    bounded(io::stdin().lock(), &shown)
}

/// A file, bounded.
fn read_file(name: &str, path: &Path) -> Result<String> {
    let shown = format!("--{name}-file {}", path.display());
    let file = File::open(path).with_context(|| format!("cannot read {shown}"))?;
    bounded(file, &shown)
}

/// At most [`MAX_BYTES`] bytes of UTF-8 from `from`, less one trailing line
/// break; more is refused without reading it all.
fn bounded(from: impl Read, shown: &str) -> Result<String> {
    let mut bytes = Vec::new();
    from.take(MAX_BYTES + 1).read_to_end(&mut bytes).with_context(|| format!("cannot read {shown}"))?;
    if bytes.len() as u64 > MAX_BYTES {
        bail!("{shown}: the text is longer than {} characters: shorten it", group(MAX_CHARS));
    }
    let mut text = String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("{shown} is not UTF-8 text"))?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    Ok(text)
}

/// `20000` as `20,000`.
fn group(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_text_is_taken_as_is_up_to_the_limit() {
        assert_eq!(resolve("note", None, None).ok(), Some(None));
        let text = "调".repeat(MAX_CHARS);
        assert_eq!(resolve("note", Some(text.clone()), None).ok(), Some(Some(text)));
        let err = resolve("summary", Some("调".repeat(MAX_CHARS + 1)), None).expect_err("too long");
        assert_eq!(
            err.to_string(),
            "--summary: the text is 20,001 characters long; at most 20,000 are taken: shorten it"
        );
        let err = resolve("text", Some("x".repeat(MAX_CHARS + 1)), None).expect_err("too long");
        assert!(err.to_string().starts_with("TEXT: "), "{err}");
    }

    #[test]
    fn a_file_is_read_with_a_bound() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("note.txt");
        std::fs::write(&path, "双方达成协议\r\n").expect("write");
        assert_eq!(resolve("note", None, Some(path.clone())).ok(), Some(Some("双方达成协议".to_owned())));
        std::fs::write(&path, "a".repeat(MAX_BYTES as usize + 10)).expect("write");
        let err = resolve("note", None, Some(path.clone())).expect_err("too long");
        assert!(err.to_string().contains("--note-file") && err.to_string().contains("20,000"), "{err}");
        std::fs::write(&path, [0xff, 0xfe]).expect("write");
        let err = resolve("note", None, Some(path)).expect_err("not UTF-8");
        assert!(err.to_string().ends_with("is not UTF-8 text"), "{err}");
        let err = resolve("result", None, Some(dir.path().join("missing"))).expect_err("missing");
        assert!(err.to_string().starts_with("cannot read --result-file "), "{err}");
        assert_eq!(group(1_234_567), "1,234,567");
    }
}
