//! Time: eventsim's daily damping ("warp"), weekend and holiday damping, and the gaps between
//! sessions. All times are epoch milliseconds, UTC (eventsim works in `LocalDateTime`, which it
//! writes out as UTC).

use chrono::{Datelike, NaiveDate, Weekday};

use super::rng::Rng;
use crate::config::SiteConfig;

pub const MS_PER_SECOND: i64 = 1_000;
pub const MS_PER_MINUTE: i64 = 60 * MS_PER_SECOND;
pub const SECONDS_PER_DAY: i64 = 86_400;
pub const MS_PER_DAY: i64 = SECONDS_PER_DAY * MS_PER_SECOND;
/// eventsim's `SECONDS_PER_YEAR` (365.25 days).
pub const SECONDS_PER_YEAR: f64 = SECONDS_PER_DAY as f64 * 365.25;
const THREE_AM_SECONDS: i64 = 3 * 3600;

/// The calendar date of a day number (days since 1970-01-01).
fn date_of_day(day: i64) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(1970, 1, 1)?.checked_add_signed(chrono::TimeDelta::try_days(day)?)
}

/// The `n`-th (1-based) `weekday` of a month, or its last one for `n == 0`.
fn nth_weekday(year: i32, month: u32, weekday: Weekday, n: u8) -> Option<NaiveDate> {
    if n == 0 {
        let next = if month == 12 {
            NaiveDate::from_ymd_opt(year + 1, 1, 1)?
        } else {
            NaiveDate::from_ymd_opt(year, month + 1, 1)?
        };
        let last = next.pred_opt()?;
        let back = (7 + last.weekday().num_days_from_monday() - weekday.num_days_from_monday()) % 7;
        return last.checked_sub_signed(chrono::TimeDelta::try_days(back as i64)?);
    }
    NaiveDate::from_weekday_of_month_opt(year, month, weekday, n)
}

/// US federal holidays (the calendar eventsim gets from jollyday's default US manager).
pub fn is_us_holiday(d: NaiveDate) -> bool {
    let (y, m, day) = (d.year(), d.month(), d.day());
    let fixed = matches!((m, day), (1, 1) | (7, 4) | (11, 11) | (12, 25));
    let floating = [
        (1, Weekday::Mon, 3),  // Martin Luther King Jr. Day
        (2, Weekday::Mon, 3),  // Washington's Birthday
        (5, Weekday::Mon, 0),  // Memorial Day (last Monday)
        (9, Weekday::Mon, 1),  // Labor Day
        (10, Weekday::Mon, 2), // Columbus Day
        (11, Weekday::Thu, 4), // Thanksgiving
    ];
    fixed
        || floating
            .iter()
            .any(|&(fm, wd, n)| fm == m && nth_weekday(y, fm, wd, n) == Some(d))
}

/// Whether day number `day` (days since 1970-01-01) is a weekend day or a holiday.
fn day_is_weekend_or_holiday(day: i64) -> bool {
    match date_of_day(day) {
        Some(d) => matches!(d.weekday(), Weekday::Sat | Weekday::Sun) || is_us_holiday(d),
        None => false,
    }
}

/// Days from 1970 to 2200 are looked up in a table built once; others are computed.
const CALENDAR_DAYS: i64 = 230 * 366;

/// eventsim's timing parameters.
#[derive(Clone)]
pub struct Timing {
    pub damping: f64,
    pub weekend_damping: f64,
    pub weekend_offset_ms: i64,
    pub weekend_scale_minutes: f64,
    pub session_gap_ms: i64,
    /// Weekend-or-holiday flag of days 0..CALENDAR_DAYS.
    calendar: Vec<bool>,
}

impl std::fmt::Debug for Timing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timing")
            .field("damping", &self.damping)
            .field("weekend_damping", &self.weekend_damping)
            .field("weekend_offset_ms", &self.weekend_offset_ms)
            .field("weekend_scale_minutes", &self.weekend_scale_minutes)
            .field("session_gap_ms", &self.session_gap_ms)
            .finish_non_exhaustive()
    }
}

