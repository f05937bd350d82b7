//! Cron schedules evaluated in a job's own timezone.
//!
//! Operators write classic 5-field cron (`minute hour day month weekday`) and
//! think in wall-clock time where the data lives, so a schedule is a cron
//! expression plus an IANA timezone. Matching of calendar fields is done by the
//! `cron` crate; this module owns the parts that crate does not get right for
//! us: the 5-field dialect (Sunday as 0 or 7, the day-of-month/day-of-week "OR"
//! rule, macros, readable errors) and daylight-saving transitions.
//!
//! # Daylight saving time
//!
//! Runs are computed in local wall-clock time, then mapped to instants:
//!
//! * **Spring-forward gap** (a local time that does not exist, e.g. 02:30 on
//!   2026-03-08 in America/New_York): the run fires once at the first instant
//!   after the gap (03:00 local), so a daily 02:30 job still runs that day.
//!   Several runs inside the gap collapse into that one run.
//! * **Fall-back overlap** (a local time that happens twice, e.g. 01:30 on
//!   2026-11-01 in New York): the run fires once, at the first occurrence, so a
//!   daily 01:30 job runs exactly once that day.
//! * **Exception for schedules that run in every hour** (hour field `*`, e.g.
//!   `*/15 * * * *` or `@hourly`): such jobs follow real elapsed time instead,
//!   like Vixie cron's "wildcard" jobs. Times inside a gap are skipped (no real
//!   time was lost), and times inside an overlap fire on both passes (so an
//!   hourly job keeps running every real hour).
//!
//! The `cron` crate alone, iterated with a `DateTime<Tz>`, silently skips runs
//! in a gap and fires twice in an overlap (see the tests), which is why the
//! crate is iterated on wall-clock time and the mapping is done here.

use std::collections::BTreeSet;
use std::str::FromStr;

use chrono::offset::LocalResult;
use chrono::{DateTime, Datelike, NaiveDateTime, TimeDelta, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

/// A parsed cron expression bound to the timezone its wall-clock times are in.
#[derive(Debug, Clone)]
pub struct Schedule {
    expression: String,
    tz: Tz,
    /// One crate schedule, or two when day-of-month and day-of-week are both
    /// restricted: classic cron then runs on days matching *either* field,
    /// while the `cron` crate would require both.
    parts: Vec<cron::Schedule>,
    /// The hour field covers every hour, so DST shifts follow elapsed time.
    every_hour: bool,
}

/// Why a schedule could not be parsed; messages are shown to operators as-is.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ScheduleError {
    #[error("schedule_cron: {0}")]
    Cron(String),
    #[error("schedule_timezone: unknown timezone `{0}` (use an IANA name such as Europe/Lisbon)")]
    Timezone(String),
}

/// How far apart two instants may be while we look for the end of a DST gap;
/// generous enough for whole skipped days (Pacific/Apia, 2011-12-30).
const GAP_SEARCH_HOURS: i64 = 30;

/// The year range the `cron` crate iterates over.
const CRON_FIRST_YEAR: i32 = 1970;
const CRON_LAST_YEAR: i32 = 2100;

