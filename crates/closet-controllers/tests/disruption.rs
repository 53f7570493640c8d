//! PodDisruptionBudget status and the eviction subresource against a real apiserver,
//! in-process: an allowed eviction decrements the budget, a spent budget answers 429, two
//! budgets answer 500.

#![allow(clippy::unwrap_used, reason = "tests")]

mod common;
use common::{client, wait_for};

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};
use k8s_openapi::api::policy::v1::Eviction;
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    DeleteOptions, Preconditions as K8sPreconditions,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Api, EvictParams, ObjectMeta, Patch, PatchParams, PostParams};
use serde_json::json;

async fn ready_pod(pods: &Api<Pod>, name: &str) {
    let pod = Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(BTreeMap::from([("app".into(), "db".into())])),
            ..Default::default()
        },
        spec: Some(PodSpec {
            node_name: Some("n1".into()),
            containers: vec![Container {
                name: "c".into(),
                image: Some("busybox".into()),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let status = json!({"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}});
    pods.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
}

fn pdb(name: &str, min: i32) -> PodDisruptionBudget {
    PodDisruptionBudget {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        spec: Some(PodDisruptionBudgetSpec {
            min_available: Some(IntOrString::Int(min)),
            selector: Some(LabelSelector {
                match_labels: Some(BTreeMap::from([("app".into(), "db".into())])),
                ..Default::default()
            }),
            ..Default::default()
        }),
        status: None,
    }
}

#[tokio::test]
async fn budget_status_and_evictions() {
    let dir = tempfile::tempdir().unwrap();
    let client = client(&dir).await;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let controller = tokio::spawn(closet_controllers::disruption::run(
        client.clone(),
        async move {
            let _ = stop_rx.await;
        },
    ));
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pdbs: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), "default");
    ready_pod(&pods, "db-0").await;
    ready_pod(&pods, "db-1").await;
    pdbs.create(&PostParams::default(), &pdb("db", 1))
        .await
        .unwrap();

    let status = wait_for(Duration::from_secs(20), || async {
        let s = pdbs.get("db").await.unwrap().status.unwrap_or_default();
        (
            s.disruptions_allowed == 1 && s.observed_generation == Some(1),
            s,
        )
    })
    .await;
    assert_eq!(
        (
            status.expected_pods,
            status.current_healthy,
            status.desired_healthy,
            status.disruptions_allowed
        ),
        (2, 2, 1, 1)
    );
    let cond = &status.conditions.unwrap()[0];
    assert_eq!(
        (
            cond.type_.as_str(),
            cond.status.as_str(),
            cond.reason.as_str()
        ),
        ("DisruptionAllowed", "True", "SufficientPods")
    );

    // One may go.
    pods.evict("db-0", &EvictParams::default()).await.unwrap();
    let gone = pods.get_opt("db-0").await.unwrap();
    assert!(gone.is_none_or(|p| p.metadata.deletion_timestamp.is_some()));
    let after = pdbs.get("db").await.unwrap().status.unwrap();
    assert!(
        after
            .disrupted_pods
            .unwrap_or_default()
            .contains_key("db-0")
            || after.disruptions_allowed == 0
    );

    // The controller settles at no more disruptions; the next eviction is refused with 429.
    let status = wait_for(Duration::from_secs(20), || async {
        let s = pdbs.get("db").await.unwrap().status.unwrap_or_default();
        (s.disruptions_allowed == 0 && s.current_healthy == 1, s)
    })
    .await;
    assert_eq!((status.current_healthy, status.disruptions_allowed), (1, 0));
    let cond = &status.conditions.unwrap()[0];
    assert_eq!(
        (cond.status.as_str(), cond.reason.as_str()),
        ("False", "InsufficientPods")
    );
    let err = pods
        .evict("db-1", &EvictParams::default())
        .await
        .unwrap_err();
    let kube::Error::Api(s) = err else {
        panic!("expected a Status, got {err:?}")
    };
    assert_eq!(s.code, 429);
    assert_eq!(s.reason, "TooManyRequests");
    assert_eq!(
        s.message,
        "Cannot evict pod as it would violate the pod's disruption budget."
    );
    assert!(
        pods.get("db-1")
            .await
            .unwrap()
            .metadata
            .deletion_timestamp
            .is_none()
    );

    // Two budgets for one pod: 500, as upstream.
    pdbs.create(&PostParams::default(), &pdb("db-too", 0))
        .await
        .unwrap();
    let err = pods
        .evict("db-1", &EvictParams::default())
        .await
        .unwrap_err();
    let kube::Error::Api(s) = err else {
        panic!("expected a Status, got {err:?}")
    };
    assert_eq!(s.code, 500);

    let _ = stop_tx.send(());
    controller.await.unwrap();
}

#[tokio::test]
async fn eviction_without_budget_deletes_and_checks_the_name() {
    let dir = tempfile::tempdir().unwrap();
    let client = client(&dir).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    ready_pod(&pods, "lonely").await;
    let err = pods
        .evict("missing", &EvictParams::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 404),
        "{err:?}"
    );
    // The Eviction's deleteOptions are honoured: a dry run deletes nothing, a wrong uid
    // precondition is a conflict. (kube-rs's `evict` spells the field `delete_options`, which
    // upstream ignores too, so these post the Eviction themselves.)
    let eviction = |options: DeleteOptions| Eviction {
        metadata: ObjectMeta {
            name: Some("lonely".into()),
            ..Default::default()
        },
        delete_options: Some(options),
    };
    let dry = eviction(DeleteOptions {
        dry_run: Some(vec!["All".into()]),
        ..Default::default()
    });
    pods.create_subresource::<Eviction, serde_json::Value>(
        "eviction",
        "lonely",
        &PostParams::default(),
        &dry,
    )
    .await
    .unwrap();
    assert!(
        pods.get("lonely")
            .await
            .unwrap()
            .metadata
            .deletion_timestamp
            .is_none()
    );
    let wrong_uid = eviction(DeleteOptions {
        preconditions: Some(K8sPreconditions {
            uid: Some("not-the-uid".into()),
            resource_version: None,
        }),
        ..Default::default()
    });
    let err = pods
        .create_subresource::<Eviction, serde_json::Value>(
            "eviction",
            "lonely",
            &PostParams::default(),
            &wrong_uid,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 409),
        "{err:?}"
    );
    pods.evict("lonely", &EvictParams::default()).await.unwrap();
    let pod = pods.get_opt("lonely").await.unwrap();
    assert!(pod.is_none_or(|p| p.metadata.deletion_timestamp.is_some()));

    // The pod says why it went: a finalizer keeps it visible after the eviction.
    ready_pod(&pods, "kept").await;
    let keep = serde_json::json!({"metadata": {"finalizers": ["test.closet.dev/keep"]}});
    pods.patch("kept", &PatchParams::default(), &Patch::Merge(&keep))
        .await
        .unwrap();
    pods.evict("kept", &EvictParams::default()).await.unwrap();
    let kept = pods.get("kept").await.unwrap();
    assert!(kept.metadata.deletion_timestamp.is_some());
    let condition = kept
        .status
        .unwrap()
        .conditions
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.type_ == "DisruptionTarget")
        .expect("a DisruptionTarget condition");
    assert_eq!(
        (condition.status.as_str(), condition.reason.as_deref()),
        ("True", Some("EvictionByEvictionAPI"))
    );
    let release = serde_json::json!({"metadata": {"finalizers": null}});
    pods.patch("kept", &PatchParams::default(), &Patch::Merge(&release))
        .await
        .unwrap();
}
