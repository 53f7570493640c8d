//! The node lifecycle controller against a real apiserver, in-process: a Lease that stops
//! being renewed makes the node Unknown and tainted, pods go once their toleration runs out,
//! and a node that reports again loses its taints.

#![allow(clippy::unwrap_used, reason = "tests")]

mod common;
use common::{client, wait_for};

use std::time::Duration;

use closet_controllers::node_lifecycle::{self, taints};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{Container, Node, Pod, PodSpec, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use serde_json::json;

/// Polls `check` every 100 ms for up to `within`; the last value is returned either way.
async fn report_ready(nodes: &Api<Node>, name: &str) {
    let now = jiff::Timestamp::now().to_string();
    let status = json!({"status": {"conditions": [{
        "type": "Ready", "status": "True", "reason": "AgentReady", "message": "ready",
        "lastHeartbeatTime": now, "lastTransitionTime": now,
    }]}});
    nodes
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
}

async fn renew(leases: &Api<Lease>, name: &str) {
    let lease = Lease {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(name.into()),
            lease_duration_seconds: Some(40),
            renew_time: Some(MicroTime(jiff::Timestamp::now())),
            ..Default::default()
        }),
    };
    leases
        .patch(
            name,
            &PatchParams::apply("test").force(),
            &Patch::Apply(&lease),
        )
        .await
        .unwrap();
}

fn pod(name: &str, node: &str, toleration_seconds: Option<i64>) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        spec: Some(PodSpec {
            node_name: Some(node.into()),
            containers: vec![Container {
                name: "c".into(),
                image: Some("busybox".into()),
                ..Default::default()
            }],
            tolerations: Some(vec![Toleration {
                key: Some(taints::UNREACHABLE.into()),
                operator: Some("Exists".into()),
                effect: Some("NoExecute".into()),
                toleration_seconds,
                value: None,
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn taint_keys(node: &Node) -> Vec<(String, String)> {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|t| (t.key, t.effect))
        .collect()
}

#[tokio::test]
async fn silent_node_is_tainted_evicts_then_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let client = client(&dir).await;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let controller = tokio::spawn(node_lifecycle::run(
        client.clone(),
        node_lifecycle::Config {
            grace_period: Duration::from_secs(2),
        },
        async move {
            let _ = stop_rx.await;
        },
    ));
    let nodes: Api<Node> = Api::all(client.clone());
    let leases: Api<Lease> = Api::namespaced(client.clone(), node_lifecycle::LEASE_NAMESPACE);
    let node = Node {
        metadata: ObjectMeta {
            name: Some("n1".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    nodes.create(&PostParams::default(), &node).await.unwrap();
    report_ready(&nodes, "n1").await;
    renew(&leases, "n1").await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(&PostParams::default(), &pod("brief", "n1", Some(1)))
        .await
        .unwrap();
    pods.create(&PostParams::default(), &pod("forever", "n1", None))
        .await
        .unwrap();
    // A ready pod, to be marked not ready.
    let ready = json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}});
    pods.patch_status("forever", &PatchParams::default(), &Patch::Merge(&ready))
        .await
        .unwrap();

    // Renewed node: untainted.
    tokio::time::sleep(Duration::from_millis(800)).await;
    renew(&leases, "n1").await;
    assert!(taint_keys(&nodes.get("n1").await.unwrap()).is_empty());

    // Silence: Unknown, unreachable taints, and the brief pod goes after its second.
    let unreachable = (taints::UNREACHABLE.to_owned(), "NoExecute".to_owned());
    let node = wait_for(Duration::from_secs(20), || async {
        let n = nodes.get("n1").await.unwrap();
        (taint_keys(&n).contains(&unreachable), n)
    })
    .await;
    assert!(taint_keys(&node).contains(&unreachable), "{node:?}");
    assert!(taint_keys(&node).contains(&(taints::UNREACHABLE.to_owned(), "NoSchedule".to_owned())));
    let ready = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
        .unwrap();
    assert_eq!(ready.status, "Unknown");
    assert_eq!(
        ready.reason.as_deref(),
        Some(node_lifecycle::REASON_UNKNOWN)
    );

    let brief_gone = wait_for(Duration::from_secs(20), || async {
        let p = pods.get_opt("brief").await.unwrap();
        let gone = p
            .as_ref()
            .is_none_or(|p| p.metadata.deletion_timestamp.is_some());
        (gone, gone)
    })
    .await;
    assert!(brief_gone, "the pod tolerating 1 s was not evicted");
    let forever = pods.get("forever").await.unwrap();
    assert!(forever.metadata.deletion_timestamp.is_none());
    let forever_ready = forever
        .status
        .and_then(|s| s.conditions)
        .and_then(|cs| cs.into_iter().find(|c| c.type_ == "Ready"))
        .unwrap();
    assert_eq!(forever_ready.status, "False");

    // The agent is back: its report makes the node Ready and the taints go.
    renew(&leases, "n1").await;
    report_ready(&nodes, "n1").await;
    let node = wait_for(Duration::from_secs(20), || async {
        let n = nodes.get("n1").await.unwrap();
        (taint_keys(&n).is_empty(), n)
    })
    .await;
    assert!(taint_keys(&node).is_empty(), "{node:?}");
    assert!(
        pods.get("forever")
            .await
            .unwrap()
            .metadata
            .deletion_timestamp
            .is_none()
    );

    let _ = stop_tx.send(());
    controller.await.unwrap();
}

#[tokio::test]
async fn cordoned_node_gets_the_unschedulable_taint() {
    let dir = tempfile::tempdir().unwrap();
    let client = client(&dir).await;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let controller = tokio::spawn(node_lifecycle::run(
        client.clone(),
        node_lifecycle::Config::default(),
        async move {
            let _ = stop_rx.await;
        },
    ));
    let nodes: Api<Node> = Api::all(client.clone());
    let node = Node {
        metadata: ObjectMeta {
            name: Some("n2".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    nodes.create(&PostParams::default(), &node).await.unwrap();
    report_ready(&nodes, "n2").await;
    let cordon = json!({"spec": {"unschedulable": true}});
    nodes
        .patch("n2", &PatchParams::default(), &Patch::Merge(&cordon))
        .await
        .unwrap();
    let wanted = vec![(taints::UNSCHEDULABLE.to_owned(), "NoSchedule".to_owned())];
    let keys = wait_for(Duration::from_secs(20), || async {
        let keys = taint_keys(&nodes.get("n2").await.unwrap());
        (keys == wanted, keys)
    })
    .await;
    assert_eq!(keys, wanted);
    let uncordon = json!({"spec": {"unschedulable": false}});
    nodes
        .patch("n2", &PatchParams::default(), &Patch::Merge(&uncordon))
        .await
        .unwrap();
    let keys = wait_for(Duration::from_secs(20), || async {
        let keys = taint_keys(&nodes.get("n2").await.unwrap());
        (keys.is_empty(), keys)
    })
    .await;
    assert!(keys.is_empty());
    let _ = stop_tx.send(());
    controller.await.unwrap();
}
