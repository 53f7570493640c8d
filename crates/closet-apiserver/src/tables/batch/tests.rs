//! Jobs that completed, failed or still run, and a cron job.

use serde_json::{Value, json};

use super::super::{cells, test_now};

fn row(resource: &str, o: &Value) -> Vec<Value> {
    cells("batch", resource, o, test_now())
}

/// Samples for the module-wide robustness tests.
pub(in super::super) fn samples() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        ("batch", "jobs", complete_job()),
        ("batch", "cronjobs", cronjob()),
    ]
}

fn job(spec: Value, status: Value) -> Value {
    let mut spec = spec;
    spec["selector"] = json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "1234"}});
    spec["template"] = json!({"spec": {"containers": [{"name": "backup", "image": "restic:0.16"}],
                                       "restartPolicy": "Never"}});
    json!({
        "metadata": {"name": "backup", "namespace": "default",
                     "creationTimestamp": "2024-05-01T11:00:00Z"},
        "spec": spec,
        "status": status
    })
}

fn complete_job() -> Value {
    job(
        json!({"completions": 1, "parallelism": 1}),
        json!({"succeeded": 1, "startTime": "2024-05-01T11:00:05Z",
               "completionTime": "2024-05-01T11:03:25Z",
               "conditions": [{"type": "SuccessCriteriaMet", "status": "True"},
                              {"type": "Complete", "status": "True"}]}),
    )
}

fn cronjob() -> Value {
    json!({
        "metadata": {"name": "nightly", "creationTimestamp": "2024-04-20T12:00:00Z"},
        "spec": {"schedule": "0 3 * * *", "timeZone": "Europe/Berlin", "suspend": false,
                 "jobTemplate": {"spec": {"template": {"spec": {"containers": [
                     {"name": "backup", "image": "restic:0.16"}]}}}}},
        "status": {"active": [{"name": "nightly-28571"}],
                   "lastScheduleTime": "2024-05-01T03:00:00Z"}
    })
}

/// The STATUS cell of a job with these conditions.
fn status_of(conditions: Value) -> Value {
    row("jobs", &job(json!({}), json!({"conditions": conditions})))[1].clone()
}

#[test]
fn complete_job_row() {
    let want = [
        "backup",
        "Complete",
        "1/1",
        "3m20s",
        "60m",
        "backup",
        "restic:0.16",
        "batch.kubernetes.io/controller-uid=1234",
    ];
    assert_eq!(row("jobs", &complete_job()), want.map(Value::from));
}

#[test]
fn failed_and_running_jobs() {
    let failed = job(
        json!({"completions": 3, "parallelism": 1}),
        json!({"failed": 7, "succeeded": 1, "startTime": "2024-05-01T11:00:00Z",
               "conditions": [{"type": "FailureTarget", "status": "True"},
                              {"type": "Failed", "status": "True",
                               "reason": "BackoffLimitExceeded"}]}),
    );
    // No completionTime on a failed job: the duration keeps counting.
    assert_eq!(
        row("jobs", &failed)[1..4],
        ["Failed", "1/3", "60m"].map(Value::from)
    );

    let running = job(
        json!({"parallelism": 4}),
        json!({"active": 4, "startTime": "2024-05-01T11:59:10Z"}),
    );
    assert_eq!(
        row("jobs", &running)[1..4],
        ["Running", "0/1 of 4", "50s"].map(Value::from)
    );

    let fresh = job(json!({}), json!({}));
    assert_eq!(
        row("jobs", &fresh)[1..4],
        ["Running", "0/1", ""].map(Value::from)
    );
}

#[test]
fn interim_and_terminating_job_states() {
    let suspended = json!([{"type": "Suspended", "status": "True"}]);
    assert_eq!(status_of(suspended.clone()), json!("Suspended"));
    let mut j = job(json!({}), json!({"conditions": suspended}));
    j["metadata"]["deletionTimestamp"] = json!("2024-05-01T11:59:00Z");
    assert_eq!(row("jobs", &j)[1], json!("Terminating"));
    let met = json!([{"type": "SuccessCriteriaMet", "status": "True"}]);
    assert_eq!(status_of(met), json!("SuccessCriteriaMet"));
    let target = json!([{"type": "FailureTarget", "status": "True"}]);
    assert_eq!(status_of(target), json!("FailureTarget"));
    let not_yet = json!([{"type": "Complete", "status": "False"}]);
    assert_eq!(status_of(not_yet), json!("Running"));
}

#[test]
fn cronjob_row() {
    let want = [
        json!("nightly"),
        json!("0 3 * * *"),
        json!("Europe/Berlin"),
        json!("False"),
        json!(1),
        json!("9h"),
        json!("11d"),
        json!("backup"),
        json!("restic:0.16"),
        json!("<none>"),
    ];
    assert_eq!(row("cronjobs", &cronjob()), want);
    let bare = json!({"metadata": {"name": "x"}, "spec": {"schedule": "@hourly"}});
    let r = row("cronjobs", &bare);
    assert_eq!(
        r[2..6],
        [json!("<none>"), json!("<unset>"), json!(0), json!("<none>")]
    );
}
