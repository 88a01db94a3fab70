//! Times in the operator's text output: Unix milliseconds shown as a date
//! and a time of day in the deployment's time zone (the setting
//! `utc_offset_minutes`, China time by default) with its offset, or in UTC
//! with `--utc`. JSON output keeps Unix milliseconds.

use gridsync_proto::Date;

/// The time zone text output shows times in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zone {
    /// Minutes east of UTC.
    offset_minutes: i32,
}

const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 24 * 60 * MINUTE_MS;

impl Zone {
    /// The deployment's zone, `utc_offset_minutes` east of UTC, or UTC when
    /// `utc` (the global `--utc` flag).
    pub fn new(utc_offset_minutes: i32, utc: bool) -> Self {
        Self { offset_minutes: if utc { 0 } else { utc_offset_minutes } }
    }

    /// `unix_ms` as `YYYY-MM-DD HH:MM:SS +08:00` (or `… UTC`); a time no
    /// calendar holds as its milliseconds.
    pub fn show(self, unix_ms: u64) -> String {
        let Ok(ms) = i64::try_from(unix_ms) else { return format!("{unix_ms} ms") };
        let Some(date) = Date::of_millis(ms, self.offset_minutes) else { return format!("{unix_ms} ms") };
        let local = ms + i64::from(self.offset_minutes) * MINUTE_MS;
        let seconds = local.rem_euclid(DAY_MS) / 1000;
        let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
        format!("{date} {h:02}:{m:02}:{s:02} {}", self.label())
    }

    /// [`Self::show`] of a time, or `none` when there is none.
    pub fn show_or(self, unix_ms: Option<u64>, none: &str) -> String {
        unix_ms.map_or_else(|| none.to_owned(), |ms| self.show(ms))
    }

    /// `UTC`, or the offset as `+08:00`.
    fn label(self) -> String {
        if self.offset_minutes == 0 {
            return "UTC".to_owned();
        }
        let sign = if self.offset_minutes < 0 { '-' } else { '+' };
        let minutes = self.offset_minutes.unsigned_abs();
        format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-04 07:00:05 UTC.
    const AT: u64 = 1_796_367_605_000;

    #[test]
    fn china_time_by_default_utc_on_request() {
        assert_eq!(Zone::new(480, false).show(AT), "2026-12-04 15:00:05 +08:00");
        assert_eq!(Zone::new(480, true).show(AT), "2026-12-04 07:00:05 UTC");
        assert_eq!(Zone::new(-90, false).show(AT), "2026-12-04 05:30:05 -01:30");
        assert_eq!(Zone::new(480, false).show(AT + 9 * 3_600_000), "2026-12-05 00:00:05 +08:00");
        assert_eq!(Zone::new(480, false).show_or(None, "never"), "never");
        assert_eq!(Zone::new(0, false).show(u64::MAX), format!("{} ms", u64::MAX));
    }
}