impl Timing {
    pub fn new(cfg: &SiteConfig) -> Timing {
        Timing {
            damping: cfg.damping,
            weekend_damping: cfg.weekend_damping,
            weekend_offset_ms: cfg.weekend_damping_offset_minutes * MS_PER_MINUTE,
            weekend_scale_minutes: cfg.weekend_damping_scale_minutes as f64,
            session_gap_ms: cfg.session_gap_seconds * MS_PER_SECOND,
            calendar: Self::calendar(),
        }
    }

    fn calendar() -> Vec<bool> {
        (0..CALENDAR_DAYS).map(day_is_weekend_or_holiday).collect()
    }

    /// Whether the day containing `ts` is a weekend day or a holiday.
    fn is_weekend_or_holiday(&self, ts: i64) -> bool {
        let day = ts.div_euclid(MS_PER_DAY);
        match usize::try_from(day).ok().and_then(|d| self.calendar.get(d)) {
            Some(&flag) => flag,
            None => day_is_weekend_or_holiday(day),
        }
    }

    /// eventsim's `weekendDamping`: how much of the traffic to drop at `dt` (0 = none), ramping
    /// up before a weekend or holiday and down after it.
    pub fn weekend_damping(&self, dt: i64) -> f64 {
        let last_midnight = dt.div_euclid(MS_PER_DAY) * MS_PER_DAY;
        let noon = last_midnight + MS_PER_DAY / 2;
        let next_midnight = last_midnight + MS_PER_DAY;
        let w = self.weekend_damping;
        let off = self.weekend_offset_ms;
        let scale_ms = self.weekend_scale_minutes * MS_PER_MINUTE as f64;
        let ramp = |from: i64, to: i64| w * (to - from) as f64 / scale_ms;
        let key = (
            self.is_weekend_or_holiday(noon - MS_PER_DAY),
            self.is_weekend_or_holiday(noon),
            self.is_weekend_or_holiday(noon + MS_PER_DAY),
        );
        match key {
            (false, false, false) => 0.0,
            (true, true, true) => w,
            (false, false, true) => {
                let start = next_midnight - off;
                if dt < start {
                    0.0
                } else {
                    ramp(start, dt)
                }
            }
            (true, false, false) => {
                let end = last_midnight + off;
                if dt > end {
                    0.0
                } else {
                    ramp(dt, end)
                }
            }
            (false, true, false) => {
                let start = last_midnight - off;
                let end_of_ramp_up = start + scale_ms as i64;
                let end = next_midnight + off;
                let start_of_roll_down = end - scale_ms as i64;
                if dt < end_of_ramp_up {
                    ramp(start, dt)
                } else if dt > start_of_roll_down {
                    ramp(dt, end)
                } else {
                    w
                }
            }
            (false, true, true) => {
                let start = last_midnight - off;
                if dt < start + scale_ms as i64 {
                    ramp(start, dt)
                } else {
                    w
                }
            }
            (true, false, true) => {
                let end = last_midnight + off;
                let start = next_midnight - off;
                if dt < end {
                    ramp(dt, end)
                } else if dt > start {
                    ramp(start, dt)
                } else {
                    0.0
                }
            }
            (true, true, false) => {
                let end = next_midnight + off;
                if dt > end - scale_ms as i64 {
                    ramp(dt, end)
                } else {
                    w
                }
            }
        }
    }

    /// eventsim's `standardWarp`: shifts a time along a daily sine so that fewer sessions start
    /// in the small hours (the trough is around 3 am).
    pub fn warp(&self, ts: i64) -> i64 {
        let second_of_day = ts.div_euclid(MS_PER_SECOND).rem_euclid(SECONDS_PER_DAY);
        let angle = (second_of_day - THREE_AM_SECONDS) as f64 * std::f64::consts::TAU
            / SECONDS_PER_DAY as f64;
        let offset = (self.damping * SECONDS_PER_DAY as f64 * angle.sin()) as i64;
        ts + offset * MS_PER_SECOND
    }

