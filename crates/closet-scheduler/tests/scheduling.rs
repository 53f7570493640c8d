//! The scheduler against a real apiserver, in-process: nodes are plain API objects (no
//! agent), pods are created through the client, and the tests read back bindings, events
//! and pod conditions.

#![allow(clippy::unwrap_used, reason = "tests")]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use closet_apiserver::Config;
use closet_scheduler::platforms::{Platform, StaticPlatforms};
use k8s_openapi::api::core::v1::{Event, Node, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

struct Harness {
    client: kube::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let api = closet_testkit::apiserver(dir.path(), Config::default()).await;
        let client = closet_testkit::admin_client(&api);
        let platforms = StaticPlatforms(BTreeMap::from([(
            "example.test/arm-only:1".to_owned(),
            vec![Platform {
                os: "linux".into(),
                architecture: "arm64".into(),
            }],
        )]));
        let config = closet_scheduler::Config {
            platforms: Arc::new(platforms),
            ..Default::default()
        };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(closet_scheduler::run_with(
            client.clone(),
            config,
            async move {
                let _ = rx.await;
            },
        ));
        Self {
            client,
            stop: Some(tx),
            task: Some(task),
            _dir: dir,
        }
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap();
    }

    /// A Ready amd64 node with 2 CPUs, 4 GiB and room for 10 pods, plus `extra` merged in.
    async fn node(&self, name: &str, labels: Value, spec: Value) {
        let nodes: Api<Node> = Api::all(self.client.clone());
        let mut all = json!({"kubernetes.io/hostname": name, "kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux"});
        for (k, v) in labels.as_object().unwrap() {
            all[k] = v.clone();
        }
        let node: Node = serde_json::from_value(
            json!({"metadata": {"name": name, "labels": all}, "spec": spec}),
        )
        .unwrap();
        nodes.create(&PostParams::default(), &node).await.unwrap();
        let resources = json!({"cpu": "2", "memory": "4Gi", "pods": "10"});
        let status = json!({"status": {"capacity": resources, "allocatable": resources,
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}});
        nodes
            .patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
            .await
            .unwrap();
    }

    async fn pod(&self, name: &str, spec: Value, labels: Value) {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), "default");
        let mut spec = spec;
        if spec.get("containers").is_none() {
            spec["containers"] = json!([{"name": "main", "image": "busybox"}]);
        }
        let pod: Pod = serde_json::from_value(
            json!({"metadata": {"name": name, "labels": labels}, "spec": spec}),
        )
        .unwrap();
        pods.create(&PostParams::default(), &pod).await.unwrap();
    }

    async fn node_of(&self, name: &str) -> String {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), "default");
        eventually(|| {
            let pods = pods.clone();
            let name = name.to_owned();
            async move { pods.get(&name).await.unwrap().spec?.node_name }
        })
        .await
    }

    /// The FailedScheduling message for `pod`, once there is one.
    async fn failure(&self, pod: &str) -> String {
        let events: Api<Event> = Api::namespaced(self.client.clone(), "default");
        eventually(|| {
            let events = events.clone();
            let pod = pod.to_owned();
            async move {
                events
                    .list(&ListParams::default())
                    .await
                    .unwrap()
                    .items
                    .into_iter()
                    .rfind(|e| {
                        e.reason.as_deref() == Some("FailedScheduling")
                            && e.involved_object.name.as_deref() == Some(pod.as_str())
                    })
                    .and_then(|e| e.message)
            }
        })
        .await
    }

    async fn unbound(&self, pod: &str) -> bool {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), "default");
        pods.get(pod)
            .await
            .unwrap()
            .spec
            .unwrap()
            .node_name
            .is_none()
    }
}

