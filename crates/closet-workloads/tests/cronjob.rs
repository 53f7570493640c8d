//! The CronJob controller against a real apiserver, in-process. A missed start time is
//! simulated by moving `status.lastScheduleTime` into the past.

#![allow(clippy::unwrap_used, reason = "tests")]

mod common;

use common::{env, eventually};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use kube::ResourceExt;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

fn cronjob(name: &str, extra: serde_json::Value) -> CronJob {
    let mut spec = json!({
        "schedule": "* * * * *",
        "jobTemplate": {"metadata": {"labels": {"app": name}}, "spec": {"template": {"spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "c", "image": "busybox"}],
        }}}},
    });
    for (k, v) in extra.as_object().unwrap() {
        spec[k] = v.clone();
    }
    serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap()
}

async fn backdate(cjs: &Api<CronJob>, name: &str, minutes: i64) {
    let past = jiff::Timestamp::now() - jiff::SignedDuration::from_mins(minutes);
    let body =
        json!({"status": {"lastScheduleTime": past.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()}});
    cjs.patch_status(name, &PatchParams::default(), &Patch::Merge(&body))
        .await
        .unwrap();
}

async fn jobs_of(jobs: &Api<Job>, app: &str) -> Vec<Job> {
    jobs.list(&ListParams::default().labels(&format!("app={app}")))
        .await
        .unwrap()
        .items
}

#[tokio::test]
async fn a_missed_time_creates_one_job_named_after_the_minute() {
    let e = env().await;
    let cjs: Api<CronJob> = Api::default_namespaced(e.client.clone());
    let jobs: Api<Job> = Api::default_namespaced(e.client.clone());
    cjs.create(
        &PostParams::default(),
        &cronjob("tick", json!({"concurrencyPolicy": "Forbid"})),
    )
    .await
    .unwrap();
    backdate(&cjs, "tick", 10).await;
    let created = eventually("a job", || async {
        let all = jobs_of(&jobs, "tick").await;
        (!all.is_empty()).then_some(all)
    })
    .await;
    assert_eq!(created.len(), 1, "ten missed minutes start one job");
    let job = &created[0];
    let minutes: i64 = job
        .name_any()
        .strip_prefix("tick-")
        .unwrap()
        .parse()
        .unwrap();
    let now_minutes = jiff::Timestamp::now().as_second() / 60;
    assert!(
        now_minutes - minutes <= 1,
        "the most recent minute, not an old one"
    );
    assert!(
        job.annotations()
            .contains_key("batch.kubernetes.io/cronjob-scheduled-timestamp")
    );
    assert_eq!(job.owner_references()[0].kind, "CronJob");
    let cj = eventually("status", || async {
        let cj = cjs.get("tick").await.unwrap();
        let st = cj.status.clone()?;
        (st.active.as_ref().is_some_and(|a| a.len() == 1)).then_some(cj)
    })
    .await;
    let scheduled = cj.status.unwrap().last_schedule_time.unwrap().0;
    assert_eq!(scheduled.as_second() / 60, minutes);
}

#[tokio::test]
async fn a_suspended_cronjob_starts_nothing() {
    let e = env().await;
    let cjs: Api<CronJob> = Api::default_namespaced(e.client.clone());
    let jobs: Api<Job> = Api::default_namespaced(e.client.clone());
    cjs.create(
        &PostParams::default(),
        &cronjob("asleep", json!({"suspend": true})),
    )
    .await
    .unwrap();
    backdate(&cjs, "asleep", 10).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert!(jobs_of(&jobs, "asleep").await.is_empty());
    // Resumed, it catches up on the latest missed time.
    let body = json!({"spec": {"suspend": false}});
    cjs.patch("asleep", &PatchParams::default(), &Patch::Merge(&body))
        .await
        .unwrap();
    eventually("a job after resuming", || async {
        (!jobs_of(&jobs, "asleep").await.is_empty()).then_some(())
    })
    .await;
}

#[tokio::test]
async fn old_finished_jobs_beyond_the_history_limits_are_deleted() {
    let e = env().await;
    let cjs: Api<CronJob> = Api::default_namespaced(e.client.clone());
    let jobs: Api<Job> = Api::default_namespaced(e.client.clone());
    let extra =
        json!({"suspend": true, "successfulJobsHistoryLimit": 1, "failedJobsHistoryLimit": 0});
    let cj = cjs
        .create(&PostParams::default(), &cronjob("hist", extra))
        .await
        .unwrap();
    for (i, kind) in [(1, "Complete"), (2, "Complete"), (3, "Failed")] {
        let job: Job = serde_json::from_value(json!({
            "metadata": {"name": format!("hist-{i}"), "labels": {"app": "hist"},
                "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "hist",
                    "uid": cj.uid().unwrap(), "controller": true}]},
            // Suspended so the Job controller leaves these hand-made Jobs alone.
            "spec": {"suspend": true, "template": {"spec": {"restartPolicy": "Never",
                "containers": [{"name": "c", "image": "busybox"}]}}},
        }))
        .unwrap();
        jobs.create(&PostParams::default(), &job).await.unwrap();
        let start = format!("2024-01-01T00:0{i}:00Z");
        let body = json!({"status": {"startTime": start, "completionTime": start,
            "conditions": [{"type": kind, "status": "True"}]}});
        jobs.patch_status(
            &format!("hist-{i}"),
            &PatchParams::default(),
            &Patch::Merge(&body),
        )
        .await
        .unwrap();
    }
    // Any change to the CronJob makes it look at its Jobs again.
    let body = json!({"metadata": {"labels": {"poke": "1"}}});
    cjs.patch("hist", &PatchParams::default(), &Patch::Merge(&body))
        .await
        .unwrap();
    let left = eventually("history trimmed", || async {
        let names: Vec<String> = jobs_of(&jobs, "hist")
            .await
            .iter()
            .filter(|j| j.metadata.deletion_timestamp.is_none())
            .map(|j| j.name_any())
            .collect();
        (names.len() == 1).then_some(names)
    })
    .await;
    assert_eq!(left, ["hist-2"]);
}
