//! Retention: which completed backups of a job a policy deletes.
//!
//! Two kinds of policy exist. `max_backups` keeps the newest N. Otherwise the
//! grandfather-father-son rules (`keep_daily`, `keep_weekly`, `keep_monthly`)
//! keep the newest backup of each of the most recent calendar days, ISO weeks
//! and months that have backups, with the same semantics as restic's
//! `forget --keep-daily/--keep-weekly/--keep-monthly`. Calendar periods are
//! taken in the job's timezone, because "yesterday's backup" means the
//! operator's yesterday, not UTC's.
//!
//! Deleting backups is irreversible, so [`plan`] enforces safety invariants
//! whatever the policy says: the newest backup is always kept, a policy that
//! keeps everything deletes nothing, and backups dated after `now` (clock skew)
//! are kept and do not use up any rule's budget.

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// How many completed backups of a job to keep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionPolicy {
    /// Keep only the newest N backups; when set, the keep_* rules are ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_backups: Option<u32>,
    /// Keep the newest backup of each of the last N days that have backups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_daily: Option<u32>,
    /// Keep the newest backup of each of the last N ISO weeks that have backups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_weekly: Option<u32>,
    /// Keep the newest backup of each of the last N months that have backups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_monthly: Option<u32>,
    /// Whether the server deletes what the plan selects on its own, or only
    /// reports it.
    #[serde(default)]
    pub auto_delete: bool,
}

impl RetentionPolicy {
    /// Checks the numbers make sense; the error names the field (e.g. "retention_policy.max_backups: must be at least 1").
    pub fn validate(&self) -> Result<(), crate::domain::FieldError> {
        use crate::domain::FieldError;
        if self.max_backups == Some(0) {
            return Err(FieldError::new(
                "retention_policy.max_backups",
                "must be at least 1",
            ));
        }
        let keeps = [self.keep_daily, self.keep_weekly, self.keep_monthly];
        // keep_* are ignored when max_backups is set, so only judge them alone.
        if self.max_backups.is_none()
            && keeps.iter().any(Option::is_some)
            && keeps.iter().all(|k| k.unwrap_or(0) == 0)
        {
            return Err(FieldError::new(
                "retention_policy.keep_daily/keep_weekly/keep_monthly",
                "at least one must be 1 or more (leave them all unset to keep every backup)",
            ));
        }
        Ok(())
    }

    /// True when the policy would keep everything (no max_backups and no keep_* set).
    pub fn keeps_everything(&self) -> bool {
        self.max_backups.is_none()
            && self.keep_daily.is_none()
            && self.keep_weekly.is_none()
            && self.keep_monthly.is_none()
    }
}

/// One completed backup as retention sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub id: String,
    pub created_at: DateTime<Utc>,
}

/// Why each backup is kept or deleted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub id: String,
    pub keep: bool,
    pub reason: String,
}

