//! Months and quarters, and the span of time each covers in the
//! deployment's time zone.

use std::fmt;
use std::str::FromStr;

use gridsync_proto::Date;
use serde::{Deserialize, Serialize};

/// A span of time: from `start_ms` (included) to `end_ms` (excluded), Unix ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Period {
    /// The first millisecond in it.
    pub start_ms: i64,
    /// The first millisecond after it.
    pub end_ms: i64,
}

impl Period {
    /// Whether `ms` lies in the span.
    pub fn contains(self, ms: i64) -> bool {
        self.start_ms <= ms && ms < self.end_ms
    }
}

/// A calendar month, e.g. 2026-12.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Month {
    year: i32,
    month: u8,
}

impl Month {
    /// The month, if it exists (1–12) in a year from 1970 to 9998.
    pub fn new(year: i32, month: u8) -> Option<Month> {
        ((1970..=9998).contains(&year) && (1..=12).contains(&month)).then_some(Month { year, month })
    }

    /// Its year.
    pub fn year(self) -> i32 {
        self.year
    }

    /// Its number, 1–12.
    pub fn number(self) -> u8 {
        self.month
    }

    /// The month after it.
    pub fn next(self) -> Month {
        if self.month == 12 {
            Month { year: self.year + 1, month: 1 }
        } else {
            Month { year: self.year, month: self.month + 1 }
        }
    }

    /// The month before it.
    pub fn previous(self) -> Month {
        if self.month == 1 {
            Month { year: self.year - 1, month: 12 }
        } else {
            Month { year: self.year, month: self.month - 1 }
        }
    }

    /// Its first day.
    pub fn first_day(self) -> Date {
        Date::from_ymd(self.year, self.month, 1).expect("the first of a valid month is a date")
    }

    /// Its last day.
    pub fn last_day(self) -> Date {
        self.next().first_day().previous().expect("a month's first day has a day before it")
    }

    /// Its days, in order.
    pub fn days(self) -> impl Iterator<Item = Date> {
        let end = self.next().first_day();
        std::iter::successors(Some(self.first_day()), move |d| d.next().filter(|n| *n < end))
    }

    /// From its first day's local midnight to the next month's, at
    /// `utc_offset_minutes` east of UTC.
    pub fn period(self, utc_offset_minutes: i32) -> Period {
        Period {
            start_ms: self.first_day().start_ms(utc_offset_minutes),
            end_ms: self.next().first_day().start_ms(utc_offset_minutes),
        }
    }

    /// The quarter it belongs to.
    pub fn quarter(self) -> Quarter {
        Quarter { year: self.year, quarter: (self.month - 1) / 3 + 1 }
    }

    /// `2026年12月`.
    pub fn label(self) -> String {
        format!("{}年{}月", self.year, self.month)
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl FromStr for Month {
    type Err = String;

    /// Reads `YYYY-MM`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("not a month: expected YYYY-MM, e.g. 2026-12, not {s:?}");
        let (y, m) = s.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(bad());
        }
        let year = y.parse().map_err(|_| bad())?;
        let month = m.parse().map_err(|_| bad())?;
        Month::new(year, month).ok_or_else(bad)
    }
}

/// A calendar quarter, e.g. 2026 Q4 (October to December).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Quarter {
    year: i32,
    quarter: u8,
}

impl Quarter {
    /// The quarter, if it exists (1–4) in a year from 1970 to 9998.
    pub fn new(year: i32, quarter: u8) -> Option<Quarter> {
        ((1970..=9998).contains(&year) && (1..=4).contains(&quarter)).then_some(Quarter { year, quarter })
    }

    /// Its year.
    pub fn year(self) -> i32 {
        self.year
    }

    /// Its number, 1–4.
    pub fn number(self) -> u8 {
        self.quarter
    }

    /// Its three months, in order.
    pub fn months(self) -> [Month; 3] {
        let first = Month { year: self.year, month: (self.quarter - 1) * 3 + 1 };
        [first, first.next(), first.next().next()]
    }

    /// From its first month's start to the next quarter's.
    pub fn period(self, utc_offset_minutes: i32) -> Period {
        let [first, _, last] = self.months();
        Period {
            start_ms: first.period(utc_offset_minutes).start_ms,
            end_ms: last.period(utc_offset_minutes).end_ms,
        }
    }

    /// `2026年第四季度`.
    pub fn label(self) -> String {
        let n = ["一", "二", "三", "四"][usize::from(self.quarter - 1)];
        format!("{}年第{n}季度", self.year)
    }
}

impl fmt::Display for Quarter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-Q{}", self.year, self.quarter)
    }
}

impl FromStr for Quarter {
    type Err = String;

    /// Reads `YYYY-Qn` (as [`Quarter`] displays), e.g. `2026-Q4`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("not a quarter: expected YYYY-Qn, e.g. 2026-Q4, not {s:?}");
        let (y, q) = s.split_once("-Q").or_else(|| s.split_once("-q")).ok_or_else(bad)?;
        if y.len() != 4 || q.len() != 1 {
            return Err(bad());
        }
        Quarter::new(y.parse().map_err(|_| bad())?, q.parse().map_err(|_| bad())?).ok_or_else(bad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarters_read_back_what_they_display() {
        let q4 = Quarter::new(2026, 4).expect("quarter");
        assert_eq!(q4.to_string().parse::<Quarter>(), Ok(q4));
        for bad in ["2026-Q5", "2026Q4", "26-Q1", "2026-Q", ""] {
            assert!(bad.parse::<Quarter>().is_err(), "{bad}");
        }
    }

    #[test]
    fn months_start_at_local_midnight_and_follow_each_other() {
        let dec = Month::new(2026, 12).expect("month");
        let p = dec.period(480);
        // 2026-12-01T00:00+08:00 is 2026-11-30T16:00Z.
        assert_eq!(p.start_ms, 1_796_054_400_000);
        assert_eq!(p.end_ms, dec.next().period(480).start_ms);
        assert_eq!(p.end_ms - p.start_ms, 31 * 86_400_000);
        assert!(p.contains(p.start_ms) && !p.contains(p.end_ms) && !p.contains(p.start_ms - 1));
        assert_eq!(dec.next().to_string(), "2027-01");
        assert_eq!(dec.next().previous(), dec);
        assert_eq!(dec.days().count(), 31);
        assert_eq!(Month::new(2028, 2).expect("month").days().count(), 29);
        assert_eq!(dec.last_day().to_string(), "2026-12-31");
        assert_eq!("2026-12".parse(), Ok(dec));
        assert!("2026-13".parse::<Month>().is_err() && "2026-1".parse::<Month>().is_err());
        assert_eq!(dec.label(), "2026年12月");
    }

    #[test]
    fn quarters_cover_three_months() {
        let q = Month::new(2026, 11).expect("month").quarter();
        assert_eq!(q, Quarter::new(2026, 4).expect("quarter"));
        assert_eq!(q.months().map(|m| m.number()), [10, 11, 12]);
        let p = q.period(480);
        assert_eq!(p.start_ms, Month::new(2026, 10).expect("month").period(480).start_ms);
        assert_eq!(p.end_ms, Month::new(2027, 1).expect("month").period(480).start_ms);
        assert_eq!(q.label(), "2026年第四季度");
        assert_eq!(q.to_string(), "2026-Q4");
    }
}
