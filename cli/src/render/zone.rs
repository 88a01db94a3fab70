//! Times for people: Unix milliseconds shown in the deployment's time zone
//! (China Standard Time, UTC+8), or in UTC with `--utc`.
//!
//! The handset does not learn the server's `utc_offset_minutes`, so the
//! deployment's zone is China's fixed offset, as for dates. The zone is
//! chosen once, by `main`, for the whole of a command's text output
//! ([`set`]); JSON output keeps milliseconds.

use std::sync::OnceLock;

use gridsync_proto::Date;
use gridsync_proto::date::{CHINA_UTC_OFFSET_MINUTES, DAY_MS};

/// Where times are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Zone {
    /// UTC, as ISO 8601: `2024-05-01T08:30:00Z`.
    Utc,
    /// A fixed offset east of UTC in minutes, with the offset written
    /// after the time: `2024-05-01 16:30:00 +08:00`.
    East(i32),
}

/// How precisely a time is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Precision {
    /// To the second: when a change was made or received.
    Seconds,
    /// To the minute: a time a user gave (`visited_ms`, `started_ms`, …).
    Minutes,
}

/// The zone of the whole command's text output, once chosen.
static CHOSEN: OnceLock<Zone> = OnceLock::new();

impl Zone {
    /// The deployment's zone: China Standard Time.
    pub(crate) const DEPLOYMENT: Zone = Zone::East(CHINA_UTC_OFFSET_MINUTES);

    /// Unix milliseconds as a time in this zone, or `None` for a time
    /// outside the calendar (beyond the year 9999).
    pub(crate) fn format(self, ms: i64, precision: Precision) -> Option<String> {
        let offset = match self {
            Zone::Utc => 0,
            Zone::East(minutes) => minutes,
        };
        let (y, m, d) = Date::of_millis(ms, offset)?.ymd();
        if !(0..=9999).contains(&y) {
            return None;
        }
        let local = ms.checked_add(i64::from(offset) * 60_000)?;
        let secs = local.rem_euclid(DAY_MS) / 1000;
        let (hour, minute, second) = (secs / 3600, secs % 3600 / 60, secs % 60);
        let day = format!("{y:04}-{m:02}-{d:02}");
        Some(match (self, precision) {
            (Zone::Utc, Precision::Seconds) => format!("{day}T{hour:02}:{minute:02}:{second:02}Z"),
            (Zone::Utc, Precision::Minutes) => format!("{day}T{hour:02}:{minute:02}Z"),
            (Zone::East(_), Precision::Seconds) => {
                format!("{day} {hour:02}:{minute:02}:{second:02} {}", offset_text(offset))
            }
            (Zone::East(_), Precision::Minutes) => {
                format!("{day} {hour:02}:{minute:02} {}", offset_text(offset))
            }
        })
    }
}

/// `+08:00`, `-03:30`.
fn offset_text(minutes: i32) -> String {
    let sign = if minutes < 0 { '-' } else { '+' };
    let minutes = minutes.unsigned_abs();
    format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60)
}

/// Chooses the zone of this command's text output; only the first choice counts.
pub(crate) fn set(zone: Zone) {
    let _ = CHOSEN.set(zone);
}

/// The zone chosen by [`set`]; UTC until one is chosen (the renderings
/// alone, as their unit tests run them).
fn chosen() -> Zone {
    CHOSEN.get().copied().unwrap_or(Zone::Utc)
}

/// When a change was made or received (Unix ms), to the second.
pub(crate) fn time(ms: u64) -> String {
    at(i64::try_from(ms).ok(), Precision::Seconds).unwrap_or_else(|| format!("{ms} ms"))
}

/// A time a user gave (a `*_ms` value, Unix ms), to the minute; `None`
/// when it is not a time on the calendar.
pub(crate) fn value_time(ms: i64) -> Option<String> {
    at(Some(ms), Precision::Minutes)
}

fn at(ms: Option<i64>, precision: Precision) -> Option<String> {
    chosen().format(ms?, precision)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAY_FIRST: i64 = 1_714_552_200_999; // 2024-05-01T08:30:00.999Z

    #[test]
    fn utc_is_iso_8601() {
        let utc = |ms| Zone::Utc.format(ms, Precision::Seconds);
        assert_eq!(utc(0).as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(utc(MAY_FIRST).as_deref(), Some("2024-05-01T08:30:00Z"));
        assert_eq!(utc(1_709_164_800_000).as_deref(), Some("2024-02-29T00:00:00Z"));
        assert_eq!(utc(951_782_400_000).as_deref(), Some("2000-02-29T00:00:00Z"));
        assert_eq!(utc(4_102_444_799_000).as_deref(), Some("2099-12-31T23:59:59Z"));
        assert_eq!(Zone::Utc.format(MAY_FIRST, Precision::Minutes).as_deref(), Some("2024-05-01T08:30Z"));
    }

    #[test]
    fn china_time_carries_its_offset_and_crosses_midnight() {
        let china = |ms, p| Zone::DEPLOYMENT.format(ms, p);
        assert_eq!(china(MAY_FIRST, Precision::Seconds).as_deref(), Some("2024-05-01 16:30:00 +08:00"));
        assert_eq!(china(MAY_FIRST, Precision::Minutes).as_deref(), Some("2024-05-01 16:30 +08:00"));
        // 2026-12-02T20:01:51Z is the next morning in China.
        assert_eq!(china(1_796_241_711_117, Precision::Minutes).as_deref(), Some("2026-12-03 04:01 +08:00"));
        assert_eq!(china(0, Precision::Seconds).as_deref(), Some("1970-01-01 08:00:00 +08:00"));
        assert_eq!(
            Zone::East(-210).format(0, Precision::Minutes).as_deref(),
            Some("1969-12-31 20:30 -03:30")
        );
    }

    #[test]
    fn a_number_off_the_calendar_is_not_a_time() {
        assert_eq!(Zone::DEPLOYMENT.format(i64::MAX, Precision::Minutes), None);
        assert_eq!(Zone::Utc.format(300_000_000_000_000, Precision::Seconds), None, "year 11476");
        assert_eq!(Zone::Utc.format(-62_167_219_200_001, Precision::Seconds), None, "before year 0");
        assert_eq!(time(u64::MAX), format!("{} ms", u64::MAX));
    }
}