/// Decides, for the completed backups of one job, which to keep. `now` is injected for tests; `tz` is the job's timezone (days/weeks/months are calendar periods in that zone).
///
/// Decisions come back newest first (ties keep their input order).
pub fn plan(
    policy: &RetentionPolicy,
    backups: &[Candidate],
    now: DateTime<Utc>,
    tz: Tz,
) -> Vec<Decision> {
    let mut sorted: Vec<&Candidate> = backups.iter().collect();
    sorted.sort_by_key(|b| std::cmp::Reverse(b.created_at));

    // Future-dated backups sit at the front; the rules only see the rest.
    let future = sorted.iter().take_while(|b| b.created_at > now).count();
    let mut verdicts: Vec<Verdict> = vec![Verdict::default(); sorted.len()];
    let (ahead, past) = verdicts.split_at_mut(future);
    for v in ahead.iter_mut() {
        v.keep("dated in the future (after now), kept for safety".to_string());
    }

    if policy.keeps_everything() {
        for v in past.iter_mut() {
            v.keep("policy keeps everything".to_string());
        }
    } else if let Some(max) = policy.max_backups {
        for (rank, v) in past.iter_mut().enumerate() {
            let nth = ordinal(rank + 1);
            if rank < max as usize {
                v.keep(format!("within max_backups {max} ({nth} newest)"));
            } else {
                v.reasons
                    .push(format!("beyond max_backups {max} ({nth} newest)"));
            }
        }
    } else {
        apply_gfs(policy, &sorted[future..], past, tz);
    }

    // The newest backup always survives, whatever the policy computed. When
    // future-dated backups exist, the newest one not in the future is also
    // protected, so clock skew can never leave only suspicious backups.
    if let Some(v) = verdicts.first_mut() {
        v.force("newest");
    }
    if future > 0 {
        if let Some(v) = verdicts.get_mut(future) {
            v.force("newest not in the future");
        }
    }

    sorted
        .iter()
        .zip(verdicts)
        .map(|(b, v)| Decision {
            id: b.id.clone(),
            keep: v.keep,
            reason: v.reasons.join(", "),
        })
        .collect()
}

/// Walks backups newest first; each rule keeps a backup whose period differs
/// from the last period that rule kept, while the rule has budget left.
fn apply_gfs(policy: &RetentionPolicy, backups: &[&Candidate], verdicts: &mut [Verdict], tz: Tz) {
    let rules = [
        Rule::new("keep_daily", "daily", policy.keep_daily, |d| {
            d.format("%Y-%m-%d").to_string()
        }),
        Rule::new("keep_weekly", "weekly", policy.keep_weekly, |d| {
            let week = d.iso_week();
            format!("{}-W{:02}", week.year(), week.week())
        }),
        Rule::new("keep_monthly", "monthly", policy.keep_monthly, |d| {
            d.format("%Y-%m").to_string()
        }),
    ];
    let mut state: Vec<(u32, Option<String>)> = rules.iter().map(|r| (r.count, None)).collect();
    for (backup, verdict) in backups.iter().zip(verdicts.iter_mut()) {
        let local = backup.created_at.with_timezone(&tz);
        for (rule, (budget, last)) in rules.iter().zip(state.iter_mut()) {
            let period = (rule.period)(&local);
            if *budget > 0 && last.as_deref() != Some(period.as_str()) {
                *budget -= 1;
                verdict.keep(format!("{} {period}", rule.label));
                *last = Some(period);
            }
        }
        if !verdict.keep {
            let configured: Vec<String> = rules
                .iter()
                .filter(|r| r.configured)
                .map(|r| format!("{} {}", r.field, r.count))
                .collect();
            verdict
                .reasons
                .push(format!("not selected by {}", configured.join(" / ")));
        }
    }
}

/// The decision being built for one backup.
#[derive(Debug, Clone, Default)]
struct Verdict {
    keep: bool,
    reasons: Vec<String>,
}

impl Verdict {
    fn keep(&mut self, reason: String) {
        self.keep = true;
        self.reasons.push(reason);
    }

    /// Keeps the backup for a safety reason, replacing any deletion reason.
    fn force(&mut self, why: &str) {
        if self.keep {
            self.reasons.insert(0, why.to_string());
        } else {
            self.keep = true;
            self.reasons = vec![format!("{why} (always kept)")];
        }
    }
}

/// Names the calendar period (day, ISO week, month) a local time falls in.
type PeriodFn = fn(&DateTime<Tz>) -> String;

/// One GFS rule: how many periods to keep and how a backup's period is named.
struct Rule {
    field: &'static str,
    label: &'static str,
    count: u32,
    configured: bool,
    period: PeriodFn,
}

impl Rule {
    fn new(field: &'static str, label: &'static str, count: Option<u32>, period: PeriodFn) -> Rule {
        Rule {
            field,
            label,
            count: count.unwrap_or(0),
            configured: count.is_some(),
            period,
        }
    }
}

