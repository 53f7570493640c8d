//! The Job controller against a real apiserver, in-process; pod phases are written by the
//! test in place of a node.

#![allow(clippy::unwrap_used, reason = "tests")]

mod common;

use common::{env, eventually};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

fn job(name: &str, spec: serde_json::Value) -> Job {
    let mut spec = spec;
    spec["template"] = json!({"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}});
    serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap()
}

async fn pods_of(pods: &Api<Pod>, job: &str) -> Vec<Pod> {
    let lp = ListParams::default().labels(&format!("batch.kubernetes.io/job-name={job}"));
    pods.list(&lp).await.unwrap().items
}

async fn finish(pods: &Api<Pod>, name: &str, phase: &str) {
    let body = json!({"status": {"phase": phase}});
    pods.patch_status(name, &PatchParams::default(), &Patch::Merge(&body))
        .await
        .unwrap();
}

fn condition(job: &Job, kind: &str) -> Option<String> {
    job.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == kind && c.status == "True")
        .map(|c| c.reason.clone().unwrap_or_default())
}

/// Waits for `n` active (not finished) pods of the Job and returns them.
async fn active_pods(pods: &Api<Pod>, job: &str, n: usize) -> Vec<Pod> {
    eventually(&format!("{n} active pods of {job}"), || async {
        let active: Vec<Pod> = pods_of(pods, job)
            .await
            .into_iter()
            .filter(|p| {
                let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
                !matches!(phase, Some("Succeeded" | "Failed"))
            })
            .collect();
        (active.len() == n).then_some(active)
    })
    .await
}

#[tokio::test]
async fn a_job_runs_its_completions_one_at_a_time() {
    let e = env().await;
    let jobs: Api<Job> = Api::default_namespaced(e.client.clone());
    let pods: Api<Pod> = Api::default_namespaced(e.client.clone());
    let created = jobs
        .create(
            &PostParams::default(),
            &job("two", json!({"completions": 2})),
        )
        .await
        .unwrap();
    // The apiserver generated the selector.
    let selector = created.spec.as_ref().unwrap().selector.clone().unwrap();
    assert_eq!(
        selector.match_labels.unwrap()["batch.kubernetes.io/controller-uid"],
        created.uid().unwrap()
    );
    for _ in 0..2 {
        let p = active_pods(&pods, "two", 1).await.remove(0);
        assert!(
            p.finalizers()
                .contains(&"batch.kubernetes.io/job-tracking".to_string())
        );
        assert_eq!(p.labels()["job-name"], "two");
        let owner = &p.owner_references()[0];
        assert_eq!(
            (owner.controller, owner.block_owner_deletion),
            (Some(true), Some(true))
        );
        finish(&pods, &p.name_any(), "Succeeded").await;
    }
    let done = eventually("job complete", || async {
        let j = jobs.get("two").await.unwrap();
        condition(&j, "Complete").map(|_| j)
    })
    .await;
    let st = done.status.clone().unwrap();
    assert_eq!(st.succeeded, Some(2));
    assert_eq!(st.failed, Some(0));
    assert!(st.completion_time.is_some() && st.start_time.is_some());
    assert_eq!(
        condition(&done, "SuccessCriteriaMet").as_deref(),
        Some("CompletionsReached")
    );
    // Every result counted, every pod released.
    eventually("pods released", || async {
        let all = pods_of(&pods, "two").await;
        all.iter().all(|p| p.finalizers().is_empty()).then_some(())
    })
    .await;
    assert_eq!(pods_of(&pods, "two").await.len(), 2);
}

#[tokio::test]
async fn a_failing_job_reaches_its_backoff_limit() {
    let e = env().await;
    let jobs: Api<Job> = Api::default_namespaced(e.client.clone());
    let pods: Api<Pod> = Api::default_namespaced(e.client.clone());
    jobs.create(
        &PostParams::default(),
        &job("bad", json!({"backoffLimit": 0})),
    )
    .await
    .unwrap();
    let p = active_pods(&pods, "bad", 1).await.remove(0);
    finish(&pods, &p.name_any(), "Failed").await;
    let failed = eventually("job failed", || async {
        let j = jobs.get("bad").await.unwrap();
        condition(&j, "Failed").map(|_| j)
    })
    .await;
    assert_eq!(
        condition(&failed, "Failed").as_deref(),
        Some("BackoffLimitExceeded")
    );
    assert_eq!(
        condition(&failed, "FailureTarget").as_deref(),
        Some("BackoffLimitExceeded")
    );
    assert_eq!(failed.status.unwrap().failed, Some(1));
}

#[tokio::test]
async fn an_indexed_job_gives_each_pod_its_index() {
    let e = env().await;
    let jobs: Api<Job> = Api::default_namespaced(e.client.clone());
    let pods: Api<Pod> = Api::default_namespaced(e.client.clone());
    let spec = json!({"completions": 3, "parallelism": 3, "completionMode": "Indexed"});
    jobs.create(&PostParams::default(), &job("idx", spec))
        .await
        .unwrap();
    let mut running = active_pods(&pods, "idx", 3).await;
    running.sort_by_key(|p| p.annotations()["batch.kubernetes.io/job-completion-index"].clone());
    for (i, p) in running.iter().enumerate() {
        assert_eq!(
            p.labels()["batch.kubernetes.io/job-completion-index"],
            i.to_string()
        );
        let spec = p.spec.as_ref().unwrap();
        assert_eq!(spec.hostname.as_deref(), Some(format!("idx-{i}").as_str()));
        let env = spec.containers[0].env.as_ref().unwrap();
        let var = env
            .iter()
            .find(|v| v.name == "JOB_COMPLETION_INDEX")
            .unwrap();
        let path = &var
            .value_from
            .as_ref()
            .unwrap()
            .field_ref
            .as_ref()
            .unwrap()
            .field_path;
        assert_eq!(
            path,
            "metadata.annotations['batch.kubernetes.io/job-completion-index']"
        );
    }
    // Index 1 fails once and is retried under the same index.
    finish(&pods, &running[1].name_any(), "Failed").await;
    finish(&pods, &running[0].name_any(), "Succeeded").await;
    finish(&pods, &running[2].name_any(), "Succeeded").await;
    let retry = eventually("index 1 retried", || async {
        let again = active_pods(&pods, "idx", 1).await.remove(0);
        (again.labels()["batch.kubernetes.io/job-completion-index"] == "1").then_some(again)
    })
    .await;
    finish(&pods, &retry.name_any(), "Succeeded").await;
    let done = eventually("indexed job complete", || async {
        let j = jobs.get("idx").await.unwrap();
        condition(&j, "Complete").map(|_| j)
    })
    .await;
    let st = done.status.unwrap();
    assert_eq!(st.completed_indexes.as_deref(), Some("0-2"));
    assert_eq!((st.succeeded, st.failed), (Some(3), Some(1)));
}

#[tokio::test]
async fn a_finished_job_with_a_ttl_is_deleted_with_its_pods() {
    let e = env().await;
    let jobs: Api<Job> = Api::default_namespaced(e.client.clone());
    let pods: Api<Pod> = Api::default_namespaced(e.client.clone());
    jobs.create(
        &PostParams::default(),
        &job("short", json!({"ttlSecondsAfterFinished": 0})),
    )
    .await
    .unwrap();
    let p = active_pods(&pods, "short", 1).await.remove(0);
    finish(&pods, &p.name_any(), "Succeeded").await;
    eventually("job deleted", || async {
        jobs.get_opt("short").await.unwrap().is_none().then_some(())
    })
    .await;
    eventually("pods collected", || async {
        pods_of(&pods, "short").await.is_empty().then_some(())
    })
    .await;
}

#[tokio::test]
async fn suspending_a_job_removes_its_pods() {
    let e = env().await;
    let jobs: Api<Job> = Api::default_namespaced(e.client.clone());
    let pods: Api<Pod> = Api::default_namespaced(e.client.clone());
    jobs.create(&PostParams::default(), &job("nap", json!({})))
        .await
        .unwrap();
    active_pods(&pods, "nap", 1).await;
    let body = json!({"spec": {"suspend": true}});
    jobs.patch("nap", &PatchParams::default(), &Patch::Merge(&body))
        .await
        .unwrap();
    let j = eventually("job suspended", || async {
        let j = jobs.get("nap").await.unwrap();
        condition(&j, "Suspended").map(|_| j)
    })
    .await;
    assert_eq!(condition(&j, "Suspended").as_deref(), Some("JobSuspended"));
    // The pod is unbound, so it goes as soon as it is released.
    eventually("pods gone", || async {
        pods_of(&pods, "nap").await.is_empty().then_some(())
    })
    .await;
}
