//! Calendar days (`YYYY-MM-DD`), as daily reports and due dates use them.
//!
//! A day is a civil date; when it starts is a matter of the deployment's
//! time zone, given as a fixed offset from UTC (China keeps one: UTC+8).

use std::fmt;
use std::str::FromStr;

use time::format_description::FormatItem;
use time::macros::format_description;

const FORMAT: &[FormatItem<'static>] = format_description!("[year]-[month]-[day]");
/// Milliseconds in a day.
pub const DAY_MS: i64 = 24 * 60 * 60 * 1000;
/// China Standard Time, in minutes east of UTC.
pub const CHINA_UTC_OFFSET_MINUTES: i32 = 8 * 60;

/// A civil date, such as `2026-12-01`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(time::Date);

/// Text that is not a `YYYY-MM-DD` date.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a date: expected YYYY-MM-DD, e.g. 2026-12-01")]
pub struct BadDate;

impl Date {
    /// The date from its parts, if it exists.
    pub fn from_ymd(year: i32, month: u8, day: u8) -> Option<Date> {
        let month = time::Month::try_from(month).ok()?;
        time::Date::from_calendar_date(year, month, day).ok().map(Date)
    }

    /// The date that `unix_ms` falls on, at `offset_minutes` east of UTC.
    pub fn of_millis(unix_ms: i64, offset_minutes: i32) -> Option<Date> {
        let local = unix_ms.checked_add(i64::from(offset_minutes) * 60_000)?;
        let days = local.div_euclid(DAY_MS);
        let julian = i32::try_from(days + i64::from(EPOCH_JULIAN)).ok()?;
        time::Date::from_julian_day(julian).ok().map(Date)
    }

    /// When the day starts (Unix ms), at `offset_minutes` east of UTC.
    pub fn start_ms(self, offset_minutes: i32) -> i64 {
        let days = i64::from(self.0.to_julian_day() - EPOCH_JULIAN);
        days * DAY_MS - i64::from(offset_minutes) * 60_000
    }

    /// The next day.
    pub fn next(self) -> Option<Date> {
        self.0.next_day().map(Date)
    }

    /// The day before.
    pub fn previous(self) -> Option<Date> {
        self.0.previous_day().map(Date)
    }

    /// The year, month (1–12) and day of the month (1–31).
    pub fn ymd(self) -> (i32, u8, u8) {
        (self.0.year(), u8::from(self.0.month()), self.0.day())
    }
}

/// Julian day number of 1970-01-01.
const EPOCH_JULIAN: i32 = 2_440_588;

impl FromStr for Date {
    type Err = BadDate;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 10 {
            return Err(BadDate);
        }
        time::Date::parse(s, FORMAT).map(Date).map_err(|_| BadDate)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.0.format(FORMAT).map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }
}

impl fmt::Debug for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Date({self})")
    }
}

impl serde::Serialize for Date {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Date {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prints_and_refuses() {
        let d: Date = "2026-12-01".parse().expect("date");
        assert_eq!(d.to_string(), "2026-12-01");
        assert_eq!(Date::from_ymd(2026, 12, 1), Some(d));
        assert_eq!(d.ymd(), (2026, 12, 1));
        for bad in ["2026-13-01", "2026-02-30", "26-12-01", "2026-12-1", "yesterday", "2026-12-01T00"] {
            assert_eq!(bad.parse::<Date>(), Err(BadDate), "{bad}");
        }
    }

    #[test]
    fn days_start_at_local_midnight() {
        let d: Date = "2026-12-01".parse().expect("date");
        // 2026-12-01T00:00+08:00 is 2026-11-30T16:00Z.
        let start = d.start_ms(CHINA_UTC_OFFSET_MINUTES);
        assert_eq!(start, 1_796_054_400_000);
        assert_eq!(Date::of_millis(start, CHINA_UTC_OFFSET_MINUTES), Some(d));
        assert_eq!(Date::of_millis(start - 1, CHINA_UTC_OFFSET_MINUTES), d.previous());
        assert_eq!(Date::of_millis(start + DAY_MS - 1, CHINA_UTC_OFFSET_MINUTES), Some(d));
        assert_eq!(d.next().map(|n| n.start_ms(0) - d.start_ms(0)), Some(DAY_MS));
    }
}