impl Schedule {
    /// The canonical IANA name of the schedule's timezone (`europe/lisbon`
    /// given, `Europe/Lisbon` here): what is stored, so every reader of
    /// the job finds the zone.
    pub fn timezone_name(&self) -> &'static str {
        self.tz.name()
    }

    /// Parses a standard 5-field cron expression (minute hour day-of-month month day-of-week) and an IANA timezone name.
    pub fn parse(cron: &str, timezone: &str) -> Result<Schedule, ScheduleError> {
        let tz = parse_timezone(timezone)?;

        let expanded = expand_macro(cron.trim())?;
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        if fields.is_empty() {
            return Err(ScheduleError::Cron(
                "empty expression; expected 5 fields (minute hour day month weekday) or a macro such as @daily"
                    .to_string(),
            ));
        }
        if fields.len() != 5 {
            let hint = if fields.len() > 5 {
                " (seconds and year fields are not supported)"
            } else {
                ""
            };
            return Err(ScheduleError::Cron(format!(
                "expected 5 fields (minute hour day month weekday), got {}{hint}",
                fields.len()
            )));
        }

        let minute = parse_field(fields[0], &MINUTE)?;
        let hour = parse_field(fields[1], &HOUR)?;
        let dom = parse_field(fields[2], &DAY_OF_MONTH)?;
        let month = parse_field(fields[3], &MONTH)?;
        let dow = parse_field(fields[4], &DAY_OF_WEEK)?;

        // Vixie cron: when either day field starts with `*` both must match,
        // otherwise a day matching either one is enough.
        let either_day = !dom.star && !dow.star;
        if !either_day && !dom_fits_months(&dom.values, &month.values) {
            return Err(ScheduleError::Cron(format!(
                "day-of-month field `{}` never falls in month field `{}`, so the schedule would never run",
                fields[2], fields[3]
            )));
        }

        let min_s = render(&minute.values, &MINUTE);
        let hour_s = render(&hour.values, &HOUR);
        let month_s = render(&month.values, &MONTH);
        let dom_s = render(&dom.values, &DAY_OF_MONTH);
        let dow_s = render(&dow.values, &DAY_OF_WEEK);
        let mut exprs = Vec::new();
        if either_day {
            exprs.push(format!("0 {min_s} {hour_s} {dom_s} {month_s} *"));
            exprs.push(format!("0 {min_s} {hour_s} * {month_s} {dow_s}"));
        } else {
            exprs.push(format!("0 {min_s} {hour_s} {dom_s} {month_s} {dow_s}"));
        }
        let parts = exprs
            .iter()
            .map(|e| {
                cron::Schedule::from_str(e).map_err(|err| {
                    ScheduleError::Cron(format!("internal translation `{e}` rejected: {err}"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;

        Ok(Schedule {
            expression: cron.trim().to_string(),
            tz,
            parts,
            every_hour: hour.values.len() == 24,
        })
    }

    /// The expression as the operator wrote it (for display and storage).
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The timezone wall-clock times are evaluated in.
    pub fn timezone(&self) -> Tz {
        self.tz
    }

    /// The first run strictly after `after`, as UTC.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // The crate only knows years 1970-2100 (and panics near chrono's
        // limits), so clamp the search to that window.
        if after.year() > CRON_LAST_YEAR {
            return None;
        }
        let wall = after
            .max(
                Utc.with_ymd_and_hms(CRON_FIRST_YEAR - 1, 12, 30, 0, 0, 0)
                    .single()?,
            )
            .with_timezone(&self.tz)
            .naive_local();
        // If `after` is on the first pass through a repeated hour, the second
        // pass of slightly earlier wall times is still ahead of it.
        let start = match self.tz.from_local_datetime(&wall) {
            LocalResult::Ambiguous(first, second) => wall.checked_sub_signed(second - first)?,
            _ => wall,
        };
        // The crate's iterator is exclusive and works in whole seconds.
        let mut cursor = start
            .with_nanosecond(0)?
            .checked_sub_signed(TimeDelta::seconds(1))?;
        let mut best: Option<DateTime<Utc>> = None;
        while let Some(wall_run) = self.next_wall(cursor) {
            cursor = wall_run;
            let (first, second) = self.instants(wall_run);
            for t in [first, second].into_iter().flatten() {
                if t > after && best.is_none_or(|b| t < b) {
                    best = Some(t);
                }
            }
            // First passes only move forward, and a second pass is always later
            // than its own first pass, so nothing later can beat `best`.
            if first.is_some_and(|f| f > after) {
                break;
            }
        }
        best
    }

    /// The next `n` runs after `after` (for previews in the API).
    pub fn upcoming(&self, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        let mut runs = Vec::with_capacity(n.min(1024));
        let mut cursor = after;
        while runs.len() < n {
            match self.next_after(cursor) {
                Some(t) => {
                    runs.push(t);
                    cursor = t;
                }
                None => break,
            }
        }
        runs
    }

    /// Next matching wall-clock time strictly after `wall`, ignoring DST.
    ///
    /// The crate is driven with UTC as a stand-in clock that has no
    /// transitions, so it yields every wall-clock time exactly once.
    fn next_wall(&self, wall: NaiveDateTime) -> Option<NaiveDateTime> {
        let start = chrono_tz::UTC.from_utc_datetime(&wall);
        self.parts
            .iter()
            .filter_map(|p| p.after(&start).next())
            .map(|d| d.naive_utc())
            .min()
    }

    /// Maps one wall-clock run to its instant(s): the first (or only) pass, and
    /// the second pass of a repeated time when the job follows elapsed time.
    fn instants(&self, wall: NaiveDateTime) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        match self.tz.from_local_datetime(&wall) {
            LocalResult::Single(t) => (Some(t.with_timezone(&Utc)), None),
            LocalResult::Ambiguous(first, second) => {
                let second = self.every_hour.then(|| second.with_timezone(&Utc));
                (Some(first.with_timezone(&Utc)), second)
            }
            LocalResult::None if self.every_hour => (None, None),
            LocalResult::None => (self.gap_end(wall), None),
        }
    }

    /// The first instant whose local time is past `wall`, which lies in a gap:
    /// that is the moment the clocks jumped.
    fn gap_end(&self, wall: NaiveDateTime) -> Option<DateTime<Utc>> {
        let span = TimeDelta::hours(GAP_SEARCH_HOURS);
        let mut lo = wall.checked_sub_signed(span)?; // local time here is before `wall`
        let mut hi = wall.checked_add_signed(span)?; // local time here is after `wall`
        let local = |t: NaiveDateTime| self.tz.from_utc_datetime(&t).naive_local();
        if local(lo) > wall || local(hi) <= wall {
            return None;
        }
        while hi - lo > TimeDelta::seconds(1) {
            let mid = lo + (hi - lo) / 2;
            if local(mid) > wall {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        Some(Utc.from_utc_datetime(&hi))
    }
}

/// Looks up an IANA name, forgiving letter case (`europe/lisbon`) since
/// operators type these by hand.
fn parse_timezone(name: &str) -> Result<Tz, ScheduleError> {
    let name = name.trim();
    Tz::from_str(name)
        .ok()
        .or_else(|| {
            chrono_tz::TZ_VARIANTS
                .iter()
                .copied()
                .find(|tz| tz.name().eq_ignore_ascii_case(name))
        })
        .filter(|_| !name.is_empty())
        .ok_or_else(|| ScheduleError::Timezone(name.to_string()))
}

/// Expands the `@` shortcuts into 5-field form so they share one code path.
fn expand_macro(cron: &str) -> Result<String, ScheduleError> {
    if !cron.starts_with('@') {
        return Ok(cron.to_string());
    }
    let expanded = match cron.to_ascii_lowercase().as_str() {
        "@hourly" => "0 * * * *",
        "@daily" | "@midnight" => "0 0 * * *",
        "@weekly" => "0 0 * * 0",
        "@monthly" => "0 0 1 * *",
        "@yearly" | "@annually" => "0 0 1 1 *",
        _ => {
            return Err(ScheduleError::Cron(format!(
                "unknown macro `{cron}`; supported: @hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually"
            )))
        }
    };
    Ok(expanded.to_string())
}

/// Limits and names of one cron field.
struct FieldSpec {
    label: &'static str,
    min: u32,
    /// Largest value accepted (7 for day-of-week, an alias of Sunday).
    max: u32,
    /// Largest value `*` stands for (6 for day-of-week).
    star_max: u32,
    /// Names for consecutive values starting at `min`.
    names: &'static [&'static str],
    /// Hand values to the `cron` crate as names (its weekday numbers differ).
    emit_names: bool,
    note: &'static str,
}

const MINUTE: FieldSpec = FieldSpec {
    label: "minute",
    min: 0,
    max: 59,
    star_max: 59,
    names: &[],
    emit_names: false,
    note: "",
};
const HOUR: FieldSpec = FieldSpec {
    label: "hour",
    min: 0,
    max: 23,
    star_max: 23,
    names: &[],
    emit_names: false,
    note: "",
};
const DAY_OF_MONTH: FieldSpec = FieldSpec {
    label: "day-of-month",
    min: 1,
    max: 31,
    star_max: 31,
    names: &[],
    emit_names: false,
    note: "",
};
const MONTH: FieldSpec = FieldSpec {
    label: "month",
    min: 1,
    max: 12,
    star_max: 12,
    names: &[
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ],
    emit_names: false,
    note: "",
};
const DAY_OF_WEEK: FieldSpec = FieldSpec {
    label: "day-of-week",
    min: 0,
    max: 7,
    star_max: 6,
    names: &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
    emit_names: true,
    note: " (0 and 7 are Sunday)",
};

/// A parsed field: the values it allows, and whether it was written starting
/// with `*` (which decides the day-of-month/day-of-week combination rule).
struct Field {
    values: BTreeSet<u32>,
    star: bool,
}

/// Parses one field (lists, ranges, steps, names) into the set of values it
/// allows, with day-of-week 7 folded onto 0.
fn parse_field(text: &str, spec: &FieldSpec) -> Result<Field, ScheduleError> {
    let fail =
        |problem: String| ScheduleError::Cron(format!("{} field `{text}`: {problem}", spec.label));
    let mut values = BTreeSet::new();
    for item in text.split(',') {
        if item.is_empty() {
            return Err(fail("empty list item".to_string()));
        }
        let (base, step) = match item.split_once('/') {
            Some((base, step)) => {
                let span = spec.star_max - spec.min + 1;
                let step: u32 = step
                    .parse()
                    .ok()
                    .filter(|s| (1..=span).contains(s))
                    .ok_or_else(|| fail(format!("step `{step}` must be between 1 and {span}")))?;
                (base, Some(step))
            }
            None => (item, None),
        };
        let (lo, hi) = if base == "*" {
            (spec.min, spec.star_max)
        } else if let Some((a, b)) = base.split_once('-') {
            let (a, b) = (
                parse_value(a, spec).map_err(fail)?,
                parse_value(b, spec).map_err(fail)?,
            );
            if a > b {
                return Err(fail(format!(
                    "range {a}-{b} is backwards (start must not exceed end)"
                )));
            }
            (a, b)
        } else {
            let v = parse_value(base, spec).map_err(fail)?;
            // `5/15` means "from 5 to the end, every 15", as most crons accept.
            (v, if step.is_some() { spec.star_max } else { v })
        };
        let step = step.unwrap_or(1) as usize;
        values.extend((lo..=hi).step_by(step));
    }
    if spec.max > spec.star_max && values.remove(&spec.max) {
        values.insert(spec.min);
    }
    Ok(Field {
        values,
        star: text.starts_with('*'),
    })
}

/// Parses a number or (for month and day-of-week) a three-letter name.
fn parse_value(text: &str, spec: &FieldSpec) -> Result<u32, String> {
    if text.is_empty() {
        return Err("a range needs a value on both sides of `-`".to_string());
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        let value: u32 = text.parse().map_err(|_| {
            format!(
                "value {text} is out of range {}-{}{}",
                spec.min, spec.max, spec.note
            )
        })?;
        if value < spec.min || value > spec.max {
            return Err(format!(
                "value {value} is out of range {}-{}{}",
                spec.min, spec.max, spec.note
            ));
        }
        return Ok(value);
    }
    if let Some(pos) = spec.names.iter().position(|n| n.eq_ignore_ascii_case(text)) {
        // Name tables are tiny, so the index always fits.
        return Ok(spec.min + pos as u32);
    }
    if spec.names.is_empty() {
        Err(format!("`{text}` is not a number"))
    } else {
        Err(format!(
            "`{text}` is not a number or a {} name ({}-{})",
            spec.label,
            spec.names.first().copied().unwrap_or_default(),
            spec.names.last().copied().unwrap_or_default()
        ))
    }
}

/// Writes a value set back out for the `cron` crate: `*` when complete,
/// otherwise an explicit list, with weekdays as names because the crate
/// numbers them 1 = Sunday rather than cron's 0 = Sunday.
fn render(values: &BTreeSet<u32>, spec: &FieldSpec) -> String {
    if values.len() as u32 == spec.star_max - spec.min + 1 {
        return "*".to_string();
    }
    values
        .iter()
        .map(|v| {
            if spec.emit_names {
                spec.names
                    .get((v - spec.min) as usize)
                    .map_or_else(|| v.to_string(), |n| n.to_string())
            } else {
                v.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Whether some chosen day-of-month exists in some chosen month (leap years
/// included), so that e.g. `0 0 31 2 *` is rejected instead of never running.
fn dom_fits_months(days: &BTreeSet<u32>, months: &BTreeSet<u32>) -> bool {
    let Some(&first_day) = days.first() else {
        return false;
    };
    months.iter().any(|m| {
        let longest = match m {
            2 => 29,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        first_day <= longest
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, Weekday};

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .unwrap_or_else(|e| panic!("bad test timestamp {s}: {e}"))
            .with_timezone(&Utc)
    }

    fn fmt(ts: &[DateTime<Utc>]) -> Vec<String> {
        ts.iter()
            .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .collect()
    }

    /// (name, cron, tz, after (UTC), expected next runs (UTC))
    const CASES: &[(&str, &str, &str, &str, &[&str])] = &[
        (
            "utc every minute",
            "* * * * *",
            "UTC",
            "2026-05-10T10:00:30Z",
            &[
                "2026-05-10T10:01:00Z",
                "2026-05-10T10:02:00Z",
                "2026-05-10T10:03:00Z",
            ],
        ),
        (
            "after exactly on a run is exclusive",
            "* * * * *",
            "UTC",
            "2026-05-10T10:00:00Z",
            &["2026-05-10T10:01:00Z"],
        ),
        (
            "every 15 minutes across the hour",
            "*/15 * * * *",
            "UTC",
            "2026-05-10T10:40:00Z",
            &[
                "2026-05-10T10:45:00Z",
                "2026-05-10T11:00:00Z",
                "2026-05-10T11:15:00Z",
            ],
        ),
        (
            // 2026-05-08 is a Friday; Lisbon is on WEST (UTC+1) in May.
            "weekdays only in Europe/Lisbon",
            "0 3 * * 1-5",
            "Europe/Lisbon",
            "2026-05-08T03:00:00Z",
            &[
                "2026-05-11T02:00:00Z",
                "2026-05-12T02:00:00Z",
                "2026-05-13T02:00:00Z",
            ],
        ),
        (
            "weekday names in Europe/Lisbon winter",
            "0 3 * * MON-FRI",
            "Europe/Lisbon",
            "2026-01-09T12:00:00Z",
            &["2026-01-12T03:00:00Z", "2026-01-13T03:00:00Z"],
        ),
        (
            "sao paulo has no DST (UTC-3 all year)",
            "30 22 * * *",
            "America/Sao_Paulo",
            "2026-01-15T00:00:00Z",
            &["2026-01-15T01:30:00Z", "2026-01-16T01:30:00Z"],
        ),
        (
            "sao paulo in (southern) winter too",
            "30 22 * * *",
            "America/Sao_Paulo",
            "2026-07-15T00:00:00Z",
            &["2026-07-15T01:30:00Z"],
        ),
        (
            "kolkata half-hour offset",
            "0 2 * * *",
            "Asia/Kolkata",
            "2026-06-01T00:00:00Z",
            &["2026-06-01T20:30:00Z", "2026-06-02T20:30:00Z"],
        ),
        (
            // Berlin jumps 02:00 CET -> 03:00 CEST at 01:00 UTC on 2026-03-29.
            "berlin DST start: daily 02:30 runs once, at 03:00 CEST",
            "30 2 * * *",
            "Europe/Berlin",
            "2026-03-28T12:00:00Z",
            &["2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"],
        ),
        (
            "berlin DST start: daily 04:00 moves one hour in UTC",
            "0 4 * * *",
            "Europe/Berlin",
            "2026-03-28T12:00:00Z",
            &["2026-03-29T02:00:00Z", "2026-03-30T02:00:00Z"],
        ),
        (
            // Berlin falls back 03:00 CEST -> 02:00 CET at 01:00 UTC on 2026-10-25.
            "berlin DST end: daily 02:30 runs once, at the first pass",
            "30 2 * * *",
            "Europe/Berlin",
            "2026-10-24T12:00:00Z",
            &["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"],
        ),
        (
            "new york gap: daily 02:30 runs at 03:00 EDT",
            "30 2 * * *",
            "America/New_York",
            "2026-03-07T12:00:00Z",
            &["2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"],
        ),
        (
            "new york gap: quarter-hourly runs collapse into one at 03:00",
            "*/15 2 * * *",
            "America/New_York",
            "2026-03-08T05:00:00Z",
            &["2026-03-08T07:00:00Z", "2026-03-09T06:00:00Z"],
        ),
        (
            "new york gap: a job at 03:00 and one in the gap run once",
            "30 2,3 * * *",
            "America/New_York",
            "2026-03-08T05:00:00Z",
            &[
                "2026-03-08T07:00:00Z",
                "2026-03-08T07:30:00Z",
                "2026-03-09T06:30:00Z",
            ],
        ),
        (
            "new york overlap: daily 01:30 runs exactly once",
            "30 1 * * *",
            "America/New_York",
            "2026-10-31T12:00:00Z",
            &["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"],
        ),
        (
            "new york overlap: asked from inside the second pass",
            "30 1 * * *",
            "America/New_York",
            "2026-11-01T06:10:00Z",
            &["2026-11-02T06:30:00Z"],
        ),
        (
            "new york hourly follows real time through the gap",
            "0 * * * *",
            "America/New_York",
            "2026-03-08T05:30:00Z",
            &[
                "2026-03-08T06:00:00Z",
                "2026-03-08T07:00:00Z",
                "2026-03-08T08:00:00Z",
            ],
        ),
        (
            "new york hourly follows real time through the overlap",
            "0 * * * *",
            "America/New_York",
            "2026-11-01T04:30:00Z",
            &[
                "2026-11-01T05:00:00Z",
                "2026-11-01T06:00:00Z",
                "2026-11-01T07:00:00Z",
                "2026-11-01T08:00:00Z",
            ],
        ),
        (
            "new york every 15 minutes through the repeated hour",
            "*/15 * * * *",
            "America/New_York",
            "2026-11-01T05:50:00Z",
            &[
                "2026-11-01T06:00:00Z",
                "2026-11-01T06:15:00Z",
                "2026-11-01T06:30:00Z",
            ],
        ),
        (
            // Apia skipped 2011-12-30 entirely (UTC-10 -> UTC+14 at 10:00 UTC).
            "a skipped whole day runs once when the clocks land",
            "0 12 * * *",
            "Pacific/Apia",
            "2011-12-29T12:00:00Z",
            &[
                "2011-12-29T22:00:00Z",
                "2011-12-30T10:00:00Z",
                "2011-12-30T22:00:00Z",
            ],
        ),
        (
            "day 31 skips short months",
            "0 4 31 * *",
            "UTC",
            "2026-01-31T04:00:00Z",
            &[
                "2026-03-31T04:00:00Z",
                "2026-05-31T04:00:00Z",
                "2026-07-31T04:00:00Z",
                "2026-08-31T04:00:00Z",
            ],
        ),
        (
            "first of the month",
            "0 4 1 * *",
            "UTC",
            "2026-01-15T00:00:00Z",
            &["2026-02-01T04:00:00Z", "2026-03-01T04:00:00Z"],
        ),
        (
            "february 29 only in leap years",
            "0 0 29 FEB *",
            "UTC",
            "2026-01-01T00:00:00Z",
            &["2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"],
        ),
        (
            "month names and lists",
            "0 0 1 JAN,jul *",
            "UTC",
            "2026-02-01T00:00:00Z",
            &["2026-07-01T00:00:00Z", "2027-01-01T00:00:00Z"],
        ),
        (
            // 2026-05-10 is a Sunday.
            "sunday as 0",
            "0 12 * * 0",
            "UTC",
            "2026-05-04T00:00:00Z",
            &["2026-05-10T12:00:00Z", "2026-05-17T12:00:00Z"],
        ),
        (
            "sunday as 7",
            "0 12 * * 7",
            "UTC",
            "2026-05-04T00:00:00Z",
            &["2026-05-10T12:00:00Z", "2026-05-17T12:00:00Z"],
        ),
        (
            "range ending on 7 wraps to sunday",
            "0 12 * * 5-7",
            "UTC",
            "2026-05-07T00:00:00Z",
            &[
                "2026-05-08T12:00:00Z",
                "2026-05-09T12:00:00Z",
                "2026-05-10T12:00:00Z",
                "2026-05-15T12:00:00Z",
            ],
        ),
        (
            "numeric weekday list keeps cron numbering (1 = Monday)",
            "0 12 * * 1,3",
            "UTC",
            "2026-05-10T00:00:00Z",
            &[
                "2026-05-11T12:00:00Z",
                "2026-05-13T12:00:00Z",
                "2026-05-18T12:00:00Z",
            ],
        ),
        (
            "weekday step",
            "0 12 * * 1-5/2",
            "UTC",
            "2026-05-10T00:00:00Z",
            &[
                "2026-05-11T12:00:00Z",
                "2026-05-13T12:00:00Z",
                "2026-05-15T12:00:00Z",
            ],
        ),
        (
            // Day 13 OR a Friday: 2026-12-13 is a Sunday.
            "day-of-month and day-of-week both set means either",
            "0 0 13 * FRI",
            "UTC",
            "2026-12-01T00:00:00Z",
            &[
                "2026-12-04T00:00:00Z",
                "2026-12-11T00:00:00Z",
                "2026-12-13T00:00:00Z",
                "2026-12-18T00:00:00Z",
            ],
        ),
        (
            "day-of-month with a star step and a weekday means both",
            "0 0 */2 * MON",
            "UTC",
            "2026-11-01T00:00:00Z",
            &["2026-11-09T00:00:00Z", "2026-11-23T00:00:00Z"],
        ),
        (
            "@daily in Asia/Tokyo is 15:00 UTC the day before",
            "@daily",
            "Asia/Tokyo",
            "2026-05-10T00:00:00Z",
            &["2026-05-10T15:00:00Z", "2026-05-11T15:00:00Z"],
        ),
        (
            "@midnight is @daily",
            "@midnight",
            "UTC",
            "2026-05-10T00:00:00Z",
            &["2026-05-11T00:00:00Z"],
        ),
        (
            "@hourly",
            "@hourly",
            "UTC",
            "2026-05-10T00:10:00Z",
            &["2026-05-10T01:00:00Z", "2026-05-10T02:00:00Z"],
        ),
        (
            "@weekly is sunday midnight",
            "@weekly",
            "UTC",
            "2026-05-04T00:00:00Z",
            &["2026-05-10T00:00:00Z", "2026-05-17T00:00:00Z"],
        ),
        (
            "@monthly",
            "@monthly",
            "Europe/Lisbon",
            "2026-05-10T00:00:00Z",
            &["2026-05-31T23:00:00Z", "2026-06-30T23:00:00Z"],
        ),
        (
            "@yearly and @annually",
            "@annually",
            "UTC",
            "2026-05-10T00:00:00Z",
            &["2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z"],
        ),
        (
            "surrounding whitespace and tabs are fine",
            "  0\t6  * *   * ",
            "  UTC ",
            "2026-05-10T00:00:00Z",
            &["2026-05-10T06:00:00Z"],
        ),
    ];

    #[test]
    fn table_of_upcoming_runs() {
        for (name, cron, tz, after, expected) in CASES {
            let schedule =
                Schedule::parse(cron, tz).unwrap_or_else(|e| panic!("{name}: parse failed: {e}"));
            let got = schedule.upcoming(utc(after), expected.len());
            assert_eq!(fmt(&got), *expected, "{name}");
            assert_eq!(
                schedule.next_after(utc(after)),
                got.first().copied(),
                "{name}: next_after"
            );
        }
    }

    #[test]
    fn invalid_inputs_name_the_problem() {
        use ScheduleError::{Cron, Timezone};
        type Check = fn(&ScheduleError) -> bool;
        let cases: &[(&str, &str, Check)] = &[
            ("* * * *", "UTC", |e| {
                *e == Cron("expected 5 fields (minute hour day month weekday), got 4".into())
            }),
            (
                "0 * * *",
                "UTC",
                |e| matches!(e, Cron(m) if m.contains("got 4")),
            ),
            ("*/5 * * * *", "Mars/Base", |e| {
                *e == Timezone("Mars/Base".into())
            }),
            ("0 0 * * * *", "UTC", |e| {
                *e == Cron(
                    "expected 5 fields (minute hour day month weekday), got 6 (seconds and year fields are not supported)"
                        .into(),
                )
            }),
            (
                "0 0 0 * * * 2026",
                "UTC",
                |e| matches!(e, Cron(m) if m.contains("got 7")),
            ),
            ("61 * * * *", "UTC", |e| {
                *e == Cron("minute field `61`: value 61 is out of range 0-59".into())
            }),
            ("* * * * 8", "UTC", |e| {
                *e == Cron(
                    "day-of-week field `8`: value 8 is out of range 0-7 (0 and 7 are Sunday)"
                        .into(),
                )
            }),
            (
                "* 24 * * *",
                "UTC",
                |e| matches!(e, Cron(m) if m.starts_with("hour field")),
            ),
            (
                "* * 0 * *",
                "UTC",
                |e| matches!(e, Cron(m) if m.starts_with("day-of-month field")),
            ),
            (
                "* * * 13 *",
                "UTC",
                |e| matches!(e, Cron(m) if m.starts_with("month field")),
            ),
            ("* * * FOO *", "UTC", |e| {
                *e == Cron(
                    "month field `FOO`: `FOO` is not a number or a month name (JAN-DEC)".into(),
                )
            }),
            (
                "* * * * FUNDAY",
                "UTC",
                |e| matches!(e, Cron(m) if m.contains("(SUN-SAT)")),
            ),
            ("x * * * *", "UTC", |e| {
                *e == Cron("minute field `x`: `x` is not a number".into())
            }),
            (
                "5-1 * * * *",
                "UTC",
                |e| matches!(e, Cron(m) if m.contains("backwards")),
            ),
            ("*/0 * * * *", "UTC", |e| {
                *e == Cron("minute field `*/0`: step `0` must be between 1 and 60".into())
            }),
            (
                "*/x * * * *",
                "UTC",
                |e| matches!(e, Cron(m) if m.contains("step `x`")),
            ),
            (
                "1,,2 * * * *",
                "UTC",
                |e| matches!(e, Cron(m) if m.contains("empty list item")),
            ),
            ("1-2-3 * * * *", "UTC", |e| matches!(e, Cron(_))),
            ("*/5/2 * * * *", "UTC", |e| matches!(e, Cron(_))),
            (
                "-1 * * * *",
                "UTC",
                |e| matches!(e, Cron(m) if m.contains("both sides")),
            ),
            (
                "1- * * * *",
                "UTC",
                |e| matches!(e, Cron(m) if m.contains("both sides")),
            ),
            (
                "* * * * MON-",
                "UTC",
                |e| matches!(e, Cron(m) if m.contains("both sides")),
            ),
            (
                "99999999999 * * * *",
                "UTC",
                |e| matches!(e, Cron(m) if m.contains("out of range")),
            ),
            ("? * * * *", "UTC", |e| matches!(e, Cron(_))),
            (
                "0 0 31 2 *",
                "UTC",
                |e| matches!(e, Cron(m) if m.contains("never")),
            ),
            (
                "0 0 31 4,6,9,11 *",
                "UTC",
                |e| matches!(e, Cron(m) if m.contains("never")),
            ),
            (
                "",
                "UTC",
                |e| matches!(e, Cron(m) if m.starts_with("empty expression")),
            ),
            (
                "   ",
                "UTC",
                |e| matches!(e, Cron(m) if m.starts_with("empty expression")),
            ),
            (
                "@reboot",
                "UTC",
                |e| matches!(e, Cron(m) if m.contains("unknown macro `@reboot`")),
            ),
            (
                "@daily 5",
                "UTC",
                |e| matches!(e, Cron(m) if m.contains("unknown macro")),
            ),
            ("0 3 * * *", "", |e| *e == Timezone(String::new())),
            ("0 3 * * *", "Europe/Lisbonn", |e| {
                *e == Timezone("Europe/Lisbonn".into())
            }),
        ];
        for (cron, tz, check) in cases {
            match Schedule::parse(cron, tz) {
                Ok(_) => panic!("`{cron}` in `{tz}` should be rejected"),
                Err(e) => assert!(check(&e), "`{cron}` in `{tz}`: unexpected error {e:?}"),
            }
        }
    }

    #[test]
    fn error_messages_carry_their_prefix() {
        let cron = Schedule::parse("1 2 3", "UTC").err().map(|e| e.to_string());
        assert_eq!(
            cron.as_deref(),
            Some("schedule_cron: expected 5 fields (minute hour day month weekday), got 3")
        );
        let tz = Schedule::parse("@daily", "Mars/Base")
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            tz.as_deref(),
            Some("schedule_timezone: unknown timezone `Mars/Base` (use an IANA name such as Europe/Lisbon)")
        );
    }

    #[test]
    fn accepted_spellings() {
        for cron in [
            "*/15 * * * *",
            "0 3 * * 1-5",
            "0 4 1 * *",
            "0 4 * * MON",
            "0 4 * * mon-fri",
            "0 4 1 JAN *",
            "0 4 1 jan-mar *",
            "0-30/10 * * * *",
            "5/15 * * * *",
            "0 0 * * 0-7",
            "0 0 * * */2",
            "@HOURLY",
            "@yearly",
        ] {
            assert!(Schedule::parse(cron, "Europe/Lisbon").is_ok(), "{cron}");
        }
        for (name, tz) in [
            ("UTC", chrono_tz::UTC),
            ("utc", chrono_tz::UTC),
            ("Etc/UTC", chrono_tz::Etc::UTC),
            ("europe/lisbon", chrono_tz::Europe::Lisbon),
            ("AMERICA/SAO_PAULO", chrono_tz::America::Sao_Paulo),
        ] {
            let got = Schedule::parse("@daily", name).map(|s| s.timezone());
            assert_eq!(got, Ok(tz), "{name}");
        }
        let s = Schedule::parse(" 0 3 * * 1-5 ", "Europe/Lisbon").ok();
        assert_eq!(s.as_ref().map(Schedule::expression), Some("0 3 * * 1-5"));
        assert_eq!(s.map(|s| s.timezone()), Some(chrono_tz::Europe::Lisbon));
    }

    #[test]
    fn field_expansion() {
        let values = |text: &str, spec: &FieldSpec| -> Vec<u32> {
            parse_field(text, spec)
                .map(|f| f.values.into_iter().collect())
                .unwrap_or_else(|e| panic!("{text}: {e}"))
        };
        assert_eq!(values("*/15", &MINUTE), [0, 15, 30, 45]);
        assert_eq!(values("5/15", &MINUTE), [5, 20, 35, 50]);
        assert_eq!(values("0-30/10", &MINUTE), [0, 10, 20, 30]);
        assert_eq!(values("1,5,1", &HOUR), [1, 5]);
        assert_eq!(values("7", &DAY_OF_WEEK), [0]);
        assert_eq!(values("0,7", &DAY_OF_WEEK), [0]);
        assert_eq!(values("5-7", &DAY_OF_WEEK), [0, 5, 6]);
        assert_eq!(values("*", &DAY_OF_WEEK), [0, 1, 2, 3, 4, 5, 6]);
        assert_eq!(values("*/2", &DAY_OF_WEEK), [0, 2, 4, 6]);
        assert_eq!(values("sat,Sun", &DAY_OF_WEEK), [0, 6]);
        assert_eq!(values("FEB-APR", &MONTH), [2, 3, 4]);
        assert_eq!(
            render(&[0, 6].into_iter().collect(), &DAY_OF_WEEK),
            "SUN,SAT"
        );
        assert_eq!(render(&(0..=6).collect(), &DAY_OF_WEEK), "*");
        assert_eq!(render(&[1, 2].into_iter().collect(), &MONTH), "1,2");
    }

    #[test]
    fn sunday_spellings_agree() {
        let after = utc("2026-01-01T00:00:00Z");
        let runs = |cron: &str| {
            Schedule::parse(cron, "Europe/Berlin")
                .map(|s| s.upcoming(after, 10))
                .unwrap_or_else(|e| panic!("{cron}: {e}"))
        };
        let sunday0 = runs("0 6 * * 0");
        assert_eq!(sunday0.len(), 10);
        assert_eq!(sunday0, runs("0 6 * * 7"));
        assert_eq!(sunday0, runs("0 6 * * SUN"));
        for t in &sunday0 {
            assert_eq!(
                t.with_timezone(&chrono_tz::Europe::Berlin).weekday(),
                Weekday::Sun
            );
        }
        // Weekends written three ways.
        assert_eq!(runs("0 6 * * 6,0"), runs("0 6 * * 6-7"));
        assert_eq!(runs("0 6 * * 6,0"), runs("0 6 * * SAT,SUN"));
        // Every weekday number means the same day as in classic cron.
        let names = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
        let days = [
            Weekday::Sun,
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
            Weekday::Sat,
        ];
        for (n, (name, day)) in names.iter().zip(days).enumerate() {
            let numeric = runs(&format!("0 6 * * {n}"));
            assert_eq!(numeric, runs(&format!("0 6 * * {name}")), "{n} vs {name}");
            for t in &numeric {
                assert_eq!(
                    t.with_timezone(&chrono_tz::Europe::Berlin).weekday(),
                    day,
                    "{n}"
                );
            }
        }
    }

    /// Documents why DST is handled here: the crate alone skips a run that
    /// falls in a gap and fires twice for a time that happens twice.
    #[test]
    fn cron_crate_alone_mishandles_dst() {
        let ny = chrono_tz::America::New_York;
        let start = |s: &str| utc(s).with_timezone(&ny);
        let gap = cron::Schedule::from_str("0 30 2 * * *").unwrap();
        let runs: Vec<_> = gap
            .after(&start("2026-03-07T12:00:00Z"))
            .take(2)
            .map(|t| t.with_timezone(&Utc))
            .collect();
        assert_eq!(
            fmt(&runs),
            ["2026-03-09T06:30:00Z", "2026-03-10T06:30:00Z"],
            "the crate skips 2026-03-08 entirely"
        );
        let overlap = cron::Schedule::from_str("0 30 1 * * *").unwrap();
        let runs: Vec<_> = overlap
            .after(&start("2026-10-31T12:00:00Z"))
            .take(2)
            .map(|t| t.with_timezone(&Utc))
            .collect();
        assert_eq!(
            fmt(&runs),
            ["2026-11-01T05:30:00Z", "2026-11-01T06:30:00Z"],
            "the crate runs twice on 2026-11-01"
        );
    }

    /// Over a whole year, a fixed-time daily job runs exactly once per local
    /// day in zones with DST, whatever hour it is set to.
    #[test]
    fn daily_jobs_run_once_per_local_day_all_year() {
        for tz in [
            "America/New_York",
            "Europe/Berlin",
            "Australia/Sydney",
            "Australia/Lord_Howe",
        ] {
            for time in ["0 0", "30 1", "30 2", "0 3", "59 23"] {
                let cron = format!("{time} * * *");
                let s = Schedule::parse(&cron, tz).unwrap_or_else(|e| panic!("{e}"));
                let runs = s.upcoming(utc("2025-12-31T12:00:00Z"), 400);
                let zone = s.timezone();
                let days: Vec<NaiveDate> = runs
                    .iter()
                    .map(|t| t.with_timezone(&zone).date_naive())
                    .filter(|d| d.year() == 2026)
                    .collect();
                assert_eq!(days.len(), 365, "{tz} {cron}");
                let unique: BTreeSet<_> = days.iter().collect();
                assert_eq!(unique.len(), 365, "{tz} {cron}: a day ran twice");
            }
        }
    }

    /// Runs are strictly increasing and, for jobs that run every hour, the
    /// interval in real time stays regular across DST changes.
    #[test]
    fn runs_strictly_increase_and_hourly_follows_real_time() {
        let start = utc("2026-01-01T00:00:00Z");
        for tz in [
            "America/New_York",
            "Europe/Berlin",
            "Australia/Lord_Howe",
            "Asia/Kolkata",
        ] {
            // Roughly a year of runs each.
            for (cron, n) in [
                ("*/15 * * * *", 35_100),
                ("@hourly", 8_800),
                ("0 */6 * * *", 1_470),
                ("*/20 1-3 * * *", 3_300),
                ("30 2 * * 0", 53),
            ] {
                let s = Schedule::parse(cron, tz).unwrap_or_else(|e| panic!("{e}"));
                let runs = s.upcoming(start, n);
                assert_eq!(runs.len(), n, "{tz} {cron}");
                assert!(
                    runs.windows(2).all(|w| w[0] < w[1]),
                    "{tz} {cron}: not increasing"
                );
                let step = match cron {
                    // Lord Howe shifts by 30 minutes, which keeps quarter hours aligned.
                    "*/15 * * * *" => Some(TimeDelta::minutes(15)),
                    "@hourly" if tz != "Australia/Lord_Howe" => Some(TimeDelta::hours(1)),
                    _ => None,
                };
                if let Some(step) = step {
                    assert!(
                        runs.windows(2).all(|w| w[1] - w[0] == step),
                        "{tz} {cron}: drifted"
                    );
                }
            }
        }
    }

    #[test]
    fn sub_second_after_and_no_runs_left() {
        let s = Schedule::parse("* * * * *", "UTC").unwrap_or_else(|e| panic!("{e}"));
        let after = utc("2026-05-10T10:00:00.500Z");
        assert_eq!(s.next_after(after), Some(utc("2026-05-10T10:01:00Z")));
        assert!(s.upcoming(after, 0).is_empty());
        // The crate stops at 2100; asking beyond that yields nothing.
        let late = Schedule::parse("@yearly", "UTC").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(late.next_after(utc("2100-06-01T00:00:00Z")), None);
        assert_eq!(late.upcoming(utc("2098-06-01T00:00:00Z"), 5).len(), 2);
        // Extreme instants neither panic nor invent runs.
        for tz in [
            "UTC",
            "America/New_York",
            "Asia/Tokyo",
            "Pacific/Kiritimati",
        ] {
            let s = Schedule::parse("*/5 * * * *", tz).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(s.next_after(DateTime::<Utc>::MAX_UTC), None, "{tz}");
            let first = s.next_after(DateTime::<Utc>::MIN_UTC);
            assert!(
                first.is_some_and(|t| t.year() == 1969 || t.year() == 1970),
                "{tz}: {first:?}"
            );
        }
    }
}
