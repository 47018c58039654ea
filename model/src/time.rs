//! Instants (stored in UTC) and the deployment's local clock.
//!
//! Every time is stored as a UTC instant with millisecond precision. The
//! deployment's time zone (default `Asia/Shanghai`) is configuration: it reads
//! offset-less device times and decides what "local night" is.

use std::fmt;

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Milliseconds since the Unix epoch, UTC.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub const MS_PER_DAY: i64 = 86_400_000;

    pub fn from_datetime<T: TimeZone>(dt: &DateTime<T>) -> Self {
        Self(dt.timestamp_millis())
    }

    pub fn to_utc(self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.0).unwrap_or_default()
    }

    pub fn millis(self) -> i64 {
        self.0
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_utc().format("%Y-%m-%dT%H:%M:%S%.3fZ"))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// The night window in local time, e.g. 22:00–05:00 (may wrap midnight).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NightWindow {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl Default for NightWindow {
    fn default() -> Self {
        Self {
            start: NaiveTime::from_hms_opt(22, 0, 0).unwrap_or_default(),
            end: NaiveTime::from_hms_opt(5, 0, 0).unwrap_or_default(),
        }
    }
}

impl NightWindow {
    pub fn contains(&self, t: NaiveTime) -> bool {
        if self.start <= self.end {
            t >= self.start && t < self.end
        } else {
            t >= self.start || t < self.end
        }
    }
}

/// The deployment's clock: its time zone and night window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clock {
    pub tz: Tz,
    pub night: NightWindow,
}

impl Default for Clock {
    fn default() -> Self {
        Self {
            tz: chrono_tz::Asia::Shanghai,
            night: NightWindow::default(),
        }
    }
}

impl Clock {
    pub fn new(tz: Tz) -> Self {
        Self {
            tz,
            night: NightWindow::default(),
        }
    }

    /// Reads a wall-clock time in the deployment's zone. In a repeated hour
    /// (DST fall-back) the earlier instant is taken; a skipped hour is an error.
    pub fn from_local(&self, naive: NaiveDateTime) -> Result<Timestamp> {
        match self.tz.from_local_datetime(&naive) {
            LocalResult::Single(dt) | LocalResult::Ambiguous(dt, _) => {
                Ok(Timestamp::from_datetime(&dt))
            }
            LocalResult::None => Err(Error::Time(format!(
                "{naive} does not exist in {}",
                self.tz
            ))),
        }
    }

    pub fn to_local(&self, ts: Timestamp) -> DateTime<Tz> {
        ts.to_utc().with_timezone(&self.tz)
    }

    /// The local calendar day of an instant.
    pub fn local_date(&self, ts: Timestamp) -> NaiveDate {
        self.to_local(ts).date_naive()
    }

    /// The local hour (0–23), for activity-by-hour.
    pub fn local_hour(&self, ts: Timestamp) -> u32 {
        self.to_local(ts).hour()
    }

    pub fn is_night(&self, ts: Timestamp) -> bool {
        self.night.contains(self.to_local(ts).time())
    }

    /// The night an instant belongs to, named by the local date on which it
    /// began (01:00 on the 2nd belongs to the night of the 1st); `None` by day.
    pub fn night_of(&self, ts: Timestamp) -> Option<NaiveDate> {
        let local = self.to_local(ts);
        if !self.night.contains(local.time()) {
            return None;
        }
        let d = local.date_naive();
        if self.night.start > self.night.end && local.time() < self.night.end {
            d.pred_opt()
        } else {
            Some(d)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_time_and_night() {
        let clock = Clock::default();
        let naive = NaiveDate::from_ymd_opt(2026, 11, 20)
            .unwrap()
            .and_hms_opt(23, 30, 0)
            .unwrap();
        let ts = clock.from_local(naive).unwrap();
        assert_eq!(format!("{ts}"), "2026-11-20T15:30:00.000Z");
        assert!(clock.is_night(ts));
        assert_eq!(clock.night_of(ts), NaiveDate::from_ymd_opt(2026, 11, 20));
        let early = clock
            .from_local(naive + chrono::Duration::hours(4))
            .unwrap();
        assert_eq!(clock.night_of(early), NaiveDate::from_ymd_opt(2026, 11, 20));
        let noon = clock
            .from_local(naive - chrono::Duration::hours(11))
            .unwrap();
        assert!(!clock.is_night(noon));
        assert_eq!(clock.local_hour(noon), 12);
    }

    #[test]
    fn skipped_local_time_is_an_error() {
        let clock = Clock::new(chrono_tz::America::New_York);
        let naive = NaiveDate::from_ymd_opt(2026, 3, 8)
            .unwrap()
            .and_hms_opt(2, 30, 0)
            .unwrap();
        assert!(clock.from_local(naive).is_err());
    }
}