    fn keep(&self, ts: i64, rng: &mut Rng) -> bool {
        let d = self.weekend_damping(ts);
        d <= 0.0 || rng.next_f64() < 1.0 - d
    }

    /// eventsim's `pickNextSessionStartTime`: an exponential gap (mean `beta` seconds) plus
    /// `session-gap`, warped by the daily cycle, thinned on weekends.
    pub fn next_session_start(&self, mut last: i64, beta_seconds: f64, rng: &mut Rng) -> i64 {
        // eventsim recurses; a loop with the same steps. The guard only matters for absurd
        // configs (weekend-damping 1 forever).
        for _ in 0..100_000 {
            let gap = (rng.exponential(beta_seconds) as i64) * MS_PER_SECOND + self.session_gap_ms;
            let next = self.warp(last + gap);
            if next < last {
                last += self.session_gap_ms;
            } else if self.keep(next, rng) {
                return next;
            } else {
                last = next;
            }
        }
        last + self.session_gap_ms.max(MS_PER_SECOND)
    }

    /// eventsim's `pickFirstTimeStamp`: start two `beta`s early and iterate to a steady state, so
    /// that users are mid-cycle at the start time.
    pub fn first_session_start(&self, start: i64, beta_seconds: f64, rng: &mut Rng) -> i64 {
        let beta_ms = beta_seconds as i64 * MS_PER_SECOND;
        let mut candidate = self.next_session_start(start - 2 * beta_ms, beta_seconds, rng);
        while candidate < start - beta_ms {
            candidate = self.next_session_start(candidate, beta_seconds, rng);
        }
        candidate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(date: &str) -> i64 {
        chrono::NaiveDateTime::parse_from_str(date, "%Y-%m-%dT%H:%M:%S")
            .expect("test date")
            .and_utc()
            .timestamp_millis()
    }

    fn timing() -> Timing {
        Timing {
            damping: 0.09375,
            weekend_damping: 0.5,
            weekend_offset_ms: 180 * MS_PER_MINUTE,
            weekend_scale_minutes: 360.0,
            session_gap_ms: 1_800_000,
            calendar: Timing::calendar(),
        }
    }

    #[test]
    fn holidays() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).expect("date");
        assert!(is_us_holiday(d(2015, 11, 26))); // Thanksgiving
        assert!(is_us_holiday(d(2015, 5, 25))); // Memorial Day
        assert!(is_us_holiday(d(2015, 12, 25)));
        assert!(!is_us_holiday(d(2015, 6, 3)));
    }

    #[test]
    fn calendar_table_matches_the_computation() {
        let t = timing();
        for day in [0, 16_587, 16_600, 20_000, CALENDAR_DAYS + 5, -3] {
            assert_eq!(
                t.is_weekend_or_holiday(day * MS_PER_DAY + 1),
                day_is_weekend_or_holiday(day)
            );
        }
    }

    #[test]
    fn weekend_damping_shape() {
        let t = timing();
        assert_eq!(t.weekend_damping(ms("2015-06-03T12:00:00")), 0.0); // Wednesday
        assert_eq!(t.weekend_damping(ms("2015-06-06T12:00:00")), 0.5); // Saturday
        let friday_late = t.weekend_damping(ms("2015-06-05T23:00:00"));
        assert!(friday_late > 0.0 && friday_late < 0.5, "{friday_late}");
    }

    #[test]
    fn sessions_move_forward() {
        let t = timing();
        let mut rng = Rng::stream(1, 1);
        let mut ts = ms("2015-06-01T00:00:00");
        for _ in 0..1000 {
            let next = t.next_session_start(ts, 3600.0, &mut rng);
            assert!(next >= ts);
            ts = next;
        }
    }
}