/// Polls `check` every 50 ms for up to 30 s.
async fn eventually<T, F: std::future::Future<Output = Option<T>>>(
    mut check: impl FnMut() -> F,
) -> T {
    for _ in 0..600 {
        if let Some(value) = check().await {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("condition not met within 30 s");
}

fn cpu(amount: &str) -> Value {
    json!({"containers": [{"name": "main", "image": "busybox", "resources": {"requests": {"cpu": amount}}}]})
}

#[tokio::test]
async fn back_to_back_pods_spread_and_the_overflow_waits_for_a_node() {
    let h = Harness::start().await;
    h.node("a", json!({}), json!({})).await;
    h.node("b", json!({}), json!({})).await;
    for i in 0..4 {
        h.pod(&format!("p{i}"), cpu("1"), json!({})).await;
    }
    let mut per_node = BTreeMap::new();
    for i in 0..4 {
        *per_node
            .entry(h.node_of(&format!("p{i}")).await)
            .or_insert(0) += 1;
    }
    assert_eq!(
        per_node,
        BTreeMap::from([("a".to_owned(), 2), ("b".to_owned(), 2)])
    );

    h.pod("big", cpu("1"), json!({})).await;
    assert_eq!(
        h.failure("big").await,
        "0/2 nodes are available: 2 Insufficient cpu."
    );
    // The event and the pod's condition are separate writes: wait for the condition too.
    let pods: Api<Pod> = Api::namespaced(h.client.clone(), "default");
    let scheduled = eventually(|| {
        let pods = pods.clone();
        async move {
            pods.get("big")
                .await
                .unwrap()
                .status?
                .conditions?
                .into_iter()
                .find(|c| c.type_ == "PodScheduled")
        }
    })
    .await;
    assert_eq!(scheduled.status, "False");
    assert_eq!(scheduled.reason.as_deref(), Some("Unschedulable"));
    assert_eq!(
        scheduled.message.as_deref(),
        Some("0/2 nodes are available: 2 Insufficient cpu.")
    );

    // A new node is a cluster change: the waiting pod is tried again and lands there.
    h.node("c", json!({}), json!({})).await;
    assert_eq!(h.node_of("big").await, "c");
    let events: Api<Event> = Api::namespaced(h.client.clone(), "default");
    let scheduled = eventually(|| {
        let events = events.clone();
        async move {
            events
                .list(&ListParams::default())
                .await
                .unwrap()
                .items
                .into_iter()
                .find(|e| {
                    e.reason.as_deref() == Some("Scheduled")
                        && e.involved_object.name.as_deref() == Some("big")
                })
        }
    })
    .await;
    assert_eq!(
        scheduled.message.as_deref(),
        Some("Successfully assigned default/big to c")
    );
    assert_eq!(
        scheduled.source.and_then(|s| s.component).as_deref(),
        Some("default-scheduler")
    );
    h.stop().await;
}

#[tokio::test]
async fn taints_cordons_and_tolerations() {
    let h = Harness::start().await;
    h.node(
        "tainted",
        json!({}),
        json!({"taints": [{"key": "k", "value": "v", "effect": "NoSchedule"}]}),
    )
    .await;
    h.node("cordoned", json!({}), json!({"unschedulable": true}))
        .await;
    h.pod("plain", json!({}), json!({})).await;
    assert_eq!(
        h.failure("plain").await,
        "0/2 nodes are available: 1 node(s) had untolerated taint {k: v}, 1 node(s) were unschedulable."
    );
    h.pod("tolerant", json!({"tolerations": [{"key": "k", "operator": "Equal", "value": "v", "effect": "NoSchedule"}]}), json!({})).await;
    assert_eq!(h.node_of("tolerant").await, "tainted");
    assert!(h.unbound("plain").await);
    h.stop().await;
}

#[tokio::test]
async fn node_affinity_and_pod_anti_affinity() {
    let h = Harness::start().await;
    h.node("a", json!({"disk": "hdd"}), json!({})).await;
    h.node("b", json!({"disk": "ssd"}), json!({})).await;
    h.pod("fast", json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}]}}}}), json!({})).await;
    assert_eq!(h.node_of("fast").await, "b");
    h.pod("nvme", json!({"nodeSelector": {"disk": "nvme"}}), json!({}))
        .await;
    assert_eq!(
        h.failure("nvme").await,
        "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector."
    );

    let anti = json!({"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}]}}});
    for name in ["web-0", "web-1"] {
        h.pod(name, anti.clone(), json!({"app": "web"})).await;
    }
    let (first, second) = (h.node_of("web-0").await, h.node_of("web-1").await);
    assert_ne!(first, second);
    h.pod("web-2", anti.clone(), json!({"app": "web"})).await;
    assert_eq!(
        h.failure("web-2").await,
        "0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules."
    );

    h.pod(
        "near-db",
        json!({"affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "disk"}]}}}),
        json!({}),
    )
    .await;
    let near = h.node_of("near-db").await;
    assert!(near == "a" || near == "b");
    h.stop().await;
}

#[tokio::test]
async fn topology_spread_keeps_zones_even() {
    let h = Harness::start().await;
    h.node("a1", json!({"zone": "a"}), json!({})).await;
    h.node("a2", json!({"zone": "a"}), json!({})).await;
    h.node("b1", json!({"zone": "b"}), json!({})).await;
    let spread = json!({"topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule",
        "labelSelector": {"matchLabels": {"app": "db"}}}]});
    let mut zones = BTreeMap::new();
    for i in 0..4 {
        let name = format!("db-{i}");
        h.pod(&name, spread.clone(), json!({"app": "db"})).await;
        let node = h.node_of(&name).await;
        *zones.entry(node[..1].to_owned()).or_insert(0) += 1;
    }
    assert_eq!(
        zones,
        BTreeMap::from([("a".to_owned(), 2), ("b".to_owned(), 2)])
    );
    h.stop().await;
}

#[tokio::test]
async fn images_without_the_node_architecture_wait() {
    let h = Harness::start().await;
    h.node("x86", json!({}), json!({})).await;
    h.pod(
        "arm",
        json!({"containers": [{"name": "main", "image": "example.test/arm-only:1"}]}),
        json!({}),
    )
    .await;
    assert_eq!(
        h.failure("arm").await,
        "0/1 nodes are available: 1 image \"example.test/arm-only:1\" has no linux/amd64 variant (only linux/arm64)."
    );
    h.node("pi", json!({"kubernetes.io/arch": "arm64"}), json!({}))
        .await;
    assert_eq!(h.node_of("arm").await, "pi");
    h.stop().await;
}

#[tokio::test]
async fn claims_place_pods_and_wait_for_first_consumer_names_the_node() {
    let h = Harness::start().await;
    h.node("a", json!({}), json!({})).await;
    let classes: Api<StorageClass> = Api::all(h.client.clone());
    let class: StorageClass = serde_json::from_value(json!({"metadata": {"name": "local-path"},
        "provisioner": "closet.dev/local-path", "volumeBindingMode": "WaitForFirstConsumer"}))
    .unwrap();
    classes
        .create(&PostParams::default(), &class)
        .await
        .unwrap();
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(h.client.clone(), "default");
    let claim: PersistentVolumeClaim = serde_json::from_value(json!({"metadata": {"name": "data"}, "spec": {
        "storageClassName": "local-path", "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})).unwrap();
    claims.create(&PostParams::default(), &claim).await.unwrap();
    let with_claim = |claim: &str| json!({"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}]});
    h.pod("user", with_claim("data"), json!({})).await;
    assert_eq!(h.node_of("user").await, "a");
    let annotations = claims
        .get("data")
        .await
        .unwrap()
        .metadata
        .annotations
        .unwrap();
    assert_eq!(
        annotations
            .get("volume.kubernetes.io/selected-node")
            .map(String::as_str),
        Some("a")
    );

    h.pod("lost", with_claim("missing"), json!({})).await;
    assert_eq!(
        h.failure("lost").await,
        "0/1 nodes are available: persistentvolumeclaim \"missing\" not found."
    );
    h.stop().await;
}
