//! Text for terminals: control characters escaped, values shortened.

/// Escapes control characters (including newlines).
pub(super) fn clean(s: &str) -> String {
    s.chars().flat_map(|c| EscapeControl::new(c, false)).collect()
}

/// Escapes control characters but keeps newlines.
pub(super) fn clean_multiline(s: &str) -> String {
    s.chars().flat_map(|c| EscapeControl::new(c, true)).collect()
}

/// A character, or its `\u{..}` escape if it is a control character.
#[derive(Debug)]
enum EscapeControl {
    /// Printed as is.
    Plain(Option<char>),
    /// Escaped.
    Escaped(std::char::EscapeUnicode),
}

impl EscapeControl {
    fn new(c: char, keep_newline: bool) -> Self {
        if c.is_control() && !(keep_newline && c == '\n') {
            EscapeControl::Escaped(c.escape_unicode())
        } else {
            EscapeControl::Plain(Some(c))
        }
    }
}

impl Iterator for EscapeControl {
    type Item = char;

    fn next(&mut self) -> Option<char> {
        match self {
            EscapeControl::Plain(c) => c.take(),
            EscapeControl::Escaped(e) => e.next(),
        }
    }
}

/// At most `max` characters, with `…` if cut.
pub(super) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_long_text_cut() {
        assert_eq!(clean("a\nb"), "a\\u{a}b");
        assert_eq!(clean_multiline("a\u{1b}[31mb\nc"), "a\\u{1b}[31mb\nc");
        assert_eq!(truncate("平安无事了", 4), "平安无…");
        assert_eq!(truncate("平安", 4), "平安");
    }
}
