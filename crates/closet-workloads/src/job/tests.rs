use std::time::Duration;

use k8s_openapi::api::batch::v1::{JobSpec, JobStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::decide::*;
use super::pods::{Outcome, PodView};

fn now() -> jiff::Timestamp {
    "2024-01-01T00:10:00Z".parse().unwrap()
}

fn spec(completions: Option<i32>, parallelism: i32) -> JobSpec {
    JobSpec {
        completions,
        parallelism: Some(parallelism),
        backoff_limit: Some(2),
        ..JobSpec::default()
    }
}

fn pod(name: &str, outcome: Outcome, index: Option<i32>) -> PodView {
    PodView {
        name: name.into(),
        uid: format!("uid-{name}"),
        outcome,
        index,
        tracked: false,
        ready: outcome == Outcome::Active,
        finished_at: Some("2024-01-01T00:00:00Z".parse().unwrap()),
    }
}

fn has(st: &JobStatus, kind: &str) -> Option<String> {
    st.conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == kind && c.status == "True")
        .map(|c| c.reason.clone().unwrap_or_default())
}

#[test]
fn starts_up_to_parallelism_pods() {
    let mut st = JobStatus::default();
    let plan = decide(&spec(Some(5), 2), &mut st, &[], now());
    assert_eq!(plan.create, vec![None, None]);
    assert_eq!(st.start_time, Some(Time(now())));
    let mut st = JobStatus {
        succeeded: Some(4),
        ..JobStatus::default()
    };
    let plan = decide(&spec(Some(5), 2), &mut st, &[], now());
    assert_eq!(plan.create.len(), 1, "only one completion is left");
}

#[test]
fn completes_once_the_last_pod_is_counted() {
    let mut st = JobStatus {
        succeeded: Some(1),
        ..JobStatus::default()
    };
    let plan = decide(&spec(Some(1), 1), &mut st, &[], now());
    assert!(plan.create.is_empty());
    assert_eq!(
        has(&st, "SuccessCriteriaMet").as_deref(),
        Some("CompletionsReached")
    );
    assert!(has(&st, "Complete").is_some());
    assert_eq!(st.completion_time, Some(Time(now())));
    assert_eq!(plan.notes[0].reason, "Completed");
    assert!(finished(&st));
}

#[test]
fn success_waits_for_remaining_pods_to_stop() {
    let mut st = JobStatus {
        succeeded: Some(2),
        ..JobStatus::default()
    };
    let plan = decide(
        &spec(Some(2), 3),
        &mut st,
        &[pod("extra", Outcome::Active, None)],
        now(),
    );
    assert_eq!(plan.delete, vec!["extra".to_string()]);
    assert!(has(&st, "SuccessCriteriaMet").is_some());
    assert!(has(&st, "Complete").is_none());
}

#[test]
fn backoff_limit_fails_the_job() {
    let mut st = JobStatus {
        failed: Some(3),
        ..JobStatus::default()
    };
    let plan = decide(&spec(Some(1), 1), &mut st, &[], now());
    assert_eq!(
        has(&st, "FailureTarget").as_deref(),
        Some("BackoffLimitExceeded")
    );
    assert_eq!(has(&st, "Failed").as_deref(), Some("BackoffLimitExceeded"));
    assert!(
        plan.notes
            .iter()
            .any(|n| n.warning && n.reason == "BackoffLimitExceeded")
    );
    assert!(st.completion_time.is_none());
}

#[test]
fn failures_back_off_exponentially() {
    assert_eq!(backoff(1), Duration::from_secs(10));
    assert_eq!(backoff(2), Duration::from_secs(20));
    assert_eq!(backoff(4), Duration::from_secs(80));
    assert_eq!(backoff(30), BACKOFF_MAX);
    // One failure 10 minutes ago: the back-off is over, a new pod starts.
    let mut st = JobStatus {
        failed: Some(1),
        ..JobStatus::default()
    };
    let failed = pod("f", Outcome::Failed, None);
    let plan = decide(
        &spec(Some(1), 1),
        &mut st,
        std::slice::from_ref(&failed),
        now(),
    );
    assert_eq!(plan.create.len(), 1);
    // The same failure just now: wait 10 s.
    let mut fresh = failed.clone();
    fresh.finished_at = Some(now());
    let plan = decide(&spec(Some(1), 1), &mut st, &[fresh], now());
    assert!(plan.create.is_empty());
    assert_eq!(plan.requeue, Some(Duration::from_secs(10)));
}

#[test]
fn active_deadline_fails_the_job() {
    let mut s = spec(Some(1), 1);
    s.active_deadline_seconds = Some(60);
    let mut st = JobStatus {
        start_time: Some(Time("2024-01-01T00:00:00Z".parse().unwrap())),
        ..JobStatus::default()
    };
    let plan = decide(&s, &mut st, &[pod("p", Outcome::Active, None)], now());
    assert_eq!(plan.delete, vec!["p".to_string()]);
    assert_eq!(
        has(&st, "FailureTarget").as_deref(),
        Some("DeadlineExceeded")
    );
    assert!(has(&st, "Failed").is_none(), "waits for the pod to stop");
    let plan = decide(&s, &mut st, &[], now());
    assert_eq!(has(&st, "Failed").as_deref(), Some("DeadlineExceeded"));
    assert!(plan.create.is_empty());
}

#[test]
fn indexed_jobs_start_missing_indexes() {
    let mut s = spec(Some(4), 2);
    s.completion_mode = Some("Indexed".into());
    let mut st = JobStatus {
        completed_indexes: Some("0".into()),
        succeeded: Some(1),
        ..JobStatus::default()
    };
    let plan = decide(&s, &mut st, &[pod("p1", Outcome::Active, Some(1))], now());
    assert_eq!(plan.create, vec![Some(2)]);
    let mut st = JobStatus {
        completed_indexes: Some("0-3".into()),
        succeeded: Some(4),
        ..JobStatus::default()
    };
    decide(&s, &mut st, &[], now());
    assert!(has(&st, "Complete").is_some());
}

#[test]
fn suspend_stops_pods_and_resume_restarts() {
    let mut s = spec(Some(1), 1);
    s.suspend = Some(true);
    let mut st = JobStatus {
        start_time: Some(Time(now())),
        ..JobStatus::default()
    };
    let plan = decide(&s, &mut st, &[pod("p", Outcome::Active, None)], now());
    assert_eq!(plan.delete, vec!["p".to_string()]);
    assert_eq!(has(&st, "Suspended").as_deref(), Some("JobSuspended"));
    assert_eq!(st.start_time, None);
    s.suspend = Some(false);
    let plan = decide(&s, &mut st, &[], now());
    assert!(has(&st, "Suspended").is_none());
    assert_eq!(plan.create.len(), 1);
}

#[test]
fn work_queue_jobs_finish_when_one_succeeded_and_none_run() {
    let mut st = JobStatus {
        succeeded: Some(1),
        ..JobStatus::default()
    };
    let plan = decide(
        &spec(None, 3),
        &mut st,
        &[pod("a", Outcome::Active, None)],
        now(),
    );
    assert!(plan.create.is_empty());
    assert!(has(&st, "Complete").is_none());
    decide(&spec(None, 3), &mut st, &[], now());
    assert!(has(&st, "Complete").is_some());
}
