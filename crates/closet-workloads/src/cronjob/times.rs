//! When a CronJob should have run: the most recent scheduled time not yet acted on, and
//! whether too many were missed, as upstream's controller decides.

use jiff::Zoned;

use super::schedule::Schedule;

/// More missed start times than this earn a `TooManyMissedTimes` warning.
pub const MISSED_LIMIT: usize = 100;

/// The outcome of looking back from now.
#[derive(Debug, PartialEq)]
pub struct Due {
    /// The latest scheduled time in (earliest, now], if any.
    pub most_recent: Option<Zoned>,
    /// Whether more than [`MISSED_LIMIT`] times fell in that window.
    pub too_many: bool,
}

/// Looks for scheduled times after `earliest` and no later than `now`.
pub fn due(schedule: &Schedule, earliest: &Zoned, now: &Zoned) -> Due {
    let mut most_recent = None;
    let mut cursor = earliest.clone();
    for _ in 0..=MISSED_LIMIT {
        match schedule.next(&cursor) {
            Some(t) if t.timestamp() <= now.timestamp() => {
                cursor = t.clone();
                most_recent = Some(t);
            }
            _ => {
                return Due {
                    most_recent,
                    too_many: false,
                };
            }
        }
    }
    // Many missed: find the latest one by looking back over growing windows instead of
    // walking every missed time.
    for back in [3_600, 86_400, 31 * 86_400, 366 * 86_400, 5 * 366 * 86_400] {
        let Ok(from) = now.checked_sub(jiff::SignedDuration::from_secs(back)) else {
            continue;
        };
        let from = if from.timestamp() < cursor.timestamp() {
            cursor.clone()
        } else {
            from
        };
        let mut c = from;
        let mut last = None;
        // Within an hour-sized window a minute schedule has 60 times; a larger window only
        // applies when the smaller ones held none, so few times fall in it.
        for _ in 0..=1_000 {
            match schedule.next(&c) {
                Some(t) if t.timestamp() <= now.timestamp() => {
                    c = t.clone();
                    last = Some(t);
                }
                _ => break,
            }
        }
        if last.is_some() {
            return Due {
                most_recent: last,
                too_many: true,
            };
        }
    }
    Due {
        most_recent,
        too_many: true,
    }
}

/// The name of the Job for a scheduled time: the CronJob's name and the minutes since the
/// epoch, as upstream names them.
pub fn job_name(cronjob: &str, scheduled: &Zoned) -> String {
    format!(
        "{cronjob}-{}",
        scheduled.timestamp().as_second().div_euclid(60)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> Zoned {
        format!("{s}[UTC]").parse().unwrap()
    }

    #[test]
    fn latest_time_in_the_window() {
        let s = Schedule::parse("*/10 * * * *").unwrap();
        let d = due(&s, &utc("2024-01-01T10:00:00"), &utc("2024-01-01T10:35:00"));
        assert_eq!(d.most_recent, Some(utc("2024-01-01T10:30:00")));
        assert!(!d.too_many);
        let d = due(&s, &utc("2024-01-01T10:30:00"), &utc("2024-01-01T10:35:00"));
        assert_eq!(d.most_recent, None);
        // The window's end is inclusive.
        let d = due(&s, &utc("2024-01-01T10:30:00"), &utc("2024-01-01T10:40:00"));
        assert_eq!(d.most_recent, Some(utc("2024-01-01T10:40:00")));
    }

    #[test]
    fn too_many_missed_still_finds_the_latest() {
        let s = Schedule::parse("* * * * *").unwrap();
        let d = due(&s, &utc("2024-01-01T00:00:00"), &utc("2024-01-03T12:34:56"));
        assert!(d.too_many);
        assert_eq!(d.most_recent, Some(utc("2024-01-03T12:34:00")));
        let d = due(&s, &utc("2024-01-01T00:00:00"), &utc("2024-01-01T01:40:30"));
        assert!(!d.too_many, "exactly 100 missed is not too many");
        assert_eq!(d.most_recent, Some(utc("2024-01-01T01:40:00")));
    }

    #[test]
    fn job_names_count_minutes() {
        assert_eq!(job_name("hello", &utc("1970-01-01T01:00:00")), "hello-60");
        assert_eq!(
            job_name("hello", &utc("2024-01-01T00:00:00")),
            "hello-28401120"
        );
    }
}
