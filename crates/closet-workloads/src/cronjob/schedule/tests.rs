use super::*;

fn utc(s: &str) -> Zoned {
    format!("{s}[UTC]").parse().unwrap()
}

fn next(schedule: &str, after: &str) -> String {
    let z = Schedule::parse(schedule)
        .unwrap()
        .next(&utc(after))
        .unwrap();
    z.timestamp().to_string()
}

#[test]
fn every_minute_fires_at_the_next_whole_minute() {
    assert_eq!(
        next("* * * * *", "2024-01-01T10:00:00"),
        "2024-01-01T10:01:00Z"
    );
    assert_eq!(
        next("* * * * *", "2024-01-01T10:00:59"),
        "2024-01-01T10:01:00Z"
    );
    assert_eq!(
        next("* * * * *", "2024-12-31T23:59:30"),
        "2025-01-01T00:00:00Z"
    );
}

#[test]
fn lists_ranges_and_steps() {
    assert_eq!(
        next("*/15 * * * *", "2024-01-01T10:01:00"),
        "2024-01-01T10:15:00Z"
    );
    assert_eq!(
        next("5,35 * * * *", "2024-01-01T10:06:00"),
        "2024-01-01T10:35:00Z"
    );
    assert_eq!(
        next("0 9-17/4 * * *", "2024-01-01T13:00:00"),
        "2024-01-01T17:00:00Z"
    );
    assert_eq!(
        next("0 9-17/4 * * *", "2024-01-01T17:00:00"),
        "2024-01-02T09:00:00Z"
    );
    // `a/n` runs from a to the end of the range.
    assert_eq!(
        next("50/5 * * * *", "2024-01-01T10:56:00"),
        "2024-01-01T11:50:00Z"
    );
}

#[test]
fn names_and_days_of_week() {
    // 2024-01-01 is a Monday.
    assert_eq!(
        next("0 0 * * sun", "2024-01-01T00:00:00"),
        "2024-01-07T00:00:00Z"
    );
    assert_eq!(
        next("0 0 * * 0", "2024-01-01T00:00:00"),
        "2024-01-07T00:00:00Z"
    );
    assert_eq!(
        next("0 0 * * MON-FRI", "2024-01-05T12:00:00"),
        "2024-01-08T00:00:00Z"
    );
    assert_eq!(
        next("0 0 1 mar *", "2024-01-05T12:00:00"),
        "2024-03-01T00:00:00Z"
    );
}

#[test]
fn day_of_month_and_week_are_or_ed_when_both_restricted() {
    // The 15th, or any Friday: 2024-01-05 is a Friday.
    assert_eq!(
        next("0 0 15 * 5", "2024-01-01T00:00:00"),
        "2024-01-05T00:00:00Z"
    );
    assert_eq!(
        next("0 0 15 * 5", "2024-01-12T00:00:00"),
        "2024-01-15T00:00:00Z"
    );
    // With one side `*`, both must match: the 15th only.
    assert_eq!(
        next("0 0 15 * *", "2024-01-01T00:00:00"),
        "2024-01-15T00:00:00Z"
    );
    assert_eq!(
        next("0 0 ? * 5", "2024-01-06T00:00:00"),
        "2024-01-12T00:00:00Z"
    );
}

#[test]
fn descriptors() {
    assert_eq!(
        next("@hourly", "2024-01-01T10:30:00"),
        "2024-01-01T11:00:00Z"
    );
    assert_eq!(
        next("@daily", "2024-01-01T10:30:00"),
        "2024-01-02T00:00:00Z"
    );
    assert_eq!(
        next("@midnight", "2024-01-01T10:30:00"),
        "2024-01-02T00:00:00Z"
    );
    assert_eq!(
        next("@weekly", "2024-01-01T10:30:00"),
        "2024-01-07T00:00:00Z"
    );
    assert_eq!(
        next("@monthly", "2024-01-01T10:30:00"),
        "2024-02-01T00:00:00Z"
    );
    assert_eq!(
        next("@yearly", "2024-01-01T10:30:00"),
        "2025-01-01T00:00:00Z"
    );
    assert_eq!(
        next("@annually", "2024-01-01T10:30:00"),
        "2025-01-01T00:00:00Z"
    );
}

#[test]
fn leap_days_and_impossible_dates() {
    assert_eq!(
        next("0 0 29 2 *", "2025-01-01T00:00:00"),
        "2028-02-29T00:00:00Z"
    );
    let never = Schedule::parse("0 0 30 2 *").unwrap();
    assert_eq!(never.next(&utc("2024-01-01T00:00:00")), None);
}

#[test]
fn time_zones_and_daylight_saving() {
    let tz = time_zone("Europe/Berlin").unwrap();
    let after: Zoned = "2024-03-30T12:00:00[Europe/Berlin]".parse().unwrap();
    let s = Schedule::parse("0 9 * * *").unwrap();
    let n = s.next(&after).unwrap();
    assert_eq!(n.time_zone(), &tz);
    // 09:00 in Berlin on the first day of summer time is 07:00 UTC.
    assert_eq!(n.timestamp().to_string(), "2024-03-31T07:00:00Z");
    // 02:30 does not exist that night; the run happens when the clock jumps.
    let n = Schedule::parse("30 2 * * *").unwrap().next(&after).unwrap();
    assert_eq!(n.timestamp().to_string(), "2024-03-31T01:30:00Z");
    assert!(time_zone("Not/AZone").is_none());
}

#[test]
fn rejects_what_upstream_rejects() {
    for bad in [
        "* * * *",
        "* * * * * *",
        "60 * * * *",
        "* 24 * * *",
        "* * 0 * *",
        "* * * 13 *",
        "* * * * 7",
        "*/0 * * * *",
        "5-1 * * * *",
        "a * * * *",
        "@fortnightly",
        "",
    ] {
        assert!(Schedule::parse(bad).is_err(), "{bad:?} should be rejected");
    }
    assert_eq!(
        Schedule::parse("CRON_TZ=UTC * * * * *"),
        Err(ScheduleError::TimeZoneInSchedule)
    );
    assert_eq!(
        Schedule::parse("TZ=Europe/Berlin 0 * * * *"),
        Err(ScheduleError::TimeZoneInSchedule)
    );
}