/// "1st", "2nd", "3rd", "4th", "11th", "21st"... for readable reasons.
fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, NaiveDate, TimeZone};
    use chrono_tz::{Asia::Tokyo, UTC};
    use std::collections::BTreeSet;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .unwrap_or_else(|e| panic!("bad test timestamp {s}: {e}"))
            .with_timezone(&Utc)
    }

    /// The fixed clock every test runs against (a Friday).
    fn now() -> DateTime<Utc> {
        at("2026-11-20T12:00:00Z")
    }

    fn backup(id: &str, created_at: &str) -> Candidate {
        Candidate {
            id: id.to_string(),
            created_at: at(created_at),
        }
    }

    /// One backup a day at 02:00 UTC for `days` days ending on `now()`'s day,
    /// named by their UTC date, oldest first (as a database might return them).
    fn daily(days: i64) -> Vec<Candidate> {
        let last = Utc.with_ymd_and_hms(2026, 11, 20, 2, 0, 0).unwrap();
        (0..days)
            .rev()
            .map(|back| {
                let t = last - Duration::days(back);
                Candidate {
                    id: t.format("%Y-%m-%d").to_string(),
                    created_at: t,
                }
            })
            .collect()
    }

    fn kept(decisions: &[Decision]) -> Vec<&str> {
        decisions
            .iter()
            .filter(|d| d.keep)
            .map(|d| d.id.as_str())
            .collect()
    }

    fn deleted(decisions: &[Decision]) -> Vec<&str> {
        decisions
            .iter()
            .filter(|d| !d.keep)
            .map(|d| d.id.as_str())
            .collect()
    }

    fn policy(max: Option<u32>, d: Option<u32>, w: Option<u32>, m: Option<u32>) -> RetentionPolicy {
        RetentionPolicy {
            max_backups: max,
            keep_daily: d,
            keep_weekly: w,
            keep_monthly: m,
            auto_delete: true,
        }
    }

    #[test]
    fn table_of_kept_and_deleted() {
        let four = vec![
            backup("b1", "2026-11-17T02:00:00Z"),
            backup("b2", "2026-11-18T02:00:00Z"),
            backup("b3", "2026-11-19T02:00:00Z"),
            backup("b4", "2026-11-20T02:00:00Z"),
        ];
        let same_day = vec![
            backup("mon-early", "2026-11-16T01:00:00Z"),
            backup("mon-late", "2026-11-16T22:00:00Z"),
            backup("tue-a", "2026-11-17T08:00:00Z"),
            backup("tue-b", "2026-11-17T12:00:00Z"),
            backup("tue-c", "2026-11-17T18:00:00Z"),
            backup("wed", "2026-11-18T09:00:00Z"),
        ];
        // (name, policy, backups, tz, expected deleted ids, newest first)
        type Case = (
            &'static str,
            RetentionPolicy,
            Vec<Candidate>,
            Tz,
            Vec<&'static str>,
        );
        let cases: Vec<Case> = vec![
            (
                "max_backups 3 with 4 backups deletes exactly the oldest",
                policy(Some(3), None, None, None),
                four.clone(),
                UTC,
                vec!["b1"],
            ),
            (
                "max_backups 1 keeps the newest only",
                policy(Some(1), None, None, None),
                four.clone(),
                UTC,
                vec!["b3", "b2", "b1"],
            ),
            (
                "max_backups larger than the count deletes nothing",
                policy(Some(10), None, None, None),
                four.clone(),
                UTC,
                vec![],
            ),
            (
                "max_backups wins over keep_*",
                policy(Some(2), Some(30), Some(10), Some(12)),
                four.clone(),
                UTC,
                vec!["b2", "b1"],
            ),
            (
                "keep_daily 7 over 10 daily backups deletes the 3 oldest",
                policy(None, Some(7), None, None),
                daily(10),
                UTC,
                vec!["2026-11-13", "2026-11-12", "2026-11-11"],
            ),
            (
                "several backups a day: daily keeps the newest of each day",
                policy(None, Some(7), None, None),
                same_day.clone(),
                UTC,
                vec!["tue-b", "tue-a", "mon-early"],
            ),
            (
                "daily budget counts days with backups, not calendar days",
                policy(None, Some(2), None, None),
                vec![
                    backup("jan", "2026-01-05T00:00:00Z"),
                    backup("mar", "2026-03-05T00:00:00Z"),
                    backup("nov", "2026-11-05T00:00:00Z"),
                ],
                UTC,
                vec!["jan"],
            ),
            (
                "unset policy keeps everything",
                RetentionPolicy::default(),
                daily(40),
                UTC,
                vec![],
            ),
            (
                "empty input",
                policy(Some(3), None, None, None),
                vec![],
                UTC,
                vec![],
            ),
        ];
        for (name, policy, backups, tz, expected) in cases {
            let decisions = plan(&policy, &backups, now(), tz);
            assert_eq!(decisions.len(), backups.len(), "{name}");
            assert_eq!(deleted(&decisions), expected, "{name}");
        }
    }

    #[test]
    fn max_backups_reasons() {
        let backups = vec![
            backup("b1", "2026-11-17T02:00:00Z"),
            backup("b2", "2026-11-18T02:00:00Z"),
            backup("b3", "2026-11-19T02:00:00Z"),
            backup("b4", "2026-11-20T02:00:00Z"),
        ];
        let decisions = plan(&policy(Some(3), None, None, None), &backups, now(), UTC);
        let reasons: Vec<(&str, bool, &str)> = decisions
            .iter()
            .map(|d| (d.id.as_str(), d.keep, d.reason.as_str()))
            .collect();
        assert_eq!(
            reasons,
            [
                ("b4", true, "newest, within max_backups 3 (1st newest)"),
                ("b3", true, "within max_backups 3 (2nd newest)"),
                ("b2", true, "within max_backups 3 (3rd newest)"),
                ("b1", false, "beyond max_backups 3 (4th newest)"),
            ]
        );
    }

    #[test]
    fn weekly_keeps_one_per_iso_week() {
        // 2026-11-16 is a Monday: weeks 44..=47 over 24 days.
        let backups = daily(24);
        let decisions = plan(&policy(None, None, Some(3), None), &backups, now(), UTC);
        assert_eq!(kept(&decisions), ["2026-11-20", "2026-11-15", "2026-11-08"]);
        let reasons: Vec<&str> = decisions
            .iter()
            .filter(|d| d.keep)
            .map(|d| d.reason.as_str())
            .collect();
        assert_eq!(
            reasons,
            [
                "newest, weekly 2026-W47",
                "weekly 2026-W46",
                "weekly 2026-W45"
            ]
        );
        // ISO weeks straddle years: 2026-12-31 (Thu) and 2027-01-03 (Sun) are
        // both in 2026-W53, and 2027-01-04 starts 2027-W01.
        let new_year = vec![
            backup("w53-a", "2026-12-31T10:00:00Z"),
            backup("w53-b", "2027-01-03T10:00:00Z"),
            backup("w01", "2027-01-04T10:00:00Z"),
        ];
        let later = at("2027-01-10T00:00:00Z");
        let decisions = plan(&policy(None, None, Some(5), None), &new_year, later, UTC);
        assert_eq!(kept(&decisions), ["w01", "w53-b"]);
        assert_eq!(decisions[1].reason, "weekly 2026-W53");
    }

    #[test]
    fn monthly_over_a_year_of_dailies_keeps_six_months() {
        let backups = daily(365);
        let decisions = plan(&policy(None, None, None, Some(6)), &backups, now(), UTC);
        assert_eq!(
            kept(&decisions),
            [
                "2026-11-20",
                "2026-10-31",
                "2026-09-30",
                "2026-08-31",
                "2026-07-31",
                "2026-06-30"
            ]
        );
        assert_eq!(deleted(&decisions).len(), 365 - 6);
        let deleted_reason = decisions
            .iter()
            .find(|d| !d.keep)
            .map(|d| d.reason.as_str());
        assert_eq!(deleted_reason, Some("not selected by keep_monthly 6"));
    }

    #[test]
    fn combined_gfs_over_120_days_keeps_an_exact_set() {
        let backups = daily(120); // 2026-07-24 ..= 2026-11-20
        let policy = policy(None, Some(7), Some(4), Some(6));
        let decisions = plan(&policy, &backups, now(), UTC);
        let expected = [
            // keep_daily 7
            "2026-11-20",
            "2026-11-19",
            "2026-11-18",
            "2026-11-17",
            "2026-11-16",
            "2026-11-15",
            "2026-11-14",
            // keep_weekly 4: W47 (above), W46 = Sun 11-15 (above), W45, W44
            "2026-11-08",
            "2026-11-01",
            // keep_monthly 6: Nov (above), then month ends; July starts on the 24th
            "2026-10-31",
            "2026-09-30",
            "2026-08-31",
            "2026-07-31",
        ];
        assert_eq!(kept(&decisions), expected);
        assert_eq!(deleted(&decisions).len(), 120 - expected.len());
        let reason = |id: &str| {
            decisions
                .iter()
                .find(|d| d.id == id)
                .map(|d| d.reason.clone())
                .unwrap_or_default()
        };
        assert_eq!(
            reason("2026-11-20"),
            "newest, daily 2026-11-20, weekly 2026-W47, monthly 2026-11"
        );
        assert_eq!(reason("2026-11-15"), "daily 2026-11-15, weekly 2026-W46");
        assert_eq!(reason("2026-11-01"), "weekly 2026-W44");
        assert_eq!(reason("2026-10-31"), "monthly 2026-10");
        assert_eq!(
            reason("2026-11-13"),
            "not selected by keep_daily 7 / keep_weekly 4 / keep_monthly 6"
        );
    }

    #[test]
    fn days_are_calendar_days_in_the_job_timezone() {
        // 23:50 UTC on the 19th is 08:50 on the 20th in Tokyo (UTC+9).
        let backups = vec![
            backup("19th-utc-morning", "2026-11-19T10:00:00Z"), // 19:00 on the 19th in Tokyo
            backup("just-before-midnight-utc", "2026-11-19T23:50:00Z"),
            backup("20th", "2026-11-20T10:00:00Z"), // 19:00 on the 20th in Tokyo
        ];
        let keep_two_days = policy(None, Some(2), None, None);

        let tokyo = plan(&keep_two_days, &backups, now(), Tokyo);
        assert_eq!(kept(&tokyo), ["20th", "19th-utc-morning"]);
        assert_eq!(deleted(&tokyo), ["just-before-midnight-utc"]);
        assert_eq!(tokyo[2].reason, "daily 2026-11-19");

        let utc = plan(&keep_two_days, &backups, now(), UTC);
        assert_eq!(kept(&utc), ["20th", "just-before-midnight-utc"]);
        assert_eq!(utc[1].reason, "daily 2026-11-19");

        // Months too: 2026-10-31T20:00Z is already November in Tokyo.
        let month_edge = vec![
            backup("oct-utc", "2026-10-31T20:00:00Z"),
            backup("nov", "2026-11-05T00:00:00Z"),
        ];
        let monthly = policy(None, None, None, Some(2));
        assert_eq!(
            deleted(&plan(&monthly, &month_edge, now(), Tokyo)),
            ["oct-utc"]
        );
        assert!(deleted(&plan(&monthly, &month_edge, now(), UTC)).is_empty());
    }

    #[test]
    fn newest_is_always_kept_even_with_a_weird_policy() {
        let backups = daily(5);
        for weird in [
            policy(Some(0), None, None, None),
            policy(None, Some(0), None, None),
            policy(None, Some(0), Some(0), Some(0)),
        ] {
            let decisions = plan(&weird, &backups, now(), UTC);
            assert_eq!(kept(&decisions), ["2026-11-20"], "{weird:?}");
            assert_eq!(decisions[0].reason, "newest (always kept)", "{weird:?}");
            assert_eq!(deleted(&decisions).len(), 4, "{weird:?}");
        }
        let single = vec![backup("only", "2026-01-01T00:00:00Z")];
        let decisions = plan(&policy(Some(0), None, None, None), &single, now(), UTC);
        assert_eq!(kept(&decisions), ["only"]);
    }

    #[test]
    fn keeps_everything_policy_deletes_nothing() {
        let decisions = plan(&RetentionPolicy::default(), &daily(3), now(), UTC);
        assert!(deleted(&decisions).is_empty());
        assert_eq!(decisions[0].reason, "newest, policy keeps everything");
        assert_eq!(decisions[2].reason, "policy keeps everything");
    }

    #[test]
    fn future_backups_are_kept_and_do_not_use_budget() {
        let mut backups = daily(4);
        backups.push(backup("future-1", "2026-11-25T00:00:00Z"));
        backups.push(backup("future-2", "2027-03-01T00:00:00Z"));
        let decisions = plan(&policy(Some(2), None, None, None), &backups, now(), UTC);
        assert_eq!(
            kept(&decisions),
            ["future-2", "future-1", "2026-11-20", "2026-11-19"]
        );
        assert_eq!(
            decisions[0].reason,
            "newest, dated in the future (after now), kept for safety"
        );
        assert_eq!(
            decisions[2].reason,
            "newest not in the future, within max_backups 2 (1st newest)"
        );
        // Even a policy that would delete everything keeps the newest real backup.
        let decisions = plan(&policy(Some(0), None, None, None), &backups, now(), UTC);
        assert_eq!(kept(&decisions), ["future-2", "future-1", "2026-11-20"]);
        assert_eq!(
            decisions[2].reason,
            "newest not in the future (always kept)"
        );
        // A backup exactly at `now` is not in the future.
        let exact = vec![Candidate {
            id: "now".into(),
            created_at: now(),
        }];
        let decisions = plan(&policy(Some(1), None, None, None), &exact, now(), UTC);
        assert_eq!(
            decisions[0].reason,
            "newest, within max_backups 1 (1st newest)"
        );
    }

    #[test]
    fn output_is_sorted_newest_first_with_stable_ties() {
        let backups = vec![
            backup("b", "2026-11-18T00:00:00Z"),
            backup("tie-1", "2026-11-19T00:00:00Z"),
            backup("a", "2026-11-20T00:00:00Z"),
            backup("tie-2", "2026-11-19T00:00:00Z"),
            backup("c", "2026-11-01T00:00:00Z"),
        ];
        let decisions = plan(&RetentionPolicy::default(), &backups, now(), UTC);
        let ids: Vec<&str> = decisions.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["a", "tie-1", "tie-2", "b", "c"]);
    }

    #[test]
    fn gfs_matches_a_brute_force_model_on_many_shapes() {
        // Irregular history: 0-3 backups per day at varied hours over 200 days.
        let start = NaiveDate::from_ymd_opt(2026, 5, 5)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|d| Utc.from_utc_datetime(&d))
            .unwrap();
        let mut backups = Vec::new();
        for day in 0..200i64 {
            for k in 0..(day * 7 % 4) {
                let t = start + Duration::days(day) + Duration::minutes(day * 37 % 600 + k * 300);
                backups.push(Candidate {
                    id: format!("{day}-{k}"),
                    created_at: t,
                });
            }
        }
        for tz in [UTC, Tokyo, chrono_tz::America::New_York] {
            for (d, w, m) in [
                (7, 4, 6),
                (1, 0, 0),
                (0, 1, 0),
                (0, 0, 1),
                (30, 8, 3),
                (3, 10, 24),
            ] {
                let p = policy(None, Some(d), Some(w), Some(m));
                let decisions = plan(&p, &backups, now(), tz);
                let got: BTreeSet<&str> = kept(&decisions).into_iter().collect();
                // Model: newest backup of each of the newest N periods.
                let mut sorted = backups.clone();
                sorted.sort_by_key(|b| std::cmp::Reverse(b.created_at));
                let mut want = BTreeSet::new();
                let keys: [(u32, PeriodFn); 3] = [
                    (d, |t| t.date_naive().to_string()),
                    (w, |t| format!("{:?}", t.iso_week())),
                    (m, |t| format!("{}-{}", t.year(), t.month())),
                ];
                for (n, key) in keys {
                    let mut seen = Vec::new();
                    for b in &sorted {
                        let k = key(&b.created_at.with_timezone(&tz));
                        if !seen.contains(&k) && seen.len() < n as usize {
                            seen.push(k);
                            want.insert(b.id.as_str());
                        }
                    }
                }
                want.insert(sorted[0].id.as_str());
                assert_eq!(got, want, "{tz} d{d} w{w} m{m}");
            }
        }
    }

    #[test]
    fn validate_names_the_field() {
        let cases: [(RetentionPolicy, Result<(), &str>); 8] = [
            (RetentionPolicy::default(), Ok(())),
            (policy(Some(1), None, None, None), Ok(())),
            (policy(None, Some(7), Some(0), None), Ok(())),
            (policy(Some(3), Some(0), Some(0), Some(0)), Ok(())),
            (
                policy(Some(0), None, None, None),
                Err("retention_policy.max_backups: must be at least 1"),
            ),
            (
                policy(Some(0), Some(7), None, None),
                Err("retention_policy.max_backups: must be at least 1"),
            ),
            (
                policy(None, Some(0), Some(0), Some(0)),
                Err("retention_policy.keep_daily/keep_weekly/keep_monthly: at least one must be 1 or more (leave them all unset to keep every backup)"),
            ),
            (
                policy(None, None, Some(0), None),
                Err("retention_policy.keep_daily/keep_weekly/keep_monthly: at least one must be 1 or more (leave them all unset to keep every backup)"),
            ),
        ];
        for (p, expected) in cases {
            let got = p.validate().map_err(|e| e.to_string());
            assert_eq!(got, expected.map_err(str::to_string), "{p:?}");
        }
    }

    #[test]
    fn keeps_everything_only_when_nothing_is_set() {
        assert!(RetentionPolicy::default().keeps_everything());
        assert!(RetentionPolicy {
            auto_delete: true,
            ..Default::default()
        }
        .keeps_everything());
        assert!(!policy(Some(5), None, None, None).keeps_everything());
        assert!(!policy(None, None, None, Some(0)).keeps_everything());
    }

    #[test]
    fn serde_shape() {
        let p: RetentionPolicy = serde_json::from_str(r#"{"keep_daily": 7}"#).unwrap();
        assert_eq!(
            p,
            RetentionPolicy {
                keep_daily: Some(7),
                ..Default::default()
            }
        );
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"keep_daily":7,"auto_delete":false}"#
        );
        let empty: RetentionPolicy = serde_json::from_str("{}").unwrap();
        assert_eq!(empty, RetentionPolicy::default());
        let d = Decision {
            id: "x".into(),
            keep: false,
            reason: "r".into(),
        };
        assert_eq!(
            serde_json::to_string(&d).unwrap(),
            r#"{"id":"x","keep":false,"reason":"r"}"#
        );
    }

    #[test]
    fn ordinals_read_naturally() {
        let got: Vec<String> = [1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 101, 111, 112]
            .into_iter()
            .map(ordinal)
            .collect();
        assert_eq!(
            got,
            [
                "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd",
                "101st", "111th", "112th"
            ]
        );
    }
}
