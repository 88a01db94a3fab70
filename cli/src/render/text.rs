//! Text for terminals: control characters escaped, values shortened,
//! times in UTC ISO 8601.

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

/// Unix milliseconds as UTC ISO 8601, e.g. `2024-05-01T08:30:00Z`.
pub(crate) fn time(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// `civil_from_days`, for non-negative day counts).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_iso_8601() {
        assert_eq!(time(0), "1970-01-01T00:00:00Z");
        assert_eq!(time(1_714_552_200_999), "2024-05-01T08:30:00Z");
        assert_eq!(time(1_709_164_800_000), "2024-02-29T00:00:00Z");
        assert_eq!(time(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(time(4_102_444_799_000), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn control_characters_are_escaped_and_long_text_cut() {
        assert_eq!(clean("a\nb"), "a\\u{a}b");
        assert_eq!(clean_multiline("a\u{1b}[31mb\nc"), "a\\u{1b}[31mb\nc");
        assert_eq!(truncate("平安无事了", 4), "平安无…");
        assert_eq!(truncate("平安", 4), "平安");
    }
}
