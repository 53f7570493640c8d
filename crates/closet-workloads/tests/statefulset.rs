//! The StatefulSet controller against a real apiserver, in-process. No agent runs pods here:
//! the test plays the kubelet by writing pod status.

#![allow(clippy::unwrap_used, reason = "tests")]

use std::time::Duration;

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

async fn client(dir: &tempfile::TempDir) -> kube::Client {
    closet_testkit::client(dir.path()).await
}

async fn wait_for<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..400 {
        if let Some(v) = check().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn pod_names(pods: &Api<Pod>) -> Vec<String> {
    let mut names: Vec<String> = pods
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter_map(|p| p.metadata.name)
        .collect();
    names.sort();
    names
}

async fn make_ready(pods: &Api<Pod>, name: &str) {
    let status = json!({"status": {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}});
    pods.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
}

fn manifest(image: &str) -> StatefulSet {
    serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {
            "serviceName": "web", "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": [{"name": "c", "image": image}]}},
            "volumeClaimTemplates": [{"metadata": {"name": "www"},
                "spec": {"accessModes": ["ReadWriteOnce"],
                         "resources": {"requests": {"storage": "1Gi"}}}}],
        }
    }))
    .unwrap()
}

#[tokio::test]
async fn ordered_pods_with_claims_then_a_rolling_update_from_the_top() {
    let dir = tempfile::tempdir().unwrap();
    let client = client(&dir).await;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let controllers = tokio::spawn(closet_workloads::run(client.clone(), async move {
        let _ = stop_rx.await;
    }));
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    sets.create(&PostParams::default(), &manifest("v1"))
        .await
        .unwrap();

    // OrderedReady: one pod at a time, each waiting for the one before to be Ready.
    for (i, want) in [
        ["web-0"].as_slice(),
        &["web-0", "web-1"],
        &["web-0", "web-1", "web-2"],
    ]
    .iter()
    .enumerate()
    {
        let want: Vec<String> = want.iter().map(|s| (*s).to_owned()).collect();
        wait_for(&format!("pods {want:?}"), || {
            let pods = pods.clone();
            let want = want.clone();
            async move { (pod_names(&pods).await == want).then_some(()) }
        })
        .await;
        let name = format!("web-{i}");
        let pod = pods.get(&name).await.unwrap();
        let labels = pod.metadata.labels.clone().unwrap();
        assert_eq!(labels["statefulset.kubernetes.io/pod-name"], name);
        assert_eq!(labels["apps.kubernetes.io/pod-index"], i.to_string());
        let spec = pod.spec.clone().unwrap();
        assert_eq!(spec.hostname.as_deref(), Some(name.as_str()));
        assert_eq!(spec.subdomain.as_deref(), Some("web"));
        let claim = format!("www-web-{i}");
        let volume = spec.volumes.unwrap()[0]
            .persistent_volume_claim
            .clone()
            .unwrap();
        assert_eq!(volume.claim_name, claim);
        assert!(claims.get_opt(&claim).await.unwrap().is_some());
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            pod_names(&pods).await,
            want,
            "a pod started before its predecessor was Ready"
        );
        make_ready(&pods, &name).await;
    }
    let status = wait_for("all replicas ready", || {
        let sets = sets.clone();
        async move {
            let s = sets.get("web").await.unwrap().status?;
            (s.ready_replicas == Some(3)).then_some(s)
        }
    })
    .await;
    assert_eq!(status.replicas, 3);
    assert_eq!(status.current_revision, status.update_revision);
    let first_revision = status.update_revision.clone().unwrap();
    assert_eq!(status.updated_replicas, Some(3));
    assert_eq!(status.observed_generation, Some(1));

    // A new template: a new revision, and the highest ordinal is replaced first.
    sets.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(&json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "v2"}]}}}})),
    )
    .await
    .unwrap();
    for i in [2, 1, 0] {
        let name = format!("web-{i}");
        let pod = wait_for(&format!("{name} at the new revision"), || {
            let pods = pods.clone();
            let name = name.clone();
            async move {
                let pod = pods.get_opt(&name).await.unwrap()?;
                let image = pod.spec.as_ref()?.containers[0].image.clone()?;
                (image == "v2" && pod.metadata.deletion_timestamp.is_none()).then_some(pod)
            }
        })
        .await;
        // Lower ordinals are still on the old template while this one is not Ready.
        for lower in 0..i {
            let old = pods.get(&format!("web-{lower}")).await.unwrap();
            assert_eq!(old.spec.unwrap().containers[0].image.as_deref(), Some("v1"));
        }
        make_ready(&pods, pod.metadata.name.as_deref().unwrap()).await;
    }
    let status = wait_for("the rollout to complete", || {
        let sets = sets.clone();
        async move {
            let s = sets.get("web").await.unwrap().status?;
            (s.updated_replicas == Some(3)
                && s.ready_replicas == Some(3)
                && s.current_revision == s.update_revision)
                .then_some(s)
        }
    })
    .await;
    assert_ne!(
        status.update_revision.as_deref(),
        Some(first_revision.as_str())
    );
    let revisions: Api<ControllerRevision> = Api::namespaced(client.clone(), "default");
    let numbers: Vec<i64> = revisions
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|r| r.revision)
        .collect();
    assert_eq!(numbers.len(), 2);
    assert!(numbers.contains(&1) && numbers.contains(&2));

    // Scale down: highest ordinal first; claims stay (Retain is the default).
    sets.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(&json!({"spec": {"replicas": 1}})),
    )
    .await
    .unwrap();
    wait_for("scale down to web-0", || {
        let pods = pods.clone();
        async move { (pod_names(&pods).await == ["web-0"]).then_some(()) }
    })
    .await;
    assert!(claims.get_opt("www-web-2").await.unwrap().is_some());

    let _ = stop_tx.send(());
    let _ = controllers.await;
}
