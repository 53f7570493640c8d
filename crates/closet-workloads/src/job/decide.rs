//! What a Job needs next, once its pod results are counted: pods to create or delete,
//! conditions to set, and when to look again. No I/O, so the rules are unit-tested.

use std::collections::BTreeSet;
use std::time::Duration;

use k8s_openapi::api::batch::v1::{JobCondition, JobSpec, JobStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::indexes;
use super::pods::{Outcome, PodView};
use super::track::uncounted;

/// The first delay before a failed Job's next pod.
pub const BACKOFF_BASE: Duration = Duration::from_secs(10);
/// The longest delay before a failed Job's next pod.
pub const BACKOFF_MAX: Duration = Duration::from_secs(360);

/// Why a Job failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// More pods failed than `backoffLimit` allows.
    BackoffLimitExceeded,
    /// It ran longer than `activeDeadlineSeconds`.
    DeadlineExceeded,
}

impl Failure {
    /// The condition reason.
    pub fn reason(self) -> &'static str {
        match self {
            Self::BackoffLimitExceeded => "BackoffLimitExceeded",
            Self::DeadlineExceeded => "DeadlineExceeded",
        }
    }

    /// The condition message, as upstream words it.
    pub fn message(self) -> &'static str {
        match self {
            Self::BackoffLimitExceeded => "Job has reached the specified backoff limit",
            Self::DeadlineExceeded => "Job was active longer than specified deadline",
        }
    }
}

/// An event to report about the Job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// Warning rather than normal.
    pub warning: bool,
    /// Reason.
    pub reason: &'static str,
    /// Message.
    pub message: String,
}

/// What to do for a Job.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    /// Pods to create: one entry per pod, with its index for Indexed Jobs.
    pub create: Vec<Option<i32>>,
    /// Active pods to delete, by name.
    pub delete: Vec<String>,
    /// Look again after this long.
    pub requeue: Option<Duration>,
    /// Events to report.
    pub notes: Vec<Note>,
}

fn has(status: &JobStatus, kind: &str) -> bool {
    status
        .conditions
        .iter()
        .flatten()
        .any(|c| c.type_ == kind && c.status == "True")
}

/// Sets condition `kind` to `value`, touching the transition time only on change.
fn set(
    status: &mut JobStatus,
    kind: &str,
    value: bool,
    reason: &str,
    message: &str,
    now: jiff::Timestamp,
) {
    let value = if value { "True" } else { "False" };
    let conds = status.conditions.get_or_insert_default();
    if let Some(c) = conds.iter_mut().find(|c| c.type_ == kind) {
        if c.status != value {
            c.status = value.into();
            c.last_transition_time = Some(Time(now));
        }
        c.last_probe_time = Some(Time(now));
        c.reason = Some(reason.into());
        c.message = Some(message.into());
        return;
    }
    conds.push(JobCondition {
        type_: kind.into(),
        status: value.into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_probe_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    });
}

/// Whether the Job has finished (Complete or Failed).
pub fn finished(status: &JobStatus) -> bool {
    has(status, "Complete") || has(status, "Failed")
}

