//! Time for campaign plans, without a time zone database: fixed UTC offsets, local times of day,
//! calendar dates, and the push window. The caller passes the current time as a Unix timestamp.

use serde::{Serialize, Serializer};
use std::fmt;

/// A fixed offset from UTC, −12:00 to +14:00. Named zones (`Asia/Shanghai`) are refused: the core
/// has no time zone database, and a named zone's offset changes with daylight saving time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct UtcOffset {
    minutes: i16,
}

impl UtcOffset {
    /// UTC itself.
    pub const UTC: Self = Self { minutes: 0 };

    /// Parse `UTC`, `Z`, `+08:00`, `-05:30`, `UTC+08:00`; the error is in words.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s == "UTC" || s == "Z" {
            return Ok(Self::UTC);
        }
        let t = s.strip_prefix("UTC").unwrap_or(s);
        let b = t.as_bytes();
        let sign = match b.first() {
            Some(b'+') => 1,
            Some(b'-') => -1,
            _ if s.contains('/') || s.chars().any(|c| c.is_ascii_alphabetic()) => {
                return Err(format!(
                    "named time zones such as {s:?} are not supported (otadeck has no time zone database); use a fixed offset such as \"+08:00\" or \"UTC\""
                ))
            }
            _ => return Err(format!("expected \"UTC\" or an offset such as \"+08:00\", found {s:?}")),
        };
        let hm = LocalTime::parse(&t[1..]).map_err(|_| {
            format!("expected \"UTC\" or an offset such as \"+08:00\", found {s:?}")
        })?;
        let minutes = sign * i32::from(hm.minute_of_day);
        if !(-12 * 60..=14 * 60).contains(&minutes) {
            return Err(format!("{s:?} is outside −12:00..+14:00"));
        }
        Ok(Self {
            minutes: minutes as i16,
        })
    }

    /// Minutes east of UTC.
    pub fn minutes(self) -> i32 {
        self.minutes.into()
    }
}

impl fmt::Display for UtcOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.minutes == 0 {
            return f.write_str("UTC");
        }
        let sign = if self.minutes < 0 { '-' } else { '+' };
        let m = self.minutes.unsigned_abs();
        write!(f, "{sign}{:02}:{:02}", m / 60, m % 60)
    }
}

impl Serialize for UtcOffset {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A local time of day, `HH:MM` (00:00 to 23:59).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalTime {
    minute_of_day: u16,
}

impl LocalTime {
    /// Parse `HH:MM`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let b = s.as_bytes();
        let ok =
            b.len() == 5 && b[2] == b':' && [0, 1, 3, 4].iter().all(|&i| b[i].is_ascii_digit());
        let num = |i: usize| u16::from(b[i] - b'0') * 10 + u16::from(b[i + 1] - b'0');
        if !ok || num(0) > 23 || num(3) > 59 {
            return Err(format!(
                "expected a time HH:MM from 00:00 to 23:59, found {s:?}"
            ));
        }
        Ok(Self {
            minute_of_day: num(0) * 60 + num(3),
        })
    }

    /// Minutes since local midnight.
    pub fn minute_of_day(self) -> u16 {
        self.minute_of_day
    }
}

impl fmt::Display for LocalTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:02}:{:02}",
            self.minute_of_day / 60,
            self.minute_of_day % 60
        )
    }
}

impl Serialize for LocalTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A calendar date, `YYYY-MM-DD` (years 1970 to 9999), stored as days since 1970-01-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    days: i64,
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

