//! The ReplicaSet and Deployment controllers against a real apiserver, in-process. There is
//! no agent: a helper marks pods Ready, as a kubelet would.

#![allow(clippy::unwrap_used, missing_docs, reason = "tests")]

use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

async fn client(dir: &tempfile::TempDir) -> kube::Client {
    closet_testkit::client(dir.path()).await
}

/// Polls `check` until it returns Some, for at most two minutes.
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..1200 {
        if let Some(v) = check().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Marks every pod Ready, as the agent would once its containers run.
fn kubelet(client: kube::Client) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let pods: Api<Pod> = Api::namespaced(client, "default");
        loop {
            for p in pods.list(&ListParams::default()).await.unwrap().items {
                let ready = p
                    .status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
                if !ready && p.metadata.deletion_timestamp.is_none() {
                    let status = json!({"status": {"phase": "Running", "conditions": [
                        {"type": "Ready", "status": "True", "lastTransitionTime": jiff::Timestamp::now()}]}});
                    let _ = pods
                        .patch_status(
                            p.metadata.name.as_deref().unwrap(),
                            &PatchParams::default(),
                            &Patch::Merge(&status),
                        )
                        .await;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
}

fn owned_by(p: &Pod, uid: &str) -> bool {
    p.metadata
        .owner_references
        .iter()
        .flatten()
        .any(|r| r.uid == uid && r.controller == Some(true) && r.block_owner_deletion == Some(true))
}

#[tokio::test]
async fn replica_set_creates_adopts_releases_and_scales() {
    let dir = tempfile::tempdir().unwrap();
    let client = client(&dir).await;
    tokio::spawn(closet_workloads::run(
        client.clone(),
        futures::future::pending(),
    ));
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let orphan: Pod = serde_json::from_value(
        json!({"metadata": {"name": "orphan", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}}),
    )
    .unwrap();
    pods.create(&PostParams::default(), &orphan).await.unwrap();
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let rs: ReplicaSet = serde_json::from_value(json!({"metadata": {"name": "web"}, "spec": {"replicas": 3,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}})).unwrap();
    let rs = sets.create(&PostParams::default(), &rs).await.unwrap();
    let uid = rs.metadata.uid.clone().unwrap();
    let owned = |uid: String| {
        let pods = pods.clone();
        async move {
            let all = pods.list(&ListParams::default()).await.unwrap().items;
            all.into_iter()
                .filter(|p| owned_by(p, &uid) && p.metadata.deletion_timestamp.is_none())
                .collect::<Vec<_>>()
        }
    };
    let first = eventually("three pods", || async {
        let o = owned(uid.clone()).await;
        (o.len() == 3).then_some(o)
    })
    .await;
    assert!(
        first
            .iter()
            .any(|p| p.metadata.name.as_deref() == Some("orphan")),
        "the orphan is adopted"
    );
    // Give the watch time to lag behind: still exactly three.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(owned(uid.clone()).await.len(), 3, "no duplicates");
    // A pod that stops matching is released and replaced.
    pods.patch(
        "orphan",
        &PatchParams::default(),
        &Patch::Merge(&json!({"metadata": {"labels": {"app": "other"}}})),
    )
    .await
    .unwrap();
    eventually("release", || async {
        let p = pods.get("orphan").await.unwrap();
        p.metadata
            .owner_references
            .as_ref()
            .is_none_or(|r| r.is_empty())
            .then_some(())
    })
    .await;
    eventually("replacement", || async {
        (owned(uid.clone()).await.len() == 3).then_some(())
    })
    .await;
    // Readiness and availability reach the status.
    let _kubelet = kubelet(client.clone());
    eventually("ready status", || async {
        let s = sets.get("web").await.unwrap().status.unwrap_or_default();
        (s.replicas == 3
            && s.ready_replicas == Some(3)
            && s.available_replicas == Some(3)
            && s.fully_labeled_replicas == Some(3)
            && s.observed_generation == Some(1))
        .then_some(())
    })
    .await;
    // Scale down through the scale subresource.
    sets.patch_scale(
        "web",
        &PatchParams::default(),
        &Patch::Merge(&json!({"spec": {"replicas": 1}})),
    )
    .await
    .unwrap();
    eventually("scaled down", || async {
        (owned(uid.clone()).await.len() == 1).then_some(())
    })
    .await;
    eventually("status after scale", || async {
        let s = sets.get("web").await.unwrap().status.unwrap_or_default();
        (s.replicas == 1 && s.observed_generation == Some(2)).then_some(())
    })
    .await;
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    let reasons: Vec<String> = events
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| {
            e.source.as_ref().and_then(|s| s.component.as_deref()) == Some("replicaset-controller")
        })
        .filter_map(|e| e.reason)
        .collect();
    assert!(
        reasons.iter().any(|r| r == "SuccessfulCreate")
            && reasons.iter().any(|r| r == "SuccessfulDelete"),
        "{reasons:?}"
    );
}

fn deployment(image: &str) -> Deployment {
    serde_json::from_value(json!({"metadata": {"name": "web"}, "spec": {"replicas": 4,
        "selector": {"matchLabels": {"app": "web"}},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": image}]}}}})).unwrap()
}

fn rolled_out(d: &Deployment) -> bool {
    let s = d.status.clone().unwrap_or_default();
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    s.observed_generation >= d.metadata.generation
        && s.updated_replicas.unwrap_or(0) >= want
        && s.replicas.unwrap_or(0) <= s.updated_replicas.unwrap_or(0)
        && s.available_replicas.unwrap_or(0) >= s.updated_replicas.unwrap_or(0)
}

#[tokio::test]
async fn deployment_rolls_out_within_its_bounds_and_reuses_old_replica_sets() {
    let dir = tempfile::tempdir().unwrap();
    let client = client(&dir).await;
    tokio::spawn(closet_workloads::run(
        client.clone(),
        futures::future::pending(),
    ));
    let _kubelet = kubelet(client.clone());
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    deploys
        .create(&PostParams::default(), &deployment("busybox:1"))
        .await
        .unwrap();
    eventually("first rollout", || async {
        rolled_out(&deploys.get("web").await.unwrap()).then_some(())
    })
    .await;
    let first = sets.list(&ListParams::default()).await.unwrap().items;
    assert_eq!(first.len(), 1);
    let rs1 = &first[0];
    let hash = rs1.metadata.labels.as_ref().unwrap()["pod-template-hash"].clone();
    assert_eq!(rs1.metadata.name.as_deref().unwrap(), format!("web-{hash}"));
    assert_eq!(
        rs1.metadata.annotations.as_ref().unwrap()["deployment.kubernetes.io/revision"],
        "1"
    );
    assert_eq!(
        rs1.metadata.annotations.as_ref().unwrap()["deployment.kubernetes.io/desired-replicas"],
        "4"
    );
    assert_eq!(
        rs1.metadata.annotations.as_ref().unwrap()["deployment.kubernetes.io/max-replicas"],
        "5"
    );

    // A new image: surge one at a time, never below four available.
    deploys.patch("web", &PatchParams::default(), &Patch::Merge(&json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox:2"}]}}}}))).await.unwrap();
    for _ in 0..1200 {
        let d = deploys.get("web").await.unwrap();
        let total: i32 = sets
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .iter()
            .map(|rs| rs.spec.as_ref().unwrap().replicas.unwrap())
            .sum();
        assert!(total <= 5, "surge bound broken: {total} replicas");
        let available = d
            .status
            .as_ref()
            .and_then(|s| s.available_replicas)
            .unwrap_or(0);
        assert!(available >= 4, "availability dropped to {available}");
        if rolled_out(&d) && d.status.as_ref().unwrap().observed_generation == d.metadata.generation
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let d = eventually("second rollout", || async {
        let d = deploys.get("web").await.unwrap();
        rolled_out(&d).then_some(d)
    })
    .await;
    assert_eq!(
        d.metadata.annotations.as_ref().unwrap()["deployment.kubernetes.io/revision"],
        "2"
    );
    let progressing = d
        .status
        .as_ref()
        .unwrap()
        .conditions
        .as_ref()
        .unwrap()
        .iter()
        .find(|c| c.type_ == "Progressing")
        .unwrap()
        .clone();
    assert_eq!(
        progressing.reason.as_deref(),
        Some("NewReplicaSetAvailable")
    );
    let old = sets
        .get(rs1.metadata.name.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(old.spec.unwrap().replicas, Some(0));

    // Back to the first template (what `kubectl rollout undo` sends): the old set is reused.
    deploys.patch("web", &PatchParams::default(), &Patch::Merge(&json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox:1"}]}}}}))).await.unwrap();
    eventually("undo", || async {
        let rs = sets
            .get(rs1.metadata.name.as_deref().unwrap())
            .await
            .unwrap();
        let a = rs.metadata.annotations.clone().unwrap_or_default();
        let d = deploys.get("web").await.unwrap();
        (rolled_out(&d)
            && rs.spec.unwrap().replicas == Some(4)
            && a.get("deployment.kubernetes.io/revision")
                .map(String::as_str)
                == Some("3")
            && a.get("deployment.kubernetes.io/revision-history")
                .map(String::as_str)
                == Some("1"))
        .then_some(())
    })
    .await;
    assert_eq!(
        sets.list(&ListParams::default()).await.unwrap().items.len(),
        2
    );
    // Scaling goes through the scale subresource.
    deploys
        .patch_scale(
            "web",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"replicas": 2}})),
        )
        .await
        .unwrap();
    eventually("scaled", || async {
        let d = deploys.get("web").await.unwrap();
        (rolled_out(&d) && d.status.as_ref().and_then(|s| s.replicas) == Some(2)).then_some(())
    })
    .await;
}
