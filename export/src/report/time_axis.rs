//! A time axis for spans from minutes to decades: buckets of a fixed number
//! of minutes for the columns, and ticks on calendar boundaries (minutes,
//! hours, days, months, years) labelled with real dates, the year included
//! wherever the date is shown.

use chrono::{DateTime, Datelike, NaiveDate, Utc};

/// Columns at most in a chart over time.
pub const MAX_BUCKETS: i64 = 96;

/// Ticks at most on an axis.
const MAX_TICKS: i64 = 8;

const DAY: i64 = 1440;

/// The bucket (minutes) that puts `span` minutes in at most `MAX_BUCKETS`
/// columns: a round number of minutes, hours or days, a month, a quarter
/// or a year (of 30, 91.25 and 365 days).
pub fn bucket_minutes(span: i64) -> i64 {
    [
        1,
        5,
        10,
        15,
        30,
        60,
        120,
        360,
        720,
        DAY,
        7 * DAY,
        30 * DAY,
        131_400,
        365 * DAY,
    ]
    .into_iter()
    .find(|b| span / b < MAX_BUCKETS)
    .unwrap_or_else(|| span / MAX_BUCKETS + 1)
}

fn at(minute: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(minute.checked_mul(60)?, 0)
}

/// The text of a bucket starting at `minute`, as its tooltip shows it.
pub fn bucket_name(minute: i64) -> String {
    at(minute)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

/// A tick's step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Minutes(i64),
    Months(i64),
    Years(i64),
}

fn month_index(d: &DateTime<Utc>) -> i64 {
    i64::from(d.year()) * 12 + i64::from(d.month0())
}

fn month_start(index: i64) -> Option<i64> {
    let y = i32::try_from(index.div_euclid(12)).ok()?;
    let m = u32::try_from(index.rem_euclid(12)).ok()? + 1;
    let d = NaiveDate::from_ymd_opt(y, m, 1)?.and_hms_opt(0, 0, 0)?;
    Some(d.and_utc().timestamp() / 60)
}

fn step_for(span: i64) -> Step {
    for m in [
        1,
        2,
        5,
        10,
        15,
        30,
        60,
        120,
        180,
        360,
        720,
        DAY,
        2 * DAY,
        7 * DAY,
        14 * DAY,
    ] {
        if span / m <= MAX_TICKS {
            return Step::Minutes(m);
        }
    }
    let months = span / (30 * DAY);
    for m in [1, 2, 3, 6] {
        if months / m <= MAX_TICKS {
            return Step::Months(m);
        }
    }
    let years = span / (365 * DAY);
    Step::Years(
        [1, 2, 5, 10, 20, 50, 100]
            .into_iter()
            .find(|y| years / y <= MAX_TICKS)
            .unwrap_or(years / MAX_TICKS + 1),
    )
}

/// Ticks in `[first, last]` (minutes since the epoch): each its minute and
/// its label lines, in time order. Within a day a tick shows the time and,
/// on the first tick and where the day changes, the date under it; days show
/// the date, months the year and month, years the year.
pub fn ticks(first: i64, last: i64) -> Vec<(i64, Vec<String>)> {
    let span = (last - first).max(1);
    let mut at_minutes: Vec<i64> = Vec::new();
    let step = step_for(span);
    match step {
        Step::Minutes(m) => {
            let mut t = first.div_euclid(m) * m;
            if t < first {
                t += m;
            }
            while t <= last {
                at_minutes.push(t);
                t += m;
            }
        }
        Step::Months(_) | Step::Years(_) => {
            let (Some(a), Some(b)) = (at(first), at(last)) else {
                return Vec::new();
            };
            let every = match step {
                Step::Months(m) => m,
                Step::Years(y) => 12 * y,
                Step::Minutes(_) => 1,
            };
            let mut i = month_index(&a);
            while i <= month_index(&b) {
                if i.rem_euclid(every) == 0 {
                    if let Some(t) = month_start(i).filter(|t| (first..=last).contains(t)) {
                        at_minutes.push(t);
                    }
                }
                i += 1;
            }
        }
    }
    let mut out = Vec::new();
    let mut last_day = None;
    for t in at_minutes {
        let Some(d) = at(t) else { continue };
        let lines = match step {
            Step::Minutes(m) if m < DAY => {
                let day = d.format("%Y-%m-%d").to_string();
                let mut l = vec![d.format("%H:%M").to_string()];
                if last_day.as_ref() != Some(&day) {
                    l.push(day.clone());
                }
                last_day = Some(day);
                l
            }
            Step::Minutes(_) => vec![d.format("%Y-%m-%d").to_string()],
            Step::Months(_) => vec![d.format("%Y-%m").to_string()],
            Step::Years(_) => vec![d.format("%Y").to_string()],
        };
        out.push((t, lines));
    }
    out
}

#[cfg(test)]
mod test {
    use super::*;

    fn minute(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp() / 60
    }

    fn labels(a: &str, b: &str) -> Vec<String> {
        ticks(minute(a), minute(b))
            .into_iter()
            .map(|(_, l)| l.join(" "))
            .collect()
    }

    #[test]
    fn buckets_fit_the_chart() {
        assert_eq!(bucket_minutes(60), 1);
        assert_eq!(bucket_minutes(96), 5);
        assert_eq!(bucket_minutes(24 * 60), 30);
        assert_eq!(bucket_minutes(30 * 24 * 60), 720);
        // Decades of captures still fit.
        let span = 50 * 365 * 24 * 60;
        assert!(span / bucket_minutes(span) < MAX_BUCKETS);
    }

    #[test]
    fn ticks_from_minutes_to_decades_are_dated_and_in_order() {
        assert_eq!(
            labels("2026-11-02T09:00:10Z", "2026-11-02T09:04:00Z"),
            ["09:00 2026-11-02", "09:01", "09:02", "09:03", "09:04"]
        );
        assert_eq!(
            labels("2026-12-31T20:00:00Z", "2027-01-01T03:00:00Z"),
            [
                "20:00 2026-12-31",
                "21:00",
                "22:00",
                "23:00",
                "00:00 2027-01-01",
                "01:00",
                "02:00",
                "03:00"
            ]
        );
        assert_eq!(
            labels("2026-04-28T00:00:00Z", "2026-05-03T12:00:00Z"),
            [
                "2026-04-28",
                "2026-04-29",
                "2026-04-30",
                "2026-05-01",
                "2026-05-02",
                "2026-05-03"
            ]
        );
        assert_eq!(
            labels("2025-10-15T00:00:00Z", "2026-03-15T00:00:00Z"),
            ["2025-11", "2025-12", "2026-01", "2026-02", "2026-03"]
        );
        assert_eq!(
            labels("2005-04-30T15:45:00Z", "2026-05-01T06:00:00Z"),
            ["2010", "2015", "2020", "2025"]
        );
        for (a, b) in [
            ("2026-11-02T09:00:00Z", "2026-11-02T09:00:30Z"),
            ("2026-11-02T09:00:00Z", "2026-11-09T09:00:00Z"),
            ("1999-01-01T00:00:00Z", "2026-01-01T00:00:00Z"),
        ] {
            let t = ticks(minute(a), minute(b));
            assert!(t.windows(2).all(|w| w[0].0 < w[1].0), "{a} {b}: {t:?}");
            assert!(t.len() <= 9, "{a} {b}: {t:?}");
        }
    }
}