impl Date {
    /// Parse `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let err = || format!("expected a date YYYY-MM-DD, found {s:?}");
        let b = s.as_bytes();
        let digits = |r: std::ops::Range<usize>| -> Option<i64> {
            b.get(r.clone())?
                .iter()
                .all(u8::is_ascii_digit)
                .then(|| s[r].parse().ok())?
        };
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(err());
        }
        let (y, m, d) = (
            digits(0..4).ok_or_else(err)?,
            digits(5..7).ok_or_else(err)?,
            digits(8..10).ok_or_else(err)?,
        );
        let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
        let month_len = [
            31,
            if leap { 29 } else { 28 },
            31,
            30,
            31,
            30,
            31,
            31,
            30,
            31,
            30,
            31,
        ];
        if y < 1970 || !(1..=12).contains(&m) || d < 1 || d > month_len[(m - 1) as usize] {
            return Err(format!("{s:?} is not a calendar date from 1970 on"));
        }
        Ok(Self {
            days: days_from_civil(y, m, d),
        })
    }

    /// The date `days` after 1970-01-01.
    pub fn from_days(days: i64) -> Self {
        Self { days }
    }

    /// Days since 1970-01-01.
    pub fn days(self) -> i64 {
        self.days
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = civil_from_days(self.days);
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The local date and time of day at `now_unix` (seconds) in `offset`.
pub fn local_at(now_unix: i64, offset: UtcOffset) -> (Date, LocalTime) {
    let local = now_unix.saturating_add(i64::from(offset.minutes()) * 60);
    let day = local.div_euclid(86_400);
    let minute = (local.rem_euclid(86_400) / 60) as u16;
    (
        Date::from_days(day),
        LocalTime {
            minute_of_day: minute,
        },
    )
}

/// When a plan may push: every day from `start` to `end` local time (crossing midnight when
/// `end` is earlier than `start`), optionally only on windows that open between `from` and `until`
/// (inclusive local dates).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PushWindow {
    /// Local time the window opens.
    pub start: LocalTime,
    /// Local time the window closes (exclusive).
    pub end: LocalTime,
    /// First date a window opens, when limited.
    pub from: Option<Date>,
    /// Last date a window opens, when limited.
    pub until: Option<Date>,
}

/// Why `now` is outside a push window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowMiss {
    /// Outside the daily hours.
    Hours {
        /// Local time now.
        now: LocalTime,
    },
    /// Before the first date.
    NotYet {
        /// Local date now.
        today: Date,
    },
    /// After the last date.
    Over {
        /// Local date now.
        today: Date,
    },
}

impl PushWindow {
    /// True when the window crosses local midnight.
    pub fn crosses_midnight(&self) -> bool {
        self.end < self.start
    }

    /// Every way `now_unix` falls outside the window (empty when inside).
    pub fn misses(&self, offset: UtcOffset, now_unix: i64) -> Vec<WindowMiss> {
        let (today, now) = local_at(now_unix, offset);
        let in_hours = if self.crosses_midnight() {
            now >= self.start || now < self.end
        } else {
            now >= self.start && now < self.end
        };
        let mut out = Vec::new();
        if !in_hours {
            out.push(WindowMiss::Hours { now });
        }
        // The window that is open now (or would be) opened yesterday if it crossed midnight.
        let opened = if in_hours && self.crosses_midnight() && now < self.end {
            Date::from_days(today.days() - 1)
        } else {
            today
        };
        if self.from.is_some_and(|f| opened < f) {
            out.push(WindowMiss::NotYet { today });
        }
        if self.until.is_some_and(|u| opened > u) {
            out.push(WindowMiss::Over { today });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets() {
        assert_eq!(UtcOffset::parse("+08:00").unwrap().minutes(), 480);
        assert_eq!(UtcOffset::parse("UTC-05:30").unwrap().to_string(), "-05:30");
        assert!(UtcOffset::parse("Asia/Shanghai")
            .unwrap_err()
            .contains("named time zones"));
        assert!(UtcOffset::parse("+15:00").is_err());
    }

    #[test]
    fn dates_round_trip() {
        for s in ["1970-01-01", "2000-02-29", "2024-12-31", "2100-03-01"] {
            assert_eq!(Date::parse(s).unwrap().to_string(), s);
        }
        assert!(Date::parse("2023-02-29").is_err());
        assert_eq!(Date::parse("2025-01-01").unwrap().days(), 20089);
    }
}