/// Decides the next step and updates `status` (active, ready, times, conditions).
pub fn decide(
    spec: &JobSpec,
    status: &mut JobStatus,
    pods: &[PodView],
    now: jiff::Timestamp,
) -> Plan {
    let mut plan = Plan::default();
    let active: Vec<&PodView> = pods
        .iter()
        .filter(|p| p.outcome == Outcome::Active)
        .collect();
    status.ready = Some(count(active.iter().filter(|p| p.ready).count()));
    if finished(status) {
        plan.delete = active.iter().map(|p| p.name.clone()).collect();
        status.active = Some(0);
        return plan;
    }
    let (unc_ok, unc_failed) = uncounted(status);
    let indexed = spec.completion_mode.as_deref() == Some("Indexed");
    // An Indexed Job's `succeeded` already counts recorded indexes (see `track`).
    let succeeded = status.succeeded.unwrap_or(0) + if indexed { 0 } else { count(unc_ok) };
    let failed = status.failed.unwrap_or(0) + count(unc_failed);

    if spec.suspend == Some(true)
        && !has(status, "SuccessCriteriaMet")
        && !has(status, "FailureTarget")
    {
        plan.delete = active.iter().map(|p| p.name.clone()).collect();
        status.active = Some(0);
        if !has(status, "Suspended") {
            set(
                status,
                "Suspended",
                true,
                "JobSuspended",
                "Job suspended",
                now,
            );
            plan.notes
                .push(note(false, "Suspended", "Job suspended".into()));
        }
        // The deadline restarts when the Job resumes, as upstream.
        status.start_time = None;
        return plan;
    }
    if has(status, "Suspended") {
        set(status, "Suspended", false, "JobResumed", "Job resumed", now);
        plan.notes
            .push(note(false, "Resumed", "Job resumed".into()));
    }
    let start = status.start_time.get_or_insert(Time(now)).0;

    // Success and failure are decided first; the final condition waits for the pods to end.
    let success = match spec.completions {
        Some(c) => succeeded >= c,
        None => succeeded > 0 && active.is_empty(),
    };
    let deadline = spec
        .active_deadline_seconds
        .map(|s| start + jiff::SignedDuration::from_secs(s));
    let failure = if failed > spec.backoff_limit.unwrap_or(6) {
        Some(Failure::BackoffLimitExceeded)
    } else if deadline.is_some_and(|d| now >= d) {
        Some(Failure::DeadlineExceeded)
    } else {
        None
    };
    if has(status, "FailureTarget") || (failure.is_some() && !has(status, "SuccessCriteriaMet")) {
        let why = failure.unwrap_or(Failure::BackoffLimitExceeded);
        let (reason, message) = status
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == "FailureTarget")
            .map(|c| {
                (
                    c.reason.clone().unwrap_or_default(),
                    c.message.clone().unwrap_or_default(),
                )
            })
            .unwrap_or((why.reason().into(), why.message().into()));
        set(status, "FailureTarget", true, &reason, &message, now);
        plan.delete = active.iter().map(|p| p.name.clone()).collect();
        status.active = Some(0);
        if active.is_empty() && unc_ok + unc_failed == 0 {
            set(status, "Failed", true, &reason, &message, now);
            plan.notes.push(Note {
                warning: true,
                reason: leak(&reason),
                message,
            });
        }
        return plan;
    }
    if success || has(status, "SuccessCriteriaMet") {
        let (reason, message) = (
            "CompletionsReached",
            "Reached expected number of succeeded pods",
        );
        set(status, "SuccessCriteriaMet", true, reason, message, now);
        plan.delete = active.iter().map(|p| p.name.clone()).collect();
        status.active = Some(0);
        if active.is_empty() && unc_ok + unc_failed == 0 {
            set(status, "Complete", true, reason, message, now);
            status.completion_time = Some(Time(now));
            plan.notes
                .push(note(false, "Completed", "Job completed".into()));
        }
        return plan;
    }
    status.active = Some(count(active.len()));
    if let Some(d) = deadline {
        plan.requeue = Some(Duration::from_secs(
            d.duration_since(now).as_secs().max(1).unsigned_abs(),
        ));
    }

    // Replacement pods wait out the back-off after a failure: 10 s, doubling, at most 6 min.
    if failed > 0 {
        let delay = backoff(failed);
        let last = pods
            .iter()
            .filter(|p| p.outcome == Outcome::Failed)
            .filter_map(|p| p.finished_at)
            .max();
        if let Some(last) = last {
            let due = last + jiff::SignedDuration::try_from(delay).unwrap_or_default();
            if now < due {
                let wait =
                    Duration::from_secs(due.duration_since(now).as_secs().max(1).unsigned_abs());
                plan.requeue = Some(plan.requeue.map_or(wait, |r| r.min(wait)));
                return plan;
            }
        }
    }

    let parallelism = spec.parallelism.unwrap_or(1).max(0);
    if indexed {
        let completions = spec.completions.unwrap_or(0);
        let done = indexes::parse(
            status.completed_indexes.as_deref().unwrap_or(""),
            completions,
        );
        let running: BTreeSet<i32> = active.iter().filter_map(|p| p.index).collect();
        let room = usize::try_from(parallelism)
            .unwrap_or(0)
            .saturating_sub(active.len());
        plan.create = (0..completions)
            .filter(|i| !done.contains(i) && !running.contains(i))
            .take(room)
            .map(Some)
            .collect();
        return plan;
    }
    let want = match spec.completions {
        Some(c) => parallelism.min(c - succeeded).max(0),
        // A work queue: once one pod succeeded, no new pods start.
        None if succeeded > 0 => count(active.len()),
        None => parallelism,
    };
    let want = usize::try_from(want).unwrap_or(0);
    if active.len() < want {
        plan.create = vec![None; want - active.len()];
    } else {
        plan.delete = active.iter().skip(want).map(|p| p.name.clone()).collect();
        status.active = Some(count(want));
    }
    plan
}

/// The back-off before the next pod after `failed` failures.
pub fn backoff(failed: i32) -> Duration {
    let shift = u32::try_from(failed.saturating_sub(1)).unwrap_or(0).min(16);
    BACKOFF_BASE.saturating_mul(1 << shift).min(BACKOFF_MAX)
}

fn note(warning: bool, reason: &'static str, message: String) -> Note {
    Note {
        warning,
        reason,
        message,
    }
}

/// Reasons are a small fixed set; the ones read back from a condition map onto it.
fn leak(reason: &str) -> &'static str {
    match reason {
        "DeadlineExceeded" => "DeadlineExceeded",
        _ => "BackoffLimitExceeded",
    }
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}
