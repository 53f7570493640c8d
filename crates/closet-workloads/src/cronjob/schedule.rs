//! Cron schedules as CronJobs write them: five fields (minute, hour, day of month, month,
//! day of week) or a descriptor (`@hourly`, `@daily`, ...), with the same reading as the
//! parser upstream uses (robfig/cron's standard parser): names for months and weekdays, `?` as `*`, `a/n` meaning from `a` to the end in steps of `n`, and day of month
//! and day of week OR-ed when both are restricted.

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{ToSpan, Zoned};

/// A schedule that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// Not five fields.
    #[error("expected exactly 5 fields, found {0}: {1}")]
    FieldCount(usize, String),
    /// A field that does not parse.
    #[error("failed to parse {field}: {value}")]
    Field {
        /// Which field.
        field: &'static str,
        /// Its text.
        value: String,
    },
    /// An unknown `@` descriptor.
    #[error("unrecognized descriptor: {0}")]
    Descriptor(String),
    /// A time zone given inside the schedule; CronJobs take it in `spec.timeZone`.
    #[error("cannot use TZ or CRON_TZ in schedule, use timeZone field instead")]
    TimeZoneInSchedule,
}

/// A parsed schedule: one bit per allowed value of each field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    minute: u64,
    hour: u64,
    dom: u64,
    month: u64,
    dow: u64,
    /// Whether day of month or day of week was `*` (then both must match, else either).
    dom_star: bool,
    dow_star: bool,
}

struct Bounds {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MINUTE: Bounds = Bounds {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
};
const HOUR: Bounds = Bounds {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
};
const DOM: Bounds = Bounds {
    name: "day of month",
    min: 1,
    max: 31,
    names: &[],
};
const MONTH: Bounds = Bounds {
    name: "month",
    min: 1,
    max: 12,
    names: &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ],
};
const DOW: Bounds = Bounds {
    name: "day of week",
    min: 0,
    max: 6,
    names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
};

impl Schedule {
    /// Parses a schedule.
    pub fn parse(text: &str) -> Result<Self, ScheduleError> {
        let text = text.trim();
        if text.starts_with("TZ=") || text.starts_with("CRON_TZ=") {
            return Err(ScheduleError::TimeZoneInSchedule);
        }
        if let Some(d) = text.strip_prefix('@') {
            let fields = match d.to_ascii_lowercase().as_str() {
                "yearly" | "annually" => "0 0 1 1 *",
                "monthly" => "0 0 1 * *",
                "weekly" => "0 0 * * 0",
                "daily" | "midnight" => "0 0 * * *",
                "hourly" => "0 * * * *",
                _ => return Err(ScheduleError::Descriptor(text.to_string())),
            };
            return Self::parse(fields);
        }
        let fields: Vec<&str> = text.split_whitespace().collect();
        let [m, h, dom, mon, dow] = fields[..] else {
            return Err(ScheduleError::FieldCount(fields.len(), text.to_string()));
        };
        Ok(Self {
            minute: field(m, &MINUTE)?,
            hour: field(h, &HOUR)?,
            dom: field(dom, &DOM)?,
            month: field(mon, &MONTH)?,
            dow: field(dow, &DOW)?,
            dom_star: dom.starts_with('*') || dom.starts_with('?'),
            dow_star: dow.starts_with('*') || dow.starts_with('?'),
        })
    }

    fn day_matches(&self, day: u32, weekday: u32) -> bool {
        let dom = self.dom & (1 << day) != 0;
        let dow = self.dow & (1 << weekday) != 0;
        if self.dom_star || self.dow_star {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// The first scheduled time strictly after `after`, in `after`'s time zone; `None` for a
    /// schedule that never fires (such as 30 February) within five years.
    pub fn next(&self, after: &Zoned) -> Option<Zoned> {
        let tz = after.time_zone().clone();
        let start = after.datetime();
        let limit = start.year() + 5;
        let mut t = DateTime::new(
            start.year(),
            start.month(),
            start.day(),
            start.hour(),
            start.minute(),
            0,
            0,
        )
        .ok()?;
        t = t.checked_add(1.minute()).ok()?;
        // Each step moves to the next month, day, hour or minute, so this is bounded by the
        // minutes of a few days plus the days of five years.
        for _ in 0..200_000 {
            if t.year() > limit {
                return None;
            }
            if self.month & (1 << t.month()) == 0 {
                t = first_of_next_month(t)?;
                continue;
            }
            let weekday = u32::try_from(t.weekday().to_sunday_zero_offset()).unwrap_or(0);
            if !self.day_matches(u32::try_from(t.day()).unwrap_or(0), weekday) {
                t = t
                    .date()
                    .checked_add(1.day())
                    .ok()?
                    .to_datetime(jiff::civil::Time::midnight());
                continue;
            }
            if self.hour & (1 << t.hour()) == 0 {
                t = DateTime::new(t.year(), t.month(), t.day(), t.hour(), 0, 0, 0)
                    .ok()?
                    .checked_add(1.hour())
                    .ok()?;
                continue;
            }
            if self.minute & (1 << t.minute()) == 0 {
                t = t.checked_add(1.minute()).ok()?;
                continue;
            }
            // A wall-clock time skipped by a DST change fires when the clock jumps, as robfig.
            let z = t.to_zoned(tz.clone()).ok()?;
            if z.timestamp() > after.timestamp() {
                return Some(z);
            }
            t = t.checked_add(1.minute()).ok()?;
        }
        None
    }
}

fn first_of_next_month(t: DateTime) -> Option<DateTime> {
    let d = t.date().first_of_month().checked_add(1.month()).ok()?;
    Some(d.to_datetime(jiff::civil::Time::midnight()))
}

/// Parses one field into a bit set.
fn field(text: &str, b: &Bounds) -> Result<u64, ScheduleError> {
    let bad = || ScheduleError::Field {
        field: b.name,
        value: text.to_string(),
    };
    let mut bits = 0u64;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, Some(s.parse::<u32>().map_err(|_| bad())?)),
            None => (part, None),
        };
        if step == Some(0) {
            return Err(bad());
        }
        let (lo, hi) = if range == "*" || range == "?" {
            (b.min, b.max)
        } else if let Some((l, h)) = range.split_once('-') {
            (value(l, b).ok_or_else(bad)?, value(h, b).ok_or_else(bad)?)
        } else {
            let v = value(range, b).ok_or_else(bad)?;
            // `a/n` runs from a to the end of the range.
            (v, if step.is_some() { b.max } else { v })
        };
        if lo > hi || lo < b.min || hi > b.max {
            return Err(bad());
        }
        let step = step.unwrap_or(1);
        let mut v = lo;
        while v <= hi {
            bits |= 1 << v;
            v += step;
        }
    }
    Ok(bits)
}

fn value(text: &str, b: &Bounds) -> Option<u32> {
    if let Some(i) = b.names.iter().position(|n| n.eq_ignore_ascii_case(text)) {
        return u32::try_from(i)
            .ok()
            .map(|i| i + if b.min == 1 { 1 } else { 0 });
    }
    text.parse().ok()
}

/// Looks up an IANA time zone name.
pub fn time_zone(name: &str) -> Option<TimeZone> {
    TimeZone::get(name).ok()
}

#[cfg(test)]
mod tests;
